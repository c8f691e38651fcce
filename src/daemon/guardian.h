/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guardian.h - the freeze guardian: a process of its own (`shadowcopyd
 * --guardian FD`, a child of the service) that holds an fd of every
 * filesystem the service is about to freeze and thaws them when the
 * service dies (end of file on the link, SIGKILL included) or when the
 * hold outlives its deadline.  The service and the guardian talk over a
 * SOCK_SEQPACKET socketpair, one JSON object per message (guardian-link.c):
 *
 *   service -> guardian  {"type":"hold", "hold":N, "set_id", "state_dir",
 *                         "deadline_usec" (CLOCK_MONOTONIC), "filesystems":
 *                         [{"path", "dev"}]}
 *                        {"type":"release", "hold":N}
 *   guardian -> service  {"type":"held", "hold":N}
 *                        {"type":"refused", "hold":N, "error", "reason"}
 *                        {"type":"expired", "hold":N, "error"}
 */
#ifndef SC_GUARDIAN_H
#define SC_GUARDIAN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct sd_event sd_event;

struct freeze_record_fs;
struct guardian;
struct sc_id;

#define GUARDIAN_ARG "--guardian"
/* The guardian's end of the link, in the guardian. */
#define GUARDIAN_LINK_FD 3
#define GUARDIAN_MESSAGE_MAX (256 * 1024)
/* The signals the guardian ignores (only the link ends it).  They are
 * blocked from the spawn until it ignores them, so none ends it early. */
#define GUARDIAN_IGNORED_SIGNALS { SIGTERM, SIGINT, SIGHUP, SIGPIPE }
/* The guardian's deadline is the hold limit plus this much: the service
 * thaws first whenever it runs at all. */
#define GUARDIAN_MARGIN_USEC (1000 * 1000ull)

/* guardian-link.c */
/* Send @msg (stolen; NULL means ENOMEM) as one message, never blocking. */
int guardian_link_send(int fd, json_t *msg);
/* The next message, never blocking: 1 and it in *ret; 0 at end of file
 * (the other side is gone); -EAGAIN when none waits; -EBADMSG for one
 * that is too long or not a JSON object (it is dropped); -errno. */
int guardian_link_recv(int fd, json_t **ret);
/* A message's "type" and "hold" number, checked. */
int guardian_link_header(json_t *msg, const char **ret_type, int64_t *ret_hold);

/* guardian.c: the service's side */

enum guardian_event {
	GUARDIAN_HELD,    /* the guardian holds the filesystems: they may be frozen */
	GUARDIAN_REFUSED, /* it could not (error, reason): do not freeze; the hold is over */
	GUARDIAN_LOST,    /* it died after "held": nothing guards the hold; the hold is over */
	GUARDIAN_EXPIRED, /* it thawed at the deadline (error: how the thaw went) */
};

/* @reason lives only during the call. */
typedef void (*guardian_event_fn)(enum guardian_event event, int error, const char *reason,
				  void *userdata);

/* Start the guardian process (this program, opened once from
 * /proc/self/exe, so the same one even after an upgrade), watched on
 * @event.  A guardian that dies is replaced at once. */
int guardian_new(sd_event *event, struct guardian **ret);
/* Close the link (a guardian holding filesystems thaws them) and reap it,
 * waiting a little. */
struct guardian *guardian_free(struct guardian *g);
/* Ask the guardian to hold @fs until @deadline_usec (CLOCK_MONOTONIC);
 * @fn gets GUARDIAN_HELD or GUARDIAN_REFUSED later, never from inside this
 * call.  A guardian that dies before it answers is replaced and asked
 * again.  One hold at a time.  -errno when no guardian can be asked. */
int guardian_hold(struct guardian *g, const struct sc_id *set_id, const char *state_dir,
		  const struct freeze_record_fs *fs, size_t n, uint64_t deadline_usec,
		  guardian_event_fn fn, void *userdata);
/* The hold is over (everything thawed): the guardian lets go; @fn is
 * never called again for it. */
void guardian_release(struct guardian *g);

/* guardian-main.c: the guardian process */
/* main() of `shadowcopyd --guardian FD`; its exit status. */
int guardian_main(int argc, char *argv[]);

#endif
