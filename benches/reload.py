#!/usr/bin/env python3
"""Edit-to-reload latency of `sitegen serve` (and `hugo server`), and serve's memory over edits.

Usage:
    benches/reload.py [--pages 10000] [--edits 20] [--rss-edits 100] [--corpus DIR]
                      [--sitegen BIN] [--hugo BIN | --no-hugo]

On a copy of the zola/ layout of ../shared/bench/gen_corpus.py:
  * starts `sitegen serve --port 0` and subscribes to its event stream (/__sitegen/events);
  * appends a line to one page `--edits` times, a pause between edits, and records the time from
    the file being saved (closed) to the `reload` event arriving: median, p95, min, max;
  * reads the serve process's VmRSS (/proc/PID/status) before and after `--rss-edits` more
    edits, each waiting for its reload, and its VmHWM (peak);
then, when Hugo is installed, the same edits on the hugo/ layout under `hugo server`, timed to
the `reload` command of its livereload websocket (/livereload).
"""
import argparse
import base64
import json
import os
import queue
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_corpus.py")
EVENT_TIMEOUT = 60.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def percentile(samples, p):
    ordered = sorted(samples)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Stream:
    """Reads events off a socket on a thread: (perf_counter time, name) into a queue."""

    def __init__(self, sock, parse):
        self.events = queue.Queue()
        self.sock = sock
        threading.Thread(target=parse, args=(sock, self.events), daemon=True).start()

    def wait(self, name, timeout=EVENT_TIMEOUT):
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no `{name}` event within {timeout}s")
            try:
                at, event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event == name:
                return at

    def drain(self):
        while not self.events.empty():
            self.events.get_nowait()


def sse_parse(sock, events):
    """Server-sent events over a chunked HTTP/1.1 response; the chunk framing is skipped by
    keeping only `event:` lines of blocks that have data, which is all that is needed here."""
    buf = b""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        now = time.perf_counter()
        buf += data
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            lines = block.decode("utf-8", "replace").splitlines()
            name = next((l[6:].strip() for l in lines if l.startswith("event:")), None)
            if name and any(l.startswith("data:") for l in lines):
                events.put((now, name))


def sse_connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.settimeout(None)
    sock.sendall(b"GET /__sitegen/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    stream = Stream(sock, sse_parse)
    stream.wait("hello", 30)
    return stream


def ws_frames(sock, events):
    """Text frames of a websocket (server to client: unmasked); each JSON command into events."""
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            data = sock.recv(65536)
            if not data:
                raise EOFError
            buf += data

    try:
        while True:
            need(2)
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            head = 2
            if length == 126:
                need(4)
                length, head = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                need(10)
                length, head = int.from_bytes(buf[2:10], "big"), 10
            need(head + length)
            payload, buf = buf[head:head + length], buf[head + length:]
            now = time.perf_counter()
            if opcode == 1:
                try:
                    command = json.loads(payload).get("command")
                except ValueError:
                    continue
                events.put((now, command))
            elif opcode == 8:
                return
    except (EOFError, OSError):
        return


def ws_send_text(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def livereload_connect(port):
    """Hugo's livereload websocket, after the protocol's hello."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /livereload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(1)
        if not data:
            raise RuntimeError("hugo closed the websocket handshake")
        head += data
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"no websocket upgrade: {head[:200]!r}")
    sock.settimeout(None)
    stream = Stream(sock, ws_frames)
    # Hugo looks for the exact text `"command":"hello"`: no spaces.
    ws_send_text(sock, json.dumps({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]}, separators=(",", ":")))
    stream.wait("hello", 30)
    return stream


def wait_line(proc, pattern, timeout, log):
    """Reads the process's stdout until a line matches; returns the match."""
    found = queue.Queue()

    def read():
        for line in proc.stdout:
            log.append(line)
            m = re.search(pattern, line)
            if m:
                found.put(m)
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        m = found.get(timeout=timeout)
    except queue.Empty:
        m = None
    if m is None:
        proc.kill()
        sys.exit(f"no line matching {pattern!r} (within {timeout}s, or the process ended):\n{''.join(log)}")
    return m


def edit(path, n):
    with open(path, "a") as f:
        f.write(f"\nEdited line {n} at {time.time()}.\n")
    return time.perf_counter()


def measure(stream, page, edits, pause, event="reload", start=0):
    latencies = []
    for i in range(edits):
        stream.drain()
        saved = edit(page, start + i)
        latencies.append(stream.wait(event) - saved)
        time.sleep(pause)
    return latencies


def summary(name, latencies):
    ms = [x * 1000 for x in latencies]
    return (f"{name}: {len(ms)} edits, median {statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
            f"min {min(ms):.0f} ms, max {max(ms):.0f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--rss-edits", type=int, default=100)
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between timed edits")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target", "bench-corpus"))
    ap.add_argument("--sitegen", default=os.path.join(ROOT, "target", "release", "sitegen"))
    ap.add_argument("--hugo", default=shutil.which("hugo"))
    ap.add_argument("--no-hugo", action="store_true")
    ap.add_argument("--no-sitegen", action="store_true", help="only Hugo")
    a = ap.parse_args()
    if not a.no_sitegen and not os.path.exists(a.sitegen):
        sys.exit(f"{a.sitegen} not found: run `cargo build --release` first")

    corpus = os.path.join(a.corpus, str(a.pages))
    if not os.path.exists(os.path.join(corpus, "MANIFEST.txt")):
        subprocess.run([sys.executable, GEN, "--pages", str(a.pages), "--out", corpus, "--clean"], check=True, stdout=subprocess.DEVNULL)
    site = os.path.join(a.corpus, f"reload-{a.pages}")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(os.path.join(corpus, "zola"), site)
    pages = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(os.path.join(site, "content")) for f in fs
        if f.endswith(".md") and not f.startswith("_")
    )
    page = pages[len(pages) // 2]
    if not a.no_sitegen:
        bench_sitegen(a, site, page)
    if a.no_hugo or not a.hugo:
        print("hugo: not installed; skipped" if not a.hugo else "hugo: skipped (--no-hugo)")
        return
    bench_hugo(a, corpus, os.path.join(a.corpus, f"reload-hugo-{a.pages}"), os.path.relpath(page, site))


def bench_sitegen(a, site, page):
    print(f"sitegen serve on {a.pages} pages ({site}); editing {os.path.relpath(page, site)}")
    log = []
    started = time.perf_counter()
    proc = subprocess.Popen([a.sitegen, "serve", "--root", site, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = int(wait_line(proc, r"^serving http://127\.0\.0\.1:(\d+)/", 600, log).group(1))
        print(f"  first build and serving: {time.perf_counter() - started:.2f} s, VmRSS {rss_kib(proc.pid) / 1024:.0f} MiB")
        stream = sse_connect(port)
        time.sleep(1)
        latencies = measure(stream, page, a.edits, a.pause)
        print("  " + summary("edit → reload event", latencies))
        before = rss_kib(proc.pid)
        more = measure(stream, page, a.rss_edits, 0.1, start=a.edits)
        after = rss_kib(proc.pid)
        print(f"  VmRSS before {a.rss_edits} more edits: {before / 1024:.1f} MiB; after: {after / 1024:.1f} MiB; "
              f"peak (VmHWM): {rss_kib(proc.pid, 'VmHWM') / 1024:.1f} MiB")
        print("  " + summary(f"the {a.rss_edits} edits of the memory run", more))
    finally:
        proc.kill()
        proc.wait()



def bench_hugo(a, corpus, hugo_site, relative_page):
    shutil.rmtree(hugo_site, ignore_errors=True)
    shutil.copytree(os.path.join(corpus, "hugo"), hugo_site)
    hugo_page = os.path.join(hugo_site, relative_page)
    if not os.path.exists(hugo_page):
        sys.exit(f"{hugo_page} is missing in the hugo layout")
    port = free_port()
    print(f"hugo server on {a.pages} pages ({hugo_site}); editing {os.path.relpath(hugo_page, hugo_site)}")
    log = []
    started = time.perf_counter()
    proc = subprocess.Popen([a.hugo, "server", "--source", hugo_site, "--bind", "127.0.0.1", "--port", str(port),
                             "--disableBrowserError"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_line(proc, r"Web Server is available at", 900, log)
        print(f"  first build and serving: {time.perf_counter() - started:.2f} s, VmRSS {rss_kib(proc.pid) / 1024:.0f} MiB")
        stream = livereload_connect(port)
        time.sleep(1)
        latencies = measure(stream, hugo_page, a.edits, a.pause)
        print("  " + summary("edit → livereload reload", latencies))
        print(f"  VmRSS after the edits: {rss_kib(proc.pid) / 1024:.1f} MiB; peak (VmHWM): {rss_kib(proc.pid, 'VmHWM') / 1024:.1f} MiB")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
