/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * writer.c - struct sc_writer (VSS's CVssWriter): creation, identity,
 * handlers, subscribe and unsubscribe, and SetWriterFailure.  The connection
 * is writer-link.c's and the host's loop writer-loop.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ids.h"
#include "writer-internal.h"

void writer_log(struct sc_writer *w, int priority, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	if (!w->log)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	w->log(priority, message, w->log_userdata);
}

int writer_texts_check(const char *const *s, size_t n)
{
	json_error_t err;
	json_t *j;

	/* jansson refuses strings that are not UTF-8; tell that from ENOMEM. */
	for (size_t i = 0; i < n; i++) {
		if (!s[i])
			continue;
		j = json_pack_ex(&err, 0, "s", s[i]);
		if (!j)
			return json_error_code(&err) == json_error_invalid_utf8 ? -EINVAL : -ENOMEM;
		json_decref(j);
	}
	return 0;
}

static int writer_open_fds(struct sc_writer *w)
{
	struct epoll_event e = { .events = EPOLLIN };

	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epoll_fd < 0)
		return -errno;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return -errno;
	e.data.fd = w->stop_fd;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->stop_fd, &e) < 0)
		return -errno;
	return 0;
}

SC_EXPORT int sc_writer_new(struct sc_writer **ret)
{
	struct sc_writer *w;
	int r;

	if (!ret)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = w->epoll_fd = w->stop_fd = -1;
	wire_init(&w->wire, -1);
	w->link = WRITER_LINK_DOWN;
	w->link_deadline_usec = UINT64_MAX;
	w->backoff_usec = WRITER_BACKOFF_MIN_USEC;
	w->freeze_timeout_ms = SC_WRITER_DEFAULT_FREEZE_TIMEOUT_MS;
	r = writer_open_fds(w);
	if (r < 0) {
		sc_writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

SC_EXPORT struct sc_writer *sc_writer_free(struct sc_writer *w)
{
	if (!w)
		return NULL;
	if (w->thread_started)
		(void)sc_writer_stop_thread(w); /* its result is the run's, not ours */
	if (w->subscribed)
		(void)sc_writer_unsubscribe(w); /* closes the link whatever it returns */
	writer_link_close(w);
	if (w->stop_fd >= 0)
		(void)close(w->stop_fd);
	if (w->epoll_fd >= 0)
		(void)close(w->epoll_fd);
	free(w->name);
	free(w->instance_name);
	free(w->socket_path);
	free(w);
	return NULL;
}

static int writer_set_identity(struct sc_writer *w, const struct sc_id *class_id,
			       const char *name, const char *instance_name)
{
	w->name = strdup(name);
	w->instance_name = instance_name ? strdup(instance_name) : NULL;
	if (!w->name || (instance_name && !w->instance_name)) {
		free(w->name);
		free(w->instance_name);
		w->name = w->instance_name = NULL;
		return -ENOMEM;
	}
	w->class_id = *class_id;
	if (instance_name)
		id_derive(class_id, instance_name, &w->instance_id);
	return 0;
}

SC_EXPORT int sc_writer_initialize(struct sc_writer *w, const struct sc_id *class_id,
				   const char *name, const char *instance_name,
				   enum sc_usage_type usage, enum sc_source_type source,
				   enum sc_app_level level, uint32_t freeze_timeout_ms)
{
	struct sc_id instance_id;
	int r;

	if (!w || !class_id || sc_id_is_null(class_id) || !name || name[0] == '\0' ||
	    (instance_name && instance_name[0] == '\0'))
		return -EINVAL;
	if ((unsigned)usage >= _SC_UT_MAX || (unsigned)source >= _SC_ST_MAX ||
	    level < SC_APP_SYSTEM || level > SC_APP_FRONT_END)
		return -EINVAL;
	r = writer_texts_check((const char *[]){ name, instance_name }, 2);
	if (r < 0)
		return r;
	if (w->initialized)
		return -SC_E_BAD_STATE;
	/* Random once per object, so reconnections keep it (design.md). */
	if (!instance_name && (r = sc_id_random(&instance_id)) < 0)
		return r;
	r = writer_set_identity(w, class_id, name, instance_name);
	if (r < 0)
		return r;
	if (!instance_name)
		w->instance_id = instance_id;
	w->usage = usage;
	w->source = source;
	w->level = level;
	w->freeze_timeout_ms = freeze_timeout_ms ? freeze_timeout_ms
						 : SC_WRITER_DEFAULT_FREEZE_TIMEOUT_MS;
	w->initialized = true;
	return 0;
}

SC_EXPORT int sc_writer_set_socket(struct sc_writer *w, const char *path)
{
	char *p;

	if (!w || !path || path[0] == '\0')
		return -EINVAL;
	if (w->subscribed)
		return -SC_E_BAD_STATE;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	free(w->socket_path);
	w->socket_path = p;
	return 0;
}

SC_EXPORT int sc_writer_set_log(struct sc_writer *w, sc_writer_log_t log, void *userdata)
{
	if (!w)
		return -EINVAL;
	w->log = log;
	w->log_userdata = userdata;
	return 0;
}

SC_EXPORT int sc_writer_on_identify(struct sc_writer *w, sc_writer_identify_handler_t handler,
				    void *userdata)
{
	if (!w)
		return -EINVAL;
	w->identify = handler;
	w->identify_userdata = userdata;
	return 0;
}

SC_EXPORT int sc_writer_on_event(struct sc_writer *w, enum sc_event event,
				 sc_writer_event_handler_t handler, void *userdata)
{
	if (!w || (unsigned)event >= _SC_EVENT_MAX || event == SC_EVENT_IDENTIFY)
		return -EINVAL;
	w->handlers[event] = (struct writer_handler){ handler, userdata };
	return 0;
}

SC_EXPORT int sc_writer_subscribe(struct sc_writer *w)
{
	int r;

	if (!w)
		return -EINVAL;
	if (w->subscribed)
		return -SC_E_WRITER_ALREADY_SUBSCRIBED; /* T57 */
	if (!w->initialized || !w->identify)
		return -SC_E_BAD_STATE;
	r = writer_link_subscribe(w);
	if (r < 0)
		return r;
	w->subscribed = true;
	return 0;
}

SC_EXPORT int sc_writer_unsubscribe(struct sc_writer *w)
{
	if (!w)
		return -EINVAL;
	if (!w->subscribed)
		return -SC_E_BAD_STATE;
	w->subscribed = false;
	(void)writer_link_unsubscribe(w); /* the link is closed whatever happened */
	return 0;
}

SC_EXPORT int sc_writer_get_class_id(const struct sc_writer *w, struct sc_id *ret)
{
	if (!w || !ret)
		return -EINVAL;
	if (!w->initialized)
		return -SC_E_BAD_STATE;
	*ret = w->class_id;
	return 0;
}

SC_EXPORT int sc_writer_get_instance_id(const struct sc_writer *w, struct sc_id *ret)
{
	if (!w || !ret)
		return -EINVAL;
	if (!w->initialized)
		return -SC_E_BAD_STATE;
	*ret = w->instance_id;
	return 0;
}

SC_EXPORT int sc_writer_set_failure(struct sc_writer *w, int error)
{
	int e = error < 0 ? error : -error;

	if (!w || e > -SC_E_WRITERERROR_PARTIAL_FAILURE || e < -SC_E_WRITERERROR_RECOVERY_FAILED)
		return -EINVAL;
	if (!w->in_handler || w->handler_event == SC_EVENT_IDENTIFY)
		return -SC_E_BAD_STATE; /* T58 */
	w->failure = e;
	return 0;
}
