#!/usr/bin/env bash
# Regenerates link/symbol-order.txt: the functions `stackpkg template` runs, which build.rs
# hands to the linker (lld --symbol-ordering-file) for release builds, so they sit together
# at the start of .text. A short process's peak RSS is mostly the code pages it touches
# plus the kernel's fault-around (64 KiB around each fault): packed, the template path maps
# a fraction of the text it maps when its functions are spread over all of it.
#
#   bash scripts/symbol-order.sh        (needs valgrind: apt-get install valgrind)
#
# The list comes from callgrind runs of the release binary (symbols are kept: the release
# profile strips debug info only; the symbol table is not loaded at run time). Order: the
# scaffold's `template` functions by instructions, then the other runs' remaining ones.
# Symbol names carry hashes that survive code edits but not dependency or version changes;
# a stale entry is skipped by the linker, so a stale file costs memory, never correctness.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind" >&2; exit 1; }
cargo build --release --locked --bin stackpkg
bin=$PWD/target/release/stackpkg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" create "$work/scaffold" >/dev/null
runs=(
  "template demo $work/scaffold"
  "template demo charts/cassandra"
  "template demo charts/streaming-analytics"
  "lint $work/scaffold"
)
i=0
for r in "${runs[@]}"; do
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$work/cg.$i" "$bin" $r >/dev/null 2>"$work/log.$i" \
    || { cat "$work/log.$i" >&2; exit 1; }
  i=$((i + 1))
done
python3 - "$bin" "$work"/cg.* > link/symbol-order.txt <<'PY'
import collections, os, sys
binary = os.path.realpath(sys.argv[1])
seen, order = set(), []
for path in sorted(sys.argv[2:], key=lambda p: int(p.rsplit(".", 1)[1])):
    cost = collections.Counter()
    ob = fn = None
    after_call = False
    for line in open(path):
        if line.startswith("ob="):
            ob = os.path.realpath(line[3:].strip()) if line[3:].strip() else ob
        elif line.startswith("fn="):
            # callgrind marks recursion depth as name'2; the symbol is the name.
            fn = line[3:].strip().split("'")[0] if ob == binary else None
        elif line.startswith("calls="):
            after_call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if after_call:
                after_call = False  # the call's inclusive cost, not the function's own
            elif fn:
                parts = line.split()
                if len(parts) > 1:
                    cost[fn] += int(parts[1])
    for name, _ in sorted(cost.items(), key=lambda kv: (-kv[1], kv[0])):
        if name not in seen and name.startswith("_"):
            seen.add(name)
            order.append(name)
print("\n".join(order))
PY
echo "link/symbol-order.txt: $(wc -l < link/symbol-order.txt) symbols" >&2
