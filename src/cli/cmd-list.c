/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-list.c - "shadowcopy list [--set ID]": the snapshots the service
 * keeps, of every context and state, as 'vssadmin list shadows' shows them,
 * through the admin method list_snapshots (protocol.md §8).  It checks the
 * answer and hands it to the output layer; it formats nothing itself.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "client.h"
#include "json-util.h"

static void list_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] list [--set ID]\n"
	       "\n"
	       "List the shadow copies (snapshots), grouped by snapshot set, oldest first,\n"
	       "as 'vssadmin list shadows' does.\n"
	       "\n"
	       "  --set ID     only the snapshots of this snapshot set\n"
	       "  --json       print the service's data as JSON\n"
	       "  -h, --help   show this help\n");
}

static int list_parse(int argc, char **argv, struct cli *cli, json_t *params)
{
	enum { OPT_SET = CLI_OPT_FIRST_COMMAND_OPTION };
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{ "set", required_argument, NULL, OPT_SET },
		{}
	};
	struct sc_id id;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		if (c == 'h') {
			list_help();
			return CLI_EXIT_OK;
		} else if (c == OPT_SET) {
			if (sc_id_from_string(optarg, &id) < 0)
				return cli_usage_error("list", "'%s' is not an id", optarg);
			if (json_set(params, "set_id", json_id(&id)) < 0)
				return cli_error(-ENOMEM, "cannot list shadow copies");
		} else if ((r = cli_global_option(cli, "list", c, argv)) != CLI_PROCEED) {
			return r;
		}
	}
	if (optind < argc)
		return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
	return CLI_PROCEED;
}

int cmd_list(int argc, char **argv, struct cli *cli)
{
	_cleanup_json_ json_t *params = json_object(), *result = NULL;
	struct client *c = NULL;
	json_t *snapshots = NULL;
	int r;

	if (!params)
		return cli_error(-ENOMEM, "cannot list shadow copies");
	r = list_parse(argc, argv, cli, params);
	if (r != CLI_PROCEED)
		return r;
	r = cli_connect(cli, "admin", &c);
	if (r != CLI_EXIT_OK)
		return r;
	r = cli_call(c, "list_snapshots", TAKE_PTR(params), "cannot list shadow copies",
		     &result);
	c = client_free(c);
	if (r != CLI_EXIT_OK)
		return r;
	r = check_array(result, "snapshots", check_snapshot, &snapshots);
	if (r < 0)
		return cli_error(r, "the service's list of shadow copies is malformed");
	r = cli->output->snapshots(snapshots);
	if (r < 0)
		return cli_error(r, "cannot write the list of shadow copies");
	return CLI_EXIT_OK;
}
