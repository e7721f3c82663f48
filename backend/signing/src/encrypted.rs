//! cosign's encrypted private key body: the secure-systems-lab `encrypted` envelope, a JSON
//! object holding scrypt parameters, a NaCl secretbox nonce and the sealed PKCS#8 DER. Pure
//! functions only (the randomness is passed in).
//!
//! The JSON is written field for field as Go's `encoding/json` writes cosign's own struct, so a
//! key nodefit writes is byte-for-byte the shape cosign writes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::KeyError;

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";
/// What cosign writes: N = 2^16, r = 8, p = 1.
const WRITE_LOG_N: u8 = 16;
const R: u32 = 8;
const P: u32 = 1;
/// scrypt cost factors accepted when reading: go-securesystemslib's legacy (2^15) and standard
/// (2^16) sets, and 2^17. A key file is untrusted input; without a bound, a tampered `N` would
/// make reading it take unbounded memory and time (2^17 with r = 8 is 128 MiB).
const READ_LOG_N: [u8; 3] = [15, 16, 17];
pub const SALT_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
/// Poly1305 tag, which NaCl puts in front of the ciphertext.
const TAG_LEN: usize = 16;

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: Params,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Params {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Seals `plaintext` under `password` with the given fresh `salt` and `nonce`; returns the
/// envelope's JSON.
pub fn seal(
    plaintext: &[u8],
    password: &[u8],
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, KeyError> {
    let key = derive_key(password, salt, WRITE_LOG_N)?;
    let ciphertext = XSalsa20Poly1305::new(key.as_ref().into())
        .encrypt(nonce.into(), plaintext)
        .map_err(|_| KeyError::Envelope("sealing failed".into()))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME.into(),
            params: Params {
                n: 1 << WRITE_LOG_N,
                r: R.into(),
                p: P.into(),
            },
            salt: BASE64.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.into(),
            nonce: BASE64.encode(nonce),
        },
        ciphertext: BASE64.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(|e| KeyError::Envelope(e.to_string()))
}

/// Opens an envelope: the plaintext, or [`KeyError::WrongPassword`] when authentication fails.
pub fn open(json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let envelope: Envelope =
        serde_json::from_slice(json).map_err(|e| KeyError::Envelope(format!("not JSON: {e}")))?;
    if envelope.kdf.name != KDF_NAME {
        return Err(KeyError::Envelope(format!(
            "key derivation {:?}, expected {KDF_NAME:?}",
            envelope.kdf.name
        )));
    }
    if envelope.cipher.name != CIPHER_NAME {
        return Err(KeyError::Envelope(format!(
            "cipher {:?}, expected {CIPHER_NAME:?}",
            envelope.cipher.name
        )));
    }
    let params = &envelope.kdf.params;
    let log_n = READ_LOG_N
        .into_iter()
        .find(|&log_n| params.n == 1 << log_n)
        .filter(|_| params.r == u64::from(R) && params.p == u64::from(P))
        .ok_or_else(|| {
            KeyError::Envelope(format!(
                "unexpected scrypt parameters N={} r={} p={} (expected N=32768, 65536 or 131072, \
                 r=8, p=1)",
                params.n, params.r, params.p
            ))
        })?;
    let field = |name: &str, text: &str| {
        BASE64
            .decode(text)
            .map_err(|e| KeyError::Envelope(format!("{name} is not base64: {e}")))
    };
    let salt = field("salt", &envelope.kdf.salt)?;
    let nonce: [u8; NONCE_LEN] =
        field("nonce", &envelope.cipher.nonce)?
            .try_into()
            .map_err(|n: Vec<u8>| {
                KeyError::Envelope(format!("nonce is {} bytes, not {NONCE_LEN}", n.len()))
            })?;
    let ciphertext = field("ciphertext", &envelope.ciphertext)?;
    if ciphertext.len() < TAG_LEN {
        return Err(KeyError::Envelope("ciphertext is truncated".into()));
    }
    let key = derive_key(password, &salt, log_n)?;
    XSalsa20Poly1305::new(key.as_ref().into())
        .decrypt((&nonce).into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassword)
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let params = scrypt::Params::new(log_n, R, P)
        .map_err(|e| KeyError::Envelope(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| KeyError::Envelope(format!("scrypt: {e}")))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = [7; SALT_LEN];
    const NONCE: [u8; NONCE_LEN] = [9; NONCE_LEN];

    #[test]
    fn envelopes_are_written_in_cosigns_field_order() {
        let json = seal(b"secret", b"pw", &SALT, &NONCE).unwrap();
        let text = String::from_utf8(json).unwrap();
        let prefix = format!(
            r#"{{"kdf":{{"name":"scrypt","params":{{"N":65536,"r":8,"p":1}},"salt":"{}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":""#,
            BASE64.encode(SALT),
            BASE64.encode(NONCE)
        );
        assert!(text.starts_with(&prefix), "{text}");
        // secretbox output: 16-byte tag, then as many bytes as the plaintext.
        let envelope: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(BASE64.decode(envelope.ciphertext).unwrap().len(), 16 + 6);
    }

    #[test]
    fn sealed_plaintext_opens_only_with_its_password() {
        let json = seal(b"secret", b"pw", &SALT, &NONCE).unwrap();
        assert_eq!(open(&json, b"pw").unwrap().as_slice(), b"secret");
        assert!(matches!(open(&json, b"pW"), Err(KeyError::WrongPassword)));
        assert!(matches!(open(&json, b""), Err(KeyError::WrongPassword)));
    }

    #[test]
    fn broken_envelopes_are_refused_without_panicking() {
        let good = String::from_utf8(seal(b"secret", b"pw", &SALT, &NONCE).unwrap()).unwrap();
        let cases = [
            good[..good.len() / 2].to_owned(),
            good.replace("scrypt", "argon2"),
            good.replace("nacl/secretbox", "aes-gcm"),
            good.replace(r#""N":65536"#, r#""N":1099511627776"#),
            good.replace(r#""r":8"#, r#""r":800"#),
            good.replace(r#""p":1"#, r#""p":-1"#),
            good.replace(&BASE64.encode(NONCE), "AAAA"),
            good.replace(&BASE64.encode(NONCE), "!!"),
            r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJ"},"ciphertext":"AAAA"}"#.to_owned(),
            "[]".to_owned(),
        ];
        for case in cases {
            match open(case.as_bytes(), b"pw") {
                Err(KeyError::Envelope(_)) => {}
                other => panic!("{case}: {:?}", other.map(|_| "opened")),
            }
        }
    }

    #[test]
    fn flipped_ciphertext_bits_fail_authentication() {
        let json = seal(b"secret", b"pw", &SALT, &NONCE).unwrap();
        let mut envelope: Envelope = serde_json::from_slice(&json).unwrap();
        let mut sealed = BASE64.decode(&envelope.ciphertext).unwrap();
        *sealed.last_mut().unwrap() ^= 1;
        envelope.ciphertext = BASE64.encode(sealed);
        let json = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(open(&json, b"pw"), Err(KeyError::WrongPassword)));
    }
}
