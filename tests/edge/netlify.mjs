// Serves a sitegen output folder the way Netlify would, in Deno (the runtime of Netlify's edge
// functions): the edge functions of netlify/edge-functions/ on the paths of their `config`
// (URLPattern), chained through context.next(); then _redirects (a rule whose source is a file
// applies only when forced with `!`, as on Netlify), the static files with _headers applied
// (headers of every matching rule, values of one name joined), and 404.html.
//
// Usage: deno run --allow-net --allow-read --allow-env netlify.mjs OUTPUT_DIR PORT
const [out, port] = Deno.args;
if (!out || !port) {
  console.error("usage: deno run -A netlify.mjs OUTPUT_DIR PORT");
  Deno.exit(2);
}
const root = await Deno.realPath(out);
const read = (name) => Deno.readTextFile(`${root}/${name}`).catch(() => "");

globalThis.Netlify = { env: { get: (name) => Deno.env.get(name) } };

const TYPES = {
  html: "text/html; charset=UTF-8", css: "text/css; charset=UTF-8",
  js: "application/javascript; charset=UTF-8", json: "application/json", xml: "application/xml",
  txt: "text/plain; charset=UTF-8", svg: "image/svg+xml", png: "image/png",
};

/** A `*` pattern (anywhere in the path) as a regular expression. */
function glob(pattern) {
  const parts = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp("^" + parts.join(".*") + "$");
}

// _headers: "path" lines, then indented "Name: value" lines.
const headerRules = [];
for (const line of (await read("_headers")).split("\n")) {
  if (!line.trim() || line.trim().startsWith("#")) continue;
  if (!/^\s/.test(line)) headerRules.push({ re: glob(line.trim()), headers: [] });
  else {
    const at = line.indexOf(":");
    headerRules.at(-1)?.headers.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  }
}

// _redirects: "from to [status][!]".
const redirectRules = [];
for (const line of (await read("_redirects")).split("\n")) {
  if (!line.trim() || line.trim().startsWith("#")) continue;
  const [from, to, code = "301"] = line.trim().split(/\s+/);
  const force = code.endsWith("!");
  const status = Number(code.replace("!", ""));
  if (!Number.isInteger(status)) throw new Error(`_redirects: bad status in: ${line}`);
  // Netlify ignores a trailing slash when it matches a rule.
  const bare = from.length > 1 ? from.replace(/\/$/, "") : from;
  const re = bare.endsWith("*") ? glob(bare) : new RegExp(glob(bare).source.replace(/\$$/, "/?$"));
  redirectRules.push({ re, to, status, force });
}

// Edge functions: default export + config.path (a string or a list of URLPatterns).
const functions = [];
for await (const entry of Deno.readDir(`${root}/netlify/edge-functions`)) {
  if (!entry.isFile || !/\.(m?js|ts)$/.test(entry.name)) continue;
  const module = await import(`file://${root}/netlify/edge-functions/${entry.name}`);
  const paths = [module.config?.path ?? []].flat();
  if (paths.length === 0) throw new Error(`${entry.name}: no config.path`);
  functions.push({
    name: entry.name,
    handler: module.default,
    patterns: paths.map((pathname) => new URLPattern({ pathname })),
  });
}
functions.sort((a, b) => a.name.localeCompare(b.name));

async function file(path) {
  try {
    const info = await Deno.stat(`${root}${path}`);
    return info.isFile ? `${root}${path}` : null;
  } catch {
    return null;
  }
}

/** The static file a path resolves to ("/a/" → a/index.html), or null. */
async function resolve(pathname) {
  const path = decodeURIComponent(pathname);
  if (path.split("/").some((s) => s === "..")) return null;
  return path.endsWith("/") ? file(path + "index.html") : file(path);
}

async function serve(path, status, pathname) {
  const body = await Deno.readFile(path);
  const ext = path.slice(path.lastIndexOf(".") + 1);
  const headers = new Headers({ "Content-Type": TYPES[ext] ?? "application/octet-stream" });
  for (const rule of headerRules) {
    if (!rule.re.test(pathname)) continue;
    for (const [name, value] of rule.headers) {
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
  }
  return new Response(body, { status, headers });
}

/** Netlify's origin: redirects, static files with their headers, 404.html. */
async function origin(request) {
  const url = new URL(request.url);
  const found = await resolve(url.pathname);
  for (const rule of redirectRules) {
    if (!rule.re.test(url.pathname) || (found && !rule.force)) continue;
    if (rule.status >= 300 && rule.status < 400) {
      return new Response(null, { status: rule.status, headers: { Location: rule.to } });
    }
    const target = await resolve(rule.to);
    if (target) return serve(target, rule.status, url.pathname);
  }
  if (found) return serve(found, 200, url.pathname);
  if (!url.pathname.endsWith("/") && (await file(decodeURIComponent(url.pathname) + "/index.html"))) {
    return new Response(null, { status: 301, headers: { Location: url.pathname + "/" } });
  }
  const notFound = await file("/404.html");
  return notFound ? serve(notFound, 404, url.pathname) : new Response("Not found", { status: 404 });
}

function run(request, chain) {
  if (chain.length === 0) return origin(request);
  const [fn, ...rest] = chain;
  const context = { next: () => run(request, rest), site: {}, geo: {} };
  return fn.handler(request, context);
}

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {
  console.log(`netlify: serving ${root} on http://127.0.0.1:${port}/ (${functions.length} edge functions)`);
} }, (request) => {
  const chain = functions.filter((f) => f.patterns.some((p) => p.test(request.url)));
  return run(request, chain);
});
