/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qga-cycle.c - the only qemu-guest-agent client of the benchmarks: times
 * R cycles of guest-fsfreeze-freeze-list, a snapshot (a btrfs snapshot or a
 * FICLONE of a loop image), guest-fsfreeze-thaw.  Safety first: it talks
 * only to an agent jailed in a mount namespace whose only mounts are a tmpfs
 * root, /proc and the loop mounts it is told to freeze (checked in the
 * agent's /proc/PID/mountinfo before anything is sent), so neither a freeze
 * nor the agent's global thaw can reach anything else; it can send no
 * freeze without an explicit, non-empty list, and nothing but sync, status,
 * freeze-list and thaw.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/fs.h>

#include <btrfsutil.h>
#include <jansson.h>

#include "bench-clock.h"

#define MAX_MOUNTS 8

struct options {
	const char *socket;
	const char *mounts[MAX_MOUNTS]; /* paths as the agent sees them */
	size_t n_mounts;
	const char *sentinel;           /* hooks only: a path that is no mount */
	const char *btrfs_subvol;       /* snapshot: btrfs SUBVOL into DEST */
	const char *clone_image;        /* or: FICLONE of IMAGE into DEST */
	const char *dest;
	long agent_pid;
	unsigned runs;
	bool thaw_only;
};

/* ---- the jail check ---- */

/* Mount point and filesystem type of one mountinfo line. */
static int mountinfo_parse(char *line, char **ret_point, char **ret_type)
{
	char *save = NULL, *f, *point = NULL;
	int i = 0;

	for (f = strtok_r(line, " ", &save); f; f = strtok_r(NULL, " ", &save), i++) {
		if (i == 4)
			point = f;
		if (strcmp(f, "-") == 0)
			break;
	}
	f = strtok_r(NULL, " ", &save);
	if (!point || !f)
		return -EINVAL;
	*ret_point = point;
	*ret_type = f;
	return 0;
}

static bool listed(const struct options *o, const char *point)
{
	for (size_t i = 0; i < o->n_mounts; i++)
		if (strcmp(o->mounts[i], point) == 0)
			return true;
	return false;
}

/* Every mount the agent can see: "/" a tmpfs, "/proc", and the listed
 * mounts, each present; anything else and we send nothing at all. */
static int jail_check_mounts(const struct options *o, FILE *f)
{
	char line[4096], *point, *type;
	size_t seen = 0;
	bool root_ok = false;

	while (fgets(line, sizeof(line), f)) {
		if (mountinfo_parse(line, &point, &type) < 0)
			return -EINVAL;
		if (strcmp(point, "/") == 0 && strcmp(type, "tmpfs") == 0)
			root_ok = true;
		else if (strcmp(point, "/proc") == 0 && strcmp(type, "proc") == 0)
			continue;
		else if (listed(o, point))
			seen++;
		else {
			fprintf(stderr, "qga-cycle: the agent sees %s (%s): not jailed, refusing\n",
				point, type);
			return -EPERM;
		}
	}
	return root_ok && seen == o->n_mounts ? 0 : -EPERM;
}

static int jail_check(const struct options *o)
{
	char path[64], ns_agent[64] = "", ns_self[64] = "";
	FILE *f;
	int r;

	for (size_t i = 0; i < o->n_mounts; i++)
		if (o->mounts[i][0] != '/' || strcmp(o->mounts[i], "/") == 0)
			return -EINVAL;
	if (o->sentinel && (o->sentinel[0] != '/' || strcmp(o->sentinel, "/") == 0 ||
			    strcmp(o->sentinel, "/proc") == 0))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", o->agent_pid);
	if (readlink(path, ns_agent, sizeof(ns_agent) - 1) < 0 ||
	    readlink("/proc/self/ns/mnt", ns_self, sizeof(ns_self) - 1) < 0)
		return -errno;
	if (strcmp(ns_agent, ns_self) == 0)
		return -EPERM; /* the agent shares our mounts: refuse */
	snprintf(path, sizeof(path), "/proc/%ld/mountinfo", o->agent_pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	r = jail_check_mounts(o, f);
	fclose(f);
	return r;
}

/* ---- the agent connection: four commands, nothing else ---- */

struct agent {
	int fd;
	char buf[4096];
	size_t len;
};

static int agent_connect(struct agent *a, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0 || connect(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	a->len = 0;
	return 0;
}

/* Send one command and return its parsed reply (0xFF sync bytes skipped). */
static int agent_call(struct agent *a, const char *cmd, json_t **ret)
{
	size_t n = strlen(cmd);
	char *nl;
	ssize_t k;

	if (write(a->fd, cmd, n) != (ssize_t)n || write(a->fd, "\n", 1) != 1)
		return -errno;
	while (!(nl = memchr(a->buf, '\n', a->len))) {
		if (a->len == sizeof(a->buf))
			return -EMSGSIZE;
		k = read(a->fd, a->buf + a->len, sizeof(a->buf) - a->len);
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		a->len += (size_t)k;
	}
	*nl = '\0';
	char *start = a->buf;
	while (*start == '\xff')
		start++;
	*ret = json_loads(start, 0, NULL);
	a->len -= (size_t)(nl + 1 - a->buf);
	memmove(a->buf, nl + 1, a->len);
	return *ret ? 0 : -EBADMSG;
}

/* The integer or string under "return"; -EIO for an "error" reply. */
static int agent_return(struct agent *a, const char *cmd, long long *ret_int, char *ret_str,
			size_t str_len)
{
	json_t *reply = NULL, *v;
	int r = agent_call(a, cmd, &reply);

	if (r < 0)
		return r;
	v = json_object_get(reply, "return");
	if (!v) {
		fprintf(stderr, "qga-cycle: %s -> %s\n", cmd,
			json_string_value(json_object_get(json_object_get(reply, "error"), "desc")));
		r = -EIO;
	} else if (ret_int && json_is_integer(v)) {
		*ret_int = json_integer_value(v);
	} else if (ret_str && json_is_string(v)) {
		snprintf(ret_str, str_len, "%s", json_string_value(v));
	}
	json_decref(reply);
	return r;
}

static int agent_sync(struct agent *a)
{
	long long id = 0;
	char cmd[128];
	int r;

	/* guest-sync-delimited drops whatever an earlier client left unread */
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%d}}",
		 (int)getpid());
	r = agent_return(a, cmd, &id, NULL, 0);
	return r < 0 ? r : id == getpid() ? 0 : -EPROTO;
}

static int agent_status(struct agent *a, char *ret, size_t len)
{
	return agent_return(a, "{\"execute\":\"guest-fsfreeze-status\"}", NULL, ret, len);
}

static int agent_thaw(struct agent *a, long long *ret_n)
{
	return agent_return(a, "{\"execute\":\"guest-fsfreeze-thaw\"}", ret_n, NULL, 0);
}

/* The freeze, always with an explicit, non-empty list: the jailed mounts,
 * or for hooks only the sentinel, which is no mount (checked). */
static int agent_freeze_list(struct agent *a, const struct options *o, long long *ret_n)
{
	json_t *list = json_array(), *msg;
	char *cmd;
	int r;

	for (size_t i = 0; i < o->n_mounts; i++)
		json_array_append_new(list, json_string(o->mounts[i]));
	if (o->n_mounts == 0 && o->sentinel)
		json_array_append_new(list, json_string(o->sentinel));
	if (json_array_size(list) == 0) {
		json_decref(list);
		return -EPERM; /* never: an empty list may mean "everything" */
	}
	msg = json_pack("{s:s, s:{s:o}}", "execute", "guest-fsfreeze-freeze-list", "arguments",
			"mountpoints", list);
	cmd = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!cmd)
		return -ENOMEM;
	r = agent_return(a, cmd, ret_n, NULL, 0);
	free(cmd);
	return r;
}

/* ---- the snapshot between freeze and thaw ---- */

static int take_snapshot(const struct options *o, unsigned run)
{
	char dst[PATH_MAX];
	int src, fd, r = 0;

	snprintf(dst, sizeof(dst), "%s/qga-%d-%u%s", o->dest, (int)getpid(), run,
		 o->clone_image ? ".img" : "");
	if (o->btrfs_subvol)
		return btrfs_util_create_snapshot(o->btrfs_subvol, dst,
						  BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL,
						  NULL) == BTRFS_UTIL_OK
			       ? 0
			       : -errno;
	src = open(o->clone_image, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -errno;
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ioctl(fd, FICLONE, src) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	close(src);
	return r;
}

static int one_cycle(struct agent *a, const struct options *o, unsigned run)
{
	long long frozen = -1, thawed = -1;
	uint64_t t0, t1, t2 = 0, t3;
	int r, rs = 0, rt;

	t0 = bench_now_usec();
	r = agent_freeze_list(a, o, &frozen);
	t1 = bench_now_usec();
	if (r >= 0 && frozen != (long long)o->n_mounts)
		r = -EPROTO; /* froze something else, or not what we asked */
	if (r >= 0) {
		rs = take_snapshot(o, run);
		t2 = bench_now_usec();
	}
	rt = agent_thaw(a, &thawed); /* whatever happened: thaw */
	t3 = bench_now_usec();
	printf("{\"run\": %u, \"rc\": %d, \"snapshot_rc\": %d, \"thaw_rc\": %d, \"frozen\": %lld, "
	       "\"thawed\": %lld, \"t_start\": %llu, \"t_frozen\": %llu, \"t_snapshot\": %llu, "
	       "\"t_thawed\": %llu}\n",
	       run, r, rs, rt, frozen, thawed, (unsigned long long)t0, (unsigned long long)t1,
	       (unsigned long long)t2, (unsigned long long)t3);
	fflush(stdout);
	return r < 0 ? r : rs < 0 ? rs : rt;
}

static int run_cycles(struct agent *a, const struct options *o)
{
	char status[32] = "";
	sigset_t pending;
	int r = 0;

	for (unsigned i = 0; r >= 0 && i < o->runs; i++) {
		r = one_cycle(a, o, i);
		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)))
			break; /* asked to stop: only between cycles, never frozen */
	}
	if (agent_status(a, status, sizeof(status)) < 0 || strcmp(status, "thawed") != 0) {
		fprintf(stderr, "qga-cycle: agent status '%s' after the runs\n", status);
		return -EIO;
	}
	return r;
}

static void usage(FILE *f)
{
	fputs("Usage: qga-cycle --socket SOCK --agent-pid PID --runs R\n"
	      "                 (--freeze MOUNT... | --hooks-only SENTINEL)\n"
	      "                 (--btrfs SUBVOL | --clone IMAGE) --dest DIR\n"
	      "       qga-cycle --socket SOCK --agent-pid PID --thaw-only [--freeze MOUNT...]\n\n"
	      "Time R freeze-list / snapshot / thaw cycles through a jailed qemu-ga and\n"
	      "print one JSON line per cycle (CLOCK_MONOTONIC usec).  MOUNT and SENTINEL are\n"
	      "paths as the agent sees them; SUBVOL, IMAGE and DIR as we see them.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "agent-pid", required_argument, NULL, 'p' },
		{ "freeze", required_argument, NULL, 'f' },
		{ "hooks-only", required_argument, NULL, 'H' },
		{ "btrfs", required_argument, NULL, 'b' },
		{ "clone", required_argument, NULL, 'c' },
		{ "dest", required_argument, NULL, 'd' },
		{ "runs", required_argument, NULL, 'n' },
		{ "thaw-only", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'p': o->agent_pid = strtol(optarg, NULL, 10); break;
		case 'f':
			if (o->n_mounts == MAX_MOUNTS)
				return -E2BIG;
			o->mounts[o->n_mounts++] = optarg;
			break;
		case 'H': o->sentinel = optarg; break;
		case 'b': o->btrfs_subvol = optarg; break;
		case 'c': o->clone_image = optarg; break;
		case 'd': o->dest = optarg; break;
		case 'n': o->runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'T': o->thaw_only = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (!o->socket || o->agent_pid <= 1)
		return -EINVAL;
	if (o->thaw_only)
		return o->sentinel ? -EINVAL : 0;
	if ((o->n_mounts > 0) == (o->sentinel != NULL) || o->runs == 0 || !o->dest ||
	    (o->btrfs_subvol != NULL) == (o->clone_image != NULL))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct agent a = { .fd = -1 };
	long long n = 0;
	sigset_t mask;
	int r;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	/* SIGTERM/SIGINT wait until the current cycle has thawed */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = jail_check(&o);
	if (r < 0) {
		fprintf(stderr, "qga-cycle: refusing to talk to the agent: %s\n", strerror(-r));
		return 1;
	}
	r = agent_connect(&a, o.socket);
	if (r >= 0)
		r = agent_sync(&a);
	if (r >= 0)
		r = o.thaw_only ? agent_thaw(&a, &n) : run_cycles(&a, &o);
	if (r < 0)
		fprintf(stderr, "qga-cycle: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
