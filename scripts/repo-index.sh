#!/usr/bin/env bash
# Publishes the first-party charts into repo-index/: one `stackpkg package` per chart under
# charts/ (library charts too; charts/_tools is no chart), then `stackpkg repo index`.
#
#   scripts/repo-index.sh           rebuild repo-index/ in place
#   scripts/repo-index.sh --check   rebuild into a temporary folder and fail, naming each stale
#                                   chart, when repo-index/ differs from it (CI runs this)
#
# Byte-reproducible: packages are deterministic, and `repo index` keeps an entry's `created`
# from the existing repo-index/index.yaml while its digest is unchanged (Helm's --merge
# behaviour). A new or changed package gets SOURCE_DATE_EPOCH, which defaults to the commit
# time of the last commit touching charts/, so two machines building the same commit agree.
# Published versions of other chart versions already in repo-index/ are kept.
#
# STACKPKG names the binary to use; by default target/debug/stackpkg is built (--locked).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: scripts/repo-index.sh [--check]" >&2; exit 2 ;;
esac

if [ -z "${STACKPKG:-}" ]; then
  cargo build --quiet --locked --bin stackpkg
  STACKPKG=target/debug/stackpkg
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- charts 2>/dev/null || true)
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
fi
export SOURCE_DATE_EPOCH

charts=()
for dir in charts/*/; do
  dir=${dir%/}
  [ -f "$dir/Chart.yaml" ] || continue
  charts+=("$dir")
done
[ "${#charts[@]}" -gt 0 ] || { echo "repo-index.sh: no charts under charts/" >&2; exit 1; }

# Builds the repository into $1, starting from what repo-index/ holds.
build() {
  local out=$1 dir
  mkdir -p "$out"
  # Start from the published packages and index (their `created` dates) unless building in place.
  if [ -d repo-index ] && [ "$out" != repo-index ]; then
    find repo-index -maxdepth 1 \( -name '*.tgz' -o -name index.yaml \) -exec cp {} "$out"/ \;
  fi
  for dir in "${charts[@]}"; do
    # stdout names the package, stderr its digest; only a failure is worth showing.
    if ! err=$("$STACKPKG" package "$dir" -d "$out" 2>&1 >/dev/null); then
      echo "repo-index.sh: packaging $dir failed: $err" >&2
      return 1
    fi
  done
  "$STACKPKG" repo index "$out" >/dev/null
}

if ! $check; then
  build repo-index
  echo "repo-index/: ${#charts[@]} charts packaged, index.yaml written"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build "$tmp/repo"
stale=()
for dir in "${charts[@]}"; do
  # The package this chart builds to: NAME-VERSION.tgz, as `stackpkg package` printed it.
  pkg=$("$STACKPKG" package "$dir" -d "$tmp/one" 2>/dev/null | head -n1)
  file=$(basename "$pkg")
  if [ ! -f "repo-index/$file" ]; then
    stale+=("${dir#charts/}: repo-index/$file is missing")
  elif ! cmp -s "repo-index/$file" "$tmp/repo/$file"; then
    stale+=("${dir#charts/}: repo-index/$file differs from a fresh package of $dir")
  fi
done
if ! cmp -s repo-index/index.yaml "$tmp/repo/index.yaml" 2>/dev/null; then
  stale+=("index.yaml: repo-index/index.yaml differs from a fresh \`stackpkg repo index\`")
fi
if [ "${#stale[@]}" -gt 0 ]; then
  echo "repo-index/ is stale; run scripts/repo-index.sh and commit the result:" >&2
  printf '  %s\n' "${stale[@]}" >&2
  exit 1
fi
echo "repo-index/ is up to date (${#charts[@]} charts)"
