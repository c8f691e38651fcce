/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * action.c - the words hooks are run with ("freeze", "thaw", ...), which are
 * also the words of the opt-in marker and of $SHADOWCOPY_EVENT.
 */
#include <errno.h>
#include <string.h>

#include "hooks-writer.h"

static const char *const words[_HOOK_ACTION_MAX] = {
	[HOOK_PREPARE] = "prepare",
	[HOOK_FREEZE] = "freeze",
	[HOOK_THAW] = "thaw",
	[HOOK_POST_SNAPSHOT] = "post-snapshot",
	[HOOK_ABORT] = "abort",
	[HOOK_BACKUP_COMPLETE] = "backup-complete",
};

const char *action_word(enum hook_action a)
{
	return a < _HOOK_ACTION_MAX ? words[a] : NULL;
}

/* The action called @word, or -EINVAL. */
int action_from_word(const char *word)
{
	for (int a = 0; a < _HOOK_ACTION_MAX; a++)
		if (strcmp(words[a], word) == 0)
			return a;
	return -EINVAL;
}
