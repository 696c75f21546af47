#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# argv: a program parses its own options before wm_run_all (DESIGN.md §2)
# and, as most C programs do, keeps getopt's optarg pointers. Those strings
# live in the argv area, which the process title is written over; a worker
# process must still see its options as given. The fixture logs its
# --greeting (kept as optarg) in on_worker_start: the log must show it.
# Usage: proc_argv.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
WORD=hello-from-argv-$$
FIXARGS=(--text "text://127.0.0.1:$PORT" --greeting "$WORD")
start_master
wait_ready 1 >/dev/null
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
seen=$(grep -o "greeting '.*'" "$T/master.log" || true)
note "--greeting $WORD; the worker's on_worker_start logged: $seen"
[ "$seen" = "greeting '$WORD'" ] ||
    fail "the worker saw --greeting as '${seen#greeting }', not '$WORD': wm_run_all's process" \
        "title overwrote the program's option strings"
pass "options kept by the program survive the process title"
