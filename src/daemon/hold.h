/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hold.h - flush-and-hold of filesystems (syncfs, FIFREEZE, FITHAW) and the
 * rules of which filesystems may be frozen at all.  Blocking calls, no event
 * loop, no globals and nothing of the service's other types: the service
 * calls them on worker threads, and a guardian process can hold a struct
 * hold in its place.  When and for how long is hold-window.c's business.
 */
#ifndef SC_HOLD_H
#define SC_HOLD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One filesystem of a hold. */
struct hold_fs {
	char *path;  /* its mount point, for messages */
	dev_t dev;   /* st_dev of the mount point: the filesystem */
	int fd;      /* open from hold_add() to hold_free(): FITHAW goes through it */
	bool frozen; /* frozen by this hold, so ours to thaw */
};

/* The filesystems of one snapshot set that are frozen together. */
struct hold {
	struct hold_fs *fs; /* sorted by device by hold_freeze() */
	size_t n;
	atomic_bool stop;   /* set by another thread: freeze no more */
};

/* A filesystem the service never freezes: the one holding @path. */
struct hold_protected {
	const char *path;
	const char *what; /* "the service's state directory" */
};

struct hold *hold_new(void);
/* Close the fds.  Thaws nothing: call hold_thaw() first. */
struct hold *hold_free(struct hold *h);
/* Open the filesystem mounted at @path, which must still be device
 * @expected and hold none of @protected (checked again right before the
 * freeze).  A filesystem already in the hold is not added twice.
 * -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER with *ret_reason (malloc'd) when
 * refused, or -errno. */
int hold_add(struct hold *h, const char *path, dev_t expected,
	     const struct hold_protected *protected, size_t n_protected, char **ret_reason);
/* May the filesystem mounted at @path be frozen?  Not when it holds one of
 * @protected, nor when it is frozen already (probed with FIFREEZE after a
 * syncfs: EBUSY means frozen, by someone else, and it is left so; success
 * means it was not, and it is thawed at once).  0 and its device in
 * *ret_dev, or -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER with *ret_reason, or
 * -errno. */
int hold_check(const char *path, const struct hold_protected *protected, size_t n_protected,
	       dev_t *ret_dev, char **ret_reason);
/* syncfs every filesystem, so that the freeze itself has little to write. */
int hold_flush(struct hold *h, char **ret_reason);
/* FIFREEZE every filesystem in device order, stopping at the first failure
 * or when h->stop is set.  What it froze is marked frozen (thaw it with
 * hold_thaw() whatever this returns).  A filesystem frozen by someone else
 * gives -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER and a reason. */
int hold_freeze(struct hold *h, char **ret_reason);
/* FITHAW what this hold froze, in reverse order, every one tried; the first
 * error.  A filesystem someone else thawed meanwhile counts as thawed. */
int hold_thaw(struct hold *h);
/* The guardian's view of a hold it did not freeze itself: every filesystem
 * counts as frozen, in the order hold_freeze() freezes them, so that
 * hold_thaw() tries each one, in reverse. */
void hold_assume_frozen(struct hold *h);
/* Whether anything of @h is frozen by it. */
bool hold_frozen(const struct hold *h);

#endif
