//! What an image is, read cheaply from its header as Zola 0.22 reads it: the size it shows at
//! (its EXIF orientation applied), its format, and whether that format is lossy (which
//! `format="auto"` goes by). SVG and AVIF files, which `image` does not decode here, are read as
//! Zola reads them for `get_image_metadata` (their declared size; SVG's `width`/`height`, else
//! its `viewBox`).
//!
//! A file that is not an image, or a damaged one, is an error naming the file, never a panic:
//! every decoder call runs under `catch_unwind`.

use std::path::Path;

use image::{ImageDecoder as _, ImageFormat, ImageReader};
use serde_json::{Value, json};

/// An image's header, as `resize_image` needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageMeta {
    /// Width as displayed (after the EXIF orientation).
    pub(crate) width: u32,
    /// Height as displayed.
    pub(crate) height: u32,
    /// Its format, when known.
    pub(crate) format: Option<ImageFormat>,
}

impl ImageMeta {
    /// Reads the header of the raster image at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        guarded(path, || {
            let reader = ImageReader::open(path)
                .map_err(|e| e.to_string())?
                .with_guessed_format()
                .map_err(|e| e.to_string())?;
            let format = reader.format();
            let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
            let (width, height) = decoder.dimensions();
            // A damaged EXIF block means no orientation, as in Zola.
            let orientation = decoder
                .orientation()
                .unwrap_or(image::metadata::Orientation::NoTransforms);
            let (width, height) = if swaps_sides(orientation) {
                (height, width)
            } else {
                (width, height)
            };
            Ok(Self {
                width,
                height,
                format,
            })
        })
    }

    /// Whether the format is lossy: unknown formats count as lossy, as in Zola.
    pub(crate) fn is_lossy(&self) -> bool {
        !matches!(
            self.format.unwrap_or(ImageFormat::Jpeg),
            ImageFormat::Png
                | ImageFormat::Pnm
                | ImageFormat::Tiff
                | ImageFormat::Tga
                | ImageFormat::Bmp
                | ImageFormat::Ico
                | ImageFormat::Hdr
                | ImageFormat::Farbfeld
        )
    }
}

/// Whether an orientation turns the image a quarter (its width becomes its height).
pub(crate) fn swaps_sides(orientation: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    matches!(
        orientation,
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH
    )
}

/// What `get_image_metadata` returns for the image at `path`, as Zola returns it: `width`,
/// `height`, `format` (the format's first extension: `jpg`, `png`, `svg`, …) and `mime`
/// (Zola's, `text/svg+xml` for SVG included).
pub(crate) fn metadata_value(path: &Path) -> Result<Value, String> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    let value = |width: u32, height: u32, format: Option<&str>, mime: Option<&str>| json!({ "width": width, "height": height, "format": format, "mime": mime });
    match extension.as_str() {
        "svg" => {
            let meta = svg_metadata::Metadata::parse_file(path).map_err(|e| e.to_string())?;
            let (width, height) = match (meta.width(), meta.height(), meta.view_box()) {
                (Some(w), Some(h), _) => (w, h),
                (_, _, Some(view_box)) => (view_box.width, view_box.height),
                _ => {
                    return Err("the SVG has neither a width and a height nor a viewBox".to_owned());
                }
            };
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "Zola truncates an SVG's size to whole pixels the same way"
            )]
            Ok(value(
                width as u32,
                height as u32,
                Some("svg"),
                Some("text/svg+xml"),
            ))
        }
        "avif" => guarded(path, || {
            let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
            let avif = avif_parse::read_avif(&mut std::io::BufReader::new(file))
                .map_err(|e| format!("not a valid AVIF file: {e:?}"))?;
            let meta = avif
                .primary_item_metadata()
                .map_err(|e| format!("not a valid AVIF file: {e:?}"))?;
            Ok(value(
                meta.max_frame_width.get(),
                meta.max_frame_height.get(),
                Some("avif"),
                Some("image/avif"),
            ))
        }),
        _ => {
            let meta = ImageMeta::read(path)?;
            Ok(value(
                meta.width,
                meta.height,
                meta.format
                    .and_then(|f| f.extensions_str().first().copied()),
                meta.format.map(|f| f.to_mime_type()),
            ))
        }
    }
}

/// Runs decoder code on `path`, a panic in it becoming an error.
pub(crate) fn guarded<T>(
    path: &Path,
    work: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "the decoder crashed on `{}` ({what})",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::{ImageMeta, metadata_value};

    #[test]
    fn svg_sizes_come_from_width_and_height_or_the_view_box() {
        let dir = tempfile::tempdir().unwrap();
        let sized = dir.path().join("a.svg");
        std::fs::write(
            &sized,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30.7" viewBox="0 0 10 10"/>"#,
        )
        .unwrap();
        let boxed = dir.path().join("b.svg");
        std::fs::write(
            &boxed,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 48"/>"#,
        )
        .unwrap();
        assert_eq!(
            metadata_value(&sized).unwrap().to_string(),
            r#"{"width":120,"height":30,"format":"svg","mime":"text/svg+xml"}"#
        );
        assert_eq!(metadata_value(&boxed).unwrap()["width"], 64);
        let bare = dir.path().join("c.svg");
        std::fs::write(&bare, r#"<svg xmlns="http://www.w3.org/2000/svg"/>"#).unwrap();
        assert!(metadata_value(&bare).is_err());
    }

    #[test]
    fn rasters_and_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        image::RgbImage::new(7, 3).save(&png).unwrap();
        let meta = ImageMeta::read(&png).unwrap();
        assert_eq!((meta.width, meta.height, meta.is_lossy()), (7, 3, false));
        assert_eq!(
            metadata_value(&png).unwrap().to_string(),
            r#"{"width":7,"height":3,"format":"png","mime":"image/png"}"#
        );
        let broken = dir.path().join("b.jpg");
        std::fs::write(&broken, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
        assert!(ImageMeta::read(&broken).is_err());
        let text = dir.path().join("c.avif");
        std::fs::write(&text, b"hello").unwrap();
        assert!(metadata_value(&text).is_err());
    }
}
