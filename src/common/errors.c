/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.c - the one error table (SC_ERROR_MAP in types.h) turned into names,
 * messages and VSS HRESULTs, for SC_E_* and errno values alike.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <shadowcopy/types.h>

struct error_entry {
	int number;
	uint32_t hresult;
	const char *name;
	const char *message;
};

static const struct error_entry error_table[] = {
#define SC_ERROR_ENTRY_(n, num, hr, msg) { num, hr, #n, msg },
	SC_ERROR_MAP(SC_ERROR_ENTRY_)
#undef SC_ERROR_ENTRY_
};

#define E_ACCESSDENIED 0x80070005u
#define E_OUTOFMEMORY 0x8007000eu
#define E_INVALIDARG 0x80070057u
#define E_FAIL 0x80004005u

/* |error| without overflow: INT_MIN is no error we know. */
static int error_abs(int error)
{
	return error == INT_MIN ? INT_MAX : abs(error);
}

static const struct error_entry *error_lookup(int error)
{
	int n = error_abs(error);

	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (error_table[i].number == n)
			return &error_table[i];
	return NULL;
}

SC_EXPORT const char *sc_strerror(int error)
{
	const struct error_entry *e;

	if (error == 0)
		return "Success";
	e = error_lookup(error);
	if (e)
		return e->message;
	if (error_abs(error) < SC_ERROR_BASE)
		return strerror(error_abs(error)); /* glibc's table is static and thread-safe */
	return "Unknown error";
}

SC_EXPORT const char *sc_error_name(int error)
{
	const struct error_entry *e;
	const char *name;

	if (error == 0)
		return "OK";
	e = error_lookup(error);
	if (e)
		return e->name;
	if (error_abs(error) < SC_ERROR_BASE) {
		name = strerrorname_np(error_abs(error));
		if (name)
			return name;
	}
	return "UNKNOWN";
}

SC_EXPORT int sc_error_from_name(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (strcmp(error_table[i].name, name) == 0)
			return -error_table[i].number;
	if (name[0] != 'E')
		return 0;
	for (int n = 1; n < SC_ERROR_BASE; n++) {
		const char *en = strerrorname_np(n);

		if (en && strcmp(en, name) == 0)
			return -n;
	}
	return 0;
}

SC_EXPORT uint32_t sc_error_hresult(int error)
{
	const struct error_entry *e;

	if (error == 0)
		return 0;
	e = error_lookup(error);
	if (e)
		return e->hresult;
	switch (error_abs(error)) {
	case EACCES:
	case EPERM:
		return E_ACCESSDENIED;
	case ENOMEM:
		return E_OUTOFMEMORY;
	case EINVAL:
		return E_INVALIDARG;
	default:
		return E_FAIL;
	}
}
