/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guardian-main.c - the freeze guardian process (`shadowcopyd --guardian
 * FD`): it holds an fd of each filesystem of the service's hold, and thaws
 * them all, in reverse freeze order, when the link reaches end of file
 * (the service died) or the hold's deadline passes (the service is stopped
 * or hung).  One thread, poll() on the link; it never freezes anything,
 * never writes anywhere but the link and the state directory, and ignores
 * the signals that stop a service: only the link ends it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "freeze-record.h"
#include "guardian.h"
#include "hold.h"
#include "json-util.h"
#include "log.h"

/* A failed FITHAW is tried this many times in all, this far apart. */
#define THAW_TRIES 5
#define THAW_RETRY_NSEC (100 * 1000 * 1000L)

struct guard {
	int link;
	pid_t service;       /* our parent, as it was at start */
	struct hold *hold;   /* the registered hold, or NULL */
	int64_t hold_id;
	struct sc_id set_id;
	char *state_dir;
	uint64_t deadline_usec;
	bool expired;        /* thawed at the deadline already */
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* To the service, if it listens: one that is gone or stopped misses it. */
static void reply(struct guard *g, const char *type, int64_t hold, int error, const char *reason)
{
	json_t *msg = json_pack("{s:s, s:I}", "type", type, "hold", (json_int_t)hold);

	if (msg && error != 0 && json_set(msg, "error", json_integer(error)) < 0)
		msg = (json_decref(msg), NULL);
	if (msg && reason && json_set(msg, "reason", json_string(reason)) < 0)
		msg = (json_decref(msg), NULL);
	(void)guardian_link_send(g->link, msg);
}

static void drop_hold(struct guard *g)
{
	g->hold = hold_free(g->hold);
	g->state_dir = (free(g->state_dir), NULL);
	g->expired = false;
}

/* Every filesystem of the hold, whoever froze it: EINVAL (not frozen)
 * counts as thawed.  Only those that refuse are tried again. */
static int thaw(struct hold *h)
{
	static const struct timespec pause = { .tv_nsec = THAW_RETRY_NSEC };
	int r;

	hold_assume_frozen(h);
	r = hold_thaw(h);
	for (int i = 1; r < 0 && i < THAW_TRIES; i++) {
		(void)nanosleep(&pause, NULL);
		r = hold_thaw(h);
	}
	return r;
}

/* Open every filesystem of @msg: the service freezes only what we hold. */
static int open_all(struct hold *h, json_t *msg, char **ret_reason)
{
	json_t *list, *fs;
	const char *path;
	int64_t dev;
	size_t i;
	int r;

	r = json_get_array(msg, "filesystems", true, JSON_OBJECT, &list);
	if (r < 0)
		return r;
	json_array_foreach(list, i, fs) {
		if (json_get_string(fs, "path", true, &path) < 0 ||
		    json_get_int(fs, "dev", true, 0, INT64_MAX, &dev) < 0)
			return -SC_E_INVALID_MESSAGE;
		r = hold_add(h, path, (dev_t)dev, NULL, 0, ret_reason);
		if (r < 0)
			return r;
	}
	return 0;
}

static int register_hold(struct guard *g, json_t *msg, char **ret_reason)
{
	const char *state_dir;
	int64_t deadline;
	int r;

	if (g->hold)
		return -EBUSY; /* the service releases one before it asks for the next */
	if (json_get_id(msg, "set_id", true, &g->set_id) < 0 ||
	    json_get_string(msg, "state_dir", true, &state_dir) < 0 ||
	    json_get_int(msg, "deadline_usec", true, 0, INT64_MAX, &deadline) < 0)
		return -SC_E_INVALID_MESSAGE;
	g->hold = hold_new();
	g->state_dir = strdup(state_dir);
	if (!g->hold || !g->state_dir)
		r = -ENOMEM;
	else
		r = open_all(g->hold, msg, ret_reason);
	if (r < 0) {
		drop_hold(g);
		return r;
	}
	hold_assume_frozen(g->hold);
	g->deadline_usec = (uint64_t)deadline;
	return 0;
}

static void on_hold(struct guard *g, json_t *msg, int64_t id)
{
	_cleanup_free_ char *reason = NULL;
	int r;

	r = register_hold(g, msg, &reason);
	if (r < 0) {
		reply(g, "refused", id, r, reason);
		return;
	}
	g->hold_id = id;
	reply(g, "held", id, 0, NULL);
}

static void on_message(struct guard *g, json_t *msg)
{
	const char *type;
	int64_t id;

	if (guardian_link_header(msg, &type, &id) < 0)
		return; /* not from a service that works: nothing to act on */
	if (strcmp(type, "hold") == 0)
		on_hold(g, msg, id);
	else if (strcmp(type, "release") == 0 && g->hold && id == g->hold_id)
		drop_hold(g);
}

/* Read every message waiting: 0 when the service is gone, 1 otherwise. */
static int drain(struct guard *g)
{
	json_t *msg;
	int r;

	for (;;) {
		r = guardian_link_recv(g->link, &msg);
		if (r == -EAGAIN || r == -ENOMEM)
			return 1; /* an unread message waits for the next poll() */
		if (r == -EBADMSG)
			continue; /* dropped; the service's next message may be fine */
		if (r <= 0)
			return 0; /* end of file, or a link that no longer works */
		on_message(g, msg);
		json_decref(msg);
	}
}

static void on_deadline(struct guard *g)
{
	int r = thaw(g->hold);

	/* The hold stays registered until RELEASE: the service may freeze no
	 * more, and if it dies now, the end of file thaws once again. */
	g->expired = true;
	reply(g, "expired", g->hold_id, r, NULL);
}

/* The service is gone: thaw, and remove its record if it names this hold. */
static int on_eof(struct guard *g)
{
	int r;

	if (!g->hold)
		return EXIT_SUCCESS;
	r = thaw(g->hold);
	/* A filesystem that would not thaw stays in the record, for
	 * `shadowcopyd --recover` and the next start. */
	if (r >= 0)
		(void)freeze_record_remove_if(g->state_dir, g->service, &g->set_id);
	drop_hold(g);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int poll_timeout_msec(const struct guard *g)
{
	uint64_t now = now_usec();

	if (!g->hold || g->expired)
		return -1;
	if (now >= g->deadline_usec)
		return 0;
	return (int)((g->deadline_usec - now + 999) / 1000); /* never early */
}

static int guard_loop(struct guard *g)
{
	struct pollfd p = { .fd = g->link, .events = POLLIN };
	int r;

	for (;;) {
		r = poll(&p, 1, poll_timeout_msec(g));
		if (r < 0 && errno != EINTR)
			return on_eof(g); /* cannot wait for the service: as if gone */
		if (drain(g) == 0)
			return on_eof(g);
		if (g->hold && !g->expired && now_usec() >= g->deadline_usec)
			on_deadline(g);
	}
}

/* Only the link ends the guardian: SIGTERM to the whole unit, or ^C in a
 * terminal, must not leave the service's hold unguarded. */
static void ignore_signals(void)
{
	static const int ignored[] = GUARDIAN_IGNORED_SIGNALS;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t none;

	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		(void)sigaction(ignored[i], &sa, NULL); /* valid signals */
	/* Blocked by the service since the spawn; one pending is dropped. */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static int check_link(const char *arg)
{
	socklen_t len = sizeof(int);
	int type = 0;
	char *end;

	/* The service puts it there, and says so. */
	if (strtol(arg, &end, 10) != GUARDIAN_LINK_FD || *end != '\0')
		return -EINVAL;
	if (getsockopt(GUARDIAN_LINK_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	return type == SOCK_SEQPACKET ? 0 : -ENOTSOCK;
}

int guardian_main(int argc, char *argv[])
{
	struct guard g = { .link = GUARDIAN_LINK_FD, .service = getppid() };

	log_set_ident("shadowcopyd-guardian");
	if (argc != 3 || check_link(argv[2]) < 0) {
		log_error("Usage: shadowcopyd --guardian 3, started by shadowcopyd only");
		return 2;
	}
	ignore_signals();
	/* Nothing of the service's but the link, and no mount kept busy. */
	(void)close_range(GUARDIAN_LINK_FD + 1, ~0U, 0);
	(void)chdir("/");
	return guard_loop(&g);
}
