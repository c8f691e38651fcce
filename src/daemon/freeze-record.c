/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * freeze-record.c - the durable freeze record (freeze-record.h): written
 * atomically and durably before a hold, removed after it, and replayed by
 * freeze_record_recover() at start-up and by `shadowcopyd --recover`.  It
 * thaws only what the record names, on this boot, on the same filesystem;
 * it never freezes anything and decides nothing about when to write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "freeze-record.h"
#include "json-util.h"
#include "log.h"

#define RECORD_TMP_NAME FREEZE_RECORD_NAME ".tmp"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
/* 64 mount points of PATH_MAX and then some. */
#define RECORD_SIZE_MAX (1024 * 1024)

/* A record as read back. */
struct record {
	json_t *json;
	const char *boot_id;
	int64_t pid;
	struct sc_id set_id;
	json_t *filesystems; /* [{"path", "dev"}], checked */
};

/* An entry to thaw, in the order of freeze_record_recover(). */
struct entry {
	const char *path;
	dev_t dev;
};

static int read_boot_id(char ret[SC_ID_STRING_MAX])
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, ret, SC_ID_STRING_MAX - 1);
	if (n < 0)
		return -errno;
	if (n != SC_ID_STRING_MAX - 1)
		return -EIO;
	ret[n] = '\0';
	return 0;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

json_t *freeze_record_fs_json(const struct freeze_record_fs *fs, size_t n)
{
	_cleanup_json_ json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, json_pack("{s:s, s:I}", "path", fs[i].path, "dev",
							  (json_int_t)fs[i].dev)) < 0)
			return NULL;
	return TAKE_PTR(list);
}

static json_t *record_json(const char *boot_id, const struct sc_id *set_id,
			   const struct freeze_record_fs *fs, size_t n)
{
	_cleanup_json_ json_t *list = freeze_record_fs_json(fs, n), *rec = NULL;

	if (!list)
		return NULL;
	rec = json_pack("{s:i, s:s, s:I, s:o, s:I, s:O}", "version", 1, "boot_id", boot_id, "pid",
			(json_int_t)getpid(), "set_id", json_id(set_id), "time_usec",
			(json_int_t)realtime_usec(), "filesystems", list);
	return TAKE_PTR(rec);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* @text into @name in @dirfd, durably: temporary file, fsync, rename, fsync. */
static int write_durably(int dirfd, const char *name, const char *text)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = openat(dirfd, RECORD_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && renameat(dirfd, RECORD_TMP_NAME, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dirfd, RECORD_TMP_NAME, 0); /* best effort: it says nothing */
		return r;
	}
	/* The rename itself must reach the disk before anything is frozen. */
	return fsync(dirfd) < 0 ? -errno : 0;
}

int freeze_record_write(const char *state_dir, const struct sc_id *set_id,
			const struct freeze_record_fs *fs, size_t n)
{
	_cleanup_json_ json_t *rec = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -1;
	char boot_id[SC_ID_STRING_MAX];
	int r;

	r = read_boot_id(boot_id);
	if (r < 0)
		return r;
	rec = record_json(boot_id, set_id, fs, n);
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (!text)
		return -ENOMEM;
	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	return write_durably(dirfd, FREEZE_RECORD_NAME, text);
}

static int remove_at(int dirfd)
{
	if (unlinkat(dirfd, FREEZE_RECORD_NAME, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync(dirfd) < 0 ? -errno : 0;
}

int freeze_record_remove(const char *state_dir)
{
	_cleanup_close_ int dirfd = -1;

	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	return remove_at(dirfd);
}

/* The record's JSON, or NULL in *ret when there is none.  -EBADMSG when it
 * is not JSON. */
static int read_json(int dirfd, json_t **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	ssize_t n;

	fd = openat(dirfd, FREEZE_RECORD_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*ret = NULL;
		return 0;
	}
	buf = malloc(RECORD_SIZE_MAX);
	if (fd < 0 || !buf)
		return fd < 0 ? -errno : -ENOMEM;
	while ((n = read(fd, buf + len, RECORD_SIZE_MAX - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		return -errno;
	if (len == RECORD_SIZE_MAX)
		return -EFBIG;
	*ret = json_loadb(buf, len, 0, NULL);
	return *ret ? 0 : -EBADMSG;
}

static int check_filesystems(json_t *list)
{
	size_t i;
	json_t *fs;
	const char *path;
	int64_t dev;

	json_array_foreach(list, i, fs)
		if (json_get_string(fs, "path", true, &path) < 0 ||
		    json_get_int(fs, "dev", true, 0, INT64_MAX, &dev) < 0)
			return -EBADMSG;
	return 0;
}

/* Read and check the record: 1 and *ret filled, 0 when there is none. */
static int record_read(int dirfd, struct record *ret)
{
	struct record rec = {};
	int r;

	r = read_json(dirfd, &rec.json);
	if (r < 0 || !rec.json)
		return r;
	if (json_get_string(rec.json, "boot_id", true, &rec.boot_id) < 0 ||
	    json_get_int(rec.json, "pid", true, 1, INT32_MAX, &rec.pid) < 0 ||
	    json_get_id(rec.json, "set_id", true, &rec.set_id) < 0 ||
	    json_get_array(rec.json, "filesystems", true, JSON_OBJECT, &rec.filesystems) < 0 ||
	    check_filesystems(rec.filesystems) < 0) {
		json_decref(rec.json);
		return -EBADMSG;
	}
	*ret = rec;
	return 1;
}

int freeze_record_remove_if(const char *state_dir, pid_t pid, const struct sc_id *set_id)
{
	_cleanup_close_ int dirfd = -1;
	struct record rec;
	bool ours;
	int r;

	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = record_read(dirfd, &rec);
	if (r <= 0)
		return r == -EBADMSG ? 0 : r; /* not one we can tell is ours */
	ours = rec.pid == pid && sc_id_equal(&rec.set_id, set_id);
	json_decref(rec.json);
	if (!ours)
		return 0;
	r = remove_at(dirfd);
	return r < 0 ? r : 1;
}

static int compare_dev_desc(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->dev > y->dev ? -1 : x->dev < y->dev;
}

/* FITHAW one entry if it is still the filesystem recorded: 1 thawed, 0
 * left alone or not frozen, -errno. */
static int thaw_entry(const struct entry *e)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* Opening a directory read-only writes nothing, even when frozen. */
	fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_warning_errno(errno, "Freeze record: cannot open %s, left alone", e->path);
		return 0;
	}
	if (st.st_dev != e->dev) {
		log_warning("Freeze record: %s is no longer the filesystem recorded, left alone",
			    e->path);
		return 0;
	}
	if (ioctl(fd, FITHAW, 0) == 0)
		return 1;
	if (errno == EINVAL)
		return 0; /* not frozen */
	return log_error_errno(errno, "Failed to thaw %s", e->path);
}

/* Thaw every entry of @rec, the last frozen first. */
static int thaw_all(const struct record *rec, freeze_record_thawed_fn thawed, void *userdata)
{
	size_t n = json_array_size(rec->filesystems), i;
	_cleanup_free_ struct entry *entries = calloc(n ? n : 1, sizeof(struct entry));
	int r, count = 0, first = 0;
	json_t *fs;

	if (!entries)
		return -ENOMEM;
	json_array_foreach(rec->filesystems, i, fs) {
		entries[i].path = json_string_value(json_object_get(fs, "path"));
		entries[i].dev = (dev_t)json_integer_value(json_object_get(fs, "dev"));
	}
	/* The service freezes in device order (hold.c). */
	qsort(entries, n, sizeof(*entries), compare_dev_desc);
	for (i = 0; i < n; i++) {
		r = thaw_entry(&entries[i]);
		if (r < 0 && first == 0)
			first = r;
		if (r > 0 && thawed)
			thawed(entries[i].path, userdata);
		count += r > 0;
	}
	return first < 0 ? first : count;
}

/* Whether @rec was written on this boot (a frozen filesystem does not
 * outlive a reboot: anything else it names is someone else's now). */
static bool this_boot(const struct record *rec)
{
	char boot_id[SC_ID_STRING_MAX];
	int r;

	r = read_boot_id(boot_id);
	if (r < 0) {
		log_warning_errno(r, "Failed to read the boot id, the freeze record is left alone");
		return false;
	}
	if (strcmp(boot_id, rec->boot_id) == 0)
		return true;
	log_warning("Freeze record of another boot (%s), left alone", rec->boot_id);
	return false;
}

int freeze_record_recover(const char *state_dir, freeze_record_thawed_fn thawed, void *userdata)
{
	_cleanup_close_ int dirfd = -1;
	struct record rec;
	int r, count = 0;

	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT)
		return 0; /* no state yet, no record */
	if (dirfd < 0)
		return log_error_errno(errno, "Failed to open the state directory '%s'", state_dir);
	r = record_read(dirfd, &rec);
	if (r == -EBADMSG)
		log_warning("The freeze record in '%s' is invalid, removing it", state_dir);
	else if (r < 0)
		return log_error_errno(r, "Failed to read the freeze record in '%s'", state_dir);
	if (r > 0) {
		count = this_boot(&rec) ? thaw_all(&rec, thawed, userdata) : 0;
		json_decref(rec.json);
		if (count < 0)
			return count; /* kept, for another try */
	}
	r = remove_at(dirfd);
	if (r < 0)
		return log_error_errno(r, "Failed to remove the freeze record in '%s'", state_dir);
	return count;
}
