//! ECDSA P-256 keys: generating them, and reading and writing them as PEM. Pure functions
//! except [`generate`] and [`cosign_pem`], which draw from the operating system's random
//! number generator.
//!
//! Private keys are read from PKCS#8 (`PRIVATE KEY`, what `nodefit keygen` writes by default),
//! SEC1 (`EC PRIVATE KEY`, what `openssl ecparam -genkey` writes) and cosign's encrypted form
//! (`ENCRYPTED SIGSTORE PRIVATE KEY`, and the older `ENCRYPTED COSIGN PRIVATE KEY`); public
//! keys from PKIX (`PUBLIC KEY`). P-256 only: it is cosign's default, and the one algorithm
//! `cosign verify --key` and nodefit agree on without flags.

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use super::{encrypted, KeyError};

/// The label cosign 2.x writes on its encrypted private keys.
pub const COSIGN_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label cosign 1.x wrote; cosign still reads it.
const LEGACY_COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";
const SEC1_LABEL: &str = "EC PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";
const ENCRYPTED_PKCS8_LABEL: &str = "ENCRYPTED PRIVATE KEY";
const CERTIFICATE_LABEL: &str = "CERTIFICATE";

/// How a private key file is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateKeyFormat {
    Pkcs8,
    Sec1,
    Cosign,
}

/// A fresh P-256 key from the operating system's random number generator.
pub fn generate() -> Result<SigningKey, KeyError> {
    SigningKey::try_generate().map_err(|e| KeyError::Random(e.to_string()))
}

/// The private key as unencrypted PKCS#8 PEM.
pub fn pkcs8_pem(key: &SigningKey) -> Result<Zeroizing<String>, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}

/// The private key in cosign's encrypted format, under a fresh salt and nonce.
pub fn cosign_pem(key: &SigningKey, password: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    let salt =
        <[u8; encrypted::SALT_LEN]>::try_generate().map_err(|e| KeyError::Random(e.to_string()))?;
    let nonce = <[u8; encrypted::NONCE_LEN]>::try_generate()
        .map_err(|e| KeyError::Random(e.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    let envelope = encrypted::seal(der.as_bytes(), password, &salt, &nonce)?;
    pem::encode_string(COSIGN_LABEL, LineEnding::LF, &envelope)
        .map(Zeroizing::new)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}

/// The public key as PKIX PEM, as `cosign.pub`.
pub fn public_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}

/// Reads a private key from a PEM file's bytes. `password` is called only for an encrypted
/// key, so that a plain key never prompts.
pub fn read_private_key(
    text: &[u8],
    password: impl FnOnce() -> Result<Zeroizing<String>, KeyError>,
) -> Result<(SigningKey, PrivateKeyFormat), KeyError> {
    let (label, der) = pem_block(
        text,
        &[
            PKCS8_LABEL,
            SEC1_LABEL,
            COSIGN_LABEL,
            LEGACY_COSIGN_LABEL,
            ENCRYPTED_PKCS8_LABEL,
            PUBLIC_LABEL,
            CERTIFICATE_LABEL,
        ],
    )?;
    match label.as_str() {
        PKCS8_LABEL => Ok((pkcs8_key(&der)?, PrivateKeyFormat::Pkcs8)),
        SEC1_LABEL => {
            let key = p256::SecretKey::from_sec1_der(&der).map_err(|e| {
                KeyError::Unsupported(format!(
                    "not an ECDSA P-256 key (the only kind nodefit signs with): {e}"
                ))
            })?;
            Ok((SigningKey::from(&key), PrivateKeyFormat::Sec1))
        }
        COSIGN_LABEL | LEGACY_COSIGN_LABEL => {
            let password = password()?;
            let der = encrypted::open(&der, password.as_bytes())?;
            Ok((pkcs8_key(&der)?, PrivateKeyFormat::Cosign))
        }
        ENCRYPTED_PKCS8_LABEL => Err(KeyError::Unsupported(
            "password-protected PKCS#8 keys (openssl's ENCRYPTED PRIVATE KEY) are not read; \
             use cosign's encrypted format (what `cosign generate-key-pair` writes, and \
             `nodefit keygen` on request) or an unencrypted key"
                .into(),
        )),
        PUBLIC_LABEL => Err(KeyError::Unsupported(
            "this is a public key; signing needs the private key".into(),
        )),
        _ => Err(KeyError::Unsupported(
            "this is a certificate; signing needs a private key".into(),
        )),
    }
}

/// Reads a trusted public key from a PEM file's bytes.
pub fn read_public_key(text: &[u8]) -> Result<VerifyingKey, KeyError> {
    let (label, der) = pem_block(
        text,
        &[
            PUBLIC_LABEL,
            PKCS8_LABEL,
            SEC1_LABEL,
            COSIGN_LABEL,
            LEGACY_COSIGN_LABEL,
            ENCRYPTED_PKCS8_LABEL,
            CERTIFICATE_LABEL,
        ],
    )?;
    match label.as_str() {
        PUBLIC_LABEL => VerifyingKey::from_public_key_der(&der).map_err(|e| {
            KeyError::Unsupported(format!(
                "not an ECDSA P-256 public key (the only kind nodefit verifies): {e}"
            ))
        }),
        CERTIFICATE_LABEL => Err(KeyError::Unsupported(
            "this is a certificate; nodefit verifies with a bare public key (PEM PUBLIC KEY)"
                .into(),
        )),
        _ => Err(KeyError::Unsupported(
            "this is a private key; verifying takes the public key (PEM PUBLIC KEY, the .pub \
             file)"
                .into(),
        )),
    }
}

fn pkcs8_key(der: &[u8]) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_der(der).map_err(|e| {
        KeyError::Unsupported(format!(
            "not an ECDSA P-256 key (the only kind nodefit signs with): {e}"
        ))
    })
}

/// The first PEM block whose label is one of `labels`, decoded. Blocks with other labels are
/// skipped, so that `openssl ecparam -genkey`'s leading `EC PARAMETERS` block does no harm.
fn pem_block(text: &[u8], labels: &[&str]) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    const DASHES: &[u8] = b"-----";
    let mut rest = text;
    let mut seen = Vec::new();
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let Some(end) = find(block, END) else {
            return Err(KeyError::NotPem(
                "a -----BEGIN line has no -----END line".into(),
            ));
        };
        let after_end = end + END.len();
        let Some(close) = find(&block[after_end..], DASHES) else {
            return Err(KeyError::NotPem("the -----END line is not closed".into()));
        };
        let block_len = after_end + close + DASHES.len();
        let label = pem::decode_label(&block[..block_len])
            .map_err(|e| KeyError::NotPem(format!("malformed PEM block: {e}")))?;
        if labels.contains(&label) {
            let (label, der) = pem::decode_vec(&block[..block_len])
                .map_err(|e| KeyError::NotPem(format!("malformed {label} block: {e}")))?;
            return Ok((label.to_owned(), Zeroizing::new(der)));
        }
        seen.push(label.to_owned());
        rest = &block[block_len..];
    }
    Err(KeyError::NotPem(if seen.is_empty() {
        "no PEM block (-----BEGIN ...-----)".into()
    } else {
        format!("no key among its PEM blocks ({})", seen.join(", "))
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_password() -> Result<Zeroizing<String>, KeyError> {
        panic!("a plain key must not ask for a password")
    }

    fn password(text: &str) -> impl FnOnce() -> Result<Zeroizing<String>, KeyError> + '_ {
        move || Ok(Zeroizing::new(text.to_owned()))
    }

    /// A key `cosign generate-key-pair` (2.5.0) wrote with COSIGN_PASSWORD=testpw, and its
    /// public key.
    const COSIGN_KEY: &str = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJ6RG9xeUdGSUF1M1dCYUM4WVVYeHpNSitabStEZit2
TmhjNHlnd3F1TGp3PSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJrbmFYOFhPNURmanp3cWQ1QVcvUk1FcWk2VExaclBsUyJ9LCJj
aXBoZXJ0ZXh0IjoiejVkUEdiMkxIam5yanhlYUU5ZjRqV2xIWlVLZUZjejd1U0dW
UW92VjdBVjBJeWp5VjlTN243UHVBL0tSbFowc044dTBuZ2N4c0x0U2I1blJvaE5B
NXNXOTU3aU1zMk0rUzRpVUl1WmlrQnludjV5aTEzOWdyU1ZnaVRiRCtySUdoWXg3
ZkQ4U0ZhZlA1R3FseElGbG9SMExDT2hsY1k4a0M1bFR4NlhseEMwc2o5aUlHU3BR
NUhacnF2c3VOenprd3JKMVhValFUdzI3Wmc9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
";
    const COSIGN_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQa0Bbg8AmN8XO3Gwk0tzTFU+L61I
lhnKw2RQYibMmzy/UvvTBBt3Hdf5nrHaB3DJH8mrBdcWnfpjx7MhEvVMWQ==
-----END PUBLIC KEY-----
";

    #[test]
    fn keys_written_by_cosign_are_read() {
        let (key, format) = read_private_key(COSIGN_KEY.as_bytes(), password("testpw")).unwrap();
        assert_eq!(format, PrivateKeyFormat::Cosign);
        assert_eq!(public_pem(key.verifying_key()).unwrap(), COSIGN_PUB);
        assert_eq!(
            read_public_key(COSIGN_PUB.as_bytes()).unwrap(),
            *key.verifying_key()
        );
        let legacy = COSIGN_KEY.replace("SIGSTORE", "COSIGN");
        assert!(read_private_key(legacy.as_bytes(), password("testpw")).is_ok());
    }

    #[test]
    fn a_wrong_password_is_named_as_such() {
        let error = read_private_key(COSIGN_KEY.as_bytes(), password("nope")).unwrap_err();
        assert!(matches!(error, KeyError::WrongPassword), "{error}");
        assert!(error.to_string().contains("wrong password"));
    }

    #[test]
    fn a_missing_password_stops_reading() {
        let error = read_private_key(COSIGN_KEY.as_bytes(), || {
            Err(KeyError::Password("none given".into()))
        })
        .unwrap_err();
        assert!(matches!(error, KeyError::Password(_)));
    }

    #[test]
    fn generated_keys_round_trip_through_every_format() {
        let key = generate().unwrap();
        let public = read_public_key(public_pem(key.verifying_key()).unwrap().as_bytes()).unwrap();
        assert_eq!(public, *key.verifying_key());

        let pem = pkcs8_pem(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let (read, format) = read_private_key(pem.as_bytes(), no_password).unwrap();
        assert_eq!((read, format), (key.clone(), PrivateKeyFormat::Pkcs8));

        let sec1 = p256::SecretKey::from(&key)
            .to_sec1_pem(LineEnding::LF)
            .unwrap();
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            *sec1
        );
        let (read, format) = read_private_key(with_params.as_bytes(), no_password).unwrap();
        assert_eq!((read, format), (key.clone(), PrivateKeyFormat::Sec1));

        let pem = cosign_pem(&key, b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        // cosign's PEM lines are 64 characters, as Go's encoding/pem writes them.
        assert!(pem.lines().all(|line| line.len() <= 64));
        let (read, format) = read_private_key(pem.as_bytes(), password("pw")).unwrap();
        assert_eq!((read, format), (key, PrivateKeyFormat::Cosign));
    }

    #[test]
    fn each_encryption_draws_a_fresh_salt_and_nonce() {
        let key = generate().unwrap();
        let (a, b) = (
            cosign_pem(&key, b"pw").unwrap(),
            cosign_pem(&key, b"pw").unwrap(),
        );
        assert_ne!(*a, *b);
    }

    #[test]
    fn the_wrong_kind_of_file_is_named() {
        let key = generate().unwrap();
        let private = pkcs8_pem(&key).unwrap();
        let public = public_pem(key.verifying_key()).unwrap();
        let error = read_public_key(private.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("this is a private key"), "{error}");
        let error = read_private_key(public.as_bytes(), no_password)
            .unwrap_err()
            .to_string();
        assert!(error.contains("this is a public key"), "{error}");
        let error = read_public_key(COSIGN_KEY.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("this is a private key"), "{error}");
    }

    #[test]
    fn other_algorithms_are_refused() {
        // An Ed25519 key (RFC 8410's example) and its public key.
        let ed25519 = "-----BEGIN PRIVATE KEY-----\n\
                       MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                       -----END PRIVATE KEY-----\n";
        let error = read_private_key(ed25519.as_bytes(), no_password).unwrap_err();
        assert!(matches!(error, KeyError::Unsupported(_)), "{error}");
        let ed25519_pub = "-----BEGIN PUBLIC KEY-----\n\
                           MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                           -----END PUBLIC KEY-----\n";
        let error = read_public_key(ed25519_pub.as_bytes()).unwrap_err();
        assert!(matches!(error, KeyError::Unsupported(_)), "{error}");
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let good = String::from(COSIGN_PUB);
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a key".to_vec(),
            vec![0xff, 0xfe, 0x00],
            b"-----BEGIN PUBLIC KEY-----\n".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
            good.replace("END PUBLIC", "END PRIVATE").into_bytes(),
            good.as_bytes()[..good.len() / 2].to_vec(),
            b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n".to_vec(),
            b"-----BEGIN -----END -----".to_vec(),
        ];
        for case in &cases {
            assert!(read_public_key(case).is_err(), "{case:?}");
            assert!(read_private_key(case, no_password).is_err(), "{case:?}");
        }
        let truncated = COSIGN_KEY.replace("NUhacnF2c3VOenprd3JKMVhValFUdzI3Wmc9PSJ9\n", "");
        let error = read_private_key(truncated.as_bytes(), password("testpw")).unwrap_err();
        assert!(
            matches!(error, KeyError::NotPem(_) | KeyError::Envelope(_)),
            "{error}"
        );
    }
}
