/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run.c - run a batch of hooks at once and wait for all of them: each in a
 * process group of its own, with stdin from /dev/null, stdout and stderr on
 * ours, the environment that names the snapshot set and its volumes, and a
 * deadline past which its whole process group is killed.  Background
 * processes a hook leaves behind when it exits in time are left alone (a
 * hook may hold a lock that way until "thaw").  Which hooks run is not here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks-writer.h"
#include "writer-common.h"

/* How long a killed hook may take to die before it is given up on (a
 * process in uninterruptible sleep cannot die): it is reaped later. */
#define KILL_GRACE_USEC (2 * USEC_PER_SEC)

extern char **environ;

static const char *const own_variables[] = {
	"SHADOWCOPY_EVENT=", "SHADOWCOPY_SNAPSHOT_SET_ID=", "SHADOWCOPY_CONTEXT=",
	"SHADOWCOPY_VOLUMES=",
};

struct child {
	const struct hook *hook;
	const char *word;
	pid_t pid;
	int pidfd;
	uint64_t start_usec;
	enum run_outcome *outcome;
	bool running;
	bool killed;
};

static bool run_own_variable(const char *entry)
{
	for (size_t i = 0; i < ELEMENTS_OF(own_variables); i++)
		if (strncmp(entry, own_variables[i], strlen(own_variables[i])) == 0)
			return true;
	return false;
}

/* The volumes of the set, one per line (a path may hold spaces). */
static char *run_volumes(const struct sc_writer_event *ev)
{
	size_t n = sc_writer_event_get_volume_count(ev), len = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(sc_writer_event_get_volume(ev, i)) + 1;
	if (!(s = calloc(len + 1, 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		strcat(s, sc_writer_event_get_volume(ev, i));
		if (i + 1 < n)
			strcat(s, "\n");
	}
	return s;
}

/* Our own variables, which come last in the environment and are freed. */
static int run_context_own(struct run_context *c, const struct sc_writer_event *ev,
			   enum hook_action a, size_t at)
{
	char set_id[SC_ID_STRING_MAX];
	const char *context, *values[ELEMENTS_OF(own_variables)];
	char *volumes;
	struct sc_id id;
	int r = 0;

	sc_writer_event_get_snapshot_set_id(ev, &id);
	context = sc_context_name(sc_writer_event_get_context(ev));
	if (!(volumes = run_volumes(ev)))
		return -ENOMEM;
	values[0] = action_word(a);
	values[1] = sc_id_to_string(&id, set_id);
	values[2] = context ? context : "";
	values[3] = volumes;
	for (size_t i = 0; i < ELEMENTS_OF(own_variables) && r >= 0; i++)
		if (asprintf(&c->envp[at + i], "%s%s", own_variables[i], values[i]) < 0) {
			c->envp[at + i] = NULL; /* undefined after a failure */
			r = -ENOMEM;
		}
	free(volumes);
	return r;
}

/* The environment of the hooks of @a for the backup of @ev: ours, without
 * any SHADOWCOPY_* variable it had, plus the four that describe the event. */
int run_context_init(struct run_context *c, const struct sc_writer_event *ev,
		     enum hook_action a, uint32_t timeout_ms)
{
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	*c = (struct run_context){ .timeout_ms = timeout_ms };
	if (!(c->envp = calloc(n + ELEMENTS_OF(own_variables) + 1, sizeof(*c->envp))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!run_own_variable(environ[i]))
			c->envp[k++] = environ[i];
	c->n_env = k;
	return run_context_own(c, ev, a, k);
}

void run_context_done(struct run_context *c)
{
	for (size_t i = 0; c->envp && i < ELEMENTS_OF(own_variables); i++)
		free(c->envp[c->n_env + i]);
	free(c->envp);
	c->envp = NULL;
}

/* Reap hooks given up on earlier, now that none of ours is running. */
static void run_reap_abandoned(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int run_spawn(const struct run_context *c, struct child *k)
{
	char *argv[] = { "sh", k->hook->path, (char *)k->word, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int r;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGPIPE);
	/* Only ENOMEM can make these fail; posix_spawn() then fails as well. */
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	(void)posix_spawn_file_actions_addchdir_np(&fa, "/");
	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				       POSIX_SPAWN_SETSIGDEF);
	(void)posix_spawnattr_setpgroup(&attr, 0);
	(void)posix_spawnattr_setsigmask(&attr, &none);
	(void)posix_spawnattr_setsigdefault(&attr, &defaults);
	r = posix_spawn(&k->pid, k->hook->path, &fa, &attr, argv + 1, c->envp);
	if (r == ENOEXEC) /* a script without "#!": the shell runs it, as for qemu-ga */
		r = posix_spawn(&k->pid, "/bin/sh", &fa, &attr, argv, c->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return wlog_error_errno(-r, "%s: %s: cannot run it", k->word, k->hook->name);
	k->start_usec = now_usec();
	k->running = true;
	k->pidfd = pidfd_open(k->pid, 0);
	return 0;
}

static void run_finished(struct child *k, int status)
{
	double ms = msec_between(k->start_usec, now_usec());

	k->running = false;
	if (k->pidfd >= 0)
		(void)close(k->pidfd);
	if (k->killed) {
		*k->outcome = RUN_TIMED_OUT;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		wlog_info("%s: %s: done in %.1f ms", k->word, k->hook->name, ms);
		*k->outcome = RUN_OK;
	} else if (WIFEXITED(status)) {
		wlog_error("%s: %s: failed with exit status %d after %.1f ms", k->word,
			   k->hook->name, WEXITSTATUS(status), ms);
		*k->outcome = RUN_FAILED;
	} else {
		wlog_error("%s: %s: killed by signal %s after %.1f ms", k->word, k->hook->name,
			   strsignal(WTERMSIG(status)), ms);
		*k->outcome = RUN_FAILED;
	}
}

/* How long poll() may sleep: until the deadline, or briefly when a child
 * has no pidfd and must be looked at with waitpid() from time to time. */
static int run_poll_ms(const struct pollfd *p, size_t n, uint64_t deadline_usec)
{
	uint64_t now = now_usec(), ms;

	ms = deadline_usec > now ? (deadline_usec - now + 999) / 1000 : 0;
	for (size_t i = 0; i < n; i++)
		if (p[i].fd == -2 && ms > 10)
			ms = 10;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Wait until every child has ended or @deadline_usec; reap those that end.
 * Returns how many are still running. */
static size_t run_wait(struct child *kids, size_t n, uint64_t deadline_usec)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	size_t running = 0;
	int status;

	for (size_t i = 0; i < n; i++)
		running += kids[i].running;
	while (p && running > 0 && now_usec() < deadline_usec) {
		for (size_t i = 0; i < n; i++)
			/* -1: ignored; a running child without pidfd is -2, ignored too */
			p[i] = (struct pollfd){ .fd = !kids[i].running ? -1 :
						kids[i].pidfd >= 0 ? kids[i].pidfd : -2,
						.events = POLLIN };
		if (poll(p, n, run_poll_ms(p, n, deadline_usec)) < 0 && errno != EINTR)
			break;
		running = 0;
		for (size_t i = 0; i < n; i++) {
			if (kids[i].running &&
			    waitpid(kids[i].pid, &status, WNOHANG) == kids[i].pid)
				run_finished(&kids[i], status);
			running += kids[i].running;
		}
	}
	free(p);
	return running;
}

/* Kill the process group of every child still running, and reap them. */
static void run_kill(struct child *kids, size_t n, uint32_t timeout_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (!kids[i].running)
			continue;
		wlog_error("%s: %s: timed out after %u ms, killing its process group",
			   kids[i].word, kids[i].hook->name, timeout_ms);
		/* The leader is not reaped yet, so its pid still names its group. */
		(void)kill(-kids[i].pid, SIGKILL);
		kids[i].killed = true;
		*kids[i].outcome = RUN_TIMED_OUT;
	}
	run_wait(kids, n, now_usec() + KILL_GRACE_USEC);
	for (size_t i = 0; i < n; i++)
		if (kids[i].running) {
			wlog_error("%s: %s: does not die, giving up on it", kids[i].word,
				   kids[i].hook->name);
			if (kids[i].pidfd >= 0)
				(void)close(kids[i].pidfd);
		}
}

/*
 * Run @hooks[i] with the argument @words[i], all at once, and wait for all of
 * them, each at most the context's timeout.  Writes each one's outcome to
 * @ret_outcomes[i].  Returns 0 or -ENOMEM.
 */
int run_batch(const struct run_context *c, struct hook *const *hooks,
	      const char *const *words, size_t n, enum run_outcome *ret_outcomes)
{
	struct child *kids = calloc(n, sizeof(*kids));
	uint64_t deadline;

	if (!kids)
		return -ENOMEM;
	run_reap_abandoned();
	for (size_t i = 0; i < n; i++) {
		kids[i] = (struct child){ .hook = hooks[i], .word = words[i], .pidfd = -1,
					  .outcome = &ret_outcomes[i] };
		ret_outcomes[i] = RUN_NOT_STARTED;
		if (run_spawn(c, &kids[i]) >= 0)
			ret_outcomes[i] = RUN_OK; /* until run_finished() says otherwise */
	}
	deadline = now_usec() + c->timeout_ms * USEC_PER_MSEC;
	if (run_wait(kids, n, deadline) > 0)
		run_kill(kids, n, c->timeout_ms);
	free(kids);
	return 0;
}
