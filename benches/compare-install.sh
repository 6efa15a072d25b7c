#!/usr/bin/env bash
# Side-by-side install benchmark: `stackpkg install` vs `helm install` of the same
# 200-object chart (40 × ServiceAccount, ConfigMap, Secret, Service, Deployment), each
# against a fresh state of the standalone API server simulator. Reports wall time
# (median of RUNS) and the API requests each install sent (from /_sim/requests), as a
# Markdown table for docs/performance.md.
#
#   bash benches/compare-install.sh        # builds what is missing
#
# Env: STACKPKG (binary), HELM (binary), SIM (kube-sim example binary), RUNS (default 5),
#      COPIES (default 40: 5 objects each).
set -euo pipefail
cd "$(dirname "$0")/.."
SP=${STACKPKG:-$PWD/target/release/stackpkg}
HELM=${HELM:-$PWD/.tools/bin/helm}
SIM=${SIM:-$PWD/target/release/examples/kube-sim}
RUNS=${RUNS:-5}
COPIES=${COPIES:-40}
[ -x "$SP" ] || cargo build --release --quiet
[ -x "$SIM" ] || cargo build --release --quiet --example kube-sim
[ -x "$HELM" ] || bash scripts/install-tools.sh >/dev/null

W=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# The same objects twice: a stackpkg chart (minijinja) and a Helm chart (Go templates).
mkdir -p "$W/sp/templates" "$W/helm/templates"
printf 'apiVersion: v2\nname: wide\nversion: 1.0.0\n' > "$W/sp/Chart.yaml"
printf 'apiVersion: v2\nname: wide\nversion: 1.0.0\n' > "$W/helm/Chart.yaml"
printf 'copies: %s\n' "$COPIES" > "$W/sp/values.yaml"
printf 'copies: %s\n' "$COPIES" > "$W/helm/values.yaml"
body() { # $1 = name prefix expression, $2 = index expression
  cat <<EOF
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: $1-sa-$2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: $1-cm-$2
data:
  index: "$2"
---
apiVersion: v1
kind: Secret
metadata:
  name: $1-secret-$2
stringData:
  token: "t$2"
---
apiVersion: v1
kind: Service
metadata:
  name: $1-svc-$2
spec:
  selector: {app: "$1-$2"}
  ports:
    - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1-deploy-$2
spec:
  replicas: 1
  selector:
    matchLabels: {app: "$1-$2"}
  template:
    metadata:
      labels: {app: "$1-$2"}
    spec:
      containers:
        - name: app
          image: app:1
EOF
}
{ echo '{% for i in range(values.copies) %}'; body '{{ release.name }}' '{{ i }}'; echo '{% endfor %}'; } \
  > "$W/sp/templates/all.yaml"
{ echo '{{- range $i := until (int .Values.copies) }}'; body '{{ $.Release.Name }}' '{{ $i }}'; echo '{{- end }}'; } \
  > "$W/helm/templates/all.yaml"

"$SIM" --kubeconfig "$W/kubeconfig" > "$W/sim.log" 2>&1 &
SERVER=$!
for _ in $(seq 200); do grep -q '^ready ' "$W/sim.log" 2>/dev/null && break; sleep 0.05; done
URL=$(awk '/^ready /{print $2}' "$W/sim.log")
[ -n "$URL" ] || { echo "kube-sim did not start" >&2; cat "$W/sim.log" >&2; exit 1; }
export KUBECONFIG="$W/kubeconfig"

sim_post() { python3 - "$URL$1" <<'EOF'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"{}", method="POST")).read()
EOF
}
sim_requests() { python3 - "$URL/_sim/requests" <<'EOF'
import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1]))))
EOF
}

# run TOOL NAME CMD…: fresh simulator state and tool caches, then one timed install;
# appends "seconds requests" to $W/res-TOOL.
run() {
  local tool=$1; shift
  sim_post /_sim/reset
  rm -rf "$W/home"; mkdir -p "$W/home"
  local start end
  start=$(date +%s%N)
  HOME="$W/home" HELM_CACHE_HOME="$W/home/c" HELM_CONFIG_HOME="$W/home/f" HELM_DATA_HOME="$W/home/d" \
    "$@" >/dev/null 2>"$W/err.txt" || { echo "failed: $*" >&2; cat "$W/err.txt" >&2; exit 1; }
  end=$(date +%s%N)
  echo "$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.3f", (e-s)/1e9}') $(sim_requests)" >> "$W/res-$tool"
}

for i in $(seq "$RUNS"); do
  run stackpkg "$SP" install "wide$i" "$W/sp" -n bench --create-namespace
  run helm "$HELM" install "wide$i" "$W/helm" -n bench --create-namespace
done

median() { sort -g -k"$2" "$W/res-$1" | awk -v c="$2" '{a[NR]=$c} END{print a[int((NR+1)/2)]}'; }
objects=$((COPIES * 5))
echo "| command ($objects objects, kube-sim) | wall time (median of $RUNS) | fastest | API requests |"
echo "|:---|---:|---:|---:|"
for t in stackpkg helm; do
  fastest=$(sort -g -k1 "$W/res-$t" | head -1 | cut -d' ' -f1)
  echo "| \`$t install\` | $(median "$t" 1) s | $fastest s | $(median "$t" 2) |"
done
