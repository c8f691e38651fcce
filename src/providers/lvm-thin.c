/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lvm-thin.c - the lvm-thin provider: a volume is a filesystem mounted from
 * a thin logical volume; a snapshot is a thin snapshot of it, the LV
 * "shadowcopy-<snapshot id>" in the same volume group, tagged
 * "shadowcopy:<origin LV uuid>" so that only what this provider made is
 * ever found, deleted or listed.  lvcreate suspends the origin and freezes
 * its filesystem by itself, so the service must not freeze it first (on
 * Linux 6.1 the suspend then fails with EBUSY: docs/lvm-thin.md).  After the
 * thaw the snapshot is activated, its XFS log replayed, and it is made
 * read-only: /dev/VG/shadowcopy-<id> mounts with -o ro (XFS: nouuid).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <shadowcopy/provider.h>

#include "cleanup.h"
#include "refusal.h"
#include "lvm-command.h"
#include "mount-util.h"
#include "providers.h"

#define SNAPSHOT_PREFIX "shadowcopy-"
#define TAG_PREFIX "shadowcopy:"
#define IDENTITY_PREFIX "lvm-thin:"
#define NAME_MAX_LEN (sizeof(SNAPSHOT_PREFIX) + SC_ID_STRING_MAX)
/* An LVM uuid is 38 characters; tags may hold up to 1024. */
#define TAG_MAX_LEN 128
#define VG_MAX_LEN 128 /* LVM's limit on names, with room for the NUL */
#define SELECT_MAX 512
#define LV_FIELDS "vg_name,lv_name,lv_uuid,segtype,pool_lv,lv_tags"
#define POOL_FIELDS "vg_name,lv_name,data_percent,metadata_percent,lv_health_status"
/* LVM refuses a threshold below this: pools filled less need no look at
 * the configuration. */
#define THRESHOLD_MIN 50.0

/* The thin LV a filesystem is mounted from. */
struct thin_lv {
	char *vg;
	char *name;
	char *uuid;
	char *pool;
	char *mount;    /* the filesystem's mount point */
	char *fstype;
};

/* Per snapshot, from begin_prepare to post_final_commit (or abort). */
struct thin_state {
	struct thin_lv lv;
	char name[NAME_MAX_LEN]; /* the snapshot LV */
	char tag[TAG_MAX_LEN];
};

static void thin_lv_done(struct thin_lv *lv)
{
	free(lv->vg);
	free(lv->name);
	free(lv->uuid);
	free(lv->pool);
	free(lv->mount);
	free(lv->fstype);
	*lv = (struct thin_lv){ 0 };
}

/* The device-mapper uuid of block device @dev ("LVM-..." for an LV):
 * -ENOENT when @dev is no device-mapper device.  Read from sysfs, so that
 * no LVM command ever runs for a volume that cannot be one. */
static int dm_uuid(dev_t dev, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dm/uuid", major(dev), minor(dev));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static bool has_tag(const char *tags, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *t = tags; *t; t += strcspn(t, ","), t += *t == ',')
		if (strncmp(t, prefix, len) == 0)
			return true;
	return false;
}

static int thin_lv_set(struct thin_lv *lv, json_t *row)
{
	lv->vg = strdup(lvm_row_get(row, "vg_name"));
	lv->name = strdup(lvm_row_get(row, "lv_name"));
	lv->uuid = strdup(lvm_row_get(row, "lv_uuid"));
	lv->pool = strdup(lvm_row_get(row, "pool_lv"));
	return lv->vg && lv->name && lv->uuid && lv->pool ? 0 : -ENOMEM;
}

/* The LV whose kernel device is @dev, checked to be a thin LV that is not
 * a snapshot of ours; @what names the volume in reasons. */
static int thin_lv_of_device(const char *what, dev_t dev, struct thin_lv *lv, char **ret_reason)
{
	_cleanup_json_ json_t *rows = NULL;
	_cleanup_free_ char *error = NULL;
	char sel[SELECT_MAX];
	const char *args[] = { "lvs", "-o", LV_FIELDS, "-S", sel, NULL };
	json_t *row;
	int r;

	snprintf(sel, sizeof(sel), "lv_kernel_major=%u && lv_kernel_minor=%u", major(dev),
		 minor(dev));
	r = lvm_command_report(args, &rows, &error);
	if (r == -EIO)
		return refusal_format(ret_reason, "lvs failed for %s: %s", what, error ? error : "?");
	if (r < 0)
		return r;
	if (json_array_size(rows) != 1)
		return refusal_format(ret_reason, "%s is on device %u:%u, no logical volume of its own",
				      what, major(dev), minor(dev));
	row = json_array_get(rows, 0);
	if (strcmp(lvm_row_get(row, "segtype"), "thin") != 0)
		return refusal_format(ret_reason,
				      "%s is on %s/%s, a %s logical volume: lvm-thin snapshots thin "
				      "logical volumes only (in a thin pool), not thick ones", what,
				      lvm_row_get(row, "vg_name"), lvm_row_get(row, "lv_name"),
				      lvm_row_get(row, "segtype"));
	if (has_tag(lvm_row_get(row, "lv_tags"), TAG_PREFIX))
		return refusal_format(ret_reason, "%s is on %s/%s, itself a Shadowcopy snapshot", what,
				      lvm_row_get(row, "vg_name"), lvm_row_get(row, "lv_name"));
	return thin_lv_set(lv, row);
}

/* The thin LV holding @path, and where its filesystem is mounted. */
static int thin_lv_resolve(const char *path, struct thin_lv *ret, char **ret_reason)
{
	struct thin_lv lv = { 0 };
	char uuid[256];
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	r = dm_uuid(st.st_dev, uuid, sizeof(uuid));
	if (r == -ENOENT)
		return refusal_format(ret_reason, "%s is not on a device-mapper device", path);
	if (r < 0)
		return r;
	if (strncmp(uuid, "LVM-", 4) != 0)
		return refusal_format(ret_reason, "%s is on device-mapper device %u:%u, not on LVM", path,
				      major(st.st_dev), minor(st.st_dev));
	if (!lvm_command_available())
		return refusal_format(ret_reason, "%s is on LVM, but the lvm tool is not installed", path);
	r = mount_util_find(path, &lv.mount, &lv.fstype, NULL);
	if (r >= 0)
		r = thin_lv_of_device(path, st.st_dev, &lv, ret_reason);
	if (r < 0) {
		thin_lv_done(&lv);
		return r;
	}
	*ret = lv;
	return 0;
}

static int lvm_thin_is_volume_supported(const char *path, struct sc_provider_volume *ret,
					char **ret_reason)
{
	_cleanup_free_ char *identity = NULL;
	struct sc_provider_volume v = { 0 };
	struct thin_lv lv;
	int r;

	r = thin_lv_resolve(path, &lv, ret_reason);
	if (r < 0)
		return r;
	r = asprintf(&identity, IDENTITY_PREFIX "%s", lv.uuid) < 0 ? -ENOMEM : 0;
	if (r >= 0)
		r = provider_volume_set(&v, lv.mount, identity, lv.mount);
	thin_lv_done(&lv);
	if (r < 0) {
		provider_volume_done(&v);
		return r;
	}
	*ret = v;
	return 0;
}

/* "shadowcopy:<origin uuid>" for a volume identity "lvm-thin:<uuid>". */
static int volume_tag(const struct sc_provider_volume *volume, char *buf, size_t size)
{
	size_t len = strlen(IDENTITY_PREFIX);
	int n;

	if (strncmp(volume->identity, IDENTITY_PREFIX, len) != 0)
		return -EINVAL; /* not a volume of ours */
	n = snprintf(buf, size, TAG_PREFIX "%s", volume->identity + len);
	return n > 0 && (size_t)n < size ? 0 : -EINVAL;
}

static void snapshot_name(const struct sc_id *id, char *buf, size_t size)
{
	char s[SC_ID_STRING_MAX];

	snprintf(buf, size, SNAPSHOT_PREFIX "%s", sc_id_to_string(id, s));
}

static void state_free(struct sc_provider_snapshot *snap)
{
	struct thin_state *st = snap->state;

	if (!st)
		return;
	thin_lv_done(&st->lv);
	free(st);
	snap->state = NULL;
}

/* The LV mounted at the volume's root now; it must still be the volume's. */
static int prepare_state(const struct sc_provider_snapshot *snap, struct thin_state *st)
{
	int r;

	snapshot_name(&snap->snapshot_id, st->name, sizeof(st->name));
	r = volume_tag(snap->volume, st->tag, sizeof(st->tag));
	if (r >= 0)
		r = thin_lv_resolve(snap->volume->root, &st->lv, NULL);
	if (r < 0)
		return r;
	if (strcmp(st->lv.uuid, st->tag + strlen(TAG_PREFIX)) != 0)
		return -SC_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER; /* another LV is mounted there */
	return 0;
}

/* Only names and checks: nothing is made before commit. */
static int lvm_thin_begin_prepare(struct sc_provider_snapshot *snap)
{
	struct thin_state *st;
	int r;

	state_free(snap); /* a new set: whatever an old one left is forgotten */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snap->state = st;
	r = prepare_state(snap, st);
	if (r < 0)
		return r;
	free(snap->location);
	if (asprintf(&snap->location, "/dev/%s/%s", st->lv.vg, st->name) < 0) {
		snap->location = NULL;
		return -ENOMEM;
	}
	return 0;
}

static double percent(json_t *row, const char *key)
{
	return strtod(lvm_row_get(row, key), NULL); /* "" (no pool data) is 0 */
}

/* activation/thin_pool_autoextend_threshold, above which lvcreate refuses
 * thin volumes; 100 (LVM's default) when it cannot be read. */
static double pool_threshold(void)
{
	const char *args[] = { "lvmconfig", "--typeconfig", "full",
			       "activation/thin_pool_autoextend_threshold", NULL };
	struct lvm_output o;
	double t = 100.0;
	char *eq;

	if (lvm_command_run(args, false, &o) < 0)
		return t;
	eq = strchr(o.out, '=');
	if (o.status == 0 && eq)
		t = strtod(eq + 1, NULL);
	lvm_output_done(&o);
	return t >= THRESHOLD_MIN && t <= 100.0 ? t : 100.0;
}

/* Whether lvcreate would refuse a thin volume in pool @row: data or
 * metadata full, or above the threshold (lvm2's pool_below_threshold()). */
static bool pool_full(json_t *row, double *threshold)
{
	double data = percent(row, "data_percent"), meta = percent(row, "metadata_percent");

	if (strcmp(lvm_row_get(row, "lv_health_status"), "out_of_data") == 0 || data >= 100.0 ||
	    meta >= 100.0)
		return true;
	if (data < THRESHOLD_MIN && meta < THRESHOLD_MIN)
		return false;
	if (*threshold <= 0.0)
		*threshold = pool_threshold();
	return data > *threshold || meta > *threshold;
}

/* -SC_E_INSUFFICIENT_STORAGE when the pool of any of @snaps is full. */
static int check_pools(struct sc_provider_snapshot *const *snaps, size_t n)
{
	const char *args[] = { "lvs", "-o", POOL_FIELDS, "-S", "segtype=thin-pool", NULL };
	_cleanup_json_ json_t *pools = NULL;
	double threshold = 0.0;
	size_t i, j;
	json_t *row;
	int r;

	r = lvm_command_report(args, &pools, NULL);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		const struct thin_state *st = snaps[i]->state;

		json_array_foreach(pools, j, row)
			if (strcmp(lvm_row_get(row, "vg_name"), st->lv.vg) == 0 &&
			    strcmp(lvm_row_get(row, "lv_name"), st->lv.pool) == 0 &&
			    pool_full(row, &threshold))
				return -SC_E_INSUFFICIENT_STORAGE;
	}
	return 0;
}

/* Fail early, before the writers freeze, when a pool has no room. */
static int lvm_thin_end_prepare(struct sc_provider_snapshot *const *snaps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!snaps[i]->state)
			return -EINVAL; /* begin_prepare did not run */
	return check_pools(snaps, n);
}

static int lvm_thin_nothing(struct sc_provider_snapshot *const *snaps, size_t n)
{
	return 0;
}

/* Run a command that changes something; -EIO when it failed. */
static int change(const char *const *args)
{
	struct lvm_output o;
	int r;

	r = lvm_command_run(args, true, &o);
	if (r < 0)
		return r;
	r = o.status == 0 ? 0 : -EIO;
	lvm_output_done(&o);
	return r;
}

/* One thin snapshot: lvcreate suspends the origin, freezing its
 * filesystem, for as long as it takes. */
static int create_snapshot(struct sc_provider_snapshot *snap)
{
	struct thin_state *st = snap->state;
	_cleanup_free_ char *origin = NULL;
	const char *args[] = { "lvcreate", "--quiet", "--snapshot", NULL, "--name", st->name,
			       "--addtag", st->tag, NULL };
	int r;

	if (asprintf(&origin, "%s/%s", st->lv.vg, st->lv.name) < 0)
		return -ENOMEM;
	args[3] = origin;
	r = change(args);
	if (r == -EIO && check_pools(&snap, 1) == -SC_E_INSUFFICIENT_STORAGE)
		r = -SC_E_INSUFFICIENT_STORAGE; /* the pool filled up since end_prepare */
	return r;
}

/* The writers are frozen: one LV after the other (LVM has no atomic
 * snapshot of several LVs; docs/lvm-thin.md). */
static int lvm_thin_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!snaps[i]->state)
			return -EINVAL;
		r = create_snapshot(snaps[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "VG/NAME" of the snapshot LV of @st (malloc'd). */
static char *snapshot_lv(const struct thin_state *st)
{
	char *s;

	return asprintf(&s, "%s/%s", st->lv.vg, st->name) < 0 ? NULL : s;
}

/* A snapshot of a frozen XFS has the log of a frozen filesystem, which a
 * read-only device could never replay: make the filesystem once,
 * read-write, unattached (new mount API), and let it go. */
static int replay_xfs(const char *device)
{
	_cleanup_close_ int fs = -1;

	fs = fsopen("xfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", device, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "nouuid", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* After the thaw: the snapshot active (thin snapshots skip activation by
 * default) and its filesystem recovered where it needs it. */
static int lvm_thin_pre_final_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct thin_state *st = snaps[i]->state;
		_cleanup_free_ char *lv = st ? snapshot_lv(st) : NULL;
		const char *args[] = { "lvchange", "--quiet", "--activate", "y",
				       "--ignoreactivationskip", lv, NULL };

		if (!lv)
			return st ? -ENOMEM : -EINVAL;
		r = change(args);
		if (r >= 0 && st->lv.fstype && strcmp(st->lv.fstype, "xfs") == 0)
			r = replay_xfs(snaps[i]->location);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Read-only from now on, the device itself. */
static int lvm_thin_post_final_commit(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct thin_state *st = snaps[i]->state;
		_cleanup_free_ char *lv = st ? snapshot_lv(st) : NULL;
		const char *args[] = { "lvchange", "--quiet", "--permission", "r", lv, NULL };

		if (!lv)
			return st ? -ENOMEM : -EINVAL;
		r = change(args);
		if (r < 0)
			return r;
		state_free(snaps[i]);
	}
	return 0;
}

/* Remove the snapshot @name of volume group @vg if it carries @tag; one
 * that is not there is no error (an abort before anything was made). */
static int remove_tagged(const char *vg, const char *name, const char *tag)
{
	char sel[SELECT_MAX];
	const char *args[] = { "lvremove", "--quiet", "--yes", "-S", sel, vg, NULL };

	snprintf(sel, sizeof(sel), "lv_name=\"%s\" && lv_tags=\"%s\"", name, tag);
	return change(args);
}

static int lvm_thin_abort(struct sc_provider_snapshot *const *snaps, size_t n)
{
	int r, first = 0;

	for (size_t i = 0; i < n; i++) {
		struct thin_state *st = snaps[i]->state;

		if (!st || !st->lv.vg)
			continue; /* nothing was resolved, so nothing was made */
		r = remove_tagged(st->lv.vg, st->name, st->tag);
		if (r < 0 && first == 0)
			first = r;
		state_free(snaps[i]);
	}
	return first;
}

/* The volume group of @location if it is "/dev/VG/<name>"; in @buf. */
static int location_vg(const char *location, const char *name, char *buf, size_t size)
{
	const char *vg = location, *slash;

	if (!location || strncmp(location, "/dev/", 5) != 0)
		return -EINVAL;
	vg += 5;
	slash = strchr(vg, '/');
	if (!slash || slash == vg || strcmp(slash + 1, name) != 0 || (size_t)(slash - vg) >= size)
		return -EINVAL;
	snprintf(buf, size, "%.*s", (int)(slash - vg), vg);
	return 0;
}

/* The rows of the LVs tagged @tag (and named @name, and in @vg, when not
 * NULL). */
static int find_tagged(const char *vg, const char *name, const char *tag, json_t **ret_rows)
{
	char sel[SELECT_MAX];
	const char *args[] = { "lvs", "-o", "vg_name,lv_name", "-S", sel, NULL };
	int n;

	n = snprintf(sel, sizeof(sel), "lv_tags=\"%s\"", tag);
	if (vg)
		n += snprintf(sel + n, sizeof(sel) - n, " && vg_name=\"%s\"", vg);
	if (name)
		snprintf(sel + n, sizeof(sel) - n, " && lv_name=\"%s\"", name);
	return lvm_command_report(args, ret_rows, NULL);
}

static int lvm_thin_delete_snapshot(const struct sc_provider_volume *volume,
				    const struct sc_id *snapshot_id, const char *location)
{
	_cleanup_json_ json_t *rows = NULL;
	char name[NAME_MAX_LEN], tag[TAG_MAX_LEN], vg[VG_MAX_LEN];
	_cleanup_free_ char *lv = NULL;
	const char *args[] = { "lvremove", "--quiet", "--yes", NULL, NULL };
	int r;

	/* Only ever what this provider made for this id on this volume. */
	snapshot_name(snapshot_id, name, sizeof(name));
	r = volume_tag(volume, tag, sizeof(tag));
	if (r >= 0)
		r = location_vg(location, name, vg, sizeof(vg));
	if (r >= 0)
		r = find_tagged(vg, name, tag, &rows);
	if (r < 0)
		return r;
	if (json_array_size(rows) == 0)
		return -SC_E_OBJECT_NOT_FOUND;
	if (asprintf(&lv, "%s/%s", vg, name) < 0)
		return -ENOMEM;
	args[3] = lv;
	return change(args);
}

static int lvm_thin_query(const struct sc_provider_volume *volume, sc_provider_query_cb cb,
			  void *userdata)
{
	_cleanup_json_ json_t *rows = NULL;
	char tag[TAG_MAX_LEN];
	struct sc_id id;
	json_t *row;
	size_t i;
	int r;

	r = volume_tag(volume, tag, sizeof(tag));
	if (r >= 0)
		r = find_tagged(NULL, NULL, tag, &rows);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row) {
		const char *name = lvm_row_get(row, "lv_name");
		_cleanup_free_ char *location = NULL;

		if (strncmp(name, SNAPSHOT_PREFIX, strlen(SNAPSHOT_PREFIX)) != 0 ||
		    sc_id_from_string(name + strlen(SNAPSHOT_PREFIX), &id) < 0)
			continue;
		if (asprintf(&location, "/dev/%s/%s", lvm_row_get(row, "vg_name"), name) < 0)
			return -ENOMEM;
		r = cb(&id, location, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

const struct sc_provider provider_lvm_thin = {
	.abi_version = SC_PROVIDER_ABI_VERSION,
	.name = "lvm-thin",
	/* a fixed, random provider id */
	.id = { { 0xf8, 0x49, 0x4b, 0xb7, 0x61, 0x5b, 0x4a, 0xc8, 0xa1, 0xa8, 0xa9, 0x82, 0x69,
		  0x22, 0xeb, 0x03 } },
	.version = "1.0",
	.type = SC_PROV_SOFTWARE,
	/* never SC_PROVIDER_HOLDS_WRITES: lvcreate freezes by itself */
	.flags = 0,
	.is_volume_supported = lvm_thin_is_volume_supported,
	.begin_prepare = lvm_thin_begin_prepare,
	.end_prepare = lvm_thin_end_prepare,
	.pre_commit = lvm_thin_nothing,
	.commit = lvm_thin_commit,
	.post_commit = lvm_thin_nothing,
	.pre_final_commit = lvm_thin_pre_final_commit,
	.post_final_commit = lvm_thin_post_final_commit,
	.abort = lvm_thin_abort,
	.delete_snapshot = lvm_thin_delete_snapshot,
	.query = lvm_thin_query,
	.forget_state = state_free,
};
