/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * provider-calls.h - how the service calls providers: always on a worker
 * thread (worker.c), always through one wrapper that applies the [testing]
 * switches, times the call and translates its errors (vss-model 2.5).
 */
#ifndef SC_PROVIDER_CALLS_H
#define SC_PROVIDER_CALLS_H

#include <shadowcopy/provider.h>

#include "daemon.h"

/* The most volumes of a set (VSS's limit, T14). */
#define SET_VOLUMES_MAX 64

/* One provider with its snapshots of a set: set-level calls take them all. */
struct provider_group {
	const struct sc_provider *provider;
	struct sc_provider_snapshot *snaps[SET_VOLUMES_MAX];
	size_t n;
	bool prepared; /* end_prepare was called: it gets abort on failure (B13, T40) */
};

struct step_job;
typedef void (*step_job_fn)(struct step_job *j, void *userdata);

/* One step of set creation for every group, in group order, on a thread.
 * The groups belong to the caller and must live until the callback. */
struct step_job {
	struct worker_job job;
	const struct testing *testing;
	enum provider_step step;
	struct provider_group *groups;
	size_t n_groups;
	/* results, for the callback */
	size_t reached;               /* groups whose call was made */
	int raw[SET_VOLUMES_MAX];     /* each group's own return */
	uint64_t usec[SET_VOLUMES_MAX];
	int result;                   /* 0 or the first failure, translated */
	step_job_fn callback;
	void *userdata;
};

/* provider-calls.c */
/* The error a requester sees for @r, the return of @step: the allowed set
 * of vss-model 2.5 passes, ENOSPC is INSUFFICIENT_STORAGE, anything else is
 * UNEXPECTED_PROVIDER_ERROR (T41).  abort is never translated (B16). */
int provider_error(enum provider_step step, int r);
/* On a worker thread: delete one committed snapshot, through the switches. */
int provider_call_delete(const struct testing *t, const struct sc_provider *p,
			 const struct sc_provider_volume *volume, const struct sc_id *id,
			 const char *location);
/* Run @step for @groups (abort: only the prepared ones) on a worker thread;
 * @callback runs on the loop.  On failure nothing runs. */
int provider_step_start(struct daemon *d, enum provider_step step, struct provider_group *groups,
			size_t n_groups, step_job_fn callback, void *userdata,
			struct step_job **ret);
/* Log each call the job made (debug), as "provider btrfs: commit(2): OK". */
void provider_step_log(const struct step_job *j);

#endif
