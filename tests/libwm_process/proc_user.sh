#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# user: `--user nobody` (wm_worker_set_user) runs the worker processes as
# nobody (all four uids and gids in /proc/PID/status, and no supplementary
# group 0 left) after the sockets are bound, while the master stays root;
# they serve. `--user` naming a user that does not exist: each process logs
# a clear message and exits with status 78, and the master backs off (few
# starts in 3 s) instead of spinning; `stop` still works. Needs root (exit
# 77 = skipped otherwise).
# Usage: proc_user.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
    echo "$TEST: SKIP: needs root and a user 'nobody'"
    exit 77
fi
NUID=$(id -u nobody)
NGID=$(id -g nobody)

ids_of() { # ids_of PID Uid|Gid: the four ids, space-separated
    awk -v k="$2:" '$1 == k { print $2, $3, $4, $5 }' "/proc/$1/status"
}

# ---- as nobody ---------------------------------------------------------------------
PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2 --user nobody)
start_master
wait_ready 2 >/dev/null
for p in $(worker_pids); do
    u=$(ids_of "$p" Uid)
    g=$(ids_of "$p" Gid)
    note "worker $p: Uid $u, Gid $g"
    [ "$u" = "$NUID $NUID $NUID $NUID" ] || fail "worker $p runs with uids $u, expected $NUID"
    [ "$g" = "$NGID $NGID $NGID $NGID" ] || fail "worker $p runs with gids $g, expected $NGID"
    groups=$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$p/status" | xargs)
    [[ " $groups " != *" 0 "* ]] || fail "worker $p keeps root's group: Groups: $groups"
done
mu=$(ids_of "$MASTER" Uid)
note "master $MASTER: Uid $mu"
[ "$mu" = "0 0 0 0" ] || fail "the master runs with uids $mu, expected root"
r=$(py ask "$PORT" hello) || fail "no answer from the nobody workers"
note "answer: '$r'"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"

# ---- a user that does not exist ------------------------------------------------------
BAD=no-such-user-wm$$
FIXARGS=(--text "text://127.0.0.1:$PORT" --user "$BAD")
start_master
sleep 3
alive "$MASTER" || fail "the master died"
starts=$(grep -c "no user '$BAD'" "$T/master.log" || true)
delays=$(grep -o 'restarting in [0-9]* ms' "$T/master.log" | awk '{print $3}' | xargs)
exits=$(status_json | jget "j['workers'][0]['exits']")
note "in 3 s: $starts start(s), each logging: '$(grep -m1 "no user" "$T/master.log" | cut -d' ' -f5-)'"
note "restart delays (ms): [$delays]; status exits: $exits"
[ "$starts" -ge 1 ] || fail "no clear message about the missing user in the log"
[ "$starts" -lt 10 ] || fail "$starts starts in 3 s: the master spins"
grep -q "'status': 78" <<<"$exits" || fail "status does not count exit status 78: $exits"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "workers ran as nobody; a missing user is reported and backed off"
