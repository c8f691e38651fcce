/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ids.c - VSS_IDs: text form, parsing, random and name-derived ids.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <shadowcopy/types.h>

#include "ids.h"

SC_EXPORT bool sc_id_is_null(const struct sc_id *id)
{
	static const struct sc_id null_id;

	return !id || memcmp(id->bytes, null_id.bytes, sizeof(id->bytes)) == 0;
}

SC_EXPORT bool sc_id_equal(const struct sc_id *a, const struct sc_id *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

SC_EXPORT char *sc_id_to_string(const struct sc_id *id, char buf[SC_ID_STRING_MAX])
{
	const uint8_t *b = id->bytes;

	snprintf(buf, SC_ID_STRING_MAX,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return buf;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

SC_EXPORT int sc_id_from_string(const char *s, struct sc_id *ret)
{
	struct sc_id id;
	size_t len, pos = 0;

	if (!s || !ret)
		return -EINVAL;
	len = strlen(s);
	if (len == SC_ID_STRING_LEN + 2 && s[0] == '{' && s[len - 1] == '}')
		s++;
	else if (len != SC_ID_STRING_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SC_ID_STRING_LEN; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hex_value(s[i]);
		lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id.bytes[pos++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	*ret = id;
	return 0;
}

SC_EXPORT int sc_id_random(struct sc_id *ret)
{
	struct sc_id id;
	ssize_t n;

	n = getrandom(id.bytes, sizeof(id.bytes), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(id.bytes))
		return -EIO;
	id.bytes[6] = (id.bytes[6] & 0x0f) | 0x40; /* version 4 */
	id.bytes[8] = (id.bytes[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	*ret = id;
	return 0;
}

/* FNV-1a, 64 bits, over @len bytes, continuing from @h. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void id_derive(const struct sc_id *base, const char *name, struct sc_id *ret)
{
	/* Two independent 64-bit hashes make the 128 bits: stable across
	 * runs and machines, which is all an instance id needs. */
	uint64_t h1 = fnv1a(0xcbf29ce484222325ull, base->bytes, sizeof(base->bytes));
	uint64_t h2 = fnv1a(0x84222325cbf29ce4ull, name, strlen(name));

	h1 = fnv1a(h1, name, strlen(name));
	h2 = fnv1a(h2, base->bytes, sizeof(base->bytes));
	for (int i = 0; i < 8; i++) {
		ret->bytes[i] = (uint8_t)(h1 >> (56 - 8 * i));
		ret->bytes[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
	}
	ret->bytes[6] = (ret->bytes[6] & 0x0f) | 0x80; /* version 8: custom */
	ret->bytes[8] = (ret->bytes[8] & 0x3f) | 0x80;
}
