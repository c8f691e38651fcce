/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - shadowcopyd's settings: defaults, the INI file (inih), command-line
 * overrides (through the same config_set()), and printing them back for -n.
 * It only parses and checks; it opens no socket and creates no directory.
 * The [testing] switches are honoured only from the file, never from options.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <ini.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"

#define DEFAULT_SOCKET "/run/shadowcopy/shadowcopyd.sock"
#define DEFAULT_STATE_DIR "/var/lib/shadowcopy"
#define DEFAULT_GROUP "shadowcopy"
#define WRITER_SOCKET_NAME "writer.sock"
#define MAX_CONNECTIONS_LIMIT 1000000u
#define TIMEOUT_MS_LIMIT (24ull * 3600 * 1000)

/* [timeouts]: every deadline of the service, in one table so that parsing,
 * printing and the defaults (documented in shadowcopy.conf(5)) agree. */
static const struct timeout_key {
	const char *key;
	size_t offset;
	uint64_t default_ms;
} timeout_keys[] = {
	{ "handshake-ms", offsetof(struct config, handshake_usec), 10000 },
	{ "identify-ms", offsetof(struct config, identify_usec), 30000 },
	{ "prepare-backup-ms", offsetof(struct config, prepare_backup_usec), 60000 },
	{ "prepare-snapshot-ms", offsetof(struct config, prepare_snapshot_usec), 300000 },
	{ "freeze-ms", offsetof(struct config, freeze_usec), 60000 },
	{ "thaw-ms", offsetof(struct config, thaw_usec), 60000 },
	{ "post-snapshot-ms", offsetof(struct config, post_snapshot_usec), 60000 },
	{ "backup-complete-ms", offsetof(struct config, backup_complete_usec), 60000 },
	{ "backup-shutdown-ms", offsetof(struct config, backup_shutdown_usec), 60000 },
	{ "abort-ms", offsetof(struct config, abort_usec), 60000 },
	{ "provider-ms", offsetof(struct config, provider_usec), 300000 },
	{ "provider-commit-ms", offsetof(struct config, provider_commit_usec), 10000 },
	{ "hold-ms", offsetof(struct config, hold_usec), 10000 },
};

static const char *const level_names[] = {
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static uint64_t *timeout_field(struct config *c, const struct timeout_key *k)
{
	return (uint64_t *)((char *)c + k->offset);
}

static uint64_t timeout_ms(const struct config *c, const struct timeout_key *k)
{
	return *(const uint64_t *)((const char *)c + k->offset) / USEC_PER_MSEC;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_connections = 1024;
	c->log_level = LOG_INFO;
	for (size_t i = 0; i < ELEMENTSOF(timeout_keys); i++)
		*timeout_field(c, &timeout_keys[i]) = timeout_keys[i].default_ms * USEC_PER_MSEC;
}

void config_done(struct config *c)
{
	free(c->socket_path);
	free(c->writer_socket_path);
	free(c->state_dir);
	free(c->group);
	for (size_t i = 0; i < c->n_bindings; i++)
		free(c->bindings[i].uids);
	free(c->bindings);
	memset(c, 0, sizeof(*c));
}

static int set_string(char **field, const char *value)
{
	char *s;

	if (value[0] == '\0')
		return -EINVAL;
	s = strdup(value);
	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

static int parse_unsigned(const char *value, unsigned long long min, unsigned long long max,
			  unsigned long long *ret)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || n < min || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

static int set_ms(uint64_t *field, const char *value)
{
	unsigned long long ms;
	int r = parse_unsigned(value, 1, TIMEOUT_MS_LIMIT, &ms);

	if (r < 0)
		return r;
	*field = ms * USEC_PER_MSEC;
	return 0;
}

static int set_log_level(struct config *c, const char *value)
{
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (level_names[i] && strcmp(level_names[i], value) == 0) {
			c->log_level = (int)i;
			return 0;
		}
	return -EINVAL;
}

static int set_service(struct config *c, const char *key, const char *value)
{
	unsigned long long n;
	int r;

	if (strcmp(key, "socket") == 0)
		return set_string(&c->socket_path, value);
	if (strcmp(key, "writer-socket") == 0)
		return set_string(&c->writer_socket_path, value);
	if (strcmp(key, "state-dir") == 0)
		return set_string(&c->state_dir, value);
	if (strcmp(key, "group") == 0)
		return set_string(&c->group, value);
	if (strcmp(key, "log-level") == 0)
		return set_log_level(c, value);
	if (strcmp(key, "max-connections") == 0) {
		r = parse_unsigned(value, 1, MAX_CONNECTIONS_LIMIT, &n);
		if (r >= 0)
			c->max_connections = (unsigned)n;
		return r;
	}
	log_warning("Unknown key '%s' in [service], ignoring", key);
	return 0;
}

static int set_timeouts(struct config *c, const char *key, const char *value)
{
	for (size_t i = 0; i < ELEMENTSOF(timeout_keys); i++)
		if (strcmp(key, timeout_keys[i].key) == 0)
			return set_ms(timeout_field(c, &timeout_keys[i]), value);
	log_warning("Unknown key '%s' in [timeouts], ignoring", key);
	return 0;
}

/* "STEP" or "STEP:REST", STEP a provider step name; REST in *ret_rest. */
static int parse_step(const char *value, enum provider_step *ret, const char **ret_rest)
{
	const char *colon = strchr(value, ':');
	size_t len = colon ? (size_t)(colon - value) : strlen(value);

	for (int i = 0; i < _PROVIDER_STEP_MAX; i++) {
		const char *name = provider_step_name(i);

		if (strlen(name) == len && strncmp(name, value, len) == 0) {
			*ret = i;
			*ret_rest = colon ? colon + 1 : NULL;
			return 0;
		}
	}
	return -EINVAL;
}

/* provider-fail = STEP[:ERROR] (ERROR a name of protocol.md 9 or an errno
 * name, default EIO); provider-delay-ms = STEP:MS.  Lines add up. */
static int set_testing(struct config *c, const char *key, const char *value)
{
	enum provider_step step;
	const char *rest;
	int r;

	r = parse_step(value, &step, &rest);
	if (r < 0)
		return r;
	if (strcmp(key, "provider-fail") == 0) {
		r = rest ? sc_error_from_name(rest) : -EIO;
		if (r == 0)
			return -EINVAL;
		c->testing.fail[step] = r;
		return 0;
	}
	if (strcmp(key, "provider-delay-ms") == 0) {
		if (!rest)
			return -EINVAL;
		return set_ms(&c->testing.delay_usec[step], rest);
	}
	log_warning("Unknown key '%s' in [testing], ignoring", key);
	return 0;
}

static struct class_binding *binding_get(struct config *c, const struct sc_id *class_id)
{
	struct class_binding *b;

	for (size_t i = 0; i < c->n_bindings; i++)
		if (sc_id_equal(&c->bindings[i].class_id, class_id))
			return &c->bindings[i];
	b = reallocarray(c->bindings, c->n_bindings + 1, sizeof(*b));
	if (!b)
		return NULL;
	c->bindings = b;
	b = &c->bindings[c->n_bindings++];
	memset(b, 0, sizeof(*b));
	b->class_id = *class_id;
	return b;
}

/* A user name or a numeric uid.  An unknown name is left out with a warning:
 * the class stays bound, so the binding fails closed. */
static int binding_add_user(struct class_binding *b, const char *user)
{
	unsigned long long n;
	struct passwd *pw;
	uid_t *uids;
	uid_t uid;

	if (user[strspn(user, "0123456789")] == '\0') {
		if (parse_unsigned(user, 0, UINT32_MAX - 1, &n) < 0)
			return -EINVAL;
		uid = (uid_t)n;
	} else {
		pw = getpwnam(user);
		if (!pw) {
			log_warning("Unknown user '%s' in [writer-classes], ignoring", user);
			return 0;
		}
		uid = pw->pw_uid;
	}
	uids = reallocarray(b->uids, b->n_uids + 1, sizeof(*uids));
	if (!uids)
		return -ENOMEM;
	b->uids = uids;
	b->uids[b->n_uids++] = uid;
	return 0;
}

static int set_writer_class(struct config *c, const char *key, const char *value)
{
	_cleanup_free_ char *list = NULL;
	struct class_binding *b;
	struct sc_id class_id;
	char *user, *save = NULL;
	int r;

	if (sc_id_from_string(key, &class_id) < 0)
		return -EINVAL;
	list = strdup(value);
	b = binding_get(c, &class_id);
	if (!list || !b)
		return -ENOMEM;
	for (user = strtok_r(list, ", \t", &save); user; user = strtok_r(NULL, ", \t", &save)) {
		r = binding_add_user(b, user);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_set(struct config *c, const char *section, const char *key, const char *value)
{
	int r;

	if (strcmp(section, "service") == 0)
		r = set_service(c, key, value);
	else if (strcmp(section, "timeouts") == 0)
		r = set_timeouts(c, key, value);
	else if (strcmp(section, "writer-classes") == 0)
		r = set_writer_class(c, key, value);
	else if (strcmp(section, "testing") == 0 && c->loading_file)
		r = set_testing(c, key, value);
	else {
		log_warning("Unknown section [%s] (key '%s'), ignoring", section, key);
		r = 0;
	}
	if (r == -EINVAL)
		log_error("Invalid setting in [%s]: %s = '%s'", section, key, value);
	return r;
}

struct load_state {
	struct config *config;
	int error;
};

static int load_handler(void *user, const char *section, const char *key, const char *value)
{
	struct load_state *st = user;
	int r = config_set(st->config, section, key, value);

	if (r < 0 && st->error == 0)
		st->error = r;
	return r >= 0; /* inih: nonzero means the line was fine */
}

int config_load(struct config *c, const char *path)
{
	struct load_state st = { .config = c };
	int r;

	c->loading_file = true;
	r = ini_parse(path, load_handler, &st);
	c->loading_file = false;
	if (r == -1)
		return log_error_errno(errno ? errno : ENOENT, "Failed to open '%s'", path);
	if (r == -2)
		return log_error_errno(ENOMEM, "Failed to parse '%s'", path);
	if (r > 0) {
		log_error("%s:%d: invalid line", path, r);
		return st.error < 0 ? st.error : -EINVAL;
	}
	return 0;
}

static int derive_writer_socket(struct config *c)
{
	const char *slash = strrchr(c->socket_path, '/');
	int n;

	if (!slash)
		n = asprintf(&c->writer_socket_path, "%s", WRITER_SOCKET_NAME);
	else
		n = asprintf(&c->writer_socket_path, "%.*s/%s", (int)(slash - c->socket_path),
			     c->socket_path, WRITER_SOCKET_NAME);
	if (n < 0) {
		c->writer_socket_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

int config_finish(struct config *c)
{
	int r;

	if ((!c->socket_path && (r = set_string(&c->socket_path, DEFAULT_SOCKET)) < 0) ||
	    (!c->state_dir && (r = set_string(&c->state_dir, DEFAULT_STATE_DIR)) < 0) ||
	    (!c->group && (r = set_string(&c->group, DEFAULT_GROUP)) < 0) ||
	    (!c->writer_socket_path && (r = derive_writer_socket(c)) < 0))
		return r;
	if (strcmp(c->socket_path, c->writer_socket_path) == 0) {
		log_error("The control socket and the writer socket must differ ('%s')",
			  c->socket_path);
		return -EINVAL;
	}
	return 0;
}

static void print_testing(const struct config *c, FILE *f)
{
	if (!config_testing(c))
		return;
	fprintf(f, "\n[testing]\n");
	for (int i = 0; i < _PROVIDER_STEP_MAX; i++) {
		if (c->testing.fail[i])
			fprintf(f, "provider-fail = %s:%s\n", provider_step_name(i),
				sc_error_name(c->testing.fail[i]));
		if (c->testing.delay_usec[i])
			fprintf(f, "provider-delay-ms = %s:%llu\n", provider_step_name(i),
				(unsigned long long)(c->testing.delay_usec[i] / USEC_PER_MSEC));
	}
}

void config_print(const struct config *c, FILE *f)
{
	char id[SC_ID_STRING_MAX];

	fprintf(f, "[service]\nsocket = %s\nwriter-socket = %s\nstate-dir = %s\n", c->socket_path,
		c->writer_socket_path, c->state_dir);
	fprintf(f, "group = %s\nmax-connections = %u\nlog-level = %s\n\n", c->group,
		c->max_connections, level_names[c->log_level]);
	fprintf(f, "[timeouts]\n");
	for (size_t i = 0; i < ELEMENTSOF(timeout_keys); i++)
		fprintf(f, "%s = %llu\n", timeout_keys[i].key,
			(unsigned long long)timeout_ms(c, &timeout_keys[i]));
	fprintf(f, "\n[writer-classes]\n");
	for (size_t i = 0; i < c->n_bindings; i++) {
		fprintf(f, "%s =", sc_id_to_string(&c->bindings[i].class_id, id));
		for (size_t j = 0; j < c->bindings[i].n_uids; j++)
			fprintf(f, "%s%u", j ? "," : " ", (unsigned)c->bindings[i].uids[j]);
		fputc('\n', f);
	}
	print_testing(c, f);
}

bool config_testing(const struct config *c)
{
	for (int i = 0; i < _PROVIDER_STEP_MAX; i++)
		if (c->testing.fail[i] || c->testing.delay_usec[i])
			return true;
	return false;
}

bool config_class_allows(const struct config *c, const struct sc_id *class_id, uid_t uid)
{
	for (size_t i = 0; i < c->n_bindings; i++) {
		if (!sc_id_equal(&c->bindings[i].class_id, class_id))
			continue;
		for (size_t j = 0; j < c->bindings[i].n_uids; j++)
			if (c->bindings[i].uids[j] == uid)
				return true;
		return false;
	}
	return true;
}
