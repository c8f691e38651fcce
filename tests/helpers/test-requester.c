/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-requester.c - a requester for system tests: runs the steps given on
 * the command line (or in a --script file) through the public requester.h,
 * printing exactly one JSON line per step on stdout:
 *   {"step":"gather","rc":0,"error":"OK", ...step data}
 * Step arguments may use $VARs that earlier steps set ($SET, $SNAP1, ...).
 * The steps themselves are in requester-steps.c and set-steps.c; this file
 * only parses, sequences and prints.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "test-requester.h"

#define EXIT_USAGE 2
#define PROCEED (-1) /* not an exit status: go on */

/* The step words to run, each malloc'd: "name" or "name=arg". */
struct plan {
	char **words;
	size_t n;
};

static void plan_done(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->words[i]);
	free(p->words);
}

static int plan_add(struct plan *p, const char *word)
{
	char **words = reallocarray(p->words, p->n + 1, sizeof(*words));

	if (!words)
		return -ENOMEM;
	p->words = words;
	p->words[p->n] = strdup(word);
	if (!p->words[p->n])
		return -ENOMEM;
	p->n++;
	return 0;
}

/* One step per line; blank lines and lines starting with '#' are skipped. */
static int plan_read_script(struct plan *p, const char *path)
{
	_cleanup_free_ char *line = NULL;
	size_t alloc = 0;
	ssize_t len;
	char *s;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	while (r >= 0 && (len = getline(&line, &alloc, f)) >= 0) {
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (*s != '\0' && *s != '#')
			r = plan_add(p, s);
	}
	if (r >= 0 && ferror(f))
		r = -EIO;
	fclose(f);
	return r;
}

/* Split "name=arg" in place; the step, or NULL with a message on stderr. */
static const struct step *plan_step(char *word, const char **ret_arg)
{
	char *eq = strchr(word, '=');
	const struct step *s;

	if (eq)
		*eq = '\0';
	s = requester_steps_find(word);
	if (!s)
		fprintf(stderr, "test-requester: unknown step '%s'\n", word);
	else if (eq && s->arg == STEP_ARG_NONE)
		fprintf(stderr, "test-requester: step '%s' takes no argument\n", word);
	else if (!eq && s->arg == STEP_ARG_REQUIRED)
		fprintf(stderr, "test-requester: step '%s' needs '=ARG'\n", word);
	else {
		*ret_arg = eq ? eq + 1 : NULL;
		return s;
	}
	return NULL;
}

/* Finish the step's line @out with @rc and print it. */
static int print_line(json_t *out, int rc, const char *message)
{
	json_object_set_new(out, "rc", json_integer(rc));
	json_object_set_new(out, "error", json_string(sc_error_name(rc < 0 ? rc : 0)));
	if (rc < 0)
		json_object_set_new(out, "message", json_string(message));
	if (json_dumpf(out, stdout, JSON_COMPACT) < 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		return -EIO;
	return rc;
}

/* Run one step (its argument's $VARs expanded now, when earlier steps have
 * set them) and print its line; returns its rc. */
static int run_step(struct requester_run *run, const struct step *s, const char *raw_arg)
{
	/* rc and error first, for people reading the lines; set again below. */
	_cleanup_json_ json_t *out = json_pack("{s:s}", "step", s->name);
	_cleanup_free_ char *arg = NULL;
	int rc = 0;

	if (!out)
		return -ENOMEM;
	if (raw_arg && (rc = requester_vars_expand(run, raw_arg, &arg)) < 0) {
		json_object_set_new(out, "arg", json_string(raw_arg));
		return print_line(out, rc, "unset variable or lone '$' in the argument");
	}
	if ((arg && json_object_set_new(out, "arg", json_string(arg)) < 0) ||
	    json_object_set_new(out, "rc", json_integer(0)) < 0 ||
	    json_object_set_new(out, "error", json_string("OK")) < 0)
		return -ENOMEM;
	if (s->needs_requester && !run->r)
		rc = sc_requester_new(run->socket_path, &run->r);
	if (rc >= 0)
		rc = s->run(run, arg, out);
	/* The service's own words, through sc_requester_get_last_error_message(). */
	if (rc < 0 && run->r && sc_requester_get_last_error_message(run->r))
		json_object_set_new(out, "said",
				    json_string(sc_requester_get_last_error_message(run->r)));
	return print_line(out, rc, sc_strerror(rc));
}

static void test_requester_help(void)
{
	printf("Usage: test-requester [--socket PATH] [--script FILE] [--stop-on-error] STEP...\n"
	       "\n"
	       "Drive libshadowcopy's requester role step by step.  Every STEP prints one\n"
	       "JSON line {\"step\",\"rc\",\"error\",...}; rc is the library's return value.\n"
	       "The requester connects at the first step that needs it.  Script steps\n"
	       "(one per line, '#' comments) run before the command-line ones.\n"
	       "Exit status: 0 every step succeeded (rc >= 0), 1 some failed, 2 usage.\n"
	       "\n"
	       "Variables: steps store the ids they print ($SET, $SNAP1, $WRITER0_INSTANCE,\n"
	       "... as each step says below) and a later step's ARG may use them: $NAME\n"
	       "(letters, digits, '_') is replaced when that step runs, '$$' is a '$'.  An\n"
	       "unset variable fails the step with EINVAL.  Quote them from the shell:\n"
	       "  test-requester init gather metadata start-set add-volume=/srv \\\n"
	       "      'props=$SNAP1' 'delete=$SET,set'\n"
	       "\n");
	requester_steps_help();
}

static int test_requester_parse(int argc, char **argv, struct requester_run *run,
				struct plan *plan, bool *ret_stop_on_error)
{
	enum { OPT_SOCKET = 0x100, OPT_SCRIPT, OPT_STOP_ON_ERROR };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "script", required_argument, NULL, OPT_SCRIPT },
		{ "stop-on-error", no_argument, NULL, OPT_STOP_ON_ERROR },
		{}
	};
	const char *script = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
		if (c == 'h') {
			test_requester_help();
			return EXIT_SUCCESS;
		} else if (c == OPT_SOCKET) {
			run->socket_path = optarg;
		} else if (c == OPT_SCRIPT) {
			script = optarg;
		} else if (c == OPT_STOP_ON_ERROR) {
			*ret_stop_on_error = true;
		} else {
			return EXIT_USAGE;
		}
	}
	if (script && (r = plan_read_script(plan, script)) < 0) {
		fprintf(stderr, "test-requester: %s: %s\n", script, sc_strerror(r));
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++)
		if (plan_add(plan, argv[i]) < 0)
			return EXIT_FAILURE;
	if (plan->n == 0) {
		fprintf(stderr, "test-requester: no step given (see --help)\n");
		return EXIT_USAGE;
	}
	return PROCEED;
}

int main(int argc, char **argv)
{
	_cleanup_(plan_done) struct plan plan = {};
	struct requester_run run = {};
	_cleanup_free_ const struct step **steps = NULL;
	_cleanup_free_ const char **args = NULL;
	bool stop_on_error = false, failed = false;
	int r;

	r = test_requester_parse(argc, argv, &run, &plan, &stop_on_error);
	if (r != PROCEED)
		return r;
	steps = calloc(plan.n + 1, sizeof(*steps));
	args = calloc(plan.n + 1, sizeof(*args));
	if (!steps || !args)
		return EXIT_FAILURE;
	/* Check every word first: a typo must not leave half a sequence run. */
	for (size_t i = 0; i < plan.n; i++)
		if (!(steps[i] = plan_step(plan.words[i], &args[i])))
			return EXIT_USAGE;
	for (size_t i = 0; i < plan.n && !(failed && stop_on_error); i++)
		if (run_step(&run, steps[i], args[i]) < 0)
			failed = true;
	requester_steps_done(&run);
	json_decref(run.vars);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
