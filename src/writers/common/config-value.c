/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config-value.c - the value types of the writers' INI files: milliseconds,
 * absolute paths, and the default instance name.  Parsing the files (inih)
 * and what each key means belong to each writer.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "writer-common.h"

/* A number of milliseconds from 1 to one day, as shadowcopy.conf(5) has them. */
int config_value_ms(const char *value, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	if (!value[0] || value[0] == '-' || value[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 86400000ull)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* An absolute path, copied; "/" kept, a trailing slash dropped. */
int config_value_absolute_path(const char *value, char **ret)
{
	size_t n = strlen(value);
	char *p;

	if (value[0] != '/' || n >= PATH_MAX)
		return -EINVAL;
	while (n > 1 && value[n - 1] == '/')
		n--;
	p = strndup(value, n);
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

/*
 * The instance name: the configured one, else the configuration file's real
 * path, so that two daemons on two configurations are two instances and a
 * restarted daemon keeps its instance id.  NULL only when out of memory.
 */
char *config_value_instance(const char *instance, const char *config_path)
{
	char *real;

	if (instance)
		return strdup(instance);
	real = realpath(config_path, NULL);
	return real ? real : strdup(config_path);
}
