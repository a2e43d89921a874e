#!/usr/bin/env bash
# Browser checks of sitegen's output: builds the sites, serves each on 127.0.0.1 and runs
# tests/e2e/axe.mjs (axe-core accessibility scan + full-page screenshots, phone and desktop
# widths, in Debian's chromium driven by playwright-core); then the live reload of
# `sitegen serve` (tests/e2e/live.mjs) and the visual regression check against the baselines in
# tests/visual/baselines/ (tests/e2e/visual.mjs).
#
# Usage: bash tests/e2e/run.sh [STEP ...]     STEP: root, blog, directory, init, live, visual
#                                              (default: all six)
#   root  the repository's own site (sitegen build --root .)
#   blog  examples/blog
#   directory  examples/directory (2,400 listings, offline copy)
#   init  a site made by `sitegen init` (the built-in default theme)
#   live  `sitegen serve` on a copy of tests/fixtures/basic: edits on disk reach the open page
#   visual  screenshots of init, blog and directory compared with tests/visual/baselines/
#

# Environment:
#   SITEGEN_BIN    the sitegen binary to use; default: `cargo build` and target/debug/sitegen
#   CHROMIUM       the browser (default /usr/bin/chromium; installed with apt-get when missing)
#   E2E_OUT        screenshots and report.json per site (default target/e2e-screenshots)
#   E2E_TIMEOUT_S  time limit of the checks of one site (default 600)
#   E2E_KEEP=1     keep the temporary build folders
#   UPDATE_BASELINES=1  the visual step writes its screenshots as the new baselines
#   CI=true        as everywhere here: anything missing is a failure (it is outside CI too;
#                  this script never skips a check silently)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ORIG_PWD=$PWD
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"

log() { printf 'e2e: %s\n' "$*"; }
die() { printf 'e2e: FAILED: %s\n' "$*" >&2; exit 1; }
in_ci() { [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; }
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ORIG_PWD/$1" ;; esac; }

SITES=("$@")
[[ ${#SITES[@]} -gt 0 ]] || SITES=(root blog directory init live visual)
for s in "${SITES[@]}"; do
  case $s in root | blog | directory | init | live | visual) ;; *) die "unknown step '$s' (expected root, blog, directory, init, live or visual)" ;; esac
  if [[ $s == blog || $s == directory ]] && [[ ! -d $REPO/examples/$s ]]; then die "examples/$s is missing"; fi
done

E2E_OUT=$(abspath "${E2E_OUT:-$REPO/target/e2e-screenshots}")
E2E_TIMEOUT_S=${E2E_TIMEOUT_S:-600}
export E2E_OUT E2E_TIMEOUT_S

# ---------------------------------------------------------------------------------------------
# Tools: Debian's chromium, Node.js >= 20, the npm packages of tests/e2e.

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n -E "$@"
  else die "need root (or passwordless sudo) to run: $*"
  fi
}

# apt-get, waiting for a dpkg/apt lock that another process holds, and retrying a few times.
apt_get() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if as_root apt-get -q -o DPkg::Lock::Timeout=300 "$@"; then return 0; fi
    log "apt-get $* failed (attempt $attempt of 5); retrying in 15s"
    sleep 15
  done
  return 1
}

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM ]]; then
  log "chromium not found at $CHROMIUM: installing Debian's chromium"
  command -v apt-get >/dev/null || die "chromium is missing and there is no apt-get to install it; set CHROMIUM=/path/to/chromium"
  apt_get update || die "apt-get update failed"
  apt_get install -y --no-install-recommends chromium fonts-dejavu-core fonts-liberation ||
    die "apt-get install chromium failed"
  CHROMIUM=/usr/bin/chromium
  [[ -x $CHROMIUM ]] || die "chromium was installed but $CHROMIUM is not there"
fi
export CHROMIUM
CHROMIUM_VERSION=$("$CHROMIUM" --version 2>/dev/null) || die "$CHROMIUM --version failed: the browser does not run"
log "browser: $CHROMIUM_VERSION ($CHROMIUM)"

command -v node >/dev/null || die "node is missing (Node.js 20 or newer is needed)"
command -v npm >/dev/null || die "npm is missing"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[[ $NODE_MAJOR -ge 20 ]] || die "Node.js $(node --version) is too old: 20 or newer is needed"

# npm ci when node_modules is missing or was installed from another package.json/lock.
(
  cd "$HERE"
  want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  stamp=node_modules/.sitegen-e2e-stamp
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    if [[ -f package-lock.json ]]; then
      log "npm ci in tests/e2e"
      timeout 900 npm ci --no-audit --no-fund --loglevel=error
    else
      log "npm install in tests/e2e (no package-lock.json)"
      timeout 900 npm install --no-audit --no-fund --loglevel=error
    fi
    echo "$want" >"$stamp"
  fi
) || die "installing the npm packages of tests/e2e failed"
node --input-type=module -e "
  import { createRequire } from 'node:module';
  const require = createRequire('$HERE/');
  await import(require.resolve('playwright-core')); require.resolve('axe-core/axe.min.js');
  await import(require.resolve('pixelmatch')); await import(require.resolve('pngjs'));
" || die "playwright-core, axe-core, pixelmatch or pngjs cannot be loaded from tests/e2e/node_modules"

# ---------------------------------------------------------------------------------------------
# The sitegen binary.

if [[ -n ${SITEGEN_BIN:-} ]]; then
  BIN=$(abspath "$SITEGEN_BIN")
  [[ -x $BIN ]] || die "SITEGEN_BIN=$SITEGEN_BIN is not an executable file"
else
  log "cargo build (set SITEGEN_BIN to use a binary already built)"
  cargo build --bin sitegen || die "cargo build failed"
  BIN=${CARGO_TARGET_DIR:-target}/debug/sitegen
  [[ $BIN == /* ]] || BIN=$REPO/$BIN # cargo reads a relative CARGO_TARGET_DIR from $REPO
  [[ -x $BIN ]] || die "cargo build did not produce $BIN"
fi
log "sitegen: $BIN"

# ---------------------------------------------------------------------------------------------
# Build, serve and check each site.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sitegen-e2e.XXXXXX")
mkdir -p "$WORK/out"
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ ${E2E_KEEP:-} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until the server answers, for 15 s at most.
wait_http() {
  python3 - "$1" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + 15
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
}

# build_site NAME ROOT: builds ROOT into $WORK/out/NAME; prints the output folder.
build_site() {
  local name=$1 root=$2 out=$WORK/out/$1
  log "[$name] sitegen build --root $root --output $out" >&2
  if ! timeout 600 "$BIN" build --root "$root" --output "$out" </dev/null >"$WORK/build-$name.log" 2>&1; then
    cat "$WORK/build-$name.log" >&2
    die "[$name] sitegen build failed"
  fi
  [[ -f $out/index.html ]] || { cat "$WORK/build-$name.log" >&2; die "[$name] the build wrote no index.html into $out"; }
  printf '%s\n' "$out"
}

FAILED_SITES=()
TOTAL_PASSED=0
TOTAL_FAILED=0
check_site() {
  local name=$1 out=$2 port rc=0
  port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 "$port" --directory "$out" >"$WORK/http-$name.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$port/" || { cat "$WORK/http-$name.log" >&2; die "[$name] http.server on port $port did not come up"; }
  log "[$name] serving $out on http://127.0.0.1:$port/"
  rm -f "$E2E_OUT/$name/report.json"
  timeout --kill-after=15 "$((E2E_TIMEOUT_S + 60))" \
    node "$HERE/axe.mjs" --site "$name" --url "http://127.0.0.1:$port/" --dir "$out" --out "$E2E_OUT" || rc=$?
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  local counts
  counts=$(node -e '
    try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.passed, r.failed); }
    catch { console.log(0, 0); }' "$E2E_OUT/$name/report.json")
  TOTAL_PASSED=$((TOTAL_PASSED + ${counts% *}))
  TOTAL_FAILED=$((TOTAL_FAILED + ${counts#* }))
  if [[ $rc -ne 0 ]]; then
    FAILED_SITES+=("$name (exit $rc)")
    [[ ${counts#* } -gt 0 ]] || TOTAL_FAILED=$((TOTAL_FAILED + 1)) # the harness failed: count it
  fi
}

# make_init: the `sitegen init` site, in $WORK/init-site (once).
make_init() {
  [[ -f $WORK/init-site/sitegen.toml ]] && return 0
  log "[init] sitegen init $WORK/init-site"
  timeout 120 "$BIN" init "$WORK/init-site" </dev/null >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "[init] sitegen init failed"; }
}

# output_of NAME: the built output of a site, building it unless the checks above did.
output_of() {
  local name=$1
  if [[ ! -f $WORK/out/$name/index.html ]]; then
    case $name in
      blog | directory) build_site "$name" "$REPO/examples/$name" >/dev/null ;;
      init) make_init >&2; build_site init "$WORK/init-site" >/dev/null ;;
    esac
  fi
  printf '%s\n' "$WORK/out/$name"
}

# add_counts NAME REPORT RC: adds a step's report.json counts to the totals.
add_counts() {
  local name=$1 report=$2 rc=$3 counts
  counts=$(node -e '
    try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.passed, r.failed); }
    catch { console.log(0, 0); }' "$report")
  TOTAL_PASSED=$((TOTAL_PASSED + ${counts% *}))
  TOTAL_FAILED=$((TOTAL_FAILED + ${counts#* }))
  if [[ $rc -ne 0 ]]; then
    FAILED_SITES+=("$name (exit $rc)")
    [[ ${counts#* } -gt 0 ]] || TOTAL_FAILED=$((TOTAL_FAILED + 1)) # the harness failed: count it
  fi
}

for site in "${SITES[@]}"; do
  case $site in
    live | visual) continue ;; # after the sites' checks
    root)
      out=$(build_site root "$REPO")
      ;;
    blog | directory)
      out=$(build_site "$site" "$REPO/examples/$site")
      ;;
    init)
      make_init
      out=$(build_site init "$WORK/init-site")
      ;;
  esac
  check_site "$site" "$out"
done

# Live reload: `sitegen serve` in the browser, on a copy of the basic fixture.
if [[ " ${SITES[*]} " == *" live "* ]]; then
  log "[live] sitegen serve, edits on disk, the page following in chromium"
  rc=0
  rm -f "$E2E_OUT/live/report.json"
  timeout --kill-after=15 240 node "$HERE/live.mjs" --bin "$BIN" --site "$REPO/tests/fixtures/basic" --out "$E2E_OUT" || rc=$?
  add_counts live "$E2E_OUT/live/report.json" "$rc"
fi

# Visual regression: fixed pages of three sites against tests/visual/baselines/.
if [[ " ${SITES[*]} " == *" visual "* ]]; then
  visual_args=()
  for name in init blog directory; do
    out=$(output_of "$name")
    visual_args+=(--site "$name=$out")
  done
  [[ ${UPDATE_BASELINES:-} == 1 ]] && visual_args+=(--update) && log "[visual] UPDATE_BASELINES=1: rewriting tests/visual/baselines/"
  log "[visual] screenshots compared with tests/visual/baselines/"
  rc=0
  rm -f "$E2E_OUT/visual/report.json"
  timeout --kill-after=15 "$((E2E_TIMEOUT_S + 60))" node "$HERE/visual.mjs" "${visual_args[@]}" --out "$E2E_OUT" || rc=$?
  add_counts visual "$E2E_OUT/visual/report.json" "$rc"
fi

log "screenshots: $E2E_OUT/<site>/"
echo "e2e: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
if [[ ${#FAILED_SITES[@]} -gt 0 ]]; then
  die "browser checks failed for: ${FAILED_SITES[*]}"
fi
log "OK: ${SITES[*]}"
