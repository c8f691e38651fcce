/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guardian.c - the service's side of the freeze guardian (guardian.h):
 * starting it (this very program, re-executed), watching its link on the
 * loop, asking it to hold and to let go, and replacing it at once when it
 * dies, asking the new one again for a hold not yet answered.  What a lost
 * guardian means for a set is hold-window.c's business; the guardian's own
 * loop is guardian-main.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "daemon.h"
#include "freeze-record.h"
#include "guardian.h"
#include "json-util.h"
#include "log.h"

/* A guardian that dies younger than this, right after another one did, is
 * replaced only this long after it started (unless a hold needs one now),
 * so that one that cannot live does not make the service spin. */
#define GUARDIAN_RESTART_USEC (1000 * 1000ull)
/* How long an exiting service waits for its guardian to go. */
#define GUARDIAN_EXIT_WAIT_MSEC 2000

extern char **environ;

struct guardian {
	sd_event *event;
	int exe_fd;               /* this program, opened once at start */
	/* the guardian running, if any */
	pid_t pid;                /* 0: none */
	int pidfd;
	int link;
	sd_event_source *link_io;
	uint64_t started_usec;
	bool died_young;          /* the one before it did */
	sd_event_source *restart; /* the delayed start of the next one */
	pid_t reaping;            /* the one before, killed, not yet reaped */
	sd_event_source *reaper;  /* its pidfd */
	/* the hold asked for or registered */
	json_t *hold;             /* its HOLD message, or NULL */
	int64_t hold_id;          /* numbers only grow: a late answer is told apart */
	bool sent;                /* to the guardian running */
	bool acked;               /* it answered "held" */
	guardian_event_fn fn;
	void *userdata;
};

static int spawn(struct guardian *g);

static uint64_t now_usec(const struct guardian *g)
{
	uint64_t t = 0;

	(void)sd_event_now(g->event, CLOCK_MONOTONIC, &t); /* a valid clock */
	return t;
}

/* A guardian that went is reaped once it has exited, off the loop's path. */
static int on_reaped(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct guardian *g = userdata;
	int status = 0;

	if (waitpid(g->reaping, &status, WNOHANG) == g->reaping)
		log_debug("Freeze guardian %d ended (status 0x%x)", (int)g->reaping,
			  (unsigned)status);
	g->reaper = sd_event_source_disable_unref(g->reaper); /* closes its pidfd */
	g->reaping = 0;
	return 0;
}

/* Reap the one before, killed long ago and gone by now. */
static void reap_previous(struct guardian *g)
{
	if (!g->reaper)
		return;
	(void)waitpid(g->reaping, NULL, 0); /* it was killed: this returns */
	g->reaper = sd_event_source_disable_unref(g->reaper);
	g->reaping = 0;
}

/* Stop watching the guardian running, make sure it is gone, reap it later. */
static void detach(struct guardian *g)
{
	int r;

	g->link_io = sd_event_source_disable_unref(g->link_io);
	closep(&g->link);
	g->link = -1;
	/* Still our unreaped child: the pid cannot be anyone else's. */
	(void)pidfd_send_signal(g->pidfd, SIGKILL, NULL, 0);
	reap_previous(g);
	r = sd_event_add_io(g->event, &g->reaper, g->pidfd, EPOLLIN, on_reaped, g);
	if (r >= 0)
		r = sd_event_source_set_io_fd_own(g->reaper, true);
	if (r >= 0) {
		g->reaping = g->pid;
	} else {
		g->reaper = sd_event_source_disable_unref(g->reaper);
		closep(&g->pidfd); /* a zombie until we exit */
	}
	g->pidfd = -1;
	g->pid = 0;
	g->sent = false;
}

static void hold_clear(struct guardian *g)
{
	g->hold = (json_decref(g->hold), NULL);
	g->sent = g->acked = false;
	g->fn = NULL;
	g->userdata = NULL;
}

/* The hold is over for the guardian's sake: tell its owner (last). */
static void hold_end(struct guardian *g, enum guardian_event event, int error, const char *reason)
{
	guardian_event_fn fn = g->fn;
	void *userdata = g->userdata;

	hold_clear(g);
	fn(event, error, reason, userdata);
}

static int send_hold(struct guardian *g)
{
	int r = guardian_link_send(g->link, json_incref(g->hold));

	if (r < 0)
		return log_error_errno(r, "Failed to ask the freeze guardian to hold");
	g->sent = true;
	return 0;
}

static void on_answer(struct guardian *g, const char *type, json_t *msg)
{
	const char *reason = NULL;
	int64_t error = 0;

	(void)json_get_int(msg, "error", false, INT32_MIN, 0, &error);
	(void)json_get_string(msg, "reason", false, &reason);
	if (strcmp(type, "held") == 0 && !g->acked) {
		g->acked = true;
		g->fn(GUARDIAN_HELD, 0, NULL, g->userdata);
	} else if (strcmp(type, "refused") == 0 && !g->acked) {
		hold_end(g, GUARDIAN_REFUSED, error ? (int)error : -SC_E_UNEXPECTED, reason);
	} else if (strcmp(type, "expired") == 0 && g->acked) {
		g->fn(GUARDIAN_EXPIRED, (int)error, NULL, g->userdata);
	} else {
		log_warning("Unexpected '%s' from the freeze guardian, ignoring", type);
	}
}

static void on_message(struct guardian *g, json_t *msg)
{
	const char *type;
	int64_t id;

	if (guardian_link_header(msg, &type, &id) < 0) {
		log_warning("Invalid message from the freeze guardian, ignoring");
		return;
	}
	if (!g->hold || id != g->hold_id)
		return; /* about a hold that is over */
	on_answer(g, type, msg);
}

static void on_restart(struct guardian *g)
{
	int r = spawn(g);

	if (r < 0)
		log_error_errno(r, "Failed to start a freeze guardian; the next hold tries again");
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct guardian *g = userdata;

	g->restart = sd_event_source_disable_unref(g->restart);
	on_restart(g);
	return 0;
}

/* The guardian's link ended: it died (or is as good as dead). */
static void died(struct guardian *g)
{
	bool lost = g->hold && g->acked;
	bool young = now_usec(g) < g->started_usec + GUARDIAN_RESTART_USEC;
	bool spinning = young && g->died_young;
	int r;

	if (lost)
		log_error("The freeze guardian (pid %d) died while writes were held",
			  (int)g->pid);
	else
		log_warning("The freeze guardian (pid %d) died, starting another", (int)g->pid);
	detach(g);
	g->died_young = young;
	if (lost)
		hold_end(g, GUARDIAN_LOST, -SC_E_UNEXPECTED,
			 "the freeze guardian died while writes were held");
	if (g->hold) {
		/* Asked and not answered: the next one is asked. */
		r = spawn(g);
		if (r < 0)
			hold_end(g, GUARDIAN_REFUSED, -SC_E_UNEXPECTED,
				 "no freeze guardian could be started");
	} else if (!spinning || sd_event_add_time(g->event, &g->restart, CLOCK_MONOTONIC,
					       g->started_usec + GUARDIAN_RESTART_USEC,
					       USEC_PER_MSEC, on_restart_timer, g) < 0) {
		on_restart(g);
	}
}

static int on_link(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct guardian *g = userdata;
	json_t *msg;
	int r;

	for (;;) {
		r = guardian_link_recv(g->link, &msg);
		if (r == -EAGAIN || r == -ENOMEM)
			return 0; /* the message waits for the next wake-up */
		if (r == -EBADMSG) {
			log_warning("Unreadable message from the freeze guardian, ignoring");
			continue;
		}
		if (r <= 0)
			break;
		on_message(g, msg);
		json_decref(msg);
		if (g->link != fd)
			return 0; /* the owner's callback replaced this guardian */
	}
	died(g);
	return 0;
}

/* The child's file actions: the link at GUARDIAN_LINK_FD, /dev/null for
 * stdin, stdout and stderr (a guardian never writes where nobody reads,
 * nor to a file that could lie on a frozen filesystem). */
static int spawn_actions(posix_spawn_file_actions_t *fa, int child_end)
{
	int r;

	r = posix_spawn_file_actions_adddup2(fa, child_end, GUARDIAN_LINK_FD);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, STDERR_FILENO);
	return -r;
}

/* posix_spawn(): no fork of a process with threads, and nothing but
 * async-signal-safe work before the exec. */
static int spawn_process(const struct guardian *g, int child_end, pid_t *ret)
{
	char exe[64], fd_arg[16];
	static const int ignored[] = GUARDIAN_IGNORED_SIGNALS;
	char *argv[] = { "shadowcopyd", GUARDIAN_ARG, fd_arg, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t mask, all;
	int r;

	snprintf(exe, sizeof(exe), "/proc/self/fd/%d", g->exe_fd);
	snprintf(fd_arg, sizeof(fd_arg), "%d", GUARDIAN_LINK_FD);
	sigemptyset(&mask);
	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		sigaddset(&mask, ignored[i]);
	sigfillset(&all);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawnattr_init(&attr);
	/* Default dispositions; blocked only what the guardian will ignore. */
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	(void)posix_spawnattr_setsigmask(&attr, &mask);
	(void)posix_spawnattr_setsigdefault(&attr, &all);
	r = spawn_actions(&fa, child_end);
	if (r == 0)
		r = -posix_spawn(ret, exe, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r;
}

/* A socketpair whose child end is not GUARDIAN_LINK_FD itself (dup2 onto
 * itself would keep its close-on-exec flag). */
static int make_link(int sv[2])
{
	int fd;
	int size = 2 * GUARDIAN_MESSAGE_MAX;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Room for a hold of many long paths; the kernel may give less, and a
	 * message too long for it fails to be sent (EMSGSIZE). */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (sv[1] == GUARDIAN_LINK_FD) {
		fd = fcntl(sv[1], F_DUPFD_CLOEXEC, GUARDIAN_LINK_FD + 1);
		if (fd < 0) {
			closep(&sv[0]);
			closep(&sv[1]);
			return -errno;
		}
		closep(&sv[1]);
		sv[1] = fd;
	}
	return 0;
}

static int watch(struct guardian *g, int link, pid_t pid)
{
	int r;

	g->pidfd = pidfd_open(pid, 0);
	if (g->pidfd < 0)
		return -errno;
	g->link = link;
	g->pid = pid;
	g->started_usec = now_usec(g);
	if (fcntl(link, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	r = sd_event_add_io(g->event, &g->link_io, link, EPOLLIN, on_link, g);
	if (r < 0)
		return r;
	log_info("Started the freeze guardian (pid %d)", (int)pid);
	return 0;
}

static int spawn(struct guardian *g)
{
	int sv[2], r;
	pid_t pid;

	g->restart = sd_event_source_disable_unref(g->restart);
	r = make_link(sv);
	if (r < 0)
		return r;
	r = spawn_process(g, sv[1], &pid);
	closep(&sv[1]);
	if (r < 0) {
		closep(&sv[0]);
		return r;
	}
	r = watch(g, sv[0], pid);
	if (r < 0 && g->pid > 0) {
		detach(g);
	} else if (r < 0) {
		/* No pidfd: killed and reaped here, which is quick. */
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		closep(&sv[0]);
	}
	if (r < 0)
		return r;
	if (g->hold)
		return send_hold(g);
	return 0;
}

int guardian_new(sd_event *event, struct guardian **ret)
{
	struct guardian *g;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = (struct guardian){ .event = sd_event_ref(event), .pidfd = -1, .link = -1 };
	/* Resolved once: a program replaced on disk (an upgrade) is not ours. */
	g->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	r = g->exe_fd < 0 ? -errno : spawn(g);
	if (r < 0) {
		guardian_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

/* Wait a little for the guardian to go, then reap it if it has. */
static void reap_at_exit(struct guardian *g)
{
	struct pollfd p = { .fd = g->pidfd, .events = POLLIN };

	if (poll(&p, 1, GUARDIAN_EXIT_WAIT_MSEC) <= 0)
		log_warning("The freeze guardian (pid %d) has not exited yet", (int)g->pid);
	else
		(void)waitpid(g->pid, NULL, WNOHANG); /* it has exited */
}

struct guardian *guardian_free(struct guardian *g)
{
	if (!g)
		return NULL;
	g->restart = sd_event_source_disable_unref(g->restart);
	g->link_io = sd_event_source_disable_unref(g->link_io);
	/* End of file: a guardian still holding something thaws it now. */
	closep(&g->link);
	if (g->pid > 0 && g->pidfd >= 0)
		reap_at_exit(g);
	closep(&g->pidfd);
	reap_previous(g);
	closep(&g->exe_fd);
	json_decref(g->hold);
	sd_event_unref(g->event);
	free(g);
	return NULL;
}

static json_t *hold_message(int64_t id, const struct sc_id *set_id, const char *state_dir,
			    const struct freeze_record_fs *fs, size_t n, uint64_t deadline_usec)
{
	_cleanup_json_ json_t *list = freeze_record_fs_json(fs, n);

	if (!list)
		return NULL;
	return json_pack("{s:s, s:I, s:o, s:s, s:I, s:O}", "type", "hold", "hold", (json_int_t)id,
			 "set_id", json_id(set_id), "state_dir", state_dir, "deadline_usec",
			 (json_int_t)deadline_usec, "filesystems", list);
}

int guardian_hold(struct guardian *g, const struct sc_id *set_id, const char *state_dir,
		  const struct freeze_record_fs *fs, size_t n, uint64_t deadline_usec,
		  guardian_event_fn fn, void *userdata)
{
	int r;

	if (g->hold)
		return -EBUSY;
	g->hold = hold_message(g->hold_id + 1, set_id, state_dir, fs, n, deadline_usec);
	if (!g->hold)
		return -ENOMEM;
	g->hold_id++;
	g->fn = fn;
	g->userdata = userdata;
	/* A hold never starts without a guardian: none running, one now. */
	r = g->pid > 0 ? send_hold(g) : spawn(g);
	if (r < 0)
		hold_clear(g);
	return r;
}

void guardian_release(struct guardian *g)
{
	bool sent = g->hold && g->sent;
	int r;

	hold_clear(g);
	if (!sent || g->pid == 0)
		return;
	r = guardian_link_send(g->link, json_pack("{s:s, s:I}", "type", "release", "hold",
						  (json_int_t)g->hold_id));
	if (r >= 0)
		return;
	/* One that cannot hear it would refuse the next hold: replace it.
	 * What it holds is thawed already. */
	log_error_errno(r, "Failed to tell the freeze guardian to let go, replacing it");
	detach(g);
	on_restart(g);
}
