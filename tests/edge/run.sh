#!/usr/bin/env bash
# Runs sitegen's emitted edge code for real. Builds a copy of examples/blog (plus an alias, a
# fingerprinted asset, a page with fresh regions and a custom handler) with every edge target
# and two routes, then serves the output on 127.0.0.1 with each platform's runtime and checks
# the answers with tests/edge/check.mjs:
#   cloudflare  miniflare (workerd, with Cloudflare's asset and router workers), from wrangler.jsonc
#   netlify     Deno running netlify.mjs: the edge functions, _redirects, _headers
#   vercel      Node running vercel.mjs: config.json's routes, the functions in edge-runtime
#   deno        Deno running the emitted main.ts
#
# Usage: bash tests/edge/run.sh [TARGET ...]    (default: all four)
# Environment:
#   SITEGEN_BIN   the sitegen binary; default: `cargo build` and target/debug/sitegen
#   EDGE_KEEP=1   keep the temporary folder (the built site and the runtimes' logs)
#   CI=true       as everywhere here: a missing runtime is a failure (it is outside CI too:
#                 this script never skips a target silently)
set -euo pipefail

ORIG_PWD=$PWD
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"

log() { printf 'edge: %s\n' "$*"; }
die() { printf 'edge: FAILED: %s\n' "$*" >&2; exit 1; }
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ORIG_PWD/$1" ;; esac; }

TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(cloudflare netlify vercel deno)
for t in "${TARGETS[@]}"; do
  case $t in cloudflare | netlify | vercel | deno) ;; *) die "unknown target '$t'" ;; esac
done

# ---------------------------------------------------------------------------------------------
# Tools: Node.js >= 20 and the pinned npm packages (miniflare, deno, edge-runtime).

command -v node >/dev/null || die "node is missing (Node.js 20 or newer is needed)"
command -v npm >/dev/null || die "npm is missing"
command -v python3 >/dev/null || die "python3 is missing"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[[ $NODE_MAJOR -ge 20 ]] || die "Node.js $(node --version) is too old: 20 or newer is needed"
(
  cd "$HERE"
  want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  stamp=node_modules/.sitegen-edge-stamp
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    log "npm ci in tests/edge"
    timeout 900 npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
) || die "installing the npm packages of tests/edge failed"
DENO=$HERE/node_modules/.bin/deno
[[ -x $DENO ]] || die "the deno binary of the npm package 'deno' is missing ($DENO)"
"$DENO" --version >/dev/null || die "deno does not run"
(cd "$HERE" && node -e 'require.resolve("miniflare"); require.resolve("edge-runtime")') ||
  die "miniflare or edge-runtime cannot be loaded from tests/edge/node_modules"
log "runtimes: node $(node --version), $("$DENO" --version | head -1), miniflare $(node -p "require('$HERE/node_modules/miniflare/package.json').version"), edge-runtime $(node -p "require('$HERE/node_modules/edge-runtime/package.json').version")"

if [[ -n ${SITEGEN_BIN:-} ]]; then
  BIN=$(abspath "$SITEGEN_BIN")
else
  log "cargo build (set SITEGEN_BIN to use a binary already built)"
  cargo build --bin sitegen || die "cargo build failed"
  BIN=${CARGO_TARGET_DIR:-target}/debug/sitegen
  [[ $BIN == /* ]] || BIN=$REPO/$BIN
fi
[[ -x $BIN ]] || die "$BIN is not an executable file"

# ---------------------------------------------------------------------------------------------
# Processes: each started here is stopped by its pid.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sitegen-edge.XXXXXX")
PIDS=()
stop() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop "$pid"; done
  if [[ ${EDGE_KEEP:-} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: until the server answers (any status).
wait_http() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY
}

export DENO_DIR=$WORK/deno-dir DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

# ---------------------------------------------------------------------------------------------
# The shared handlers' own tests (the streaming rewriter, route matching).

log "node --test tests/edge/rewriter.test.mjs"
node --test "$HERE/rewriter.test.mjs" >"$WORK/unit.log" 2>&1 || { cat "$WORK/unit.log" >&2; die "the handlers' unit tests failed"; }
UNIT_PASSED=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$WORK/unit.log")
log "handlers: ${UNIT_PASSED:-0} unit tests passed"

# ---------------------------------------------------------------------------------------------
# The site: examples/blog, plus what the checks need.

SITE=$WORK/site
OUT=$WORK/out
cp -r "$REPO/examples/blog" "$SITE"
rm -rf "$SITE/.sitegen" "$SITE/public"
python3 - "$SITE" <<'PY'
import pathlib, sys
site = pathlib.Path(sys.argv[1])
post = site / "content/posts/steam.md"
text = post.read_text()
assert text.startswith("+++\n"), "steam.md has TOML front matter"
post.write_text("+++\naliases = [\"/old/steam/\"]\n" + text[4:])
(site / "static/js").mkdir(parents=True, exist_ok=True)
(site / "static/js/app.0123456789abcdef.js").write_text("console.log('fingerprinted');\n")
(site / "content/live.md").write_text("""+++
title = "Live prices"
description = "Today's loaf prices, filled in at the edge."
edge = "fresh"
+++
A loaf costs <span data-sitegen-fresh="price">3.90 € at build time</span>; there are
<strong data-sitegen-fresh="stock.count">some</strong> left, on <em data-sitegen-fresh="path">this page</em>.
<b data-sitegen-fresh="missing">kept</b>.
""")
(site / "edge").mkdir(exist_ok=True)
(site / "edge/hello.js").write_text("""// A custom edge handler of the site: sitegen bundles it as is.
export default async function hello(request, context) {
  const body = JSON.stringify({ hello: new URL(request.url).pathname, via: "edge/hello.js" });
  return new Response(body, { headers: { "content-type": "application/json" } });
}
""")
PY

FRESH_PORT=$(free_port)
node "$HERE/fresh-server.mjs" "$FRESH_PORT" >"$WORK/fresh.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$FRESH_PORT/" 15 || die "the fresh source did not come up"

# build_site OUTPUT TARGETS: the site built into OUTPUT for TARGETS (a TOML array).
build_site() {
  log "sitegen build --root $SITE --output $1 (edge targets $2)"
  if ! timeout 300 "$BIN" build --root "$SITE" --output "$1" \
    --set "edge.targets=$2" \
    --set 'edge.routes=[{path="/api/search",handler="search"},{path="/hello/*",handler="edge/hello.js"}]' \
    --set "edge.fresh_source=\"http://127.0.0.1:$FRESH_PORT/fresh.json?path={path}\"" \
    </dev/null >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log" >&2
    die "sitegen build failed"
  fi
  cat "$WORK/build.log"
}
build_site "$OUT" '["cloudflare","netlify","vercel","deno"]'
# Netlify alone writes its aliases into _redirects (forced), not into an edge function.
if [[ " ${TARGETS[*]} " == *" netlify "* ]]; then
  build_site "$WORK/out-netlify" '["netlify"]'
  TARGETS+=(netlify-alone)
fi

# ---------------------------------------------------------------------------------------------
# Each runtime in turn.

FAILED=()
PASSED_TOTAL=${UNIT_PASSED:-0}
FAILED_TOTAL=0
for target in "${TARGETS[@]}"; do
  port=$(free_port)
  runlog=$WORK/$target.log
  out=$OUT
  case $target in
    cloudflare)
      (cd "$HERE" && exec node cloudflare.mjs "$OUT" "$port") >"$runlog" 2>&1 &
      ;;
    netlify | netlify-alone)
      [[ $target == netlify ]] || out=$WORK/out-netlify
      (cd "$HERE" && exec "$DENO" run --allow-net --allow-read --allow-env netlify.mjs "$out" "$port") >"$runlog" 2>&1 &
      ;;
    vercel)
      (cd "$HERE" && exec node --experimental-vm-modules --no-warnings vercel.mjs "$OUT" "$port") >"$runlog" 2>&1 &
      ;;
    deno)
      (cd "$OUT" && PORT=$port HOSTNAME=127.0.0.1 exec "$DENO" run --allow-net --allow-read --allow-env main.ts) >"$runlog" 2>&1 &
      ;;
  esac
  pid=$!
  PIDS+=("$pid")
  if ! wait_http "http://127.0.0.1:$port/" 60; then
    cat "$runlog" >&2
    FAILED+=("$target (did not start)")
    FAILED_TOTAL=$((FAILED_TOTAL + 1))
    stop "$pid"
    continue
  fi
  log "[$target] serving on http://127.0.0.1:$port/ (pid $pid)"
  rc=0
  timeout 120 node "$HERE/check.mjs" --target "$target" --url "http://127.0.0.1:$port/" --out "$out" \
    >"$WORK/check-$target.log" 2>&1 || rc=$?
  cat "$WORK/check-$target.log"
  counts=$(tail -1 "$WORK/check-$target.log" | sed -n 's/.* \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
  [[ -n $counts ]] || counts="0 1" # the checks did not finish: count it as a failure
  PASSED_TOTAL=$((PASSED_TOTAL + ${counts% *}))
  FAILED_TOTAL=$((FAILED_TOTAL + ${counts#* }))
  if [[ $rc -ne 0 ]]; then
    FAILED+=("$target")
    [[ ${counts#* } -gt 0 ]] || FAILED_TOTAL=$((FAILED_TOTAL + 1))
    echo "--- $target runtime log:" >&2
    tail -40 "$runlog" >&2
  fi
  stop "$pid"
done

echo "edge: $PASSED_TOTAL passed, $FAILED_TOTAL failed"
[[ ${#FAILED[@]} -eq 0 ]] || die "targets failed: ${FAILED[*]}"
