#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the benchmark probes against the tree's own libshadowcopy (the build
# directory below must have been built first: meson setup --buildtype=release).
# Not part of the meson build on purpose: CI does not run benchmarks.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${SHADOWCOPY_BUILD:-$HERE/../build-bench}
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench
mkdir -p "$OUT"

export PKG_CONFIG_PATH=$BUILD/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
CFLAGS=(-std=gnu17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
	-Wstrict-prototypes -Wformat=2 -Wno-unused-parameter -Wno-missing-field-initializers
	-I"$HERE/../include")
SC=$(pkg-config --libs shadowcopy-uninstalled)
RPATH=-Wl,-rpath,$BUILD/src/lib

cc "${CFLAGS[@]}" -o "$OUT/probe-writer" "$HERE/probe-writer.c" $SC "$RPATH"
cc "${CFLAGS[@]}" -o "$OUT/cycle-driver" "$HERE/cycle-driver.c" $SC "$RPATH"
cc "${CFLAGS[@]}" -o "$OUT/stall-probe" "$HERE/stall-probe.c"
cc "${CFLAGS[@]}" -o "$OUT/now" "$HERE/now.c"
cc "${CFLAGS[@]}" -o "$OUT/qga-cycle" "$HERE/qga-cycle.c" \
	$(pkg-config --cflags --libs jansson libbtrfsutil)
echo "$OUT"
