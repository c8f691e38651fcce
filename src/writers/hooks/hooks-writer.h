/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hooks-writer.h - the hooks writer: a directory of executables run with
 * "freeze" and "thaw" (qemu-guest-agent's fsfreeze-hook.d convention), and,
 * for those that opt in, "prepare", "post-snapshot", "abort" and
 * "backup-complete".  Includes only public headers and libc.
 */
#ifndef SC_HOOKS_WRITER_H
#define SC_HOOKS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shadowcopy/writer.h>

/* The writer class of every hooks writer. */
#define HOOKS_WRITER_CLASS_ID "a3e1f0d4-5b27-4c8e-9d61-2f7a8c4b0e95"

#define HOOKS_DEFAULT_DIRECTORY "/etc/shadowcopy/hooks.d"
#define HOOKS_DEFAULT_TIMEOUT_MS 30000u
#define HOOKS_DEFAULT_FREEZE_TIMEOUT_MS 60000u

/* What a hook is run for; the word is its argument (action_word()). */
enum hook_action {
	HOOK_PREPARE,
	HOOK_FREEZE,
	HOOK_THAW,
	HOOK_POST_SNAPSHOT,
	HOOK_ABORT,
	HOOK_BACKUP_COMPLETE,
	_HOOK_ACTION_MAX
};

struct hook {
	char *path;          /* absolute */
	char *name;          /* relative to the directory, for the log */
	unsigned opt_in;     /* mask of 1 << HOOK_*: actions beyond freeze and thaw */
	size_t step;         /* hooks of one step run together; steps run in order */
	bool involved;       /* got "prepare" or "freeze" in this set; until its PostSnapshot */
	bool frozen;         /* got "freeze", not yet "thaw" or "abort" */
};

/* How a hook run ended. */
enum run_outcome {
	RUN_OK,
	RUN_FAILED,          /* exit status not 0, or killed by a signal */
	RUN_TIMED_OUT,       /* killed, with its process group, at the timeout */
	RUN_NOT_STARTED,     /* could not be executed */
};

/* What the environment tells the hooks of one run. */
struct run_context {
	char **envp;
	size_t n_env;
	uint32_t timeout_ms;
};

struct hooks_writer {
	/* configuration */
	char *name;
	char *instance;
	char *directory;
	char **volumes;      /* the file sets of Identify: which volumes need the hooks */
	size_t n_volumes;
	uint32_t timeout_ms;
	uint32_t freeze_timeout_ms;
	/* the hooks of the current backup */
	struct hook *hooks;
	size_t n_hooks;
	size_t n_steps;
	struct sc_id set_id; /* the set they were scanned for */
	bool scanned;
};

/* action.c */
const char *action_word(enum hook_action a);
int action_from_word(const char *word);

/* config.c */
int config_load(struct hooks_writer *hw, const char *path, bool must_exist);
void config_print(const struct hooks_writer *hw);
void config_done(struct hooks_writer *hw);

/* scan.c */
int scan_directory(const char *directory, struct hook **ret_hooks, size_t *ret_n_hooks,
		   size_t *ret_n_steps);
struct hook *scan_free(struct hook *hooks, size_t n_hooks);

/* run.c */
int run_context_init(struct run_context *c, const struct sc_writer_event *ev,
		     enum hook_action a, uint32_t timeout_ms);
void run_context_done(struct run_context *c);
int run_batch(const struct run_context *c, struct hook *const *hooks,
	      const char *const *words, size_t n, enum run_outcome *ret_outcomes);

/* events.c */
struct writer_daemon;
void events_daemon(struct hooks_writer *hw, struct writer_daemon *d);

#endif
