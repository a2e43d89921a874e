#!/usr/bin/env python3
"""Image processing: cold and warm builds of sitegen and Zola on a site of photos.

Usage:
    benches/images.py [--photos 500] [--runs 3] [--dir DIR] [--sitegen BIN] [--zola BIN]

Makes (once, in DIR, default target/bench-images/) PHOTOS deterministic 1600x1200 JPEGs with
`cargo run --release --example gen_photos` (benches/photos/gen_photos.rs), and a Zola site of one page
bundle per photo whose template resizes it to three widths (`resize_image`, op="fit_width",
320, 800 and 1280: 1,500 files) and shows them in a srcset. The site is copied twice, one copy
per program, since Zola writes its processed images into the site's static/ folder.

Times whole processes (wall clock, medians of RUNS):
  * cold: no output and no cache (sitegen: public/ and .sitegen/ removed; Zola: public/ and
    static/processed_images/ removed): every image is made;
  * warm: the same build again, nothing changed;
  * cache only: public/ removed, the cache kept (sitegen's .sitegen/, Zola's static/): every
    page is rendered again, no image is made.
ZOLA (or --zola) names Zola's binary, by default /work/zola-work/target/release/zola; without
it only sitegen is timed. Targets: sitegen's cold build no slower than Zola's, its warm build
under 5% of its cold build.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = (320, 800, 1280)

CONFIG = """base_url = "https://example.org"
title = "Photos"
"""

INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ config.title }}</title></head>
<body><h1>{{ config.title }}</h1>
{% set photos = get_section(path="photos/_index.md") %}
<ul>{% for page in photos.pages %}<li><a href="{{ page.permalink }}">{{ page.title }}</a></li>{% endfor %}</ul>
</body></html>
"""

SECTION = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ section.title }}</title></head>
<body><h1>{{ section.title }}</h1>
<ul>{% for page in section.pages %}<li><a href="{{ page.permalink }}">{{ page.title }}</a></li>{% endfor %}</ul>
</body></html>
"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ page.title }}</title></head>
<body><h1>{{ page.title }}</h1>
{% set path = page.colocated_path ~ "photo.jpg" %}
{% set small = resize_image(path=path, width=WIDTH_0, op="fit_width") %}
{% set medium = resize_image(path=path, width=WIDTH_1, op="fit_width") %}
{% set large = resize_image(path=path, width=WIDTH_2, op="fit_width") %}
<img src="{{ medium.url }}" width="{{ medium.width }}" height="{{ medium.height }}" alt="{{ page.title }}"
  srcset="{{ small.url }} {{ small.width }}w, {{ medium.url }} {{ medium.width }}w, {{ large.url }} {{ large.width }}w">
{{ page.content | safe }}
</body></html>
"""


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed(cmd, cwd):
    # Let the disk settle after the previous run's writes and deletions.
    os.sync()
    time.sleep(1)
    start = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - start


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_site(site, photos_dir, count):
    if os.path.exists(site):
        shutil.rmtree(site)
    write(os.path.join(site, "config.toml"), CONFIG)
    write(os.path.join(site, "content", "_index.md"), "+++\ntitle = \"Photos\"\n+++\n")
    write(os.path.join(site, "content", "photos", "_index.md"),
          "+++\ntitle = \"All photos\"\nsort_by = \"weight\"\n+++\n")
    page = PAGE
    for i, w in enumerate(WIDTHS):
        page = page.replace(f"WIDTH_{i}", str(w))
    write(os.path.join(site, "templates", "index.html"), INDEX)
    write(os.path.join(site, "templates", "section.html"), SECTION)
    write(os.path.join(site, "templates", "page.html"), page)
    for i in range(count):
        bundle = os.path.join(site, "content", "photos", f"p{i:04}")
        write(os.path.join(bundle, "index.md"),
              f"+++\ntitle = \"Photo {i}\"\nweight = {i}\n+++\nPhoto number {i}.\n")
        os.link(os.path.join(photos_dir, str(i), "photo.jpg"), os.path.join(bundle, "photo.jpg"))


def remove(*paths):
    for p in paths:
        if os.path.isdir(p):
            shutil.rmtree(p)


def median_s(samples):
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "bench-images"))
    ap.add_argument("--sitegen", default=os.path.join(ROOT, "target", "release", "sitegen"))
    ap.add_argument("--zola", default=os.environ.get("ZOLA", "/work/zola-work/target/release/zola"))
    a = ap.parse_args()
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not os.path.exists(a.sitegen):
        sys.exit(f"{a.sitegen} not found: run `cargo build --release` first (or pass --sitegen)")
    photos = os.path.join(a.dir, f"photos-{a.photos}")
    if not os.path.exists(os.path.join(photos, str(a.photos - 1), "photo.jpg")):
        print(f"generating {a.photos} photos in {photos} …", file=sys.stderr)
        run(["cargo", "run", "--quiet", "--release", "--example", "gen_photos", "--", photos, str(a.photos)], cwd=ROOT)
    zola = a.zola if a.zola and os.path.exists(a.zola) else None
    if zola is None:
        print(f"no Zola at {a.zola}: timing sitegen only", file=sys.stderr)
    sites = {"sitegen": os.path.join(a.dir, "site-sitegen")}
    if zola:
        sites["zola"] = os.path.join(a.dir, "site-zola")
    for site in sites.values():
        make_site(site, photos, a.photos)

    def build(name):
        if name == "sitegen":
            return [a.sitegen, "build", "--quiet"]
        return [zola, "build"]

    def caches(name, site):
        public = os.path.join(site, "public")
        cache = os.path.join(site, ".sitegen") if name == "sitegen" else os.path.join(site, "static", "processed_images")
        return public, cache

    results = {}
    for name, site in sites.items():
        cold, warm, cache_only = [], [], []
        for _ in range(a.runs):
            public, cache = caches(name, site)
            remove(public, cache)
            cold.append(timed(build(name), site))
            warm.append(timed(build(name), site))
            remove(public)
            cache_only.append(timed(build(name), site))
        made = len(os.listdir(os.path.join(site, "public", "processed_images")))
        results[name] = (median_s(cold), median_s(warm), median_s(cache_only), made)

    print(f"{a.photos} photos of 1600x1200, each resized to {len(WIDTHS)} widths; medians of {a.runs} runs (s)")
    print(f"{'':10} {'cold':>8} {'warm':>8} {'cache only':>11} {'warm/cold':>10} {'files':>6}")
    for name, (cold, warm, cache_only, made) in results.items():
        print(f"{name:10} {cold:8.2f} {warm:8.3f} {cache_only:11.2f} {warm / cold:9.1%} {made:6}")
    if "zola" in results:
        ratio = results["sitegen"][0] / results["zola"][0]
        print(f"sitegen's cold build takes {ratio:.2f}x Zola's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
