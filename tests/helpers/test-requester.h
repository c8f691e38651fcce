/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-requester.h - the test requester's state and its steps, shared by
 * test-requester.c (command line, script, one JSON line per step),
 * requester-steps.c (session, writers, long operations), set-steps.c (the
 * snapshot set), requester-vars.c ($VAR) and metadata-walk.c.
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
	struct sc_id *snapshots; /* added to this session's set, for do-snapshot */
	size_t n_snapshots;
	unsigned n_sets_run;      /* start-set successes of the whole run: $SETn */
	unsigned n_snapshots_run; /* add-volume successes of the whole run: $SNAPn */
	json_t *vars;             /* $VAR name -> string; lives across sessions */
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
/* Helpers of every step file. */
int requester_steps_parse_uint(const char *s, uint64_t max, uint64_t *ret);
json_t *requester_steps_id_json(const struct sc_id *id);
/* Start a long operation with @start and keep it as the current one; with
 * @wait, wait for it too (0 and "async" when it ended, else its error). */
int requester_steps_long(struct requester_run *run,
			 int (*start)(struct sc_requester *, struct sc_async **), bool wait,
			 json_t *out);

/* set-steps.c */
const struct step *set_steps_find(const char *name);
void set_steps_help(void);
/* "snapshots": the properties of the snapshots added to this session's set. */
int set_steps_snapshots(struct requester_run *run, json_t *out);

/* requester-vars.c */
/* Set $@name to @value.  Returns 0 or -ENOMEM. */
int requester_vars_set(struct requester_run *run, const char *name, const char *value);
int requester_vars_set_id(struct requester_run *run, const char *name, const struct sc_id *id);
/* @arg with each $NAME replaced by its value and $$ by $, malloc'd in *@ret.
 * Returns 0, -ENOMEM, or -EINVAL for an unset variable or a lone '$'. */
int requester_vars_expand(const struct requester_run *run, const char *arg, char **ret);

/* metadata-walk.c */
/* @wi as a metadata document built from the accessor functions alone. */
int metadata_walk(const struct sc_writer_info *wi, json_t **ret);

#endif
