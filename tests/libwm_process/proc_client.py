#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The protocol side of the process-model tests (tests/libwm_process), with
# the standard library only. wm_proc_fixture answers every line with
# "v<VERSION> <pid> <line>"; these subcommands speak that to it, check every
# answer, and print what they measured:
#
#   ask PORT LINE                  one connection, one line: prints the answer
#   spread PORT N THREADS          N connections (one line each) from THREADS
#                                  threads: prints {"pids": {pid: n}, "failed": k}
#   until-new PORT EXCLUDE SECS    connects again and again until a process
#                                  whose pid is not in EXCLUDE (comma list)
#                                  answers: prints "<ms> <pid>", or exits 1
#   load PORT [--threads N] [--keepalive K]
#                                  requests from N threads until SIGTERM or
#                                  SIGINT, a new connection per request, or
#                                  K requests per connection with --keepalive;
#                                  every failure (refused, reset, early EOF,
#                                  timeout, wrong answer) is counted and the
#                                  first few are shown; prints a JSON summary
#   sink PORT                      listens on PORT and holds every connection
#                                  it accepts open, printing "accepted N"
#   json EXPR                      evaluates EXPR with j = the JSON on stdin;
#                                  prints lists space-separated
import json
import re
import signal
import socket
import sys
import threading
import time

ANSWER = re.compile(rb"^v(\d+) (\d+) (.*)$")
TIMEOUT = 5.0


class Failure(Exception):
    """A request that did not get its answer; `kind` classifies it."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind


def classify(exc):
    if isinstance(exc, Failure):
        return exc.kind
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "broken_pipe"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return type(exc).__name__


class Line:
    """One connection to the fixture; request() sends a line, reads the answer."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def request(self, text):
        self.sock.sendall(text.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Failure("eof", f"connection closed before the answer to {text!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        m = ANSWER.match(line.rstrip(b"\r"))
        if not m or m.group(3).decode() != text:
            raise Failure("bad_answer", f"{line!r} for {text!r}")
        return int(m.group(1)), int(m.group(2))

    def close(self):
        self.sock.close()


def one_request(port, text):
    c = Line(port)
    try:
        return c.request(text)
    finally:
        c.close()


def cmd_ask(port, text):
    version, pid = one_request(int(port), text)
    print(f"v{version} {pid} {text}")


def cmd_spread(port, n, threads):
    port, n, threads = int(port), int(n), int(threads)
    pids, failed, lock = {}, [], threading.Lock()

    def run(t):
        for i in range(t, n, threads):
            try:
                _, pid = one_request(port, f"spread-{i}")
                with lock:
                    pids[pid] = pids.get(pid, 0) + 1
            except Exception as e:  # counted, and shown below
                with lock:
                    failed.append(f"{classify(e)}: {e}")

    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for f in failed[:5]:
        print(f"failure: {f}", file=sys.stderr)
    print(json.dumps({"pids": {str(k): v for k, v in pids.items()}, "failed": len(failed)}))


def cmd_until_new(port, exclude, secs):
    port, deadline = int(port), time.monotonic() + float(secs)
    old = {int(p) for p in exclude.split(",") if p}
    t0, tries, errors = time.monotonic(), 0, {}
    while time.monotonic() < deadline:
        tries += 1
        try:
            _, pid = one_request(port, f"probe-{tries}")
            if pid not in old:
                print(f"{(time.monotonic() - t0) * 1000:.0f} {pid}")
                return 0
        except Exception as e:
            errors[classify(e)] = errors.get(classify(e), 0) + 1
            time.sleep(0.005)
    print(f"no new process answered within {secs} s ({tries} tries, errors {errors})",
          file=sys.stderr)
    return 1


def cmd_load(port, args):
    port = int(port)
    threads, keepalive = 4, 0
    while args:
        opt, val = args[0], args[1]
        args = args[2:]
        if opt == "--threads":
            threads = int(val)
        elif opt == "--keepalive":
            keepalive = int(val)
        else:
            raise SystemExit(f"unknown option {opt}")
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"requests": 0, "connections": 0, "failed": 0, "kinds": {}, "pids": {},
             "versions": {}, "first_failures": []}

    def note_ok(version, pid):
        with lock:
            stats["requests"] += 1
            stats["pids"][str(pid)] = stats["pids"].get(str(pid), 0) + 1
            stats["versions"][f"v{version}"] = stats["versions"].get(f"v{version}", 0) + 1

    def note_fail(e):
        kind = classify(e)
        with lock:
            stats["failed"] += 1
            stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
            if len(stats["first_failures"]) < 10:
                stats["first_failures"].append(f"{time.strftime('%H:%M:%S')} {kind}: {e}")

    def run(t):
        n = 0
        while not stop.is_set():
            c = None
            try:
                c = Line(port)
                with lock:
                    stats["connections"] += 1
                for _ in range(max(keepalive, 1)):
                    n += 1
                    note_ok(*c.request(f"t{t}-{n}"))
                    if stop.is_set():
                        break
            except Exception as e:
                note_fail(e)
                time.sleep(0.01)
            finally:
                if c:
                    c.close()

    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    t0 = time.monotonic()
    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    print("load: running", flush=True)
    while not stop.is_set():
        stop.wait(0.1)
    for t in ts:
        t.join(TIMEOUT * 3)
    stats["seconds"] = round(time.monotonic() - t0, 2)
    stats["threads"] = threads
    stats["keepalive"] = keepalive
    print(json.dumps(stats), flush=True)
    return 0


def cmd_sink(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(port)))
    srv.listen(16)
    held = []
    print("listening", flush=True)
    while True:
        c, _ = srv.accept()
        held.append(c)
        print(f"accepted {len(held)}", flush=True)


def cmd_json(expr):
    j = json.load(sys.stdin)
    v = eval(expr, {"j": j, "len": len, "set": set, "sorted": sorted, "any": any, "all": all})
    if isinstance(v, (list, tuple, set)):
        print(" ".join(str(x) for x in v))
    elif isinstance(v, bool):
        print("true" if v else "false")
    else:
        print(v)


def main(argv):
    if len(argv) < 2:
        print(__doc__ or "see the file's head", file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "ask":
            return cmd_ask(*args)
        if cmd == "spread":
            return cmd_spread(*args)
        if cmd == "until-new":
            return cmd_until_new(*args)
        if cmd == "load":
            return cmd_load(args[0], args[1:])
        if cmd == "sink":
            return cmd_sink(*args)
        if cmd == "json":
            return cmd_json(*args)
    except (Failure, OSError) as e:
        print(f"proc_client {cmd}: {classify(e)}: {e}", file=sys.stderr)
        return 1
    print(f"unknown subcommand {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
