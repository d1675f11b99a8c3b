/* main.c - fanout-cgi: options, start-up and shut-down of the FastCGI aggregation program. */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi/request/accesslog.h"
#include "cgi/config/config.h"
#include "cgi/backend/desync.h"
#include "cgi/backend/curl/fetch.h"
#include "cgi/request/handler.h"
#include "cgi/serve/listen.h"
#include "cgi/request/metrics.h"
#include "cgi/serve/cgi.h"
#include "cgi/serve/event/evserver.h"
#include "cgi/serve/serve.h"
#include "cgi/serve/threads/threads.h"
#include "cgi/config/site.h"
#include "common/log.h"
#include "fanout/fanout.h"

#define DEFAULT_SERVER SERVER_THREADS
#define DEFAULT_THREADS 16
#define DEFAULT_IDLE_TIMEOUT_S 30
#define CALL_STACK (512 * 1024)

static const char usage[] =
    "usage: fanout-cgi -c CONFIG [--listen /path.sock [--socket-mode MODE] [--socket-group GROUP]\n"
    "                            | --listen 127.0.0.1:9000]\n"
    "                  [--server event [--loops N] | --server threads [--threads N]]\n"
    "                  [--idle-timeout SECONDS] [--log-format text|json|off]\n"
    "       fanout-cgi --check-config CONFIG\n"
    "\n"
    "  -c, --config FILE        the JSON config (endpoints and backends)\n"
    "  -l, --listen ADDR        serve FastCGI on a Unix socket path (recommended) or on one\n"
    "                           IP:PORT (0.0.0.0 and [::] are refused); without it, serve the\n"
    "                           socket inherited on fd 0 (spawn-fcgi, mod_fcgid), or one plain\n"
    "                           CGI request when started as CGI. Whoever can connect can crash\n"
    "                           libfcgi's parser, that of --server threads (README, Security)\n"
    "      --socket-mode MODE   the Unix socket's mode, octal (default 0660: its owner and\n"
    "                           group may connect, nobody else), set before it listens\n"
    "      --socket-group GROUP the Unix socket's group, name or number (default: the\n"
    "                           process's): give the web server's (www-data)\n"
    "      --server MODEL       event: event loops own the connections and the backends'\n"
    "                           sockets (recommended); threads (default): the classic\n"
    "                           model, libfcgi and a thread per connection\n"
    "      --loops N            event loops of --server event (default: one per CPU)\n"
    "  -t, --threads N          request threads of --server threads (default 16)\n"
    "      --idle-timeout S     close a FastCGI connection that leaves a read or a write\n"
    "                           waiting S seconds, kept-alive ones included (default 30)\n"
    "      --log-format FORMAT  access log on stderr: text (default), json or off\n"
    "      --check-config FILE  validate FILE, print what is wrong, and exit\n"
    "  -h, --help               this text\n"
    "  -V, --version            the version\n";

struct options {
	const char *config;
	const char *listen;
	const char *check;
	enum server_model model;
	size_t threads;
	size_t loops;			/* 0: one per online CPU */
	struct listen_perm perm;	/* of a Unix socket */
	bool perm_given;		/* --socket-mode or --socket-group */
	long idle_timeout_s;
};

/* Parses a count from 1 to max; -1 if s is anything else. */
static long
parse_count(const char *s, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || end == s || n < 1 || n > max ? -1 : n;
}

/* --socket-mode (opt 'M') or --socket-group ('G'); -1 with the reason on stderr. */
static int
socket_option(int opt, const char *arg, struct options *o)
{
	struct buf err = BUF_INIT;

	o->perm_given = true;
	if (opt == 'M' && listen_parse_mode(arg, &o->perm.mode) != 0) {
		fprintf(stderr, "fanout-cgi: --socket-mode takes an octal mode from 0 to 0777 "
		    "(e.g. 0660)\n");
		return -1;
	}
	if (opt == 'G' && listen_parse_group(arg, &o->perm.group, &err) != 0) {
		fprintf(stderr, "fanout-cgi: %s\n", err.len > 0 ? buf_str(&err) : "out of memory");
		buf_free(&err);
		return -1;
	}
	return 0;
}

/* The listening address is one the program will serve on, and the socket options apply to it;
 * -1 with the reason on stderr. */
static int
listen_check(const struct options *o)
{
	struct buf err = BUF_INIT;
	enum listen_kind kind = o->listen != NULL ? listen_classify(o->listen, &err) : LISTEN_BAD;

	if (o->listen != NULL && (kind == LISTEN_BAD || kind == LISTEN_EVERY)) {
		fprintf(stderr, "fanout-cgi: %s\n", err.len > 0 ? buf_str(&err) : "out of memory");
		buf_free(&err);
		return -1;
	}
	if (o->perm_given && (o->listen == NULL || kind != LISTEN_UNIX)) {
		fprintf(stderr, "fanout-cgi: --socket-mode and --socket-group apply to a Unix socket "
		    "(--listen /path.sock), not to %s\n", o->listen != NULL ? o->listen :
		    "the socket inherited on fd 0");
		return -1;
	}
	if (kind == LISTEN_UNIX && (o->perm.mode & 0002) != 0)
		log_msg("warning", "--socket-mode %04o: every local user may connect, send any "
		    "request, and crash --server threads with one FastCGI record (README, section "
		    "Security)",
		    (unsigned)o->perm.mode);
	return 0;
}

/* Returns -1 to exit with usage error 2, 1 to exit 0 (help, version), 0 to run. */
static int
options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "server", required_argument, NULL, 'S' },
		{ "loops", required_argument, NULL, 'P' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "socket-group", required_argument, NULL, 'G' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int opt;

	*o = (struct options){ .model = DEFAULT_SERVER, .threads = DEFAULT_THREADS,
		.perm = { .mode = LISTEN_DEFAULT_MODE, .group = (gid_t)-1 },
		.idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S };
	while ((opt = getopt_long(argc, argv, "c:l:t:hV", longs, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			if ((n = parse_count(optarg, 4096)) < 0) {
				fprintf(stderr, "fanout-cgi: --threads takes a number from 1 to 4096\n");
				return -1;
			}
			o->threads = (size_t)n;
			break;
		case 'S':
			if (strcmp(optarg, "event") == 0)
				o->model = SERVER_EVENT;
			else if (strcmp(optarg, "threads") == 0)
				o->model = SERVER_THREADS;
			else {
				fprintf(stderr, "fanout-cgi: --server takes event or threads\n");
				return -1;
			}
			break;
		case 'P':
			if ((n = parse_count(optarg, 256)) < 0) {
				fprintf(stderr, "fanout-cgi: --loops takes a number from 1 to 256\n");
				return -1;
			}
			o->loops = (size_t)n;
			break;
		case 'C':
			o->check = optarg;
			break;
		case 'I':
			if ((o->idle_timeout_s = parse_count(optarg, 3600)) < 0) {
				fprintf(stderr, "fanout-cgi: --idle-timeout takes seconds, from 1 "
				    "to 3600\n");
				return -1;
			}
			break;
		case 'L':
			if (accesslog_set_format(optarg) != 0) {
				fprintf(stderr, "fanout-cgi: --log-format takes text, json or off\n");
				return -1;
			}
			break;
		case 'M':
		case 'G':
			if (socket_option(opt, optarg, o) != 0)
				return -1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			puts("fanout-cgi " PACKAGE_VERSION);
			return 1;
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc || (o->config == NULL && o->check == NULL)) {
		fputs(usage, stderr);
		return -1;
	}
	return listen_check(o);
}

/* --check-config: 0 if valid, 1 if not, with the reason on stderr. */
static int
check_config(const char *file)
{
	struct buf err = BUF_INIT;
	struct cfg *cfg = NULL;

	if (cfg_load_file(file, &cfg, &err) != 0) {
		fprintf(stderr, "%s\n", buf_str(&err));
		buf_free(&err);
		return 1;
	}
	printf("%s: ok, %zu endpoints\n", file, cfg->nendpoints);
	cfg_unref(cfg);
	return 0;
}

/* The one-time set-up of every library, before any thread starts. */
static int
libraries_init(const struct cfg *cfg)
{
	struct fanout_limits limits = { .max_inflight = cfg->max_inflight,
		.pool_threads = cfg->pool_threads, .stack_bytes = CALL_STACK };
	enum fanout_err err;

	json_object_seed(0);
	if (fetch_global_init() != 0 || handler_init() != 0 || FCGX_Init() != 0) {
		log_msg("error", "cannot initialise libcurl, the id generator or libfcgi");
		return -1;
	}
	if ((err = fanout_init(&limits)) != FANOUT_OK) {
		log_msg("error", "fanout_init: %s", fanout_strerror(err));
		return -1;
	}
	return 0;
}

/* The config file, for reloads. */
static const char *config_file;

/* SIGHUP: loads the config file again and puts it in force, or keeps the old one. Requests in
 * progress finish on the config they started with. */
static void
reload(void)
{
	struct buf err = BUF_INIT;
	struct cfg *next = NULL, *now = site_get();

	if (cfg_load_file(config_file, &next, &err) != 0 || metrics_bind(next) != 0) {
		log_msg("error", "SIGHUP: %s; the config in force stays", err.len > 0 ? buf_str(&err) :
		    "out of memory");
		metrics_reload(false);
		cfg_unref(next);
	} else {
		if (next->max_inflight != now->max_inflight || next->pool_threads != now->pool_threads ||
		    next->max_connections != now->max_connections ||
		    next->max_pending_output_mb != now->max_pending_output_mb)
			log_msg("warning", "SIGHUP: limits changed; they take effect at the next start");
		site_set(next);
		desync_reset();	/* the new config may reuse every backend's connections again */
		metrics_reload(true);
		log_msg("info", "SIGHUP: %s reloaded, %zu endpoints", config_file, next->nendpoints);
	}
	cfg_unref(now);
	buf_free(&err);
}

/* Picks where requests come from: --listen, the socket on fd 0, or one CGI request. */
static int
serve(struct cfg *cfg, const struct options *o)
{
	struct buf err = BUF_INIT;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct server_opts so = { .model = o->model, .threads = o->threads, .grace_ms = 1000,
		.idle_timeout_s = o->idle_timeout_s, .max_connections = cfg->max_connections,
		.max_pending_output_mb = cfg->max_pending_output_mb,
		.loops = o->loops > 0 ? o->loops : cpus > 256 ? 256 : cpus > 0 ? (size_t)cpus : 1 };
	int fd = 0;

	for (size_t i = 0; i < cfg->nendpoints; i++)
		if (cfg->endpoints[i].timeout_ms + 1000 > so.grace_ms)
			so.grace_ms = cfg->endpoints[i].timeout_ms + 1000;
	if (o->listen != NULL && (fd = listen_open(o->listen, &o->perm, &err)) < 0) {
		log_msg("error", "%s", err.len > 0 ? buf_str(&err) : "out of memory");
		buf_free(&err);
		return 1;
	}
	if (o->listen == NULL && FCGX_IsCGI()) {
		if (getenv("REQUEST_METHOD") != NULL)
			return cgi_run(cfg);
		log_msg("error", "fd 0 is not a FastCGI socket and there is no CGI request: use "
		    "--listen ADDR, or start under a FastCGI server (spawn-fcgi, mod_fcgid)");
		return 2;
	}
	if (getenv("FCGI_WEB_SERVER_ADDRS") != NULL && *getenv("FCGI_WEB_SERVER_ADDRS") != '\0') {
		/* libfcgi's own accept applied it; ours does not. Refused rather than ignored. */
		log_msg("error", "FCGI_WEB_SERVER_ADDRS is not supported: listen on a loopback "
		    "address or a Unix socket to choose who may connect, and unset it");
		return 1;
	}
	return so.model == SERVER_EVENT ? evserver_run(fd, &so, reload) :
	    threads_run(fd, &so, reload);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct buf err = BUF_INIT;
	struct cfg *cfg = NULL;
	int rc;

	log_init("fanout-cgi");
	if ((rc = options_parse(argc, argv, &o)) != 0)
		return rc < 0 ? 2 : 0;
	if (o.check != NULL)
		return check_config(o.check);
	if (cfg_load_file(o.config, &cfg, &err) != 0) {
		log_msg("error", "%s", buf_str(&err));
		buf_free(&err);
		return 1;
	}
	if (server_block_signals() != 0 || libraries_init(cfg) != 0 || metrics_bind(cfg) != 0) {
		cfg_unref(cfg);
		return 1;
	}
	config_file = o.config;
	cfg_ref(cfg);
	site_set(cfg);
	rc = serve(cfg, &o);
	fanout_shutdown();	/* waits for calls that outlived their request */
	fetch_global_cleanup();
	site_set(NULL);
	cfg_unref(cfg);
	metrics_free();
	desync_free();
	return rc;
}
