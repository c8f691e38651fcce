/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * output.h - the views of the shadowcopy tool: one for people (text laid out
 * as vssadmin does) and one for programs (JSON), fed the same data.
 */
#ifndef SC_OUTPUT_H
#define SC_OUTPUT_H

#include <stdbool.h>
#include <jansson.h>

/*
 * One view of the service's data.  Every command hands its validated result
 * to exactly one of these, so the text and the JSON output cannot drift.
 */
struct output {
	/* @writers: the "writers" array of list_writers (protocol.md §8). */
	int (*writers)(json_t *writers, bool metadata);
	/* @snapshots: the "snapshots" array of list_snapshots, oldest first. */
	int (*snapshots)(json_t *snapshots);
	/* @providers: the "providers" array of list_providers. */
	int (*providers)(json_t *providers);
	/* @result: the result of delete_snapshots ({"deleted", ...}). */
	int (*deleted)(json_t *result);
	/*
	 * @report: what "shadowcopy create" did, {"snapshot_set_id", "context",
	 * "snapshots": [SNAPSHOT...], "writers": [STATUS...]} (protocol.md
	 * §6.2-6.3).  "snapshots" is empty unless the set was created;
	 * "writers" holds every writer that answered Identify.
	 */
	int (*created)(json_t *report);
};

extern const struct output output_text;
extern const struct output output_json;

#endif
