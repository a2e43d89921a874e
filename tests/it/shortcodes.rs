//! Shortcodes: calls in markdown rendered with `templates/shortcodes/`, as Zola renders them.
//! The whole output of the `shortcodes` fixture is snapshotted (tests/snapshots/shortcodes.txt);
//! these tests name what matters in it, and what incremental builds do when a shortcode changes.
//! Broken calls are in tests/fixtures/errors/ (`unknown-shortcode`, `failing-shortcode`,
//! `unclosed-shortcode`).

use crate::support::SiteTest;

fn rebuilt(json: &serde_json::Value) -> Vec<(String, String)> {
    json["rebuilt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn calls_render_with_their_arguments_and_context() {
    let site = SiteTest::fixture("shortcodes");
    site.build().assert_ok();
    let page = site.read("gallery/index.html");
    for want in [
        // An .html shortcode alone in a paragraph is not wrapped in <p>.
        "<div class=\"yt\">\n    <iframe src=\"https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1\"></iframe>\n</div>",
        // Every kind of argument, nth, lang, page, config.
        "data-nth=\"1\" data-lang=\"en\">Gallery|gallery&#x2F;|Hello|42|1.5|false|single|1,2,x</span>",
        "data-nth=\"2\" data-lang=\"en\">Gallery|gallery&#x2F;|Hello|-1|0.25|true|back|</span>",
        // A body shortcode; the site's quote.html wins over the theme's.
        "<blockquote>\n    A quote with *emphasis*. <br>\n    -- Vincent\n</blockquote>",
        // An .md shortcode's output is markdown, with smart punctuation.
        "<h3 id=\"dune\">Dune</h3>\n<p>“Dune” is book 1 of 2.</p>",
        // In lists, quotes and tables; from the theme.
        "<li>item <span class=\"badge\">a</span>",
        "<p>quoted <span class=\"badge\">q</span>",
        "<td><span class=\"badge\">t</span>",
        // Escaped calls print the call.
        "{{ youtube(id=",
        "{% quote(author=",
        "Not rendered\n{% end %}",
        // Look-alikes stay text.
        "{{ page.title }} and {% if x %} and {{ nope(x=) }}",
        // In code, the output is escaped like the code.
        "code &lt;span class=\"badge\"&gt;in code&lt;/span&gt;",
        // Calls in a body shortcode's body are rendered first.
        "<strong>Note 1:</strong> Mind <span class=\"badge\">the gap</span>",
        "<mark>Marked <em>text</em></mark>",
    ] {
        assert!(page.contains(want), "{want} missing in:\n{page}");
    }
    assert!(!page.contains("SITEGENSC"), "{page}");
    // The section's shortcode sees `section`.
    assert!(site.read("index.html").contains("Welcome <em>Home</em>"));
}

#[test]
fn summaries_show_what_their_shortcodes_make() {
    let site = SiteTest::fixture("shortcodes");
    site.build().assert_ok();
    let index = site.read("index.html");
    assert!(
        index.contains("<p>Summary with <span class=\"badge\">sum</span>\n “smart”"),
        "{index}"
    );
    assert!(!index.contains("after"), "{index}");
    assert!(!index.contains("{{"), "{index}");
}

#[test]
fn a_changed_shortcode_rebuilds_the_pages_that_call_it_and_those_listing_their_summaries() {
    let site = SiteTest::fixture("shortcodes");
    site.build().assert_ok();
    site.write(
        "templates/shortcodes/youtube.html",
        "<div class=\"video\">{{ id }}</div>\n",
    );
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    assert_eq!(
        rebuilt(&json),
        [(
            "gallery/index.html".to_owned(),
            "shortcode `youtube` changed".to_owned()
        )],
        "{json}"
    );
    assert!(
        site.read("gallery/index.html")
            .contains("<div class=\"video\">dQw4w9WgXcQ</div>")
    );

    // The theme's badge is in the summaries the home page lists.
    site.write(
        "templates/shortcodes/badge.html",
        "<b class=\"badge\">{{ text }}</b>\n",
    );
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    let files: Vec<String> = rebuilt(&json).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        files,
        ["gallery/index.html", "index.html", "plain/index.html"],
        "{json}"
    );
    assert!(
        site.read("index.html")
            .contains("Summary with <b class=\"badge\">sum</b>")
    );
}

#[test]
fn a_markdown_shortcode_is_read_as_markdown_and_an_html_one_is_not() {
    let site = SiteTest::fixture("shortcodes");
    site.write("templates/shortcodes/raw.html", "*not emphasis*")
        .write("templates/shortcodes/md.md", "*emphasis*")
        .write(
            "content/plain.md",
            "+++\ntitle = \"Plain\"\n+++\n{{ raw() }} and {{ md() }}\n",
        );
    site.build().assert_ok();
    assert!(
        site.read("plain/index.html")
            .contains("<p>*not emphasis* and <em>emphasis</em></p>")
    );
}

#[test]
fn problems_after_a_call_point_at_the_source_not_the_expanded_text() {
    let site = SiteTest::fixture("shortcodes");
    site.write(
        "content/plain.md",
        "+++\ntitle = \"Plain\"\n+++\n{{ books(books=[\"A long title\", \"B\"]) }}\n\nA [link](@/nope.md) and {{ badge(text=\"x\") }} [another](@/gone.md).\n",
    );
    let run = site.build();
    run.assert_code(1);
    run.assert_stderr_contains(" --> content/plain.md:6:3\n");
    run.assert_stderr_contains(" --> content/plain.md:6:47\n");
}

#[test]
fn the_markdown_filter_renders_shortcodes_with_config_and_lang() {
    let site = SiteTest::fixture("shortcodes");
    site.write(
        "templates/shortcodes/site.html",
        "<b>{{ config.title }}/{{ lang }}/{{ text }}</b>",
    )
    .write(
        "templates/filtered.html",
        "{{ page.extra.intro | markdown | safe }}",
    )
    .write(
        "content/filtered.md",
        "+++\ntitle = \"F\"\ntemplate = \"filtered.html\"\n[extra]\n\
         intro = \"*Hi* {{ site(text='x') }} and {{/* site() */}}\"\n+++\n",
    );
    site.build().assert_ok();
    let html = site.read("filtered/index.html");
    assert!(
        html.contains("<p><em>Hi</em> <b>Shortcodes/en/x</b> and {{ site() }}</p>"),
        "{html}"
    );
    // A call to a shortcode that does not exist fails the page, naming it.
    site.write(
        "content/filtered.md",
        "+++\ntitle = \"F\"\ntemplate = \"filtered.html\"\n[extra]\nintro = \"{{ nope() }}\"\n+++\n",
    );
    site.build().assert_code(1).assert_stderr_contains("nope");
}

#[test]
fn listings_follow_the_config_values_a_summarys_shortcode_reads() {
    let site = SiteTest::fixture("shortcodes");
    site.write(
        "templates/shortcodes/badge.html",
        "<b class=\"badge\">{{ text }}{{ config.extra.mark | default(value='') }}</b>\n",
    );
    site.build().assert_ok();
    assert!(
        site.read("index.html")
            .contains("Summary with <b class=\"badge\">sum</b>")
    );
    site.run(&["build", "--set", "extra.mark=\"!\""])
        .assert_ok();
    let index = site.read("index.html");
    assert!(
        index.contains("Summary with <b class=\"badge\">sum!</b>"),
        "{index}"
    );
}
