#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what iopool needs to build and test, on Debian 12 (apt-get, as root).
# Not root: prints the exact command to run and exits non-zero if anything is missing.
set -euo pipefail

packages=(
	build-essential pkg-config meson ninja-build python3
	libdpdk-dev libpcap-dev libcunit1-dev
	liburing-dev               # the bsa DDM's io_uring backend (optional to the build)
	clang libclang-rt-14-dev   # clang build, libFuzzer, sanitizers
	libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4   # benchmark peers (LD_PRELOAD)
	gnuplot-nox valgrind        # benchmark plots and instruction counts
	fio                         # the block benchmark's peer
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	echo "setup: missing packages (${missing[*]}) and no apt-get; install their equivalents" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
