//! Edge output (`[edge]`): each target's files, their JSON, the limits, and how they follow
//! the builds. The emitted code runs for real in tests/edge/run.sh.

use serde_json::Value;

use crate::support::SiteTest;

const ALL: &str = r#"edge.targets=["cloudflare","netlify","vercel","deno"]"#;
const ROUTES: &str = r#"edge.routes=[{path="/api/search",handler="search"},{path="/hello/*",handler="edge/hello.js"}]"#;
const HELLO: &str = "export default async () => new Response(\"hello\");\n";

/// The basic fixture with a custom handler and a page with fresh regions.
fn site() -> SiteTest {
    let site = SiteTest::fixture("basic");
    site.write("edge/hello.js", HELLO);
    site.write(
        "content/live.md",
        "+++\ntitle = \"Live\"\nedge = \"fresh\"\n+++\nPrice: <span data-sitegen-fresh=\"price\">1</span>\n",
    );
    site
}

fn build(site: &SiteTest, sets: &[&str]) -> crate::support::Run {
    let mut args = vec!["build", "--quiet"];
    for set in sets {
        args.push("--set");
        args.push(set);
    }
    site.run(&args)
}

fn json(site: &SiteTest, path: &str) -> Value {
    let text = site.read(path);
    // wrangler.jsonc: sitegen's comments are whole lines.
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"))
}

#[test]
fn every_target_gets_its_files() {
    let site = site();
    build(&site, &[ALL, ROUTES]).assert_ok();

    // Shared by Cloudflare and Netlify.
    let headers = site.read("_headers");
    assert!(
        headers.contains("/*\n  Content-Security-Policy: default-src 'self' https://example.org;"),
        "{headers}"
    );
    for line in [
        "  X-Content-Type-Options: nosniff",
        "  X-Frame-Options: SAMEORIGIN",
        "  Referrer-Policy: strict-origin-when-cross-origin",
        "/*/\n  Cache-Control: no-cache",
    ] {
        assert!(headers.contains(line), "{line:?} in\n{headers}");
    }
    let redirects = site.read("_redirects");
    assert!(
        redirects.contains("\n/old/second/ /blog/second/ 301\n"),
        "{redirects}"
    );
    assert!(
        redirects.contains("\n/blog/page/1/ /blog/ 301\n"),
        "first pagers too: {redirects}"
    );
    assert!(
        !redirects.contains("301!"),
        "Cloudflare rejects forced redirects: {redirects}"
    );

    // Cloudflare.
    let routes = json(&site, "_routes.json");
    assert_eq!(routes["version"], 1);
    assert_eq!(
        routes["include"],
        serde_json::json!(["/api/search", "/hello/*", "/live/"])
    );
    let wrangler = json(&site, "wrangler.jsonc");
    assert_eq!(wrangler["main"], "_worker.js/index.js");
    assert_eq!(wrangler["assets"]["directory"], ".");
    assert_eq!(wrangler["assets"]["binding"], "ASSETS");
    assert_eq!(wrangler["assets"]["not_found_handling"], "404-page");
    assert_eq!(wrangler["assets"]["run_worker_first"], routes["include"]);
    assert!(site.read(".assetsignore").contains("\n/.vercel\n"));
    let worker = site.read("_worker.js/index.js");
    assert!(
        worker.contains("import { dispatch } from \"./handlers.js\";"),
        "{worker}"
    );
    assert!(worker.contains("env.ASSETS.fetch"), "{worker}");
    assert!(worker.contains("\"edge/hello.js\": custom0"), "{worker}");
    assert_eq!(
        site.read("_worker.js/handlers.js"),
        sitegen::emit::edge::HANDLERS_JS
    );
    assert_eq!(site.read("_worker.js/custom/edge-hello.js"), HELLO);

    // Netlify: a function per handler with its paths; aliases by a function, since Cloudflare
    // shares _redirects.
    let function = |name: &str| site.read(&format!("netlify/edge-functions/{name}.js"));
    assert!(function("search").contains("export const config = { path: [\"/api/search\"] };"));
    assert!(function("fresh").contains("export const config = { path: [\"/live/\"] };"));
    assert!(
        function("custom-edge-hello")
            .contains("import custom0 from \"../sitegen/custom/edge-hello.js\";")
    );
    assert!(
        function("redirects")
            .contains("export const config = { path: [\"/blog/page/1/\",\"/old/second/\"] };")
    );
    assert!(
        site.read("netlify/sitegen/site.js")
            .contains("\"/old/second/\": \"/blog/second/\"")
    );
    assert!(
        site.read("netlify.toml")
            .contains("edge_functions = \"netlify/edge-functions\"")
    );

    // Vercel: Build Output API v3.
    let config = json(&site, ".vercel/output/config.json");
    assert_eq!(config["version"], 3);
    let routes = config["routes"].as_array().unwrap();
    let redirect = routes
        .iter()
        .find(|r| r["status"] == 301 && r["headers"]["Location"] == "/blog/second/")
        .expect("a redirect route");
    assert_eq!(redirect["src"], "^/old/second/?$");
    assert_eq!(redirect["headers"]["Location"], "/blog/second/");
    let search = routes
        .iter()
        .find(|r| r["dest"] == "/_sitegen/search")
        .expect("a search route");
    assert_eq!(search["src"], "^/api/search$");
    assert_eq!(search["missing"][0]["key"], "x-sitegen-static");
    let fs = routes
        .iter()
        .position(|r| r["handle"] == "filesystem")
        .unwrap();
    let error = routes.iter().position(|r| r["handle"] == "error").unwrap();
    assert!(
        routes
            .iter()
            .position(|r| r["dest"] == "/_sitegen/search")
            .unwrap()
            < fs
    );
    assert_eq!(routes[error + 1]["dest"], "/404.html");
    assert_eq!(routes[error + 1]["status"], 404);
    assert!(
        routes
            .iter()
            .any(|r| r["headers"]["Cache-Control"] == "public, max-age=31536000, immutable")
    );
    for name in ["search", "fresh", "custom-edge-hello"] {
        let dir = format!(".vercel/output/functions/_sitegen/{name}.func");
        let vc = json(&site, &format!("{dir}/.vc-config.json"));
        assert_eq!(vc["runtime"], "edge");
        assert_eq!(vc["entrypoint"], "index.js");
        assert!(
            site.read(&format!("{dir}/index.js"))
                .contains("export default function handler(request)")
        );
        assert_eq!(
            site.read(&format!("{dir}/handlers.js")),
            sitegen::emit::edge::HANDLERS_JS
        );
    }
    assert_eq!(
        site.read(".vercel/output/static/index.html"),
        site.read("index.html")
    );
    assert_eq!(
        site.read(".vercel/output/static/search-index.json"),
        site.read("search-index.json")
    );
    assert!(
        !site.exists(".vercel/output/static/_headers"),
        "only the site's files"
    );
    assert!(!site.exists(".vercel/output/static/main.ts"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &str| std::fs::metadata(site.output().join(p)).unwrap().ino();
        assert_eq!(
            ino(".vercel/output/static/index.html"),
            ino("index.html"),
            "hard-linked"
        );
    }

    // Deno.
    let main = site.read("main.ts");
    assert!(main.contains("Deno.serve("), "{main}");
    assert!(main.contains("import { dispatch } from \"./_deno/handlers.js\";"));
    assert!(
        !main.contains("from \"http") && !main.contains("from \"jsr:"),
        "no remote import"
    );
    assert!(
        site.read("_deno/site.js")
            .contains("\"/old/second/\": \"/blog/second/\"")
    );

    // The search index.
    let index = json(&site, "search-index.json");
    assert_eq!(
        index["fields"],
        serde_json::json!(["title", "url", "tags", "description", "snippet"])
    );
    let docs = index["docs"].as_array().unwrap();
    let second = docs
        .iter()
        .find(|d| d[1] == "/blog/second/")
        .expect("second is indexed");
    assert_eq!(second[0], "Second");
    assert_eq!(second[2], "Rust, Web");
}

#[test]
fn edge_files_follow_the_builds_and_stay_out_of_the_manifest() {
    let site = site();
    build(&site, &[ALL, ROUTES]).assert_ok();
    // The stamp (set aside while the edge files are written) is back.
    assert!(site.root().join(".sitegen/stamp").is_file());
    assert!(!site.root().join(".sitegen/stamp.edge").exists());
    let before = site.tree();
    // A build with nothing to do leaves every file as it was.
    build(&site, &[ALL, ROUTES]).assert_ok();
    assert_eq!(site.tree(), before);
    // A changed page: the index and Vercel's copy of the page follow.
    let second = std::fs::read_to_string(site.root().join("content/blog/second.md")).unwrap();
    site.write(
        "content/blog/second.md",
        second.replace("title = \"Second\"", "title = \"Seconde\""),
    );
    build(&site, &[ALL, ROUTES]).assert_ok();
    assert!(site.read("search-index.json").contains("\"Seconde\""));
    assert!(
        site.read(".vercel/output/static/blog/second/index.html")
            .contains("Seconde")
    );
    assert!(
        site.read(".vercel/output/static/search-index.json")
            .contains("\"Seconde\"")
    );
    // Fewer targets: the others' files go.
    build(&site, &[r#"edge.targets=["deno"]"#, ROUTES]).assert_ok();
    for gone in [
        "_headers",
        "_redirects",
        "_routes.json",
        "_worker.js",
        "wrangler.jsonc",
        "netlify",
        ".vercel",
    ] {
        assert!(!site.exists(gone), "{gone} is left");
    }
    assert!(site.exists("main.ts"));
    // No target: no edge file at all, and the output is what a plain build writes.
    build(&site, &[]).assert_ok();
    assert!(!site.exists("main.ts") && !site.exists("_deno") && !site.exists("search-index.json"));
    let plain = SiteTest::fixture("basic");
    plain.write("content/live.md", site.read("../content/live.md"));
    plain.write(
        "content/blog/second.md",
        second.replace("title = \"Second\"", "title = \"Seconde\""),
    );
    plain.build().assert_ok();
    let names = |t: &SiteTest| t.tree().into_keys().collect::<Vec<_>>();
    assert_eq!(names(&site), names(&plain));
}

#[test]
fn netlify_alone_forces_its_redirects() {
    let site = site();
    build(&site, &[r#"edge.targets=["netlify"]"#, ROUTES]).assert_ok();
    let redirects = site.read("_redirects");
    assert!(
        redirects.contains("\n/old/second/ /blog/second/ 301!\n"),
        "{redirects}"
    );
    assert!(!site.exists("netlify/edge-functions/redirects.js"));
    assert!(site.exists("netlify/edge-functions/search.js"));
    assert!(site.exists("_headers"));
    assert!(!site.exists("_worker.js") && !site.exists("_routes.json") && !site.exists("main.ts"));
}

#[test]
fn aliases_over_the_limits_move_into_code() {
    let site = site();
    let sets = [
        ALL,
        ROUTES,
        "edge.limits.max_redirects=0",
        "edge.limits.vercel_max_routes=5",
    ];
    let run = build(&site, &sets);
    run.assert_ok()
        .assert_stderr_contains("edge.limits.max_redirects")
        .assert_stderr_contains("edge.limits.vercel_max_routes");
    assert!(!site.read("_redirects").contains("/old/second/"));
    assert!(
        site.read("_worker.js/site.js")
            .contains("\"/old/second/\": \"/blog/second/\"")
    );
    let routes = json(&site, "_routes.json");
    assert!(
        routes["include"]
            .as_array()
            .unwrap()
            .contains(&"/old/second/".into())
    );
    let config = json(&site, ".vercel/output/config.json");
    let routes = config["routes"].as_array().unwrap();
    assert!(
        routes.iter().all(|r| r["status"] != 301),
        "no redirect route"
    );
    assert!(routes.iter().any(|r| r["dest"] == "/_sitegen/redirects"));
    assert!(site.exists(".vercel/output/functions/_sitegen/redirects.func/index.js"));
}

#[test]
fn too_many_edge_paths_collapse_to_prefixes() {
    let site = site();
    for i in 0..5 {
        site.write(
            &format!("content/blog/live{i}.md"),
            format!("+++\ntitle = \"Live {i}\"\nedge = \"fresh\"\n+++\nx\n"),
        );
    }
    let run = build(&site, &[ALL, ROUTES, "edge.limits.max_route_rules=4"]);
    run.assert_ok()
        .assert_stderr_contains("edge.limits.max_route_rules");
    let routes = json(&site, "_routes.json");
    let collapsed = serde_json::json!(["/api/*", "/blog/*", "/hello/*", "/live/"]);
    assert_eq!(routes["include"], collapsed);
    assert_eq!(
        json(&site, "wrangler.jsonc")["assets"]["run_worker_first"],
        collapsed
    );
}

#[test]
fn limits_fail_the_build_with_what_to_do() {
    let site = site();
    for _ in 0..2 {
        // The second time too: a failed build leaves no stamp, so it is no no-op.
        let run = build(&site, &[ALL, "edge.limits.max_files=3"]);
        run.assert_code(1)
            .assert_stderr_contains(
                "files a Cloudflare deployment may hold (edge.limits.max_files)",
            )
            .assert_stderr_contains("raise edge.limits.max_files");
    }
    let run = build(&site, &[ALL, "edge.limits.max_file_bytes=100"]);
    run.assert_code(1)
        .assert_stderr_contains("edge.limits.max_file_bytes");
    // Once within the limits, the next build writes the files (the failed one left no stamp).
    build(&site, &[ALL]).assert_ok();
    assert!(site.exists("wrangler.jsonc"));
}

#[test]
fn bad_routes_are_errors_naming_them() {
    let site = site();
    // A bad path or handler: a config error, before anything is written.
    let run = build(
        &site,
        &[ALL, r#"edge.routes=[{path="x",handler="search"}]"#],
    );
    run.assert_code(2).assert_stderr_contains("edge route `x`");
    let run = build(&site, &[ALL, r#"edge.routes=[{path="/x",handler="find"}]"#]);
    run.assert_code(2).assert_stderr_contains("handler `find`");
    let run = site.run(&["build", "--quiet", "--set", r#"edge.targets=["aws"]"#]);
    run.assert_code(2).assert_stderr_contains("aws");
    assert!(!site.exists("index.html"), "nothing was built");
    // A missing file, or one outside the site: found when the build reads it.
    let run = build(
        &site,
        &[ALL, r#"edge.routes=[{path="/x",handler="nope.js"}]"#],
    );
    run.assert_code(1)
        .assert_stderr_contains("handler `nope.js`");
    site.write(
        "content/bad.md",
        "+++\ntitle = \"Bad\"\nedge = \"../outside.js\"\n+++\n",
    );
    let run = build(&site, &[ALL]);
    run.assert_code(1)
        .assert_stderr_contains("handler `../outside.js`")
        .assert_stderr_contains("content/bad.md");
}

#[test]
fn search_index_keeps_to_its_budget() {
    let site = site();
    let run = build(&site, &[ALL, ROUTES, "edge.limits.search_index_bytes=300"]);
    run.assert_ok()
        .assert_stderr_contains("search-index.json was over its budget of 300 bytes");
    let bytes = std::fs::read(site.output().join("search-index.json")).unwrap();
    assert!(bytes.len() <= 300, "{}", bytes.len());
}

#[test]
fn the_sites_own_headers_file_wins() {
    let site = site();
    site.write("static/_headers", "/*\n  X-Mine: yes\n");
    let run = build(&site, &[ALL, ROUTES]);
    run.assert_ok()
        .assert_stderr_contains("static/_headers is the site's own file");
    assert_eq!(site.read("_headers"), "/*\n  X-Mine: yes\n");
    // Its copy is the site's: the next build has nothing to do.
    let before = site.tree();
    build(&site, &[ALL, ROUTES]).assert_ok();
    assert_eq!(site.tree(), before);
}

#[test]
fn csp_can_be_set_or_turned_off() {
    let site = site();
    build(
        &site,
        &[
            r#"edge.targets=["cloudflare"]"#,
            r#"edge.csp="default-src 'none'""#,
        ],
    )
    .assert_ok();
    assert!(
        site.read("_headers")
            .contains("  Content-Security-Policy: default-src 'none'\n")
    );
    build(&site, &[r#"edge.targets=["cloudflare"]"#, r#"edge.csp="""#]).assert_ok();
    assert!(!site.read("_headers").contains("Content-Security-Policy"));
    assert!(
        site.read("_headers")
            .contains("X-Content-Type-Options: nosniff")
    );
}
