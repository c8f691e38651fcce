/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - the hooks writer's INI file (inih): the [writer] section with
 * the hook directory, the per-hook timeout and the volumes the hooks guard.
 * Unknown keys are errors.  It does not look into the hook directory.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks-writer.h"
#include "writer-common.h"

struct config_parser {
	struct hooks_writer *hw;
	char error[512];          /* the first error, for "FILE:LINE: error" */
};

__attribute__((format(printf, 2, 3)))
static int config_error(struct config_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->error[0]) {
		va_start(ap, fmt);
		vsnprintf(p->error, sizeof(p->error), fmt, ap);
		va_end(ap);
	}
	return 0; /* inih: this line failed */
}

static int config_volume(struct config_parser *p, const char *value)
{
	struct hooks_writer *hw = p->hw;
	char **v, *path;

	if (config_value_absolute_path(value, &path) < 0)
		return config_error(p, "volume: not an absolute path: '%s'", value);
	v = reallocarray(hw->volumes, hw->n_volumes + 1, sizeof(*v));
	if (!v) {
		free(path);
		return config_error(p, "out of memory");
	}
	hw->volumes = v;
	v[hw->n_volumes++] = path;
	return 1;
}

static int config_string(struct config_parser *p, char **s, const char *key, const char *value)
{
	if (!value[0])
		return config_error(p, "%s: empty value", key);
	free(*s);
	*s = strdup(value);
	return *s ? 1 : config_error(p, "out of memory");
}

static int config_handler(void *userdata, const char *section, const char *key,
			  const char *value)
{
	struct config_parser *p = userdata;
	struct hooks_writer *hw = p->hw;
	uint32_t *ms = NULL;

	if (strcmp(section, "writer") != 0)
		return config_error(p, "unknown section [%s]", section);
	if (strcmp(key, "name") == 0)
		return config_string(p, &hw->name, key, value);
	if (strcmp(key, "instance") == 0)
		return config_string(p, &hw->instance, key, value);
	if (strcmp(key, "directory") == 0) {
		free(hw->directory);
		hw->directory = NULL;
		return config_value_absolute_path(value, &hw->directory) < 0 ?
			config_error(p, "directory: not an absolute path: '%s'", value) : 1;
	}
	if (strcmp(key, "volume") == 0)
		return config_volume(p, value);
	if (strcmp(key, "timeout-ms") == 0)
		ms = &hw->timeout_ms;
	else if (strcmp(key, "freeze-timeout-ms") == 0)
		ms = &hw->freeze_timeout_ms;
	else
		return config_error(p, "unknown key '%s' in [writer]", key);
	return config_value_ms(value, ms) < 0 ?
		config_error(p, "%s: not a number of milliseconds (1..86400000): '%s'", key,
			     value) : 1;
}

static int config_defaults(struct hooks_writer *hw, const char *path)
{
	if (!hw->name && !(hw->name = strdup("Hooks")))
		return -ENOMEM;
	if (!hw->directory && !(hw->directory = strdup(HOOKS_DEFAULT_DIRECTORY)))
		return -ENOMEM;
	if (!(hw->instance = config_value_instance(hw->instance, path)))
		return -ENOMEM;
	/* By default the hooks guard every volume, as qemu-ga's do. */
	if (hw->n_volumes == 0) {
		if (!(hw->volumes = calloc(1, sizeof(*hw->volumes))) ||
		    !(hw->volumes[0] = strdup("/")))
			return -ENOMEM;
		hw->n_volumes = 1;
	}
	return 0;
}

/*
 * Load @path into @hw (zeroed by the caller).  A missing file is an error if
 * @must_exist, else every setting keeps its default.  Logs; returns -errno.
 */
int config_load(struct hooks_writer *hw, const char *path, bool must_exist)
{
	struct config_parser p = { .hw = hw };
	FILE *f;
	int r;

	hw->timeout_ms = HOOKS_DEFAULT_TIMEOUT_MS;
	hw->freeze_timeout_ms = HOOKS_DEFAULT_FREEZE_TIMEOUT_MS;
	f = fopen(path, "re");
	if (!f && (errno != ENOENT || must_exist))
		return wlog_error_errno(-errno, "Failed to open '%s'", path);
	if (f) {
		r = ini_parse_file(f, config_handler, &p);
		fclose(f);
		if (r != 0) {
			wlog_error("%s:%d: %s", path, r, p.error[0] ? p.error : "syntax error");
			return -EINVAL;
		}
	}
	if ((r = config_defaults(hw, path)) < 0)
		return wlog_error_errno(r, "Failed to load '%s'", path);
	return 0;
}

/* The configuration as it was understood, in the file's syntax (-n). */
void config_print(const struct hooks_writer *hw)
{
	printf("[writer]\nname = %s\ninstance = %s\ndirectory = %s\ntimeout-ms = %u\n"
	       "freeze-timeout-ms = %u\n", hw->name, hw->instance, hw->directory, hw->timeout_ms,
	       hw->freeze_timeout_ms);
	for (size_t i = 0; i < hw->n_volumes; i++)
		printf("volume = %s\n", hw->volumes[i]);
}

void config_done(struct hooks_writer *hw)
{
	hw->hooks = scan_free(hw->hooks, hw->n_hooks);
	for (size_t i = 0; i < hw->n_volumes; i++)
		free(hw->volumes[i]);
	free(hw->volumes);
	free(hw->name);
	free(hw->instance);
	free(hw->directory);
}
