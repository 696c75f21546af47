#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compiles every ```c block of README.md and docs/*.md against this build of
# libwm, so the documentation cannot drift from the API. Blocks with main()
# are linked too. Usage: check_docs.sh SOURCE_DIR INCLUDE_DIR LIBWM_A CC
# [SVC_INCLUDE_DIRS "SVC_LIBS..."] (the GlobalData and Channel clients, linked
# before libwm; the include folders separated by ':').
set -euo pipefail
src=$1 inc=$2 lib=$3 cc=$4 gdinc=${5:-} gdlibs=${6:-}
out=$(mktemp -d /tmp/wm-docs.XXXXXX)
trap 'rm -rf "$out"' EXIT
python3 - "$src" "$out" <<'PY'
import glob, os, re, sys
src, out = sys.argv[1], sys.argv[2]
docs = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
for doc in docs:
    text = open(doc).read()
    for i, m in enumerate(re.finditer(r"```c\n(.*?)```", text, re.S)):
        body = m.group(1)
        if "#include" not in body:
            body = "#include <wm/wm.h>\n" + body
        name = f"{os.path.splitext(os.path.basename(doc))[0]}_{i}.c"
        open(os.path.join(out, name), "w").write(f'#line 1 "{os.path.relpath(doc, src)} block {i}"\n' + body)
PY
libs=$(pkg-config --libs libevent_core libevent_extra libssl libcrypto zlib)
if [ -n "$gdinc" ]; then
    libs="$gdlibs $lib $(pkg-config --libs msgpack sqlite3) -lpthread $libs"
fi
# The sanitizer build's library needs the same flags at link time.
san=${WM_DOCS_CFLAGS:-}
n=0 bad=0
for f in "$out"/*.c; do
    n=$((n + 1))
    flags=(-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -I "$inc" $san)
    [ -z "$gdinc" ] || flags+=($(pkg-config --cflags msgpack))
    for d in ${gdinc//:/ }; do flags+=(-I "$d"); done
    if grep -q 'int main' "$f"; then
        # shellcheck disable=SC2086
        "$cc" "${flags[@]}" -o "${f%.c}" "$f" "$lib" $libs || { echo "FAIL $(basename "$f")"; bad=$((bad + 1)); }
    else
        "$cc" "${flags[@]}" -c -o "${f%.c}.o" "$f" || { echo "FAIL $(basename "$f")"; bad=$((bad + 1)); }
    fi
done
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
