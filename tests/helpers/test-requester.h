/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-requester.h - the test requester's state and its steps, shared by
 * test-requester.c (command line, script, one JSON line per step),
 * requester-steps.c (the step table) and metadata-walk.c.
 */
#ifndef SC_TEST_REQUESTER_H
#define SC_TEST_REQUESTER_H

#include <stdbool.h>
#include <jansson.h>

#include <shadowcopy/requester.h>

struct requester_run {
	const char *socket_path; /* NULL: the library's default */
	struct sc_requester *r;  /* connected lazily by the first step that needs it */
	struct sc_async *async;  /* the last long operation started */
};

enum step_arg {
	STEP_ARG_NONE,     /* "name" */
	STEP_ARG_OPTIONAL, /* "name" or "name=ARG" */
	STEP_ARG_REQUIRED, /* "name=ARG" */
};

struct step {
	const char *name;
	enum step_arg arg;
	bool needs_requester;
	/* Returns the step's rc (>= 0 success, else -errno or -SC_E_*) and may
	 * add the step's data to @out. */
	int (*run)(struct requester_run *run, const char *arg, json_t *out);
	const char *synopsis; /* of the argument: "=MS", "[=MS]", "" */
	const char *help;
};

/* requester-steps.c */
const struct step *requester_steps_find(const char *name);
void requester_steps_help(void);
void requester_steps_done(struct requester_run *run);

/* metadata-walk.c */
/* @wi as a metadata document built from the accessor functions alone. */
int metadata_walk(const struct sc_writer_info *wi, json_t **ret);

#endif
