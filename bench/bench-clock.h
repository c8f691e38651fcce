/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-clock.h - the one clock of the benchmark probes: CLOCK_MONOTONIC in
 * microseconds, comparable across processes (no time namespaces here), so a
 * writer's timestamps, the requester's and the stall probe's line up.
 */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
