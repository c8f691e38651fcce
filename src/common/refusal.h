/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * refusal.h - "not this volume, and why", as the providers and the
 * flush-and-hold checks answer it.
 */
#ifndef SC_REFUSAL_H
#define SC_REFUSAL_H

/*
 * Format the reason into *@ret_reason (malloc'd; NULL when out of memory;
 * nothing when @ret_reason is NULL) and return
 * -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER, so that a refusal is one statement:
 * "return refusal_format(ret_reason, "%s is ...", path);".
 */
int refusal_format(char **ret_reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
