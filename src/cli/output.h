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
};

extern const struct output output_text;
extern const struct output output_json;

#endif
