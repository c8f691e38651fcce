/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scan.c - read the hook directory into a list of hooks grouped in steps:
 * its entries in byte order of their names, each executable file a step of
 * its own, each subdirectory one step whose executables run in parallel.
 * Backup files are skipped as qemu-ga's fsfreeze-hook skips them, and so are
 * hidden ones.  Each hook's opt-in marker line is read here; nothing is run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks-writer.h"
#include "writer-common.h"

/* The marker is looked for in the first bytes of a hook only. */
#define MARKER_SCAN_BYTES 4096
#define MARKER "shadowcopy-events:"

struct scan {
	struct hook *hooks;
	size_t n_hooks;
	size_t n_steps;
};

/* Names qemu-ga's dispatcher never runs (package manager and editor leftovers). */
static bool scan_ignored(const char *name)
{
	static const char *const suffixes[] = {
		"~", ".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".sample",
		".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak",
		".dpkg-backup", ".dpkg-remove",
	};
	size_t n = strlen(name);

	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < ELEMENTS_OF(suffixes); i++) {
		size_t k = strlen(suffixes[i]);

		if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static int scan_filter(const struct dirent *de)
{
	return !scan_ignored(de->d_name);
}

static unsigned scan_marker_words(const char *path, char *words)
{
	char *save = NULL;
	unsigned mask = 0;
	int a;

	for (char *w = strtok_r(words, " \t\r,", &save); w; w = strtok_r(NULL, " \t\r,", &save)) {
		a = action_from_word(w);
		if (a < 0)
			wlog_warning("%s: unknown word '%s' in its %s line, ignoring", path, w,
				     MARKER);
		else if (a != HOOK_FREEZE && a != HOOK_THAW) /* always sent */
			mask |= 1u << a;
	}
	return mask;
}

/* The actions a hook opts in to: a comment line "# shadowcopy-events: ..." near its top. */
static unsigned scan_marker(const char *path)
{
	char buf[MARKER_SCAN_BYTES + 1], *line, *save = NULL;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0; /* executable but unreadable (a binary with mode 0711): no marker */
	n = read(fd, buf, MARKER_SCAN_BYTES);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (line[0] != '#')
			continue;
		line += strspn(line, "# \t");
		if (strncmp(line, MARKER, strlen(MARKER)) == 0)
			return scan_marker_words(path, line + strlen(MARKER));
	}
	return 0;
}

static int scan_add(struct scan *s, const char *path, const char *name)
{
	struct hook *h = reallocarray(s->hooks, s->n_hooks + 1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	s->hooks = h;
	h = &h[s->n_hooks];
	*h = (struct hook){ .path = strdup(path), .name = strdup(name), .step = s->n_steps };
	if (!h->path || !h->name) {
		free(h->path);
		free(h->name);
		return -ENOMEM;
	}
	h->opt_in = scan_marker(path);
	s->n_hooks++;
	return 0;
}

static bool scan_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * The entries of @dir (relative name @prefix) in byte order.  At the top
 * (@depth 0) each executable is a step and each subdirectory is scanned as
 * one step; inside one, only executables count.
 */
static int scan_level(struct scan *s, const char *dir, const char *prefix, int depth)
{
	struct dirent **entries = NULL;
	char path[4096], name[4096];
	struct stat st;
	size_t before;
	int n, r = 0;

	if ((n = scandir(dir, &entries, scan_filter, alphasort)) < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, entries[i]->d_name);
		snprintf(name, sizeof(name), "%s%s", prefix, entries[i]->d_name);
		if (r < 0 || stat(path, &st) < 0)
			continue;
		if (depth == 0 && S_ISDIR(st.st_mode)) {
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "/");
			before = s->n_hooks;
			r = scan_level(s, path, name, 1);
			s->n_steps += s->n_hooks > before;
		} else if (scan_executable(path)) {
			r = scan_add(s, path, name);
			s->n_steps += depth == 0 && r >= 0;
		}
	}
	for (int i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
	return r;
}

struct hook *scan_free(struct hook *hooks, size_t n_hooks)
{
	for (size_t i = 0; i < n_hooks; i++) {
		free(hooks[i].path);
		free(hooks[i].name);
	}
	free(hooks);
	return NULL;
}

/* The hooks of @directory now.  A missing directory has none (as for qemu-ga). */
int scan_directory(const char *directory, struct hook **ret_hooks, size_t *ret_n_hooks,
		   size_t *ret_n_steps)
{
	struct scan s = {};
	int r;

	r = scan_level(&s, directory, "", 0);
	if (r == -ENOENT) {
		wlog_warning("Hook directory '%s' does not exist: no hooks", directory);
		r = 0;
	}
	if (r < 0) {
		scan_free(s.hooks, s.n_hooks);
		return wlog_error_errno(r, "Failed to read the hook directory '%s'", directory);
	}
	*ret_hooks = s.hooks;
	*ret_n_hooks = s.n_hooks;
	*ret_n_steps = s.n_steps;
	return 0;
}
