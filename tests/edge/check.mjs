// The assertions run against each runtime serving the built site (see run.sh): static files and
// their headers, an alias's 301, search results, a fresh region rewritten at request time, a
// custom handler, the 404 page. Prints one line per check and "N passed, M failed".
//
// Usage: node check.mjs --target NAME --url http://127.0.0.1:PORT/ --out OUTPUT_DIR
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: { target: { type: "string" }, url: { type: "string" }, out: { type: "string" } },
});
const base = new URL(args.url);
const out = args.out;
let passed = 0;
let failed = 0;

function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok - [${args.target}] ${name}`);
  } else {
    failed++;
    console.log(`not ok - [${args.target}] ${name}${detail ? `: ${detail}` : ""}`);
  }
}

async function get(path, init = {}) {
  const response = await fetch(new URL(path, base), {
    redirect: "manual",
    signal: AbortSignal.timeout(20_000),
    ...init,
  });
  return { response, body: await response.text() };
}

/** Files of the output that are the site's (not a platform's), relative, with "/". */
function siteFiles(dir, prefix = "") {
  const skip = new Set(["_worker.js", "netlify", ".vercel", "_deno", "main.ts"]);
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!prefix && skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...siteFiles(path, prefix + entry.name + "/"));
    else files.push(prefix + entry.name);
  }
  return files;
}

const headerFile = readFileSync(join(out, "_headers"), "utf8");
const csp = /Content-Security-Policy: (.*)/.exec(headerFile)?.[1];

async function run(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, String(e?.stack ?? e));
  }
}

await run("home page: 200, HTML, revalidated, security headers", async () => {
  const { response, body } = await get("/");
  const h = response.headers;
  check("home page: 200", response.status === 200, `status ${response.status}`);
  check("home page: text/html", (h.get("content-type") ?? "").startsWith("text/html"), h.get("content-type"));
  check("home page: a sitegen page", body.includes("<html") && body.includes("Crumb"), body.slice(0, 200));
  check("home page: Cache-Control no-cache", h.get("cache-control") === "no-cache", h.get("cache-control"));
  check("home page: the CSP of _headers", Boolean(csp) && h.get("content-security-policy") === csp, h.get("content-security-policy"));
  check("home page: nosniff", h.get("x-content-type-options") === "nosniff");
  check("home page: X-Frame-Options", h.get("x-frame-options") === "SAMEORIGIN");
  check("home page: Referrer-Policy", Boolean(h.get("referrer-policy")));
  check("home page: Permissions-Policy", Boolean(h.get("permissions-policy")));
});

await run("a post page", async () => {
  const { response, body } = await get("/posts/steam/");
  check("post page: 200", response.status === 200, `status ${response.status}`);
  check("post page: its content", body.includes("Steam"), body.slice(0, 200));
  check("post page: no-cache", response.headers.get("cache-control") === "no-cache", response.headers.get("cache-control"));
});

await run("fingerprinted asset: immutable", async () => {
  const fingerprinted = siteFiles(out).filter((f) => /\.[0-9a-f]{8,}\.[^/]*$/.test(f.split("/").pop()) && !f.endsWith(".html"));
  check("fingerprinted assets in the output", fingerprinted.length > 0, "none found");
  for (const file of fingerprinted.slice(0, 3)) {
    const { response, body } = await get("/" + file);
    check(`/${file}: 200`, response.status === 200, `status ${response.status}`);
    check(`/${file}: its bytes`, body === readFileSync(join(out, file), "utf8"));
    check(`/${file}: immutable`, response.headers.get("cache-control") === "public, max-age=31536000, immutable", response.headers.get("cache-control"));
  }
});

await run("a plain static file", async () => {
  const { response, body } = await get("/favicon.svg");
  check("favicon.svg: 200", response.status === 200, `status ${response.status}`);
  check("favicon.svg: image/svg+xml", (response.headers.get("content-type") ?? "").startsWith("image/svg+xml"), response.headers.get("content-type"));
  check("favicon.svg: its bytes", body === readFileSync(join(out, "favicon.svg"), "utf8"));
  check("favicon.svg: not immutable", !(response.headers.get("cache-control") ?? "").includes("immutable"), response.headers.get("cache-control"));
});

await run("alias: 301", async () => {
  const { response } = await get("/old/steam/");
  check("alias /old/steam/: 301", response.status === 301, `status ${response.status}`);
  const location = response.headers.get("location") ?? "";
  check("alias /old/steam/: Location is the post", new URL(location, base).pathname === "/posts/steam/", location);
});

await run("search", async () => {
  const { response, body } = await get("/api/search?q=steam");
  check("search: 200", response.status === 200, `status ${response.status}: ${body.slice(0, 300)}`);
  check("search: JSON", (response.headers.get("content-type") ?? "").startsWith("application/json"), response.headers.get("content-type"));
  const data = JSON.parse(body);
  check("search: results", Array.isArray(data.results) && data.results.length > 0, body);
  const first = data.results[0] ?? {};
  check("search: the steam post first", first.url === "/posts/steam/", JSON.stringify(first));
  check("search: title, url, snippet, score", ["title", "url", "snippet", "score"].every((k) => k in first), JSON.stringify(first));
  const { body: rye } = await get("/api/search?q=RYE");
  const ryeData = JSON.parse(rye);
  check("search: case-insensitive, ranked by title", ryeData.results[0]?.url === "/posts/dense-rye/", rye.slice(0, 300));
  const { body: none } = await get("/api/search?q=zzzxqj");
  check("search: no match, no results", JSON.parse(none).results.length === 0, none);
  check("search: security headers too", Boolean(response.headers.get("content-security-policy")));
});

await run("fresh", async () => {
  const { response, body } = await get("/live/");
  check("fresh page: 200", response.status === 200, `status ${response.status}`);
  check("fresh page: HTML", (response.headers.get("content-type") ?? "").startsWith("text/html"), response.headers.get("content-type"));
  check("fresh page: price from the source", /<span data-sitegen-fresh="price">4\.20 € (?:&amp;|&#38;) up<\/span>/.test(body), body.match(/<span data-sitegen-fresh="price">.*?<\/span>/)?.[0] ?? body.slice(0, 500));
  check("fresh page: nested key", body.includes('data-sitegen-fresh="stock.count">7</strong>'), body.match(/<strong data-sitegen-fresh.*?<\/strong>/)?.[0]);
  check("fresh page: {path} reached the source", body.includes('data-sitegen-fresh="path">/live/</em>'), body.match(/<em data-sitegen-fresh.*?<\/em>/)?.[0]);
  check("fresh page: the build-time text is gone", !body.includes("at build time"));
  check("fresh page: unknown key left as built", body.includes('data-sitegen-fresh="missing">kept</b>'), body.match(/<b data-sitegen-fresh.*?<\/b>/)?.[0]);
  check("fresh page: the rest of the page intact", body.includes("</html>") && body.includes("Live prices"));
  check("fresh page: no-cache", response.headers.get("cache-control") === "no-cache", response.headers.get("cache-control"));
  check("fresh page: CSP", Boolean(response.headers.get("content-security-policy")));
});

await run("custom handler", async () => {
  const { response, body } = await get("/hello/world?x=1");
  check("custom handler: 200", response.status === 200, `status ${response.status}: ${body.slice(0, 300)}`);
  let data = {};
  try {
    data = JSON.parse(body);
  } catch {}
  check("custom handler: its answer", data.hello === "/hello/world" && data.via === "edge/hello.js", body.slice(0, 300));
});

await run("404", async () => {
  const { response, body } = await get("/no/such/page/");
  check("404: status", response.status === 404, `status ${response.status}`);
  check("404: the site's 404 page", body.includes("<html") && body.toLowerCase().includes("not found"), body.slice(0, 300));
});

// Netlify serves whatever is in the folder; the others keep the platforms' files private.
await run("platform files are not served", async () => {
  if (args.target === "netlify") return;
  const { response } = await get("/_worker.js/site.js");
  check("/_worker.js/site.js: not served", response.status === 404 || response.status >= 300, `status ${response.status}`);
});

console.log(`[${args.target}] ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
