#!/usr/bin/env python3
"""Builds Zola sites with Zola and with sitegen and compares what each wrote.

Usage:
    benches/zola_compat.py SITE_DIR [SITE_DIR ...] [--json PATH] [--diffs N]
    benches/zola_compat.py --list benches/zola-sites.txt --sites-dir DIR [--only NAME ...]
    benches/zola_compat.py PATCHED_COPY --zola-sites-dir DIR_OF_ORIGINALS   (Zola builds the original)

Environment: ZOLA (default `zola`) and SITEGEN (default `sitegen`) name the two binaries
(`--zola` and `--sitegen` override them).

The sites are not fetched or built from source here: they are folders that are already on the
machine (benches/zola-sites.txt says which public repository and commit each one comes from).
Each site is copied to a temporary folder first (without `.git`, `public/`, `.sitegen/`), so
neither generator writes into the original, then built there with

    zola --root COPY build                 (then COPY/<output_dir> is moved to TMP/zola)
    sitegen build --root COPY --output TMP/sitegen --quiet

(Zola is not given `-o`: Zola 0.22.1's `get_url(..., cachebust=true)` looks for compiled Sass
in the configured output_dir, so `-o` elsewhere fails on sites such as tabi and abridge.)

and the two outputs are compared:

  * the set of HTML pages, by path in the output folder;
  * per page present in both: the <title>, the list of <h1> texts, the set of internal links
    (<a href> pointing at the site's own base_url, or relative; base_url is taken away, relative
    links are resolved against the page, `index.html` and fragments are kept apart), and the
    visible text (<body> without <script>, <style> and <template>, whitespace collapsed);
  * redirects: pages with a meta refresh, as path -> target;
  * sitemap.xml (and the sitemaps of a sitemap index): the set of <loc> URLs;
  * feeds (every .xml file whose root is <feed> or <rss>): the set of entry/item links, per feed.

It also counts shortcode calls left as text in sitegen's pages (`{{ name(` or `{% name(` in the
visible text, beyond what Zola's page has at the same place, e.g. in code samples).

It prints a Markdown table to stdout, and with --json the details: the first error of a failed
build, missing and extra pages, and for the first N differing pages (--diffs, default 10) which
parts differ and a snippet of each difference.

Python 3.11 standard library only.
"""
import argparse
import difflib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import xml.etree.ElementTree as ET

SHORTCODE_RE = re.compile(r"\{[{%]-?\s*[A-Za-z_][A-Za-z0-9_]*\s*\(")
META_REFRESH_URL_RE = re.compile(r"url\s*=\s*['\"]?([^'\"]+)", re.I)
SKIP_TEXT_TAGS = {"script", "style", "template", "noscript"}
# Tags whose start and end separate words in the visible text (the others are inline).
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "option", "select", "button", "label",
    "img", "input", "textarea", "body", "head", "title", "html", "svg", "video", "audio",
    "iframe", "canvas", "picture", "source", "menu", "caption",
}
VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}


def collapse(text):
    return " ".join(text.split())


# ----------------------------------------------------------------------------- HTML reading


class PageParser(html.parser.HTMLParser):
    """Collects a page's title, h1 texts, hrefs, visible body text and meta refresh target."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = None
        self._title_parts = None
        self.h1s = []
        self._h1_parts = None
        self._h1_depth = 0
        self.hrefs = []
        self.refresh = None
        self._skip = []  # stack of open tags whose text is not visible
        self._in_head = False  # text outside <head> counts, with or without a <body> tag
        self._text = []
        self._svg_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = META_REFRESH_URL_RE.search(a.get("content") or "")
            if m:
                self.refresh = m.group(1).strip()
        if tag == "title" and self.title is None and self._svg_depth == 0:
            self._title_parts = []
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        if tag == "svg":
            self._svg_depth += 1
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"])
        if tag == "h1":
            if self._h1_depth == 0:
                self._h1_parts = []
            self._h1_depth += 1
        if tag in SKIP_TEXT_TAGS and tag not in VOID_TAGS:
            self._skip.append(tag)
        if tag in BLOCK_TAGS:
            self._text.append(" ")
            if self._h1_parts is not None:
                self._h1_parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        # <br/>, <img/>, ...: a start tag without content.
        skip_before = list(self._skip)
        self.handle_starttag(tag, attrs)
        self._skip = skip_before
        if tag == "h1":
            self.handle_endtag("h1")
        if tag == "svg":
            self._svg_depth = max(0, self._svg_depth - 1)

    def handle_endtag(self, tag):
        if tag == "title" and self._title_parts is not None:
            self.title = collapse("".join(self._title_parts))
            self._title_parts = None
        if tag == "svg":
            self._svg_depth = max(0, self._svg_depth - 1)
        if tag == "head":
            self._in_head = False
        if tag == "h1" and self._h1_depth > 0:
            self._h1_depth -= 1
            if self._h1_depth == 0 and self._h1_parts is not None:
                self.h1s.append(collapse("".join(self._h1_parts)))
                self._h1_parts = None
        if self._skip and tag in SKIP_TEXT_TAGS:
            # close up to the matching open tag (tolerates unclosed inner tags)
            while self._skip:
                if self._skip.pop() == tag:
                    break
        if tag in BLOCK_TAGS:
            self._text.append(" ")
            if self._h1_parts is not None:
                self._h1_parts.append(" ")

    def handle_data(self, data):
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._skip:
            return
        if self._h1_parts is not None:
            self._h1_parts.append(data)
        if not self._in_head:
            self._text.append(data)

    @property
    def text(self):
        return collapse("".join(self._text))


class Site:
    """What one generator wrote: pages (path -> facts), redirects, sitemap URLs, feeds."""

    def __init__(self):
        self.pages = {}
        self.redirects = {}
        self.sitemap = None
        self.feeds = {}


class Normaliser:
    """Turns hrefs and URLs into site paths: base_url taken away, relative ones resolved."""

    def __init__(self, base_url):
        base_url = (base_url or "/").strip()
        p = urllib.parse.urlsplit(base_url)
        self.host = p.netloc.lower()
        self.prefix = p.path.rstrip("/")  # "" or "/sub"

    def page_url(self, rel_path):
        """The site path of an output file: `blog/a/index.html` -> `/blog/a/`."""
        url = "/" + rel_path.replace(os.sep, "/")
        if url.endswith("/index.html"):
            url = url[: -len("index.html")]
        return url

    def internal(self, href, page_path="/"):
        """The site path an href points at, or None when it points elsewhere."""
        href = href.strip()
        if not href or href.startswith("#"):
            return None if not href else page_path + href
        low = href.lower()
        if low.startswith(("mailto:", "tel:", "javascript:", "data:", "sms:", "ftp:")):
            return None
        parts = urllib.parse.urlsplit(href)
        if parts.scheme or href.startswith("//"):
            if parts.scheme not in ("http", "https", ""):
                return None
            if parts.netloc.lower() != self.host:
                return None
            path = parts.path or "/"
        else:
            path = urllib.parse.urljoin(self.prefix + page_path, parts.path) if parts.path else self.prefix + page_path
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = path[len(self.prefix):] or "/"
        path = urllib.parse.unquote(path)
        if path.endswith("/index.html"):
            path = path[: -len("index.html")]
        out = path
        if parts.query:
            out += "?" + parts.query
        if parts.fragment:
            out += "#" + urllib.parse.unquote(parts.fragment)
        return out


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def xml_root(path):
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def read_feed(root, norm):
    links = set()
    if local(root.tag) == "feed":
        for entry in root:
            if local(entry.tag) != "entry":
                continue
            chosen = None
            for link in entry:
                if local(link.tag) == "link" and link.get("rel", "alternate") == "alternate":
                    chosen = link.get("href")
                    break
            if chosen is None:
                for child in entry:
                    if local(child.tag) == "id":
                        chosen = (child.text or "").strip()
            if chosen:
                links.add(norm.internal(chosen) or chosen)
    else:
        for item in root.iter():
            if local(item.tag) != "item":
                continue
            for child in item:
                if local(child.tag) == "link" and (child.text or "").strip():
                    t = child.text.strip()
                    links.add(norm.internal(t) or t)
    return links


def read_output(out_dir, norm):
    site = Site()
    sitemap_files = []
    for dirpath, dirnames, filenames in os.walk(out_dir):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, out_dir).replace(os.sep, "/")
            if name.endswith((".html", ".htm")):
                p = PageParser()
                try:
                    p.feed(read_text(full))
                    p.close()
                except Exception as e:  # a page html.parser cannot read: note it, go on
                    site.pages[rel] = {"error": str(e)}
                    continue
                url = norm.page_url(rel)
                if p.refresh is not None:
                    site.redirects[rel] = norm.internal(p.refresh, url) or p.refresh
                    continue
                links = set()
                for h in p.hrefs:
                    t = norm.internal(h, url)
                    if t is not None:
                        links.add(t)
                site.pages[rel] = {
                    "title": p.title,
                    "h1": p.h1s,
                    "links": links,
                    "text": p.text,
                }
            elif name.endswith(".xml"):
                root = xml_root(full)
                if root is None:
                    continue
                kind = local(root.tag)
                if kind in ("feed", "rss"):
                    site.feeds[rel] = read_feed(root, norm)
                elif kind in ("urlset", "sitemapindex") and rel.startswith("sitemap"):
                    sitemap_files.append(root)
    if sitemap_files:
        urls = set()
        for root in sitemap_files:
            if local(root.tag) != "urlset":
                continue  # the index's entries are the other sitemap files, read as well
            for url in root:
                for child in url:
                    if local(child.tag) == "loc" and child.text:
                        t = child.text.strip()
                        urls.add(norm.internal(t) or t)
        site.sitemap = urls
    return site


# ----------------------------------------------------------------------------- building


def first_error(stdout, stderr, lines=8):
    """The first error of a failed build: sitegen's first `error:` block (message, location,
    source line), or Zola's chain of `ERROR` lines; else the output's last lines."""
    all_lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in (stderr + "\n" + stdout).splitlines()]
    for i, ln in enumerate(all_lines):
        if re.match(r"\s*error\b", ln, re.I):
            block = [ln]
            for nxt in all_lines[i + 1:]:
                if len(block) >= lines or not nxt.strip():
                    break
                if nxt.startswith(("error:", "warning")):  # the next problem
                    break
                block.append(nxt)
            return "\n".join(block)
    tail = [ln for ln in all_lines if ln.strip()]
    return "\n".join(tail[-lines:])


def run(cmd, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        code = "timeout"
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    except FileNotFoundError as e:
        code, out, err = "not found", "", str(e)
    return code, out, err, time.monotonic() - start


def copy_site(src, dst):
    def ignore(folder, names):
        skip = {".git", ".sitegen", ".sitegen-serve"}
        if os.path.abspath(folder) == os.path.abspath(src):
            skip |= {"public"}
        return [n for n in names if n in skip]

    shutil.copytree(src, dst, symlinks=True, ignore=ignore)


def config_of(site_dir):
    """The site's config as Zola reads it (zola.toml, else config.toml); {} when unreadable."""
    for name in ("zola.toml", "config.toml"):
        path = os.path.join(site_dir, name)
        if os.path.exists(path):
            try:
                with open(path, "rb") as f:
                    return tomllib.load(f)
            except (tomllib.TOMLDecodeError, OSError):
                return {}
    return {}


# ----------------------------------------------------------------------------- comparing


def text_snippet(a, b, context=12):
    """The first place where two texts differ, as `…zola… | …sitegen…` word windows."""
    wa, wb = a.split(), b.split()
    sm = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        za = " ".join(wa[max(0, i1 - 4): min(len(wa), i2 + 4, i1 + context)])
        sb = " ".join(wb[max(0, j1 - 4): min(len(wb), j2 + 4, j1 + context)])
        return {"zola": za, "sitegen": sb}
    return None


def text_similarity(a, b, cap=4000):
    wa, wb = a.split()[:cap], b.split()[:cap]
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def compare_sets(a, b, sample=5):
    a, b = a or set(), b or set()
    return {
        "zola": len(a),
        "sitegen": len(b),
        "common": len(a & b),
        "missing": sorted(a - b)[:sample],
        "extra": sorted(b - a)[:sample],
        "equal": a == b,
    }


def compare(z, s, n_diffs):
    res = {}
    zp = {k: v for k, v in z.pages.items() if "error" not in v}
    sp = {k: v for k, v in s.pages.items() if "error" not in v}
    res["zola_pages"] = len(zp)
    res["sitegen_pages"] = len(sp)
    common = sorted(set(zp) & set(sp))
    res["present"] = len(common)
    res["missing_pages"] = sorted(set(zp) - set(sp))
    res["extra_pages"] = sorted(set(sp) - set(zp))
    counts = {"title": 0, "h1": 0, "links": 0, "text": 0, "all": 0}
    sims = []
    diffs = []
    leftover = 0
    leftover_pages = []
    for rel in common:
        a, b = zp[rel], sp[rel]
        eq = {
            "title": a["title"] == b["title"],
            "h1": a["h1"] == b["h1"],
            "links": a["links"] == b["links"],
            "text": a["text"] == b["text"],
        }
        for k, v in eq.items():
            counts[k] += v
        if all(eq.values()):
            counts["all"] += 1
        else:
            sims.append(1.0 if eq["text"] else text_similarity(a["text"], b["text"]))
            if len(diffs) < n_diffs:
                d = {"page": rel, "differs": [k for k, v in eq.items() if not v]}
                if not eq["title"]:
                    d["title"] = {"zola": a["title"], "sitegen": b["title"]}
                if not eq["h1"]:
                    d["h1"] = {"zola": a["h1"][:3], "sitegen": b["h1"][:3]}
                if not eq["links"]:
                    d["links"] = {"missing": sorted(a["links"] - b["links"])[:4],
                                  "extra": sorted(b["links"] - a["links"])[:4]}
                if not eq["text"]:
                    d["text"] = text_snippet(a["text"], b["text"])
                diffs.append(d)
        n = len(SHORTCODE_RE.findall(b["text"])) - len(SHORTCODE_RE.findall(a["text"]))
        if n > 0:
            leftover += n
            leftover_pages.append(rel)
    for rel in sorted(set(sp) - set(zp)):  # pages only sitegen wrote count as well
        n = len(SHORTCODE_RE.findall(sp[rel]["text"]))
        if n > 0:
            leftover += n
            leftover_pages.append(rel)
    total = max(1, len(zp))
    res["equal"] = counts
    res["pct_title"] = round(100.0 * counts["title"] / total, 1)
    res["pct_all"] = round(100.0 * counts["all"] / total, 1)
    res["mean_text_similarity_of_differing"] = round(sum(sims) / len(sims), 3) if sims else None
    res["shortcodes_left"] = leftover
    res["shortcode_pages"] = leftover_pages[:20]
    res["diffs"] = diffs
    # redirects
    zr, sr = z.redirects, s.redirects
    same = sum(1 for k, v in zr.items() if sr.get(k) == v)
    res["redirects"] = {
        "zola": len(zr), "sitegen": len(sr), "same_target": same,
        "missing": sorted(set(zr) - set(sr))[:5],
        "wrong_target": [{"page": k, "zola": v, "sitegen": sr[k]}
                         for k, v in sorted(zr.items()) if k in sr and sr[k] != v][:5],
    }
    # sitemap
    res["sitemap"] = None if z.sitemap is None else compare_sets(z.sitemap, s.sitemap)
    # feeds
    feeds = {}
    for rel in sorted(set(z.feeds) | set(s.feeds)):
        if rel not in s.feeds:
            feeds[rel] = {"status": "missing", "zola": len(z.feeds[rel])}
        elif rel not in z.feeds:
            feeds[rel] = {"status": "extra", "sitegen": len(s.feeds[rel])}
        else:
            c = compare_sets(z.feeds[rel], s.feeds[rel], sample=3)
            c["status"] = "same" if c["equal"] else "differs"
            feeds[rel] = c
    res["feeds"] = feeds
    return res


# ----------------------------------------------------------------------------- driving


def check_site(site_dir, zola, sitegen, n_diffs, timeout, keep, zola_site_dir=None):
    name = os.path.basename(os.path.abspath(site_dir))
    info = {"site": name, "path": os.path.abspath(site_dir)}
    if zola_site_dir:
        info["zola_path"] = os.path.abspath(zola_site_dir)
    tmp = tempfile.mkdtemp(prefix=f"zola-compat-{name}-")
    try:
        copy = os.path.join(tmp, "site")
        copy_site(site_dir, copy)
        zcopy = copy
        if zola_site_dir:
            zcopy = os.path.join(tmp, "zola-site")
            copy_site(zola_site_dir, zcopy)
        config = config_of(zcopy)
        norm = Normaliser(config.get("base_url", "/"))
        zout, sout = os.path.join(tmp, "zola"), os.path.join(tmp, "sitegen")
        code, out, err, secs = run([zola, "--root", zcopy, "build"], timeout)
        info["zola"] = {"exit": code, "seconds": round(secs, 2)}
        if code != 0:
            info["zola"]["error"] = first_error(out, err)
            return info
        shutil.move(os.path.join(zcopy, config.get("output_dir", "public")), zout)
        code, out, err, secs = run(
            [sitegen, "build", "--root", copy, "--output", sout, "--quiet"], timeout)
        info["sitegen"] = {"exit": code, "seconds": round(secs, 2)}
        if code != 0:
            info["sitegen"]["error"] = first_error(out, err)
        z = read_output(zout, norm)
        s = read_output(sout, norm) if os.path.isdir(sout) else Site()
        info["compare"] = compare(z, s, n_diffs)
        return info
    finally:
        if keep:
            info["kept"] = tmp
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def read_list(path):
    """Site names from a list file: the first column of each line that is not blank or `#`."""
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line.split()[0])
    return names


def error_cell(error):
    """A failed build's first error line, with its location when it has one."""
    lines = (error or "").splitlines()
    if not lines:
        return ""
    loc = next((ln.strip()[4:] for ln in lines[1:] if ln.strip().startswith("--> ")), None)
    return cell(lines[0], 80) + (f" ({cell(loc, 50)})" if loc else "")


def cell(text, width=60):
    text = collapse(text or "").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(results):
    rows = [
        "| site | sitegen builds | first error | Zola pages | present | title = | all 4 = "
        "| text sim. | shortcodes left | redirects = | sitemap = | feeds = |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        z = r.get("zola", {})
        if z.get("exit") != 0:
            rows.append(f"| {r['site']} | Zola failed | {error_cell(z.get('error'))} "
                        "| | | | | | | | | |")
            continue
        s = r["sitegen"]
        c = r["compare"]
        ok = "yes" if s["exit"] == 0 else f"no ({s['exit']})"
        n = max(1, c["zola_pages"])
        red = c["redirects"]
        sm = c["sitemap"]
        feeds = c["feeds"]
        zfeeds = [f for f in feeds.values() if f["status"] != "extra"]
        same_feeds = sum(1 for f in feeds.values() if f["status"] == "same")
        sim = c["mean_text_similarity_of_differing"]
        rows.append(
            f"| {r['site']} | {ok} | {error_cell(s.get('error'))} | {c['zola_pages']} "
            f"| {100.0 * c['present'] / n:.0f}% | {c['pct_title']:.0f}% | {c['pct_all']:.0f}% "
            f"| {'' if sim is None else f'{sim:.2f}'} | {c['shortcodes_left']} "
            f"| {red['same_target']}/{red['zola']} "
            f"| {'' if sm is None else str(sm['common']) + '/' + str(sm['zola'])} "
            f"| {same_feeds}/{len(zfeeds)} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sites", nargs="*", help="site folders (each with a Zola config)")
    ap.add_argument("--list", help="a list file (benches/zola-sites.txt): first column is the "
                    "site's folder name under --sites-dir")
    ap.add_argument("--sites-dir", help="where the folders named in --list are")
    ap.add_argument("--only", action="append", default=[], help="with --list: only this site")
    ap.add_argument("--zola-sites-dir", help="build Zola from DIR/<site's folder name> instead "
                    "of the site itself (e.g. the original when SITE_DIR is a patched copy)")
    ap.add_argument("--zola", default=os.environ.get("ZOLA", "zola"))
    ap.add_argument("--sitegen", default=os.environ.get("SITEGEN", "sitegen"))
    ap.add_argument("--json", help="write the details to this file")
    ap.add_argument("--diffs", type=int, default=10, help="differing pages described per site")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per build")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = ap.parse_args()

    sites = list(args.sites)
    if args.list:
        if not args.sites_dir:
            ap.error("--list needs --sites-dir")
        names = read_list(args.list)
        if args.only:
            names = [n for n in names if n in args.only]
        sites += [os.path.join(args.sites_dir, n) for n in names]
    if not sites:
        ap.error("no site given")

    results = []
    for site in sites:
        if not os.path.isdir(site):
            print(f"skipping {site}: not a folder", file=sys.stderr)
            continue
        print(f"checking {site} ...", file=sys.stderr, flush=True)
        zsite = None
        if args.zola_sites_dir:
            zsite = os.path.join(args.zola_sites_dir, os.path.basename(os.path.abspath(site)))
        results.append(check_site(site, args.zola, args.sitegen, args.diffs, args.timeout,
                                  args.keep, zsite))
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"zola": args.zola, "sitegen": args.sitegen, "sites": results}, f,
                      indent=1, ensure_ascii=False, default=sorted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
