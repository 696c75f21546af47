#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: the development loop. A copy of fm_app.c (answers "v1 <pid>")
# is built with a plain cc command against this build's libraries and
# started with its monitor worker, whose build command rebuilds that copy.
# With a keep-alive connection held open, the source is saved with "v2"
# (temporary file + rename, as editors do): the monitor rebuilds, asks its
# master for a graceful reload, and new connections get "v2" from the
# rebuilt program while the held connection still gets answers (from the
# old process: nothing dropped). The latency from the save to the first
# "v2" answer is printed. Then a broken edit: the build fails, the log says
# so with its exit status, and the server keeps answering "v2".
# Usage: fm_e2e.sh BUILD_BIN_DIR
WM_TEST_NAME=filemonitor_e2e
source "$(dirname "$0")/../libwm_process/proc_lib.sh"

CC_SH=$BIN/wm_fm_cc.sh
[ -f "$CC_SH" ] || fail "no $CC_SH"
mkdir "$T/src"
cp "$HERE/../filemonitor/fm_app.c" "$T/src/app.c"
BUILD="sh $CC_SH $T/src/app.c -o $T/app.tmp && mv -f $T/app.tmp $T/app"
sh -c "$BUILD" || fail "the first build failed"
FIX=$T/app # fixture() and status_json() drive this program

PORT=$(free_port)
FIXARGS=(--listen "http://127.0.0.1:$PORT" --src "$T/src" --build "$BUILD")
start_master "$T/app" --stop-timeout=10
wait_ready 1 app >/dev/null
t0=$(now_ms)
until grep -q "filemonitor: watching" "$T/master.log"; do
    [ $(($(now_ms) - t0)) -lt 5000 ] || fail "the monitor worker did not start watching"
    sleep 0.02
done
grep "filemonitor: watching" "$T/master.log" | head -1 | sed "s/^/$TEST: log: /"
js=$(status_json) || fail "status failed"
[ "$(jget "[p['worker'] for p in j['processes'] if p['worker']=='filemonitor']" <<<"$js")" = filemonitor ] ||
    fail "status does not list the filemonitor worker: $js"

out=$("$PYTHON" "$HERE/../filemonitor/fm_e2e.py" "$PORT" "$T/src/app.c" 20) || fail "the driver failed"
note "$out"
latency=$(jget "j['latency_ms']" <<<"$out")
[ "$latency" != None ] || fail "the server never answered v2: $out"
before=$(jget "j['before']" <<<"$out")
held_after=$(jget "j['held_after']" <<<"$out")
[ "${before%% *}" = v1 ] || fail "the first answer was '$before'"
[ "$held_after" = "$before" ] ||
    fail "the held connection answered '$held_after' after the reload, expected '$before' (its old process)"
grep -q "filemonitor: build succeeded" "$T/master.log" || fail "no 'build succeeded' in the log"
grep -q "filemonitor: reloading" "$T/master.log" || fail "no 'reloading' in the log"
note "change-to-new-code latency: $latency ms (save -> rebuild -> reload -g -> first v2 answer)"

# A broken edit: the build fails and nothing is reloaded.
now=$(curl -s "http://127.0.0.1:$PORT/") || fail "no answer before the broken edit"
echo 'this is not C' >>"$T/src/app.c"
t0=$(now_ms)
until grep -q "filemonitor: build failed with exit status" "$T/master.log"; do
    [ $(($(now_ms) - t0)) -lt 10000 ] || fail "no 'build failed' in the log 10 s after a broken edit"
    sleep 0.02
done
grep -m1 "filemonitor: build: .*error" "$T/master.log" >/dev/null || fail "the compiler's output is not in the log"
sleep 0.3
still=$(curl -s "http://127.0.0.1:$PORT/") || fail "nothing answers after a failed build"
[ "$still" = "$now" ] || fail "after a failed build the answer changed from '$now' to '$still'"
note "a failed build is logged ($(grep -m1 'build failed' "$T/master.log" | sed 's/.*filemonitor: //')) and not loaded: '$still'"

fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "save -> v2 in $latency ms; the held connection was kept; a failed build is not loaded"
