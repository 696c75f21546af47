#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reload under load with asynchronous answers: proc_reload.sh with the
# fixture answering each request 20 ms after it came (from a timer), as a
# server does that waits on a database or another service. A request whose
# answer is still on its way when `reload` comes must be answered too.
# Usage: proc_reload_async.sh BUILD_BIN_DIR
WM_TEST_NAME=proc_reload_async exec bash "$(dirname "$0")/proc_reload.sh" "${1:?usage: $0 BUILD_BIN_DIR}" 20
