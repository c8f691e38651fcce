/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - shadowcopyd's start-up checklist: options, configuration, the
 * freeze record (what a service that died left frozen is thawed first),
 * the open-file limit, the state directory and its catalog, the event loop
 * and its signals, the freeze guardian, recovery, the sockets, readiness;
 * then the loop, and an orderly exit.  `--guardian` and `--recover` run
 * their one job instead.  The service never daemonizes: systemd (or
 * whoever starts it) supervises it as it is.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "catalog.h"
#include "daemon.h"
#include "freeze-record.h"
#include "guardian.h"
#include "log.h"

#define EXIT_USAGE 2

struct options {
	const char *config_file;
	const char *socket_path;
	const char *writer_socket_path;
	const char *state_dir;
	const char *group;
	bool check_config;
	bool recover;
};

static void help(void)
{
	printf("Usage: shadowcopyd [OPTIONS]\n\n"
	       "The Shadowcopy service: coordinates writers, requesters and snapshots.\n\n"
	       "  -h, --help                Show this help and exit\n"
	       "      --version             Show the version and exit\n"
	       "      --socket PATH         Control socket [/run/shadowcopy/shadowcopyd.sock]\n"
	       "      --writer-socket PATH  Writer socket [writer.sock beside the control socket]\n"
	       "      --state-dir DIR       State directory [/var/lib/shadowcopy]\n"
	       "      --config FILE         Configuration file, see shadowcopy.conf(5)\n"
	       "      --group NAME          Group of the requester and admin roles [shadowcopy]\n"
	       "  -d, --foreground          Stay in the foreground (the service always does)\n"
	       "  -n, --check-config        Check the configuration, print it and exit\n"
	       "      --recover             Thaw what a service that died left frozen, and exit\n");
}

/* Returns 1 to run, 0 to exit successfully (help, version), or -EINVAL. */
static int parse_argv(int argc, char *argv[], struct options *ret)
{
	enum { ARG_VERSION = 0x100, ARG_SOCKET, ARG_WRITER_SOCKET, ARG_STATE_DIR, ARG_CONFIG,
	       ARG_GROUP, ARG_RECOVER };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "socket", required_argument, NULL, ARG_SOCKET },
		{ "writer-socket", required_argument, NULL, ARG_WRITER_SOCKET },
		{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "group", required_argument, NULL, ARG_GROUP },
		{ "foreground", no_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "recover", no_argument, NULL, ARG_RECOVER },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "hdn", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("shadowcopyd %s\n", sc_version());
			return 0;
		case ARG_SOCKET:
			ret->socket_path = optarg;
			break;
		case ARG_WRITER_SOCKET:
			ret->writer_socket_path = optarg;
			break;
		case ARG_STATE_DIR:
			ret->state_dir = optarg;
			break;
		case ARG_CONFIG:
			ret->config_file = optarg;
			break;
		case ARG_GROUP:
			ret->group = optarg;
			break;
		case 'd':
			break; /* we never daemonize */
		case 'n':
			ret->check_config = true;
			break;
		case ARG_RECOVER:
			ret->recover = true;
			break;
		default:
			return -EINVAL; /* getopt said why */
		}
	}
	if (optind < argc) {
		log_error("Unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/* The file first, then the command line over it. */
static int load_config(struct config *config, const struct options *o)
{
	const struct {
		const char *key, *value;
	} overrides[] = {
		{ "socket", o->socket_path },
		{ "writer-socket", o->writer_socket_path },
		{ "state-dir", o->state_dir },
		{ "group", o->group },
	};
	int r;

	if (o->config_file && (r = config_load(config, o->config_file)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (overrides[i].value &&
		    (r = config_set(config, "service", overrides[i].key, overrides[i].value)) < 0)
			return r;
	return config_finish(config);
}

static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warning_errno(errno, "Failed to read the open-file limit, ignoring");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(errno, "Failed to raise the open-file limit, ignoring");
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("Received signal %u, exiting", si->ssi_signo);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int add_signals(sd_event *event)
{
	sigset_t mask;
	int r;

	/* sd-event's signalfd needs the signals blocked. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	r = sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL);
	return r;
}

static void start_serving(struct daemon *d)
{
	int r;

	if (d->serving || d->exiting)
		return;
	d->serving = true;
	r = server_start(d);
	if (r < 0) {
		(void)sd_event_exit(d->event, r);
		return;
	}
	(void)sd_notify(0, "READY=1"); /* without systemd there is no one to tell */
	log_info("shadowcopyd %s ready", sc_version());
}

/* Clients see the catalog only once it is reconciled with the disks. */
static void on_recovered(struct daemon *d)
{
	d->recovery_timer = sd_event_source_disable_unref(d->recovery_timer);
	start_serving(d);
}

/* A provider that hangs must not keep the service from serving. */
static int on_recovery_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	log_warning("Recovery has not finished in time, serving meanwhile");
	d->recovery_timer = sd_event_source_disable_unref(d->recovery_timer);
	start_serving(d);
	return 0;
}

static int serve(struct daemon *d)
{
	int r;

	r = add_signals(d->event);
	if (r < 0)
		return log_error_errno(r, "Failed to watch signals");
	r = worker_setup(d);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(d->event, &d->recovery_timer, CLOCK_MONOTONIC,
				       d->config->provider_usec, USEC_PER_MSEC,
				       on_recovery_timeout, d);
	if (r >= 0)
		r = recovery_start(d, on_recovered);
	if (r < 0)
		return log_error_errno(r, "Failed to start recovery");
	r = sd_event_loop(d->event);
	d->exiting = true;
	(void)sd_notify(0, "STOPPING=1");
	if (r < 0)
		return log_error_errno(r, "Event loop failed");
	return 0;
}

static void log_testing(const struct config *c)
{
	for (int i = 0; i < _PROVIDER_STEP_MAX; i++) {
		if (c->testing.fail[i])
			log_warning("TESTING SWITCH: provider step %s fails with %s",
				    provider_step_name(i), sc_error_name(c->testing.fail[i]));
		if (c->testing.delay_usec[i])
			log_warning("TESTING SWITCH: provider step %s waits %llu ms first",
				    provider_step_name(i),
				    (unsigned long long)(c->testing.delay_usec[i] / USEC_PER_MSEC));
	}
}

/* Sessions after connections (whose operations they own), jobs after
 * sessions (which abandon theirs), the catalog last (jobs still write it). */
static void teardown(struct daemon *d)
{
	connection_free_all(d);
	session_free_all(d);
	worker_teardown(d);
	/* After the jobs: a thaw delivered there releases the guardian's hold. */
	d->guardian = guardian_free(d->guardian);
	server_stop(d);
	d->recovery_timer = sd_event_source_disable_unref(d->recovery_timer);
	d->catalog = catalog_close(d->catalog);
	sd_event_unref(d->event);
}

static int run(const struct config *config)
{
	struct daemon d = { .config = config, .worker_pipe = { -1, -1 }, .gate = HOLD_GATE_INIT };
	int r;

	TAILQ_INIT(&d.connections);
	TAILQ_INIT(&d.writers);
	TAILQ_INIT(&d.sessions);
	raise_nofile_limit();
	log_testing(config);
	r = fs_mkdir_parents(config->state_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "Failed to create the state directory '%s'",
				       config->state_dir);
	r = catalog_open(config->state_dir, &d.catalog);
	if (r < 0)
		return log_error_errno(r, "Failed to open the catalog in '%s'", config->state_dir);
	r = sd_event_new(&d.event);
	if (r < 0) {
		catalog_close(d.catalog);
		return log_error_errno(r, "Failed to create the event loop");
	}
	r = guardian_new(d.event, &d.guardian);
	if (r < 0)
		log_error_errno(r, "Failed to start the freeze guardian");
	else
		r = serve(&d);
	teardown(&d);
	return r;
}

static void print_thawed(const char *path, void *userdata)
{
	printf("Thawed %s\n", path);
}

static void log_thawed(const char *path, void *userdata)
{
	log_notice("Thawed %s, left frozen by a service that died (freeze record)", path);
}

/* What the freeze record names is thawed before anything else: a
 * filesystem left frozen would make anything that writes to it hang. */
static void recover_at_start(const struct config *config)
{
	int r = freeze_record_recover(config->state_dir, log_thawed, NULL);

	if (r < 0)
		log_error_errno(r, "Failed to thaw what the freeze record names, going on");
}

int main(int argc, char *argv[])
{
	struct options options = {};
	struct config config;
	int r;

	/* The guardian: nothing of the service's start-up, not even options. */
	if (argc > 1 && strcmp(argv[1], GUARDIAN_ARG) == 0)
		return guardian_main(argc, argv);
	log_set_ident("shadowcopyd");
	r = parse_argv(argc, argv, &options);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
	/* Our directories must be reachable whatever umask we inherited; the
	 * modes we want are given explicitly. */
	umask(022);
	config_init(&config);
	r = load_config(&config, &options);
	if (r >= 0)
		log_set_max_level(config.log_level);
	if (r >= 0 && options.check_config) {
		config_print(&config, stdout);
		printf("configuration OK\n");
	} else if (r >= 0 && options.recover) {
		r = freeze_record_recover(config.state_dir, print_thawed, NULL);
	} else if (r >= 0) {
		recover_at_start(&config);
		r = run(&config);
	}
	config_done(&config);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
