/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - the SQLite writer's INI file (inih): [writer] settings and one
 * [component NAME] section per component with its database files, parsed
 * into struct sqlite_writer and checked as a whole.  Unknown keys are errors:
 * a misspelt database line must not silently leave data unprotected.
 * Nothing here opens a database.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-writer.h"
#include "writer-common.h"

struct config_parser {
	struct sqlite_writer *sw;
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

static int config_writer_key(struct config_parser *p, const char *key, const char *value)
{
	struct sqlite_writer *sw = p->sw;
	uint32_t *ms = NULL;
	char **s = NULL;

	if (strcmp(key, "name") == 0)
		s = &sw->name;
	else if (strcmp(key, "instance") == 0)
		s = &sw->instance;
	else if (strcmp(key, "freeze-timeout-ms") == 0)
		ms = &sw->freeze_timeout_ms;
	else if (strcmp(key, "lock-timeout-ms") == 0)
		ms = &sw->lock_timeout_ms;
	else if (strcmp(key, "checkpoint-timeout-ms") == 0)
		ms = &sw->checkpoint_timeout_ms;
	else
		return config_error(p, "unknown key '%s' in [writer]", key);
	if (ms)
		return config_value_ms(value, ms) < 0 ?
			config_error(p, "%s: not a number of milliseconds (1..86400000): '%s'",
				     key, value) : 1;
	if (!value[0])
		return config_error(p, "%s: empty value", key);
	free(*s);
	*s = strdup(value);
	return *s ? 1 : config_error(p, "out of memory");
}

static struct sqlite_component *config_component(struct config_parser *p, const char *name)
{
	struct sqlite_writer *sw = p->sw;
	struct sqlite_component *c;

	for (size_t i = 0; i < sw->n_components; i++)
		if (strcmp(sw->components[i].name, name) == 0)
			return &sw->components[i];
	c = reallocarray(sw->components, sw->n_components + 1, sizeof(*c));
	if (!c)
		return NULL;
	sw->components = c;
	c = &c[sw->n_components];
	*c = (struct sqlite_component){ .name = strdup(name) };
	if (!c->name)
		return NULL;
	sw->n_components++;
	return c;
}

/* Split @path into the directory and file name Identify reports. */
static int config_split(struct sqlite_db *d)
{
	const char *slash = strrchr(d->path, '/');

	d->dir = slash == d->path ? strdup("/") : strndup(d->path, (size_t)(slash - d->path));
	d->base = strdup(slash + 1);
	return d->dir && d->base ? 0 : -ENOMEM;
}

static int config_database(struct config_parser *p, size_t component, const char *value)
{
	struct sqlite_writer *sw = p->sw;
	struct sqlite_db *d;
	char *path = NULL;

	if (config_value_absolute_path(value, &path) < 0 || strcmp(path, "/") == 0) {
		free(path);
		return config_error(p, "database: not an absolute file path: '%s'", value);
	}
	if (strpbrk(strrchr(path, '/'), "*?[")) {
		free(path);
		return config_error(p, "database: wildcard characters in a file name: '%s'", value);
	}
	for (size_t i = 0; i < sw->n_dbs; i++)
		if (strcmp(sw->dbs[i].path, path) == 0) {
			free(path);
			return config_error(p, "database '%s' is listed twice", value);
		}
	d = reallocarray(sw->dbs, sw->n_dbs + 1, sizeof(*d));
	if (!d) {
		free(path);
		return config_error(p, "out of memory");
	}
	sw->dbs = d;
	d = &d[sw->n_dbs++];
	*d = (struct sqlite_db){ .path = path, .component = component };
	return config_split(d) < 0 ? config_error(p, "out of memory") : 1;
}

static int config_component_key(struct config_parser *p, const char *name, const char *key,
				 const char *value)
{
	struct sqlite_component *c;

	while (*name == ' ' || *name == '\t')
		name++;
	if (!name[0])
		return config_error(p, "a [component NAME] section needs a name");
	if (!(c = config_component(p, name)))
		return config_error(p, "out of memory");
	if (strcmp(key, "database") == 0)
		return config_database(p, (size_t)(c - p->sw->components), value);
	if (strcmp(key, "caption") == 0) {
		free(c->caption);
		c->caption = strdup(value);
		return c->caption ? 1 : config_error(p, "out of memory");
	}
	return config_error(p, "unknown key '%s' in [component %s]", key, name);
}

static int config_handler(void *userdata, const char *section, const char *key,
			  const char *value)
{
	struct config_parser *p = userdata;

	if (strcmp(section, "writer") == 0)
		return config_writer_key(p, key, value);
	if (strncmp(section, "component", 9) == 0 && (section[9] == ' ' || section[9] == '\t'))
		return config_component_key(p, section + 9, key, value);
	return config_error(p, "unknown section [%s]", section);
}

/* The checks that need the whole file. */
static int config_check(struct sqlite_writer *sw, const char *path)
{
	if (sw->n_components == 0) {
		wlog_error("%s: no [component NAME] section: nothing to protect", path);
		return -EINVAL;
	}
	for (size_t i = 0; i < sw->n_components; i++) {
		bool has_db = false;

		for (size_t k = 0; k < sw->n_dbs; k++)
			has_db = has_db || sw->dbs[k].component == i;
		if (!has_db) {
			wlog_error("%s: [component %s] has no database line", path,
				   sw->components[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Load @path into @sw (zeroed by the caller).  Logs and returns -errno. */
int config_load(struct sqlite_writer *sw, const char *path)
{
	struct config_parser p = { .sw = sw };
	FILE *f;
	int r;

	sw->freeze_timeout_ms = SQLITE_DEFAULT_FREEZE_TIMEOUT_MS;
	sw->lock_timeout_ms = SQLITE_DEFAULT_LOCK_TIMEOUT_MS;
	sw->checkpoint_timeout_ms = SQLITE_DEFAULT_CHECKPOINT_TIMEOUT_MS;
	f = fopen(path, "re");
	if (!f)
		return wlog_error_errno(-errno, "Failed to open '%s'", path);
	r = ini_parse_file(f, config_handler, &p);
	fclose(f);
	if (r != 0) {
		wlog_error("%s:%d: %s", path, r, p.error[0] ? p.error : "syntax error");
		return -EINVAL;
	}
	if (!sw->name && !(sw->name = strdup("SQLite")))
		return wlog_error_errno(-ENOMEM, "Failed to load '%s'", path);
	if (!(sw->instance = config_value_instance(sw->instance, path)))
		return wlog_error_errno(-ENOMEM, "Failed to load '%s'", path);
	return config_check(sw, path);
}

/* The configuration as it was understood, in the file's syntax (-n). */
void config_print(const struct sqlite_writer *sw)
{
	printf("[writer]\nname = %s\ninstance = %s\nfreeze-timeout-ms = %u\n"
	       "lock-timeout-ms = %u\ncheckpoint-timeout-ms = %u\n", sw->name, sw->instance,
	       sw->freeze_timeout_ms, sw->lock_timeout_ms, sw->checkpoint_timeout_ms);
	for (size_t i = 0; i < sw->n_components; i++) {
		printf("\n[component %s]\n", sw->components[i].name);
		if (sw->components[i].caption)
			printf("caption = %s\n", sw->components[i].caption);
		for (size_t k = 0; k < sw->n_dbs; k++)
			if (sw->dbs[k].component == i)
				printf("database = %s\n", sw->dbs[k].path);
	}
}

void config_done(struct sqlite_writer *sw)
{
	for (size_t i = 0; i < sw->n_dbs; i++) {
		database_close(&sw->dbs[i]);
		free(sw->dbs[i].path);
		free(sw->dbs[i].dir);
		free(sw->dbs[i].base);
	}
	for (size_t i = 0; i < sw->n_components; i++) {
		free(sw->components[i].name);
		free(sw->components[i].caption);
	}
	free(sw->dbs);
	free(sw->components);
	free(sw->name);
	free(sw->instance);
}
