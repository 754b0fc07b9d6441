#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Sets up, builds, and runs iopool's main job on its built-in default: iop-replay
# generates its sample capture, replays it through the host shim and the LAN DDM
# to a tx pcap, and checks the output against the input packet for packet.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec build/host-shim/iop-replay/iop-replay "$@"
