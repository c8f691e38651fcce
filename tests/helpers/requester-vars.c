/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * requester-vars.c - the test requester's variables: steps store the ids
 * they print ($SET, $SNAP1, $WRITER0_INSTANCE, ...) and later step arguments
 * refer to them, so that one script can run a whole backup.  Names are
 * letters, digits and '_'; "$$" is a '$'.  Which step sets what is in
 * test-requester.c's help; this file only stores and expands.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "test-requester.h"

int requester_vars_set(struct requester_run *run, const char *name, const char *value)
{
	if (!run->vars && !(run->vars = json_object()))
		return -ENOMEM;
	return json_object_set_new(run->vars, name, json_string(value)) < 0 ? -ENOMEM : 0;
}

int requester_vars_set_id(struct requester_run *run, const char *name, const struct sc_id *id)
{
	char buf[SC_ID_STRING_MAX];

	return requester_vars_set(run, name, sc_id_to_string(id, buf));
}

static size_t vars_name_length(const char *s)
{
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}

/* The value of the variable whose name starts @s and is @n long, or NULL. */
static const char *vars_get(const struct requester_run *run, const char *s, size_t n)
{
	char name[128];

	if (n == 0 || n >= sizeof(name))
		return NULL;
	memcpy(name, s, n);
	name[n] = '\0';
	return json_string_value(json_object_get(run->vars, name));
}

int requester_vars_expand(const struct requester_run *run, const char *arg, char **ret)
{
	_cleanup_free_ char *text = NULL;
	const char *value;
	size_t size = 0, n;
	FILE *f = open_memstream(&text, &size);
	int r = 0;

	if (!f)
		return -ENOMEM;
	for (const char *s = arg; *s && r >= 0; s++) {
		if (*s != '$') {
			fputc(*s, f);
		} else if (s[1] == '$') {
			fputc('$', f);
			s++;
		} else if ((value = vars_get(run, s + 1, n = vars_name_length(s + 1)))) {
			fputs(value, f);
			s += n;
		} else {
			r = -EINVAL;
		}
	}
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(text);
	return 0;
}
