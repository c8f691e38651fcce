/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check-headers.cc - the public headers must compile as C++ (extern "C",
 * no C-only syntax).  Built, never run.
 */
#include <shadowcopy/types.h>
#include <shadowcopy/writer.h>
#include <shadowcopy/requester.h>

int check_headers_cxx();

int check_headers_cxx()
{
	return SC_PROTOCOL_MAJOR;
}
