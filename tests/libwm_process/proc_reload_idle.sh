#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reload with an idle connection: a plain `reload` closes connections that
# are idle (between requests) and the old process then ends. Here one
# keep-alive connection has had its answer and waits: the reload must close
# it (the client reads EOF), the new process must serve, and the old
# process must end cleanly — exit status 0 in `status --json`, not a crash.
# Usage: proc_reload_idle.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT")
start_master
wait_ready 1 >/dev/null
old=$(worker_pids)
hold H "$PORT"
r=$(ask_fd "$H" one) || fail "no answer"
note "idle keep-alive connection to $old: '$r'"
fixture reload >/dev/null || fail "reload failed"
ms=$(wait_gone "$old" 5) || fail "the old process $old still runs 5 s after reload"
if IFS= read -r -t 1 line <&"$H"; then
    fail "the idle connection was not closed; it delivered '$line'"
fi
unhold "$H"
wait_ready 1 >/dev/null
r=$(py ask "$PORT" two) || fail "the new process does not answer"
exits=$(status_json | jget "j['workers'][0]['exits']")
note "the old process ended $ms ms after reload; new answer '$r'; exits: $exits"
[ "$exits" = "{'status': 0, 'count': 1}" ] ||
    fail "the old process did not end cleanly: exits $exits (log: $(grep -v INFO "$T/master.log" | head -3))"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "the idle connection was closed and the old process exited 0"
