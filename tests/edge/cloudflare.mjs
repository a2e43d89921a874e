// Serves a sitegen output folder the way Cloudflare Workers with static assets would: miniflare
// (workerd, with Cloudflare's own asset and router workers) configured from the wrangler.jsonc
// sitegen wrote: the module worker, the ASSETS binding, run_worker_first, _headers, _redirects.
//
// Usage: node cloudflare.mjs OUTPUT_DIR PORT    (runs until SIGTERM or SIGINT)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";

const [out, port] = process.argv.slice(2);
if (!out || !port) {
  console.error("usage: node cloudflare.mjs OUTPUT_DIR PORT");
  process.exit(2);
}

// wrangler.jsonc: JSON after sitegen's whole-line // comments.
const text = readFileSync(join(out, "wrangler.jsonc"), "utf8");
const wrangler = JSON.parse(text.split("\n").filter((l) => !l.trim().startsWith("//")).join("\n"));
const assets = wrangler.assets;
const patterns = assets.run_worker_first ?? [];

const options = {
  host: "127.0.0.1",
  port: Number(port),
  compatibilityDate: wrangler.compatibility_date,
  assets: {
    directory: join(out, assets.directory),
    binding: assets.binding,
    routerConfig: {
      has_user_worker: Boolean(wrangler.main),
      invoke_user_worker_ahead_of_assets: false,
      static_routing: {
        user_worker: patterns.filter((p) => !p.startsWith("!")),
        asset_worker: patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1)),
      },
    },
    assetConfig: {
      html_handling: assets.html_handling,
      not_found_handling: assets.not_found_handling,
    },
  },
};
if (wrangler.main) {
  Object.assign(options, {
    modules: true,
    modulesRoot: out,
    scriptPath: join(out, wrangler.main),
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
  });
} else {
  Object.assign(options, { script: "export default {}", modules: true });
}

const mf = new Miniflare(options);
const url = await mf.ready;
console.log(`cloudflare: miniflare serving ${out} on ${url}`);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await mf.dispose().catch(() => {});
    process.exit(0);
  });
}
