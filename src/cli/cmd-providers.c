/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-providers.c - "shadowcopy providers": the snapshot providers the
 * service knows, as 'vssadmin list providers' shows them, through the admin
 * method list_providers (protocol.md §8).  It checks the answer and hands it
 * to the output layer; it formats nothing itself.
 */
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "client.h"

static void providers_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] providers\n"
	       "\n"
	       "List the snapshot providers, as 'vssadmin list providers' does.\n"
	       "\n"
	       "  --json       print the service's data as JSON\n"
	       "  -h, --help   show this help\n");
}

static int providers_parse(int argc, char **argv, struct cli *cli)
{
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{}
	};
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		if (c == 'h') {
			providers_help();
			return CLI_EXIT_OK;
		} else if ((r = cli_global_option(cli, "providers", c, argv)) != CLI_PROCEED) {
			return r;
		}
	}
	if (optind < argc)
		return cli_usage_error("providers", "unexpected argument '%s'", argv[optind]);
	return CLI_PROCEED;
}

int cmd_providers(int argc, char **argv, struct cli *cli)
{
	_cleanup_json_ json_t *result = NULL;
	struct client *c = NULL;
	json_t *providers = NULL;
	int r;

	r = providers_parse(argc, argv, cli);
	if (r != CLI_PROCEED)
		return r;
	r = cli_connect(cli, "admin", &c);
	if (r != CLI_EXIT_OK)
		return r;
	r = cli_call(c, "list_providers", NULL, "cannot list providers", &result);
	c = client_free(c);
	if (r != CLI_EXIT_OK)
		return r;
	r = check_array(result, "providers", check_provider, &providers);
	if (r < 0)
		return cli_error(r, "the service's list of providers is malformed");
	r = cli->output->providers(providers);
	if (r < 0)
		return cli_error(r, "cannot write the list of providers");
	return CLI_EXIT_OK;
}
