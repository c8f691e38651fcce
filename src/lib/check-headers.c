/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check-headers.c - compiled with -std=c11 -pedantic -Werror (and as C++ in
 * check-headers.cc) to prove the public headers are strict C11 and C++.
 * It is built, never run, and never linked into anything.
 */
#include <shadowcopy/types.h>
#include <shadowcopy/writer.h>
#include <shadowcopy/requester.h>

int check_headers(void);

int check_headers(void)
{
	return SC_PROTOCOL_MAJOR;
}
