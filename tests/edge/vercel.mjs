// Serves a sitegen output folder's .vercel/output/ the way Vercel would (Build Output API v3):
// config.json's routes in order (headers with `continue`, redirects, `missing` conditions, `dest`
// to functions), `handle: filesystem` (static/), `handle: error` (the 404 route), and each edge
// function run in Vercel's edge-runtime (its own global scope, loaded as ES modules).
//
// Usage: node --experimental-vm-modules vercel.mjs OUTPUT_DIR PORT    (runs until SIGTERM)
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, resolve } from "node:path";
import vm from "node:vm";
import { EdgeRuntime } from "edge-runtime";

const [out, port] = process.argv.slice(2);
if (!out || !port) {
  console.error("usage: node --experimental-vm-modules vercel.mjs OUTPUT_DIR PORT");
  process.exit(2);
}
const root = join(out, ".vercel", "output");
const config = JSON.parse(readFileSync(join(root, "config.json"), "utf8"));
if (config.version !== 3) throw new Error(`config.json version ${config.version}, expected 3`);

const TYPES = {
  ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8", ".json": "application/json",
  ".xml": "application/xml", ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml",
  ".png": "image/png",
};

// --- functions: functions/<path>.func with .vc-config.json { runtime: "edge", entrypoint } ---

const functions = new Map();

async function loadFunction(name) {
  if (functions.has(name)) return functions.get(name);
  const dir = join(root, "functions", name.replace(/^\//, "") + ".func");
  const vc = JSON.parse(readFileSync(join(dir, ".vc-config.json"), "utf8"));
  if (vc.runtime !== "edge") throw new Error(`${name}: runtime ${vc.runtime}, expected edge`);
  const runtime = new EdgeRuntime();
  const cache = new Map();
  const load = async (file) => {
    if (cache.has(file)) return cache.get(file);
    if (!resolve(file).startsWith(resolve(dir) + "/")) throw new Error(`${file} is outside ${dir}`);
    const module = new vm.SourceTextModule(readFileSync(file, "utf8"), {
      context: runtime.context,
      identifier: file,
    });
    cache.set(file, module);
    await module.link((specifier, referrer) => load(resolve(dirname(referrer.identifier), specifier)));
    return module;
  };
  const entry = await load(join(dir, vc.entrypoint));
  await entry.evaluate();
  const fn = { runtime, handler: entry.namespace.default };
  functions.set(name, fn);
  return fn;
}

async function callFunction(name, req, body) {
  const { runtime, handler } = await loadFunction(name);
  const { Request } = runtime.context;
  const url = `http://${req.headers.host}${req.url}`;
  const request = new Request(url, { method: req.method, headers: req.headers, body });
  const response = await handler(request);
  const headers = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
}

// --- the static files ---

function staticFile(pathname) {
  const base = join(root, "static");
  let path = decodeURIComponent(pathname);
  const candidates = path.endsWith("/") ? [path + "index.html"] : [path, path + "/index.html"];
  for (const c of candidates) {
    const file = resolve(base, "." + c);
    if (!file.startsWith(resolve(base))) continue;
    try {
      if (statSync(file).isFile()) return file;
    } catch {}
  }
  return null;
}

function serveFile(file, status, headers) {
  return {
    status,
    headers: merge({ "content-type": TYPES[extname(file)] ?? "application/octet-stream" }, headers),
    body: readFileSync(file),
  };
}

// --- routing ---

/** Headers with lowercase names (later ones win, as on Vercel). */
function merge(...all) {
  const out = {};
  for (const headers of all) for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function matches(route, pathname, req) {
  if (!new RegExp(route.src).test(pathname)) return false;
  for (const cond of route.missing ?? []) {
    if (cond.type === "header" && req.headers[cond.key.toLowerCase()] !== undefined) return false;
  }
  for (const cond of route.has ?? []) {
    if (cond.type === "header" && req.headers[cond.key.toLowerCase()] === undefined) return false;
  }
  return true;
}

async function handle(req, body) {
  const pathname = new URL(req.url, "http://x").pathname;
  const routes = config.routes ?? [];
  const at = (name) => routes.findIndex((r) => r.handle === name);
  const fsAt = at("filesystem");
  const errorAt = at("error");
  let headers = {};
  for (const route of routes.slice(0, fsAt < 0 ? routes.length : fsAt)) {
    if (route.handle || !matches(route, pathname, req)) continue;
    headers = merge(headers, route.headers);
    if (route.dest) {
      const response = await callFunction(route.dest, req, body);
      return { ...response, headers: merge(headers, response.headers) };
    }
    if (route.status) return { status: route.status, headers, body: Buffer.alloc(0) };
    if (!route.continue) break;
  }
  const file = staticFile(pathname);
  if (file) return serveFile(file, 200, headers);
  for (const route of errorAt < 0 ? [] : routes.slice(errorAt + 1)) {
    if (route.handle || !matches(route, pathname, req)) continue;
    const hs = merge(headers, route.headers);
    const target = route.dest && staticFile(route.dest);
    if (target) return serveFile(target, route.status ?? 404, hs);
    return { status: route.status ?? 404, headers: hs, body: Buffer.from("Not found") };
  }
  return { status: 404, headers, body: Buffer.from("Not found") };
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
  try {
    const response = await handle(req, body);
    res.writeHead(response.status, response.headers);
    res.end(req.method === "HEAD" ? undefined : response.body);
  } catch (e) {
    console.error(e);
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(e?.stack ?? e));
  }
});
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`vercel: serving ${root} on http://127.0.0.1:${port}/`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
