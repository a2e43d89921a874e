//! The pixels' work of processed images: a source decoded once (its EXIF orientation applied,
//! its ICC profile kept), then cropped, resized and encoded once per file asked of it.
//!
//! Called from the image step's rayon workers, one source at a time per worker, so a source
//! asked for at three widths is decoded once, not three times as Zola does. Resizing is
//! `fast_image_resize` (Lanczos3, as Zola's `resize_exact`; SIMD, measured in
//! `benches/images.py`). Every call into a decoder or an encoder runs under `catch_unwind`: a
//! damaged file is an error naming it, never a crash of the build.

use std::io::Cursor;
use std::path::Path;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::avif::AvifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder as _, ImageEncoder, ImageReader};

use crate::assets::image_meta::guarded;
use crate::assets::image_op::{Encoding, Instructions};

/// A decoded source.
pub(crate) struct Decoded {
    image: DynamicImage,
    /// Its colour profile, when it has one.
    icc: Option<Vec<u8>>,
}

impl Decoded {
    /// Its size, as displayed.
    pub(crate) fn size(&self) -> (u32, u32) {
        (self.image.width(), self.image.height())
    }
}

/// Decodes the image at `path`, turned as its EXIF orientation says.
pub(crate) fn decode(path: &Path) -> Result<Decoded, String> {
    guarded(path, || {
        let reader = ImageReader::open(path)
            .map_err(|e| e.to_string())?
            .with_guessed_format()
            .map_err(|e| e.to_string())?;
        let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
        let icc = decoder.icc_profile().ok().flatten();
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
        image.apply_orientation(orientation);
        Ok(Decoded { image, icc })
    })
}

/// One encoded file, and what could not be kept of the source.
pub(crate) struct Encoded {
    /// The file's bytes.
    pub(crate) bytes: Vec<u8>,
    /// Set when the source's colour profile was dropped because the encoder cannot carry it.
    pub(crate) profile_dropped: bool,
}

/// Crops, resizes and encodes `decoded` (from `path`, for messages).
pub(crate) fn make(
    path: &Path,
    decoded: &Decoded,
    instructions: Instructions,
    encoding: Encoding,
) -> Result<Encoded, String> {
    guarded(path, || {
        let resized = transform(&decoded.image, instructions)?;
        encode(&resized, decoded.icc.as_deref(), encoding)
    })
}

/// The crop and resize of `image`.
fn transform(
    image: &DynamicImage,
    instructions: Instructions,
) -> Result<std::borrow::Cow<'_, DynamicImage>, String> {
    let crop = instructions.crop;
    let Some((width, height)) = instructions.resize.or(crop.map(|(_, _, w, h)| (w, h))) else {
        return Ok(std::borrow::Cow::Borrowed(image));
    };
    if width == 0 || height == 0 {
        return Err(format!("the result would be {width}×{height} pixels"));
    }
    // fast_image_resize takes 8- and 16-bit grey and RGB(A) and 32-bit float RGB(A); other
    // layouts are widened to one of these first.
    let source: std::borrow::Cow<'_, DynamicImage> = match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_)
        | DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_)
        | DynamicImage::ImageRgb32F(_)
        | DynamicImage::ImageRgba32F(_) => std::borrow::Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            std::borrow::Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => std::borrow::Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let mut target = DynamicImage::new(width, height, source.color());
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if let Some((x, y, w, h)) = crop {
        options = options.crop(f64::from(x), f64::from(y), f64::from(w), f64::from(h));
    }
    Resizer::new()
        .resize(source.as_ref(), &mut target, &options)
        .map_err(|e| format!("cannot resize: {e}"))?;
    Ok(std::borrow::Cow::Owned(target))
}

/// Encodes `image` as `encoding`, with the colour profile `icc` where the encoder takes one.
fn encode(image: &DynamicImage, icc: Option<&[u8]>, encoding: Encoding) -> Result<Encoded, String> {
    let mut bytes = Vec::new();
    let mut profile_dropped = false;
    let mut with_profile = |encoder: &mut dyn ImageEncoder| {
        if let Some(icc) = icc
            && encoder.set_icc_profile(icc.to_vec()).is_err()
        {
            profile_dropped = true;
        }
    };
    let failed = |e: image::ImageError| format!("cannot encode: {e}");
    match encoding {
        Encoding::Jpeg { quality } => {
            // JPEG has no alpha channel: it is dropped (Zola fails on such images).
            let rgb;
            let image = if image.color().has_alpha() || image.color().bytes_per_pixel() > 3 {
                rgb = DynamicImage::ImageRgb8(image.to_rgb8());
                &rgb
            } else {
                image
            };
            let mut encoder = JpegEncoder::new_with_quality(&mut bytes, quality);
            with_profile(&mut encoder);
            encoder.encode_image(image).map_err(failed)?;
        }
        Encoding::Png => {
            let mut encoder = PngEncoder::new(&mut bytes);
            with_profile(&mut encoder);
            image.write_with_encoder(encoder).map_err(failed)?;
        }
        Encoding::WebP { quality: None } => {
            let image = eight_bit(image);
            let mut encoder = WebPEncoder::new_lossless(&mut bytes);
            with_profile(&mut encoder);
            image.write_with_encoder(encoder).map_err(failed)?;
        }
        Encoding::WebP {
            quality: Some(quality),
        } => {
            // libwebp's lossy encoder, as Zola's: it carries no colour profile.
            profile_dropped = icc.is_some();
            let image = eight_bit(image);
            let (width, height) = (image.width(), image.height());
            let memory = match image.as_ref() {
                DynamicImage::ImageRgba8(rgba) => {
                    webp::Encoder::from_rgba(rgba.as_raw(), width, height)
                        .encode(f32::from(quality))
                }
                other => {
                    let rgb = other.to_rgb8();
                    webp::Encoder::from_rgb(rgb.as_raw(), width, height).encode(f32::from(quality))
                }
            };
            bytes.extend_from_slice(&memory);
        }
        Encoding::Avif { quality, speed } => {
            let mut encoder =
                AvifEncoder::new_with_speed_quality(Cursor::new(&mut bytes), speed, quality);
            with_profile(&mut encoder);
            image.write_with_encoder(encoder).map_err(failed)?;
        }
    }
    Ok(Encoded {
        bytes,
        profile_dropped,
    })
}

/// `image` as 8-bit RGB or RGBA (WebP holds no more).
fn eight_bit(image: &DynamicImage) -> std::borrow::Cow<'_, DynamicImage> {
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
            std::borrow::Cow::Borrowed(image)
        }
        other if other.color().has_alpha() => {
            std::borrow::Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => std::borrow::Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, make};
    use crate::assets::image_op::{Encoding, Instructions, Operation};

    fn sample(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("a.png");
        let image = image::RgbaImage::from_fn(40, 30, |x, y| {
            image::Rgba([
                u8::try_from(x * 6).unwrap(),
                u8::try_from(y * 8).unwrap(),
                128,
                255,
            ])
        });
        image.save(&path).unwrap();
        path
    }

    #[test]
    fn every_encoding_decodes_back_at_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let decoded = decode(&path).unwrap();
        let fill = Instructions::new(Operation::Fill(10, 20), (40, 30));
        for (encoding, format) in [
            (Encoding::Jpeg { quality: 75 }, image::ImageFormat::Jpeg),
            (Encoding::Png, image::ImageFormat::Png),
            (Encoding::WebP { quality: None }, image::ImageFormat::WebP),
            (
                Encoding::WebP { quality: Some(60) },
                image::ImageFormat::WebP,
            ),
            (
                Encoding::Avif {
                    quality: 80,
                    speed: 10,
                },
                image::ImageFormat::Avif,
            ),
        ] {
            let made = make(&path, &decoded, fill, encoding).unwrap();
            assert_eq!(image::guess_format(&made.bytes).unwrap(), format);
            if format != image::ImageFormat::Avif {
                let back = image::load_from_memory(&made.bytes).unwrap();
                assert_eq!((back.width(), back.height()), (10, 20), "{encoding:?}");
            }
        }
    }

    #[test]
    fn a_truncated_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(decode(&path).is_err());
    }
}
