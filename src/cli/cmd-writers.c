/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmd-writers.c - "shadowcopy writers [--metadata]": the subscribed writers
 * as vssadmin's "list writers" shows them, through the admin method
 * list_writers (protocol.md §8).  It checks the service's answer before the
 * output layer sees it; it does not format anything itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "client.h"
#include "json-util.h"
#include "metadata.h"

static void writers_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] writers [--metadata]\n"
	       "\n"
	       "List the writers subscribed to shadowcopyd, as 'vssadmin list writers' does.\n"
	       "\n"
	       "  --metadata   ask every writer for its metadata (Identify) and show its\n"
	       "               components, file sets, excludes and restore method\n"
	       "  --json       print the service's data as JSON\n"
	       "  -h, --help   show this help\n");
}

/* One list_writers ENTRY: the fields the views read must be what they say. */
static int writers_check_entry(json_t *entry)
{
	struct sc_id id;
	const char *s;
	int64_t n;
	int r;

	if ((r = json_get_id(entry, "class_id", true, &id)) < 0 ||
	    (r = json_get_id(entry, "instance_id", true, &id)) < 0 ||
	    (r = json_get_string(entry, "name", true, &s)) < 0 ||
	    (r = json_get_string(entry, "instance_name", false, &s)) < 0 ||
	    (r = json_get_int(entry, "uid", true, 0, UINT32_MAX, &n)) < 0 ||
	    (r = json_get_int(entry, "pid", true, 0, INT32_MAX, &n)) < 0 ||
	    (r = json_get_int(entry, "state", true, 0, INT32_MAX, &n)) < 0 ||
	    (r = json_get_string(entry, "failure", true, &s)) < 0)
		return r;
	if (!json_object_get(entry, "metadata"))
		return 0;
	return metadata_check(json_object_get(entry, "metadata"));
}

static int writers_check(json_t *result, json_t **ret_writers)
{
	json_t *writers = NULL, *entry;
	size_t i;
	int r;

	r = json_get_array(result, "writers", true, JSON_OBJECT, &writers);
	if (r < 0)
		return r;
	json_array_foreach(writers, i, entry)
		if ((r = writers_check_entry(entry)) < 0)
			return r;
	*ret_writers = writers;
	return 0;
}

static int writers_parse(int argc, char **argv, struct cli *cli, bool *ret_metadata)
{
	enum { OPT_METADATA = CLI_OPT_FIRST_COMMAND_OPTION };
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{ "metadata", no_argument, NULL, OPT_METADATA },
		{}
	};
	bool metadata = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		if (c == 'h') {
			writers_help();
			return CLI_EXIT_OK;
		} else if (c == OPT_METADATA) {
			metadata = true;
		} else if ((r = cli_global_option(cli, "writers", c, argv)) != CLI_PROCEED) {
			return r;
		}
	}
	if (optind < argc)
		return cli_usage_error("writers", "unexpected argument '%s'", argv[optind]);
	*ret_metadata = metadata;
	return CLI_PROCEED;
}

int cmd_writers(int argc, char **argv, struct cli *cli)
{
	_cleanup_json_ json_t *result = NULL;
	struct client *c = NULL;
	json_t *writers = NULL;
	bool metadata = false;
	int r;

	r = writers_parse(argc, argv, cli, &metadata);
	if (r != CLI_PROCEED)
		return r;
	r = cli_connect(cli, "admin", &c);
	if (r != CLI_EXIT_OK)
		return r;
	r = cli_call(c, "list_writers", json_pack("{s:b}", "metadata", metadata),
		     "cannot list writers", &result);
	c = client_free(c);
	if (r != CLI_EXIT_OK)
		return r;
	r = writers_check(result, &writers);
	if (r < 0)
		return cli_error(r, "the service's list of writers is malformed");
	r = cli->output->writers(writers, metadata);
	if (r < 0)
		return cli_error(r, "cannot write the list of writers");
	return CLI_EXIT_OK;
}
