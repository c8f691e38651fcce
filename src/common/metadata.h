/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metadata.h - the writer metadata document in JSON (docs/protocol.md §4.2):
 * one validator used by the service on every Identify answer and by the
 * library before it exposes a document to a requester.
 */
#ifndef SC_METADATA_H
#define SC_METADATA_H

#include <jansson.h>

/* metadata.c */
/* Check the writer's part of a metadata document (restore_method,
 * backup_schema, excludes, components with their file sets).  Returns 0 or
 * -SC_E_INVALID_MESSAGE. */
int metadata_check(json_t *m);
/* A file set object; NULL on ENOMEM. */
json_t *metadata_fileset(const char *path, const char *filespec, int recursive,
			 unsigned backup_type_mask);

#endif
