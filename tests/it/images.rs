//! Zola's image processing: `resize_image` with every op and format, `get_image_metadata`,
//! where paths are looked up, the cache in `.sitegen/`, incremental builds, a committed
//! `static/processed_images/`, and the errors.
//!
//! The images are made here with the `image` crate, so the tests need no binary fixture.

use std::path::Path;

use crate::support::SiteTest;

/// A `width`×`height` RGB picture with gradients and a disc (compresses like a photo).
fn photo(width: u32, height: u32, seed: u8) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let disc = (i64::from(x) - i64::from(width) / 2).pow(2)
            + (i64::from(y) - i64::from(height) / 3).pow(2)
            < i64::from(height * height / 9);
        image::Rgb([
            u8::try_from(x * 255 / width).unwrap() ^ seed,
            u8::try_from(y * 255 / height).unwrap(),
            if disc { 200 } else { 40 },
        ])
    })
}

fn jpeg(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut bytes, 90,
        ))
        .unwrap();
    bytes
}

fn png(image: &image::RgbImage, icc: Option<&[u8]>) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
    if let Some(icc) = icc {
        encoder.set_icc_profile(icc.to_vec()).unwrap();
    }
    image.write_with_encoder(encoder).unwrap();
    bytes
}

/// `jpeg` with an EXIF block saying the picture is turned a quarter (orientation 6).
fn rotated_jpeg(image: &image::RgbImage) -> Vec<u8> {
    let bytes = jpeg(image);
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    exif.extend_from_slice(b"\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0");
    let length = u16::try_from(exif.len() + 2).unwrap().to_be_bytes();
    let mut out = bytes[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1, length[0], length[1]]);
    out.extend_from_slice(&exif);
    out.extend_from_slice(&bytes[2..]);
    out
}

/// The size of an image of the output (AVIF too, read from its header).
fn size_of(site: &SiteTest, file: &str) -> (usize, usize) {
    let size = imagesize::size(site.output().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    (size.width, size.height)
}

/// The output path of every `src="…/processed_images/NAME"` in `html`.
fn processed(html: &str) -> Vec<String> {
    // Tera's autoescape writes `/` as `&#x2F;`.
    html.replace("&#x2F;", "/")
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| {
            let url = rest.split('"').next()?;
            let (_, name) = url.split_once("/processed_images/")?;
            Some(format!("processed_images/{name}"))
        })
        .collect()
}

fn cached(site: &SiteTest) -> usize {
    std::fs::read_dir(site.root().join(".sitegen/processed_images")).map_or(0, Iterator::count)
}

const CONFIG: &str = "base_url = \"https://example.org\"\ntitle = \"Images\"\n";

/// A site whose gallery page shows `template`'s calls on a bundle photo (400×300), a static
/// PNG (60×40, with a colour profile), an SVG and a photo taken turned (120×80, shown 80×120).
fn site(template: &str) -> SiteTest {
    let site = SiteTest::empty();
    site.write("config.toml", CONFIG)
        .write("templates/index.html", "home")
        .write("templates/section.html", "{{ section.title }}")
        .write("templates/page.html", template)
        .write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n")
        .write(
            "content/gallery/index.md",
            "+++\ntitle = \"Gallery\"\n+++\nPhotos.\n",
        )
        .write("content/gallery/photo.jpg", jpeg(&photo(400, 300, 0)))
        .write(
            "static/logo.png",
            png(&photo(60, 40, 3), Some(b"not a real profile")),
        )
        .write(
            "static/icon.svg",
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 16"/>"#,
        )
        .write(
            "content/gallery/turned.jpg",
            rotated_jpeg(&photo(120, 80, 5)),
        );
    site
}

#[test]
fn every_op_and_format_answers_as_zola_and_writes_its_file() {
    let template = r#"{% set p = page.colocated_path ~ "photo.jpg" %}
{% for call in ["scale 150 50 auto", "fit_width 120 0 auto", "fit_height 0 60 auto",
  "fit 5000 5000 auto", "fit 100 100 png", "fill 100 100 webp", "fill 90 30 avif", "fit_width 50 0 jpg"]
%}{% set args = call | split(pat=" ") %}{% set r = resize_image(path=p, op=args.0, width=args.1 | int, height=args.2 | int, format=args.3) %}
<img src="{{ r.url }}" data-size="{{ r.width }}x{{ r.height }}" data-orig="{{ r.orig_width }}x{{ r.orig_height }}" data-static="{{ r.static_path }}">
{% endfor %}
{% set lossy = resize_image(path=p, width=80, height=80, format="webp", quality=70) %}<img src="{{ lossy.url }}">
{% set logo = resize_image(path="logo.png", width=30, height=20) %}<img src="{{ logo.url }}" data-size="{{ logo.width }}x{{ logo.height }}">
{% set turned = resize_image(path="gallery/turned.jpg", width=40, op="fit_width") %}<img src="{{ turned.url }}" data-size="{{ turned.width }}x{{ turned.height }}" data-orig="{{ turned.orig_width }}x{{ turned.orig_height }}">
"#;
    let site = site(template);
    site.build().assert_ok();
    let html = site.read("gallery/index.html");
    let files = processed(&html);
    assert_eq!(files.len(), 11, "{html}");
    let expected = [
        ((150, 50), "jpg"),
        ((120, 90), "jpg"),
        ((80, 60), "jpg"),
        ((400, 300), "jpg"),
        ((100, 75), "png"),
        ((100, 100), "webp"),
        ((90, 30), "avif"),
        ((50, 37), "jpg"),
    ];
    for (file, ((w, h), extension)) in files.iter().zip(expected) {
        assert!(file.ends_with(extension), "{file}");
        assert_eq!(size_of(&site, file), (w, h), "{file}");
        assert!(
            html.contains(&format!("data-size=\"{w}x{h}\" data-orig=\"400x300\"")),
            "{file}: {html}"
        );
    }
    assert!(
        html.replace("&#x2F;", "/")
            .contains("data-static=\"static/processed_images/photo.")
    );
    assert!(
        files[0].starts_with("processed_images/photo.")
            && files[0].len() == "processed_images/photo.0123456789abcdef.jpg".len()
    );
    assert!(files[8].ends_with(".webp"));
    assert_eq!(size_of(&site, &files[9]), (30, 20));
    assert!(
        files[9].ends_with(".png"),
        "a PNG stays a PNG with format=auto"
    );
    assert!(
        html.contains("data-size=\"40x60\" data-orig=\"80x120\""),
        "EXIF orientation applied: {html}"
    );
    assert_eq!(size_of(&site, &files[10]), (40, 60));
    // The colour profile is kept.
    let logo = image::ImageReader::open(site.output().join(&files[9])).unwrap();
    let mut decoder =
        image::ImageReader::into_decoder(logo.with_guessed_format().unwrap()).unwrap();
    assert_eq!(
        image::ImageDecoder::icc_profile(&mut decoder)
            .unwrap()
            .as_deref(),
        Some(&b"not a real profile"[..])
    );
    // Made into the cache, never into the site's static/.
    assert_eq!(cached(&site), 11);
    assert!(!site.root().join("static/processed_images").exists());
    let listed: Vec<_> = std::fs::read_dir(site.output().join("processed_images"))
        .unwrap()
        .collect();
    assert_eq!(listed.len(), 11);
}

#[test]
fn get_image_metadata_is_zolas() {
    let template = r#"{% for p in ["gallery/photo.jpg", "/logo.png", "icon.svg", "@/gallery/turned.jpg"] %}{{ get_image_metadata(path=p) | json_encode() | safe }}
{% endfor %}{{ get_image_metadata(path="nope.png", allow_missing=true) | json_encode() | safe }}"#;
    let site = site(template);
    site.build().assert_ok();
    assert_eq!(
        site.read("gallery/index.html"),
        r#"{"width":400,"height":300,"format":"jpg","mime":"image/jpeg"}
{"width":60,"height":40,"format":"png","mime":"image/png"}
{"width":24,"height":16,"format":"svg","mime":"text/svg+xml"}
{"width":80,"height":120,"format":"jpg","mime":"image/jpeg"}
null"#
    );
}

fn explain(site: &SiteTest) -> Vec<(String, String)> {
    let run = site.run(&["build", "--explain", "--format", "json"]);
    run.assert_ok();
    run.json()["rebuilt"]
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
fn images_are_made_once_and_follow_their_sources() {
    let template = r#"{% set r = resize_image(path=page.colocated_path ~ "photo.jpg", width=100, op="fit_width") %}<img src="{{ r.url }}" height="{{ r.height }}">"#;
    let site = site(template);
    site.write("content/other/index.md", "+++\ntitle = \"Other\"\n+++\n")
        .write("content/other/photo.jpg", jpeg(&photo(200, 100, 9)));
    let first = explain(&site);
    let made: Vec<_> = first
        .iter()
        .filter(|(f, _)| f.starts_with("processed_images/"))
        .collect();
    assert_eq!(made.len(), 2, "{first:?}");
    assert!(made.iter().all(|(_, why)| why == "processed image, made"));
    let gallery = processed(&site.read("gallery/index.html")).remove(0);
    let other = processed(&site.read("other/index.html")).remove(0);
    assert_eq!(size_of(&site, &other), (100, 50));

    // Nothing changed: nothing is made or written.
    assert_eq!(explain(&site), Vec::<(String, String)>::new());

    // An edit of a page's text renders the page; its image is kept as it is.
    site.write(
        "content/gallery/index.md",
        "+++\ntitle = \"Gallery\"\n+++\nMore photos.\n",
    );
    let rebuilt = explain(&site);
    assert!(
        rebuilt
            .iter()
            .all(|(file, _)| !file.starts_with("processed_images/")),
        "{rebuilt:?}"
    );
    assert!(site.exists(&gallery) && site.exists(&other));

    // New pixels, the same size: the image is made again, the page is not rendered again.
    site.write("content/other/photo.jpg", jpeg(&photo(200, 100, 77)));
    assert_eq!(
        explain(&site),
        [
            ("other/photo.jpg".to_owned(), "source changed".to_owned()),
            (other.clone(), "processed image, made".to_owned())
        ]
    );

    // A new size: the page is rendered again with the new height, under the same name.
    site.write("content/other/photo.jpg", jpeg(&photo(200, 200, 77)));
    let rebuilt = explain(&site);
    assert!(
        rebuilt.contains(&(
            "other/index.html".to_owned(),
            "image `other/photo.jpg` changed".to_owned()
        )),
        "{rebuilt:?}"
    );
    assert!(site.read("other/index.html").contains("height=\"100\""));
    assert_eq!(size_of(&site, &other), (100, 100));

    // A page that asks no more: its file leaves the output; the cache keeps it a while.
    site.remove("content/other");
    explain(&site);
    assert!(!site.exists(&other));
    assert!(site.exists(&gallery));
    assert_eq!(
        cached(&site),
        4,
        "every version made stays in the cache a while"
    );

    // A clean build takes every image from the cache.
    let rebuilt = site.run(&["build", "--full", "--explain", "--format", "json"]);
    rebuilt.assert_ok();
    let reasons: Vec<String> = rebuilt.json()["rebuilt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"].as_str().unwrap().starts_with("processed_images/"))
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["processed image, from the cache"]);
    assert_eq!(size_of(&site, &gallery), (100, 75));

    // A processed file deleted from the output is put back.
    std::fs::remove_file(site.output().join(&gallery)).unwrap();
    assert_eq!(
        explain(&site),
        [(
            gallery.clone(),
            "processed image, from the cache".to_owned()
        )]
    );
}

#[test]
fn a_committed_static_processed_images_folder_builds() {
    let template = r#"{% set r = resize_image(path=page.colocated_path ~ "photo.jpg", width=100, height=100) %}<a href="{{ r.url | safe }}"><img src="{{ r.url }}"></a> <a href="/processed_images/old.1234.jpg">old</a>"#;
    let site = site(template);
    // Links to processed images are not broken links (`--strict` fails on those).
    site.run(&["build", "--quiet", "--strict"]).assert_ok();
    let name = processed(&site.read("gallery/index.html")).remove(0);
    let ours = std::fs::read(site.output().join(&name)).unwrap();
    // Zola's folder, committed: one file this build makes too, one nobody asks for.
    site.write(&format!("static/{name}"), b"made by zola")
        .write("static/processed_images/old.1234.jpg", b"an old one");
    site.run(&["build", "--full", "--quiet"]).assert_ok();
    assert_eq!(
        std::fs::read(site.output().join(&name)).unwrap(),
        ours,
        "the made file wins"
    );
    assert_eq!(site.read("processed_images/old.1234.jpg"), "an old one");
    // Incremental builds keep them so.
    site.write("static/processed_images/old.1234.jpg", b"changed");
    site.build().assert_ok();
    assert_eq!(site.read("processed_images/old.1234.jpg"), "changed");
    assert_eq!(std::fs::read(site.output().join(&name)).unwrap(), ours);
    site.remove("static/processed_images/old.1234.jpg");
    site.build().assert_ok();
    assert!(!site.exists("processed_images/old.1234.jpg"));
    assert!(site.exists(&name));
}

#[test]
fn mistakes_are_errors_that_say_what_to_do() {
    let cases = [
        (
            r#"{{ resize_image(path="nope.jpg", width=10, height=10) }}"#,
            "`resize_image`: cannot find `nope.jpg`",
        ),
        (
            r#"{{ resize_image(path="logo.png", width=10, height=10, op="crop") }}"#,
            "unknown op `crop`: use `scale`, `fit_width`, `fit_height`, `fit` or `fill`",
        ),
        (
            r#"{{ resize_image(path="logo.png", width=0, height=10) }}"#,
            "width=0 with op=\"fill\" makes an empty image",
        ),
        (
            r#"{{ resize_image(path="logo.png", width=10, op="fit_height") }}"#,
            "op=\"fit_height\" needs a `height` argument",
        ),
        (
            r#"{{ resize_image(path="logo.png", width=10, height=10, format="gif") }}"#,
            "unknown format `gif`",
        ),
        (
            r#"{{ resize_image(path="logo.png", width=10, height=10, format="jpg", quality=0) }}"#,
            "quality for JPEG must be between 1 and 100",
        ),
        (
            r#"{{ resize_image(path="icon.svg", width=10, height=10) }}"#,
            "cannot read `static/icon.svg` as an image",
        ),
        (
            r#"{{ get_image_metadata(path="nope.png") }}"#,
            "`get_image_metadata`: cannot find `nope.png`",
        ),
        (
            r#"{{ get_image_metadata(path="config.toml") }}"#,
            "`get_image_metadata`: cannot read `config.toml` as an image",
        ),
    ];
    for (template, message) in cases {
        let site = site(template);
        let run = site.build();
        run.assert_code(1)
            .assert_stderr_contains(message)
            .assert_stderr_contains("templates/page.html:1");
        assert!(!site.output().exists(), "a failed build writes nothing");
    }
}

#[test]
fn a_damaged_image_is_an_error_naming_it() {
    let template = r#"{% set r = resize_image(path="logo.png", width=10, height=10) %}{{ r.url }}"#;
    let site = site(template);
    // The header is whole (the call answers), the pixels are cut off.
    let whole = png(&photo(400, 300, 0), None);
    site.write("static/logo.png", &whole[..whole.len() / 2]);
    let run = site.build();
    run.assert_code(1)
        .assert_stderr_contains("`resize_image`: cannot process `static/logo.png`");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!Path::new(&site.output()).exists());
}
