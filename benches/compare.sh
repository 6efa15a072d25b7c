#!/usr/bin/env bash
# Whole-process rendering comparison, measured side by side in one run:
#   stackpkg template  of the `stackpkg create` scaffold
#   helm template      of the `helm create` scaffold          (helm from .tools/bin)
#   sherpack template  of the `stackpkg create` scaffold ported to a Sherpack pack
#                      (cargo install sherpack): the same templates, macros, values and
#                      values.schema.json, so both do the same Jinja work
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
  # Port the stackpkg scaffold to a Sherpack pack: Pack.yaml for Chart.yaml, `pack` for
  # `chart` in the templates. Both use minijinja; the differences are spelled out here.
  cp -r stackchart sherpackchart
  rm sherpackchart/Chart.yaml sherpackchart/.stackpkgignore
  cat > sherpackchart/Pack.yaml <<'YAML'
apiVersion: sherpack/v1
kind: application
metadata:
  name: stackchart
  version: 0.1.0
  description: A stackpkg chart for Kubernetes
  appVersion: "1.27.0"
engine:
  strict: true
YAML
  python3 - sherpackchart <<'PY'
import pathlib, re, sys
for p in sorted(pathlib.Path(sys.argv[1], "templates").rglob("*")):
    if not p.is_file():
        continue
    t = p.read_text()
    t = re.sub(r"\bchart\b(?=[.,)])", "pack", t)
    # stackpkg's `default` is Helm's (empty counts as missing); minijinja's needs `true` for that.
    t = re.sub(r"\|\s*default\(([^()]*(?:\([^()]*\))?[^()]*)\)", r"| default(\1, true)", t)
    # stackpkg renders with trim_blocks + lstrip_blocks; Sherpack sets neither, so apply
    # them to the text: no indentation before a line-leading tag, no newline after a tag.
    t = re.sub(r"(?m)^[ \t]+(?=\{[%#])", "", t)
    t = re.sub(r"([%#]\})\n", r"\1", t)
    p.write_text(t)
PY
  # Same objects, field for field (only managed-by differs), before anything is timed.
  "$stackpkg" template demo stackchart > stack.out
  "$sherpack" template demo sherpackchart > sherpack.out
  python3 - stack.out sherpack.out <<'PY'  # PyYAML (apt: python3-yaml)
import json, re, sys, yaml
def objects(path):
    text = open(path).read().split("\n# NOTES:", 1)[0]  # Sherpack appends NOTES as text
    docs = (d for part in re.split(r"(?m)^(?:---|# Source:.*)$", text) for d in yaml.safe_load_all(part) if d)
    out = {}
    for d in docs:
        for meta in (d["metadata"], d.get("spec", {}).get("template", {}).get("metadata", {})):
            meta.get("labels", {}).pop("app.kubernetes.io/managed-by", None)
        out[(d["kind"], d["metadata"]["name"])] = json.dumps(d, sort_keys=True)
    return out
a, b = objects(sys.argv[1]), objects(sys.argv[2])
if a != b:
    sys.exit("the Sherpack port renders different objects: %s vs %s" % (sorted(a), sorted(b)))
print("sherpack port: the same %d objects as stackpkg" % len(a), file=sys.stderr)
PY
  cmds+=("$sherpack template demo sherpackchart")
  names+=("sherpack")
else
  echo "sherpack not found at $sherpack: cargo install sherpack --locked --root /work/sherpack-tools" >&2
fi

# Every command must work and produce objects before it is timed.
for c in "${cmds[@]}"; do
  n=$($c 2>/dev/null | grep -c '^kind:' || true)
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
