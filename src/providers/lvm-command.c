/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lvm-command.c - LVM's command-line tool as a child process: posix_spawn
 * with a fixed environment and an empty signal mask, stdout and stderr read
 * through pipes up to a bound, a deadline, and the JSON report format
 * (never the human one).  It knows nothing of thin pools or snapshots;
 * which commands to run is lvm-thin.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "lvm-command.h"

#define USEC_PER_SEC 1000000ULL
/* LVM commands take well under a second; a stuck lock or device is what
 * the deadline is for. */
#define COMMAND_TIMEOUT_USEC (120 * USEC_PER_SEC)
/* From SIGTERM to SIGKILL for a report, or to giving up reading for a
 * command that changes something (which is then waited for). */
#define GRACE_USEC (5 * USEC_PER_SEC)
#define OUT_MAX (16u << 20) /* a report of thousands of LVs fits */
#define ERR_MAX (64u << 10)
#define ARGS_MAX 32

/* Where distributions install it; the service's PATH is not consulted. */
static const char *const lvm_paths[] = { "/usr/sbin/lvm", "/sbin/lvm", "/usr/bin/lvm", "/bin/lvm" };
/* LC_ALL=C: the same output whatever the service's locale; no warnings
 * about descriptors LVM finds open. */
static char *const lvm_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
				 "LVM_SUPPRESS_FD_WARNINGS=1", NULL };

/* One pipe being read. */
struct capture {
	int fd;
	char *buf;
	size_t len, max;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static const char *lvm_path(void)
{
	for (size_t i = 0; i < ELEMENTSOF(lvm_paths); i++)
		if (access(lvm_paths[i], X_OK) == 0)
			return lvm_paths[i];
	return NULL;
}

bool lvm_command_available(void)
{
	return lvm_path() != NULL;
}

void lvm_output_done(struct lvm_output *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

static int spawn(const char *path, const char *const *args, int out_fd, int err_fd,
		 pid_t *ret_pid)
{
	char *argv[ARGS_MAX + 2] = { "lvm" };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	size_t n = 0;
	int r;

	for (; args[n]; n++) {
		if (n >= ARGS_MAX)
			return -E2BIG;
		argv[n + 1] = (char *)args[n]; /* posix_spawn's prototype, not ours: never written */
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return -r;
	if ((r = posix_spawnattr_init(&attr)) == 0) {
		/* The service's threads block the signals it handles: LVM must
		 * get them back, SIGTERM above all. */
		(void)posix_spawnattr_setsigmask(&attr, &none);
		(void)posix_spawnattr_setsigdefault(&attr, &all);
		(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		if (r == 0)
			r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
		if (r == 0)
			r = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
		if (r == 0)
			r = posix_spawn(ret_pid, path, &fa, &attr, argv, lvm_env);
		posix_spawnattr_destroy(&attr);
	}
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Read what is there; past the bound it is drained and dropped, so that
 * the child never blocks on a full pipe. */
static int capture_read(struct capture *c)
{
	char chunk[8192];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));
	size_t keep;
	char *buf;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		closep(&c->fd);
		c->fd = -1;
		return 0;
	}
	keep = (size_t)n < c->max - c->len ? (size_t)n : c->max - c->len;
	if (keep == 0)
		return 0;
	buf = realloc(c->buf, c->len + keep + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + c->len, chunk, keep);
	c->buf = buf;
	c->len += keep;
	c->buf[c->len] = '\0';
	return 0;
}

/* The deadline passed: SIGTERM first; after the grace, SIGKILL for a
 * report.  Returns whether to stop reading. */
static bool escalate(pid_t pid, bool changes, int *stage, uint64_t *deadline_usec)
{
	if ((*stage)++ == 0) {
		(void)kill(pid, SIGTERM); /* our child, not yet reaped: cannot fail */
		*deadline_usec = now_usec() + GRACE_USEC;
		return false;
	}
	if (!changes)
		(void)kill(pid, SIGKILL);
	return true;
}

/* Read both pipes to their end or the deadline; 1 when it passed. */
static int pump(pid_t pid, bool changes, struct capture *cap)
{
	uint64_t deadline = now_usec() + COMMAND_TIMEOUT_USEC, now;
	int stage = 0, r = 0;

	while (r >= 0 && (cap[0].fd >= 0 || cap[1].fd >= 0)) {
		struct pollfd p[2] = { { .fd = cap[0].fd, .events = POLLIN },
				       { .fd = cap[1].fd, .events = POLLIN } };

		now = now_usec();
		if (now >= deadline) {
			if (escalate(pid, changes, &stage, &deadline))
				break;
			continue;
		}
		if (poll(p, 2, (int)((deadline - now + 999) / 1000)) < 0) {
			r = errno == EINTR ? 0 : -errno;
			continue;
		}
		for (size_t i = 0; r >= 0 && i < 2; i++)
			if (p[i].revents)
				r = capture_read(&cap[i]);
	}
	return r < 0 ? r : stage > 0;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The child with its stdout and stderr on the pipes read by @cap. */
static int start(const char *path, const char *const *args, struct capture *cap, pid_t *ret_pid)
{
	_cleanup_close_ int out_w = -1, err_w = -1;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	cap[0].fd = fds[0];
	out_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	cap[1].fd = fds[0];
	err_w = fds[1];
	/* our write ends close on return: the pipes end when the child's do */
	return spawn(path, args, out_w, err_w, ret_pid);
}

int lvm_command_run(const char *const *args, bool changes, struct lvm_output *ret)
{
	struct capture cap[2] = { { .fd = -1, .max = OUT_MAX }, { .fd = -1, .max = ERR_MAX } };
	const char *path = lvm_path();
	int r, status = -1;
	pid_t pid = 0;

	if (!path)
		return -ENOENT;
	r = start(path, args, cap, &pid);
	if (r >= 0)
		r = pump(pid, changes, cap);
	/* Closed before the wait: a child still writing gets EPIPE rather
	 * than a full pipe that nobody reads. */
	for (size_t i = 0; i < 2; i++) {
		closep(&cap[i].fd);
		cap[i].fd = -1;
	}
	if (pid > 0) {
		status = wait_child(pid); /* always reaped, whatever pump said */
		if (r >= 0 && status < -1)
			r = status;
	}
	if (r == 0) {
		*ret = (struct lvm_output){ .out = cap[0].buf ? cap[0].buf : strdup(""),
					    .err = cap[1].buf ? cap[1].buf : strdup(""),
					    .status = status };
		if (ret->out && ret->err)
			return 0;
		cap[0].buf = ret->out;
		cap[1].buf = ret->err;
		r = -ENOMEM;
	}
	free(cap[0].buf);
	free(cap[1].buf);
	return r > 0 ? -ETIMEDOUT : r;
}

/* The first line of @err without LVM's indentation (malloc'd). */
static char *first_line(const char *err)
{
	err += strspn(err, " \t\n");
	return strndup(err, strcspn(err, "\n"));
}

/* The rows of every "lv" section of the report @out, in one array. */
static int report_rows(const char *out, json_t **ret_rows)
{
	const char *start = strchr(out, '{'); /* past anything printed before it */
	_cleanup_json_ json_t *root = start ? json_loads(start, 0, NULL) : NULL;
	_cleanup_json_ json_t *rows = json_array();
	json_t *report, *section, *lv;
	size_t i;

	if (!rows)
		return -ENOMEM;
	report = json_object_get(root, "report");
	if (!json_is_array(report))
		return -EIO; /* not a report: nothing sensible to read */
	json_array_foreach(report, i, section) {
		lv = json_object_get(section, "lv");
		if (json_is_array(lv) && json_array_extend(rows, lv) < 0)
			return -ENOMEM;
	}
	*ret_rows = TAKE_PTR(rows);
	return 0;
}

int lvm_command_report(const char *const *args, json_t **ret_rows, char **ret_error)
{
	/* --quiet: nothing but the report on stdout */
	const char *full[ARGS_MAX + 1] = { args[0], "--reportformat", "json", "--quiet" };
	struct lvm_output o;
	size_t n = 4;
	int r;

	for (size_t i = 1; args[i]; i++) {
		if (n >= ARGS_MAX)
			return -E2BIG;
		full[n++] = args[i];
	}
	full[n] = NULL;
	r = lvm_command_run(full, false, &o);
	if (r < 0)
		return r;
	if (o.status != 0) {
		if (ret_error)
			*ret_error = first_line(o.err);
		r = -EIO;
	} else {
		r = report_rows(o.out, ret_rows);
	}
	lvm_output_done(&o);
	return r;
}

const char *lvm_row_get(json_t *row, const char *key)
{
	const char *s = json_string_value(json_object_get(row, key));

	return s ? s : "";
}
