//! The markdown + template stage, on a deterministic generated site.
//!
//! `cargo bench --bench render` times rendering one page's markdown, one page through its
//! template (markdown included), and a 1,000-item section listing. The whole-build comparison
//! with Hugo is `benches/compare.sh`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use sitegen::generate::copy::CopySet;
use sitegen::plan::{Output, Planned};
use sitegen::render::Renderer;
use sitegen::render::context::View;
use sitegen::site::Site;

const PAGES: usize = 1_000;

const WORDS: &[&str] = &[
    "able", "about", "access", "action", "adapt", "balance", "banner", "batch", "buffer", "build",
    "cache", "canvas", "carbon", "channel", "client", "cluster", "column", "compile", "context",
    "cycle", "damage", "deploy", "design", "detail", "domain", "editor", "engine", "entry",
    "escape", "export", "factor", "filter", "format", "frame", "garden", "global", "graph",
    "harbor", "header", "history",
];

/// A small linear congruential generator: deterministic text without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }

    fn sentence(&mut self) -> String {
        let words: Vec<&str> = (0..8 + self.next(10))
            .map(|_| WORDS[self.next(WORDS.len())])
            .collect();
        format!(
            "{} *{}* `{}()` [link](https://example.com/{}).",
            words.join(" "),
            WORDS[self.next(WORDS.len())],
            WORDS[self.next(WORDS.len())],
            WORDS[self.next(WORDS.len())]
        )
    }
}

/// A body of ~600 words with headings, a list, code and a table, like the shared corpus.
fn body(rng: &mut Lcg) -> String {
    let mut text = String::new();
    for section in 0..6 {
        let _ = writeln!(text, "## Part {section} {}\n", WORDS[rng.next(WORDS.len())]);
        for _ in 0..4 {
            let _ = writeln!(
                text,
                "{}\n",
                (0..3).map(|_| rng.sentence()).collect::<Vec<_>>().join(" ")
            );
        }
        if section % 2 == 0 {
            let _ = writeln!(text, "- {}\n- {}\n", rng.sentence(), rng.sentence());
            let _ = writeln!(
                text,
                "```rust\nfn main() {{ let x = {}; }}\n```\n",
                rng.next(1000)
            );
        } else {
            let _ = writeln!(
                text,
                "| a | b |\n|---|---|\n| {} | {} |\n",
                rng.next(100),
                rng.next(100)
            );
        }
    }
    text
}

fn write_site(root: &Path) {
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "sitegen.toml",
        "base_url = \"https://example.org\"\ntitle = \"Bench\"\ntaxonomies = [{ name = \"tags\", render = false }]\n",
    );
    write(
        "templates/base.html",
        "<!DOCTYPE html><html lang=\"en\"><head><title>{% block title %}{{ config.title }}{% endblock title %}</title></head><body><main>{% block main %}{% endblock main %}</main></body></html>",
    );
    write(
        "templates/page.html",
        "{% extends \"base.html\" %}{% block title %}{{ page.title }}{% endblock title %}{% block main %}<article><h1>{{ page.title }}</h1><time>{{ page.date | date(format=\"%Y-%m-%d\") }}</time><ul>{% for t in page.taxonomies.tags %}<li>{{ t }}</li>{% endfor %}</ul>{{ page.content | safe }}</article>{% endblock main %}",
    );
    write(
        "templates/section.html",
        "{% extends \"base.html\" %}{% block main %}<ul>{% for p in section.pages %}<li><a href=\"{{ p.path | safe }}\">{{ p.title }}</a> <time>{{ p.date | date(format=\"%Y-%m-%d\") }}</time></li>{% endfor %}</ul>{% endblock main %}",
    );
    write(
        "templates/index.html",
        "{% extends \"base.html\" %}{% block main %}{{ section.title }}{% endblock main %}",
    );
    write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n");
    write(
        "content/posts/_index.md",
        "+++\ntitle = \"Posts\"\nsort_by = \"date\"\n+++\n",
    );
    let mut rng = Lcg(42);
    for i in 0..PAGES {
        let text = format!(
            "+++\ntitle = \"Page {i}\"\ndate = 2020-01-{:02}\n[taxonomies]\ntags = [\"{}\"]\n+++\n\n{}",
            1 + i % 28,
            WORDS[rng.next(WORDS.len())],
            body(&mut rng)
        );
        write(&format!("content/posts/page-{i:05}.md"), &text);
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    site: Arc<Site>,
    renderer: Renderer,
    outputs: Vec<Planned>,
    sample_body: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_site(dir.path());
        let loaded = sitegen::config::load(dir.path(), None, &[]).unwrap();
        let site = sitegen::load::load(
            dir.path(),
            loaded.config,
            &sitegen::load::theme::Theme::None,
            false,
            sitegen::load::source::SourceCache::default(),
            &sitegen::load::walk::walk(dir.path(), None),
        )
        .unwrap()
        .site;
        let site = Arc::new(site);
        let plan = sitegen::plan::plan(&site).unwrap();
        let copy = Arc::new(CopySet::new());
        let renderer = Renderer::new(View::new(&site, &copy), &plan).unwrap();
        let sample_body =
            std::fs::read_to_string(dir.path().join("content/posts/page-00000.md")).unwrap();
        Fixture {
            _dir: dir,
            site,
            renderer,
            outputs: plan.renders,
            sample_body,
        }
    })
}

#[divan::bench]
fn markdown_one_page(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    let options = sitegen::markdown::RenderOptions::default();
    let resolve = |_: &str| None;
    bencher.bench(|| {
        sitegen::markdown::render(divan::black_box(&f.sample_body), &options, "/p/", &resolve)
            .html
            .len()
    });
}

#[divan::bench]
fn page_through_template(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    let page = f
        .outputs
        .iter()
        .find(|p| matches!(p.output, Output::Page(_)))
        .unwrap();
    bencher.bench(|| f.renderer.render(page).unwrap().text.len());
}

#[divan::bench]
fn section_listing_1000_pages(bencher: divan::Bencher<'_, '_>) {
    let f = fixture();
    let section = f
        .outputs
        .iter()
        .find(|p| matches!(p.output, Output::Section { .. }) && p.path == "/posts/")
        .unwrap();
    assert_eq!(f.site.sections[1].pages.len(), PAGES);
    bencher.bench(|| f.renderer.render(section).unwrap().text.len());
}

fn main() {
    divan::main();
}
