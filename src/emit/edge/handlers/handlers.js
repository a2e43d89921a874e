// sitegen's edge handlers: the logic every target's entry point imports, written once.
//
// An entry point (Cloudflare's _worker.js, a Netlify or Vercel edge function, Deno's main.ts)
// calls `dispatch(request, site, platform)` where
//   site      is the object sitegen wrote into site.js: routes, redirects, headers, settings;
//   platform  tells how to reach the static files on that platform:
//     env                the platform's environment (an object, or something with get(name));
//     fallback(request)  the static response for the request (the file the build wrote);
//     asset(path)        a static file of the site by path (the search index);
//     custom             the site's own handler modules, by the name the config gives them.
// Built-in handlers: `search` (a JSON API over /search-index.json) and `fresh` (the static page,
// its data-sitegen-fresh regions filled from a JSON document fetched at request time).

const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";
/** A content hash in a file name (`site.0123abcd.css`): such a file never changes. */
const FINGERPRINT = /\.[0-9a-f]{8,}\./;

/** Answers `request`: an alias redirect, an edge route, or the static file with sitegen's headers. */
export async function dispatch(request, site, platform) {
  const url = new URL(request.url);
  const to = redirectOf(site, url.pathname);
  if (to !== undefined) {
    return secure(new Response(null, { status: 301, headers: { Location: to + url.search } }), site);
  }
  const route = matchRoute(site.routes ?? [], url.pathname);
  let response;
  if (!route) {
    response = withCache(await platform.fallback(request), url.pathname);
  } else if (route.handler === "search") {
    response = await search(request, site, platform);
  } else if (route.handler === "fresh") {
    response = await fresh(request, site, platform);
  } else {
    const handler = platform.custom?.[route.handler];
    if (typeof handler !== "function") {
      response = new Response(`no handler ${route.handler}`, { status: 500 });
    } else {
      const context = {
        env: platform.env,
        site,
        next: () => platform.fallback(request),
        asset: (path) => platform.asset(path),
      };
      response = await handler(request, context);
    }
  }
  return secure(response, site);
}

/** The target of an alias, with or without its trailing slash. */
function redirectOf(site, pathname) {
  const map = site.redirects ?? {};
  return map[pathname] ?? (pathname.endsWith("/") ? undefined : map[pathname + "/"]);
}

/** The first route whose path is `pathname`, or a prefix of it when the route ends with `*`. */
export function matchRoute(routes, pathname) {
  return routes.find((r) =>
    r.path.endsWith("*") ? pathname.startsWith(r.path.slice(0, -1)) : r.path === pathname
  );
}

/** A copy of `response` whose headers can be changed (those of fetch() cannot). */
function mutable(response) {
  return new Response(response.body, response);
}

/** Adds the security headers (CSP, nosniff, …) sitegen sends with every response. */
function secure(response, site) {
  const out = mutable(response);
  for (const [name, value] of Object.entries(site.headers ?? {})) out.headers.set(name, value);
  return out;
}

/** Sets the caching of a static file: immutable when fingerprinted, revalidated when HTML. */
function withCache(response, pathname) {
  const name = pathname.slice(pathname.lastIndexOf("/") + 1);
  const type = response.headers.get("content-type") ?? "";
  let cache = null;
  if (response.ok && FINGERPRINT.test(name)) cache = IMMUTABLE;
  else if (type.startsWith("text/html") || pathname.endsWith("/") || name.endsWith(".html")) {
    cache = REVALIDATE;
  }
  if (!cache) return response;
  const out = mutable(response);
  out.headers.set("Cache-Control", cache);
  return out;
}

/** fetch() for static files: the body comes decoded, so the encoding headers must go too. */
export async function fetchAsset(input, init) {
  const response = await fetch(input, init);
  if (!response.headers.has("content-encoding")) return response;
  const headers = new Headers(response.headers);
  headers.delete("content-encoding");
  headers.delete("content-length");
  return new Response(response.body, { status: response.status, headers });
}

/** Reads a variable from the platform's environment. */
function env(platform, name) {
  try {
    const e = platform.env;
    const value = typeof e?.get === "function" ? e.get(name) : e?.[name];
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined; // Deno without --allow-env
  }
}

// ---------------------------------------------------------------------------------------------
// search: GET /api/search?q=sourdough+rye&limit=10 → { query, total, results: [{ title, url,
// snippet, score }] }, ranked by where the words match: title, then tags, then description and
// generated snippet. Every word must match (as a word or the start of one).

let searchIndex; // a promise, kept while the isolate lives

/** Lowercase, without accents, words separated by single spaces (with one in front). */
function normalize(text) {
  const words = String(text ?? "")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return " " + words.join(" ") + " ";
}

async function loadIndex(site, platform) {
  searchIndex ??= (async () => {
    const response = await platform.asset(site.search?.index ?? "/search-index.json");
    if (!response.ok) throw new Error(`search index: HTTP ${response.status}`);
    const { fields, docs } = await response.json();
    const at = (name) => fields.indexOf(name);
    const [t, u, g, d, s] = ["title", "url", "tags", "description", "snippet"].map(at);
    return docs.map((doc) => {
      const get = (i) => (i >= 0 && typeof doc[i] === "string" ? doc[i] : "");
      const entry = { title: get(t), url: get(u), description: get(d), snippet: get(s) };
      entry.words = [
        [normalize(entry.title), 8],
        [normalize(get(g)), 4],
        [normalize(entry.description), 2],
        [normalize(entry.snippet), 1],
      ];
      return entry;
    });
  })();
  try {
    return await searchIndex;
  } catch (e) {
    searchIndex = undefined; // try again on the next request
    throw e;
  }
}

/** The score of `entry` for `terms`: 0 unless every term matches somewhere. */
function score(entry, terms) {
  let total = 0;
  for (const term of terms) {
    let best = 0;
    for (const [words, weight] of entry.words) {
      if (words.includes(" " + term + " ")) best = Math.max(best, weight * 2);
      else if (words.includes(" " + term)) best = Math.max(best, weight);
    }
    if (best === 0) return 0;
    total += best;
  }
  return total;
}

function json(value, status, cache) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": cache },
  });
}

async function search(request, site, platform) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json({ error: "use GET" }, 405, "no-store");
  }
  const params = new URL(request.url).searchParams;
  const query = (params.get("q") ?? "").slice(0, 200);
  const limit = Math.min(Math.max(Number.parseInt(params.get("limit") ?? "10", 10) || 10, 1), 50);
  const terms = [...new Set(normalize(query).trim().split(" ").filter(Boolean))].slice(0, 10);
  let index;
  try {
    index = await loadIndex(site, platform);
  } catch (e) {
    return json({ error: String(e.message ?? e) }, 503, "no-store");
  }
  const hits = [];
  if (terms.length > 0) {
    for (const entry of index) {
      const s = score(entry, terms);
      if (s > 0) hits.push([s, entry]);
    }
  }
  hits.sort((a, b) => b[0] - a[0] || a[1].title.localeCompare(b[1].title));
  const results = hits.slice(0, limit).map(([s, e]) => ({
    title: e.title,
    url: e.url,
    snippet: (e.snippet || e.description).slice(0, 240),
    score: s,
  }));
  return json({ query, total: hits.length, results }, 200, "public, max-age=300");
}

// ---------------------------------------------------------------------------------------------
// fresh: the static page, with the content of every element marked data-sitegen-fresh="KEY"
// replaced by the value of KEY (a dotted path) in the JSON document at site.fresh.source (or
// $SITEGEN_FRESH_SOURCE; `{path}` in it becomes the page's path). Values are inserted as text.
// When the source fails, the page is served as built.

async function fresh(request, site, platform) {
  const url = new URL(request.url);
  const page = await platform.fallback(request);
  const type = page.headers.get("content-type") ?? "";
  if (!page.ok || !page.body || !type.startsWith("text/html")) return withCache(page, url.pathname);
  const values = await freshValues(url, site, platform);
  const out = mutable(page);
  out.headers.set("Cache-Control", REVALIDATE);
  if (!values) return out;
  const rewritten = typeof HTMLRewriter === "function"
    ? rewriteWithHTMLRewriter(out, values)
    : new Response(out.body.pipeThrough(freshTransform(values)), out);
  const headers = rewritten.headers;
  headers.delete("content-length");
  headers.delete("etag");
  headers.delete("last-modified");
  return rewritten;
}

async function freshValues(url, site, platform) {
  const template = env(platform, "SITEGEN_FRESH_SOURCE") ?? site.fresh?.source;
  if (!template) return null;
  const source = new URL(template.replaceAll("{path}", encodeURIComponent(url.pathname)), url);
  try {
    const response = await fetch(source, {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(site.fresh?.timeout_ms ?? 3000),
    });
    if (!response.ok) return null;
    const data = await response.json();
    return data !== null && typeof data === "object" ? data : null;
  } catch {
    return null;
  }
}

/** The text for a region marked `key`: the value at that dotted path, when it is a scalar. */
export function freshText(values, key) {
  let value = values;
  for (const part of String(key).split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[part];
  }
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

const VOID = new Set([
  "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
  "wbr",
]);

/** Cloudflare's streaming HTML rewriter. */
function rewriteWithHTMLRewriter(response, values) {
  // deno-lint-ignore no-undef
  return new HTMLRewriter()
    .on("[data-sitegen-fresh]", {
      element(el) {
        if (VOID.has(el.tagName)) return;
        const text = freshText(values, el.getAttribute("data-sitegen-fresh"));
        if (text !== undefined) el.setInnerContent(text);
      },
    })
    .transform(response);
}

/** A TransformStream of HTML bytes that fills the fresh regions (where there is no HTMLRewriter). */
export function freshTransform(values) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const rewriter = new FreshRewriter(values);
  return new TransformStream({
    transform(chunk, controller) {
      const out = rewriter.write(decoder.decode(chunk, { stream: true }));
      if (out) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const out = rewriter.write(decoder.decode()) + rewriter.end();
      if (out) controller.enqueue(encoder.encode(out));
    },
  });
}

/** Elements whose content is text, never markup. */
const RAW = new Set(["script", "style", "textarea", "title", "xmp", "noscript"]);

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * A streaming rewriter of HTML text: `write(chunk)` returns what can be sent so far, `end()` the
 * rest. It splits the text into text, tags and comments (a tag cut between two chunks waits for
 * the next), passes everything through except the content of a marked element, which it drops up
 * to the element's own end tag (counting nested elements of the same name) and replaces with the
 * escaped value. Script and style content is never parsed for tags.
 */
export class FreshRewriter {
  constructor(values) {
    this.values = values;
    this.pending = "";
    this.skip = null; // { tag, depth, text } while inside a marked element
    this.raw = null; // the name of the script/style element we are in
  }

  write(text) {
    this.pending += text;
    return this.drain(false);
  }

  end() {
    let out = this.drain(true);
    if (this.skip) out += escapeHtml(this.skip.text); // unclosed element: keep the value
    this.skip = null;
    return out;
  }

  emit(text) {
    return this.skip ? "" : text;
  }

  drain(final) {
    const buf = this.pending;
    let out = "";
    let i = 0;
    while (i < buf.length) {
      if (this.raw) {
        const close = buf.toLowerCase().indexOf("</" + this.raw, i);
        if (close < 0) {
          // Keep what could be the start of the end tag for the next chunk.
          const keep = final ? buf.length : Math.max(i, buf.length - this.raw.length - 2);
          out += this.emit(buf.slice(i, keep));
          i = keep;
          break;
        }
        out += this.emit(buf.slice(i, close));
        i = close;
        this.raw = null;
      }
      const lt = buf.indexOf("<", i);
      if (lt < 0) {
        out += this.emit(buf.slice(i));
        i = buf.length;
        break;
      }
      out += this.emit(buf.slice(i, lt));
      i = lt;
      const end = constructEnd(buf, lt);
      if (end < 0) {
        if (final) {
          out += this.emit(buf.slice(lt));
          i = buf.length;
        }
        break;
      }
      out += this.token(buf.slice(lt, end));
      i = end;
    }
    this.pending = buf.slice(i);
    return out;
  }

  token(tok) {
    const end = /^<\/([a-zA-Z][^\s/>]*)/.exec(tok);
    if (end) {
      const name = end[1].toLowerCase();
      if (!this.skip) return tok;
      if (name === this.skip.tag && --this.skip.depth === 0) {
        const text = this.skip.text;
        this.skip = null;
        return escapeHtml(text) + tok;
      }
      return "";
    }
    const start = /^<([a-zA-Z][^\s/>]*)/.exec(tok);
    if (!start) return this.emit(tok); // a comment, a doctype, or a lone "<"
    const name = start[1].toLowerCase();
    const selfClosing = /\/\s*>$/.test(tok);
    if (RAW.has(name) && !selfClosing) this.raw = name;
    if (this.skip) {
      if (name === this.skip.tag && !selfClosing && !VOID.has(name)) this.skip.depth++;
      return "";
    }
    if (VOID.has(name) || selfClosing) return tok;
    const key = /\sdata-sitegen-fresh\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i.exec(tok);
    if (key) {
      const text = freshText(this.values, key[1] ?? key[2] ?? key[3]);
      if (text !== undefined) this.skip = { tag: name, depth: 1, text };
    }
    return tok;
  }
}

/**
 * Where the construct starting with "<" at `lt` ends (the index after it), or -1 when the text so
 * far ends inside it. Text that only looks like a tag ("a < b") is one "<" character.
 */
function constructEnd(buf, lt) {
  if (buf.startsWith("<!--", lt)) {
    const close = buf.indexOf("-->", lt + 4);
    return close < 0 ? -1 : close + 3;
  }
  if (buf.length - lt < 4 && "<!--".startsWith(buf.slice(lt))) return -1;
  const next = buf[lt + 1];
  if (next === undefined) return -1;
  if (!/[a-zA-Z/!?]/.test(next)) return lt + 1;
  let quote = null;
  for (let j = lt + 2; j < buf.length; j++) {
    const c = buf[j];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      // Quotes delimit attribute values only after "=".
      if (/=\s*$/.test(buf.slice(Math.max(lt, j - 16), j))) quote = c;
    } else if (c === ">") {
      return j + 1;
    }
  }
  return -1;
}
