//! Writes deterministic test photos for `benches/images.py`: `COUNT` JPEGs of `WIDTH`×`HEIGHT`
//! (default 500 of 1600×1200) with gradients, shapes and noise, so they compress and resize like
//! photographs rather than flat colour.
//!
//! ```sh
//! cargo run --release --example gen_photos -- OUT_DIR [COUNT] [WIDTH] [HEIGHT]
//! ```
//!
//! Photo `i` goes to `OUT_DIR/i/photo.jpg` (a page bundle's folder); the same arguments always
//! give the same bytes.
//!
//! `gen_photos --compare-resize` times instead the two resamplers sitegen could use on such a
//! photo (Lanczos3 to 320, 800 and 1280 pixels wide): `image`'s `resize_exact`, which Zola
//! uses, and `fast_image_resize`, which sitegen uses.

#![allow(
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

use std::path::PathBuf;

use rayon::prelude::*;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--compare-resize") {
        compare_resize();
        return;
    }
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .expect("usage: gen_photos OUT_DIR [COUNT] [WIDTH] [HEIGHT]"),
    );
    let mut number = |default: u32| {
        args.next()
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (count, width, height) = (number(500), number(1600), number(1200));
    (0..count).into_par_iter().for_each(|i| {
        let mut rng = fastrand::Rng::with_seed(u64::from(i) * 7919 + 1);
        let (r0, g0, b0) = (rng.f32() * 255.0, rng.f32() * 255.0, rng.f32() * 255.0);
        let (cx, cy, radius) = (
            rng.f32() * width as f32,
            rng.f32() * height as f32,
            (0.1 + rng.f32() * 0.3) * height as f32,
        );
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let disc = if d < radius { 60.0 } else { 0.0 };
            let noise = (rng.f32() - 0.5) * 40.0;
            let channel = |base: f32, slope: f32| {
                (base * (1.0 - slope) + 255.0 * slope * 0.5 + disc + noise).clamp(0.0, 255.0) as u8
            };
            image::Rgb([
                channel(r0, fx),
                channel(g0, fy),
                channel(b0, f32::midpoint(fx, fy)),
            ])
        });
        let dir = out.join(i.to_string());
        std::fs::create_dir_all(&dir).expect("cannot create the output folder");
        let file = std::fs::File::create(dir.join("photo.jpg")).expect("cannot write a photo");
        let encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90);
        image
            .write_with_encoder(encoder)
            .expect("cannot encode a photo");
    });
}

/// Times `image`'s and `fast_image_resize`'s Lanczos3 on one 1600×1200 photo, to three widths.
fn compare_resize() {
    let photo = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(1600, 1200, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }));
    let sizes = [(320, 240), (800, 600), (1280, 960)];
    let runs = 5;
    let time = |work: &dyn Fn()| {
        let mut samples: Vec<f64> = (0..runs)
            .map(|_| {
                let start = std::time::Instant::now();
                work();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[runs / 2]
    };
    let image_ms = time(&|| {
        for (w, h) in sizes {
            std::hint::black_box(photo.resize_exact(w, h, image::imageops::FilterType::Lanczos3));
        }
    });
    let fast_ms = time(&|| {
        for (w, h) in sizes {
            let mut target = image::DynamicImage::new(w, h, photo.color());
            fast_image_resize::Resizer::new()
                .resize(
                    &photo,
                    &mut target,
                    &fast_image_resize::ResizeOptions::new(),
                )
                .expect("resize");
            std::hint::black_box(target);
        }
    });
    println!(
        "1600x1200 to 320, 800 and 1280 wide (Lanczos3, median of {runs}): image {image_ms:.1} ms, fast_image_resize {fast_ms:.1} ms ({:.1}x)",
        image_ms / fast_ms
    );
}
