/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.c - which hooks get which word at each event, and in what order.
 * PrepareForSnapshot rescans the directory and runs "prepare"; Freeze runs
 * "freeze" step by step and vetoes at the first failure or timeout; Thaw and
 * Abort run "thaw" / "abort" on every hook that got "freeze", in reverse
 * (a hook that did not opt in to "abort" gets "thaw" for it).  How a hook is
 * run is in run.c.
 */
#include <stdlib.h>

#include "hooks-writer.h"
#include "writer-common.h"

static bool events_opted(const struct hook *h, enum hook_action a)
{
	return h->opt_in & (1u << a);
}

/* The word @h is run with for @a, or NULL when @a is not for it. */
static const char *events_word(const struct hook *h, enum hook_action a)
{
	switch (a) {
	case HOOK_FREEZE:
		return action_word(a);
	case HOOK_THAW:
		return h->frozen ? action_word(a) : NULL;
	case HOOK_ABORT:
		/* Undo freeze ("thaw" is all old hooks know); tell those that opted
		 * in, even after their thaw: the set has failed before PostSnapshot. */
		if (events_opted(h, HOOK_ABORT))
			return h->involved ? action_word(HOOK_ABORT) : NULL;
		return h->frozen ? action_word(HOOK_THAW) : NULL;
	default:
		return events_opted(h, a) ? action_word(a) : NULL;
	}
}

/* What having been run for @a (successfully or not) leaves a hook owing. */
static void events_mark(struct hook *h, enum hook_action a)
{
	if (a == HOOK_PREPARE || a == HOOK_FREEZE)
		h->involved = true;
	if (a == HOOK_FREEZE)
		h->frozen = true;
	else if (a == HOOK_THAW)
		h->frozen = false;
	else if (a == HOOK_ABORT)
		h->involved = h->frozen = false;
}

/* After PostSnapshot no Abort comes (VSS): nothing is owed any more. */
static void events_settled(struct hooks_writer *hw)
{
	for (size_t i = 0; i < hw->n_hooks; i++)
		hw->hooks[i].involved = hw->hooks[i].frozen = false;
}

/* Run the hooks of step @step that @a is for, together.  The worst outcome. */
static enum run_outcome events_step(struct hooks_writer *hw, const struct run_context *c,
				    enum hook_action a, size_t step)
{
	struct hook **batch = calloc(hw->n_hooks, sizeof(*batch));
	const char **words = calloc(hw->n_hooks, sizeof(*words));
	enum run_outcome *out = calloc(hw->n_hooks, sizeof(*out)), worst = RUN_OK;
	size_t n = 0;

	if (!batch || !words || !out) {
		worst = RUN_NOT_STARTED;
		goto out_free;
	}
	for (size_t i = 0; i < hw->n_hooks; i++)
		if (hw->hooks[i].step == step && (words[n] = events_word(&hw->hooks[i], a)))
			batch[n++] = &hw->hooks[i];
	if (n > 0 && run_batch(c, batch, words, n, out) < 0)
		worst = RUN_NOT_STARTED;
	for (size_t i = 0; i < n; i++) {
		if (out[i] != RUN_NOT_STARTED)
			events_mark(batch[i], a);
		if (out[i] > worst)
			worst = out[i];
	}
out_free:
	free(batch);
	free(words);
	free(out);
	return worst;
}

/*
 * Run @a on its hooks, step after step (last step first if @reverse).  With
 * @stop_on_failure, the steps after a failing one are not run.  The worst
 * outcome, or RUN_NOT_STARTED when even the environment could not be made.
 */
static enum run_outcome events_run(struct hooks_writer *hw, const struct sc_writer_event *ev,
				   enum hook_action a, bool reverse, bool stop_on_failure)
{
	enum run_outcome worst = RUN_OK, o;
	struct run_context c;

	if (run_context_init(&c, ev, a, hw->timeout_ms) < 0) {
		run_context_done(&c);
		wlog_error("%s: out of memory", action_word(a));
		return RUN_NOT_STARTED;
	}
	for (size_t k = 0; k < hw->n_steps; k++) {
		o = events_step(hw, &c, a, reverse ? hw->n_steps - 1 - k : k);
		if (o > worst)
			worst = o;
		if (stop_on_failure && o != RUN_OK)
			break;
	}
	run_context_done(&c);
	return worst;
}

/* The failure an outcome reports. */
static int events_failure(enum run_outcome o)
{
	if (o == RUN_TIMED_OUT)
		return -SC_E_WRITERERROR_TIMEOUT;
	if (o == RUN_NOT_STARTED)
		return -SC_E_WRITERERROR_NONRETRYABLE;
	return -SC_E_WRITERERROR_RETRYABLE;
}

static bool events_veto(struct sc_writer *w, enum run_outcome o)
{
	(void)sc_writer_set_failure(w, events_failure(o)); /* inside a handler: cannot fail */
	return false;
}

/* Undo whatever the hooks still hold (Abort, and a failed prepare or freeze). */
static void events_undo(struct hooks_writer *hw, const struct sc_writer_event *ev)
{
	bool owed = false;

	for (size_t i = 0; i < hw->n_hooks; i++)
		owed = owed || events_word(&hw->hooks[i], HOOK_ABORT);
	if (owed && events_run(hw, ev, HOOK_ABORT, true, false) != RUN_OK)
		wlog_error("Some hooks failed to abort");
}

/* The hooks of this snapshot set: the directory as it is at its start. */
static int events_scan(struct hooks_writer *hw, const struct sc_writer_event *ev)
{
	struct sc_id set_id;
	int r;

	sc_writer_event_get_snapshot_set_id(ev, &set_id);
	if (hw->scanned && sc_id_equal(&set_id, &hw->set_id))
		return 0;
	events_undo(hw, ev); /* nothing is owed by now; if something is, settle it first */
	hw->hooks = scan_free(hw->hooks, hw->n_hooks);
	hw->n_hooks = hw->n_steps = 0;
	hw->scanned = false;
	r = scan_directory(hw->directory, &hw->hooks, &hw->n_hooks, &hw->n_steps);
	if (r < 0)
		return r;
	hw->set_id = set_id;
	hw->scanned = true;
	wlog_info("%zu hook(s) in %zu step(s) in %s", hw->n_hooks, hw->n_steps, hw->directory);
	return 0;
}

static bool events_prepare_snapshot(struct sc_writer *w, const struct sc_writer_event *ev,
				    void *userdata)
{
	struct hooks_writer *hw = userdata;
	enum run_outcome o;

	if (events_scan(hw, ev) < 0)
		return events_veto(w, RUN_NOT_STARTED);
	o = events_run(hw, ev, HOOK_PREPARE, false, true);
	if (o == RUN_OK)
		return true;
	events_undo(hw, ev);
	return events_veto(w, o);
}

static bool events_freeze(struct sc_writer *w, const struct sc_writer_event *ev,
			  void *userdata)
{
	struct hooks_writer *hw = userdata;
	uint64_t start = now_usec();
	enum run_outcome o;

	if (events_scan(hw, ev) < 0)
		return events_veto(w, RUN_NOT_STARTED);
	o = events_run(hw, ev, HOOK_FREEZE, false, true);
	if (o == RUN_OK) {
		wlog_info("Freeze: %zu hook(s) frozen in %.1f ms", hw->n_hooks,
			  msec_between(start, now_usec()));
		return true;
	}
	wlog_error("Freeze vetoed: a hook failed; undoing the others");
	events_undo(hw, ev);
	return events_veto(w, o);
}

/* Thaw: a hook failing here does not make the snapshot wrong: it is reported
 * with the success (VSS's non-fatal failure), as qemu-ga ignores it. */
static bool events_thaw(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct hooks_writer *hw = userdata;
	enum run_outcome o = events_run(hw, ev, HOOK_THAW, true, false);

	if (o != RUN_OK)
		(void)sc_writer_set_failure(w, events_failure(o));
	return true;
}

/* Also called by the library itself when the freeze window runs out or the
 * service goes away while frozen; may come several times. */
static bool events_abort(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct hooks_writer *hw = userdata;

	events_undo(hw, ev);
	hw->scanned = false; /* the next set rescans */
	return true;
}

/* PostSnapshot and BackupComplete, for the hooks that opted in. */
static bool events_later(struct sc_writer *w, const struct sc_writer_event *ev, void *userdata)
{
	struct hooks_writer *hw = userdata;
	enum hook_action a = sc_writer_event_get_type(ev) == SC_EVENT_POST_SNAPSHOT ?
		HOOK_POST_SNAPSHOT : HOOK_BACKUP_COMPLETE;
	enum run_outcome o = events_run(hw, ev, a, false, false);

	events_settled(hw);
	return o == RUN_OK ? true : events_veto(w, o);
}

/* The end of a backup: settle anything its set still owes (a set abandoned
 * without Abort), and forget the hooks.  It may be the end of another backup
 * than the one whose set the hooks are out for (vss-model 4.3: a requester
 * that made its set earlier leaves now): that one owes nothing here. */
static bool events_backup_shutdown(struct sc_writer *w, const struct sc_writer_event *ev,
				   void *userdata)
{
	struct hooks_writer *hw = userdata;
	struct sc_id set_id;

	sc_writer_event_get_snapshot_set_id(ev, &set_id);
	if (!hw->scanned || !sc_id_equal(&set_id, &hw->set_id))
		return true;
	events_undo(hw, ev);
	hw->scanned = false;
	return true;
}

/* Identify: one file-group component whose file sets are the guarded
 * volumes, so that volume-mode sets of those volumes include this writer. */
static bool events_identify(struct sc_writer *w, struct sc_writer_metadata *m, void *userdata)
{
	const struct hooks_writer *hw = userdata;
	int r;

	r = sc_writer_metadata_set_restore_method(m, SC_RME_RESTORE_IF_CAN_REPLACE, NULL, NULL,
						  SC_WRE_NEVER, false);
	if (r >= 0)
		r = sc_writer_metadata_add_component(m, SC_CT_FILEGROUP, NULL, "hooks",
						     "Applications quiesced by hook scripts",
						     false, false, 0);
	for (size_t i = 0; r >= 0 && i < hw->n_volumes; i++)
		r = sc_writer_metadata_add_files(m, NULL, "hooks", hw->volumes[i], "*", true, 0);
	if (r < 0) {
		wlog_error_errno(r, "Failed to build the metadata");
		return false;
	}
	return true;
}

/* The handlers; every one gets @hw. */
void events_daemon(struct hooks_writer *hw, struct writer_daemon *d)
{
	static const struct writer_handler handlers[] = {
		{ SC_EVENT_PREPARE_SNAPSHOT, events_prepare_snapshot },
		{ SC_EVENT_FREEZE, events_freeze },
		{ SC_EVENT_THAW, events_thaw },
		{ SC_EVENT_POST_SNAPSHOT, events_later },
		{ SC_EVENT_ABORT, events_abort },
		{ SC_EVENT_BACKUP_COMPLETE, events_later },
		{ SC_EVENT_BACKUP_SHUTDOWN, events_backup_shutdown },
	};

	d->identify = events_identify;
	d->handlers = handlers;
	d->n_handlers = ELEMENTS_OF(handlers);
	d->userdata = hw;
}
