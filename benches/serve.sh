#!/usr/bin/env bash
# benches/serve.sh: how fast sitegen's preview file server answers, against nginx (and Hugo).
#
# Usage:
#   benches/serve.sh [--pages 10000] [--corpus DIR] [--duration 10s] [--connections 32]
#                    [--threads 2] [--no-hugo] [--no-serve]
#
# 1. Generates the shared corpus (../shared/bench/gen_corpus.py --pages N --out DIR; reused
#    when DIR/MANIFEST.txt exists) and builds its zola/ layout with the release
#    `sitegen build --root DIR/zola --output DIR/out`.
# 2. Serves DIR/out with
#    a. sitegen's server alone: target/release/examples/serve_static (server::router +
#       server::run, no live-reload script), the figure the target is about;
#    b. nginx 2 workers (daemon off, access_log off, sendfile on, keepalive_requests 100000, a
#       config written to a temporary folder), the reference;
#    c. `sitegen serve` (its own preview build of DIR/zola, reload script injected into HTML),
#       when the binary has that command, unless --no-serve;
#    d. `hugo server` on DIR/hugo (rendered to memory, no live reload, no watching), when hugo
#       is installed, unless --no-hugo.
# 3. Loads each with `wrk -tT -cC -dD --latency` on the corpus' sample page (MANIFEST.txt's
#    sample_page_url, the same page everywhere), after a 2 s warm-up, and prints a markdown
#    table: requests/s, p50 and p99 latency, and requests/s as a share of nginx's.
#
# The issue's target: p99 under 5 ms and at least 70% of nginx's requests/s for (a), with
# -t2 -c32 -d10s. wrk, the servers and the site share the machine, so run it on a quiet one.
# Needs python3, curl, wrk and nginx (apt-get installs the last two when missing and run as
# root); hugo is optional. Every server started is stopped by its pid on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PAGES=10000
CORPUS=""
DURATION=10s
CONNECTIONS=32
THREADS=2
HUGO=1
SERVE=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --pages) PAGES="$2"; shift 2 ;;
        --corpus) CORPUS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --no-hugo) HUGO=0; shift ;;
        --no-serve) SERVE=0; shift ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "serve.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
CORPUS="${CORPUS:-${TMPDIR:-/tmp}/sitegen-bench-serve/corpus-$PAGES}"
OUT="$CORPUS/out"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sitegen-serve-bench.XXXXXX")"
PIDS=()

log() { echo "serve.sh: $*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for URL PID SECONDS: until URL answers 200, the process died, or time ran out.
wait_for() {
    local url="$1" pid="$2" deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" == 200 ]]; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# --- tools -------------------------------------------------------------------------------
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    if [[ $EUID -eq 0 ]]; then
        log "installing wrk and nginx"
        apt-get update -qq >&2 && apt-get install -y -qq wrk nginx >&2
    else
        log "wrk and nginx are needed (apt-get install -y wrk nginx)"; exit 1
    fi
fi
log "building sitegen and examples/serve_static (release)"
(cd "$ROOT" && cargo build --release --quiet --bin sitegen --example serve_static) >&2
SITEGEN="$ROOT/target/release/sitegen"
SERVE_STATIC="$ROOT/target/release/examples/serve_static"

# --- the site ----------------------------------------------------------------------------
if [[ ! -f "$CORPUS/MANIFEST.txt" ]]; then
    log "generating $PAGES pages into $CORPUS"
    mkdir -p "$CORPUS"
    python3 "$ROOT/../shared/bench/gen_corpus.py" --pages "$PAGES" --out "$CORPUS" >&2
fi
log "building $CORPUS/zola into $OUT"
"$SITEGEN" build --root "$CORPUS/zola" --output "$OUT" >&2
PAGE="$(sed -n 's/^sample_page_url=//p' "$CORPUS/MANIFEST.txt")"
if [[ -z "$PAGE" ]]; then
    # content/SEC/page-N.md → /SEC/page-N/
    PAGE="$(sed -n 's|^sample_page_file=content\(/.*\)\.md$|\1/|p' "$CORPUS/MANIFEST.txt")"
fi
[[ -f "$OUT${PAGE}index.html" ]] || { log "no $OUT${PAGE}index.html"; exit 1; }
log "sample page $PAGE ($(wc -c <"$OUT${PAGE}index.html") bytes)"

# --- load --------------------------------------------------------------------------------
ROWS=()
# measure NAME URL: a warm-up, then the measured wrk run; appends "NAME|req/s|p50|p99".
measure() {
    local name="$1" url="$2" report
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url" >/dev/null
    report="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url")"
    echo "$report" >"$WORK/wrk-${name// /_}.txt"
    echo "--- $name" >&2
    echo "$report" >&2
    ROWS+=("$(echo "$report" | awk -v name="$name" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000;
            if (v ~ /ms$/) return v + 0;
            if (v ~ /s$/) return v * 1000;
            return v;
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        /Non-2xx or 3xx responses/ { bad = $NF }
        END { printf "%s|%s|%.2f|%.2f|%s\n", name, rps, p50, p99, bad + 0 }')")
}

# stop PID: ends one server before the next is measured, so they do not share the cores.
stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# a. sitegen's server alone.
PORT="$(free_port)"
"$SERVE_STATIC" "$OUT" "$PORT" >"$WORK/serve_static.log" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_for "http://127.0.0.1:$PORT$PAGE" "$PID" 30 || { log "serve_static did not start"; cat "$WORK/serve_static.log" >&2; exit 1; }
curl -s "http://127.0.0.1:$PORT$PAGE" >"$WORK/sitegen.html"
measure "sitegen (server::run)" "http://127.0.0.1:$PORT$PAGE"
stop "$PID"

# b. nginx.
PORT="$(free_port)"
mkdir -p "$WORK/nginx"
{
    echo "daemon off;"
    echo "worker_processes 2;"
    [[ $EUID -eq 0 ]] && echo "user root;"
    echo "pid $WORK/nginx/nginx.pid;"
    echo "error_log $WORK/nginx/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http {"
    echo "    include /etc/nginx/mime.types;"
    echo "    default_type application/octet-stream;"
    echo "    access_log off;"
    echo "    sendfile on;"
    echo "    tcp_nopush on;"
    echo "    keepalive_requests 100000;"
    for temp in client_body proxy fastcgi uwsgi scgi; do
        echo "    ${temp}_temp_path $WORK/nginx/$temp;"
    done
    echo "    server {"
    echo "        listen 127.0.0.1:$PORT;"
    echo "        root $OUT;"
    echo "        index index.html;"
    echo "    }"
    echo "}"
} >"$WORK/nginx/nginx.conf"
nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_for "http://127.0.0.1:$PORT$PAGE" "$PID" 30 || { log "nginx did not start"; cat "$WORK/nginx/error.log" >&2; exit 1; }
curl -s "http://127.0.0.1:$PORT$PAGE" >"$WORK/nginx.html"
cmp -s "$WORK/sitegen.html" "$WORK/nginx.html" || { log "sitegen and nginx served different bytes"; exit 1; }
measure "nginx" "http://127.0.0.1:$PORT$PAGE"
stop "$PID"

# c. `sitegen serve`, when the binary has it.
if ((SERVE)) && "$SITEGEN" serve --help >/dev/null 2>&1; then
    PORT="$(free_port)"
    "$SITEGEN" serve --root "$CORPUS/zola" --output "$WORK/serve-out" --port "$PORT" >"$WORK/serve.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    if wait_for "http://127.0.0.1:$PORT$PAGE" "$PID" 300; then
        measure "sitegen serve (reload script)" "http://127.0.0.1:$PORT$PAGE"
    else
        log "sitegen serve did not start; see below"; tail -20 "$WORK/serve.log" >&2
    fi
    stop "$PID"
fi

# d. hugo server, when hugo is installed.
if ((HUGO)) && command -v hugo >/dev/null; then
    PORT="$(free_port)"
    hugo server --source "$CORPUS/hugo" --bind 127.0.0.1 --port "$PORT" \
        --baseURL "http://127.0.0.1:$PORT/" --appendPort=false \
        --disableLiveReload --watch=false >"$WORK/hugo.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    if wait_for "http://127.0.0.1:$PORT$PAGE" "$PID" 300; then
        measure "hugo server" "http://127.0.0.1:$PORT$PAGE"
    else
        log "hugo server did not start; see below"; tail -20 "$WORK/hugo.log" >&2
    fi
    stop "$PID"
fi

# --- the table ---------------------------------------------------------------------------
NGINX_RPS="$(printf '%s\n' "${ROWS[@]}" | awk -F'|' '$1 == "nginx" { print $2 }')"
echo
echo "\`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` on $PAGE of a $PAGES-page site ($(nproc) cores):"
echo
echo "| server | requests/s | p50 | p99 | vs nginx | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
    echo "$row" | awk -F'|' -v nginx="$NGINX_RPS" '{
        share = (nginx > 0) ? sprintf("%.0f%%", 100 * $2 / nginx) : "n/a";
        printf "| %s | %.0f | %.2f ms | %.2f ms | %s | %s |\n", $1, $2, $3, $4, share, $5
    }'
done
