#!/usr/bin/env node
// Accessibility check of one built site, in Debian's chromium driven by playwright-core.
//
// For each page checked, at a phone viewport (390x844) and a desktop viewport (1280x800), it
// injects axe-core, runs it, prints the violations (id, impact, node count, first target) and
// saves a full-page screenshot. It fails (exit 1) on any violation of impact "serious" or
// "critical", on a page that does not load, and on a stylesheet of the site that fails to load
// (an unstyled page makes the contrast checks meaningless).
//
// Usage (from tests/e2e after `npm ci`; run.sh does all of this):
//   node axe.mjs --site NAME --url http://127.0.0.1:PORT/ --dir BUILT_OUTPUT_DIR [PATH ...]
//
//   --site NAME        names the screenshots folder and the report (default: "site")
//   --url URL          where the built output is served (required)
//   --dir DIR          the built output folder; pages are discovered from it when no PATH is given
//   --base-url URL     the site's configured base_url; requests to it are answered from --url.
//                      Default: read off sitemap.xml in --dir (its shortest <loc>).
//   --taxonomies LIST  comma-separated taxonomy names (default: $E2E_TAXONOMIES or
//                      tags,categories,authors,series)
//   --max-pages N      sample of ordinary pages (default 10); --max-sections N (default 20)
//   --out DIR          screenshots (default: $E2E_OUT or target/e2e-screenshots), in DIR/NAME/
//   --timeout-s N      the whole run's time limit (default: $E2E_TIMEOUT_S or 600)
//   PATH ...           explicit URL paths to check (e.g. / /blog/ /404.html) instead of discovery
//
// Environment: CHROMIUM (default /usr/bin/chromium).
// Exit codes: 0 all checks passed; 1 a check failed; 2 the harness itself failed (bad usage,
// browser did not start, time limit hit).
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 800 },
];
const FAILING_IMPACTS = new Set(['serious', 'critical']);
const GOTO_TIMEOUT_MS = 20_000;
const AXE_TIMEOUT_MS = 60_000;
const SHOT_TIMEOUT_MS = 30_000;

function usage(msg) {
  console.error(`axe.mjs: ${msg}\nusage: node axe.mjs --site NAME --url http://127.0.0.1:PORT/ --dir OUTPUT_DIR [PATH ...]`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      site: { type: 'string', default: 'site' },
      url: { type: 'string' },
      dir: { type: 'string' },
      'base-url': { type: 'string' },
      taxonomies: { type: 'string', default: process.env.E2E_TAXONOMIES || 'tags,categories,authors,series' },
      'max-pages': { type: 'string', default: '10' },
      'max-sections': { type: 'string', default: '20' },
      out: { type: 'string', default: process.env.E2E_OUT || 'target/e2e-screenshots' },
      'timeout-s': { type: 'string', default: process.env.E2E_TIMEOUT_S || '600' },
    },
  });
} catch (e) {
  usage(e.message);
}
const opt = args.values;
if (!opt.url) usage('--url is required');
if (!opt.dir && args.positionals.length === 0) usage('give --dir (to discover pages) or the paths to check');
if (!/^[A-Za-z0-9._-]+$/.test(opt.site)) usage(`--site must be a plain name, got "${opt.site}"`);
const serverUrl = new URL(opt.url.endsWith('/') ? opt.url : opt.url + '/');
const maxPages = Number.parseInt(opt['max-pages'], 10);
const maxSections = Number.parseInt(opt['max-sections'], 10);
const timeoutS = Number.parseInt(opt['timeout-s'], 10);
if (![maxPages, maxSections, timeoutS].every(Number.isFinite)) usage('--max-pages, --max-sections and --timeout-s take numbers');
const taxonomies = new Set(opt.taxonomies.split(',').map(s => s.trim()).filter(Boolean));

// ---------------------------------------------------------------------------------------------
// Discovery: which URL paths of the built output to check.

/** Every .html file under dir, as URL paths ("index.html" -> "/", "a/index.html" -> "/a/"). */
function htmlPaths(dir) {
  const out = [];
  const walk = (d) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile() && ent.name.endsWith('.html')) {
        // A redirect stub (an alias) is not a page of its own: the browser would leave it.
        const head = readFileSync(full, 'utf8').slice(0, 4096);
        if (/<meta[^>]+http-equiv=["']?refresh/i.test(head)) continue;
        let p = '/' + relative(dir, full).split(sep).join('/');
        if (p.endsWith('/index.html')) p = p.slice(0, -'index.html'.length);
        out.push(p);
      }
    }
  };
  walk(dir);
  return out.sort();
}

/** Evenly spread, deterministic sample of n items. */
function sample(items, n) {
  if (items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]);
}

function discover(dir) {
  const all = htmlPaths(dir).filter(p => p !== '/404.html');
  const plan = [];
  const notes = [];
  if (all.includes('/')) plan.push({ path: '/', kind: 'home' });
  else notes.push('no index.html at the root of the output');
  const dirs = all.filter(p => p !== '/' && p.endsWith('/'));
  const hasChildren = (p) => all.some(q => q !== p && q.startsWith(p));
  const taxoLists = dirs.filter(p => p.split('/').length === 3 && taxonomies.has(p.split('/')[1]));
  const underTaxo = (p) => taxoLists.some(t => p !== t && p.startsWith(t));
  for (const t of taxoLists) {
    plan.push({ path: t, kind: 'taxonomy' });
    const terms = all.filter(q => q.startsWith(t) && q !== t && q.slice(t.length).split('/').filter(Boolean).length === 1);
    if (terms.length) plan.push({ path: terms[0], kind: 'term' });
  }
  const sections = dirs.filter(p => !taxoLists.includes(p) && !underTaxo(p) && hasChildren(p));
  if (sections.length > maxSections) notes.push(`${sections.length} section indexes, checking ${maxSections}`);
  for (const s of sample(sections, maxSections)) plan.push({ path: s, kind: 'section' });
  const chosen = new Set(plan.map(x => x.path));
  const pages = all.filter(p => !chosen.has(p) && !underTaxo(p));
  for (const p of sample(pages, maxPages)) plan.push({ path: p, kind: 'page' });
  if (existsSync(join(dir, '404.html'))) plan.push({ path: '/404.html', kind: '404' });
  else notes.push('no 404.html in the output');
  return { plan, notes, total: all.length };
}

/** The site's base_url as written in its sitemap (the shortest <loc>), or null. */
function baseUrlFromSitemap(dir) {
  const f = join(dir, 'sitemap.xml');
  if (!existsSync(f)) return null;
  const locs = [...readFileSync(f, 'utf8').matchAll(/<loc>\s*([^<\s]+)\s*<\/loc>/g)].map(m => m[1]);
  if (!locs.length) return null;
  const shortest = locs.reduce((a, b) => (b.length < a.length ? b : a));
  try {
    const u = new URL(shortest.replace(/&amp;/g, '&'));
    return new URL(u.pathname.endsWith('/') ? u.pathname : u.pathname.replace(/[^/]*$/, ''), u.origin);
  } catch { return null; }
}

// ---------------------------------------------------------------------------------------------

const outDir = resolve(opt.out, opt.site);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

let plan;
let notes = [];
if (args.positionals.length) {
  plan = args.positionals.map(p => ({ path: p.startsWith('/') ? p : '/' + p, kind: 'given' }));
} else {
  if (!existsSync(opt.dir)) usage(`--dir ${opt.dir} does not exist`);
  const d = discover(opt.dir);
  plan = d.plan; notes = d.notes;
  console.log(`axe [${opt.site}]: ${d.total} HTML page(s) in ${opt.dir}; checking ${plan.length}`);
}
if (plan.length === 0) { console.error(`axe [${opt.site}]: nothing to check`); process.exit(1); }

let baseUrl = opt['base-url'] ? new URL(opt['base-url']) : (opt.dir ? baseUrlFromSitemap(opt.dir) : null);
if (baseUrl && !baseUrl.pathname.endsWith('/')) baseUrl = new URL(baseUrl.pathname + '/', baseUrl.origin);
if (baseUrl && baseUrl.origin === serverUrl.origin && baseUrl.pathname === serverUrl.pathname) baseUrl = null;
if (baseUrl) console.log(`axe [${opt.site}]: requests to base_url ${baseUrl.href} are answered from ${serverUrl.href}`);

const slug = (p) => (p === '/' ? 'index' : p.replace(/^\/|\/$/g, '').replace(/\.html$/, '').replace(/[^A-Za-z0-9._-]+/g, '_')) || 'index';

const profile = mkdtempSync(join(tmpdir(), 'sitegen-e2e-profile-'));
let context;
let exiting = false;
async function finish(code) {
  if (exiting) return; exiting = true;
  try { if (context) await Promise.race([context.close(), new Promise(r => setTimeout(r, 10_000))]); } catch {}
  rmSync(profile, { recursive: true, force: true });
  process.exit(code);
}
const overall = setTimeout(() => {
  console.error(`axe [${opt.site}]: FAILED: time limit of ${timeoutS}s reached`);
  finish(2);
}, timeoutS * 1000);
overall.unref();

const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} took longer than ${ms / 1000}s`)), ms).unref()),
]);

const results = [];  // one per page x viewport
let passed = 0, failed = 0;
try {
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: VIEWPORTS[0].width, height: VIEWPORTS[0].height },
      deviceScaleFactor: 1,
      bypassCSP: true,       // axe is injected as an inline script
      reducedMotion: 'reduce',
      timeout: 60_000,
    });
  } catch (e) {
    console.error(`axe [${opt.site}]: FAILED: chromium did not start: ${String(e.message).split('\n')[0]}`);
    await finish(2);
  }

  // Nothing leaves this machine: the site's base_url is answered from the local server, every
  // other host is refused at once (rather than waiting on a closed network).
  const blocked = new Set();
  await context.route('**/*', async (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (u.origin === serverUrl.origin) return route.continue();
    if (baseUrl && u.origin === baseUrl.origin && u.pathname.startsWith(baseUrl.pathname)) {
      const local = new URL(u.pathname.slice(baseUrl.pathname.length) + u.search, serverUrl);
      try {
        const response = await route.fetch({ url: local.href });
        return route.fulfill({ response });
      } catch { return route.abort('failed'); }
    }
    blocked.add(u.origin);
    return route.abort('blockedbyclient');
  });

  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(GOTO_TIMEOUT_MS);
  let assetProblems = [];
  let pageErrors = [];
  const isOurs = (url) => {
    const u = new URL(url);
    return u.origin === serverUrl.origin || (baseUrl && u.origin === baseUrl.origin && u.pathname.startsWith(baseUrl.pathname));
  };
  page.on('response', (r) => {
    const req = r.request();
    if (req.isNavigationRequest() || r.status() < 400 || !isOurs(r.url())) return;
    if (new URL(r.url()).pathname.endsWith('/favicon.ico')) return;
    assetProblems.push({ type: req.resourceType(), url: r.url(), why: `HTTP ${r.status()}` });
  });
  page.on('requestfailed', (req) => {
    if (req.isNavigationRequest() || !isOurs(req.url())) return;
    if (assetProblems.some(a => a.url === req.url())) return;  // already reported with its HTTP status
    assetProblems.push({ type: req.resourceType(), url: req.url(), why: req.failure()?.errorText ?? 'failed' });
  });
  page.on('pageerror', (err) => pageErrors.push(String(err.message).split('\n')[0]));

  for (const item of plan) {
    for (const vp of VIEWPORTS) {
      if (exiting) await new Promise(() => {});  // the time limit hit: finish() exits the process
      const label = `${item.path} @${vp.name} ${vp.width}x${vp.height}`;
      const shot = join(outDir, `${slug(item.path)}.${vp.name}.png`);
      const problems = [];
      assetProblems = []; pageErrors = [];
      let violations = [];
      try {
        await page.setViewportSize({ width: vp.width, height: vp.height });
        const url = new URL(item.path.replace(/^\//, ''), serverUrl).href;
        const resp = await page.goto(url, { waitUntil: 'load', timeout: GOTO_TIMEOUT_MS });
        if (!resp) problems.push('no response');
        else if (!resp.ok()) problems.push(`HTTP ${resp.status()}`);
        await page.evaluate(() => document.fonts && document.fonts.ready).catch(() => {});
        await withTimeout(page.addScriptTag({ content: AXE_SOURCE }), AXE_TIMEOUT_MS, 'injecting axe');
        const r = await withTimeout(
          page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] })),
          AXE_TIMEOUT_MS, 'axe.run');
        violations = r.violations;
        await page.screenshot({ path: shot, fullPage: true, animations: 'disabled', timeout: SHOT_TIMEOUT_MS });
      } catch (e) {
        if (exiting) await new Promise(() => {});
        problems.push(String(e.message).split('\n')[0]);
      }
      const bad = violations.filter(v => FAILING_IMPACTS.has(v.impact));
      const brokenCss = assetProblems.filter(a => a.type === 'stylesheet');
      for (const a of brokenCss) problems.push(`stylesheet did not load: ${a.url} (${a.why})`);
      const ok = problems.length === 0 && bad.length === 0;
      if (ok) passed++; else failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} [${opt.site}] ${item.kind.padEnd(8)} ${label}: ${violations.length} violation(s)${bad.length ? `, ${bad.length} serious/critical` : ''}`);
      for (const p of problems) console.log(`       error: ${p}`);
      for (const v of violations) {
        const first = v.nodes[0]?.target?.map(t => (Array.isArray(t) ? t.join(' >>> ') : t)).join(' | ') ?? '';
        console.log(`       ${(v.impact ?? 'none').padEnd(8)} ${v.id}: ${v.nodes.length} node(s), first: ${first}  — ${v.help}`);
      }
      for (const a of assetProblems.filter(a => a.type !== 'stylesheet')) console.log(`       warning: ${a.type} did not load: ${a.url} (${a.why})`);
      for (const m of pageErrors) console.log(`       warning: script error: ${m}`);
      results.push({
        site: opt.site, path: item.path, kind: item.kind, viewport: vp, ok, problems,
        screenshot: existsSync(shot) ? shot : null,
        assets: assetProblems, pageErrors,
        violations: violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, helpUrl: v.helpUrl, first: v.nodes[0]?.target })),
      });
    }
  }
  for (const n of notes) console.log(`axe [${opt.site}]: note: ${n}`);
  if (blocked.size) console.log(`axe [${opt.site}]: note: refused requests to other hosts: ${[...blocked].sort().join(', ')}`);
  writeFileSync(join(outDir, 'report.json'), JSON.stringify({ site: opt.site, url: serverUrl.href, passed, failed, results }, null, 2));
  console.log(`axe [${opt.site}]: screenshots and report.json in ${outDir}`);
  console.log(`axe [${opt.site}]: ${passed} passed, ${failed} failed`);
} catch (e) {
  console.error(`axe [${opt.site}]: FAILED: ${e.stack || e}`);
  await finish(2);
}
clearTimeout(overall);
await finish(failed ? 1 : 0);
