#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest's libwm_tls: makes a throwaway PKI with the openssl CLI (an EC P-256
# CA, a leaf for localhost / 127.0.0.1 / ::1 signed by it, and a second,
# unrelated CA for the failed-verification cases), as RECIPES.md's mk_certs,
# in a temporary folder removed on exit, then runs wm_tls_tests with the
# folder in WM_TLS_DIR. No openssl CLI means SKIP (77), never PASS.
# Usage: tls_test.sh WM_TLS_TESTS [CASE...]
set -euo pipefail
bin=$1
shift
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI"; exit 77; }
d=$(mktemp -d "${TMPDIR:-/tmp}/wm-tls.XXXXXX")
trap 'rm -rf "$d"' EXIT
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=wm-test-ca" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=wm-other-ca" -keyout "$d/other-ca.key" -out "$d/other-ca.crt" 2>/dev/null
openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
WM_TLS_DIR=$d "$bin" "$@"
