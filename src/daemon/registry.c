/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * registry.c - the subscribed writers (protocol.md §4.1): subscribe and
 * unsubscribe, one writer per connection, one live connection per (class,
 * instance), class bindings from the configuration.  It sends no events;
 * that is writer-events.c.
 */
#include <errno.h>
#include <search.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "json-util.h"
#include "log.h"

#define FREEZE_TIMEOUT_MS_DEFAULT 60000

/* The subscribed writers by class and instance, beside daemon->writers
 * (which keeps their order): every event sent looks its writer up
 * (fanout.c), and walking the list made a fan-out to N writers cost N²
 * comparisons (14 % of the service's time at 1000 writers).  A tsearch(3)
 * tree of &writer->identity; one service per process, so it is this file's. */
static void *writers_by_id;

void registry_identity_done(struct writer_identity *id)
{
	free(id->name);
	free(id->instance_name);
	id->name = id->instance_name = NULL;
}

int registry_identity_copy(const struct writer_identity *src, struct writer_identity *ret)
{
	struct writer_identity id = *src;

	id.name = strdup(src->name);
	id.instance_name = src->instance_name ? strdup(src->instance_name) : NULL;
	if (!id.name || (src->instance_name && !id.instance_name)) {
		registry_identity_done(&id);
		return -ENOMEM;
	}
	*ret = id;
	return 0;
}

json_t *registry_identity_json(const struct writer_identity *id)
{
	char class_id[SC_ID_STRING_MAX], instance_id[SC_ID_STRING_MAX];

	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I}", "class_id",
			 sc_id_to_string(&id->class_id, class_id), "instance_id",
			 sc_id_to_string(&id->instance_id, instance_id), "name", id->name,
			 "instance_name", id->instance_name ? id->instance_name : "", "usage_type",
			 id->usage_type, "source_type", id->source_type, "level", id->level,
			 "freeze_timeout_ms", (json_int_t)id->freeze_timeout_ms, "uid",
			 (json_int_t)id->uid, "pid", (json_int_t)id->pid);
}

/* Names end up in logs and on terminals (shadowcopy writers): no control
 * characters, so that no writer can forge a log line or an escape sequence. */
static bool name_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* The subscribe params into @ret (whose strings the caller frees, also on
 * failure). */
static int parse_identity(json_t *p, struct writer_identity *ret)
{
	const char *name = NULL, *instance_name = NULL;
	int64_t usage, source, level, freeze = FREEZE_TIMEOUT_MS_DEFAULT;
	int r;

	if ((r = json_get_id(p, "class_id", true, &ret->class_id)) < 0 ||
	    (r = json_get_id(p, "instance_id", true, &ret->instance_id)) < 0 ||
	    (r = json_get_string(p, "name", true, &name)) < 0 ||
	    (r = json_get_string(p, "instance_name", false, &instance_name)) < 0 ||
	    (r = json_get_int(p, "usage_type", true, 0, _SC_UT_MAX - 1, &usage)) < 0 ||
	    (r = json_get_int(p, "source_type", true, 0, _SC_ST_MAX - 1, &source)) < 0 ||
	    (r = json_get_int(p, "level", true, SC_APP_SYSTEM, SC_APP_FRONT_END, &level)) < 0 ||
	    (r = json_get_int(p, "freeze_timeout_ms", false, 1, UINT32_MAX, &freeze)) < 0)
		return r;
	if (name[0] == '\0' || !name_valid(name) || (instance_name && !name_valid(instance_name)))
		return -SC_E_INVALID_MESSAGE;
	ret->usage_type = (int)usage;
	ret->source_type = (int)source;
	ret->level = (int)level;
	ret->freeze_timeout_ms = (uint32_t)freeze;
	ret->name = strdup(name);
	if (instance_name && instance_name[0] != '\0')
		ret->instance_name = strdup(instance_name);
	if (!ret->name || (instance_name && instance_name[0] != '\0' && !ret->instance_name))
		return -ENOMEM;
	return 0;
}

static int identity_compare(const void *a, const void *b)
{
	const struct writer_identity *x = a, *y = b;
	int r = memcmp(&x->class_id, &y->class_id, sizeof(x->class_id));

	return r != 0 ? r : memcmp(&x->instance_id, &y->instance_id, sizeof(x->instance_id));
}

struct writer *registry_lookup(struct daemon *d, const struct writer_identity *id)
{
	void **node = tfind(id, &writers_by_id, identity_compare);

	if (!node)
		return NULL;
	return (struct writer *)((char *)*node - offsetof(struct writer, identity));
}

static int registry_add(struct connection *c, struct writer_identity *id)
{
	struct writer *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->identity = *id;
	if (!tsearch(&w->identity, &writers_by_id, identity_compare)) {
		free(w);
		return -ENOMEM;
	}
	memset(id, 0, sizeof(*id)); /* @w took its strings */
	w->daemon = c->daemon;
	w->conn = c;
	w->state = SC_WS_STABLE;
	TAILQ_INIT(&w->events);
	TAILQ_INSERT_TAIL(&c->daemon->writers, w, entry);
	c->writer = w;
	return 0;
}

int registry_subscribe(struct connection *c, const struct wire_message *m)
{
	struct writer_identity id = {};
	char class_id[SC_ID_STRING_MAX];
	int r;

	if (c->writer) {
		connection_reply_error(c, true, m->id, -SC_E_WRITER_ALREADY_SUBSCRIBED,
				       "This connection already carries a writer");
		return 0;
	}
	r = parse_identity(m->body, &id);
	id.uid = c->peer.uid;
	id.pid = c->peer.pid;
	if (r >= 0 && !config_class_allows(c->daemon->config, &id.class_id, id.uid)) {
		connection_reply_error(c, true, m->id, -SC_E_ACCESS_DENIED,
				       "Writer class %s is bound to other users",
				       sc_id_to_string(&id.class_id, class_id));
	} else if (r >= 0 && registry_lookup(c->daemon, &id)) {
		connection_reply_error(c, true, m->id, -SC_E_WRITER_ALREADY_SUBSCRIBED,
				       "Another connection holds this class and instance");
	} else if (r >= 0 && (r = registry_add(c, &id)) >= 0) {
		connection_reply(c, m->id, json_object());
		log_info("Writer '%s' subscribed: class %s, uid %u, pid %d",
			 c->writer->identity.name,
			 sc_id_to_string(&c->writer->identity.class_id, class_id),
			 (unsigned)c->peer.uid, (int)c->peer.pid);
	}
	registry_identity_done(&id);
	return r < 0 ? r : 0;
}

int registry_unsubscribe(struct connection *c, const struct wire_message *m)
{
	if (!c->writer)
		return -SC_E_BAD_STATE;
	registry_remove(c->writer);
	connection_reply(c, m->id, json_object());
	return 0;
}

void registry_remove(struct writer *w)
{
	char instance_id[SC_ID_STRING_MAX];

	log_info("Writer '%s' (instance %s) left", w->identity.name,
		 sc_id_to_string(&w->identity.instance_id, instance_id));
	/* Out of the registry first, so nothing that runs from the failed
	 * events' callbacks finds it there; @w stays valid for them. */
	TAILQ_REMOVE(&w->daemon->writers, w, entry);
	(void)tdelete(&w->identity, &writers_by_id, identity_compare); /* it is there */
	w->leaving = true;
	writer_events_fail_all(w);
	fanout_writer_left(w->daemon, &w->identity);
	w->conn->writer = NULL;
	registry_identity_done(&w->identity);
	free(w);
}
