/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guardian-link.c - the messages between the service and its freeze
 * guardian (guardian.h): one JSON object per SOCK_SEQPACKET message, sent
 * and received without blocking, checked for size and shape.  What the
 * messages mean is for guardian.c and guardian-main.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "guardian.h"
#include "json-util.h"

int guardian_link_send(int fd, json_t *msg)
{
	_cleanup_json_ json_t *m = msg;
	_cleanup_free_ char *text = NULL;
	ssize_t n;

	text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (!text)
		return -ENOMEM;
	if (strlen(text) > GUARDIAN_MESSAGE_MAX)
		return -EMSGSIZE;
	/* A peer that is gone gives EPIPE, not SIGPIPE. */
	do
		n = send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int guardian_link_recv(int fd, json_t **ret)
{
	_cleanup_free_ char *buf = malloc(GUARDIAN_MESSAGE_MAX);
	struct iovec iov = { .iov_base = buf, .iov_len = GUARDIAN_MESSAGE_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	json_t *msg;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return 0; /* neither side ever sends an empty message */
	if (mh.msg_flags & MSG_TRUNC)
		return -EBADMSG;
	msg = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return -EBADMSG;
	}
	*ret = msg;
	return 1;
}

int guardian_link_header(json_t *msg, const char **ret_type, int64_t *ret_hold)
{
	const char *type;
	int64_t hold;

	if (json_get_string(msg, "type", true, &type) < 0 ||
	    json_get_int(msg, "hold", true, 1, INT64_MAX, &hold) < 0)
		return -EBADMSG;
	*ret_type = type;
	*ret_hold = hold;
	return 0;
}
