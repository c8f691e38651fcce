/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ids.h - internal helpers for ids beyond the public ones in types.h. */
#ifndef SC_IDS_H
#define SC_IDS_H

#include <shadowcopy/types.h>

/* ids.c */
/* A stable id derived from @base and @name (a writer instance from its class
 * and instance name). */
void id_derive(const struct sc_id *base, const char *name, struct sc_id *ret);

#endif
