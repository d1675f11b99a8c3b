/* stray-backend.c - a raw HTTP/1.1 backend for the tests that sends what a well-behaved one never would. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * GET /u/NAME answers {"user":"NAME"} (NAME: letters and digits) on a kept-alive connection,
 * with Content-Length. The query changes that:
 *   tail=MS      then, MS ms after the answer (0: in the same write), a second complete answer
 *                {"user":"stray"} that nobody asked for, on the same connection
 *   interim=1    answer "100 Continue" only, then close the connection
 *   fold=1       the answer's first header line is folded (starts with a tab): curl 7.88 appends
 *                it to the last header of the handle's previous transfer, freed memory (#11101)
 *   fold=2       the same after a "100 Continue" without headers, folded with a space
 *   trailer=1    a chunked answer with a trailer field (curl 7.88 leaked a trailer's buffer at
 *                the next chunked answer on the connection: Debian 7.88.1-10+deb12u14)
 *   idin=1       the request's X-Request-Id echoed only in a trailer (a chunked answer)
 *   idin=2       the request's X-Request-Id echoed only in a "100 Continue" head before the answer
 *   refuse=1     a control character in a header value: framed cleanly, refused by the lean
 *                client all the same
 *   refuse=2     a status line that cannot be read ("HTTP/1.1 2OO"): its framing is lost
 * A real answer echoes the request's X-Request-Id (the stray one has none: it is nobody's).
 * GET /stats answers {"tails": N, "connections": N}: tails written, connections accepted.
 * It listens on 127.0.0.1 (any free port) and writes the port to PORT_FILE; SIGTERM stops it.
 * libmicrohttpd (t/mock-backend) cannot write bytes past an answer: hence this one.
 */

#define HEAD_MAX 8192
#define FOLD_VALUE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define STRAY "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n" \
    "\r\n{\"user\":\"stray\"}"

static atomic_long tails, connections;

static bool
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* The value of query argument `name` in the request line's target, as a number; -1 if absent. */
static long
query_number(const char *target, const char *name)
{
	size_t len = strlen(name);
	const char *q = strchr(target, '?');

	for (; q != NULL; q = strchr(q + 1, '&'))
		if (strncmp(q + 1, name, len) == 0 && q[1 + len] == '=')
			return strtol(q + 2 + len, NULL, 10);
	return -1;
}

/* NAME of "/u/NAME...", letters and digits only, into out. */
static void
user_name(const char *target, char *out, size_t size)
{
	size_t n = 0;

	if (strncmp(target, "/u/", 3) == 0)
		for (target += 3; n + 1 < size && ((*target >= 'a' && *target <= 'z') ||
		    (*target >= '0' && *target <= '9')); target++)
			out[n++] = *target;
	out[n] = '\0';
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The request head's X-Request-Id line, "X-Request-Id: VALUE\r\n", into out ("" if none). */
static void
request_id_line(const char *head, char *out, size_t size)
{
	static const char name[] = "\nx-request-id:";
	const char *p, *end;

	out[0] = '\0';
	for (p = head; *p != '\0'; p++) {
		size_t i = 0;

		while (name[i] != '\0' && p[i] != '\0' && (p[i] >= 'A' && p[i] <= 'Z' ?
		    p[i] + 32 : p[i]) == name[i])
			i++;
		if (name[i] != '\0')
			continue;
		for (p += i; *p == ' '; p++)
			;
		end = p + strcspn(p, "\r\n");
		snprintf(out, size, "X-Request-Id: %.*s\r\n", (int)(end - p), p);
		return;
	}
}

/* Answers one request whose target and head are given; false to close the connection. */
static bool
answer(int fd, const char *target, const char *head)
{
	char name[64], body[128], out[1024], id[256];
	long tail = query_number(target, "tail"), fold = query_number(target, "fold");
	long idin = query_number(target, "idin");
	long refuse = query_number(target, "refuse");
	const char *first = fold == 1 ? "\tX-Fold: " FOLD_VALUE FOLD_VALUE "\r\n" :
	    fold == 2 ? " X-Fold: " FOLD_VALUE FOLD_VALUE "\r\n" : "";
	int blen, len;

	if (strncmp(target, "/stats", 6) == 0) {
		blen = snprintf(body, sizeof(body), "{\"tails\": %ld, \"connections\": %ld}",
		    atomic_load(&tails), atomic_load(&connections));
	} else if (query_number(target, "interim") == 1) {
		(void)write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		return false;
	} else {
		user_name(target, name, sizeof(name));
		blen = snprintf(body, sizeof(body), "{\"user\":\"%s\"}", name);
	}
	request_id_line(head, id, sizeof(id));
	if (idin == 1)
		len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n%s\r\n", (unsigned)blen, body, id);
	else if (idin == 2)
		len = snprintf(out, sizeof(out), "HTTP/1.1 100 Continue\r\n%s\r\nHTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, blen, body);
	else if (query_number(target, "trailer") == 1)
		len = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		    "%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n", id,
		    (unsigned)blen, body);
	else
		len = snprintf(out, sizeof(out), "%sHTTP/1.1 %s OK\r\n%s%s"
		    "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s%s",
		    fold == 2 ? "HTTP/1.1 100 Continue\r\n\r\n" : "", refuse == 2 ? "2OO" : "200",
		    first, refuse == 1 ? "X-Ctl: a\001b\r\n" : "", id, blen, body,
		    tail == 0 ? STRAY : "");
	if (!write_all(fd, out, (size_t)len))
		return false;
	if (tail > 0) {
		sleep_ms(tail);
		if (!write_all(fd, STRAY, sizeof(STRAY) - 1))
			return false;
	}
	if (tail >= 0)
		atomic_fetch_add(&tails, 1);
	return true;
}

/* Serves one connection: GET requests without bodies, one after another. */
static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char head[HEAD_MAX + 1], target[HEAD_MAX];
	size_t have = 0;
	char *end;
	ssize_t n;

	for (;;) {
		head[have] = '\0';
		while ((end = strstr(head, "\r\n\r\n")) == NULL) {
			if (have == HEAD_MAX || (n = recv(fd, head + have, HEAD_MAX - have, 0)) <= 0)
				goto done;
			have += (size_t)n;
			head[have] = '\0';
		}
		end[2] = '\0';	/* this request's head only (its last CRLF is not needed) */
		if (sscanf(head, "GET %8191s HTTP/1.1", target) != 1 || !answer(fd, target, head))
			break;
		end += 4;
		have -= (size_t)(end - head);
		memmove(head, end, have);
	}
done:
	close(fd);
	return NULL;
}

static void *
accept_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	pthread_attr_t attr;
	pthread_t tid;

	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
		return NULL;
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		atomic_fetch_add(&connections, 1);
		if (pthread_create(&tid, &attr, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	pthread_t tid;
	sigset_t set;
	FILE *f;
	int fd, sig;

	if (argc != 2) {
		fprintf(stderr, "usage: stray-backend PORT_FILE\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    pthread_create(&tid, NULL, accept_loop, (void *)(intptr_t)fd) != 0) {
		perror("stray-backend");
		return 1;
	}
	if ((f = fopen(argv[1], "w")) == NULL || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 ||
	    fclose(f) != 0) {
		fprintf(stderr, "stray-backend: cannot write %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	return 0;
}
