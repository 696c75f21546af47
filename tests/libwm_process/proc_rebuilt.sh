#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# rebuilt binary: reload runs the program now on disk. $T/app is a copy of
# wm_proc_fixture (answers "v1 ..."); with a connection open, a "rebuild"
# puts wm_proc_fixture_v2 in its place (copied to a temporary name, then
# renamed over it, as a build does) and `reload -g` runs. New connections
# answer "v2" from new processes, while the connection opened before still
# answers "v1" from its old process, which ends once that connection closes;
# status then lists only the new processes. Last, a broken rebuild (a
# program that exits at once) is reloaded: the running processes stay.
# Usage: proc_rebuilt.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
APP=$T/app
cp "$FIX" "$APP"
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2)
start_master "$APP" --stop-timeout=30
wait_ready 2 >/dev/null
old=$(worker_pids)
hold H "$PORT"
r=$(ask_fd "$H" before) || fail "no answer"
oldpid=$(cut -d' ' -f2 <<<"$r")
[ "${r%% *}" = v1 ] || fail "the first build answered '$r'"
note "v1 processes [$old]; connection held to $oldpid: '$r'"

cp "$FIX_V2" "$APP.tmp"
mv -f "$APP.tmp" "$APP"
t0=$(now_ms)
"$APP" "${FIXARGS[@]}" reload -g --pid-file="$PIDFILE" >/dev/null || fail "reload -g failed"
while :; do
    js=$(status_json) || fail "status failed"
    new=$(jget "sorted(p['pid'] for p in j['processes'] if p['state']=='idle'
          and p['pid'] not in [${old// /,}])" <<<"$js")
    [ "$(wc -w <<<"$new")" -eq 2 ] && break
    [ $(($(now_ms) - t0)) -lt 10000 ] || fail "no 2 new processes 10 s after reload -g: $js"
    sleep 0.02
done
note "reload -g: new processes [$new] after $(($(now_ms) - t0)) ms"
state=$(jget "[p['state'] for p in j['processes'] if p['pid']==$oldpid]" <<<"$js")
[ "$state" = retiring ] || fail "the old process $oldpid is '$state' in status, expected retiring"
for p in $new; do
    exe=$(readlink "/proc/$p/exe")
    [ "$exe" = "$APP" ] || fail "new process $p runs '$exe', not $APP"
done

spread=$(py spread "$PORT" 40 4)
served=$(jget "sorted(int(p) for p in j['pids'])" <<<"$spread")
note "40 new connections: $spread"
[ "$(jget "j['failed']" <<<"$spread")" = 0 ] || fail "new connections failed: $spread"
for p in $served; do
    grep -qw "$p" <<<"$new" || fail "new connections were served by $p, not a new process [$new]"
done
r=$(py ask "$PORT" new) || fail "no answer on a new connection"
[ "${r%% *}" = v2 ] || fail "a new connection answered '$r', expected v2"
note "a new connection answers '$r'"

r=$(ask_fd "$H" after) || fail "the connection opened before the reload stopped answering"
[ "$r" = "v1 $oldpid after" ] || fail "the old connection answered '$r', expected 'v1 $oldpid after'"
note "the connection opened before still answers '$r'"
alive "$oldpid" || fail "the old process $oldpid is gone"

unhold "$H"
ms=$(wait_gone "$oldpid" 3) || fail "the old process $oldpid still runs 3 s after its last connection closed"
note "the old process ended $ms ms after its last connection closed"
now=$(worker_pids)
[ "$now" = "$new" ] || fail "status lists [$now], expected only the new processes [$new]"
note "status lists only the new processes [$now]"

# A broken rebuild: the program on disk now exits at once. A reload must
# keep the processes that run (each new one dies before it is ready).
printf '#!/bin/sh\necho "broken build" >&2\nexit 3\n' >"$APP.tmp"
chmod +x "$APP.tmp"
mv -f "$APP.tmp" "$APP"
fixture reload >/dev/null || fail "reload failed"
t0=$(now_ms)
while [ "$(grep -c "died before it was ready" "$T/master.log" || true)" -lt 2 ]; do
    [ $(($(now_ms) - t0)) -lt 10000 ] || fail "the master did not report the broken rebuild"
    sleep 0.02
done
after=$(worker_pids)
r=$(py ask "$PORT" still) || fail "nothing answers after a broken rebuild"
note "broken rebuild: reload kept [$after] (was [$new]) after $(($(now_ms) - t0)) ms; answer '$r'"
[ "$after" = "$new" ] || fail "a broken rebuild replaced [$new] with [$after]"
[ "${r%% *}" = v2 ] || fail "after a broken rebuild the answer is '$r'"

fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "v2 served after reload -g; the old connection kept v1 until it closed; a broken build is not loaded"
