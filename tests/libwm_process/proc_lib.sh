# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by the proc_*.sh tests (sourced, never run): a temporary folder per
# test, free loopback ports, starting wm_proc_fixture masters in the
# foreground and driving them through their own command line with the test's
# pid file, JSON from `status --json` read with python3, connections held
# open from bash (/dev/tcp), and a cleanup trap that stops every process the
# test started — by pid, never by name: the SIGTERM first, SIGKILL for what
# is left after 5 s, including worker processes the master leaves behind.
#
# A test script does:  source proc_lib.sh "$@"   (its first argument is the
# build's bin dir), sets FIXARGS=(--text text://127.0.0.1:$port ...), then
# calls start_master, fixture (the CLI), status_json, ... and ends with `pass`.
set -euo pipefail

BIN=${1:?usage: $0 BUILD_BIN_DIR}
FIX=$BIN/wm_proc_fixture
# shellcheck disable=SC2034 # used by proc_rebuilt.sh
FIX_V2=$BIN/wm_proc_fixture_v2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST=${WM_TEST_NAME:-$(basename "$0" .sh)} # a wrapper may name itself
[ -x "$FIX" ] || {
    echo "$TEST: FAIL: no $FIX (build the tree first)" >&2
    exit 1
}
T=$(mktemp -d "/tmp/wm-$TEST.XXXXXX")
PIDFILE=$T/x.pid
FIXARGS=()
MASTER=
ulimit -c 0 # the crash test aborts on purpose: no core files

# Connections held open from this shell (fds), closed in every process it
# starts: a child that inherited one would keep the connection open.
HELD=()
# Every pid started (or found) here: stopped in cleanup, last first.
STARTED=()
# Worker pids seen in `status` (one a line; written from subshells too):
# SIGKILLed in cleanup if they outlive their master.
SEEN=$T/seen-pids
: >"$SEEN"

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

note() {
    echo "$TEST: $*"
}

# Shows what the masters logged, for a failure's diagnosis.
dump_logs() {
    local f
    for f in "$T"/*.log "$T"/*.out; do
        [ -s "$f" ] || continue
        echo "--- $f (last 40 lines) ---" >&2
        tail -n 40 "$f" >&2
    done
}

fail() {
    echo "$TEST: FAIL: $*" >&2
    dump_logs
    exit 1
}

pass() {
    echo "$TEST: PASS${1:+ ($*)}"
    exit 0
}

# alive PID: the process exists and is not a zombie.
alive() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}

# stat_field PID N: field N of /proc/PID/stat as proc(5) numbers them (3 is
# the state, 4 the parent, 6 the session), read after the command name,
# which may hold spaces (a process title does).
stat_field() {
    local s f
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -ra f <<<"${s##*) }"
    echo "${f[$2 - 3]}"
}

# title_of PID: the process title, argv[0] as ps shows it first. The
# master writes it over its command line; a worker is started with it as
# argv[0] and its options after it (which the program still parses).
title_of() {
    tr '\0' '\n' <"/proc/$1/cmdline" | head -n 1
}

# The direct children of PID, from /proc.
children_of() {
    cat /proc/"$1"/task/*/children 2>/dev/null || true
}

cleanup() {
    local rc=$? pid i orphans=()
    set +e
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        pid=${STARTED[i]}
        alive "$pid" || continue
        # shellcheck disable=SC2207
        orphans+=($(children_of "$pid"))
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${STARTED[@]}"; do
        for i in $(seq 250); do
            alive "$pid" || break
            sleep 0.02
        done
        if alive "$pid"; then
            echo "$TEST: cleanup: pid $pid ignored SIGTERM for 5 s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    for pid in "${orphans[@]}" $(sort -u "$SEEN"); do
        # Only processes that still carry our worker title: a pid seen long
        # ago may belong to something else by now.
        if alive "$pid" && grep -qa '^wm: worker' "/proc/$pid/cmdline" 2>/dev/null; then
            echo "$TEST: cleanup: worker $pid outlived its master: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    wait 2>/dev/null
    # A failure has shown the logs already; WM_KEEP_TMP=1 keeps the folder.
    if [ -z "${WM_KEEP_TMP:-}" ]; then
        rm -rf "$T"
    else
        echo "$TEST: files kept in $T" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "$TEST: interrupted" >&2; exit 130' INT TERM

# A TCP port that no socket uses, in any state (racy but adequate). It is
# picked below the kernel's ephemeral range: a port in that range may be the
# local end of a client connection (the load test makes tens of thousands),
# and binding it then fails with EADDRINUSE.
free_port() {
    local p lo base=20000 span
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    span=$((lo - base))
    if [ "$span" -lt 1000 ]; then # an unusual ephemeral range: use ports above it
        base=61000 span=4000
    fi
    while :; do
        p=$((base + RANDOM % span))
        ss -Htan "sport = :$p" | grep -q . || {
            echo "$p"
            return
        }
    done
}

# fixture ARGS...: the fixture program with FIXARGS and the test's pid file,
# as an operator types a command in another terminal.
fixture() {
    "$FIX" "${FIXARGS[@]}" "$@" --pid-file="$PIDFILE"
}

# start_master [EXE] [START OPTIONS...]: a foreground master in the
# background, its stdout in $T/master.out and its log in $T/master.log.
# Sets MASTER.
start_master() {
    local exe=$FIX
    if [ $# -gt 0 ] && [ "${1:0:1}" = / ]; then
        exe=$1
        shift
    fi
    : >"$T/master.out"
    : >"$T/master.log"
    (
        close_held
        exec "$exe" "${FIXARGS[@]}" start --pid-file="$PIDFILE" "$@"
    ) >>"$T/master.out" 2>>"$T/master.log" &
    MASTER=$!
    STARTED+=("$MASTER")
}

# py ARGS...: the protocol/JSON helper. PYTHON is the interpreter itself,
# not a wrapper such as a pyenv shim (which costs ~0.1 s per call).
PYTHON=$(python3 -c 'import sys; print(sys.executable)') || {
    echo "$TEST: FAIL: python3 is needed" >&2
    exit 1
}
py() {
    "$PYTHON" "$HERE/proc_client.py" "$@"
}

# status_json: the master's `status --json`, or nothing (and status 1).
status_json() {
    local out
    out=$(fixture status --json 2>"$T/status.err") || return 1
    py json "[p['pid'] for p in j['processes']]" <<<"$out" | tr ' ' '\n' >>"$SEEN"
    echo "$out"
}

# jget EXPR: evaluates EXPR over the JSON on stdin (j is the document).
jget() {
    py json "$1"
}

# wait_ready N [WORKER] [SECONDS]: waits until the master lists N processes
# (of WORKER, default "fixture") that answer and are idle, and none that is
# starting, busy or retiring. Prints the wait in ms.
wait_ready() {
    local n=$1 worker=${2:-fixture} secs=${3:-10} t0 js got
    t0=$(now_ms)
    while :; do
        alive "$MASTER" || fail "the master ($MASTER) exited while waiting for $n process(es)"
        if js=$(status_json 2>/dev/null); then
            got=$(jget "(len([p for p in j['processes'] if p['worker']=='$worker'])
                  if all(p['state']=='idle' for p in j['processes']) else -1)" <<<"$js")
            [ "$got" = "$n" ] && break
        fi
        [ $(($(now_ms) - t0)) -lt $((secs * 1000)) ] ||
            fail "no $n idle $worker process(es) within $secs s; last status: ${js:-none}"
        sleep 0.05
    done
    echo $(($(now_ms) - t0))
}

# worker_pids [WORKER]: the pids of the worker's processes, sorted.
worker_pids() {
    status_json | jget "sorted(p['pid'] for p in j['processes'] if p['worker']=='${1:-fixture}')"
}

# wait_gone PID SECONDS: waits for PID to end; prints the wait in ms, or
# returns 1 after SECONDS.
wait_gone() {
    local pid=$1 secs=$2 t0
    t0=$(now_ms)
    while alive "$pid"; do
        [ $(($(now_ms) - t0)) -lt $((secs * 1000)) ] || return 1
        sleep 0.01
    done
    echo $(($(now_ms) - t0))
}

# hold VAR PORT: opens a connection from this shell and stores its fd in VAR.
hold() {
    local -n fdvar=$1
    exec {fdvar}<>"/dev/tcp/127.0.0.1/$2" || fail "cannot connect to 127.0.0.1:$2"
    HELD+=("$fdvar")
}

# unhold FD: closes a held connection.
unhold() {
    local fd=$1 i
    exec {fd}>&-
    for i in "${!HELD[@]}"; do
        [ "${HELD[i]}" != "$1" ] || unset "HELD[i]"
    done
}

# close_held: closes every held connection in this (sub)shell; the first
# thing a background child does.
close_held() {
    local fd
    for fd in "${HELD[@]}"; do
        exec {fd}>&-
    done
}

# bg OUTFILE CMD...: runs CMD in the background without the held
# connections, output in OUTFILE; records its pid in STARTED and BG.
bg() {
    local out=$1
    shift
    (
        close_held
        exec "$@"
    ) >"$out" 2>&1 &
    BG=$!
    STARTED+=("$BG")
}

# ask_fd FD LINE: sends LINE on a held connection and prints the answer
# ("v1 <pid> LINE"); returns 1 when none comes within 3 s.
ask_fd() {
    local fd=$1 line=$2 reply
    printf '%s\n' "$line" >&"$fd" || return 1
    IFS= read -r -t 3 reply <&"$fd" || return 1
    echo "$reply"
}

# local_addr_of_fd FD PORT: this shell's end of a held connection, ip:port.
local_addr_of_fd() {
    ss -Htnp state established "( dport = :$2 )" |
        awk -v want="pid=$$,fd=$1)" 'index($0, want) { print $3; exit }'
}
