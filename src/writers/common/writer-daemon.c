/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-daemon.c - the skeleton every writer daemon shares: the command line
 * (--config, --socket, -n, --help, --version), SIGTERM/SIGINT through a
 * signalfd, the writer's creation, and a poll() loop around the library's fd
 * that ends with an unsubscribe.  What a writer does at each event is not here.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "writer-common.h"

#ifndef SHADOWCOPY_VERSION
#define SHADOWCOPY_VERSION "unknown"
#endif

static void writer_daemon_help(const struct writer_program *prog)
{
	printf("Usage: %s [--config FILE] [--socket PATH]\n"
	       "       %s -n [--config FILE]\n"
	       "       %s --help | --version\n"
	       "\n"
	       "%s\n"
	       "\n"
	       "  -c, --config FILE  the configuration (default %s)\n"
	       "  -s, --socket PATH  the service's writer socket (default\n"
	       "                     $SHADOWCOPY_WRITER_SOCKET, else $SHADOWCOPY_SOCKET,\n"
	       "                     else %s)\n"
	       "  -n, --check        check the configuration, print it and exit\n"
	       "  -h, --help         show this help\n"
	       "      --version      show the version\n"
	       "\n"
	       "Runs until SIGTERM or SIGINT, then unsubscribes and exits 0.\n"
	       "Exit status 1 when the service cannot be reached, 2 on a usage or\n"
	       "configuration error.  See %s(8).\n",
	       prog->name, prog->name, prog->name, prog->summary, prog->default_config,
	       SC_DEFAULT_WRITER_SOCKET, prog->name);
}

/* 1: run; 0: done (help, version); -EINVAL: usage error, already reported. */
int writer_daemon_parse_args(const struct writer_program *prog, int argc, char **argv,
			     struct writer_args *ret)
{
	enum { OPT_VERSION = 0x100 };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{}
	};
	struct writer_args a = { .config = prog->default_config };
	int c;

	while ((c = getopt_long(argc, argv, "c:s:nh", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 's':
			a.socket = optarg;
			break;
		case 'n':
			a.check = true;
			break;
		case 'h':
			writer_daemon_help(prog);
			return 0;
		case OPT_VERSION:
			printf("%s %s (libshadowcopy %s)\n", prog->name, SHADOWCOPY_VERSION,
			       sc_version());
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog->name);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", prog->name,
			argv[optind], prog->name);
		return -EINVAL;
	}
	*ret = a;
	return 1;
}

/*
 * Block SIGTERM and SIGINT before anything else runs and return a signalfd
 * for them, so that the loop sees them between two events: a handler in the
 * middle of a Freeze is never interrupted.  Children must unblock them.
 */
static int writer_daemon_block_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &set, NULL); /* valid arguments: cannot fail */
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return wlog_error_errno(-errno, "Failed to create a signalfd");
	return fd;
}

static int writer_daemon_new(const struct writer_identity *id, const char *socket_path,
			     struct sc_writer **ret)
{
	struct sc_writer *w = NULL;
	struct sc_id class_id;
	int r;

	if ((r = sc_id_from_string(id->class_id, &class_id)) < 0 || (r = sc_writer_new(&w)) < 0)
		return wlog_error_errno(r, "Failed to create the writer");
	(void)sc_writer_set_log(w, wlog_library, NULL); /* always 0 */
	r = sc_writer_initialize(w, &class_id, id->name, id->instance_name, id->usage,
				 id->source, id->level, id->freeze_timeout_ms);
	if (r >= 0 && socket_path)
		r = sc_writer_set_socket(w, socket_path);
	if (r < 0) {
		sc_writer_free(w);
		return wlog_error_errno(r, "Failed to initialize the writer");
	}
	*ret = w;
	return 0;
}

static int poll_timeout_ms(uint64_t deadline_usec)
{
	uint64_t now = now_usec(), ms;

	if (deadline_usec == UINT64_MAX)
		return -1;
	if (deadline_usec <= now)
		return 0;
	ms = (deadline_usec - now + 999) / 1000; /* round up: never wake early */
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Whether a termination signal is pending on @signal_fd (and consume it). */
static bool writer_daemon_signalled(int signal_fd)
{
	struct signalfd_siginfo si;

	if (read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return false;
	wlog_info("Received %s, unsubscribing", strsignal((int)si.ssi_signo));
	return true;
}

/*
 * Process the writer until SIGTERM/SIGINT, then unsubscribe (the library runs
 * the Abort handler itself if a Freeze is in force).  Returns 0 or -errno.
 */
static int writer_daemon_run(struct sc_writer *w, int signal_fd)
{
	struct pollfd p[2] = {
		{ .fd = sc_writer_get_fd(w), .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};
	uint64_t deadline;
	int r;

	for (;;) {
		if ((r = sc_writer_process(w)) < 0)
			return wlog_error_errno(r, "The writer failed");
		if (r > 0)
			continue; /* there may be more: process until idle */
		if ((r = sc_writer_get_timeout(w, &deadline)) < 0)
			return wlog_error_errno(r, "The writer failed");
		if (poll(p, ELEMENTS_OF(p), poll_timeout_ms(deadline)) < 0 && errno != EINTR)
			return wlog_error_errno(-errno, "poll() failed");
		if ((p[1].revents & POLLIN) && writer_daemon_signalled(signal_fd))
			break;
	}
	r = sc_writer_unsubscribe(w);
	if (r < 0 && r != -SC_E_BAD_STATE) /* BAD_STATE: the link was down anyway */
		wlog_warning_errno(r, "Failed to unsubscribe, ignoring");
	return 0;
}

static int writer_daemon_install(struct sc_writer *w, const struct writer_daemon *d)
{
	int r = sc_writer_on_identify(w, d->identify, d->userdata);

	for (size_t i = 0; r >= 0 && i < d->n_handlers; i++)
		r = sc_writer_on_event(w, d->handlers[i].event, d->handlers[i].handler,
				       d->userdata);
	if (r < 0)
		return wlog_error_errno(r, "Failed to install the event handlers");
	return 0;
}

int writer_daemon_serve(const struct writer_daemon *d, const char *socket_path)
{
	struct sc_writer *w = NULL;
	int signal_fd, r;

	if ((signal_fd = writer_daemon_block_signals()) < 0)
		return WRITER_EXIT_FAILURE;
	r = writer_daemon_new(&d->identity, socket_path, &w);
	if (r >= 0)
		r = writer_daemon_install(w, d);
	if (r >= 0 && (r = sc_writer_subscribe(w)) < 0)
		wlog_error_errno(r, "Failed to subscribe");
	if (r >= 0) {
		wlog_info("Subscribed as '%s' (instance '%s'), %s", d->identity.name,
			  d->identity.instance_name, d->description);
		r = writer_daemon_run(w, signal_fd);
	}
	sc_writer_free(w); /* unsubscribed; if still frozen, the library aborts first */
	(void)close(signal_fd);
	return r < 0 ? WRITER_EXIT_FAILURE : WRITER_EXIT_OK;
}
