#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/common/mk_certs.sh DIR: a test CA (ca.crt) and a leaf for localhost, 127.0.0.1
# and ::1 (server.crt, server.key) signed by it, EC P-256, valid 2 days.
set -euo pipefail
d=$1
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=wm-test-ca" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
