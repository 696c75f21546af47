# SPDX-License-Identifier: MIT
"""The timed part of fm_e2e.sh: hold a keep-alive HTTP connection to the
app, edit its source from "v1" to "v2" (as an editor saves: a temporary
file renamed over it), ask on new connections until "v2" answers, then ask
again on the held connection. Prints one JSON line:
{"latency_ms", "before", "after", "held_after"}.

Usage: fm_e2e.py PORT SOURCE_FILE TIMEOUT_S"""
import http.client
import json
import os
import sys
import time

port, src, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])


def get(conn):
    conn.request("GET", "/")
    r = conn.getresponse()
    return r.read().decode().strip()


held = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
before = get(held)

with open(src) as f:
    text = f.read()
tmp = src + ".save-tmp"
with open(tmp, "w") as f:
    f.write(text.replace('#define VERSION "v1"', '#define VERSION "v2"'))
t0 = time.monotonic()
os.rename(tmp, src)

after = None
while time.monotonic() - t0 < timeout:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        answer = get(c)
        c.close()
        if answer.startswith("v2 "):
            after = answer
            break
    except OSError:
        pass  # a refused or reset connection is a failure: reported below
    time.sleep(0.005)
latency_ms = round((time.monotonic() - t0) * 1000)

try:
    held_after = get(held)
except Exception as e:  # the held connection was dropped
    held_after = "error: %r" % (e,)
held.close()
print(json.dumps({"latency_ms": latency_ms if after else None, "before": before,
                  "after": after, "held_after": held_after}))
