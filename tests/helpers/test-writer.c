/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-writer.c - a writer for system tests, built on the public writer.h
 * only: options, subscription, the host loop (sc_writer_run(), a poll() loop
 * or the library's thread) and a clean exit on SIGTERM/SIGINT.  What it does
 * at each event is in writer-behaviour.c; it never prints data on stdout
 * except the instance id with --print-ids.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "test-writer.h"

static void test_writer_log(int priority, const char *message, void *userdata)
{
	fprintf(stderr, "test-writer[%d]: <%d> %s\n", (int)getpid(), priority, message);
}

static int test_writer_fail(int error, const char *what)
{
	fprintf(stderr, "test-writer: %s: %s (%s)\n", what, sc_strerror(error),
		sc_error_name(error));
	return error;
}

static int test_writer_subscribe(struct test_writer *tw)
{
	struct sc_id instance;
	int r;

	if ((r = sc_writer_new(&tw->w)) < 0)
		return test_writer_fail(r, "sc_writer_new");
	r = sc_writer_initialize(tw->w, &tw->class_id, tw->name, tw->instance_name, tw->usage,
				 tw->source, tw->level, tw->freeze_timeout_ms);
	if (r < 0)
		return test_writer_fail(r, "sc_writer_initialize");
	if (tw->socket_path && (r = sc_writer_set_socket(tw->w, tw->socket_path)) < 0)
		return test_writer_fail(r, "sc_writer_set_socket");
	(void)sc_writer_set_log(tw->w, test_writer_log, NULL); /* always 0 */
	if ((r = behaviour_install(tw)) < 0)
		return test_writer_fail(r, "installing the handlers");
	if ((r = sc_writer_get_instance_id(tw->w, &instance)) < 0)
		return test_writer_fail(r, "sc_writer_get_instance_id");
	sc_id_to_string(&instance, tw->instance_id);
	if ((r = sc_writer_subscribe(tw->w)) < 0)
		return test_writer_fail(r, "sc_writer_subscribe");
	return 0;
}

/* Write the ready file atomically (rename), so tests never read half of it. */
static int test_writer_ready(struct test_writer *tw, int second_subscribe)
{
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *tmp = NULL;
	char class_id[SC_ID_STRING_MAX];

	obj = json_pack("{s:i, s:s, s:s}", "pid", (int)getpid(), "class_id",
			sc_id_to_string(&tw->class_id, class_id), "instance_id", tw->instance_id);
	if (obj && tw->subscribe_twice)
		json_object_set_new(obj, "second_subscribe",
				    json_string(sc_error_name(second_subscribe)));
	if (!obj || asprintf(&tmp, "%s.tmp", tw->ready_path) < 0)
		return test_writer_fail(-ENOMEM, "writing the ready file");
	if (json_dump_file(obj, tmp, JSON_COMPACT) < 0 || rename(tmp, tw->ready_path) < 0)
		return test_writer_fail(-errno, "writing the ready file");
	return 0;
}

static int test_writer_announce(struct test_writer *tw)
{
	int second = 0;

	if (tw->subscribe_twice) {
		second = sc_writer_subscribe(tw->w);
		fprintf(stderr, "test-writer: second subscribe: %s (%s)\n", sc_strerror(second),
			sc_error_name(second));
	}
	if (tw->print_ids) {
		printf("%s\n", tw->instance_id);
		fflush(stdout);
	}
	return tw->ready_path ? test_writer_ready(tw, second) : 0;
}

/* Waits for SIGTERM/SIGINT (blocked in every thread) and stops the loop. */
static void *test_writer_signals(void *userdata)
{
	struct test_writer *tw = userdata;
	uint64_t one = 1;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigwait(&set, &sig) != 0)
		return NULL;
	atomic_store(&tw->terminating, true);
	/* An eventfd counter cannot overflow from one write. */
	(void)!write(tw->stop_fd, &one, sizeof(one));
	if (tw->loop == LOOP_RUN)
		(void)sc_writer_stop(tw->w); /* always 0 */
	return NULL;
}

static int poll_ms(uint64_t deadline_usec)
{
	struct timespec ts;
	uint64_t now, ms;

	if (deadline_usec == UINT64_MAX)
		return -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (deadline_usec <= now)
		return 0;
	ms = (deadline_usec - now + 999) / 1000; /* round up: never wake early */
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* The host-loop integration: poll the library's fd and our stop fd. */
static int loop_poll(struct test_writer *tw)
{
	struct pollfd p[2] = {
		{ .fd = sc_writer_get_fd(tw->w), .events = POLLIN },
		{ .fd = tw->stop_fd, .events = POLLIN },
	};
	uint64_t deadline;
	int r;

	while (!atomic_load(&tw->terminating)) {
		r = sc_writer_process(tw->w);
		if (r < 0)
			return r;
		if (r > 0)
			continue; /* there may be more: process until idle */
		if ((r = sc_writer_get_timeout(tw->w, &deadline)) < 0)
			return r;
		if (poll(p, ELEMENTSOF(p), poll_ms(deadline)) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static int loop_thread(struct test_writer *tw)
{
	struct pollfd p = { .fd = tw->stop_fd, .events = POLLIN };
	int r;

	if ((r = sc_writer_start_thread(tw->w)) < 0)
		return r;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			break;
	return sc_writer_stop_thread(tw->w);
}

static int test_writer_loop(struct test_writer *tw)
{
	pthread_t thread;
	int r;

	r = pthread_create(&thread, NULL, test_writer_signals, tw);
	if (r != 0)
		return test_writer_fail(-r, "pthread_create");
	if (tw->loop == LOOP_POLL)
		r = loop_poll(tw);
	else if (tw->loop == LOOP_THREAD)
		r = loop_thread(tw);
	else
		r = sc_writer_run(tw->w);
	if (r < 0)
		test_writer_fail(r, "the writer's loop");
	/* Release the signal thread before the writer it points to goes away. */
	if (!atomic_load(&tw->terminating))
		(void)pthread_kill(thread, SIGTERM); /* fails only if it has exited */
	(void)pthread_join(thread, NULL);      /* cannot fail: joinable, not us */
	return r;
}

/* The log file, the signal mask and the stop fd. */
static int test_writer_setup(struct test_writer *tw)
{
	sigset_t set;
	int r;

	if (tw->log_path && (r = event_log_open(tw->log_path, &tw->log_fd)) < 0)
		return test_writer_fail(r, tw->log_path);
	/* Before any thread exists, so that only the signal thread sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL); /* valid arguments: cannot fail */
	tw->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (tw->stop_fd < 0)
		return test_writer_fail(-errno, "eventfd");
	/* After the signal mask: the touch thread must not take SIGTERM either. */
	if ((r = touch_start(tw)) < 0)
		return test_writer_fail(r, "starting the touch thread");
	return 0;
}

static int test_writer_main(struct test_writer *tw)
{
	int r;

	if (tw->metadata_path && metadata_file_load(tw->metadata_path, &tw->metadata) < 0)
		return WRITER_OPTIONS_USAGE;
	if (test_writer_setup(tw) < 0 || test_writer_subscribe(tw) < 0 ||
	    test_writer_announce(tw) < 0 || test_writer_loop(tw) < 0)
		return EXIT_FAILURE;
	r = sc_writer_unsubscribe(tw->w);
	if (r < 0)
		test_writer_fail(r, "sc_writer_unsubscribe");
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct test_writer tw = {
		.name = "Test writer",
		.usage = SC_UT_USERDATA,
		.source = SC_ST_TRANSACTEDDB,
		.level = SC_APP_BACK_END,
		.log_fd = -1,
		.stop_fd = -1,
		.touches = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER },
	};
	int r;

	r = writer_options_parse(argc, argv, &tw);
	if (r == WRITER_OPTIONS_PROCEED)
		r = test_writer_main(&tw);
	tw.w = sc_writer_free(tw.w);
	touch_done(&tw); /* after the writer: no handler can run any more */
	free(tw.file_sets);
	json_decref(tw.metadata);
	closep(&tw.log_fd);
	closep(&tw.stop_fd);
	return r;
}
