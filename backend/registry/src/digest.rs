//! Content digests: the one place their text is written, read and turned into tags.

use std::fmt;

use sha2::Sha256;

const PREFIX: &str = "sha256:";

/// A SHA-256 content digest, `sha256:` and 64 lower-case hex digits: the only kind nodefit
/// computes, compares or puts in URLs. Serialised as that text, so JSON and the database see
/// the same strings as before there was a type.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Text that is not a digest.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a digest (sha256:<64 hex digits>)")]
pub struct NotADigest(pub String);

impl Digest {
    /// The digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(format!("{PREFIX}{}", hex::encode(Sha256::digest(bytes))))
    }

    /// Reads `sha256:<64 lower-case hex digits>`; anything else, upper-case hex included, is
    /// refused, since digests also come from registries and end up in URLs.
    pub fn parse(text: &str) -> Result<Self, NotADigest> {
        let valid = text.strip_prefix(PREFIX).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(NotADigest(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// `sha256-<hex>`: the tag under which the referrers tag schema lists this manifest's
    /// referrers.
    pub fn tag(&self) -> String {
        format!("sha256-{}", self.hex())
    }

    /// `sha256-<hex>.sig`: the tag of this manifest's classic cosign signatures.
    pub fn signature_tag(&self) -> String {
        format!("{}.sig", self.tag())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Digest> for String {
    fn eq(&self, other: &Digest) -> bool {
        *self == other.0
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_bytes_are_sha256_in_lower_case_hex() {
        let digest = Digest::sha256_of(b"{}");
        assert_eq!(
            digest.as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(Digest::parse(digest.as_str()).unwrap(), digest);
        assert_eq!(digest.to_string(), digest.as_str());
        assert_eq!(
            serde_json::to_string(&digest).unwrap(),
            format!("\"{digest}\"")
        );
    }

    #[test]
    fn only_sha256_with_64_lower_case_hex_digits_parses() {
        assert!(Digest::parse(&format!("sha256:{}", "0".repeat(64))).is_ok());
        for bad in [
            format!("sha256:{}", "0".repeat(63)),
            format!("sha256:{}", "0".repeat(65)),
            format!("sha256:{}/../x", "0".repeat(60)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "0".repeat(128)),
            format!("SHA256:{}", "0".repeat(64)),
            "v1".to_owned(),
            String::new(),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            Digest::parse("latest").unwrap_err().to_string(),
            "\"latest\" is not a digest (sha256:<64 hex digits>)"
        );
    }

    #[test]
    fn tags_are_the_tag_schemas_and_cosigns() {
        let hex = "2c1bc4207317e8495198a953d86e35744d97f4ac29672f227ac3b591f70d7fe4";
        let digest = Digest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(digest.hex(), hex);
        assert_eq!(digest.tag(), format!("sha256-{hex}"));
        assert_eq!(digest.signature_tag(), format!("sha256-{hex}.sig"));
    }

    #[test]
    fn digests_compare_with_their_text() {
        let digest = Digest::sha256_of(b"x");
        let text = digest.to_string();
        assert_eq!(digest, text);
        assert_eq!(text, digest);
        assert_eq!(digest, text.as_str());
        assert!(digest != *"sha256:other");
    }
}
