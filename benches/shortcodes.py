#!/usr/bin/env python3
"""What shortcodes cost: full builds of a site with a shortcode call on every page, against the
same site with the shortcode's HTML written in place of the call.

Usage:
    benches/shortcodes.py [--pages 10000] [--runs 5] [--dir DIR] [--sitegen BIN]

Generates both sites (deterministic: the same pages, words and dates every time) under DIR,
then times whole `sitegen build --full --quiet` processes of each, alternately so the machine's
state weighs on both alike, and prints the medians and their ratio. The goal: with shortcodes,
within 15% of without.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORDS = (
    "alpha beta gamma delta static site render markdown page section template build fast "
    "output listing summary cache model prompt copy edge theme folder content value"
).split()

SHORTCODE = (
    '<div class="video"><iframe src="https://www.youtube.com/embed/{{ id }}'
    '{% if autoplay %}?autoplay=1{% endif %}" title="{{ title }}"></iframe></div>\n'
)


def video_html(vid, title):
    return (
        f'<div class="video"><iframe src="https://www.youtube.com/embed/{vid}" '
        f'title="{title}"></iframe></div>\n'
    )


def paragraph(rng, words=60):
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def generate(root, pages, with_shortcodes):
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(os.path.join(root, "content", "blog"))
    os.makedirs(os.path.join(root, "templates", "shortcodes"))
    with open(os.path.join(root, "config.toml"), "w") as f:
        f.write('base_url = "https://example.org"\ntitle = "Bench"\n')
    templates = {
        "index.html": "<!doctype html><html lang=\"en\"><head><title>{{ config.title }}</title></head>"
        "<body>{{ section.content | safe }}</body></html>\n",
        "section.html": "<!doctype html><html lang=\"en\"><head><title>{{ section.title }}</title></head>"
        "<body><h1>{{ section.title }}</h1><ul>{% for p in section.pages %}<li><a href=\"{{ p.permalink }}\">"
        "{{ p.title }}</a></li>{% endfor %}</ul></body></html>\n",
        "page.html": "<!doctype html><html lang=\"en\"><head><title>{{ page.title }}</title></head>"
        "<body><h1>{{ page.title }}</h1>{{ page.content | safe }}</body></html>\n",
        "shortcodes/youtube.html": SHORTCODE,
    }
    for name, text in templates.items():
        with open(os.path.join(root, "templates", name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "content", "_index.md"), "w") as f:
        f.write('+++\ntitle = "Home"\n+++\nWelcome.\n')
    with open(os.path.join(root, "content", "blog", "_index.md"), "w") as f:
        f.write('+++\ntitle = "Blog"\nsort_by = "date"\n+++\n')
    rng = random.Random(7)
    for i in range(pages):
        vid = f"v{i:06d}"
        title = f"Video {i}"
        call = (
            f'{{{{ youtube(id="{vid}", title="{title}") }}}}\n'
            if with_shortcodes
            else video_html(vid, title)
        )
        body = "\n\n".join(
            [paragraph(rng), "## Watch", call, paragraph(rng), "- one\n- two\n- three", paragraph(rng)]
        )
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        with open(os.path.join(root, "content", "blog", f"post-{i}.md"), "w") as f:
            f.write(
                f'+++\ntitle = "Post {i}"\ndate = 2024-{month:02d}-{day:02d}\n+++\n{body}\n'
            )


def timed(cmd):
    os.sync()
    time.sleep(1)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "bench-shortcodes"))
    ap.add_argument(
        "--sitegen",
        default=os.path.join(
            os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "sitegen"
        ),
    )
    a = ap.parse_args()
    if not os.path.exists(a.sitegen):
        sys.exit(f"{a.sitegen} not found: run `cargo build --release` first")
    sites = {
        "with shortcodes": os.path.join(a.dir, "with"),
        "without": os.path.join(a.dir, "without"),
    }
    for name, root in sites.items():
        generate(root, a.pages, name == "with shortcodes")
        # One warm-up build each (and a check that the site builds).
        timed([a.sitegen, "build", "--full", "--quiet", "--root", root])
    samples = {name: [] for name in sites}
    for _ in range(a.runs):
        for name, root in sites.items():
            samples[name].append(timed([a.sitegen, "build", "--full", "--quiet", "--root", root]))
    medians = {name: statistics.median(s) * 1000 for name, s in samples.items()}
    print(f"{a.pages} pages, {a.runs} runs each, full builds (median wall clock):")
    for name, ms in medians.items():
        runs = ", ".join(f"{s * 1000:.0f}" for s in samples[name])
        print(f"  {name:16} {ms:8.0f} ms   ({runs})")
    ratio = medians["with shortcodes"] / medians["without"]
    print(f"  ratio            {ratio:8.3f}   (goal: at most 1.15)")


if __name__ == "__main__":
    main()
