/* watch.c - noticing that a client went away while its request waits for backends. */
#define _GNU_SOURCE	/* POLLRDHUP */
#include "cgi/serve/threads/watch.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct watch_slot {
	pthread_mutex_t mu;
	int fd;
	fanout_group *group;	/* NULL while disarmed */
	uint64_t gen;		/* changes with every arm, so a stale poll result is ignored */
	bool fired;
	struct watch_slot *prev, *next;	/* in the registry, guarded by reg.mu */
};

static struct {
	pthread_mutex_t mu;
	struct watch_slot *slots;
	size_t nslots;
	struct watch_slot *retired;	/* freed slots, kept until watch_stop: the watcher may
					 * still hold them from its last collect */
	pthread_t thread;
	bool running;
	atomic_bool stop;
} reg = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct watch_slot *
watch_slot_new(void)
{
	struct watch_slot *s = calloc(1, sizeof(*s));

	if (s == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_lock(&reg.mu);
	s->next = reg.slots;
	if (reg.slots != NULL)
		reg.slots->prev = s;
	reg.slots = s;
	reg.nslots++;
	pthread_mutex_unlock(&reg.mu);
	return s;
}

void
watch_slot_free(struct watch_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&reg.mu);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		reg.slots = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	reg.nslots--;
	s->next = reg.retired;
	reg.retired = s;
	pthread_mutex_unlock(&reg.mu);
}

void
watch_arm(struct watch_slot *s, int fd, fanout_group *g)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->fd = fd;
	s->group = g;
	s->gen++;
	s->fired = false;
	pthread_mutex_unlock(&s->mu);
}

bool
watch_disarm(struct watch_slot *s)
{
	bool fired;

	if (s == NULL)
		return false;
	pthread_mutex_lock(&s->mu);
	s->group = NULL;
	fired = s->fired;
	pthread_mutex_unlock(&s->mu);
	return fired;
}

/* The armed slots, as poll entries; gens[i] and slots[i] say which arming each one is. Called
 * with reg.mu held. Returns the count. */
static size_t
collect(struct pollfd *fds, struct watch_slot **slots, uint64_t *gens, size_t max)
{
	size_t n = 0;

	for (struct watch_slot *s = reg.slots; s != NULL && n < max; s = s->next) {
		pthread_mutex_lock(&s->mu);
		if (s->group != NULL && !s->fired) {
			fds[n] = (struct pollfd){ .fd = s->fd, .events = POLLRDHUP };
			slots[n] = s;
			gens[n++] = s->gen;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return n;
}

/* Cancels the runs whose connection the peer closed, if they are still the ones polled. */
static void
fire(const struct pollfd *fds, struct watch_slot **slots, const uint64_t *gens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct watch_slot *s = slots[i];

		if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0)
			continue;
		pthread_mutex_lock(&s->mu);
		if (s->group != NULL && s->gen == gens[i] && !s->fired) {
			s->fired = true;
			fanout_group_cancel(s->group);
		}
		pthread_mutex_unlock(&s->mu);
	}
}

/* Makes room for n entries; false if out of memory (the period is then skipped). */
static bool
reserve(struct pollfd **fds, struct watch_slot ***slots, uint64_t **gens, size_t *cap, size_t n)
{
	if (n <= *cap)
		return true;
	free(*fds);
	free(*slots);
	free(*gens);
	*fds = calloc(n, sizeof(**fds));
	*slots = calloc(n, sizeof(**slots));
	*gens = calloc(n, sizeof(**gens));
	*cap = *fds != NULL && *slots != NULL && *gens != NULL ? n : 0;
	return *cap > 0;
}

static void *
watcher(void *arg)
{
	struct pollfd *fds = NULL;
	struct watch_slot **slots = NULL;
	uint64_t *gens = NULL;
	size_t cap = 0;

	(void)arg;
	while (!atomic_load(&reg.stop)) {
		size_t n = 0;

		/* The registry is locked only to collect, never across the poll: a
		 * request thread that registers its slot must not wait for a period. Slots polled
		 * stay valid meanwhile, since freed ones are only retired. Slots armed during the
		 * poll wait for the next period: a request costs the watcher no wake-up. */
		pthread_mutex_lock(&reg.mu);
		if (reserve(&fds, &slots, &gens, &cap, reg.nslots))
			n = collect(fds, slots, gens, cap);
		pthread_mutex_unlock(&reg.mu);
		if (poll(n > 0 ? fds : NULL, n, WATCH_PERIOD_MS) > 0)
			fire(fds, slots, gens, n);
	}
	free(fds);
	free(slots);
	free(gens);
	return NULL;
}

int
watch_start(void)
{
	atomic_store(&reg.stop, false);
	if (pthread_create(&reg.thread, NULL, watcher, NULL) != 0)
		return -1;
	reg.running = true;
	return 0;
}

void
watch_stop(void)
{
	if (!reg.running)
		return;
	atomic_store(&reg.stop, true);
	(void)pthread_join(reg.thread, NULL);
	reg.running = false;
	while (reg.retired != NULL) {
		struct watch_slot *s = reg.retired;

		reg.retired = s->next;
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
}
