/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-options.c - the test writer's command line into struct test_writer.
 * Values the library validates (levels, usage types, failure codes) pass
 * through unchecked, so that tests can watch the library refuse them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "test-writer.h"

static void test_writer_help(void)
{
	printf("Usage: test-writer --class ID [OPTIONS]\n"
	       "\n"
	       "A writer for tests: subscribes to shadowcopyd and answers events as told.\n"
	       "\n"
	       "  --socket PATH            the service's socket (default: the library's)\n"
	       "  --class ID               writer class id (required)\n"
	       "  --name NAME              display name (default 'Test writer')\n"
	       "  --instance-name NAME     instance name (the instance id derives from it)\n"
	       "  --level front|back|system|N   application level (default back)\n"
	       "  --usage N, --source N    VSS_USAGE_TYPE (default 3), VSS_SOURCE_TYPE (default 1)\n"
	       "  --freeze-timeout-ms N    freeze window (default: the library's, 60000)\n"
	       "  --metadata FILE          JSON metadata (protocol.md 4.2) rebuilt at Identify\n"
	       "  --file-set PATH          one more file-group component, 'file-set-N' (N from\n"
	       "                           1 in option order, logical path \"\"), holding\n"
	       "                           every file below PATH (filespec *, recursive);\n"
	       "                           may repeat; with or without --metadata\n"
	       "  --log FILE               append one JSON line per event received (one\n"
	       "                           write()): \"event\", \"pid\", \"instance\", \"t\"\n"
	       "                           (CLOCK_MONOTONIC usec); events other than identify\n"
	       "                           add \"set\", \"context\", \"backup_type\",\n"
	       "                           \"select_components\", \"volumes\", \"components\"\n"
	       "  --ready-file FILE        written (JSON: pid, ids) once subscribed\n"
	       "  --print-ids              print the instance id on stdout once subscribed\n"
	       "  --subscribe-twice        subscribe a second time and report the result\n"
	       "                           on stderr and in the ready file\n"
	       "  --loop run|poll|thread   sc_writer_run() (default), poll() on the fd with\n"
	       "                           sc_writer_process(), or sc_writer_start_thread()\n"
	       "Behaviour at EVENT (a wire name: identify, freeze, ...); may repeat:\n"
	       "  --fail EVENT[:ERROR]     veto; ERROR is a WRITERERROR_* name (default\n"
	       "                           WRITERERROR_RETRYABLE) or 'none'; at identify\n"
	       "                           only 'return false' (VSS has no code there)\n"
	       "  --delay EVENT:MS         sleep MS milliseconds first\n"
	       "  --hang EVENT             never answer\n"
	       "  --crash EVENT            SIGKILL itself (after logging the event)\n"
	       "  --no-handler EVENT       set no handler for EVENT (not identify): the\n"
	       "                           library's default runs; a log line whose handler\n"
	       "                           is another event's says so in \"handler\"\n"
	       "  --touch WHEN:FILE[=TEXT] write FILE (created or truncated, then fsync'd)\n"
	       "                           with TEXT, or by default one JSON line\n"
	       "                           {\"touch\":WHEN,\"pid\",\"instance\",\"t\"} (t as in\n"
	       "                           --log).  WHEN is EVENT (inside the handler) or\n"
	       "                           EVENT-after (by another thread, just after the\n"
	       "                           handler has returned); e.g. freeze:/mnt/v/a,\n"
	       "                           thaw-after:/mnt/v/b.  Failures go to stderr only\n"
	       "Order inside a handler: log, touch, delay, crash, hang, fail; then the\n"
	       "EVENT-after touches (unless it crashed or hangs).\n"
	       "\n"
	       "SIGTERM/SIGINT: unsubscribe and exit 0 (inside a delay or hang: exit 0 at once).\n"
	       "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n");
}

static int parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "EVENT" or "EVENT:REST": the event and REST (NULL without ':'). */
static int parse_event(const char *arg, struct behaviour **ret, const char **ret_rest,
		       struct test_writer *tw)
{
	const char *colon = strchr(arg, ':');
	char name[64];
	int e;

	snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg), arg);
	e = sc_event_from_name(name);
	if (e < 0)
		return e;
	*ret = &tw->behaviour[e];
	*ret_rest = colon ? colon + 1 : NULL;
	return 0;
}

enum {
	OPT_SOCKET = 0x100, OPT_CLASS, OPT_NAME, OPT_INSTANCE_NAME, OPT_LEVEL, OPT_USAGE,
	OPT_SOURCE, OPT_FREEZE_TIMEOUT, OPT_METADATA, OPT_LOG, OPT_READY, OPT_PRINT_IDS,
	OPT_SUBSCRIBE_TWICE, OPT_LOOP, OPT_FAIL, OPT_DELAY, OPT_HANG, OPT_CRASH, OPT_FILE_SET,
	OPT_TOUCH, OPT_NO_HANDLER,
};

/* ERROR of --fail: absent, "none" or an error name (any: the library judges). */
static int option_failure(const char *name, int *ret)
{
	int error;

	if (!name) {
		*ret = -SC_E_WRITERERROR_RETRYABLE;
		return 0;
	}
	if (strcmp(name, "none") == 0) {
		*ret = 0;
		return 0;
	}
	error = sc_error_from_name(name);
	if (error == 0)
		return -EINVAL;
	*ret = error;
	return 0;
}

static int option_behaviour(struct test_writer *tw, int opt, const char *arg)
{
	struct behaviour *b;
	const char *rest;
	uint64_t ms;

	if (parse_event(arg, &b, &rest, tw) < 0)
		return -EINVAL;
	switch (opt) {
	case OPT_FAIL:
		b->fail = true;
		return option_failure(rest, &b->failure);
	case OPT_DELAY:
		if (!rest || parse_uint(rest, UINT32_MAX, &ms) < 0)
			return -EINVAL;
		b->delay_usec = ms * 1000;
		return 0;
	case OPT_HANG:
		b->hang = true;
		return rest ? -EINVAL : 0;
	case OPT_NO_HANDLER:
		b->no_handler = true;
		return rest || b == &tw->behaviour[SC_EVENT_IDENTIFY] ? -EINVAL : 0;
	default:
		b->crash = true;
		return rest ? -EINVAL : 0;
	}
}

static int option_level(const char *arg, int *ret)
{
	static const char *const names[_SC_APP_MAX] = {
		[SC_APP_SYSTEM] = "system",
		[SC_APP_BACK_END] = "back",
		[SC_APP_FRONT_END] = "front",
	};
	uint64_t n;

	for (int i = 0; i < _SC_APP_MAX; i++)
		if (names[i] && strcmp(names[i], arg) == 0) {
			*ret = i;
			return 0;
		}
	/* Numbers pass unchecked, so that tests can see the library refuse them. */
	if (parse_uint(arg, INT32_MAX, &n) < 0)
		return -EINVAL;
	*ret = (int)n;
	return 0;
}

static int option_loop(const char *arg, enum loop_mode *ret)
{
	static const char *const names[] = {
		[LOOP_RUN] = "run", [LOOP_POLL] = "poll", [LOOP_THREAD] = "thread",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(names[i], arg) == 0) {
			*ret = (enum loop_mode)i;
			return 0;
		}
	return -EINVAL;
}

static int option_number(const char *arg, int *ret)
{
	uint64_t n;

	if (parse_uint(arg, INT32_MAX, &n) < 0)
		return -EINVAL;
	*ret = (int)n;
	return 0;
}

static int option_file_set(struct test_writer *tw, const char *arg)
{
	const char **sets = reallocarray(tw->file_sets, tw->n_file_sets + 1, sizeof(*sets));

	if (!sets)
		return -ENOMEM;
	tw->file_sets = sets;
	sets[tw->n_file_sets++] = arg;
	return *arg ? 0 : -EINVAL;
}

/* One option with an argument; returns 0, or < 0 for a bad argument. */
static int option_apply(struct test_writer *tw, int opt, const char *arg)
{
	uint64_t n;

	switch (opt) {
	case OPT_SOCKET:
		tw->socket_path = arg;
		return 0;
	case OPT_CLASS:
		tw->have_class = true;
		return sc_id_from_string(arg, &tw->class_id);
	case OPT_NAME:
		tw->name = arg;
		return 0;
	case OPT_INSTANCE_NAME:
		tw->instance_name = arg;
		return 0;
	case OPT_LEVEL:
		return option_level(arg, &tw->level);
	case OPT_USAGE:
		return option_number(arg, &tw->usage);
	case OPT_SOURCE:
		return option_number(arg, &tw->source);
	case OPT_FREEZE_TIMEOUT:
		if (parse_uint(arg, UINT32_MAX, &n) < 0)
			return -EINVAL;
		tw->freeze_timeout_ms = (uint32_t)n;
		return 0;
	case OPT_METADATA:
		tw->metadata_path = arg;
		return 0;
	case OPT_LOG:
		tw->log_path = arg;
		return 0;
	case OPT_READY:
		tw->ready_path = arg;
		return 0;
	case OPT_LOOP:
		return option_loop(arg, &tw->loop);
	case OPT_FILE_SET:
		return option_file_set(tw, arg);
	case OPT_TOUCH:
		return touch_add(tw, arg);
	default:
		return option_behaviour(tw, opt, arg);
	}
}

int writer_options_parse(int argc, char **argv, struct test_writer *tw)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "class", required_argument, NULL, OPT_CLASS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "instance-name", required_argument, NULL, OPT_INSTANCE_NAME },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "usage", required_argument, NULL, OPT_USAGE },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "freeze-timeout-ms", required_argument, NULL, OPT_FREEZE_TIMEOUT },
		{ "metadata", required_argument, NULL, OPT_METADATA },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "print-ids", no_argument, NULL, OPT_PRINT_IDS },
		{ "subscribe-twice", no_argument, NULL, OPT_SUBSCRIBE_TWICE },
		{ "loop", required_argument, NULL, OPT_LOOP },
		{ "fail", required_argument, NULL, OPT_FAIL },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "hang", required_argument, NULL, OPT_HANG },
		{ "crash", required_argument, NULL, OPT_CRASH },
		{ "no-handler", required_argument, NULL, OPT_NO_HANDLER },
		{ "file-set", required_argument, NULL, OPT_FILE_SET },
		{ "touch", required_argument, NULL, OPT_TOUCH },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (c == 'h') {
			test_writer_help();
			return EXIT_SUCCESS;
		} else if (c == OPT_PRINT_IDS) {
			tw->print_ids = true;
		} else if (c == OPT_SUBSCRIBE_TWICE) {
			tw->subscribe_twice = true;
		} else if (c == '?' || option_apply(tw, c, optarg) < 0) {
			if (c != '?')
				fprintf(stderr, "test-writer: invalid argument '%s'\n", optarg);
			return WRITER_OPTIONS_USAGE;
		}
	}
	if (optind < argc || !tw->have_class) {
		fprintf(stderr, "test-writer: %s\n", optind < argc ? "unexpected argument"
								  : "--class is required");
		return WRITER_OPTIONS_USAGE;
	}
	return WRITER_OPTIONS_PROCEED;
}
