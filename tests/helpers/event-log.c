/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * event-log.c - the test writer's --log file: one JSON line per event
 * received, written with a single write() on an O_APPEND fd, so that several
 * test writers can share one file and lines never interleave.  Nothing else.
 *
 * A line: {"event":"freeze","pid":123,"instance":ID,"t":USEC, ...} where t is
 * CLOCK_MONOTONIC in microseconds; events other than identify add "set",
 * "context", "backup_type", "select_components", "volumes" and "components".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "test-writer.h"

int event_log_open(const char *path, int *ret_fd)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

uint64_t event_log_now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static json_t *event_log_context(uint32_t context)
{
	const char *name = sc_context_name(context);

	return name ? json_string(name) : json_integer(context);
}

static json_t *event_log_components(const struct sc_writer_event *ev)
{
	json_t *a = json_array();
	const char *logical_path, *name;
	bool succeeded;

	for (size_t i = 0; a && i < sc_writer_event_get_component_count(ev); i++) {
		if (sc_writer_event_get_component(ev, i, &logical_path, &name, &succeeded) < 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "logical_path",
						   logical_path, "name", name,
						   "backup_succeeded", succeeded));
	}
	return a;
}

/* What the event carries, added to the line @obj. */
static void event_log_params(json_t *obj, const struct sc_writer_event *ev)
{
	char set[SC_ID_STRING_MAX];
	struct sc_id id;
	json_t *volumes = json_array();

	sc_writer_event_get_snapshot_set_id(ev, &id);
	for (size_t i = 0; volumes && i < sc_writer_event_get_volume_count(ev); i++)
		json_array_append_new(volumes, json_string(sc_writer_event_get_volume(ev, i)));
	json_object_set_new(obj, "set", json_string(sc_id_to_string(&id, set)));
	json_object_set_new(obj, "context",
			    event_log_context(sc_writer_event_get_context(ev)));
	json_object_set_new(obj, "backup_type",
			    json_integer(sc_writer_event_get_backup_type(ev)));
	json_object_set_new(obj, "select_components",
			    json_boolean(sc_writer_event_are_components_selected(ev)));
	json_object_set_new(obj, "volumes", volumes);
	json_object_set_new(obj, "components", event_log_components(ev));
}

void event_log_write(struct test_writer *tw, enum sc_event event, enum sc_event handler,
		     const struct sc_writer_event *ev)
{
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *line = NULL;
	size_t len;
	ssize_t n;

	if (tw->log_fd < 0)
		return;
	obj = json_pack("{s:s, s:i, s:s, s:I}", "event", sc_event_name(event), "pid",
			(int)getpid(), "instance", tw->instance_id, "t",
			(json_int_t)event_log_now_usec());
	if (obj && handler != event)
		json_object_set_new(obj, "handler", json_string(sc_event_name(handler)));
	if (obj && ev)
		event_log_params(obj, ev);
	line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (!line) {
		fprintf(stderr, "test-writer: cannot log event %s: out of memory\n",
			sc_event_name(event));
		return;
	}
	len = strlen(line);
	line[len] = '\n'; /* json_dumps() leaves room: we overwrite its NUL */
	n = write(tw->log_fd, line, len + 1);
	if (n != (ssize_t)(len + 1))
		fprintf(stderr, "test-writer: cannot log event %s: %m\n", sc_event_name(event));
}
