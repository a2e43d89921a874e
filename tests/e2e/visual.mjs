#!/usr/bin/env node
// Visual regression of built sites: screenshots of a fixed set of pages (home, a section, a page,
// a taxonomy term, the 404 page) at a phone (390x844) and a desktop (1280x800) viewport, in
// Debian's chromium driven by playwright-core, compared with the PNG baselines in
// tests/visual/baselines/SITE/PAGE.VIEWPORT.png.
//
// A screenshot passes when fewer than 0.5% of its pixels differ from the baseline's (pixelmatch,
// per-pixel colour threshold 0.1, anti-aliasing ignored) and it has the baseline's size. Every
// screenshot lands in OUT/visual/SITE/, and for a failure the baseline and a diff image beside it.
//
// Determinism: pages are answered from the built folder itself (no server, nothing from the
// network), in UTC, en-US, light colour scheme, reduced motion, scrollbars hidden, animations and
// transitions disabled and the caret hidden; the site uses no web fonts, so the system's fonts
// (Debian's fonts-dejavu-core and fonts-liberation) draw the text.
//
// Usage: node visual.mjs [--update] --site NAME=BUILT_DIR [--site NAME=BUILT_DIR ...]
//   NAME is one of the sites of PAGES below (init, blog, directory).
//   --update (or UPDATE_BASELINES=1) writes the screenshots as the new baselines.
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_OUT (default target/e2e-screenshots).
// Exit codes: 0 all match; 1 a screenshot differs or has no baseline; 2 the harness failed.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASELINES = resolve(HERE, '../visual/baselines');

/** The pages of each site, by what they are. The 404 is a path that does not exist. */
const PAGES = {
  init: { home: '/', section: '/blog/', page: '/blog/first-post/', term: '/tags/news/', 404: '/no-such-page/' },
  blog: { home: '/', section: '/posts/', page: '/posts/everyday-loaf/', term: '/tags/sourdough/', 404: '/no-such-page/' },
  directory: {
    home: '/', section: '/listings/', page: '/listings/lyon/amber-crust-bakery-l0333/',
    term: '/categories/bakeries/', 404: '/no-such-page/',
  },
};
const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 800 },
];
const MAX_DIFF_RATIO = 0.005;  // of the pixels
const PIXEL_THRESHOLD = 0.1;   // pixelmatch's colour distance, 0..1
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.ico': 'image/x-icon', '.xml': 'application/xml', '.json': 'application/json', '.txt': 'text/plain',
  '.woff2': 'font/woff2', '.woff': 'font/woff',
};
const FREEZE = `*, *::before, *::after { animation: none !important; transition: none !important;
  caret-color: transparent !important; scroll-behavior: auto !important; }`;

const { values: opt } = parseArgs({
  options: {
    site: { type: 'string', multiple: true, default: [] },
    update: { type: 'boolean', default: process.env.UPDATE_BASELINES === '1' },
    out: { type: 'string', default: process.env.E2E_OUT || 'target/e2e-screenshots' },
  },
});
const sites = opt.site.map((s) => {
  const [name, dir] = s.split('=');
  if (!PAGES[name] || !dir) { console.error(`visual: --site takes NAME=DIR with NAME one of ${Object.keys(PAGES).join(', ')}; got "${s}"`); process.exit(2); }
  if (!existsSync(join(dir, 'index.html'))) { console.error(`visual: ${dir} has no index.html: build the site first`); process.exit(2); }
  return { name, dir: resolve(dir) };
});
if (!sites.length) { console.error('usage: node visual.mjs [--update] --site NAME=BUILT_DIR ...'); process.exit(2); }
const outRoot = resolve(opt.out, 'visual');
rmSync(outRoot, { recursive: true, force: true });
mkdirSync(outRoot, { recursive: true });

/** The site's base_url as written in its sitemap (the shortest <loc>). */
function baseUrlOf(dir) {
  const locs = [...readFileSync(join(dir, 'sitemap.xml'), 'utf8').matchAll(/<loc>\s*([^<\s]+)\s*<\/loc>/g)].map(m => m[1]);
  const shortest = new URL(locs.reduce((a, b) => (b.length < a.length ? b : a)).replace(/&amp;/g, '&'));
  return new URL(shortest.pathname.replace(/[^/]*$/, ''), shortest.origin);
}

/** The file answering `pathname` in `dir`, as a static server would; null when none. */
function fileFor(dir, pathname) {
  let relative = decodeURIComponent(pathname).replace(/^\/+/, '');
  if (relative === '' || relative.endsWith('/')) relative += 'index.html';
  const file = resolve(dir, relative);
  if (file !== dir && !file.startsWith(dir + sep)) return null;
  try {
    if (statSync(file).isFile()) return file;
    if (statSync(join(file, 'index.html')).isFile()) return join(file, 'index.html');
  } catch {}
  return null;
}

const profile = mkdtempSync(join(tmpdir(), 'sitegen-visual-profile-'));
let context;
let passed = 0, failed = 0;
const results = [];
async function finish(code) {
  try { if (context) await Promise.race([context.close(), new Promise(r => setTimeout(r, 10_000))]); } catch {}
  rmSync(profile, { recursive: true, force: true });
  writeFileSync(join(outRoot, 'report.json'), JSON.stringify({ passed, failed, results }, null, 2));
  process.exit(code);
}
const overall = setTimeout(() => { console.error('visual: FAILED: time limit of 600s reached'); finish(2); }, 600_000);
overall.unref();

/** How many pixels differ, and the diff image. */
function compare(baselineFile, shot) {
  const base = PNG.sync.read(readFileSync(baselineFile));
  const now = PNG.sync.read(shot);
  if (base.width !== now.width || base.height !== now.height) {
    return { problem: `size ${now.width}x${now.height}, baseline ${base.width}x${base.height}` };
  }
  const diff = new PNG({ width: now.width, height: now.height });
  const pixels = pixelmatch(base.data, now.data, diff.data, now.width, now.height, { threshold: PIXEL_THRESHOLD });
  return { pixels, ratio: pixels / (now.width * now.height), diff: PNG.sync.write(diff) };
}

try {
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'],
      viewport: { width: VIEWPORTS[0].width, height: VIEWPORTS[0].height },
      deviceScaleFactor: 1,
      reducedMotion: 'reduce',
      colorScheme: 'light',
      locale: 'en-US',
      timezoneId: 'UTC',
      timeout: 60_000,
    });
  } catch (e) {
    console.error(`visual: FAILED: chromium did not start: ${String(e.message).split('\n')[0]}`);
    await finish(2);
  }
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(20_000);

  for (const site of sites) {
    const base = baseUrlOf(site.dir);
    // Every request is answered from the built folder; anything off the site is refused.
    await context.unrouteAll();
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:') return route.continue();
      if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return route.abort('blockedbyclient');
      const file = fileFor(site.dir, '/' + url.pathname.slice(base.pathname.length));
      if (file) return route.fulfill({ status: 200, body: readFileSync(file), contentType: TYPES[extname(file)] ?? 'application/octet-stream' });
      const notFound = fileFor(site.dir, '/404.html');
      return route.fulfill({ status: 404, body: notFound ? readFileSync(notFound) : 'not found', contentType: TYPES['.html'] });
    });
    mkdirSync(join(outRoot, site.name), { recursive: true });
    for (const [kind, path] of Object.entries(PAGES[site.name])) {
      for (const vp of VIEWPORTS) {
        const name = `${kind}.${vp.name}`;
        const label = `[${site.name}] ${kind.padEnd(7)} ${path} @${vp.name} ${vp.width}x${vp.height}`;
        const baseline = join(BASELINES, site.name, `${name}.png`);
        const shotFile = join(outRoot, site.name, `${name}.png`);
        let problem = null;
        let detail = '';
        try {
          await page.setViewportSize({ width: vp.width, height: vp.height });
          const response = await page.goto(new URL(path.replace(/^\//, ''), base).href, { waitUntil: 'load' });
          const want = kind === '404' ? 404 : 200;
          if (response?.status() !== want) throw new Error(`HTTP ${response?.status()}, expected ${want}`);
          await page.addStyleTag({ content: FREEZE });
          await page.evaluate(async () => {
            await document.fonts.ready;
            await Promise.all([...document.images].map(i => (i.complete ? null : new Promise(r => { i.onload = i.onerror = r; }))));
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
          });
          const shot = await page.screenshot({ animations: 'disabled', caret: 'hide', scale: 'css' });
          writeFileSync(shotFile, shot);
          if (opt.update) {
            mkdirSync(dirname(baseline), { recursive: true });
            writeFileSync(baseline, shot);
            detail = 'baseline written';
          } else if (!existsSync(baseline)) {
            problem = `no baseline ${baseline}: run UPDATE_BASELINES=1 bash tests/e2e/run.sh`;
          } else {
            const c = compare(baseline, shot);
            if (c.problem) problem = c.problem;
            else {
              detail = `${c.pixels} px differ (${(c.ratio * 100).toFixed(3)}%)`;
              if (c.ratio >= MAX_DIFF_RATIO) {
                problem = `${detail}, the limit is ${MAX_DIFF_RATIO * 100}%`;
                writeFileSync(shotFile.replace(/\.png$/, '.diff.png'), c.diff);
              }
            }
            if (problem) copyFileSync(baseline, shotFile.replace(/\.png$/, '.baseline.png'));
          }
        } catch (e) {
          problem = String(e.message).split('\n')[0];
        }
        if (problem) failed++; else passed++;
        results.push({ site: site.name, kind, path, viewport: vp.name, ok: !problem, problem, detail });
        console.log(`${problem ? 'FAIL' : 'ok  '} [visual] ${label}: ${problem ?? detail}`);
      }
    }
  }
} catch (e) {
  console.error(`visual: FAILED: ${e.stack || e}`);
  await finish(2);
}
console.log(`visual: screenshots in ${outRoot}${failed ? ' (with .baseline.png and .diff.png beside each failure)' : ''}`);
console.log(`visual: ${passed} passed, ${failed} failed`);
clearTimeout(overall);
await finish(failed ? 1 : 0);
