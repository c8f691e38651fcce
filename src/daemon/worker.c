/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * worker.c - work that may block (provider calls, resolving paths) run on a
 * thread of its own, one thread per job, so that nothing waits behind
 * anything else; the finished job comes back to the event loop through a
 * pipe and its done function runs there.  Threads are kept for the next
 * job.  It knows nothing about the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon.h"
#include "log.h"

/* How long an exiting service waits for jobs still running. */
#define WORKER_EXIT_WAIT_MSEC 5000
/* At most this many threads are kept waiting for a job.  Starting a thread
 * per job cost ~150 µs here (clone, and the unmap of its stack at its end),
 * nine times in each backup and twice inside its freeze window; handing a
 * job to a waiting thread is a futex wake.  A job that finds no thread
 * waiting gets a new one, so still nothing waits behind anything else. */
#define WORKER_IDLE_MAX 4

/* A thread waiting for a job, on the idle list (its own stack). */
struct idle_thread {
	struct idle_thread *next;
	pthread_cond_t cond;
	struct worker_job *job;
};

/* Threads are shared by the whole process, like the service they serve. */
static struct {
	pthread_mutex_t lock;
	struct idle_thread *idle;
	unsigned n_idle;
	bool exiting;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void worker_finished(struct worker_job *j)
{
	int fd = j->daemon->worker_pipe[1];
	ssize_t n;

	/* A pointer is far below PIPE_BUF: the write is atomic, and the
	 * write end blocks, so the loop gets every job back.  @j may be
	 * freed as soon as it is written. */
	do
		n = write(fd, &j, sizeof(j));
	while (n < 0 && errno == EINTR);
}

/* After a job: on the idle list (unless enough threads are), and only then
 * is the job handed back, because the loop often starts the next job at
 * once and should find this thread.  Returns whether it was listed. */
static bool worker_enlist(struct idle_thread *self)
{
	bool listed;

	(void)pthread_mutex_lock(&pool.lock); /* a default mutex: cannot fail */
	listed = !pool.exiting && pool.n_idle < WORKER_IDLE_MAX;
	if (listed) {
		self->job = NULL;
		self->next = pool.idle;
		pool.idle = self;
		pool.n_idle++;
	}
	(void)pthread_mutex_unlock(&pool.lock);
	return listed;
}

/* The next job, or NULL when the service exits. */
static struct worker_job *worker_wait(struct idle_thread *self)
{
	struct worker_job *j;

	(void)pthread_mutex_lock(&pool.lock);
	while (!self->job && !pool.exiting)
		(void)pthread_cond_wait(&self->cond, &pool.lock);
	j = self->job; /* NULL: worker_teardown() took us off the list */
	(void)pthread_mutex_unlock(&pool.lock);
	return j;
}

static void *worker_thread(void *userdata)
{
	struct idle_thread self = { .cond = PTHREAD_COND_INITIALIZER };
	struct worker_job *j = userdata;
	bool listed;

	do {
		j->run(j);
		listed = worker_enlist(&self);
		worker_finished(j);
	} while (listed && (j = worker_wait(&self)));
	(void)pthread_cond_destroy(&self.cond);
	return NULL;
}

static void worker_deliver(struct daemon *d, struct worker_job *j)
{
	d->n_jobs--;
	j->done(j);
}

/* Read every finished job the pipe holds; -EAGAIN when it is empty. */
static int worker_read(struct daemon *d)
{
	struct worker_job *jobs[64];
	ssize_t n;

	n = read(d->worker_pipe[0], jobs, sizeof(jobs));
	if (n < 0)
		return -errno;
	if (n == 0 || n % sizeof(jobs[0]) != 0)
		return -EIO; /* only we write there, whole pointers */
	for (size_t i = 0; i < (size_t)n / sizeof(jobs[0]); i++)
		worker_deliver(d, jobs[i]);
	return 0;
}

static int worker_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	do
		r = worker_read(d);
	while (r >= 0);
	if (r != -EAGAIN && r != -EINTR)
		log_error_errno(r, "Failed to read finished jobs");
	return 0;
}

int worker_setup(struct daemon *d)
{
	int r;

	if (pipe2(d->worker_pipe, O_CLOEXEC) < 0)
		return log_error_errno(errno, "Failed to create the worker pipe");
	if (fcntl(d->worker_pipe[0], F_SETFL, O_NONBLOCK) < 0)
		return log_error_errno(errno, "Failed to set up the worker pipe");
	r = sd_event_add_io(d->event, &d->worker_io, d->worker_pipe[0], EPOLLIN, worker_on_io, d);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the worker pipe");
	return 0;
}

/* At exit: the jobs still running get a few seconds to finish, so that
 * their done functions free what they hold.  One that does not finish is
 * left to the process exit; its pipe stays open so that its last write
 * never meets a closed pipe. */
void worker_teardown(struct daemon *d)
{
	struct pollfd p = { .fd = d->worker_pipe[0], .events = POLLIN };

	/* Idle threads end now, running ones after their job. */
	(void)pthread_mutex_lock(&pool.lock);
	pool.exiting = true;
	for (struct idle_thread *t = pool.idle; t; t = t->next)
		(void)pthread_cond_signal(&t->cond);
	pool.idle = NULL;
	pool.n_idle = 0;
	(void)pthread_mutex_unlock(&pool.lock);
	d->worker_io = sd_event_source_disable_unref(d->worker_io);
	if (d->worker_pipe[0] < 0)
		return;
	while (d->n_jobs > 0 && poll(&p, 1, WORKER_EXIT_WAIT_MSEC) > 0)
		(void)worker_read(d); /* -EAGAIN on a spurious wake-up */
	if (d->n_jobs > 0) {
		log_warning("%u provider or file system calls still running at exit", d->n_jobs);
		return;
	}
	(void)close(d->worker_pipe[0]);
	(void)close(d->worker_pipe[1]);
	d->worker_pipe[0] = d->worker_pipe[1] = -1;
}

/* Hand @j to an idle thread, if there is one. */
static bool worker_hand_over(struct worker_job *j)
{
	struct idle_thread *t;

	(void)pthread_mutex_lock(&pool.lock);
	t = pool.idle;
	if (t) {
		pool.idle = t->next;
		pool.n_idle--;
		t->job = j;
		(void)pthread_cond_signal(&t->cond);
	}
	(void)pthread_mutex_unlock(&pool.lock);
	return t;
}

int worker_start(struct daemon *d, struct worker_job *j)
{
	pthread_attr_t attr;
	sigset_t all, saved;
	pthread_t t;
	int r;

	j->daemon = d;
	if (worker_hand_over(j)) {
		d->n_jobs++;
		return 0;
	}
	r = pthread_attr_init(&attr);
	if (r != 0)
		return -r;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED); /* valid value */
	/* Signals belong to the loop's signalfd: the thread starts with all
	 * of them blocked. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &saved); /* valid arguments */
	r = pthread_create(&t, &attr, worker_thread, j);
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
	(void)pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	d->n_jobs++;
	return 0;
}

void worker_abandon(struct worker_job *j, void (*release)(void *), void *release_data)
{
	j->abandoned = true;
	j->release = release;
	j->release_data = release_data;
}
