/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-delete.c - "shadowcopy delete ID | --set ID | --oldest PATH | --all":
 * delete snapshots through the admin method delete_snapshots (protocol.md
 * §8), print how many went, and report the first one that did not.  It
 * decides nothing about what may be deleted: the service does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "client.h"
#include "json-util.h"

static void delete_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] delete ID\n"
	       "       shadowcopy [--socket PATH] [--json] delete --set ID\n"
	       "       shadowcopy [--socket PATH] [--json] delete --oldest PATH | --all\n"
	       "\n"
	       "Delete shadow copies (snapshots) of any context: one snapshot by its id,\n"
	       "every snapshot of a set, the oldest snapshot of the volume holding PATH, or\n"
	       "all of them.  Members of a set go one by one; the first failure stops it.\n"
	       "\n"
	       "  --set ID       every snapshot of the snapshot set ID\n"
	       "  --oldest PATH  the oldest snapshot of the volume that holds PATH\n"
	       "  --all          every snapshot the service keeps\n"
	       "  --json         print the service's answer as JSON\n"
	       "  -h, --help     show this help\n");
}

/* Add {"id": ID, "type": @type} to @params; a usage error for a bad id. */
static int delete_by_id(json_t *params, const char *arg, const char *type)
{
	struct sc_id id;

	if (sc_id_from_string(arg, &id) < 0)
		return cli_usage_error("delete", "'%s' is not an id", arg);
	if (json_set(params, "id", json_id(&id)) < 0 ||
	    json_set(params, "type", json_string(type)) < 0)
		return cli_error(-ENOMEM, "cannot delete shadow copies");
	return CLI_PROCEED;
}

enum { OPT_SET = CLI_OPT_FIRST_COMMAND_OPTION, OPT_OLDEST, OPT_ALL, OPT_ID };

/* One selector into @params, refusing a second one. */
static int delete_select(json_t *params, int opt, const char *arg)
{
	_cleanup_free_ char *path = NULL;

	if (json_object_size(params) > 0)
		return cli_usage_error("delete", "give one of ID, --set, --oldest and --all");
	switch (opt) {
	case OPT_SET:
		return delete_by_id(params, arg, "set");
	case OPT_OLDEST:
		if (cli_absolute_path(arg, &path) < 0 ||
		    json_set(params, "oldest", json_string(path)) < 0)
			return cli_error(-ENOMEM, "cannot delete shadow copies");
		return CLI_PROCEED;
	case OPT_ALL:
		if (json_set(params, "all", json_true()) < 0)
			return cli_error(-ENOMEM, "cannot delete shadow copies");
		return CLI_PROCEED;
	default:
		return delete_by_id(params, arg, "snapshot");
	}
}

static int delete_parse(int argc, char **argv, struct cli *cli, json_t *params)
{
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{ "set", required_argument, NULL, OPT_SET },
		{ "oldest", required_argument, NULL, OPT_OLDEST },
		{ "all", no_argument, NULL, OPT_ALL },
		{}
	};
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		if (c == 'h') {
			delete_help();
			return CLI_EXIT_OK;
		} else if (c == OPT_SET || c == OPT_OLDEST || c == OPT_ALL) {
			r = delete_select(params, c, optarg);
		} else {
			r = cli_global_option(cli, "delete", c, argv);
		}
		if (r != CLI_PROCEED)
			return r;
	}
	if (optind < argc && (r = delete_select(params, OPT_ID, argv[optind++])) != CLI_PROCEED)
		return r;
	if (optind < argc)
		return cli_usage_error("delete", "unexpected argument '%s'", argv[optind]);
	if (json_object_size(params) == 0)
		return cli_usage_error("delete", "give ID, --set, --oldest or --all");
	return CLI_PROCEED;
}

/* The first snapshot the service could not delete, if any: exit status 1. */
static int delete_report_failure(json_t *result)
{
	const char *failure = json_string_value(json_object_get(result, "failure"));
	int error = sc_error_from_name(failure);

	if (strcmp(failure, "OK") == 0)
		return CLI_EXIT_OK;
	/* The service's name, even one this tool does not know. */
	fprintf(stderr, "shadowcopy: cannot delete shadow copy {%s}: %s (%s)\n",
		json_string_value(json_object_get(result, "non_deleted_id")),
		error ? sc_strerror(error) : "Unknown error", failure);
	return CLI_EXIT_FAILED;
}

int cmd_delete(int argc, char **argv, struct cli *cli)
{
	_cleanup_json_ json_t *params = json_object(), *result = NULL;
	struct client *c = NULL;
	int r;

	if (!params)
		return cli_error(-ENOMEM, "cannot delete shadow copies");
	r = delete_parse(argc, argv, cli, params);
	if (r != CLI_PROCEED)
		return r;
	r = cli_connect(cli, "admin", &c);
	if (r != CLI_EXIT_OK)
		return r;
	r = cli_call(c, "delete_snapshots", TAKE_PTR(params), "cannot delete shadow copies",
		     &result);
	c = client_free(c);
	if (r != CLI_EXIT_OK)
		return r;
	r = check_delete_result(result);
	if (r < 0)
		return cli_error(r, "the service's answer to delete is malformed");
	r = cli->output->deleted(result);
	if (r < 0)
		return cli_error(r, "cannot write the result");
	return delete_report_failure(result);
}
