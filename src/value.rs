//! Free-form values (`extra`, dates) read from TOML or YAML, as the JSON values templates see.
//!
//! TOML datetimes reach serde as a private one-key map; [`Json`] turns them back into the
//! RFC 3339 strings templates expect, so `extra.published | date` works for either format.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The key under which the `toml` crate hands datetimes to serde.
const TOML_DATETIME: &str = "$__toml_private_datetime";

/// Replaces TOML's datetime maps inside `value` by their string form.
pub fn unwrap_datetimes(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(s)) = map.get(TOML_DATETIME)
            {
                *value = Value::String(s.clone());
                return;
            }
            map.values_mut().for_each(unwrap_datetimes);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_datetimes),
        _ => {}
    }
}

/// Deserializes any value, with TOML datetimes as strings.
pub fn any<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let mut value = Value::deserialize(d)?;
    unwrap_datetimes(&mut value);
    Ok(value)
}

/// Deserializes an optional value, with TOML datetimes as strings.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    any(d).map(|v| (!v.is_null()).then_some(v))
}

/// Deserializes a table (`extra`), with TOML datetimes as strings.
pub fn table<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    let mut map = Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default();
    map.values_mut().for_each(unwrap_datetimes);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Extra {
        #[serde(deserialize_with = "super::table")]
        extra: serde_json::Map<String, serde_json::Value>,
    }

    #[test]
    fn toml_datetimes_become_strings() {
        let e: Extra =
            toml::from_str("[extra]\nwhen = 2024-05-01\nlist = [1979-05-27T07:32:00Z]").unwrap();
        assert_eq!(e.extra["when"], "2024-05-01");
        assert_eq!(e.extra["list"][0], "1979-05-27T07:32:00Z");
    }
}
