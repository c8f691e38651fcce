/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * refusal.c - the one way a volume is refused with its reason (providers'
 * is_volume_supported, the hold's checks).  Deciding what to refuse is not
 * here.
 */
#include <stdarg.h>
#include <stdio.h>

#include <shadowcopy/types.h>

#include "refusal.h"

int refusal_format(char **ret_reason, const char *fmt, ...)
{
	va_list ap;

	if (ret_reason) {
		va_start(ap, fmt);
		if (vasprintf(ret_reason, fmt, ap) < 0)
			*ret_reason = NULL; /* the error code still says it */
		va_end(ap);
	}
	return -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER;
}
