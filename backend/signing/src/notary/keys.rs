//! The keys Notary Project signatures are made with: RSA (2048, 3072, 4096 bits) and ECDSA
//! (P-256, P-384), and the one algorithm each dictates (signature-specification.md, "Algorithm
//! Selection"): RSASSA-PSS with SHA-256/384/512 (salt as long as the hash, as notation signs),
//! ECDSA with SHA-256/384. The algorithm comes from the key, never from the envelope, so that
//! an envelope cannot choose a weaker one. P-521 keys are refused: nodefit does not carry that
//! curve.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::Failure;
use crate::KeyError;

/// A signature algorithm of the Notary Project, by its JOSE name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

impl Algorithm {
    pub fn jose(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
        }
    }

    /// The COSE algorithm identifier (IANA).
    pub fn cose(self) -> i64 {
        match self {
            Algorithm::Ps256 => -37,
            Algorithm::Ps384 => -38,
            Algorithm::Ps512 => -39,
            Algorithm::Es256 => -7,
            Algorithm::Es384 => -35,
        }
    }
}

/// A public key a signature can be checked with.
#[derive(Clone, Debug)]
pub enum PublicKey {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo (DER).
    pub fn from_spki(der: &[u8]) -> Result<Self, String> {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(key));
        }
        if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(key));
        }
        rsa::PublicKey::from_public_key_der(der)
            .map(PublicKey::Rsa)
            .map_err(|_| {
                "not an RSA, P-256 or P-384 public key (the kinds nodefit verifies)".to_owned()
            })
    }

    /// The algorithm this key signs Notary Project envelopes with; RSA keys under 2048 bits and
    /// sizes without a Notary Project algorithm are refused.
    pub fn algorithm(&self) -> Result<Algorithm, String> {
        match self {
            PublicKey::P256(_) => Ok(Algorithm::Es256),
            PublicKey::P384(_) => Ok(Algorithm::Es384),
            PublicKey::Rsa(key) => match key.n().bit_width() {
                2048 => Ok(Algorithm::Ps256),
                3072 => Ok(Algorithm::Ps384),
                4096 => Ok(Algorithm::Ps512),
                bits => Err(format!(
                    "an RSA key of {bits} bits; Notary Project signatures use 2048, 3072 or \
                     4096 bits"
                )),
            },
        }
    }

    /// Checks an envelope signature (`signature` as JWS and COSE carry it: PSS bytes, or
    /// ECDSA's fixed-size `r || s`) over `message` with the key's algorithm.
    pub fn verify_envelope(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(algorithm) = self.algorithm() else {
            return false;
        };
        match (self, algorithm) {
            (PublicKey::P256(key), _) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
            (PublicKey::P384(key), _) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
            (PublicKey::Rsa(key), algorithm) => {
                let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
                    return false;
                };
                let key = key.clone();
                match algorithm {
                    Algorithm::Ps256 => rsa::pss::VerifyingKey::<Sha256>::new(key)
                        .verify(message, &signature)
                        .is_ok(),
                    Algorithm::Ps384 => rsa::pss::VerifyingKey::<Sha384>::new(key)
                        .verify(message, &signature)
                        .is_ok(),
                    _ => rsa::pss::VerifyingKey::<Sha512>::new(key)
                        .verify(message, &signature)
                        .is_ok(),
                }
            }
        }
    }

    /// Whether two keys are the same key.
    pub fn same_as(&self, other: &PublicKey) -> bool {
        match (self, other) {
            (PublicKey::Rsa(a), PublicKey::Rsa(b)) => a == b,
            (PublicKey::P256(a), PublicKey::P256(b)) => a == b,
            (PublicKey::P384(a), PublicKey::P384(b)) => a == b,
            _ => false,
        }
    }

    /// The key size in bits, for the minimum-size rule.
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa(key) => key.n().bit_width() as usize,
            PublicKey::P256(_) => 256,
            PublicKey::P384(_) => 384,
        }
    }
}

/// A private key that signs Notary Project envelopes.
pub enum SigningKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl SigningKey {
    /// Reads PKCS#8 (`PRIVATE KEY`, what notation's test keys are), PKCS#1 (`RSA PRIVATE KEY`)
    /// or SEC1 (`EC PRIVATE KEY`) PEM.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| KeyError::NotPem("the key file is not text".into()))?;
        let (label, der) = der::pem::decode_vec(text.trim().as_bytes())
            .map(|(label, der)| (label.to_owned(), Zeroizing::new(der)))
            .map_err(|e| KeyError::NotPem(format!("malformed PEM: {e}")))?;
        let unsupported = || {
            KeyError::Unsupported(
                "not an RSA, P-256 or P-384 private key (the kinds nodefit signs Notary Project \
                 signatures with)"
                    .into(),
            )
        };
        match label.as_str() {
            "PRIVATE KEY" => {
                if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(&der) {
                    return Ok(SigningKey::P256(key));
                }
                if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_der(&der) {
                    return Ok(SigningKey::P384(key));
                }
                rsa::PrivateKey::from_pkcs8_der(&der)
                    .map(|key| SigningKey::Rsa(Box::new(key)))
                    .map_err(|_| unsupported())
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::PrivateKey::from_pkcs1_der(&der)
                    .map(|key| SigningKey::Rsa(Box::new(key)))
                    .map_err(|_| unsupported())
            }
            "EC PRIVATE KEY" => {
                if let Ok(key) = p256::SecretKey::from_sec1_der(&der) {
                    return Ok(SigningKey::P256((&key).into()));
                }
                p384::SecretKey::from_sec1_der(&der)
                    .map(|key| SigningKey::P384((&key).into()))
                    .map_err(|_| unsupported())
            }
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Unsupported(
                "password-protected PKCS#8 keys are not read; notation's own keys are \
                 unencrypted PKCS#8"
                    .into(),
            )),
            other => Err(KeyError::Unsupported(format!(
                "a PEM {other} block is not a private key"
            ))),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Rsa(key) => PublicKey::Rsa(key.to_public_key()),
            SigningKey::P256(key) => PublicKey::P256(*key.verifying_key()),
            SigningKey::P384(key) => PublicKey::P384(*key.verifying_key()),
        }
    }

    /// Signs `message` with `algorithm` (the one the key's certificate dictates), in the form
    /// envelopes carry.
    pub fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, Failure> {
        let wrong = || {
            Failure::Unsupported(format!(
                "the private key does not match the certificate's {} key",
                algorithm.jose()
            ))
        };
        match (self, algorithm) {
            (SigningKey::P256(key), Algorithm::Es256) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                Ok(signature.to_bytes().to_vec())
            }
            (SigningKey::P384(key), Algorithm::Es384) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                Ok(signature.to_bytes().to_vec())
            }
            (SigningKey::Rsa(key), Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512) => {
                let key = (**key).clone();
                let signature: Box<[u8]> = match algorithm {
                    Algorithm::Ps256 => rsa::pss::SigningKey::<Sha256>::new(key)
                        .try_sign(message)
                        .map(Into::into),
                    Algorithm::Ps384 => rsa::pss::SigningKey::<Sha384>::new(key)
                        .try_sign(message)
                        .map(Into::into),
                    _ => rsa::pss::SigningKey::<Sha512>::new(key)
                        .try_sign(message)
                        .map(Into::into),
                }
                .map_err(|e| Failure::Unsupported(format!("RSA signing failed: {e}")))?;
                Ok(signature.into_vec())
            }
            _ => Err(wrong()),
        }
    }
}
