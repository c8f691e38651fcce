/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.c - the pieces every subcommand of the shadowcopy tool shares: global
 * options, connecting as a client, and turning errors into one stderr line
 * and an exit code.  It prints no data; that is the output layer's job.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "cli.h"
#include "output.h"
#include "client.h"

#define CLI_CONNECT_TIMEOUT_USEC (10 * 1000000ull)
/* Long operations end at the service's deadline (30 s for Identify by
 * default); this only keeps a wedged service from hanging the tool. */
#define CLI_CALL_TIMEOUT_USEC (300 * 1000000ull)

int cli_global_option(struct cli *cli, const char *command, int opt, char **argv)
{
	switch (opt) {
	case CLI_OPT_SOCKET:
		cli->socket_path = optarg;
		return CLI_PROCEED;
	case CLI_OPT_JSON:
		cli->output = &output_json;
		return CLI_PROCEED;
	case ':':
		return cli_usage_error(command, "option '%s' needs an argument",
				       argv[optind - 1]);
	default:
		return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
	}
}

const char *cli_socket_path(const struct cli *cli)
{
	const char *path = cli->socket_path;

	if (!path || !*path)
		path = getenv("SHADOWCOPY_SOCKET");
	if (!path || !*path)
		path = SC_DEFAULT_SOCKET;
	return path;
}

/* Errors that mean we never got to talk to the service (or may not). */
static bool cli_error_is_unreachable(int error)
{
	switch (abs(error)) {
	case SC_E_ACCESS_DENIED:
	case SC_E_PROTOCOL_VERSION:
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ENOTSOCK:
	case ENOTCONN:
		return true;
	default:
		return false;
	}
}

int cli_error(int error, const char *what)
{
	fprintf(stderr, "shadowcopy: %s: %s (%s)\n", what, sc_strerror(error),
		sc_error_name(error));
	return cli_error_is_unreachable(error) ? CLI_EXIT_UNREACHABLE : CLI_EXIT_FAILED;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("shadowcopy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'shadowcopy %s%s--help'.\n", command ? command : "",
		command ? " " : "");
	return CLI_EXIT_USAGE;
}

int cli_connect(const struct cli *cli, const char *role, struct client **ret)
{
	const char *path = cli_socket_path(cli);
	char what[4096];
	int r;

	r = client_connect(path, role, "shadowcopy", CLI_CONNECT_TIMEOUT_USEC, ret);
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot connect to %s", path);
		/* Whatever the cause, a failed handshake means no service for us. */
		cli_error(r, what);
		return CLI_EXIT_UNREACHABLE;
	}
	return CLI_EXIT_OK;
}

int cli_call(struct client *c, const char *method, json_t *params, const char *what,
	     json_t **ret_result)
{
	char *message = NULL;
	int r, status;

	r = client_call(c, method, params, CLI_CALL_TIMEOUT_USEC, ret_result, &message);
	if (r >= 0)
		return CLI_EXIT_OK;
	status = cli_error(r, what);
	cli_service_said(message);
	return status;
}

void cli_service_said(const char *message)
{
	/* The service's own sentence is often more precise than the table's. */
	if (message && *message)
		fprintf(stderr, "shadowcopy: the service said: %s\n", message);
}

/* @path made absolute against the working directory, without resolving
 * links: the service resolves it, and answers OBJECT_NOT_FOUND if it is gone. */
int cli_absolute_path(const char *path, char **ret)
{
	_cleanup_free_ char *cwd = NULL;

	if (path[0] == '/')
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return -errno;
	return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}
