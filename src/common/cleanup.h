/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cleanup.h - scope-based cleanup for locals, after systemd and the kernel.
 * Internal only; never included by public headers.
 */
#ifndef SC_CLEANUP_H
#define SC_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd); /* nothing useful to do on error */
		errno = saved;
	}
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's own */

/* Take ownership away from a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _tmp_ = (p);   \
		(p) = NULL;                  \
		_tmp_;                       \
	})
#define TAKE_FD(fd)                  \
	({                           \
		int _tmp_ = (fd);    \
		(fd) = -1;           \
		_tmp_;               \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
