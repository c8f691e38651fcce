/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.h - what the subcommands of the shadowcopy tool share: the global
 * options, the exit codes, connecting to the service and reporting errors.
 * The views of the data are in output.h.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct client;
struct output;

/* Exit codes; documented in --help and shadowcopy(8). */
enum {
	CLI_EXIT_OK = 0,          /* the command did what was asked */
	CLI_EXIT_FAILED = 1,      /* the service returned an error, or output failed */
	CLI_EXIT_USAGE = 2,       /* bad command line */
	CLI_EXIT_UNREACHABLE = 3, /* service not reachable, or access denied */
};

/* What option parsers return to say "go on" rather than "exit with this". */
#define CLI_PROCEED (-1)

/* The global options, valid before or after the command name. */
struct cli {
	const char *socket_path; /* NULL: $SHADOWCOPY_SOCKET, else the default */
	const struct output *output;
};

/* Global options for the subcommands' own getopt tables; end with a {0}. */
#define CLI_GLOBAL_LONG_OPTIONS                                      \
	{ "socket", required_argument, NULL, CLI_OPT_SOCKET },        \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                  \
	{ "help", no_argument, NULL, 'h' }

enum {
	CLI_OPT_SOCKET = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_VERSION,
	CLI_OPT_FIRST_COMMAND_OPTION, /* subcommands number their options from here */
};

/* cli.c */
/* The control socket: --socket, else $SHADOWCOPY_SOCKET, else the default. */
const char *cli_socket_path(const struct cli *cli);
/* Apply getopt_long's answer @opt when it is a global option and return
 * CLI_PROCEED; otherwise report a usage error of @command and return
 * CLI_EXIT_USAGE.  Parsers use the optstring "+:h" so that a missing argument
 * is told apart from an unknown option. */
int cli_global_option(struct cli *cli, const char *command, int opt, char **argv);
/* Connect to the service as @role; reports failure and returns an exit code. */
int cli_connect(const struct cli *cli, const char *role, struct client **ret);
/* A long call; reports failure and returns an exit code. */
int cli_call(struct client *c, const char *method, json_t *params, const char *what,
	     json_t **ret_result);
/* @path made absolute against the working directory, links kept (malloc'd
 * in *ret): the service wants absolute paths and resolves them itself. */
int cli_absolute_path(const char *path, char **ret);
/* Print "shadowcopy: <what>: <message> (<NAME>)" and return the exit code for @error. */
int cli_error(int error, const char *what);
/* After cli_error(): the message the service gave with its error, if any. */
void cli_service_said(const char *message);
/* Print "shadowcopy: <message>" plus "Try ... --help" and return CLI_EXIT_USAGE;
 * @command is NULL for the global usage. */
int cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* check.c */
/* Check the objects of the service's answers (protocol.md §6.3, §8) before a
 * view reads them: 0 or -SC_E_INVALID_MESSAGE. */
int check_snapshot(json_t *snapshot);
int check_provider(json_t *provider);
int check_delete_result(json_t *result);
/* The array @key of @result, each item checked with @check. */
int check_array(json_t *result, const char *key, int (*check)(json_t *item), json_t **ret);

/* The subcommands: each returns an exit code. */
/* cmd-create.c */
int cmd_create(int argc, char **argv, struct cli *cli);
/* cmd-delete.c */
int cmd_delete(int argc, char **argv, struct cli *cli);
/* cmd-list.c */
int cmd_list(int argc, char **argv, struct cli *cli);
/* cmd-providers.c */
int cmd_providers(int argc, char **argv, struct cli *cli);
/* cmd-writers.c */
int cmd_writers(int argc, char **argv, struct cli *cli);

#endif
