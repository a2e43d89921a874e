//! Zola's image functions: `resize_image(path, width, height, op, format, quality, speed)` and
//! `get_image_metadata(path, allow_missing)`.
//!
//! Part of render: a call is answered at once (the URL and the size of the processed file,
//! from the source's header) and what it read is recorded as the output's dependency; the
//! processed file itself is made after rendering (see `assets::images`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tera::Function;

use crate::assets::image_op::Operation;
use crate::assets::images::Images;
use crate::plan::reason::Dep;
use crate::render::recorded::record;

/// An optional argument of type `T`; a value of another type is an error saying what it must be.
fn optional<T: serde::de::DeserializeOwned>(
    args: &HashMap<String, Value>,
    function: &str,
    name: &str,
    what: &str,
) -> tera::Result<Option<T>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| {
                tera::Error::msg(format!(
                    "`{function}`: `{name}` must be {what}, not `{value}`"
                ))
            }),
    }
}

/// `resize_image`.
pub(crate) struct ResizeImage(pub(crate) Arc<Images>);

impl Function for ResizeImage {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        const NAME: &str = "resize_image";
        let fail = |e: String| tera::Error::msg(format!("`{NAME}`: {e}"));
        let path: String = optional(args, NAME, "path", "a string")?
            .ok_or_else(|| fail("needs a `path` argument: the image to resize".to_owned()))?;
        let pixels = "a whole number of pixels (0 or more)";
        let width: Option<u32> = optional(args, NAME, "width", pixels)?;
        let height: Option<u32> = optional(args, NAME, "height", pixels)?;
        let op: String =
            optional(args, NAME, "op", "a string")?.unwrap_or_else(|| "fill".to_owned());
        let format: String =
            optional(args, NAME, "format", "a string")?.unwrap_or_else(|| "auto".to_owned());
        let quality: Option<u8> = optional(args, NAME, "quality", "a number from 0 to 100")?;
        let speed: Option<u8> = optional(args, NAME, "speed", "a number from 1 to 10")?;
        let op = Operation::from_args(&op, width, height).map_err(fail)?;
        let (value, dep) = self
            .0
            .resize(&path, op, &format, quality, speed)
            .map_err(fail)?;
        record(Dep::Image(dep));
        Ok(value)
    }
}

/// `get_image_metadata`.
pub(crate) struct GetImageMetadata(pub(crate) Arc<Images>);

impl Function for GetImageMetadata {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        const NAME: &str = "get_image_metadata";
        let path: String = optional(args, NAME, "path", "a string")?.ok_or_else(|| {
            tera::Error::msg(format!(
                "`{NAME}`: needs a `path` argument: the image to read"
            ))
        })?;
        let allow_missing: bool =
            optional(args, NAME, "allow_missing", "true or false")?.unwrap_or(false);
        let result = self.0.metadata(&path, allow_missing);
        match result {
            Ok((value, dep)) => {
                record(Dep::Image(dep));
                Ok(value)
            }
            Err(e) => Err(tera::Error::msg(format!("`{NAME}`: {e}"))),
        }
    }
}
