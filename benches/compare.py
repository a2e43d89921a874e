#!/usr/bin/env python3
"""Whole-build comparison of sitegen and Hugo on the shared synthetic corpus.

Usage:
    benches/compare.py [--pages 1000 10000] [--runs 5] [--corpus DIR] [--sitegen BIN]

For each N it generates (once) the corpus with ../shared/bench/gen_corpus.py, then builds
its zola/ layout with `sitegen build` and its hugo/ layout with `hugo`, alternating the two,
each run a clean build into a new output folder, timed by /usr/bin/time -v. It prints
the median wall time, pages per second and median peak memory of each, and the ratios.

Needs: a release build of sitegen (`cargo build --release`), Hugo (`apt-get install hugo`),
/usr/bin/time (`apt-get install time`).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_corpus.py")


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS in MiB)."""
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    hours, minutes, seconds = int(wall.group(1) or 0), int(wall.group(2)), float(wall.group(3))
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return hours * 3600 + minutes * 60 + seconds, rss_kib / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target", "bench-corpus"))
    ap.add_argument("--sitegen", default=os.path.join(ROOT, "target", "release", "sitegen"))
    ap.add_argument("--hugo", default=shutil.which("hugo") or "hugo")
    a = ap.parse_args()

    if not os.path.exists(a.sitegen):
        sys.exit(f"{a.sitegen} not found: run `cargo build --release` first")
    hugo_version = subprocess.run([a.hugo, "version"], capture_output=True, text=True).stdout.strip()
    sitegen_version = subprocess.run([a.sitegen, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# {sitegen_version} vs {hugo_version}; {os.cpu_count()} CPUs; {a.runs} alternating runs, medians\n")
    print("| pages | tool | wall (median) | pages/s | peak RSS (median) |")
    print("|---:|---|---:|---:|---:|")
    rows = []
    for n in a.pages:
        corpus = os.path.join(a.corpus, str(n))
        if not os.path.exists(os.path.join(corpus, "MANIFEST.txt")):
            subprocess.run([sys.executable, GEN, "--pages", str(n), "--out", corpus, "--clean"], check=True, stdout=subprocess.DEVNULL)
        out = os.path.join(a.corpus, f"out-{n}")
        shutil.rmtree(out, ignore_errors=True)
        os.sync()
        tools = {
            "sitegen": lambda dest: [a.sitegen, "build", "--quiet", "--root", os.path.join(corpus, "zola"), "--output", dest],
            "hugo": lambda dest: [a.hugo, "--quiet", "-s", os.path.join(corpus, "hugo"), "-d", dest],
        }
        results = {name: [] for name in tools}
        for run in range(a.runs):
            for name, cmd in tools.items():
                # A fresh output folder each run: removing the previous tree just before the
                # clock starts makes the disk busy and the timing noisy.
                results[name].append(timed(cmd(os.path.join(out, f"{name}-{run}"))))
        shutil.rmtree(out, ignore_errors=True)
        medians = {}
        for name, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            medians[name] = (wall, rss)
            print(f"| {n:,} | {name} | {wall:.2f} s | {n / wall:,.0f} | {rss:,.0f} MiB |")
        rows.append((n, medians))
    print()
    for n, m in rows:
        (sw, sr), (hw, hr) = m["sitegen"], m["hugo"]
        print(f"N = {n:,}: sitegen is {hw / sw:.1f}x faster than Hugo and uses {hr / sr:.1f}x less memory")


if __name__ == "__main__":
    main()
