/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-behaviour.c - the test writer's handlers: log the event, then do
 * what the command line asked for that event, in this order: touch, delay,
 * crash (SIGKILL), hang, veto, and the touches due after the handler.
 * Identify also rebuilds the --metadata document and adds the --file-set
 * components through the builder API.  No option parsing and no loop here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test-writer.h"

#define PAUSE_SLICE_USEC 10000u

/* Sleep @usec (UINT64_MAX: for ever), leaving at once when told to terminate:
 * a handler that is late anyway should not delay the end of a test. */
static void behaviour_pause(struct test_writer *tw, uint64_t usec)
{
	struct timespec slice = { .tv_nsec = PAUSE_SLICE_USEC * 1000 };

	for (uint64_t slept = 0; usec == UINT64_MAX || slept < usec; slept += PAUSE_SLICE_USEC) {
		if (atomic_load(&tw->terminating)) {
			fprintf(stderr, "test-writer: terminated inside a handler\n");
			_exit(EXIT_SUCCESS);
		}
		(void)nanosleep(&slice, NULL); /* signals are blocked: not interrupted */
	}
}

/* Touch, delay, crash or hang as asked; returns whether the event should succeed. */
static bool behaviour_run(struct test_writer *tw, enum sc_event event)
{
	const struct behaviour *b = &tw->behaviour[event];

	touch_event(tw, event, false);
	if (b->delay_usec > 0)
		behaviour_pause(tw, b->delay_usec);
	if (b->crash) {
		fprintf(stderr, "test-writer: crashing at %s\n", sc_event_name(event));
		(void)raise(SIGKILL);
	}
	if (b->hang) {
		fprintf(stderr, "test-writer: hanging at %s\n", sc_event_name(event));
		behaviour_pause(tw, UINT64_MAX);
	}
	return !b->fail;
}

/* The --file-set components: file-set-1, file-set-2, ... */
static int behaviour_file_sets(struct test_writer *tw, struct sc_writer_metadata *m)
{
	char name[32];
	int r;

	for (size_t i = 0; i < tw->n_file_sets; i++) {
		snprintf(name, sizeof(name), "file-set-%zu", i + 1);
		r = sc_writer_metadata_add_component(m, SC_CT_FILEGROUP, NULL, name,
						     tw->file_sets[i], true, true, 0);
		if (r < 0)
			return r;
		r = sc_writer_metadata_add_files(m, NULL, name, tw->file_sets[i], "*", true, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool behaviour_metadata(struct test_writer *tw, struct sc_writer_metadata *m)
{
	int r = 0;

	if (tw->metadata)
		r = metadata_file_build(tw->metadata, m);
	if (r >= 0)
		r = behaviour_file_sets(tw, m);
	if (r < 0)
		fprintf(stderr, "test-writer: building the metadata: %s (%s)\n", sc_strerror(r),
			sc_error_name(r));
	return r >= 0;
}

static bool behaviour_identify(struct sc_writer *w, struct sc_writer_metadata *m, void *userdata)
{
	struct test_writer *tw = userdata;
	bool ok;

	event_log_write(tw, SC_EVENT_IDENTIFY, SC_EVENT_IDENTIFY, NULL);
	ok = behaviour_run(tw, SC_EVENT_IDENTIFY) && behaviour_metadata(tw, m);
	touch_event(tw, SC_EVENT_IDENTIFY, true); /* the handler's last act */
	return ok;
}

static bool behaviour_event(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	const struct handler_context *ctx = userdata;
	struct test_writer *tw = ctx->tw;
	enum sc_event event = sc_writer_event_get_type(ev);
	int failure = tw->behaviour[event].failure;
	bool ok;
	int r;

	event_log_write(tw, event, ctx->event, ev);
	ok = behaviour_run(tw, event);
	if (!ok && failure != 0 && (r = sc_writer_set_failure(w, failure)) < 0)
		fprintf(stderr, "test-writer: sc_writer_set_failure(%s): %s (%s)\n",
			sc_error_name(failure), sc_strerror(r), sc_error_name(r));
	touch_event(tw, event, true); /* the handler's last act */
	return ok;
}

int behaviour_install(struct test_writer *tw)
{
	int r;

	r = sc_writer_on_identify(tw->w, behaviour_identify, tw);
	for (int e = 0; r >= 0 && e < _SC_EVENT_MAX; e++) {
		if (e == SC_EVENT_IDENTIFY || tw->behaviour[e].no_handler)
			continue;
		tw->handlers[e] = (struct handler_context){ .tw = tw, .event = e };
		r = sc_writer_on_event(tw->w, e, behaviour_event, &tw->handlers[e]);
	}
	return r;
}
