// Unit tests of the shared handlers' streaming rewriter (the `fresh` handler off Cloudflare) and
// route matching, with node's test runner: node --test tests/edge/rewriter.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FreshRewriter,
  freshText,
  freshTransform,
  matchRoute,
} from "../../src/emit/edge/handlers/handlers.js";

const values = { price: "4 < 5 & \"6\"", stock: { count: 7 }, flag: true, list: [1], nil: null };

const page = `<!doctype html>
<html><head><title data-sitegen-fresh="price">Title</title>
<style>p[data-x="<span data-sitegen-fresh='price'>"] { color: red }</style>
<script>if (a < b && "<div data-sitegen-fresh=\\"price\\">") {}</script></head>
<body><!-- <span data-sitegen-fresh="price">comment</span> -->
<p class="a>b" data-sitegen-fresh="price" title='x > y'>old <b>bold</b> text</p>
<div data-sitegen-fresh=stock.count><div>nested <div>deeper</div></div> tail</div>
<span data-sitegen-fresh="missing">kept</span>
<span data-sitegen-fresh="list">kept too</span>
<img data-sitegen-fresh="price" src="a.png"><br/>
<section data-sitegen-fresh="flag"><script>document.write("<section>")</script></section>
<p>a < b, and 3 <4</p>
</body></html>`;

const expected = `<!doctype html>
<html><head><title data-sitegen-fresh="price">4 &lt; 5 &amp; &quot;6&quot;</title>
<style>p[data-x="<span data-sitegen-fresh='price'>"] { color: red }</style>
<script>if (a < b && "<div data-sitegen-fresh=\\"price\\">") {}</script></head>
<body><!-- <span data-sitegen-fresh="price">comment</span> -->
<p class="a>b" data-sitegen-fresh="price" title='x > y'>4 &lt; 5 &amp; &quot;6&quot;</p>
<div data-sitegen-fresh=stock.count>7</div>
<span data-sitegen-fresh="missing">kept</span>
<span data-sitegen-fresh="list">kept too</span>
<img data-sitegen-fresh="price" src="a.png"><br/>
<section data-sitegen-fresh="flag">true</section>
<p>a < b, and 3 <4</p>
</body></html>`;

function rewrite(chunks) {
  const r = new FreshRewriter(values);
  return chunks.map((c) => r.write(c)).join("") + r.end();
}

test("rewrites marked elements, and nothing else", () => {
  assert.equal(rewrite([page]), expected);
});

test("gives the same result however the text is cut", () => {
  for (let i = 0; i <= page.length; i++) {
    assert.equal(rewrite([page.slice(0, i), page.slice(i)]), expected, `cut at ${i}`);
  }
  assert.equal(rewrite([...page]), expected, "one character at a time");
});

test("the TransformStream handles multi-byte characters cut between chunks", async () => {
  const bytes = new TextEncoder().encode(`<p data-sitegen-fresh="price">é</p><i>€ ok</i>`);
  const stream = new ReadableStream({
    start(controller) {
      for (const b of bytes) controller.enqueue(new Uint8Array([b]));
      controller.close();
    },
  });
  const text = await new Response(stream.pipeThrough(freshTransform(values))).text();
  assert.equal(text, `<p data-sitegen-fresh="price">4 &lt; 5 &amp; &quot;6&quot;</p><i>€ ok</i>`);
});

test("an element left open at the end still gets its value", () => {
  assert.equal(rewrite(['<p data-sitegen-fresh="stock.count">x']), '<p data-sitegen-fresh="stock.count">7');
});

test("values: dotted paths to scalars only", () => {
  assert.equal(freshText(values, "stock.count"), "7");
  assert.equal(freshText(values, "flag"), "true");
  assert.equal(freshText(values, "list"), undefined);
  assert.equal(freshText(values, "nil"), undefined);
  assert.equal(freshText(values, "stock.count.x"), undefined);
});

test("routes: exact paths and prefixes", () => {
  const routes = [
    { path: "/api/search", handler: "search" },
    { path: "/api/*", handler: "other" },
  ];
  assert.equal(matchRoute(routes, "/api/search")?.handler, "search");
  assert.equal(matchRoute(routes, "/api/x/y")?.handler, "other");
  assert.equal(matchRoute(routes, "/api"), undefined);
  assert.equal(matchRoute(routes, "/blog/"), undefined);
});
