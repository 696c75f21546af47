#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs what the build needs, builds wm in
# Release and runs the main program in the foreground (Ctrl-C stops it).
# For now that is the echo example; a later change makes it the cluster-push
# demo, so this stays a thin shell around one program.
#
# Usage: scripts/run.sh [ARGS...]
# With no ARGS the echo listens on 127.0.0.1 only (a demo should not open
# ports to the network) and runs in the foreground (`start`); ARGS replace
# that and go to the program as they are (e.g. --text text://0.0.0.0:2346
# start -d, or --help).
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/deps.sh build

# build-release/ is shared with scripts/test.sh (its install test); keep the
# arguments the same there so neither run reconfigures the other's build.
cmake -S . -B build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON \
    >/dev/null
# Only the program we run: a test or benchmark that does not build yet must
# not stop the demo.
cmake --build build-release -j "$(nproc)" --target example-echo

cat <<'EOF'

example-echo echoes every message back (on 127.0.0.1 unless told otherwise):
  tcp   2345  raw bytes
  text  2346  one message per line
  frame 2347  4-byte big-endian length (counting itself), then the payload
Try, from another shell:
  printf 'hi\n' | nc -q1 127.0.0.1 2346                             # text, with netcat
  bash -c 'exec 3<>/dev/tcp/127.0.0.1/2346; echo hi >&3; head -n1 <&3'  # without netcat
  python3 -c 'import socket,struct; s=socket.create_connection(("127.0.0.1",2347)); m=b"hi"; s.sendall(struct.pack(">I",len(m)+4)+m); print(s.recv(64))'
Stop it with Ctrl-C. From another shell, see its processes with:
  build-release/bin/example-echo status --pid-file=/tmp/wm-run-example-echo.pid

EOF
if [ $# -eq 0 ]; then
    set -- --tcp tcp://127.0.0.1:2345 --text text://127.0.0.1:2346 --frame frame://127.0.0.1:2347 \
        start --pid-file=/tmp/wm-run-example-echo.pid
fi
exec build-release/bin/example-echo "$@"
