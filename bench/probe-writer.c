/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe-writer.c - N zero-work writers for the benchmarks, in one process or
 * spread over P processes, recording for every event when it reached its
 * handler and when the handler returned (the answer is sent right after).
 * Writer 0 can veto Freeze while a flag file exists.  It does no application
 * work and never touches the volume its writers declare.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shadowcopy/writer.h>

#include "bench-clock.h"

#define CLASS_ID "b3c6a1e0-5f0d-4c2e-9d4b-0c1e2f3a4b5c"
#define OUT_CHUNK (64 * 1024)

struct options {
	const char *socket;
	const char *path;
	const char *out;
	const char *ready;
	const char *veto_file;
	unsigned writers;
	unsigned procs;
	unsigned freeze_timeout_ms;
};

struct record {
	struct sc_id set;
	uint32_t writer;
	uint8_t event;
	uint64_t in_usec;
	uint64_t out_usec;
};

/* One process's share of the writers. */
struct probe {
	const struct options *opt;
	struct sc_writer **writers;
	uint64_t *deadline_usec;
	struct slot *slots;
	size_t n;
	struct record *recs;
	size_t n_recs;
	size_t cap_recs;
};

/* What a handler needs: its probe and the writer's global index. */
struct slot {
	struct probe *probe;
	uint32_t index;
};

static void record_add(struct probe *p, const struct record *r)
{
	struct record *a;

	if (p->n_recs == p->cap_recs) {
		size_t cap = p->cap_recs ? p->cap_recs * 2 : 4096;

		a = reallocarray(p->recs, cap, sizeof(*a));
		if (!a)
			return; /* a lost record shows up as a missing writer in the analysis */
		p->recs = a;
		p->cap_recs = cap;
	}
	p->recs[p->n_recs++] = *r;
}

static bool on_identify(struct sc_writer *w, struct sc_writer_metadata *m, void *userdata)
{
	struct slot *s = userdata;
	const char *path = s->probe->opt->path;

	return sc_writer_metadata_add_component(m, SC_CT_FILEGROUP, "", "data", NULL, true, true,
						0) >= 0 &&
	       sc_writer_metadata_add_files(m, "", "data", path, "*", true, 0) >= 0;
}

static bool on_event(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct slot *s = userdata;
	const char *veto = s->probe->opt->veto_file;
	struct record r = {
		.writer = s->index,
		.event = (uint8_t)sc_writer_event_get_type(ev),
		.in_usec = bench_now_usec(),
	};
	bool ok = true;

	sc_writer_event_get_snapshot_set_id(ev, &r.set);
	if (r.event == SC_EVENT_FREEZE && s->index == 0 && veto && access(veto, F_OK) == 0) {
		(void)sc_writer_set_failure(w, -SC_E_WRITERERROR_RETRYABLE);
		ok = false;
	}
	r.out_usec = bench_now_usec();
	record_add(s->probe, &r);
	return ok;
}

static int writer_setup(struct probe *p, size_t i, struct sc_writer **ret)
{
	static const enum sc_event events[] = {
		SC_EVENT_PREPARE_BACKUP, SC_EVENT_PREPARE_SNAPSHOT, SC_EVENT_FREEZE,
		SC_EVENT_THAW,           SC_EVENT_POST_SNAPSHOT,    SC_EVENT_ABORT,
		SC_EVENT_BACKUP_COMPLETE, SC_EVENT_BACKUP_SHUTDOWN,
	};
	struct sc_writer *w = NULL;
	struct sc_id class_id;
	char instance[32];
	int r;

	snprintf(instance, sizeof(instance), "bench-%u", p->slots[i].index);
	(void)sc_id_from_string(CLASS_ID, &class_id); /* a constant that parses */
	r = sc_writer_new(&w);
	if (r >= 0)
		r = sc_writer_initialize(w, &class_id, "Bench writer", instance, SC_UT_USERDATA,
					 SC_ST_OTHER, SC_APP_BACK_END, p->opt->freeze_timeout_ms);
	if (r >= 0 && p->opt->socket)
		r = sc_writer_set_socket(w, p->opt->socket);
	if (r >= 0)
		r = sc_writer_on_identify(w, on_identify, &p->slots[i]);
	for (size_t e = 0; r >= 0 && e < sizeof(events) / sizeof(events[0]); e++)
		r = sc_writer_on_event(w, events[e], on_event, &p->slots[i]);
	if (r >= 0)
		r = sc_writer_subscribe(w);
	if (r < 0) {
		sc_writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

/* Flush @len bytes of whole lines with one O_APPEND write, so that the
 * lines of several processes never interleave. */
static int out_flush(int fd, char *buf, size_t *len)
{
	if (*len > 0 && write(fd, buf, *len) != (ssize_t)*len)
		return -errno;
	*len = 0;
	return 0;
}

static int probe_dump(const struct probe *p)
{
	static char buf[OUT_CHUNK];
	char set[SC_ID_STRING_MAX];
	size_t len = 0;
	int fd, r = 0;

	fd = open(p->opt->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; r >= 0 && i < p->n_recs; i++) {
		const struct record *rec = &p->recs[i];

		if (len > sizeof(buf) - 128)
			r = out_flush(fd, buf, &len);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %s %u %llu %llu\n",
					sc_id_to_string(&rec->set, set),
					sc_event_name((enum sc_event)rec->event), rec->writer,
					(unsigned long long)rec->in_usec,
					(unsigned long long)rec->out_usec);
	}
	if (r >= 0)
		r = out_flush(fd, buf, &len);
	close(fd);
	return r;
}

/* Process writer @i and keep its next deadline. */
static int probe_process(struct probe *p, size_t i)
{
	int r = sc_writer_process(p->writers[i]);

	if (r < 0)
		return r;
	return sc_writer_get_timeout(p->writers[i], &p->deadline_usec[i]);
}

static int epoll_timeout_ms(const struct probe *p)
{
	uint64_t soonest = UINT64_MAX, now;

	for (size_t i = 0; i < p->n; i++)
		if (p->deadline_usec[i] < soonest)
			soonest = p->deadline_usec[i];
	if (soonest == UINT64_MAX)
		return -1;
	now = bench_now_usec();
	return soonest <= now ? 0 : (int)((soonest - now + 999) / 1000);
}

static int probe_due(struct probe *p)
{
	uint64_t now = bench_now_usec();
	int r;

	for (size_t i = 0; i < p->n; i++)
		if (p->deadline_usec[i] <= now && (r = probe_process(p, i)) < 0)
			return r;
	return 0;
}

/* Serve the writers until SIGTERM or SIGINT arrives (the signalfd's entry). */
static int probe_loop(struct probe *p, int ep)
{
	struct epoll_event evs[256];
	int n, r;

	for (;;) {
		n = epoll_wait(ep, evs, 256, epoll_timeout_ms(p));
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u64 == UINT64_MAX)
				return 0; /* a signal: stop */
			if ((r = probe_process(p, evs[k].data.u64)) < 0)
				return r;
		}
		if ((r = probe_due(p)) < 0)
			return r;
	}
}

static int probe_setup_loop(struct probe *p, int *ret_ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;
	int ep, sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return -errno;
	ev.data.u64 = UINT64_MAX;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		return -errno;
	for (size_t i = 0; i < p->n; i++) {
		ev.data.u64 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, sc_writer_get_fd(p->writers[i]), &ev) < 0)
			return -errno;
		p->deadline_usec[i] = 0; /* process once: input may wait already */
	}
	*ret_ep = ep;
	return 0;
}

/* A child: writers [first, first + n), then serve them; exit status. */
static int child_main(const struct options *opt, size_t first, size_t n, int ready_fd)
{
	struct probe p = { .opt = opt, .n = n };
	int ep = -1, r;

	p.writers = calloc(n, sizeof(*p.writers));
	p.deadline_usec = calloc(n, sizeof(*p.deadline_usec));
	p.slots = calloc(n, sizeof(*p.slots));
	if (!p.writers || !p.deadline_usec || !p.slots)
		return 1;
	for (size_t i = 0; i < n; i++) {
		p.slots[i] = (struct slot){ .probe = &p, .index = (uint32_t)(first + i) };
		r = writer_setup(&p, i, &p.writers[i]);
		if (r < 0) {
			fprintf(stderr, "probe-writer: writer %zu: %s\n", first + i, sc_strerror(r));
			return 1;
		}
	}
	r = probe_setup_loop(&p, &ep);
	if (r >= 0 && write(ready_fd, "r", 1) != 1)
		r = -errno;
	close(ready_fd);
	if (r >= 0)
		r = probe_loop(&p, ep);
	if (r < 0)
		fprintf(stderr, "probe-writer: %s\n", sc_strerror(r));
	if (probe_dump(&p) < 0)
		r = -EIO;
	for (size_t i = 0; i < n; i++)
		sc_writer_free(p.writers[i]);
	return r < 0 ? 1 : 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl); /* the subscribes fail loudly if too low */
	}
}

static int write_ready(const char *path)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "{\"pid\": %d}\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -errno;
}

/* Wait until every child said ready (or one died), then until a signal. */
static int parent_wait(const struct options *opt, int ready_fd, const sigset_t *mask)
{
	unsigned ready = 0;
	char c;
	int sig;

	while (ready < opt->procs && read(ready_fd, &c, 1) == 1)
		ready++;
	if (ready < opt->procs) {
		fprintf(stderr, "probe-writer: %u of %u processes failed to start\n",
			opt->procs - ready, opt->procs);
		return -ECHILD;
	}
	if (write_ready(opt->ready) < 0)
		return -EIO;
	return sigwait(mask, &sig) == 0 ? 0 : -EINTR;
}

static int run(const struct options *opt)
{
	pid_t *pids = calloc(opt->procs, sizeof(*pids));
	int pipefd[2], status, failed = 0, r;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (!pids || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		return 1;
	raise_nofile();
	for (unsigned k = 0; k < opt->procs; k++) {
		size_t first = (size_t)opt->writers * k / opt->procs;
		size_t last = (size_t)opt->writers * (k + 1) / opt->procs;

		pids[k] = fork();
		if (pids[k] == 0) {
			close(pipefd[0]);
			_exit(child_main(opt, first, last - first, pipefd[1]));
		}
	}
	close(pipefd[1]);
	r = parent_wait(opt, pipefd[0], &mask);
	for (unsigned k = 0; k < opt->procs; k++)
		if (pids[k] > 0)
			(void)kill(pids[k], SIGTERM); /* our own children, by pid */
	for (unsigned k = 0; k < opt->procs; k++)
		if (pids[k] > 0 && (waitpid(pids[k], &status, 0) < 0 || status != 0))
			failed++;
	free(pids);
	return r < 0 || failed ? 1 : 0;
}

static void usage(FILE *f)
{
	fputs("Usage: probe-writer --path DIR --writers N --out FILE [OPTIONS]\n\n"
	      "N zero-work writers (class " CLASS_ID ") whose single component holds\n"
	      "every file below DIR; each event's handler entry and return times go to\n"
	      "FILE (appended at exit) as 'SET EVENT WRITER IN_USEC OUT_USEC' lines.\n\n"
	      "  --socket PATH          the service's writer socket\n"
	      "  --procs P              spread the writers over P processes (default 1)\n"
	      "  --ready FILE           written once every writer is subscribed\n"
	      "  --veto-file FILE       writer 0 vetoes Freeze while FILE exists\n"
	      "  --freeze-timeout-ms N  each writer's freeze window (default: library's)\n"
	      "SIGTERM/SIGINT: write FILE and exit 0.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "path", required_argument, NULL, 'p' },
		{ "writers", required_argument, NULL, 'n' },
		{ "procs", required_argument, NULL, 'P' },
		{ "out", required_argument, NULL, 'o' },
		{ "ready", required_argument, NULL, 'r' },
		{ "veto-file", required_argument, NULL, 'v' },
		{ "freeze-timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'p': o->path = optarg; break;
		case 'n': o->writers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o->procs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': o->out = optarg; break;
		case 'r': o->ready = optarg; break;
		case 'v': o->veto_file = optarg; break;
		case 't': o->freeze_timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (!o->path || !o->out || o->writers == 0 || o->procs == 0 || o->procs > o->writers)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = { .procs = 1 };

	if (parse_args(argc, argv, &opt) < 0) {
		usage(stderr);
		return 2;
	}
	return run(&opt);
}
