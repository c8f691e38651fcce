/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * now.c - print CLOCK_MONOTONIC in microseconds, for shell loops; with
 * LABEL FILE, append "LABEL USEC" to FILE instead (one write), which is what
 * the qemu-ga hook scripts call to stamp the first and last hook.  Nothing
 * else: the probes do the measuring.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-clock.h"

int main(int argc, char **argv)
{
	unsigned long long t = bench_now_usec();
	char line[256];
	int fd, n;

	if (argc == 1) {
		printf("%llu\n", t);
		return 0;
	}
	if (argc != 3) {
		fputs("Usage: now [LABEL FILE]\n", stderr);
		return 2;
	}
	n = snprintf(line, sizeof(line), "%s %llu\n", argv[1], t);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || n < 0 || (size_t)n >= sizeof(line) || write(fd, line, (size_t)n) != n)
		return 1;
	close(fd);
	return 0;
}
