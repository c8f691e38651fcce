/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * time-util.h - CLOCK_MONOTONIC microseconds and deadlines for the library's
 * poll()/epoll_wait() calls.  UINT64_MAX always means "no deadline".
 */
#ifndef SC_TIME_UTIL_H
#define SC_TIME_UTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t time_now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* now + @timeout_usec, saturating at UINT64_MAX. */
static inline uint64_t time_deadline_usec(uint64_t timeout_usec)
{
	uint64_t now = time_now_usec();

	return timeout_usec >= UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
}

/* The timeout for poll()/epoll_wait() that ends at @deadline_usec, rounded up
 * so that we never wake before it; -1 for no deadline. */
static inline int time_poll_ms(uint64_t deadline_usec)
{
	uint64_t now, ms;

	if (deadline_usec == UINT64_MAX)
		return -1;
	now = time_now_usec();
	if (deadline_usec <= now)
		return 0;
	ms = (deadline_usec - now + 999) / 1000;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

#endif
