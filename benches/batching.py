#!/usr/bin/env python3
"""Model requests and tokens that batching saves on examples/directory.

Usage:
    benches/batching.py [--sitegen BIN] [--latency-ms 0] [--example DIR] [--no-rate-limits]

Starts a mock OpenAI-compatible chat-completions server on 127.0.0.1 (it answers every
request at once, or after --latency-ms, with copy made from the request's own text and
`usage` counted as a quarter of the characters), then builds a fresh copy of
examples/directory against it twice with `--set generate.provider="llm"`:
  * batched: the example's config as is (`short` 20 jobs a request, `long` 5);
  * one job per request: `--set generate.classes.{short,long}.batch_size=1`.
Each build starts from a copy without .sitegen/ or public/, so nothing comes from the cache.
Prints a markdown table of what each build's `generation` report says (jobs, requests,
tokens, cost at the config's prices) and its wall time, then the savings.

The provider's `rpm` and `tpm` limits (500 requests and 200,000 tokens a minute in the
example) pace both builds, so the wall times are what those limits allow; --no-rate-limits
lifts them (`--set providers.llm.rpm=0 --set providers.llm.tpm=0`) to time sitegen itself.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- The mock server -------------------------------------------------------------------------

ITEM_HEADER = re.compile(r"^### (i\d+)\n", re.MULTILINE)
ITEM_ID = re.compile(r"^i\d+$")
# No digits, emails or phone numbers may reach an answer: the checks refuse personal data.
UNSAFE = re.compile(r"[0-9@+]|https?://\S*|www\.\S*")


def clean(text):
    return " ".join(UNSAFE.sub(" ", text).split()).strip(" ,.;:-")


def facts(text):
    """The name, category, city and amenities a prompt's text mentions, as far as it says."""
    found = {}
    for key, pattern in (
        ("name", r"makes (.+?), listed under"),
        ("name", r"Describe (.+?) for its page"),
        ("category", r"listed under (.+?) in "),
        ("category", r"Category: (.+)"),
        ("city", r"listed under .+? in (.+?), sound"),
        ("city", r"City: (.+)"),
        ("amenities", r"Amenities: (.+)"),
    ):
        if key not in found:
            m = re.search(pattern, text)
            if m and clean(m.group(1)):
                found[key] = clean(m.group(1))
    if "name" not in found:
        words = clean(text).split()[:4]
        found["name"] = " ".join(words) or "This place"
    return found


def short(text, limit=95):
    text = clean(text)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def sentence(context):
    """One plausible sentence (under 100 characters, no digits) about what `context` names."""
    f = facts(context)
    name = short(f["name"], 40)
    what = f"one of the {short(f['category'], 25).lower()}" if "category" in f else "a local favourite"
    where = f" in {short(f['city'], 25)}" if "city" in f else ""
    return short(f"{name}, {what}{where}, is well worth a visit", 99) + "."


def phrases(context, n):
    f = facts(context)
    amenities = [short(a, 50) for a in f.get("amenities", "").split(";") if short(a, 50)]
    stock = ["Friendly, welcoming staff", "Easy to find in the neighbourhood", "Well reviewed"]
    return (amenities + stock)[:n]


def sections(user):
    """The `### iN` blocks of a batched request's user message, by id."""
    parts = ITEM_HEADER.split(user)
    return {parts[k]: parts[k + 1] for k in range(1, len(parts) - 1, 2)}


def value_for(schema, context, items):
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        out = {}
        for key in schema.get("required", list(props)):
            sub = props.get(key, {"type": "string"})
            ctx = items.get(key, context) if ITEM_ID.match(key) else context
            out[key] = value_for(sub, ctx, items)
        return out
    if kind == "array":
        n = 2
        if "maxItems" in schema:
            n = min(n, schema["maxItems"])
        n = max(n, schema.get("minItems", 0))
        item = schema.get("items", {"type": "string"})
        if item.get("type", "string") == "string":
            return phrases(context, n) + ["Worth a visit"] * max(0, n - len(phrases(context, n)))
        return [value_for(item, context, items) for _ in range(n)]
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    return sentence(context)


def answer(body):
    """The content of the answer to one chat-completions request body."""
    user = "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        schema = rf.get("json_schema", {}).get("schema", {})
        return json.dumps(value_for(schema, user, sections(user)), ensure_ascii=False)
    return sentence(user)


class Mock:
    def __init__(self, latency_ms):
        self.latency = latency_ms / 1000
        self.lock = threading.Lock()
        self.requests = 0
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self.reply(404, {"error": {"message": f"no route {self.path}"}})
                with mock.lock:
                    mock.requests += 1
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    return self.reply(400, {"error": {"message": f"bad JSON: {e}"}})
                if mock.latency:
                    time.sleep(mock.latency)
                content = answer(body)
                chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
                self.reply(200, {
                    "id": "x",
                    "object": "chat.completion",
                    "model": body.get("model", "mock"),
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }],
                    "usage": {
                        "prompt_tokens": chars // 4 + 1,
                        "completion_tokens": len(content) // 4 + 1,
                        "total_tokens": chars // 4 + len(content) // 4 + 2,
                    },
                })

            def reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def count(self):
        with self.lock:
            return self.requests


# --- The builds ------------------------------------------------------------------------------

def fresh_copy(example, into):
    """A copy of the example without its build state and output (top level only)."""
    top = os.path.abspath(example)
    skip = lambda d, names: [n for n in names if os.path.abspath(d) == top and n in (".sitegen", "public")]
    site = os.path.join(into, "site")
    shutil.copytree(example, site, ignore=skip)
    return site


def build(args, mock, name, extra):
    tmp = tempfile.mkdtemp(prefix="sitegen-batching-")
    try:
        site = fresh_copy(args.example, tmp)
        cmd = [args.sitegen, "build", "--root", site,
               "--set", 'generate.provider="llm"',
               "--set", f'providers.llm.base_url="{mock.url}"',
               *extra, "--format", "json", "--quiet"]
        if args.no_rate_limits:
            cmd += ["--set", "providers.llm.rpm=0", "--set", "providers.llm.tpm=0"]
        env = dict(os.environ, OPENAI_API_KEY="sk-mock")  # never send a real key to the mock
        before = mock.count()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        sent = mock.count() - before
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"{name}: sitegen failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                 f"{proc.stdout}\n{proc.stderr}")
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        sys.exit(f"{name}: the report is not JSON: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    gen = report.get("generation") or {}
    if gen.get("fallbacks") != 0 or gen.get("failures") != 0:
        print(f"{name}: {gen.get('fallbacks')} fallbacks, {gen.get('failures')} failures:")
        print(json.dumps(report, indent=2))
        sys.exit(1)
    if gen.get("requests") != sent:
        print(f"{name}: the mock answered {sent} requests, the report says {gen.get('requests')}:")
        print(json.dumps(report, indent=2))
        sys.exit(1)
    return {"name": name, "wall": wall, **gen}


def ratio(a, b):
    return a / b if b else float("inf")


def saved(what, unbatched, batched):
    pct = 100 * (1 - batched / unbatched) if unbatched else 0.0
    return f"{what} {pct:.1f}% saved" if pct >= 0 else f"{what} {-pct:.1f}% more"


def prices(example):
    """The provider's `price_in` and `price_out` (USD per million tokens), when readable."""
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        return None
    with open(os.path.join(example, "sitegen.toml"), "rb") as f:
        llm = tomllib.load(f).get("providers", {}).get("llm", {})
    if "price_in" not in llm or "price_out" not in llm:
        return None
    return llm["price_in"], llm["price_out"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sitegen", default=os.path.join(ROOT, "target", "release", "sitegen"))
    ap.add_argument("--example", default=os.path.join(ROOT, "examples", "directory"))
    ap.add_argument("--latency-ms", type=float, default=0, help="the mock's delay per answer")
    ap.add_argument("--no-rate-limits", action="store_true",
                    help="lift the provider's rpm and tpm limits")
    args = ap.parse_args()
    if not os.path.isfile(args.sitegen):
        sys.exit(f"{args.sitegen} not found: run `cargo build --release` first")
    if not os.path.isfile(os.path.join(args.example, "sitegen.toml")):
        sys.exit(f"{args.example}/sitegen.toml not found")

    runs = [
        ("batched (short 20, long 5)", []),
        ("one job per request", ["--set", "generate.classes.short.batch_size=1",
                                 "--set", "generate.classes.long.batch_size=1"]),
    ]
    with Mock(args.latency_ms) as mock:
        results = [build(args, mock, name, extra) for name, extra in runs]

    print("| run | jobs | requests | tokens in | tokens out | cost (USD) | wall |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['jobs']:,} | {r['requests']:,} | {r['tokens_in']:,} | "
              f"{r['tokens_out']:,} | {r['cost_usd']:.4f} | {r['wall']:.1f} s |")
    batched, single = results
    print()
    print(f"Batching: {ratio(single['requests'], batched['requests']):.1f}x fewer requests; "
          f"{saved('tokens in', single['tokens_in'], batched['tokens_in'])}, "
          f"{saved('tokens out', single['tokens_out'], batched['tokens_out'])}, "
          f"{saved('cost', single['cost_usd'], batched['cost_usd'])}; "
          f"{ratio(single['wall'], batched['wall']):.1f}x less wall time.")
    price = prices(args.example)
    for r in results:
        if price:
            expected = (r["tokens_in"] * price[0] + r["tokens_out"] * price[1]) / 1e6
            if abs(expected - r["cost_usd"]) > 1e-6:
                print(f"warning: {r['name']}: the report's cost {r['cost_usd']:.6f} differs "
                      f"from {expected:.6f} at the config's prices")
    extra = [f"{r['name']}: {r['retries']} retries, {r['cache_hits']} cache hits"
             for r in results if r.get("retries") or r.get("cache_hits")]
    if extra:
        print("(" + "; ".join(extra) + ")")


if __name__ == "__main__":
    main()
