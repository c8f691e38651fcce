/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stall-probe.c - the application the benchmarks watch: writes 4 KiB every
 * 0.5 ms (buffered, like most applications; --dsync for O_DSYNC) into a
 * 4 MiB ring file on the volume and records each write that took longer than
 * a threshold.  Which snapshot cycle a stall belongs to is decided later from
 * the drivers' timestamps; this program knows nothing about snapshots.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-clock.h"

#define RING_BYTES (4u << 20)

struct stall {
	uint64_t start_usec;
	uint64_t duration_usec;
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	stopping = 1;
}

struct options {
	const char *file;
	const char *out;
	const char *ready;
	unsigned interval_usec;
	unsigned size;
	unsigned threshold_usec;
	bool dsync;
};

static int stall_add(struct stall **a, size_t *n, size_t *cap, uint64_t start, uint64_t dur)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		struct stall *b = reallocarray(*a, c, sizeof(**a));

		if (!b)
			return -ENOMEM;
		*a = b;
		*cap = c;
	}
	(*a)[(*n)++] = (struct stall){ start, dur };
	return 0;
}

/* Sleep until @t_usec on the monotonic clock (signals end the sleep early). */
static void sleep_until(uint64_t t_usec)
{
	struct timespec ts = { .tv_sec = (time_t)(t_usec / 1000000u),
			       .tv_nsec = (long)(t_usec % 1000000u) * 1000 };

	(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int dump(const struct options *o, const struct stall *a, size_t n, uint64_t writes,
		uint64_t max_usec)
{
	FILE *f = fopen(o->out, "we");

	if (!f)
		return -errno;
	fprintf(f, "# writes %llu max_usec %llu threshold_usec %u interval_usec %u size %u\n",
		(unsigned long long)writes, (unsigned long long)max_usec, o->threshold_usec,
		o->interval_usec, o->size);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%llu %llu\n", (unsigned long long)a[i].start_usec,
			(unsigned long long)a[i].duration_usec);
	return fclose(f) == 0 ? 0 : -errno;
}

static int touch_ready(const char *path)
{
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int run(const struct options *o, int fd, char *buf)
{
	struct stall *stalls = NULL;
	size_t n = 0, cap = 0;
	uint64_t next = bench_now_usec(), writes = 0, max_usec = 0, off = 0;
	int r = touch_ready(o->ready);

	while (r >= 0 && !stopping) {
		uint64_t t0, dur;

		sleep_until(next);
		t0 = bench_now_usec();
		if (pwrite(fd, buf, o->size, (off_t)off) != (ssize_t)o->size && errno != EINTR) {
			r = -errno;
			break;
		}
		dur = bench_now_usec() - t0;
		writes++;
		off = (off + o->size) % RING_BYTES;
		if (dur > max_usec)
			max_usec = dur;
		if (dur >= o->threshold_usec)
			r = stall_add(&stalls, &n, &cap, t0, dur);
		/* after a stall, resume the cadence instead of writing a burst */
		next += o->interval_usec;
		if (next < t0)
			next = t0 + o->interval_usec;
	}
	if (r >= 0)
		r = dump(o, stalls, n, writes, max_usec);
	free(stalls);
	return r;
}

static void usage(FILE *f)
{
	fputs("Usage: stall-probe --file PATH --out FILE [OPTIONS]\n\n"
	      "Write SIZE bytes every INTERVAL into a 4 MiB ring file PATH until SIGTERM,\n"
	      "then write to FILE one '# writes N max_usec M ...' line and one\n"
	      "'START_USEC DURATION_USEC' line (CLOCK_MONOTONIC) per write that took\n"
	      "at least the threshold.\n\n"
	      "  --interval-us N   default 500\n"
	      "  --size N          default 4096\n"
	      "  --threshold-us N  default 200\n"
	      "  --dsync           open with O_DSYNC\n"
	      "  --ready FILE      created once writing has started\n",
	      f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "ready", required_argument, NULL, 'r' },
		{ "interval-us", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "threshold-us", required_argument, NULL, 't' },
		{ "dsync", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'f': o->file = optarg; break;
		case 'o': o->out = optarg; break;
		case 'r': o->ready = optarg; break;
		case 'i': o->interval_usec = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o->size = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o->threshold_usec = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o->dsync = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (!o->file || !o->out || o->size == 0 || o->size > RING_BYTES || o->interval_usec == 0)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .interval_usec = 500, .size = 4096, .threshold_usec = 200 };
	struct sigaction sa = { .sa_handler = on_stop };
	char *buf;
	int fd, r;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	/* no SA_RESTART: a signal ends the sleep, never a write in progress */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	buf = malloc(o.size);
	fd = open(o.file, O_WRONLY | O_CREAT | O_CLOEXEC | (o.dsync ? O_DSYNC : 0), 0644);
	if (!buf || fd < 0) {
		perror("stall-probe");
		return 1;
	}
	memset(buf, 'x', o.size);
	r = run(&o, fd, buf);
	close(fd);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "stall-probe: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
