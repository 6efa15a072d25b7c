#!/usr/bin/env bash
# Side-by-side repository benchmark: stackpkg vs helm on the same large index served on
# loopback by `stackpkg repo serve`. Measures `repo add`, `repo update` and `search repo`
# (wall time and peak RSS from /usr/bin/time -v; median of RUNS runs) and prints a
# Markdown table for docs/performance.md.
#
#   bash benches/compare-repo.sh            # needs target/release/stackpkg and .tools/bin/helm
#
# Env: STACKPKG (binary), HELM (binary), GEN_INDEX (gen_index.py), RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
SP=${STACKPKG:-$PWD/target/release/stackpkg}
HELM=${HELM:-$PWD/.tools/bin/helm}
GEN=${GEN_INDEX:-/work/shared/bench/gen_index.py}
RUNS=${RUNS:-5}
[ -x "$SP" ] || { echo "missing $SP: cargo build --release" >&2; exit 1; }
[ -x "$HELM" ] || { echo "missing $HELM: bash scripts/install-tools.sh" >&2; exit 1; }
[ -f "$GEN" ] || { echo "missing $GEN (set GEN_INDEX)" >&2; exit 1; }

W=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

mkdir -p "$W/srv"
python3 "$GEN" "$W/srv/index.yaml"
SIZE=$(stat -c %s "$W/srv/index.yaml")
VERSIONS=$(grep -c '^  - ' "$W/srv/index.yaml")
"$SP" repo serve "$W/srv" --addr 127.0.0.1:0 2>"$W/serve.log" &
SERVER=$!
for _ in $(seq 100); do grep -q 'serving' "$W/serve.log" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$W/serve.log")

# measure NAME CMD…: runs CMD under /usr/bin/time -v; appends "seconds kib" to $W/NAME.
measure() {
  local name=$1; shift
  local start end wall rss
  start=$(date +%s%N)
  /usr/bin/time -v -o "$W/time.txt" "$@" >/dev/null 2>"$W/err.txt" || {
    echo "command failed: $*" >&2; cat "$W/err.txt" >&2; exit 1; }
  end=$(date +%s%N)
  # time -v prints wall time in centiseconds only; nanosecond clock around it instead.
  wall=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.4f", (e-s)/1e9}')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$W/time.txt")
  echo "$wall $rss" >> "$W/$name"
}

# median of column COL of file.
median() { sort -g -k"$2" "$W/$1" | awk -v c="$2" '{a[NR]=$c} END{print a[int((NR+1)/2)]}'; }

# Each tool gets private config/cache folders (via env, so /usr/bin/time can exec it).
SPENV=(env STACKPKG_CONFIG_HOME="$W/sp/config" STACKPKG_CACHE_HOME="$W/sp/cache")
HENV=(env HELM_CONFIG_HOME="$W/h/config" HELM_CACHE_HOME="$W/h/cache" HELM_DATA_HOME="$W/h/data")

for _ in $(seq "$RUNS"); do
  rm -rf "$W/sp" "$W/h"
  measure sp_add "${SPENV[@]}" "$SP" repo add big "$URL"
  measure h_add "${HENV[@]}" "$HELM" repo add big "$URL"
  measure sp_update "${SPENV[@]}" "$SP" repo update
  measure h_update "${HENV[@]}" "$HELM" repo update
  measure sp_search "${SPENV[@]}" "$SP" search repo kafka
  measure h_search "${HENV[@]}" "$HELM" search repo kafka
done

# Both tools must find the same charts.
sp_n=$("${SPENV[@]}" "$SP" search repo kafka | tail -n +2 | wc -l)
h_n=$("${HENV[@]}" "$HELM" search repo kafka | tail -n +2 | wc -l)

echo "Index: $SIZE bytes, $VERSIONS chart versions, served by stackpkg repo serve on loopback."
echo "Median of $RUNS runs; search results: stackpkg $sp_n rows, helm $h_n rows."
echo
echo "| command | stackpkg time | helm time | speed-up | stackpkg peak RSS | helm peak RSS | RSS ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for op in add update search; do
  st=$(median "sp_$op" 1); ht=$(median "h_$op" 1)
  sr=$(median "sp_$op" 2); hr=$(median "h_$op" 2)
  awk -v op="$op" -v st="$st" -v ht="$ht" -v sr="$sr" -v hr="$hr" 'BEGIN{
    name = (op=="search") ? "search repo kafka" : "repo " op;
    printf "| `%s` | %.3f s | %.3f s | %.1f× | %.1f MiB | %.1f MiB | 1/%.1f |\n",
      name, st, ht, (st>0? ht/st : 0), sr/1024, hr/1024, (sr>0? hr/sr : 0) }'
done
