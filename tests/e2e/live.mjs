#!/usr/bin/env node
// Live reload of `sitegen serve` in a real browser (Debian's chromium driven by playwright-core).
//
// It copies a site to a temporary folder, starts `sitegen serve --port 0` on it, opens a page,
// then edits the sources on disk and waits, each time for a bounded time, for the page to follow
// by itself (the script never reloads or navigates after the first visit):
//   1. an edited markdown file: its new text appears in the page;
//   2. an edited stylesheet: the new style applies without reloading the page;
//   3. a broken template: the error overlay appears, naming the template and line, while the
//      last good page stays; fixed again: the overlay goes away;
//   4. the server stopped (SIGTERM) and started again on the same port: the page reconnects,
//      and a later edit shows.
//
// Usage: node live.mjs --bin SITEGEN --site SITE_DIR [--page /blog/second/]
//          [--markdown content/blog/second.md] [--template templates/page.html] [--out DIR]
//   The defaults fit tests/fixtures/basic, the site run.sh uses.
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_OUT (where report.json goes).
// Exit codes: 0 all checks passed; 1 a check failed; 2 the harness failed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string' },
    site: { type: 'string' },
    page: { type: 'string', default: '/blog/second/' },
    markdown: { type: 'string', default: 'content/blog/second.md' },
    template: { type: 'string', default: 'templates/page.html' },
    stylesheet: { type: 'string', default: 'static/css/site.css' },
    out: { type: 'string', default: process.env.E2E_OUT || 'target/e2e-screenshots' },
  },
});
if (!opt.bin || !opt.site) {
  console.error('usage: node live.mjs --bin SITEGEN --site SITE_DIR [--page PATH] [--markdown FILE] [--template FILE]');
  process.exit(2);
}

const START_MS = 30_000;   // the server's first build
const FOLLOW_MS = 15_000;  // an edit reaching the page
const outDir = resolve(opt.out, 'live');
mkdirSync(outDir, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'sitegen-live-'));
const site = join(work, 'site');
cpSync(opt.site, site, { recursive: true });
for (const junk of ['.sitegen', '.sitegen-serve', 'public']) rmSync(join(site, junk), { recursive: true, force: true });
const profile = mkdtempSync(join(tmpdir(), 'sitegen-live-profile-'));

let server;
let context;
let serverLog = '';
const results = [];
let passed = 0, failed = 0;

async function finish(code) {
  try { if (context) await Promise.race([context.close(), new Promise(r => setTimeout(r, 10_000))]); } catch {}
  if (server && server.exitCode === null) server.kill('SIGKILL');  // by its pid, the one we started
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  writeFileSync(join(outDir, 'report.json'), JSON.stringify({ passed, failed, results }, null, 2));
  process.exit(code);
}
const overall = setTimeout(() => { console.error('live: FAILED: time limit of 180s reached'); finish(2); }, 180_000);
overall.unref();

const sleep = (ms) => new Promise(r => setTimeout(r, ms));

/** Polls `probe` (async, may throw while the page reloads) until it returns a truthy value. */
async function until(what, probe, ms = FOLLOW_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms / 1000}s${last ? ` (last error: ${String(last.message).split('\n')[0]})` : ''}`);
}

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    passed++;
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   [live] ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    results.push({ name, ok: false, error: String(e.message) });
    console.log(`FAIL [live] ${name}: ${String(e.message).split('\n')[0]}`);
  }
}

/** Starts `sitegen serve` on `port`; resolves to its URL once it prints it. */
async function startServer(port) {
  let out = '';
  if (serverLog) serverLog += '--- restarted ---\n';
  server = spawn(opt.bin, ['serve', '--root', site, '--port', port], { stdio: ['ignore', 'pipe', 'pipe'] });
  const mine = server;
  mine.stdout.on('data', (d) => { out += d; serverLog += d; });
  mine.stderr.on('data', (d) => { serverLog += d; });
  return until('sitegen serve printing its address', async () => {
    if (mine.exitCode !== null) throw new Error(`sitegen serve exited with ${mine.exitCode}:\n${serverLog}`);
    return out.match(/^serving (http:\/\/127\.0\.0\.1:\d+\/)$/m)?.[1];
  }, START_MS);
}

/** Replaces a file the way many editors save: a temporary file renamed over it. */
function save(relative, text) {
  const file = join(site, relative);
  writeFileSync(file + '.tmp', text);
  renameSync(file + '.tmp', file);
}

try {
  // The server, on a port of its choosing (0): its `serving http://…` line says which.
  const url = await startServer('0');
  console.log(`live: sitegen serve at ${url}`);

  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      reducedMotion: 'reduce',
      timeout: 60_000,
    });
  } catch (e) {
    console.error(`live: FAILED: chromium did not start: ${String(e.message).split('\n')[0]}`);
    await finish(2);
  }
  // Keeps a handle on the page's EventSource, to know when it is connected.
  await context.addInitScript(() => {
    const Original = window.EventSource;
    window.EventSource = class extends Original {
      constructor(...args) { super(...args); window.__sitegenEvents = this; }
    };
  });
  const page = context.pages()[0] ?? await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e.message).split('\n')[0]));
  await page.goto(new URL(opt.page, url).href, { waitUntil: 'load', timeout: 20_000 });
  // Wait for the event stream to be open, so the first edit is not sent before it listens.
  await until('the live-reload connection', () => page.evaluate(() => window.__sitegenEvents?.readyState === 1));
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });

  await check('an edited markdown file shows in the page without a manual reload', async () => {
    const text = `Edited live ${Date.now()}`;
    const original = readFileSync(join(site, opt.markdown), 'utf8');
    save(opt.markdown, `${original.trimEnd()}\n\n${text}\n`);
    await until(`"${text}" in the page`, async () => (await page.textContent('body')).includes(text));
    if (navigations < 1) throw new Error('the text appeared without a reload?');
  });

  await check('an edited stylesheet applies without reloading the page', async () => {
    await page.evaluate(() => { window.__sitegenLiveMarker = 1; });
    const before = navigations;
    const file = join(site, opt.stylesheet);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nbody { outline: 3px solid rgb(1, 2, 3); }\n`);
    await until('the new style applied', () => page.evaluate(() =>
      getComputedStyle(document.body).outlineColor === 'rgb(1, 2, 3)'));
    const marker = await page.evaluate(() => window.__sitegenLiveMarker);
    if (marker !== 1 || navigations !== before) throw new Error('the page was reloaded for a stylesheet change');
  });

  const template = readFileSync(join(site, opt.template), 'utf8');
  await check('a broken template shows the error overlay over the last good page', async () => {
    const lines = template.split('\n');
    const at = lines.findIndex(l => l.includes('{{ page.title }}'));
    if (at < 0) throw new Error(`${opt.template} has no {{ page.title }} to break`);
    lines[at] = lines[at].replace('{{ page.title }}', '{{ page.title | no_such_filter }}');
    save(opt.template, lines.join('\n'));
    const overlay = await until('the error overlay', async () => {
      const text = await page.locator('#sitegen-overlay').textContent({ timeout: 200 }).catch(() => null);
      return text && text.includes('no_such_filter') ? text : null;
    });
    if (!overlay.includes(`${opt.template}:${at + 1}`)) throw new Error(`the overlay does not name ${opt.template}:${at + 1}: ${overlay}`);
    if (!(await page.textContent('body')).includes('Edited live')) throw new Error('the last good page is gone');
    await page.screenshot({ path: join(outDir, 'error-overlay.png'), animations: 'disabled', caret: 'hide' });
  });

  await check('fixing the template removes the overlay', async () => {
    save(opt.template, template);
    await until('the overlay gone', async () => (await page.locator('#sitegen-overlay').count()) === 0);
  });

  await check('the page reconnects to a restarted server', async () => {
    const port = new URL(url).port;
    const stopped = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([stopped, sleep(10_000).then(() => { throw new Error('sitegen serve did not stop on SIGTERM within 10s'); })]);
    await startServer(port);
    await until('the page reconnected', () => page.evaluate(() => window.__sitegenEvents?.readyState === 1));
    const text = `After restart ${Date.now()}`;
    const original = readFileSync(join(site, opt.markdown), 'utf8');
    save(opt.markdown, `${original.trimEnd()}\n\n${text}\n`);
    await until(`"${text}" in the page`, async () => (await page.textContent('body')).includes(text));
  });

  if (pageErrors.length) {
    failed++;
    results.push({ name: 'no script errors', ok: false, error: pageErrors.join('; ') });
    console.log(`FAIL [live] script errors in the page: ${pageErrors.join('; ')}`);
  }
} catch (e) {
  console.error(`live: FAILED: ${e.stack || e}\n--- sitegen serve ---\n${serverLog}`);
  failed++;
  await finish(2);
}
if (failed) console.log(`--- sitegen serve ---\n${serverLog}`);
console.log(`live: ${passed} passed, ${failed} failed`);
clearTimeout(overall);
await finish(failed ? 1 : 0);
