/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shadowcopy.c - main() of the shadowcopy tool: global options, then one
 * subcommand from the table below.  Each subcommand lives in its own
 * cmd-<name>.c; this file knows their names and nothing of their work.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, struct cli *cli);
	const char *summary;
} commands[] = {
	{ "writers", cmd_writers, "list the subscribed writers (--metadata: and what they hold)" },
	{ "providers", cmd_providers, "list the snapshot providers" },
	{ "create", cmd_create, "create a persistent snapshot set of the volumes holding PATHs" },
	{ "list", cmd_list, "list the snapshots, set by set" },
	{ "delete", cmd_delete, "delete a snapshot, a set, a volume's oldest, or all" },
};

static void shadowcopy_help(void)
{
	printf("Usage: shadowcopy [--socket PATH] [--json] COMMAND [ARGS...]\n"
	       "       shadowcopy --help | --version\n"
	       "\n"
	       "Control shadowcopyd, the Volume Shadow Copy service for Linux: take\n"
	       "application-consistent snapshot sets, list and delete them.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\n"
	       "Options (also after COMMAND):\n"
	       "  --socket PATH  the service's control socket (default $SHADOWCOPY_SOCKET,\n"
	       "                 else %s)\n"
	       "  --json         print the service's data as JSON\n"
	       "  -h, --help     show this help ('shadowcopy COMMAND --help' for a command)\n"
	       "  --version      show the version\n"
	       "\n"
	       "Exit status:\n"
	       "  0  success\n"
	       "  1  the operation failed (the service returned an error, a writer failed,\n"
	       "     a snapshot could not be deleted)\n"
	       "  2  usage error\n"
	       "  3  the service cannot be reached, or access was denied\n",
	       SC_DEFAULT_SOCKET);
}

static void shadowcopy_version(void)
{
	printf("shadowcopy %s (libshadowcopy %s, protocol %d.%d)\n", SHADOWCOPY_VERSION,
	       sc_version(), SC_PROTOCOL_MAJOR, SC_PROTOCOL_MINOR);
}

/* The global options before COMMAND; optind then points at COMMAND. */
static int shadowcopy_parse(int argc, char **argv, struct cli *cli)
{
	static const struct option options[] = {
		CLI_GLOBAL_LONG_OPTIONS,
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		if (c == 'h') {
			shadowcopy_help();
			return CLI_EXIT_OK;
		} else if (c == CLI_OPT_VERSION) {
			shadowcopy_version();
			return CLI_EXIT_OK;
		} else if ((r = cli_global_option(cli, NULL, c, argv)) != CLI_PROCEED) {
			return r;
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	return CLI_PROCEED;
}

static int shadowcopy_run(int argc, char **argv, struct cli *cli)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			return commands[i].run(argc, argv, cli);
	return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
}

int main(int argc, char **argv)
{
	struct cli cli = { .output = &output_text };
	int r;

	r = shadowcopy_parse(argc, argv, &cli);
	if (r == CLI_PROCEED)
		r = shadowcopy_run(argc - optind, argv + optind, &cli);
	/* Output goes to a pipe or file as often as to a terminal: check it. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "shadowcopy: cannot write the output: %m\n");
		if (r == CLI_EXIT_OK)
			r = CLI_EXIT_FAILED;
	}
	return r;
}
