#!/usr/bin/env python3
"""Incremental rebuilds of the shared corpus, against sitegen's and Hugo's full builds.

Usage:
    benches/incremental.py [--pages 10000] [--runs 10] [--corpus DIR] [--sitegen BIN]

On a copy of the zola/ layout of ../shared/bench/gen_corpus.py, times whole `sitegen build`
processes (wall clock, medians):
  * full: `sitegen build --full` into the same output folder;
  * no-op: `sitegen build` with nothing changed;
  * one-page edit: a line appended to one page's body, then `sitegen build`;
  (both twice: back to back, as hyperfine runs them, and after the second of idle that
  every other run gets; on a virtual machine the idle second alone can double a short run)
  * template edit: an HTML comment added inside page.html's main block (page.html is used by
    every page, so every page's bytes change), then `sitegen build`;
  * template comment: a Tera comment added to page.html (every page renders again, no byte
    of output changes), then `sitegen build`;
and Hugo's full build of the hugo/ layout (Hugo's CLI has no incremental build). Full builds
and template edits alternate, so the disk's state weighs on both alike.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_corpus.py")


def timed(cmd, settle=True):
    # Deleting or replacing thousands of files keeps the disk busy after the process exits;
    # let it settle so one run does not pay for the previous one.
    if settle:
        os.sync()
        time.sleep(1)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target", "bench-corpus"))
    ap.add_argument("--sitegen", default=os.path.join(ROOT, "target", "release", "sitegen"))
    ap.add_argument("--hugo", default=shutil.which("hugo") or "hugo")
    a = ap.parse_args()
    if not os.path.exists(a.sitegen):
        sys.exit(f"{a.sitegen} not found: run `cargo build --release` first")

    corpus = os.path.join(a.corpus, str(a.pages))
    if not os.path.exists(os.path.join(corpus, "MANIFEST.txt")):
        subprocess.run([sys.executable, GEN, "--pages", str(a.pages), "--out", corpus, "--clean"], check=True, stdout=subprocess.DEVNULL)
    site = os.path.join(a.corpus, f"incremental-{a.pages}")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(os.path.join(corpus, "zola"), site)
    out = os.path.join(site, "public")
    build = [a.sitegen, "build", "--quiet", "--root", site, "--output", out]
    sample = next(line.split("=", 1)[1] for line in open(os.path.join(corpus, "MANIFEST.txt")) if line.startswith("sample_page_file="))
    page = os.path.join(site, sample.strip())
    template = os.path.join(site, "templates", "page.html")

    results = {
        "full build (--full)": [],
        "no-op rebuild, back to back": [],
        "no-op rebuild, after 1 s idle": [],
        "one-page text edit, back to back": [],
        "one-page text edit, after 1 s idle": [],
        "edit of page.html (every page changes)": [],
        "Tera comment in page.html (no output changes)": [],
    }
    timed(build)
    for settle, how in [(False, "back to back"), (True, "after 1 s idle")]:
        timed(build, settle)  # warm-up
        results[f"no-op rebuild, {how}"] = [timed(build, settle) for _ in range(a.runs)]
        for i in range(a.runs + 1):
            with open(page, "a") as f:
                f.write(f"\nAn edited paragraph {i}.\n")
            elapsed = timed(build, settle)
            if i > 0:  # the first is a warm-up
                results[f"one-page text edit, {how}"].append(elapsed)
    # Full builds and template edits alternate, so the disk's state weighs on both alike.
    for i in range(max(3, a.runs // 2)):
        results["full build (--full)"].append(timed(build + ["--full"]))
        with open(template) as f:
            text = f.read()
        with open(template, "w") as f:
            f.write(text.replace("{% endblock main %}", f"<!-- edit {i} -->{{% endblock main %}}", 1))
        results["edit of page.html (every page changes)"].append(timed(build))
        with open(template, "a") as f:
            f.write(f"{{# edit {i} #}}\n")
        results["Tera comment in page.html (no output changes)"].append(timed(build))
    hugo_out = os.path.join(a.corpus, f"hugo-out-{a.pages}")
    hugo = []
    for run in range(max(3, a.runs // 2)):
        dest = f"{hugo_out}-{run}"
        hugo.append(timed([a.hugo, "--quiet", "-s", os.path.join(corpus, "hugo"), "-d", dest]))
        shutil.rmtree(dest, ignore_errors=True)
    results["Hugo full build"] = hugo

    full = median_ms(results["full build (--full)"])
    print(f"# {a.pages:,} pages, {os.cpu_count()} CPUs, whole-process wall time, medians\n")
    print("| run | median | runs | vs sitegen full | vs Hugo full |")
    print("|---|---:|---:|---:|---:|")
    hugo_ms = median_ms(hugo)
    for name, samples in results.items():
        m = median_ms(samples)
        print(f"| {name} | {m:,.0f} ms | {len(samples)} | {m / full * 100:.1f}% | {m / hugo_ms * 100:.1f}% |")
    shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    main()
