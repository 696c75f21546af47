#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest's websocket: makes a throwaway PKI with the openssl CLI (an EC P-256
# CA and a leaf for localhost / 127.0.0.1 / ::1 signed by it, as
# tests/libwm_tls/tls_test.sh does) in a temporary folder removed on exit,
# then runs wm_ws_tests with the folder in WM_TLS_DIR (the wss case uses
# it). No openssl CLI means SKIP (77), never PASS.
# Usage: ws_test.sh WM_WS_TESTS [CASE...]
set -euo pipefail
bin=$1
shift
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI"; exit 77; }
d=$(mktemp -d "${TMPDIR:-/tmp}/wm-ws.XXXXXX")
trap 'rm -rf "$d"' EXIT
"$(dirname "$0")/../common/mk_certs.sh" "$d"
WM_TLS_DIR=$d "$bin" "$@"
