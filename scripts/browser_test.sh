#!/usr/bin/env bash
# Checks the sweep dashboard as a person would, in Debian's chromium,
# headless: a small sweep with failures (sweep-selftest's aborts, hangs, out
# of memory and a violation whose details are markup; #16596 in
# single-member-power-loss) renders its tables and replay lines, its links
# reach failure pages that hold their SVG, and the markup shows as text (the
# page's title is untouched, no <img> or <script> from a trace is in the DOM).
# With --screenshots DIR it also writes DIR/dashboard.png and
# DIR/failure-page.png (the README's pictures).
# Usage: scripts/browser_test.sh ETCD_DST_BINARY [--screenshots DIR]
set -euo pipefail
bin=$1
shots=""
if [ "${2:-}" = "--screenshots" ]; then shots=$3; fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "browser_test: chromium is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
"$bin" sweep --workload single-member-power-loss --workload sweep-selftest --first-seed 1210 --seeds 10 \
  --jobs 2 --seed-timeout 2 --out "$work/s" > "$work/sweep.txt" || status=$?
if [ "$status" -ne 3 ]; then
  echo "browser_test: the sweep should end with exit 3 (crashes and violations), got $status" >&2
  cat "$work/sweep.txt" >&2
  exit 1
fi
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000
       --user-data-dir="$work/profile")
dump() { timeout 120 "$browser" "${flags[@]}" --dump-dom "$1" 2>/dev/null; }
fail() { echo "browser_test: $*" >&2; exit 1; }
expect() { grep -qF -- "$2" <<<"$1" || fail "$3"; }
refuse() { if grep -qF -- "$2" <<<"$1"; then fail "$3"; fi; }

dom=$(dump "file://$work/s/index.html")
expect "$dom" "<title>etcd-dst sweep</title>" "the dashboard's title changed (script from a trace ran?)"
expect "$dom" "<th>runs violated</th>" "no properties table"
expect "$dom" "<td>RecoveryAlwaysSucceeds</td>" "no row for RecoveryAlwaysSucceeds"
expect "$dom" "<td>run-health</td>" "no run-health row"
expect "$dom" "etcd-dst run --workload single-member-power-loss --seed 1217" "no replay line for #16596's seed"
expect "$dom" "killed by signal 6" "the aborted seed is not shown"
expect "$dom" "wall-time limit of 2 s exceeded" "the hung seed is not shown"
expect "$dom" "&lt;img src=x onerror=" "markup from the violation is not shown as text"
refuse "$dom" "<img src=\"x\"" "markup from the violation became an element"
refuse "$dom" "<script>document.title" "markup from the violation became a script"
links=$(grep -oE 'href="failures/[^"]+/index.html"' <<<"$dom" | sed 's/^href="//; s/"$//' | sort -u)
[ -n "$links" ] || fail "no links to failure pages"
checked=0
for link in $links; do
  [ -f "$work/s/$link" ] || fail "a link leads nowhere: $link"
  page=$(dump "file://$work/s/$link")
  expect "$page" "Copy</button>" "$link: no replay line"
  expect "$page" "<svg" "$link: no space-time picture"
  case "$link" in
    *single-member-power-loss*) expect "$page" 'id="e' "$link: no event table anchors" ;;
    *) expect "$page" "<h2>Events</h2>" "$link: no event table" ;;
  esac
  refuse "$page" "<script>document.title" "$link: markup from the trace became a script"
  expect "$page" "<title>" "$link: no title"
  refuse "$page" "<title>pwned" "$link: markup from the trace ran"
  checked=$((checked + 1))
done
page=$(dump "file://$work/s/failures/sweep-selftest-1219/index.html")
expect "$page" "&lt;script&gt;document.title=" "the failure page does not show the markup as text"
if [ -n "$shots" ]; then
  mkdir -p "$shots"
  timeout 120 "$browser" "${flags[@]}" --window-size=1300,1500 --screenshot="$shots/dashboard.png" \
    "file://$work/s/index.html" >/dev/null 2>&1
  timeout 120 "$browser" "${flags[@]}" --window-size=1300,1500 --screenshot="$shots/failure-page.png" \
    "file://$work/s/failures/single-member-power-loss-1217/index.html" >/dev/null 2>&1
fi
echo "browser_test: dashboard and $checked failure pages render; markup shows as text"
