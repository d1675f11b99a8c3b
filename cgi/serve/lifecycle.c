/* lifecycle.c - what both FastCGI servers share of a process's life: the signal mask, the count
 * of the workers that started, the wait for the stop (and whether one is pending) and the turn
 * to draining. */
#include "cgi/serve/serve.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "cgi/request/handler.h"
#include "common/log.h"

int
server_block_signals(void)
{
	sigset_t set;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

/* Waits for SIGTERM or SIGINT (returned), calling reload() at each SIGHUP meanwhile; -1 if
 * sigwait fails. */
static int
wait_for_stop(void (*reload)(void))
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return -1;
		if (sig != SIGHUP)
			return sig;
		reload();
	}
}

bool
server_started(size_t started, size_t wanted, const char *what)
{
	if (started < wanted)
		log_msg("error", "started %zu of %zu %s", started, wanted, what);
	if (started == 0)
		return false;
	log_msg("info", "serving FastCGI with %zu %s", started, what);
	return true;
}

void
server_wait_and_drain(void (*reload)(void))
{
	int sig = wait_for_stop(reload);

	log_msg("info", "%s: stopping; requests in progress may finish",
	    sig > 0 ? strsignal(sig) : "sigwait failed");
	handler_set_draining();
}

bool
server_stop_pending(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 &&
	    (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}
