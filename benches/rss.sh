#!/usr/bin/env bash
# Peak RSS of `stackpkg template` on the `stackpkg create` scaffold, measured the way
# docs/performance.md describes: every binary is first put in the same page-cache state
# (fsync, evicted with posix_fadvise(DONTNEED), one warm-up run), then run 20 times under
# GNU time; prints median and max of "Maximum resident set size" and the page faults.
#   bash benches/rss.sh [BINARY…]      (default: target/release/stackpkg)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=("$root/target/release/stackpkg")
runs=${RUNS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${bins[0]}" create "$work/chart" >/dev/null
echo "| binary | size | peak RSS median (max) of $runs runs | minor page faults (median) |"
echo "|:---|---:|---:|---:|"
for b in "${bins[@]}"; do
  python3 - "$b" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
PY
  "$b" template demo "$work/chart" >/dev/null
  rss=(); faults=()
  for _ in $(seq "$runs"); do
    out=$(/usr/bin/time -v "$b" template demo "$work/chart" 2>&1 >/dev/null)
    rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' <<<"$out")")
    faults+=("$(awk -F': ' '/Minor \(reclaiming a frame\) page faults/ {print $2}' <<<"$out")")
  done
  python3 - "$b" "$(stat -c %s "$b")" "${rss[*]}" "${faults[*]}" <<'PY'
import statistics, sys
b, size, rss, faults = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split()], [int(x) for x in sys.argv[4].split()]
mib = lambda kb: "%.1f MiB" % (kb / 1024)
print("| `%s` | %.1f MB | %s (%s) | %d |" % (b, size / 1e6, mib(statistics.median(rss)), mib(max(rss)), statistics.median(faults)))
PY
done
