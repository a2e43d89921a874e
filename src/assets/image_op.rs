//! What `resize_image` asks for, checked and resolved as Zola 0.22 resolves it: the operation
//! (`op`, `width`, `height`), the encoding (`format`, `quality`, `speed`), the crop and resize
//! they come to for an image of a given size, and the name Zola gives the result.
//!
//! Pure: no file is read here. The name must be Zola's to the bit, so that a site moved from
//! Zola keeps its image URLs (and a committed `static/processed_images/` matches): it is the
//! 64-bit `SipHash-1-3` (std's `DefaultHasher`, keys 0) of the path as written, the operation and
//! the encoding, fed in the order and widths Zola's derived `Hash` impls feed them.

use std::hash::Hasher as _;

use serde::{Deserialize, Serialize};

/// A resize operation with its dimensions (`op` of `resize_image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// `scale`: exactly `width` × `height`, whatever the aspect ratio.
    Scale(u32, u32),
    /// `fit_width`: `width` wide, the height keeping the aspect ratio.
    FitWidth(u32),
    /// `fit_height`: `height` high, the width keeping the aspect ratio.
    FitHeight(u32),
    /// `fit`: within `width` × `height`, keeping the aspect ratio; never enlarged.
    Fit(u32, u32),
    /// `fill`: the centre of the image with the aspect ratio of `width` × `height`, scaled to it.
    Fill(u32, u32),
}

/// The ops `resize_image` knows, for messages.
const OPS: &str = "`scale`, `fit_width`, `fit_height`, `fit` or `fill`";

impl Operation {
    /// The operation `op` with the `width` and `height` given. Zola's default op is `fill`.
    /// A dimension the op needs must be there and be at least 1.
    pub(crate) fn from_args(
        op: &str,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<Self, String> {
        let need = |value: Option<u32>, name: &str| match value {
            None => Err(format!(
                "op=\"{op}\" needs a `{name}` argument (a whole number of pixels)"
            )),
            Some(0) => Err(format!(
                "{name}=0 with op=\"{op}\" makes an empty image: give a {name} of at least 1"
            )),
            Some(n) => Ok(n),
        };
        match op {
            "scale" => Ok(Self::Scale(need(width, "width")?, need(height, "height")?)),
            "fit_width" => Ok(Self::FitWidth(need(width, "width")?)),
            "fit_height" => Ok(Self::FitHeight(need(height, "height")?)),
            "fit" => Ok(Self::Fit(need(width, "width")?, need(height, "height")?)),
            "fill" => Ok(Self::Fill(need(width, "width")?, need(height, "height")?)),
            other => Err(format!("unknown op `{other}`: use {OPS}")),
        }
    }

    /// Feeds the operation to `h` as Zola's derived `Hash` does: the variant's index as an
    /// `isize`, then each dimension as a `u32`.
    fn feed(self, h: &mut std::hash::DefaultHasher) {
        let (index, dims): (isize, &[u32]) = match &self {
            Self::Scale(w, hh) => (0, &[*w, *hh]),
            Self::FitWidth(w) => (1, std::slice::from_ref(w)),
            Self::FitHeight(hh) => (2, std::slice::from_ref(hh)),
            Self::Fit(w, hh) => (3, &[*w, *hh]),
            Self::Fill(w, hh) => (4, &[*w, *hh]),
        };
        h.write_isize(index);
        for d in dims {
            h.write_u32(*d);
        }
    }
}

/// The encoding of a processed image (`format`, `quality`, `speed` of `resize_image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// JPEG at a quality of 1 to 100 (default 75).
    Jpeg {
        /// Quality.
        quality: u8,
    },
    /// PNG.
    Png,
    /// WebP: lossless without a quality (the default), else lossy at 0 to 100.
    WebP {
        /// Quality; `None`: lossless.
        quality: Option<u8>,
    },
    /// AVIF at a quality of 1 to 100 (default 80) and a speed of 1 to 10 (default 5).
    Avif {
        /// Quality.
        quality: u8,
        /// Encoder speed.
        speed: u8,
    },
}

impl Encoding {
    /// The encoding `format` asks for. `auto` is JPEG for a lossy source and PNG for a lossless
    /// one, as in Zola; quality and speed out of their ranges are errors.
    pub(crate) fn from_args(
        format: &str,
        lossy_source: bool,
        quality: Option<u8>,
        speed: Option<u8>,
    ) -> Result<Self, String> {
        let format = match (format, lossy_source) {
            ("auto", true) => "jpg",
            ("auto", false) => "png",
            (other, _) => other,
        };
        let ranged = |value: u8, (min, max): (u8, u8), what: &str| {
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(format!(
                    "{what} must be between {min} and {max} (inclusive); {value} is not valid"
                ))
            }
        };
        match format {
            "jpg" | "jpeg" => Ok(Self::Jpeg {
                quality: ranged(quality.unwrap_or(75), (1, 100), "quality for JPEG")?,
            }),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::WebP {
                quality: quality
                    .map(|q| ranged(q, (0, 100), "quality for WebP"))
                    .transpose()?,
            }),
            "avif" => Ok(Self::Avif {
                quality: ranged(quality.unwrap_or(80), (1, 100), "quality for AVIF")?,
                speed: ranged(speed.unwrap_or(5), (1, 10), "speed for AVIF")?,
            }),
            other => Err(format!(
                "unknown format `{other}`: use `auto`, `jpg`, `png`, `webp` or `avif`"
            )),
        }
    }

    /// The file extension of the result.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Jpeg { .. } => "jpg",
            Self::Png => "png",
            Self::WebP { .. } => "webp",
            Self::Avif { .. } => "avif",
        }
    }

    /// Feeds the encoding to `h` as Zola's `Hash` impl of its format does: the extension, then
    /// the quality and the speed as `i16`s, -1 where there is none.
    fn feed(self, h: &mut std::hash::DefaultHasher) {
        let (quality, speed): (i16, i16) = match self {
            Self::Jpeg { quality }
            | Self::WebP {
                quality: Some(quality),
            } => (quality.into(), -1),
            Self::Png | Self::WebP { quality: None } => (-1, -1),
            Self::Avif { quality, speed } => (quality.into(), speed.into()),
        };
        h.write(self.extension().as_bytes());
        h.write_i16(quality);
        h.write_i16(speed);
    }
}

/// What to do to the pixels: crop first (x, y, width, height), then resize (width, height).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Instructions {
    /// The part of the source kept, if not all of it.
    pub(crate) crop: Option<(u32, u32, u32, u32)>,
    /// The size it is scaled to, if it is scaled.
    pub(crate) resize: Option<(u32, u32)>,
}

impl Instructions {
    /// The crop and resize `op` comes to for a source of `width` × `height` (as displayed,
    /// after its EXIF orientation), computed as Zola computes them.
    pub(crate) fn new(op: Operation, (width, height): (u32, u32)) -> Self {
        let (w64, h64) = (u64::from(width), u64::from(height));
        let scaled = |size: (u32, u32)| Self {
            crop: None,
            resize: Some(size),
        };
        let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        match op {
            Operation::Scale(w, h) => scaled((w, h)),
            Operation::FitWidth(w) => scaled((w, narrow(h64 * u64::from(w) / w64.max(1)))),
            Operation::FitHeight(h) => scaled((narrow(w64 * u64::from(h) / h64.max(1)), h)),
            Operation::Fit(w, h) => {
                if width <= w && height <= h {
                    Self::default()
                } else if w64 * u64::from(h) > h64 * u64::from(w) {
                    Self::new(Operation::FitWidth(w), (width, height))
                } else {
                    Self::new(Operation::FitHeight(h), (width, height))
                }
            }
            Operation::Fill(w, h) => {
                // As Zola: when the two scale factors are within 0.1 of each other, the
                // aspect ratios are close enough to scale without cropping.
                #[allow(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "Zola computes the crop in f32, rounding; the values are pixel counts"
                )]
                {
                    let factor_w = width as f32 / w as f32;
                    let factor_h = height as f32 / h as f32;
                    if (factor_w - factor_h).abs() <= 0.1 {
                        return scaled((w, h));
                    }
                    let (crop_w, crop_h) = if factor_w < factor_h {
                        (width, (factor_w * h as f32).round() as u32)
                    } else {
                        ((factor_h * w as f32).round() as u32, height)
                    };
                    let (x, y) = if factor_w < factor_h {
                        (0, height.saturating_sub(crop_h) / 2)
                    } else {
                        (width.saturating_sub(crop_w) / 2, 0)
                    };
                    Self {
                        crop: Some((x, y, crop_w, crop_h)),
                        resize: Some((w, h)),
                    }
                }
            }
        }
    }

    /// The size of the result for a source of `size`.
    pub(crate) fn size(&self, size: (u32, u32)) -> (u32, u32) {
        self.resize
            .or(self.crop.map(|(_, _, w, h)| (w, h)))
            .unwrap_or(size)
    }
}

/// The file name Zola gives the result of `op` and `encoding` on the file asked for as
/// `unified` (the path as written, `@/` made `content/`, without a leading `/`), whose file
/// stem is `stem`: `STEM.HASH.EXT`, with the 16 hex digits of Zola's hash.
pub(crate) fn zola_file_name(
    stem: &str,
    unified: &str,
    op: Operation,
    encoding: Encoding,
) -> String {
    let mut h = std::hash::DefaultHasher::new();
    h.write(unified.as_bytes());
    op.feed(&mut h);
    encoding.feed(&mut h);
    format!("{stem}.{:016x}.{}", h.finish(), encoding.extension())
}

/// The path as Zola writes it into the name's hash: `@/` becomes `content/` (every one, as
/// Zola replaces them), else a leading `/` is dropped.
pub(crate) fn unified_path(path: &str) -> String {
    if path.starts_with("@/") {
        path.replace("@/", "content/")
    } else {
        path.trim_start_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{Encoding, Instructions, Operation, unified_path, zola_file_name};

    const Q75: Encoding = Encoding::Jpeg { quality: 75 };

    #[test]
    fn names_are_zolas() {
        // The names Zola 0.22.1's own tests expect (components/templates/src/global_fns/images.rs).
        let fill = Operation::Fill(40, 40);
        for (path, stem, name) in [
            (
                "static/gutenberg.jpg",
                "gutenberg",
                "gutenberg.e99218b5a3185c99.jpg",
            ),
            (
                "content/gutenberg.jpg",
                "gutenberg",
                "gutenberg.155d032b1aae0133.jpg",
            ),
            (
                "/content/gutenberg.jpg",
                "gutenberg",
                "gutenberg.155d032b1aae0133.jpg",
            ),
            (
                "@/gutenberg.jpg",
                "gutenberg",
                "gutenberg.155d032b1aae0133.jpg",
            ),
            ("gallery/asset.jpg", "asset", "asset.160461e0d0be19e6.jpg"),
            ("in-theme.jpg", "in-theme", "in-theme.d8f4f6eef30de1b2.jpg"),
        ] {
            assert_eq!(
                zola_file_name(stem, &unified_path(path), fill, Q75),
                name,
                "{path}"
            );
        }
    }

    #[test]
    fn ops_check_their_dimensions() {
        assert_eq!(
            Operation::from_args("fit_width", Some(100), None),
            Ok(Operation::FitWidth(100))
        );
        // Zola's documentation passes height=0 to fit_width: only the width counts.
        assert_eq!(
            Operation::from_args("fit_width", Some(100), Some(0)),
            Ok(Operation::FitWidth(100))
        );
        let err = Operation::from_args("fill", Some(10), None).unwrap_err();
        assert!(err.contains("needs a `height`"), "{err}");
        let err = Operation::from_args("scale", Some(0), Some(10)).unwrap_err();
        assert!(err.contains("width=0"), "{err}");
        let err = Operation::from_args("crop", Some(1), Some(1)).unwrap_err();
        assert!(err.contains("unknown op `crop`"), "{err}");
    }

    #[test]
    fn encodings_default_and_range_as_zola() {
        assert_eq!(Encoding::from_args("auto", true, None, None), Ok(Q75));
        assert_eq!(
            Encoding::from_args("auto", false, Some(10), None),
            Ok(Encoding::Png)
        );
        assert_eq!(
            Encoding::from_args("webp", true, None, None),
            Ok(Encoding::WebP { quality: None })
        );
        assert_eq!(
            Encoding::from_args("avif", true, None, None),
            Ok(Encoding::Avif {
                quality: 80,
                speed: 5
            })
        );
        assert!(Encoding::from_args("jpg", true, Some(0), None).is_err());
        assert!(Encoding::from_args("avif", true, None, Some(11)).is_err());
        assert!(Encoding::from_args("gif", true, None, None).is_err());
    }

    #[test]
    fn instructions_are_zolas() {
        let src = (300, 380);
        let i = |op| Instructions::new(op, src);
        assert_eq!(i(Operation::Scale(150, 150)).resize, Some((150, 150)));
        assert_eq!(i(Operation::FitWidth(100)).size(src), (100, 126));
        assert_eq!(i(Operation::FitHeight(150)).size(src), (118, 150));
        assert_eq!(i(Operation::Fit(5000, 5000)), Instructions::default());
        assert_eq!(i(Operation::Fit(5000, 5000)).size(src), src);
        assert_eq!(i(Operation::Fit(150, 150)).size(src), (118, 150));
        let fill = i(Operation::Fill(150, 150));
        assert_eq!(fill.crop, Some((0, 40, 300, 300)));
        assert_eq!(fill.size(src), (150, 150));
        // Close aspect ratios scale without a crop.
        assert_eq!(Instructions::new(Operation::Fill(100, 127), src).crop, None);
    }
}
