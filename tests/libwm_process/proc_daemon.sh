#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# start -d, then stop through the pid file, as an operator does from two
# terminals: `start -d` returns (status 0) once the workers listen; the pid
# file names a live master, detached (its own session, not our child),
# titled "wm: master ..." in /proc/PID/cmdline, with workers titled
# "wm: worker fixture <listen URL>" that serve; a second `start` (with or
# without -d) refuses with a clear message and exit status 1; `stop` ends
# every process and removes the pid file and the control socket (after a
# `restart -d`, which brings a new master and workers that serve); the log
# file got the master's and the workers' lines; commands on a stopped
# server say it is not running (status 1); an unknown command prints usage.
# Usage: proc_daemon.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
URL=text://127.0.0.1:$PORT
LOG=$T/x.log
FIXARGS=(--text "$URL" --count 2)

t0=$(now_ms)
fixture start -d --log-file="$LOG" >"$T/start.out" 2>&1 || fail "start -d failed: $(cat "$T/start.out")"
note "start -d returned after $(($(now_ms) - t0)) ms: $(cat "$T/start.out")"
[ -s "$PIDFILE" ] || fail "no pid file $PIDFILE"
MASTER=$(cat "$PIDFILE")
STARTED+=("$MASTER")
alive "$MASTER" || fail "the pid file names $MASTER, which does not run"
title=$(title_of "$MASTER")
[[ "$title" == "wm: master "* ]] || fail "the master's title is '$title'"
ppid=$(stat_field "$MASTER" 4)
sid=$(stat_field "$MASTER" 6)
[ "$ppid" != $$ ] || fail "the daemon is still our child"
[ "$sid" != "$(stat_field $$ 6)" ] || fail "the daemon is in our session"
note "master $MASTER: title '$title', parent $ppid, session $sid"

# start -d returns once the workers listen: they answer at once.
r=$(py ask "$PORT" hello) || fail "no answer right after start -d"
note "answer: '$r'"
kids=$(children_of "$MASTER" | xargs)
[ "$(wc -w <<<"$kids")" = 2 ] || fail "the master has children [$kids], expected 2 workers"
echo "$kids" | tr ' ' '\n' >>"$SEEN"
for k in $kids; do
    ktitle=$(title_of "$k")
    [ "$ktitle" = "wm: worker fixture $URL" ] || fail "worker $k is titled '$ktitle'"
done
note "workers [$kids] titled 'wm: worker fixture $URL'"

for how in "start -d" start; do
    set +e
    # shellcheck disable=SC2086
    fixture $how --log-file="$LOG" >"$T/again.out" 2>&1
    rc=$?
    set -e
    note "a second '$how': status $rc, '$(cat "$T/again.out")'"
    [ "$rc" = 1 ] || fail "a second '$how' exited with status $rc, expected 1"
    grep -q "already running (master pid $MASTER" "$T/again.out" ||
        fail "a second '$how' did not say that master $MASTER runs"
done
alive "$MASTER" || fail "the master died after a second start"

# restart -d: a new master (and new workers) in the same pid file.
old_master=$MASTER
t0=$(now_ms)
fixture restart -d --log-file="$LOG" >"$T/restart.out" 2>&1 ||
    fail "restart -d failed: $(cat "$T/restart.out")"
MASTER=$(cat "$PIDFILE")
STARTED+=("$MASTER")
note "restart -d took $(($(now_ms) - t0)) ms: master $old_master -> $MASTER"
[ "$MASTER" != "$old_master" ] || fail "restart -d kept the master $old_master"
alive "$old_master" && fail "the old master $old_master still runs after restart -d"
for k in $kids; do
    alive "$k" && fail "the old worker $k still runs after restart -d"
done
kids=$(children_of "$MASTER" | xargs)
echo "$kids" | tr ' ' '\n' >>"$SEEN"
r=$(py ask "$PORT" again) || fail "no answer after restart -d"
grep -qw "$(cut -d' ' -f2 <<<"$r")" <<<"$kids" || fail "'$r' is not from the new workers [$kids]"

t0=$(now_ms)
bg "$T/stop.out" "$FIX" "${FIXARGS[@]}" stop --pid-file="$PIDFILE"
ms=$(wait_gone "$MASTER" 5) || fail "the master $MASTER still runs 5 s after stop"
wait "$BG" || fail "stop failed: $(cat "$T/stop.out")"
# The master is not our child: once it exits, it is a zombie until init
# reaps it, and `stop` (which polls with kill -0) returns only then.
note "the master exited $ms ms after stop; stop returned after $(($(now_ms) - t0)) ms:" \
    "$(tr '\n' ' ' <"$T/stop.out")"
for k in $kids; do
    wait_gone "$k" 2 >/dev/null || fail "worker $k still runs after stop"
done
[ ! -e "$PIDFILE" ] || fail "stop left the pid file $PIDFILE"
[ ! -e "$PIDFILE.sock" ] || fail "stop left the control socket $PIDFILE.sock"

set +e
fixture status >"$T/st.out" 2>&1
rc1=$?
fixture stop >"$T/st2.out" 2>&1
rc2=$?
fixture frobnicate >"$T/unk.out" 2>&1
rc3=$?
set -e
note "after stop: status -> $rc1 '$(cat "$T/st.out")'; stop -> $rc2; unknown command -> $rc3"
{ [ "$rc1" = 1 ] && grep -q "not running" "$T/st.out"; } || fail "status on a stopped server: $rc1"
{ [ "$rc2" = 1 ] && grep -q "not running" "$T/st2.out"; } || fail "stop on a stopped server: $rc2"
{ [ "$rc3" != 0 ] && grep -q "Usage:" "$T/unk.out"; } || fail "an unknown command did not print usage"
lines=$(wc -l <"$LOG")
note "the log file has $lines lines"
grep -q "master $old_master: starting 2 process(es)" "$LOG" || fail "the log lacks the master's start"
grep -q "worker fixture id 1 started" "$LOG" || fail "the log lacks the workers' lines"
grep -q "master $MASTER: stopped" "$LOG" || fail "the log lacks the master's stop"

pass "start -d, pid file, titles, refused second start, restart -d, stop, log"
