/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-create.c - "shadowcopy create [--no-writers] [--exclude-writer CLASS]...
 * [--provider NAME|ID] PATH...": one persistent snapshot set of the volumes
 * holding PATHs, made through the public requester API as a volume-mode copy
 * backup (vss-model 2.1), then described through the output layer.  It
 * selects no components and keeps no documents (the service does).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shadowcopy/requester.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "json-util.h"

/* Each phase ends at the service's deadline; this only keeps a wedged
 * service from hanging the tool (as cli_call's limit). */
#define CREATE_WAIT_USEC (300 * 1000000ull)

struct create_options {
	bool no_writers;
	struct sc_id *excluded; /* --exclude-writer classes */
	size_t n_excluded;
	const char *provider;   /* NULL: the service chooses */
	char **paths;
	size_t n_paths;
};

/* One run: the requester and what it has made so far. */
struct create {
	const struct create_options *o;
	struct sc_requester *r;
	struct sc_id provider_id;   /* null: the service chooses */
	struct sc_id set_id;        /* null until start_snapshot_set */
	struct sc_id *snapshot_ids; /* one per volume added so far (PATHs may share one) */
	size_t n_snapshots;
	bool gathered;              /* the writers' metadata is in */
	bool created;               /* do_snapshot_set succeeded */
	char what[4200];            /* the step that failed, for its message */
	char said[4200];            /* what the service said when it failed, or "" */
};

static void create_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] create [--no-writers]\n"
	       "                  [--exclude-writer CLASS]... [--provider NAME|ID] PATH...\n"
	       "\n"
	       "Create one persistent snapshot set of the volumes that hold each PATH, with\n"
	       "the writers whose files are on them frozen around the snapshot instant\n"
	       "(context app-rollback, a copy backup), and print the set, each snapshot and\n"
	       "where it is, and each writer that took part with its state.\n"
	       "\n"
	       "  --no-writers            no writers (context nas-rollback): crash-consistent\n"
	       "  --exclude-writer CLASS  leave the writers of this class out (repeatable)\n"
	       "  --provider NAME|ID      the provider to use (default: the service chooses)\n"
	       "  --json                  print what was made as JSON\n"
	       "  -h, --help              show this help\n"
	       "\n"
	       "Exit status 1 when any step fails, a writer included; a set that was made\n"
	       "is kept and printed all the same.\n");
}

static int create_exclude(struct create_options *o, const char *arg)
{
	struct sc_id *ids;

	ids = reallocarray(o->excluded, o->n_excluded + 1, sizeof(*ids));
	if (!ids)
		return cli_error(-ENOMEM, "cannot parse the command line");
	o->excluded = ids;
	if (sc_id_from_string(arg, &ids[o->n_excluded]) < 0)
		return cli_usage_error("create", "'%s' is not a writer class id", arg);
	o->n_excluded++;
	return CLI_PROCEED;
}

static int create_parse(int argc, char **argv, struct cli *cli, struct create_options *o)
{
	enum { OPT_NO_WRITERS = CLI_OPT_FIRST_COMMAND_OPTION, OPT_EXCLUDE, OPT_PROVIDER };
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{ "no-writers", no_argument, NULL, OPT_NO_WRITERS },
		{ "exclude-writer", required_argument, NULL, OPT_EXCLUDE },
		{ "provider", required_argument, NULL, OPT_PROVIDER },
		{}
	};
	int c, r = CLI_PROCEED;

	optind = 0;
	/* Options may follow the paths: "create /srv --json". */
	while (r == CLI_PROCEED && (c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h') {
			create_help();
			return CLI_EXIT_OK;
		} else if (c == OPT_NO_WRITERS) {
			o->no_writers = true;
		} else if (c == OPT_EXCLUDE) {
			r = create_exclude(o, optarg);
		} else if (c == OPT_PROVIDER) {
			o->provider = optarg;
		} else {
			r = cli_global_option(cli, "create", c, argv);
		}
	}
	if (r != CLI_PROCEED)
		return r;
	if (optind >= argc)
		return cli_usage_error("create", "no PATH given");
	if (o->no_writers && o->n_excluded > 0)
		return cli_usage_error("create",
				       "--exclude-writer and --no-writers exclude each other");
	o->paths = argv + optind;
	o->n_paths = (size_t)(argc - optind);
	return CLI_PROCEED;
}

/* Note which step failed (for the message) and return @r. */
static int create_fail(struct create *c, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int create_fail(struct create *c, int r, const char *fmt, ...)
{
	const char *said;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
	/* Kept now: the abort that follows is a new request, with its own answer. */
	said = sc_requester_get_last_error_message(c->r);
	snprintf(c->said, sizeof(c->said), "%s", said ? said : "");
	return r;
}

/* Start a long operation and wait for it: 0 or its error. */
static int create_long(struct create *c, int (*start)(struct sc_requester *, struct sc_async **))
{
	struct sc_async *a = NULL;
	int r = start(c->r, &a);

	if (r < 0)
		return r;
	r = sc_async_wait(a, CREATE_WAIT_USEC);
	sc_async_free(a);
	if (r == SC_ASYNC_PENDING)
		return -ETIMEDOUT; /* it goes on in the service until the abort */
	if (r == SC_ASYNC_CANCELLED)
		return -SC_E_CANCELLED;
	return r < 0 ? r : 0;
}

/* --provider NAME: the id of the provider of that name (Query). */
static int create_resolve_provider(struct create *c)
{
	struct sc_provider_info **providers = NULL;
	size_t n = 0;
	int r;

	if (!c->o->provider || sc_id_from_string(c->o->provider, &c->provider_id) >= 0)
		return 0;
	r = sc_requester_query_providers(c->r, &providers, &n);
	if (r < 0)
		return create_fail(c, r, "cannot list the providers");
	r = -SC_E_PROVIDER_NOT_REGISTERED;
	for (size_t i = 0; i < n && r < 0; i++) {
		if (strcmp(sc_provider_info_get_name(providers[i]), c->o->provider) != 0)
			continue;
		sc_provider_info_get_id(providers[i], &c->provider_id);
		r = 0;
	}
	sc_provider_info_array_free(providers, n);
	return r < 0 ? create_fail(c, r, "no provider is called '%s'", c->o->provider) : 0;
}

/* Everything before the set: context, backup state, writers, provider. */
static int create_begin(struct create *c)
{
	const struct create_options *o = c->o;
	uint32_t context = o->no_writers ? SC_CTX_NAS_ROLLBACK : SC_CTX_APP_ROLLBACK;
	int r;

	if ((r = sc_requester_initialize_for_backup(c->r, NULL)) < 0)
		return create_fail(c, r, "cannot initialize the backup");
	if ((r = sc_requester_set_context(c->r, context)) < 0)
		return create_fail(c, r, "cannot set the context %s", sc_context_name(context));
	/* Volume mode; a copy backup leaves the applications' backup history alone. */
	if ((r = sc_requester_set_backup_state(c->r, false, false, SC_BT_COPY, false)) < 0)
		return create_fail(c, r, "cannot set the backup state");
	if ((r = create_resolve_provider(c)) < 0)
		return r;
	if (o->no_writers)
		return 0;
	if (o->n_excluded > 0 &&
	    (r = sc_requester_disable_writer_classes(c->r, o->excluded, o->n_excluded)) < 0)
		return create_fail(c, r, "cannot exclude the writer classes");
	if ((r = create_long(c, sc_requester_gather_writer_metadata)) < 0)
		return create_fail(c, r, "cannot gather the writers' metadata");
	c->gathered = true;
	return 0;
}

/* The set itself: start, add each volume, prepare, commit. */
static int create_snapshot_set(struct create *c)
{
	const struct create_options *o = c->o;
	const struct sc_id *provider = sc_id_is_null(&c->provider_id) ? NULL : &c->provider_id;
	int r;

	if ((r = sc_requester_start_snapshot_set(c->r, &c->set_id)) < 0)
		return create_fail(c, r, "cannot start a snapshot set");
	for (size_t i = 0; i < o->n_paths; i++) {
		_cleanup_free_ char *path = NULL;

		r = cli_absolute_path(o->paths[i], &path);
		if (r >= 0)
			r = sc_requester_add_to_snapshot_set(c->r, path, provider,
							     &c->snapshot_ids[c->n_snapshots]);
		/* Two PATHs on one volume: its one snapshot holds both. */
		if (r == -SC_E_OBJECT_ALREADY_EXISTS)
			continue;
		if (r < 0)
			return create_fail(c, r, "cannot add '%s' to the snapshot set",
					   o->paths[i]);
		c->n_snapshots++;
	}
	if (!o->no_writers && (r = create_long(c, sc_requester_prepare_for_backup)) < 0)
		return create_fail(c, r, "cannot prepare the writers for the backup");
	if ((r = create_long(c, sc_requester_do_snapshot_set)) < 0)
		return create_fail(c, r, "cannot create the snapshot set");
	c->created = true;
	return 0;
}

/* GatherWriterStatus into @writers as protocol.md's STATUS objects. */
static int create_status(struct create *c, json_t *writers)
{
	struct sc_id instance_id, class_id;
	enum sc_writer_state state;
	const char *name;
	int failure, r;
	size_t n = 0;

	r = create_long(c, sc_requester_gather_writer_status);
	if (r >= 0)
		r = sc_requester_get_writer_status_count(c->r, &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = sc_requester_get_writer_status(c->r, i, &instance_id, &class_id, &name,
						   &state, &failure);
		if (r >= 0 && json_array_append_new(
				      writers, json_pack("{s:o, s:o, s:s, s:i, s:s}", "instance_id",
							 json_id(&instance_id), "class_id",
							 json_id(&class_id), "name", name, "state",
							 (int)state, "failure",
							 sc_error_name(failure))) < 0)
			r = -ENOMEM;
	}
	return r;
}

/* One snapshot's properties as protocol.md's SNAPSHOT object. */
static int create_snapshot_json(struct create *c, const struct sc_id *id, json_t **ret)
{
	struct sc_snapshot_info *si = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *s = NULL;
	int r;

	r = sc_requester_get_snapshot_properties(c->r, id, &si);
	if (r < 0)
		return r;
	text = sc_snapshot_info_to_json(si);
	si = sc_snapshot_info_free(si);
	if (!text)
		return -ENOMEM;
	s = json_loads(text, 0, NULL);
	if (!s || check_snapshot(s) < 0)
		return -SC_E_INVALID_MESSAGE; /* the library wrote something else */
	*ret = TAKE_PTR(s);
	return 0;
}

static int create_snapshots(struct create *c, json_t *snapshots)
{
	json_t *s;
	int r;

	for (size_t i = 0; i < c->n_snapshots; i++) {
		if ((r = create_snapshot_json(c, &c->snapshot_ids[i], &s)) < 0)
			return r;
		if (json_array_append_new(snapshots, s) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Name each writer that failed on stderr; CLI_EXIT_FAILED if any did. */
static int create_check_writers(json_t *writers)
{
	int status = CLI_EXIT_OK;
	const char *failure, *state_name;
	json_int_t state;
	json_t *w;
	size_t i;

	json_array_foreach(writers, i, w) {
		state = json_integer_value(json_object_get(w, "state"));
		if (state != SC_WS_UNKNOWN && state < SC_WS_FAILED_AT_IDENTIFY)
			continue;
		failure = json_string_value(json_object_get(w, "failure"));
		state_name = sc_writer_state_name((enum sc_writer_state)state);
		fprintf(stderr, "shadowcopy: writer '%s': %s: %s (%s)\n",
			json_string_value(json_object_get(w, "name")),
			state_name ? state_name : "UNKNOWN", sc_strerror(sc_error_from_name(failure)),
			failure);
		status = CLI_EXIT_FAILED;
	}
	return status;
}

/* After a set was made: status (before BackupComplete, so that the writers
 * that took part show "Waiting for completion"), BackupComplete, the
 * snapshots' properties.  Returns the exit status so far, updated. */
static int create_complete(struct create *c, json_t *writers, json_t *snapshots, int status)
{
	int r;

	if (c->gathered && (r = create_status(c, writers)) < 0)
		status = cli_error(r, "cannot gather the writers' status");
	if (c->gathered && (r = create_long(c, sc_requester_backup_complete)) < 0)
		status = cli_error(r, "cannot complete the backup");
	if ((r = create_snapshots(c, snapshots)) < 0)
		status = cli_error(r, "cannot read the snapshots' properties");
	return status;
}

static int create_run(struct create *c, const struct cli *cli)
{
	_cleanup_json_ json_t *writers = json_array(), *snapshots = json_array(), *report = NULL;
	uint32_t context = c->o->no_writers ? SC_CTX_NAS_ROLLBACK : SC_CTX_APP_ROLLBACK;
	char set[SC_ID_STRING_MAX];
	int r, status = CLI_EXIT_OK;

	r = create_begin(c);
	if (r >= 0)
		r = create_snapshot_set(c);
	if (r < 0) {
		/* B1, A16: whenever a started set stops; ignored if nothing is under way. */
		if (!sc_id_is_null(&c->set_id))
			(void)sc_requester_abort_backup(c->r);
		status = cli_error(r, c->what);
		cli_service_said(c->said);
		/* Who failed, unless the service is gone. */
		if (c->gathered && status != CLI_EXIT_UNREACHABLE)
			(void)create_status(c, writers);
	} else {
		status = create_complete(c, writers, snapshots, status);
	}
	if (create_check_writers(writers) != CLI_EXIT_OK && status == CLI_EXIT_OK)
		status = CLI_EXIT_FAILED;
	report = json_pack("{s:o, s:s, s:O, s:O}", "snapshot_set_id", json_id(&c->set_id),
			   "context", sc_context_name(context), "snapshots", snapshots, "writers",
			   writers);
	r = report ? cli->output->created(report) : -ENOMEM;
	if (r < 0)
		status = cli_error(r, "cannot write the report");
	if (c->created && status != CLI_EXIT_OK)
		fprintf(stderr, "shadowcopy: the snapshot set {%s} was made and is kept\n",
			sc_id_to_string(&c->set_id, set));
	return status;
}

/* Connect, run, disconnect (which ends the session in the service). */
static int create_main(struct create *c, const struct cli *cli)
{
	char what[4200];
	int r, status;

	c->snapshot_ids = calloc(c->o->n_paths, sizeof(*c->snapshot_ids));
	if (!c->snapshot_ids)
		return cli_error(-ENOMEM, "cannot create the snapshot set");
	r = sc_requester_new(cli_socket_path(cli), &c->r);
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot connect to %s", cli_socket_path(cli));
		/* Whatever the cause, a failed handshake means no service for us. */
		(void)cli_error(r, what);
		status = CLI_EXIT_UNREACHABLE;
	} else {
		status = create_run(c, cli);
	}
	c->r = sc_requester_free(c->r);
	free(c->snapshot_ids);
	c->snapshot_ids = NULL;
	return status;
}

int cmd_create(int argc, char **argv, struct cli *cli)
{
	struct create_options o = {};
	struct create c = { .o = &o };
	int r;

	r = create_parse(argc, argv, cli, &o);
	if (r == CLI_PROCEED)
		r = create_main(&c, cli);
	free(o.excluded);
	return r;
}
