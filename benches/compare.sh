#!/usr/bin/env bash
# Whole-process rendering comparison, measured side by side in one run:
#   stackpkg template  of the `stackpkg create` scaffold
#   helm template      of the `helm create` scaffold          (helm from .tools/bin)
#   sherpack template  of the `sherpack create` scaffold      (cargo install sherpack)
# Wall time with hyperfine (apt: hyperfine), peak RSS with GNU time (`/usr/bin/time -v`).
# Usage: bash benches/compare.sh [RESULTS.md]
# Override tool paths with STACKPKG=…, HELM=…, SHERPACK=…
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stackpkg=${STACKPKG:-$root/target/release/stackpkg}
helm=${HELM:-$root/.tools/bin/helm}
sherpack=${SHERPACK:-/work/sherpack-tools/bin/sherpack}
out=${1:-/dev/stdout}

[ -x "$stackpkg" ] || (cd "$root" && cargo build --release --quiet)
[ -x "$helm" ] || bash "$root/scripts/install-tools.sh" >/dev/null
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export HELM_CACHE_HOME="$work/.helm/cache" HELM_CONFIG_HOME="$work/.helm/config" HELM_DATA_HOME="$work/.helm/data"
"$stackpkg" create stackchart >/dev/null
"$helm" create helmchart >/dev/null
cmds=("$stackpkg template demo stackchart" "$helm template demo helmchart")
names=("stackpkg" "helm")
if [ -x "$sherpack" ]; then
  "$sherpack" create sherpackchart >/dev/null
  cmds+=("$sherpack template demo sherpackchart")
  names+=("sherpack")
else
  echo "sherpack not found at $sherpack: cargo install sherpack --root /work/sherpack-tools" >&2
fi

# Every command must work and produce objects before it is timed.
for c in "${cmds[@]}"; do
  n=$($c | grep -c '^kind:' || true)
  echo "$c -> $n objects" >&2
done

{
  echo "Machine: $(nproc) CPUs, $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  hyperfine -N --warmup 20 --min-runs 200 --export-markdown "$work/h.md" --export-json "$work/h.json" "${cmds[@]}" >&2
  cat "$work/h.md"
  echo
  # Wall time suffers when the machine is shared; CPU time (user + system) and the fastest
  # run are the robust figures.
  python3 - "$work/h.json" "${names[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
print("| command | CPU time per run (user + sys, mean) | fastest run (wall) | median (wall) |")
print("|:---|---:|---:|---:|")
for n, r in zip(names, res):
    print("| `%s template` | %.1f ms | %.1f ms | %.1f ms |" % (n, (r["user"] + r["system"]) * 1000, r["min"] * 1000, r["median"] * 1000))
PY
  echo
  echo "| command | peak RSS (max of 20 runs) |"
  echo "|:---|---:|"
  for i in "${!cmds[@]}"; do
    max=0
    for _ in $(seq 20); do
      kb=$(/usr/bin/time -v ${cmds[$i]} 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
      [ "$kb" -gt "$max" ] && max=$kb
    done
    echo "| \`${names[$i]} template\` | $((max / 1024)).$(( (max % 1024) * 10 / 1024 )) MiB |"
  done
} > "$out"
