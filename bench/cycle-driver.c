/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cycle-driver.c - the requester of the benchmarks: runs R complete backups
 * of one volume (new, initialize, context, volume mode, gather, start set,
 * add volume, prepare, do_snapshot_set, backup_complete, free) and prints one
 * JSON line per run with the monotonic time at each step's end.  It keeps
 * the snapshots it makes; the scripts delete them outside the timing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shadowcopy/requester.h>

#include "bench-clock.h"

struct options {
	const char *socket;
	const char *volume;
	const char *provider;
	const char *context;
	unsigned runs;
	unsigned pause_ms;
};

/* The monotonic times a run reached, in step order. */
enum mark { M_START, M_GATHERED, M_ADDED, M_PREPARED, M_SNAPSHOT, M_COMPLETE, M_FREED, _M_MAX };

static const char *const mark_names[_M_MAX] = {
	"t_start", "t_gathered", "t_added", "t_prepared", "t_snapshot", "t_complete", "t_freed",
};

struct run {
	uint64_t t[_M_MAX];
	struct sc_id set;
	const char *failed_step;
	int rc;
};

static int wait_op(int r, struct sc_async *a)
{
	if (r >= 0) {
		r = sc_async_wait(a, UINT64_MAX);
		if (r == SC_ASYNC_FINISHED)
			r = 0;
		else if (r >= 0)
			r = -SC_E_CANCELLED;
	}
	sc_async_free(a);
	return r;
}

static int step(struct run *run, const char *name, int r)
{
	if (r < 0 && !run->failed_step) {
		run->failed_step = name;
		run->rc = r;
	}
	return r;
}

/* The backup up to its snapshot; each step's end time in run->t. */
static int backup_start(struct sc_requester *rq, const struct options *o,
			const struct sc_id *provider, struct run *run)
{
	struct sc_async *a = NULL;
	struct sc_id snap;
	uint32_t ctx;
	int r;

	if (sc_context_from_name(o->context, &ctx) < 0)
		return step(run, "context", -EINVAL);
	if (step(run, "init", sc_requester_initialize_for_backup(rq, NULL)) < 0 ||
	    step(run, "set_context", sc_requester_set_context(rq, ctx)) < 0 ||
	    step(run, "backup_state",
		 sc_requester_set_backup_state(rq, false, false, SC_BT_COPY, false)) < 0)
		return run->rc;
	r = sc_requester_gather_writer_metadata(rq, &a);
	if (step(run, "gather", wait_op(r, a)) < 0)
		return run->rc;
	run->t[M_GATHERED] = bench_now_usec();
	if (step(run, "start_set", sc_requester_start_snapshot_set(rq, &run->set)) < 0 ||
	    step(run, "add_volume",
		 sc_requester_add_to_snapshot_set(rq, o->volume, provider, &snap)) < 0)
		return run->rc;
	run->t[M_ADDED] = bench_now_usec();
	return 0;
}

static void one_run(const struct options *o, const struct sc_id *provider, struct run *run)
{
	struct sc_requester *rq = NULL;
	struct sc_async *a = NULL;
	int r;

	run->t[M_START] = bench_now_usec();
	if (step(run, "new", sc_requester_new(o->socket, &rq)) < 0 ||
	    backup_start(rq, o, provider, run) < 0)
		goto out;
	r = sc_requester_prepare_for_backup(rq, &a);
	if (step(run, "prepare", wait_op(r, a)) < 0)
		goto out;
	run->t[M_PREPARED] = bench_now_usec();
	r = sc_requester_do_snapshot_set(rq, &a);
	if (step(run, "do_snapshot_set", wait_op(r, a)) < 0)
		goto out;
	run->t[M_SNAPSHOT] = bench_now_usec();
	r = sc_requester_backup_complete(rq, &a);
	if (step(run, "backup_complete", wait_op(r, a)) < 0)
		goto out;
	run->t[M_COMPLETE] = bench_now_usec();
out:
	sc_requester_free(rq);
	run->t[M_FREED] = bench_now_usec();
}

static void print_run(unsigned i, const struct run *run)
{
	char set[SC_ID_STRING_MAX];

	printf("{\"run\": %u, \"set\": \"%s\", \"rc\": %d, \"error\": \"%s\", \"step\": \"%s\"", i,
	       sc_id_to_string(&run->set, set), run->rc, sc_error_name(run->rc),
	       run->failed_step ? run->failed_step : "");
	for (int m = 0; m < _M_MAX; m++)
		if (run->t[m])
			printf(", \"%s\": %llu", mark_names[m], (unsigned long long)run->t[m]);
	printf("}\n");
	fflush(stdout);
}

/* The id of the provider called @name, asked once before the runs. */
static int provider_lookup(const struct options *o, struct sc_id *ret)
{
	struct sc_requester *rq = NULL;
	struct sc_provider_info **a = NULL;
	size_t n = 0;
	int r;

	r = sc_requester_new(o->socket, &rq);
	if (r >= 0)
		r = sc_requester_initialize_for_backup(rq, NULL);
	if (r >= 0)
		r = sc_requester_query_providers(rq, &a, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (strcmp(sc_provider_info_get_name(a[i]), o->provider) == 0) {
			sc_provider_info_get_id(a[i], ret);
			r = 1;
		}
	sc_provider_info_array_free(a, n);
	sc_requester_free(rq);
	return r == 1 ? 0 : r < 0 ? r : -SC_E_PROVIDER_NOT_REGISTERED;
}

static void usage(FILE *f)
{
	fputs("Usage: cycle-driver --volume PATH --runs R [OPTIONS]\n\n"
	      "Run R complete backups of the volume holding PATH and print one JSON line\n"
	      "per run: set id, result, and CLOCK_MONOTONIC usec at the end of each step.\n\n"
	      "  --socket PATH     the service's control socket\n"
	      "  --provider NAME   the provider (default: the service chooses)\n"
	      "  --context NAME    default app-rollback (persistent: nothing is deleted\n"
	      "                    when the session ends, so no delete overlaps a run)\n"
	      "  --pause-ms N      sleep between runs (default 20)\n",
	      f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "volume", required_argument, NULL, 'v' },
		{ "provider", required_argument, NULL, 'p' },
		{ "context", required_argument, NULL, 'c' },
		{ "runs", required_argument, NULL, 'n' },
		{ "pause-ms", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'v': o->volume = optarg; break;
		case 'p': o->provider = optarg; break;
		case 'c': o->context = optarg; break;
		case 'n': o->runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': o->pause_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	return o->volume && o->runs > 0 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct options o = { .context = "app-rollback", .pause_ms = 20 };
	struct sc_id provider = { 0 };
	unsigned failed = 0;
	int r;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (o.provider && (r = provider_lookup(&o, &provider)) < 0) {
		fprintf(stderr, "cycle-driver: provider '%s': %s\n", o.provider, sc_strerror(r));
		return 1;
	}
	for (unsigned i = 0; i < o.runs; i++) {
		struct run run = { 0 };

		one_run(&o, &provider, &run);
		print_run(i, &run);
		failed += run.rc < 0;
		usleep(o.pause_ms * 1000u);
	}
	return failed ? 1 : 0;
}
