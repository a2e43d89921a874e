//! Content hashes: blake3 digests of files, outputs and the inputs of outputs.
//!
//! A [`ContentHash`] is what the build state stores and compares; a [`Fingerprint`] builds one
//! from many parts (each length-prefixed, so `("ab", "c")` and `("a", "bc")` differ).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A blake3 digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

/// Stored as 32 raw bytes (`MessagePack` `bin`), not as an array of numbers.
impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = ContentHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("32 bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ContentHash, E> {
                <[u8; 32]>::try_from(v)
                    .map(ContentHash)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

impl ContentHash {
    /// The hash of `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// All 64 hex digits.
    pub(crate) fn hex(&self) -> String {
        hex(&self.0)
    }

    /// The first 20 hex digits, for cache-busting URLs.
    pub(crate) fn short_hex(&self) -> String {
        hex(&self.0[..10])
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.short_hex())
    }
}

/// Builds a [`ContentHash`] from many parts.
#[derive(Default)]
pub struct Fingerprint(blake3::Hasher);

impl Fingerprint {
    /// A fingerprint of nothing yet, tagged with `kind` so different things never collide.
    pub fn new(kind: &str) -> Self {
        let mut f = Self(blake3::Hasher::new());
        f.str(kind);
        f
    }

    /// Adds a string.
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Adds bytes, length first.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    /// Adds a number.
    pub(crate) fn num(&mut self, n: u64) -> &mut Self {
        self.0.update(&n.to_le_bytes());
        self
    }

    /// Adds an optional string (absent differs from empty).
    pub(crate) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.num(1).str(s),
            None => self.num(0),
        }
    }

    /// Adds another hash.
    pub(crate) fn hash(&mut self, h: &ContentHash) -> &mut Self {
        self.0.update(&h.0);
        self
    }

    /// Adds any serializable value, as JSON.
    pub(crate) fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> &mut Self {
        let text = serde_json::to_vec(value).unwrap_or_default();
        self.bytes(&text)
    }

    /// The digest.
    pub fn finish(&self) -> ContentHash {
        ContentHash(*self.0.finalize().as_bytes())
    }
}

/// `bytes` in lowercase hexadecimal: the one hex encoder of the crate.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ContentHash, Fingerprint};

    #[test]
    fn serializes_as_bytes() {
        let h = ContentHash::of(b"x");
        let bytes = rmp_serde::to_vec(&h).unwrap();
        assert_eq!(bytes.len(), 34, "bin8 header and 32 bytes");
        assert_eq!(rmp_serde::from_slice::<ContentHash>(&bytes).unwrap(), h);
    }

    #[test]
    fn parts_are_delimited() {
        let ab_c = Fingerprint::new("t").str("ab").str("c").finish();
        let a_bc = Fingerprint::new("t").str("a").str("bc").finish();
        assert_ne!(ab_c, a_bc);
        assert_ne!(
            Fingerprint::new("x").finish(),
            Fingerprint::new("y").finish()
        );
        assert_ne!(
            Fingerprint::new("t").opt(None).finish(),
            Fingerprint::new("t").opt(Some("")).finish()
        );
        assert_eq!(ContentHash::of(b"abc").short_hex().len(), 20);
    }
}
