/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * server.c - the two listening sockets (protocol.md §1): made with their
 * modes, or passed by the service manager (socket activation, told apart by
 * FileDescriptorName=); accepting, the connection limit, and who the peer is
 * (SO_PEERCRED, SO_PEERGROUPS).  What a connection may do with that is
 * decided at hello, in connection.c, the same way for both origins.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"

struct listener {
	struct daemon *daemon;
	int fd;
	char *path;
	dev_t dev; /* of the socket file we made: unlink only that one */
	ino_t ino;
	bool writer_only;
	bool inherited; /* passed by the service manager, whose file it is */
	sd_event_source *io;
	sd_event_source *retry; /* re-enables accepting after fd exhaustion */
};

static int peer_in_group(int fd, gid_t gid)
{
	_cleanup_free_ gid_t *groups = NULL;
	socklen_t len = 0;

	/* First call: the kernel says how much room the list needs. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 && errno != ERANGE)
		return -errno;
	if (len == 0)
		return 0;
	groups = malloc(len);
	if (!groups)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return -errno;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static int peer_get(const struct daemon *d, int fd, bool writer_only, struct peer *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int privileged;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (cred.uid == 0)
		privileged = 1;
	else if (!d->have_group)
		privileged = 0;
	else if (cred.gid == d->group_gid)
		privileged = 1;
	else if ((privileged = peer_in_group(fd, d->group_gid)) < 0)
		return privileged;
	*ret = (struct peer){
		.uid = cred.uid,
		.gid = cred.gid,
		.pid = cred.pid,
		.privileged = privileged > 0,
		.writer_only = writer_only,
	};
	return 0;
}

static int listener_on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct listener *l = userdata;

	l->retry = sd_event_source_unref(l->retry);
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_ON); /* cannot fail for ON */
	return 0;
}

/* Out of fds: a level-triggered listener would spin, so stop accepting for a
 * second and let connections close meanwhile. */
static int listener_pause(struct listener *l)
{
	int r;

	if (l->retry)
		return 0;
	r = sd_event_add_time_relative(l->daemon->event, &l->retry, CLOCK_MONOTONIC, USEC_PER_SEC,
				       0, listener_on_retry, l);
	if (r < 0)
		return log_error_errno(r, "Failed to pause accepting on %s", l->path);
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_OFF); /* cannot fail for OFF */
	return 0;
}

static int listener_accept_failed(struct listener *l, int error)
{
	switch (error) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
		return 0;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_warning_errno(error, "Failed to accept on %s, pausing for a second", l->path);
		return listener_pause(l);
	default:
		log_warning_errno(error, "Failed to accept on %s, ignoring", l->path);
		return 0;
	}
}

static int listener_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;
	struct daemon *d = l->daemon;
	_cleanup_close_ int cfd = -EBADF;
	struct peer peer;
	int r;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return listener_accept_failed(l, errno);
	if (d->n_connections >= d->config->max_connections) {
		log_warning("Refusing a connection on %s: %u connections already", l->path,
			    d->n_connections);
		return 0; /* closed by the cleanup: the peer sees end of file */
	}
	r = peer_get(d, cfd, l->writer_only, &peer);
	if (r < 0) {
		log_warning_errno(r, "Failed to read peer credentials, closing");
		return 0;
	}
	(void)connection_new(d, TAKE_FD(cfd), &peer); /* logs its own failure */
	return 0;
}

/* A socket file left by a service that died is removed; a live one (someone
 * accepts connections on it) or anything that is not a socket is kept. */
static int remove_stale_socket(const struct sockaddr_un *sa, socklen_t sa_len)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return log_error_errno(EEXIST, "'%s' exists and is not a socket", sa->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sa_len) == 0)
		return log_error_errno(EADDRINUSE, "Another service listens on '%s'",
				       sa->sun_path);
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return log_error_errno(errno, "Failed to remove stale socket '%s'", sa->sun_path);
	return 0;
}

static int socket_address(const char *path, struct sockaddr_un *ret, socklen_t *ret_len)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(ret->sun_path))
		return log_error_errno(ENAMETOOLONG, "Invalid socket path '%s'", path);
	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	memcpy(ret->sun_path, path, len);
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

static int socket_directory(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* the current directory or "/" */
	*slash = '\0';
	r = fs_mkdir_parents(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Failed to create directory '%s'", dir);
	return 0;
}

/* bind, then chmod and chown before listen: until listen() nobody can
 * connect, so no one sees the socket with the umask's mode. */
static int listener_bind(struct listener *l, mode_t mode, const struct daemon *d)
{
	struct sockaddr_un sa;
	socklen_t sa_len = 0; /* set by the address builder; 0 keeps gcc -O2 quiet */
	struct stat st;
	int r;

	if ((r = socket_address(l->path, &sa, &sa_len)) < 0 ||
	    (r = socket_directory(l->path)) < 0 || (r = remove_stale_socket(&sa, sa_len)) < 0)
		return r;
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return log_error_errno(errno, "Failed to create a socket");
	if (bind(l->fd, (struct sockaddr *)&sa, sa_len) < 0)
		return log_error_errno(errno, "Failed to bind '%s'", l->path);
	if (stat(l->path, &st) < 0)
		return log_error_errno(errno, "Failed to stat '%s'", l->path);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (chmod(l->path, mode) < 0)
		return log_error_errno(errno, "Failed to set the mode of '%s'", l->path);
	if (!l->writer_only && d->have_group && chown(l->path, (uid_t)-1, d->group_gid) < 0)
		log_warning_errno(errno, "Failed to give '%s' to group %u, ignoring", l->path,
				  (unsigned)d->group_gid);
	if (listen(l->fd, SOMAXCONN) < 0)
		return log_error_errno(errno, "Failed to listen on '%s'", l->path);
	return 0;
}

static struct listener *listener_free(struct listener *l)
{
	struct stat st;

	if (!l)
		return NULL;
	sd_event_source_disable_unref(l->io);
	sd_event_source_disable_unref(l->retry);
	if (l->fd >= 0) {
		(void)close(l->fd); /* a listening socket: nothing to flush */
		if (!l->inherited && stat(l->path, &st) == 0 && st.st_dev == l->dev &&
		    st.st_ino == l->ino)
			(void)unlink(l->path); /* best effort at exit */
	}
	free(l->path);
	free(l);
	return NULL;
}

static struct listener *listener_alloc(struct daemon *d, int fd, bool writer_only)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l)
		*l = (struct listener){ .daemon = d, .fd = fd, .writer_only = writer_only };
	return l;
}

/* Watch @l, or free it on failure. */
static int listener_watch(struct listener *l, struct listener **ret)
{
	int r;

	r = sd_event_add_io(l->daemon->event, &l->io, l->fd, EPOLLIN, listener_on_io, l);
	if (r < 0) {
		log_error_errno(r, "Failed to watch '%s'", l->path);
		listener_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static int listener_new(struct daemon *d, const char *path, bool writer_only,
			struct listener **ret)
{
	struct listener *l;
	int r;

	l = listener_alloc(d, -EBADF, writer_only);
	if (l)
		l->path = strdup(path);
	if (!l || !l->path) {
		listener_free(l);
		return log_error_errno(ENOMEM, "Failed to listen on '%s'", path);
	}
	r = listener_bind(l, writer_only ? 0666 : 0660, d);
	if (r < 0) {
		listener_free(l);
		return r;
	}
	return listener_watch(l, ret);
}

/* The path an inherited socket is bound to (malloc'd), for the logs. */
static int socket_name(int fd, char **ret)
{
	struct sockaddr_un sa = {};
	socklen_t len = sizeof(sa);
	char *name;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	if (len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0] != '\0')
		name = strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	else if (asprintf(&name, "fd %d", fd) < 0) /* abstract or unnamed */
		name = NULL;
	if (!name)
		return -ENOMEM;
	*ret = name;
	return 0;
}

/* A socket passed by the service manager: used as it is (the socket unit
 * set its mode and group), never unlinked.  Takes @fd in all cases. */
static int listener_adopt(struct daemon *d, int fd, const char *configured, bool writer_only,
			  struct listener **ret)
{
	struct listener *l;
	int r;

	l = listener_alloc(d, fd, writer_only);
	if (!l) {
		(void)close(fd);
		return log_error_errno(ENOMEM, "Failed to adopt socket fd %d", fd);
	}
	l->inherited = true;
	r = socket_name(fd, &l->path);
	if (r < 0) {
		listener_free(l);
		return log_error_errno(r, "Failed to read the address of socket fd %d", fd);
	}
	if (strcmp(l->path, configured) != 0)
		log_warning("The %s socket passed by the service manager is %s, but the "
			    "configuration names %s; clients using that path will not reach it",
			    writer_only ? "writer" : "control", l->path, configured);
	return listener_watch(l, ret);
}

/* The sockets the service manager passed, by FileDescriptorName=; -EBADF
 * for one it did not pass. */
struct passed {
	int control;
	int writer;
};

/* The role of a passed socket by its name: "control" or "writer"; a single
 * socket of any other name ("unknown" when none was given, or the socket
 * unit's name) is the control socket. */
static int passed_slot(struct passed *p, const char *name, int n, int **ret)
{
	int *slot;

	if (strcmp(name, "writer") == 0)
		slot = &p->writer;
	else if (strcmp(name, "control") == 0 || n == 1)
		slot = &p->control;
	else {
		log_error("Refusing the socket '%s' passed by the service manager: its "
			  "FileDescriptorName= must be control or writer", name);
		return -EINVAL;
	}
	if (*slot >= 0) {
		log_error("Refusing the sockets passed by the service manager: two are named %s",
			  name);
		return -EINVAL;
	}
	*ret = slot;
	return 0;
}

/* Only a listening AF_UNIX stream socket can be either of ours. */
static int passed_check(int fd, const char *name)
{
	int r, flags;

	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r < 0)
		return log_error_errno(r, "Failed to check the socket '%s' (fd %d) passed by the "
				       "service manager", name, fd);
	if (r == 0) {
		log_error("Refusing the socket '%s' (fd %d) passed by the service manager: "
			  "not a listening AF_UNIX stream socket", name, fd);
		return -EINVAL;
	}
	/* accept() must never block the loop (a connection may vanish between
	 * readiness and accept). */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return log_error_errno(errno, "Failed to make socket fd %d non-blocking", fd);
	return 0;
}

static int passed_sort(struct passed *p, char **names, int n)
{
	int *slot, r;

	if (n > 2) {
		log_error("Refusing the %d sockets passed by the service manager: at most two "
			  "(control, writer)", n);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if ((r = passed_slot(p, names[i], n, &slot)) < 0 ||
		    (r = passed_check(SD_LISTEN_FDS_START + i, names[i])) < 0)
			return r;
		*slot = SD_LISTEN_FDS_START + i;
	}
	return 0;
}

/* sd_listen_fds_with_names(3): the environment is unset, the fds get
 * FD_CLOEXEC.  On failure every passed fd is closed. */
static int passed_take(struct passed *ret)
{
	struct passed p = { -EBADF, -EBADF };
	char **names = NULL;
	int n, r;

	n = sd_listen_fds_with_names(true, &names);
	if (n < 0)
		return log_error_errno(n, "Failed to read the sockets passed by the service manager");
	r = passed_sort(&p, names, n);
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			(void)close(SD_LISTEN_FDS_START + i);
		return r;
	}
	*ret = p;
	return 0;
}

/* The listener of one role: the passed socket @fd (taken) if there is
 * one, else a socket of our own at @path. */
static int listener_open(struct daemon *d, int fd, const char *path, bool writer_only,
			 struct listener **ret)
{
	if (fd >= 0)
		return listener_adopt(d, fd, path, writer_only, ret);
	return listener_new(d, path, writer_only, ret);
}

static void resolve_group(struct daemon *d)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(d->config->group);
	if (!gr) {
		log_warning("Group '%s' not found%s%s: only root may act as requester or admin",
			    d->config->group, errno ? ": " : "", errno ? sc_strerror(errno) : "");
		d->have_group = false;
		return;
	}
	d->have_group = true;
	d->group_gid = gr->gr_gid;
}

int server_start(struct daemon *d)
{
	struct passed p = { -EBADF, -EBADF }; /* set by passed_take(); GCC -O3 cannot tell */
	int r;

	resolve_group(d);
	r = passed_take(&p);
	if (r < 0)
		return r;
	r = listener_open(d, p.control, d->config->socket_path, false, &d->control);
	if (r < 0) {
		if (p.writer >= 0)
			(void)close(p.writer);
		return r;
	}
	r = listener_open(d, p.writer, d->config->writer_socket_path, true, &d->writer_listener);
	if (r < 0)
		return r;
	log_info("Listening on %s (control%s) and %s (writers%s)", d->control->path,
		 d->control->inherited ? ", from the service manager" : "",
		 d->writer_listener->path,
		 d->writer_listener->inherited ? ", from the service manager" : "");
	return 0;
}

void server_stop(struct daemon *d)
{
	d->control = listener_free(d->control);
	d->writer_listener = listener_free(d->writer_listener);
}
