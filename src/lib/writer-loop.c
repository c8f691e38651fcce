/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer-loop.c - how a writer fits the host's event loop: one stable epoll
 * fd (the connection's socket and the stop eventfd), a timeout, a process
 * call, and the blocking and background-thread loops built on them.  It does
 * not know what goes over the connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "time-util.h"
#include "writer-internal.h"

SC_EXPORT int sc_writer_get_fd(const struct sc_writer *w)
{
	if (!w)
		return -EINVAL;
	return w->epoll_fd;
}

SC_EXPORT int sc_writer_get_timeout(const struct sc_writer *w, uint64_t *ret_usec)
{
	uint64_t t;

	if (!w || !ret_usec)
		return -EINVAL;
	/* Input already read but not handled (a subscribe that returned
	 * early) does not wake epoll: ask for processing now. */
	if (writer_link_has_input(w)) {
		*ret_usec = 0;
		return 0;
	}
	t = writer_session_next_deadline(w);
	*ret_usec = w->link_deadline_usec < t ? w->link_deadline_usec : t;
	return 0;
}

/* Consume a pending sc_writer_stop(); 1 if there was one. */
static int loop_take_stop(struct sc_writer *w)
{
	uint64_t n;

	if (read(w->stop_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0; /* EAGAIN: nothing pending */
	w->stopping = true;
	return 1;
}

SC_EXPORT int sc_writer_process(struct sc_writer *w)
{
	int did, r;

	if (!w)
		return -EINVAL;
	did = loop_take_stop(w);
	r = writer_link_process(w, false);
	if (r < 0)
		return r;
	did |= r;
	did |= writer_session_expire(w);
	return did;
}

SC_EXPORT int sc_writer_wait(struct sc_writer *w, uint64_t timeout_usec)
{
	uint64_t due_usec, until_usec;
	struct epoll_event e;
	int n;

	if (!w)
		return -EINVAL;
	(void)sc_writer_get_timeout(w, &due_usec); /* cannot fail: w is valid */
	if (due_usec <= time_now_usec())
		return 1;
	until_usec = time_deadline_usec(timeout_usec);
	if (due_usec < until_usec)
		until_usec = due_usec;
	n = epoll_wait(w->epoll_fd, &e, 1, time_poll_ms(until_usec));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n > 0 || due_usec <= time_now_usec();
}

SC_EXPORT int sc_writer_run(struct sc_writer *w)
{
	int r;

	if (!w)
		return -EINVAL;
	for (;;) {
		r = sc_writer_process(w);
		if (r < 0)
			return r;
		if (w->stopping) {
			w->stopping = false;
			return 0;
		}
		r = sc_writer_wait(w, UINT64_MAX);
		if (r < 0)
			return r;
	}
}

SC_EXPORT int sc_writer_stop(struct sc_writer *w)
{
	uint64_t one = 1;

	if (!w)
		return -EINVAL;
	/* Only a full counter (2^64 - 2 stops) could fail; it still wakes. */
	(void)write(w->stop_fd, &one, sizeof(one));
	return 0;
}

static void *loop_thread(void *userdata)
{
	return (void *)(intptr_t)sc_writer_run(userdata);
}

SC_EXPORT int sc_writer_start_thread(struct sc_writer *w)
{
	sigset_t all, saved;
	int r;

	if (!w)
		return -EINVAL;
	if (w->thread_started)
		return -EBUSY;
	/* Signals are the host's: the thread blocks them all, so that none is
	 * delivered on a thread the host does not know. */
	sigfillset(&all);
	r = pthread_sigmask(SIG_SETMASK, &all, &saved);
	if (r != 0)
		return -r;
	r = pthread_create(&w->thread, NULL, loop_thread, w);
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL); /* restores what worked above */
	if (r != 0)
		return -r;
	w->thread_started = true;
	return 0;
}

SC_EXPORT int sc_writer_stop_thread(struct sc_writer *w)
{
	void *result;
	int r;

	if (!w)
		return -EINVAL;
	if (!w->thread_started)
		return -ESRCH;
	if (pthread_equal(pthread_self(), w->thread))
		return -EDEADLK; /* from a handler: it would join itself */
	(void)sc_writer_stop(w);
	r = pthread_join(w->thread, &result);
	if (r != 0)
		return -r;
	w->thread_started = false;
	(void)loop_take_stop(w); /* a stop the thread did not see */
	w->stopping = false;
	return (int)(intptr_t)result;
}
