/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * participation.c - which writers take part in a backup (protocol.md §6.3,
 * design.md): in component mode those with an added component; in volume
 * mode those with a file set on one of the set's volumes, comparing real
 * paths and devices (a nested subvolume or mount is another volume), which
 * are resolved on a worker thread (a path may sit on a hung mount).  A
 * writer whose data lies elsewhere gets no event of the backup.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "session.h"

/* A file set path of a writer, and whether it lies on a volume of the set. */
struct file_set {
	size_t writer;
	char *path;
	bool recursive;
};

struct resolve_job {
	struct worker_job job;
	struct session *session;
	char **roots;              /* the volume roots of the set */
	size_t n_roots;
	struct file_set *sets;
	size_t n_sets;
	bool *on_volume;           /* per writer: the result */
	size_t n_writers;
};

static struct resolve_job *resolve_job_free(struct resolve_job *j)
{
	for (size_t i = 0; i < j->n_roots; i++)
		free(j->roots[i]);
	for (size_t i = 0; i < j->n_sets; i++)
		free(j->sets[i].path);
	free(j->roots);
	free(j->sets);
	free(j->on_volume);
	free(j);
	return NULL;
}

/* @path with its longest existing prefix replaced by its real path: a file
 * set may name files that do not exist yet.  The device of that prefix in
 * *ret_dev (0 when nothing of it exists). */
static char *resolve(const char *path, dev_t *ret_dev)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash, *real, *out;
	struct stat st;

	*ret_dev = 0;
	if (!p)
		return NULL;
	while (!(real = realpath(p, NULL))) {
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return strdup(path); /* not even "/" resolves: compare as given */
		*slash = '\0';
	}
	if (stat(real, &st) >= 0)
		*ret_dev = st.st_dev;
	if (asprintf(&out, "%s%s", strcmp(real, "/") ? real : "", path + strlen(p)) < 0)
		out = NULL;
	free(real);
	return out;
}

/* Whether @path is @dir or lies below it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether the file set @fs, at @real on device @dev, holds files of the
 * volume at @root (device @root_dev; 0 for unknown): below the root on the
 * same filesystem or subvolume (a nested one is another volume, whose files
 * its snapshot does not hold), or recursive from above the root. */
static bool holds_files_of(const struct file_set *fs, const char *real, dev_t dev,
			   const char *root, dev_t root_dev)
{
	if (fs->recursive && under(root, real))
		return true;
	return under(real, root) && (dev == 0 || root_dev == 0 || dev == root_dev);
}

static void resolve_run(struct worker_job *job)
{
	struct resolve_job *j = (struct resolve_job *)job;
	dev_t root_devs[SET_VOLUMES_MAX] = { 0 };
	struct stat st;
	dev_t dev;

	for (size_t k = 0; k < j->n_roots && k < SET_VOLUMES_MAX; k++)
		if (stat(j->roots[k], &st) >= 0)
			root_devs[k] = st.st_dev;
	for (size_t i = 0; i < j->n_sets; i++) {
		const struct file_set *fs = &j->sets[i];
		_cleanup_free_ char *real = NULL;

		if (j->on_volume[fs->writer] || fs->path[0] != '/')
			continue;
		real = resolve(fs->path, &dev);
		for (size_t k = 0; real && k < j->n_roots; k++)
			if (holds_files_of(fs, real, dev, j->roots[k], root_devs[k]))
				j->on_volume[fs->writer] = true;
	}
}

static void participation_log(const struct session *s)
{
	for (size_t i = 0; i < s->n_writers; i++)
		log_info("%s: writer '%s' %s", session_describe(s), s->writers[i].identity.name,
			 s->writers[i].participating ? "takes part" : "does not take part");
}

static void resolve_done(struct worker_job *job)
{
	struct resolve_job *j = (struct resolve_job *)job;
	struct session *s = j->session;

	if (!job->abandoned) {
		for (size_t i = 0; i < j->n_writers; i++)
			s->writers[i].participating = j->on_volume[i];
		s->resolving = NULL;
		s->participation_known = true;
		participation_log(s);
		session_kick(s);
	}
	resolve_job_free(j);
}

static int add_file_set(struct resolve_job *j, size_t writer, json_t *fs)
{
	struct file_set *a;
	const char *path = json_string_value(json_object_get(fs, "path"));

	if (!path) /* metadata_check() let no such document in */
		return 0;
	a = reallocarray(j->sets, j->n_sets + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	j->sets = a;
	a[j->n_sets] = (struct file_set){
		.writer = writer,
		.path = strdup(path),
		.recursive = json_is_true(json_object_get(fs, "recursive")),
	};
	return a[j->n_sets++].path ? 0 : -ENOMEM;
}

/* Every file set of the writer's components, of any kind; excludes aside. */
static int add_writer(struct resolve_job *j, size_t writer, json_t *metadata)
{
	static const char *const kinds[] = { "files", "database_files", "log_files" };
	json_t *components = json_object_get(metadata, "components"), *c, *fs;
	size_t i, k;
	int r;

	json_array_foreach(components, i, c)
		for (size_t n = 0; n < ELEMENTSOF(kinds); n++)
			json_array_foreach(json_object_get(c, kinds[n]), k, fs)
				if ((r = add_file_set(j, writer, fs)) < 0)
					return r;
	return 0;
}

static void resolve_job_freep(struct resolve_job **j)
{
	if (*j)
		resolve_job_free(*j);
}

static int resolve_job_new(struct session *s, struct resolve_job **ret)
{
	_cleanup_(resolve_job_freep) struct resolve_job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->job.run = resolve_run;
	j->job.done = resolve_done;
	j->session = s;
	j->n_writers = s->n_writers;
	j->on_volume = calloc(s->n_writers + 1, sizeof(*j->on_volume));
	j->roots = calloc(s->set->n_volumes + 1, sizeof(*j->roots));
	if (!j->on_volume || !j->roots)
		return -ENOMEM;
	for (; j->n_roots < s->set->n_volumes; j->n_roots++)
		if (!(j->roots[j->n_roots] = strdup(s->set->volumes[j->n_roots].volume.root)))
			return -ENOMEM;
	for (size_t i = 0; i < s->n_writers; i++)
		if ((r = add_writer(j, i, s->writers[i].metadata)) < 0)
			return r;
	*ret = TAKE_PTR(j);
	return 0;
}

int participation_start(struct session *s)
{
	struct resolve_job *j;
	int r;

	if (s->participation_known || s->resolving)
		return 0;
	if (s->select_components || s->n_writers == 0 || !session_writer_context(s)) {
		for (size_t i = 0; s->select_components && i < s->n_components; i++)
			s->writers[s->components[i].writer].participating = true;
		s->participation_known = true;
		participation_log(s);
		session_kick(s);
		return 0;
	}
	r = resolve_job_new(s, &j);
	if (r < 0)
		return r;
	r = worker_start(s->daemon, &j->job);
	if (r < 0) {
		resolve_job_free(j);
		return r;
	}
	s->resolving = &j->job;
	return 0;
}

void participation_cancel(struct session *s)
{
	if (!s->resolving)
		return;
	worker_abandon(s->resolving, NULL, NULL);
	s->resolving = NULL;
}
