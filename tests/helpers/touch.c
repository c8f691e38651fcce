/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * touch.c - the test writer's --touch WHEN:FILE[=TEXT]: a small file written
 * at an event, inside its handler ("freeze") or just after the handler has
 * returned ("thaw-after", by a thread of its own), so that tests can prove
 * what a snapshot holds.  It never changes how an event is answered: a
 * failed write is reported on stderr only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "test-writer.h"

#define TOUCH_AFTER_SUFFIX "-after"

/* WHEN: an event's wire name, optionally followed by "-after". */
static int touch_parse_when(const char *when, size_t len, struct touch *t)
{
	size_t suffix = strlen(TOUCH_AFTER_SUFFIX);
	char name[64];
	int e;

	t->after = len > suffix && strncmp(when + len - suffix, TOUCH_AFTER_SUFFIX, suffix) == 0;
	if (t->after)
		len -= suffix;
	if (len == 0 || len >= sizeof(name))
		return -EINVAL;
	memcpy(name, when, len);
	name[len] = '\0';
	e = sc_event_from_name(name);
	if (e < 0)
		return e;
	t->event = (enum sc_event)e;
	return 0;
}

int touch_add(struct test_writer *tw, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct touch t = {}, *list;
	char *eq;

	if (!colon || touch_parse_when(arg, (size_t)(colon - arg), &t) < 0)
		return -EINVAL;
	t.path = strdup(colon + 1);
	if (!t.path)
		return -ENOMEM;
	eq = strchr(t.path, '=');
	if (eq) {
		*eq = '\0';
		t.text = eq + 1;
	}
	list = reallocarray(tw->touches.list, tw->touches.n + 1, sizeof(*list));
	if (!list || t.path[0] == '\0') {
		free(t.path);
		return list ? -EINVAL : -ENOMEM;
	}
	tw->touches.list = list;
	list[tw->touches.n++] = t;
	return 0;
}

/* Write @t's file: its TEXT, or {"touch":WHEN,"pid","instance","t"}. */
static void touch_write(struct test_writer *tw, const struct touch *t)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = NULL;
	const char *text = t->text;
	size_t len;

	if (!text) {
		if (asprintf(&line,
			     "{\"touch\":\"%s%s\",\"pid\":%d,\"instance\":\"%s\",\"t\":%llu}\n",
			     sc_event_name(t->event), t->after ? TOUCH_AFTER_SUFFIX : "",
			     (int)getpid(), tw->instance_id,
			     (unsigned long long)event_log_now_usec()) < 0) {
			fprintf(stderr, "test-writer: --touch %s: out of memory\n", t->path);
			return;
		}
		text = line;
	}
	len = strlen(text);
	fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	/* fsync as a database would: the data is on disk before we go on. */
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		fprintf(stderr, "test-writer: --touch %s: %m\n", t->path);
}

/* The next "after" touch due, or NULL; called under the lock. */
static struct touch *touch_next_due(struct touches *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->list[i].pending > 0)
			return &ts->list[i];
	return NULL;
}

static void *touch_thread(void *userdata)
{
	struct test_writer *tw = userdata;
	struct touches *ts = &tw->touches;
	struct touch *t;

	pthread_mutex_lock(&ts->lock);
	for (;;) {
		t = touch_next_due(ts);
		if (!t && ts->stopping)
			break;
		if (!t) {
			pthread_cond_wait(&ts->cond, &ts->lock);
			continue;
		}
		t->pending--;
		pthread_mutex_unlock(&ts->lock);
		touch_write(tw, t);
		pthread_mutex_lock(&ts->lock);
	}
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

int touch_start(struct test_writer *tw)
{
	struct touches *ts = &tw->touches;
	int r;

	for (size_t i = 0; i < ts->n; i++) {
		if (!ts->list[i].after)
			continue;
		r = pthread_create(&ts->thread, NULL, touch_thread, tw);
		if (r != 0)
			return -r;
		ts->started = true;
		return 0;
	}
	return 0;
}

void touch_event(struct test_writer *tw, enum sc_event event, bool after)
{
	struct touches *ts = &tw->touches;

	if (after && ts->started)
		pthread_mutex_lock(&ts->lock);
	for (size_t i = 0; i < ts->n; i++) {
		if (ts->list[i].event != event || ts->list[i].after != after)
			continue;
		if (after)
			ts->list[i].pending++;
		else
			touch_write(tw, &ts->list[i]);
	}
	if (after && ts->started) {
		pthread_cond_signal(&ts->cond);
		pthread_mutex_unlock(&ts->lock);
	}
}

void touch_done(struct test_writer *tw)
{
	struct touches *ts = &tw->touches;

	if (ts->started) {
		pthread_mutex_lock(&ts->lock);
		ts->stopping = true;
		pthread_cond_signal(&ts->cond);
		pthread_mutex_unlock(&ts->lock);
		(void)pthread_join(ts->thread, NULL); /* joinable, not us: cannot fail */
		ts->started = false;
	}
	for (size_t i = 0; i < ts->n; i++)
		free(ts->list[i].path);
	free(ts->list);
	ts->list = NULL;
	ts->n = 0;
}
