//! Certificate chains of Notary Project signatures (signature-specification.md, "Certificate
//! Requirements"): the signing certificate first, each next one its issuer, ending with a root;
//! the code-signing rules for the leaf and the CA rules for the others; trust in one of the
//! chain's certificates; validity at a given time.
//!
//! The chain rules are checked here rather than with a path-building crate: the specification
//! asks for exactly this ordered chain (no path building, no name constraints or policies, "only
//! Basic Constraints, Key Usage, and Extended Key Usage extensions of X.509 certificates are
//! honored"), and the RustCrypto crates parse certificates but do not validate chains.

use const_oid::db::{rfc5280, rfc5912};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use super::envelope::Parsed;
use super::keys::PublicKey;
use super::{Failure, Signer, Trust};

/// A parsed chain, signing certificate first, with each certificate's DER as received.
pub struct Chain {
    certificates: Vec<(Certificate, Vec<u8>)>,
}

fn hex_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

impl Chain {
    pub fn parse(ders: &[Vec<u8>]) -> Result<Self, Failure> {
        let certificates = ders
            .iter()
            .enumerate()
            .map(|(i, der)| {
                Certificate::from_der(der)
                    .map(|c| (c, der.clone()))
                    .map_err(|e| {
                        Failure::Malformed(format!("certificate {} of the chain: {e}", i + 1))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { certificates })
    }

    fn leaf(&self) -> &Certificate {
        &self.certificates[0].0
    }

    fn public_key(certificate: &Certificate) -> Result<PublicKey, Failure> {
        let spki = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Failure::Malformed(format!("a certificate's public key: {e}")))?;
        PublicKey::from_spki(&spki).map_err(Failure::Unsupported)
    }

    /// The signing certificate's public key.
    pub fn signing_key(&self) -> Result<PublicKey, Failure> {
        Self::public_key(self.leaf())
    }

    /// The signer as people read it.
    pub fn signer(&self) -> Signer {
        let tbs = self.leaf().tbs_certificate();
        Signer {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            thumbprint: hex_sha256(&self.certificates[0].1),
        }
    }

    /// SHA-256 of each certificate, as the signature manifest's annotation lists them.
    pub fn thumbprints(&self) -> Vec<String> {
        self.certificates
            .iter()
            .map(|(_, der)| hex_sha256(der))
            .collect()
    }

    /// The envelope's signature verifies with the signing certificate's key, under the
    /// algorithm that key dictates (which the envelope's `alg` must name).
    pub fn check_signature(&self, parsed: &Parsed) -> Result<(), Failure> {
        let key = Self::public_key(self.leaf())?;
        let algorithm = key.algorithm().map_err(Failure::Unsupported)?;
        if algorithm != parsed.algorithm {
            return Err(Failure::Malformed(format!(
                "the envelope says {} but the signing certificate's key signs with {}",
                parsed.algorithm.jose(),
                algorithm.jose()
            )));
        }
        if !key.verify_envelope(&parsed.signed, &parsed.signature) {
            return Err(Failure::Signature(
                "the envelope's signature does not verify with its signing certificate (the \
                 envelope was changed after signing)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The chain is ordered and linked (each certificate signed by the next, the last
    /// self-signed), and each certificate meets the specification's requirements.
    pub fn check_requirements(&self) -> Result<(), Failure> {
        let untrusted = |i: usize, what: String| {
            Failure::Untrusted(format!(
                "certificate {} of the chain ({}): {what}",
                i + 1,
                self.certificates[i].0.tbs_certificate().subject()
            ))
        };
        let last = self.certificates.len() - 1;
        for (i, (certificate, _)) in self.certificates.iter().enumerate() {
            let issuer = &self.certificates[(i + 1).min(last)].0;
            let tbs = certificate.tbs_certificate();
            if tbs.issuer() != issuer.tbs_certificate().subject() {
                return Err(untrusted(
                    i,
                    if i == last {
                        "the chain does not end with a root (self-signed) certificate".into()
                    } else {
                        "the next certificate is not its issuer".into()
                    },
                ));
            }
            check_issued_by(certificate, issuer).map_err(|e| untrusted(i, e))?;
            let key = Self::public_key(certificate)?;
            let minimum = if matches!(key, PublicKey::Rsa(_)) {
                2048
            } else {
                256
            };
            if key.bits() < minimum {
                return Err(untrusted(
                    i,
                    format!("a {}-bit key is too short", key.bits()),
                ));
            }
            // A chain of one root: the root meets the leaf's requirements.
            let rules = if i == 0 {
                leaf_requirements(certificate)
            } else {
                ca_requirements(certificate, i - 1)
            };
            rules.map_err(|e| untrusted(i, e))?;
        }
        Ok(())
    }

    /// One of the chain's certificates is among `trust`'s certificates, and the signing
    /// certificate's subject matches one of its identities (any, when there are none).
    pub fn check_trusted(&self, trust: &Trust) -> Result<(), Failure> {
        let trusted = self
            .certificates
            .iter()
            .any(|(_, der)| trust.certificates.iter().any(|t| t == der));
        if !trusted {
            return Err(Failure::Untrusted(format!(
                "certificate not trusted: the chain (root {}) leads to no certificate of {}",
                self.certificates
                    .last()
                    .map(|(c, _)| c.tbs_certificate().subject().to_string())
                    .unwrap_or_default(),
                trust.name
            )));
        }
        if trust.identities.is_empty() {
            return Ok(());
        }
        let subject = subject_attributes(self.leaf());
        let matches = trust.identities.iter().any(|identity| {
            identity
                .iter()
                .all(|(kind, value)| subject.iter().any(|(k, v)| k == kind && v == value))
        });
        if matches {
            Ok(())
        } else {
            Err(Failure::Untrusted(format!(
                "signer not trusted: {} is none of the trusted identities of {}",
                self.leaf().tbs_certificate().subject(),
                trust.name
            )))
        }
    }

    /// Every certificate is valid at `at` (seconds since the Unix epoch).
    pub fn check_valid_at(&self, at: i64, when: &str) -> Result<(), Failure> {
        for (certificate, _) in &self.certificates {
            let validity = certificate.tbs_certificate().validity();
            let from = validity.not_before.to_unix_duration().as_secs() as i64;
            let until = validity.not_after.to_unix_duration().as_secs() as i64;
            if at < from || at > until {
                return Err(Failure::Expired(format!(
                    "certificate {} is not valid {when} ({}): valid from {} to {}",
                    certificate.tbs_certificate().subject(),
                    super::envelope::rfc3339(at),
                    super::envelope::rfc3339(from),
                    super::envelope::rfc3339(until)
                )));
            }
        }
        Ok(())
    }
}

/// The subject's attributes as `(short name, value)`, for trusted-identity matching.
pub fn subject_attributes(certificate: &Certificate) -> Vec<(String, String)> {
    certificate
        .tbs_certificate()
        .subject()
        .iter()
        .filter_map(|attribute| {
            let text = attribute.to_string();
            let (kind, value) = text.split_once('=')?;
            Some((kind.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `certificate`'s signature verifies with `issuer`'s key. SHA-1 and RSASSA-PSS certificate
/// signatures are refused (the first by the specification; the second is not read by nodefit).
fn check_issued_by(certificate: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let tbs = certificate
        .tbs_certificate()
        .to_der()
        .map_err(|e| format!("cannot encode: {e}"))?;
    let signature = certificate.signature().raw_bytes();
    let key = Chain::public_key(issuer).map_err(|e| format!("{e:?}"))?;
    let oid = certificate.signature_algorithm().oid;
    let hashed = |oid: ObjectIdentifier| -> Option<Vec<u8>> {
        Some(match oid {
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_256 => {
                Sha256::digest(&tbs).to_vec()
            }
            rfc5912::SHA_384_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_384 => {
                Sha384::digest(&tbs).to_vec()
            }
            rfc5912::SHA_512_WITH_RSA_ENCRYPTION | rfc5912::ECDSA_WITH_SHA_512 => {
                Sha512::digest(&tbs).to_vec()
            }
            _ => return None,
        })
    };
    let Some(digest) = hashed(oid) else {
        return Err(if oid == rfc5912::SHA_1_WITH_RSA_ENCRYPTION {
            "signed with SHA-1, which the specification forbids".into()
        } else {
            format!("signed with algorithm {oid}, which nodefit does not verify")
        });
    };
    let rsa_oids = [
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
    ];
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let verified = match &key {
        PublicKey::Rsa(key) if rsa_oids.contains(&oid) => {
            let scheme = match oid {
                rfc5912::SHA_256_WITH_RSA_ENCRYPTION => rsa::Pkcs1v15Sign::new::<Sha256>(),
                rfc5912::SHA_384_WITH_RSA_ENCRYPTION => rsa::Pkcs1v15Sign::new::<Sha384>(),
                _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            key.verify(scheme, &digest, signature).is_ok()
        }
        PublicKey::P256(key) if !rsa_oids.contains(&oid) => {
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
        }
        PublicKey::P384(key) if !rsa_oids.contains(&oid) => {
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|s| key.verify_prehash(&digest, &s).is_ok())
        }
        _ => false,
    };
    if verified {
        Ok(())
    } else {
        Err(format!(
            "its signature does not verify with the key of {}",
            issuer.tbs_certificate().subject()
        ))
    }
}

fn extension<'a, T: Decode<'a> + const_oid::AssociatedOid>(
    certificate: &'a Certificate,
    name: &str,
) -> Result<Option<(bool, T)>, String> {
    certificate
        .tbs_certificate()
        .get_extension::<T>()
        .map_err(|_| format!("its {name} extension is malformed or repeated"))
}

/// The signing certificate: basic constraints (optional) not a CA; key usage present, critical,
/// digitalSignature and none of the encipherment or CA bits; extended key usage (optional)
/// without the purposes that are not code signing.
fn leaf_requirements(certificate: &Certificate) -> Result<(), String> {
    if let Some((_, constraints)) = extension::<BasicConstraints>(certificate, "basic constraints")?
    {
        if constraints.ca {
            return Err("a CA certificate cannot sign".into());
        }
    }
    let Some((critical, usage)) = extension::<KeyUsage>(certificate, "key usage")? else {
        return Err("it has no key usage extension (code signing needs digitalSignature)".into());
    };
    if !critical {
        return Err("its key usage extension is not critical".into());
    }
    if !usage.digital_signature() {
        return Err("its key usage lacks digitalSignature".into());
    }
    if usage.key_encipherment()
        || usage.data_encipherment()
        || usage.key_agreement()
        || usage.key_cert_sign()
        || usage.crl_sign()
        || usage.encipher_only()
        || usage.decipher_only()
    {
        return Err(
            "its key usage allows more than signing (encipherment, agreement or CA bits)".into(),
        );
    }
    if let Some((_, eku)) = extension::<ExtendedKeyUsage>(certificate, "extended key usage")? {
        let forbidden = [
            (rfc5280::ANY_EXTENDED_KEY_USAGE, "anyExtendedKeyUsage"),
            (rfc5912::ID_KP_SERVER_AUTH, "serverAuth"),
            (rfc5912::ID_KP_CLIENT_AUTH, "clientAuth"),
            (rfc5912::ID_KP_EMAIL_PROTECTION, "emailProtection"),
            (rfc5912::ID_KP_TIME_STAMPING, "timeStamping"),
        ];
        if let Some((_, name)) = forbidden.iter().find(|(oid, _)| eku.0.contains(oid)) {
            return Err(format!(
                "its extended key usage includes {name}, not only code signing"
            ));
        }
    }
    Ok(())
}

/// An issuing certificate with `below` CA certificates under it in the chain: basic
/// constraints present, critical, a CA, and a path length that allows `below`; key usage
/// present, critical, keyCertSign.
fn ca_requirements(certificate: &Certificate, below: usize) -> Result<(), String> {
    let Some((critical, constraints)) =
        extension::<BasicConstraints>(certificate, "basic constraints")?
    else {
        return Err("an issuing certificate without basic constraints".into());
    };
    if !critical || !constraints.ca {
        return Err(
            "an issuing certificate whose basic constraints are not critical with cA set".into(),
        );
    }
    if let Some(limit) = constraints.path_len_constraint {
        if below > usize::from(limit) {
            return Err(format!(
                "its path length constraint {limit} is exceeded ({below} CA certificates below)"
            ));
        }
    }
    let Some((critical, usage)) = extension::<KeyUsage>(certificate, "key usage")? else {
        return Err("an issuing certificate without key usage".into());
    };
    if !critical || !usage.key_cert_sign() {
        return Err(
            "an issuing certificate whose key usage is not critical with keyCertSign".into(),
        );
    }
    Ok(())
}
