//! The two Notary Project envelopes: JWS in JSON flattened serialization
//! (signature-envelope-jws.md) and COSE_Sign1 (signature-envelope-cose.md), written as notation
//! writes them and read into one [`Parsed`] form. What is signed is kept as the exact bytes
//! received: the JWS signing input `protected.payload` as sent, COSE's `Sig_structure` over the
//! protected header's original bytes (`coset` keeps them), so nothing is re-serialised before
//! a signature is checked.
//!
//! JWS is read with `serde_json` and base64 by hand: the JOSE crates on crates.io either do not
//! expose the flattened JSON serialization with unprotected headers or pull in OpenSSL.

use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use base64::Engine;
use coset::{iana, CborSerializable, Label, TaggedCborSerializable};
use serde::Deserialize;

use super::keys::{Algorithm, SigningKey};
use super::{
    EnvelopeFormat, Failure, AUTHENTIC_SIGNING_TIME, EXPIRY, MAX_CERTIFICATE_BYTES,
    MAX_CHAIN_CERTIFICATES, MAX_ENVELOPE_BYTES, PAYLOAD_CONTENT_TYPE, SIGNING_AGENT,
    SIGNING_SCHEME, SIGNING_TIME,
};

/// The signing scheme nodefit verifies and writes.
pub const SCHEME_X509: &str = "notary.x509";
const SCHEME_SIGNING_AUTHORITY: &str = "notary.x509.signingAuthority";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
/// COSE's `x5chain` header label.
const X5CHAIN: i64 = 33;
/// What nodefit writes as the signing agent.
pub const AGENT: &str = concat!("nodefit/", env!("CARGO_PKG_VERSION"));

/// An envelope, read: what was signed and how, and the claims about it.
#[derive(Debug)]
pub struct Parsed {
    pub algorithm: Algorithm,
    /// The exact bytes the signature is over.
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: Vec<u8>,
    /// DER certificates, signing certificate first.
    pub chain: Vec<Vec<u8>>,
    /// Seconds since the Unix epoch.
    pub signing_time: Option<i64>,
    pub expiry: Option<i64>,
    pub has_timestamp: bool,
}

/// What goes into a new envelope.
pub struct ToSign<'a> {
    pub key: &'a SigningKey,
    pub algorithm: Algorithm,
    /// DER certificates, signing certificate first.
    pub chain: &'a [Vec<u8>],
    pub payload: &'a [u8],
    /// Seconds since the Unix epoch.
    pub signing_time: i64,
}

/// `2026-12-06T04:34:46Z`: RFC 3339 in UTC to the second, as notation writes times.
pub fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{seconds} s after the Unix epoch"))
}

/// Writes an envelope.
pub fn build(format: EnvelopeFormat, to_sign: &ToSign) -> Result<Vec<u8>, Failure> {
    match format {
        EnvelopeFormat::Jws => build_jws(to_sign),
        EnvelopeFormat::Cose => build_cose(to_sign),
    }
}

fn build_jws(to_sign: &ToSign) -> Result<Vec<u8>, Failure> {
    // notation marshals the protected header from a Go map: keys in sorted order.
    let protected = serde_json::json!({
        "alg": to_sign.algorithm.jose(),
        "crit": [SIGNING_SCHEME],
        "cty": PAYLOAD_CONTENT_TYPE,
        SIGNING_SCHEME: SCHEME_X509,
        SIGNING_TIME: rfc3339(to_sign.signing_time),
    });
    let protected = BASE64URL.encode(protected.to_string());
    let payload = BASE64URL.encode(to_sign.payload);
    let signature = to_sign.key.sign(
        to_sign.algorithm,
        format!("{protected}.{payload}").as_bytes(),
    )?;
    let envelope = serde_json::json!({
        "payload": payload,
        "protected": protected,
        "header": {
            "x5c": to_sign.chain.iter().map(|c| BASE64.encode(c)).collect::<Vec<_>>(),
            SIGNING_AGENT: AGENT,
        },
        "signature": BASE64URL.encode(signature),
    });
    Ok(envelope.to_string().into_bytes())
}

fn build_cose(to_sign: &ToSign) -> Result<Vec<u8>, Failure> {
    use ciborium::Value;
    let protected = coset::HeaderBuilder::new()
        .algorithm(cose_algorithm(to_sign.algorithm))
        .add_critical_label(coset::RegisteredLabelWithPrivate::Text(
            SIGNING_SCHEME.into(),
        ))
        .content_type(PAYLOAD_CONTENT_TYPE.into())
        .text_value(SIGNING_SCHEME.into(), Value::Text(SCHEME_X509.into()))
        .text_value(
            SIGNING_TIME.into(),
            Value::Tag(1, Box::new(Value::Integer(to_sign.signing_time.into()))),
        )
        .build();
    let unprotected = coset::HeaderBuilder::new()
        .value(
            X5CHAIN,
            Value::Array(
                to_sign
                    .chain
                    .iter()
                    .map(|c| Value::Bytes(c.clone()))
                    .collect(),
            ),
        )
        .text_value(SIGNING_AGENT.into(), Value::Text(AGENT.into()))
        .build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(to_sign.payload.to_vec())
        .try_create_signature(&[], |tbs| to_sign.key.sign(to_sign.algorithm, tbs))?
        .build();
    sign1
        .to_tagged_vec()
        .map_err(|e| Failure::Malformed(format!("cannot encode the COSE envelope: {e}")))
}

fn cose_algorithm(algorithm: Algorithm) -> iana::Algorithm {
    match algorithm {
        Algorithm::Ps256 => iana::Algorithm::PS256,
        Algorithm::Ps384 => iana::Algorithm::PS384,
        Algorithm::Ps512 => iana::Algorithm::PS512,
        Algorithm::Es256 => iana::Algorithm::ES256,
        Algorithm::Es384 => iana::Algorithm::ES384,
    }
}

fn algorithm_of_jose(name: &str) -> Result<Algorithm, Failure> {
    Ok(match name {
        "PS256" => Algorithm::Ps256,
        "PS384" => Algorithm::Ps384,
        "PS512" => Algorithm::Ps512,
        "ES256" => Algorithm::Es256,
        "ES384" => Algorithm::Es384,
        other => {
            return Err(Failure::Unsupported(format!(
                "signature algorithm {other:?} (nodefit verifies PS256/384/512 and ES256/384)"
            )))
        }
    })
}

fn algorithm_of_cose(id: i64) -> Result<Algorithm, Failure> {
    [
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
    ]
    .into_iter()
    .find(|a| a.cose() == id)
    .ok_or_else(|| {
        Failure::Unsupported(format!(
            "COSE algorithm {id} (nodefit verifies PS256/384/512 and ES256/384)"
        ))
    })
}

/// Reads an envelope of `format`.
pub fn parse(bytes: &[u8], format: EnvelopeFormat) -> Result<Parsed, Failure> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Failure::Malformed(format!(
            "the envelope is {} bytes; nodefit reads at most {MAX_ENVELOPE_BYTES} \
             (signing::notary::MAX_ENVELOPE_BYTES)",
            bytes.len()
        )));
    }
    let parsed = match format {
        EnvelopeFormat::Jws => parse_jws(bytes)?,
        EnvelopeFormat::Cose => parse_cose(bytes)?,
    };
    if parsed.chain.is_empty() {
        return Err(Failure::Malformed(
            "the envelope carries no certificate chain".into(),
        ));
    }
    if parsed.chain.len() > MAX_CHAIN_CERTIFICATES {
        return Err(Failure::Malformed(format!(
            "the certificate chain has {} certificates; nodefit reads at most \
             {MAX_CHAIN_CERTIFICATES} (signing::notary::MAX_CHAIN_CERTIFICATES)",
            parsed.chain.len()
        )));
    }
    if let Some(big) = parsed
        .chain
        .iter()
        .find(|c| c.len() > MAX_CERTIFICATE_BYTES)
    {
        return Err(Failure::Malformed(format!(
            "a certificate of the chain is {} bytes; nodefit reads at most \
             {MAX_CERTIFICATE_BYTES} (signing::notary::MAX_CERTIFICATE_BYTES)",
            big.len()
        )));
    }
    Ok(parsed)
}

/// Checks the signed attributes both envelopes share: the critical list names exactly the
/// critical claims present (and nothing unknown), the scheme is `notary.x509` with a signing
/// time, the content type is the Notary Project payload's.
fn check_claims(
    crit: &[String],
    scheme: Option<&str>,
    content_type: Option<&str>,
    has_signing_time: bool,
    has_expiry: bool,
) -> Result<(), Failure> {
    if content_type != Some(PAYLOAD_CONTENT_TYPE) {
        return Err(Failure::Malformed(format!(
            "the content type is {content_type:?}, not {PAYLOAD_CONTENT_TYPE:?}"
        )));
    }
    match scheme {
        Some(SCHEME_X509) => {}
        Some(SCHEME_SIGNING_AUTHORITY) => {
            return Err(Failure::Unsupported(
                "signing scheme notary.x509.signingAuthority (nodefit verifies notary.x509)".into(),
            ))
        }
        other => {
            return Err(Failure::Malformed(format!(
                "signing scheme {other:?}; the specification defines notary.x509 and \
                 notary.x509.signingAuthority"
            )))
        }
    }
    if !has_signing_time {
        return Err(Failure::Malformed(
            "no signing time, which notary.x509 requires".into(),
        ));
    }
    if !crit.iter().any(|c| c == SIGNING_SCHEME) {
        return Err(Failure::Malformed(format!(
            "{SIGNING_SCHEME} is not marked critical"
        )));
    }
    if has_expiry && !crit.iter().any(|c| c == EXPIRY) {
        return Err(Failure::Malformed(format!(
            "{EXPIRY} is present but not marked critical"
        )));
    }
    if let Some(unknown) = crit
        .iter()
        .find(|c| ![SIGNING_SCHEME, EXPIRY, AUTHENTIC_SIGNING_TIME].contains(&c.as_str()))
    {
        return Err(Failure::Unsupported(format!(
            "the critical claim {unknown:?} is not one nodefit knows (an extension or plugin \
             attribute it cannot honour)"
        )));
    }
    Ok(())
}

fn parse_jws(bytes: &[u8]) -> Result<Parsed, Failure> {
    #[derive(Deserialize)]
    struct Jws {
        payload: String,
        protected: String,
        #[serde(default)]
        header: Unprotected,
        signature: String,
    }
    #[derive(Default, Deserialize)]
    struct Unprotected {
        #[serde(default)]
        x5c: Vec<String>,
        #[serde(rename = "io.cncf.notary.timestampSignature")]
        timestamp: Option<String>,
    }
    #[derive(Deserialize)]
    struct Protected {
        alg: String,
        #[serde(default)]
        crit: Vec<String>,
        cty: Option<String>,
        #[serde(rename = "io.cncf.notary.signingScheme")]
        scheme: Option<String>,
        #[serde(rename = "io.cncf.notary.signingTime")]
        signing_time: Option<String>,
        #[serde(rename = "io.cncf.notary.expiry")]
        expiry: Option<String>,
    }
    let malformed = |what: &str| Failure::Malformed(format!("not a JWS envelope: {what}"));
    let jws: Jws = serde_json::from_slice(bytes)
        .map_err(|e| malformed(&nodefit_registry::json_problem(&e)))?;
    let protected_bytes = BASE64URL
        .decode(&jws.protected)
        .map_err(|_| malformed("the protected header is not base64url"))?;
    let protected: Protected = serde_json::from_slice(&protected_bytes).map_err(|e| {
        malformed(&format!(
            "the protected header: {}",
            nodefit_registry::json_problem(&e)
        ))
    })?;
    let time = |text: &Option<String>, what: &str| -> Result<Option<i64>, Failure> {
        text.as_deref()
            .map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| t.timestamp())
                    .map_err(|_| Failure::Malformed(format!("the {what} {t:?} is not RFC 3339")))
            })
            .transpose()
    };
    let signing_time = time(&protected.signing_time, "signing time")?;
    let expiry = time(&protected.expiry, "expiry")?;
    check_claims(
        &protected.crit,
        protected.scheme.as_deref(),
        protected.cty.as_deref(),
        signing_time.is_some(),
        expiry.is_some(),
    )?;
    let chain = jws
        .header
        .x5c
        .iter()
        .map(|c| BASE64.decode(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| malformed("a certificate in x5c is not base64"))?;
    Ok(Parsed {
        algorithm: algorithm_of_jose(&protected.alg)?,
        signed: format!("{}.{}", jws.protected, jws.payload).into_bytes(),
        signature: BASE64URL
            .decode(&jws.signature)
            .map_err(|_| malformed("the signature is not base64url"))?,
        payload: BASE64URL
            .decode(&jws.payload)
            .map_err(|_| malformed("the payload is not base64url"))?,
        chain,
        signing_time,
        expiry,
        has_timestamp: jws.header.timestamp.is_some(),
    })
}

fn parse_cose(bytes: &[u8]) -> Result<Parsed, Failure> {
    use ciborium::Value;
    let sign1 = coset::CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| coset::CoseSign1::from_slice(bytes))
        .map_err(|e| Failure::Malformed(format!("not a COSE_Sign1 envelope: {e}")))?;
    let header = &sign1.protected.header;
    let algorithm = match &header.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => {
            algorithm_of_cose(iana::EnumI64::to_i64(a))?
        }
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(id)) => algorithm_of_cose(*id)?,
        _ => return Err(Failure::Malformed("the protected header has no alg".into())),
    };
    let crit: Vec<String> = header
        .crit
        .iter()
        .map(|label| match label {
            coset::RegisteredLabelWithPrivate::Text(text) => text.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    let text_header = |name: &str| {
        header
            .rest
            .iter()
            .find(|(label, _)| *label == Label::Text(name.into()))
            .map(|(_, value)| value)
    };
    // Epoch-based date/time: tag 1 around an integer.
    let time = |name: &str| -> Result<Option<i64>, Failure> {
        match text_header(name) {
            None => Ok(None),
            Some(Value::Tag(1, inner)) => match inner.as_ref() {
                Value::Integer(n) => i64::try_from(*n)
                    .map(Some)
                    .map_err(|_| Failure::Malformed(format!("{name} is out of range"))),
                _ => Err(Failure::Malformed(format!(
                    "{name} is not an integer epoch time"
                ))),
            },
            Some(_) => Err(Failure::Malformed(format!(
                "{name} is not a tagged epoch time"
            ))),
        }
    };
    let signing_time = time(SIGNING_TIME)?;
    let expiry = time(EXPIRY)?;
    let scheme = match text_header(SIGNING_SCHEME) {
        Some(Value::Text(scheme)) => Some(scheme.as_str()),
        _ => None,
    };
    let content_type = match &header.content_type {
        Some(coset::RegisteredLabel::Text(text)) => Some(text.as_str()),
        _ => None,
    };
    check_claims(
        &crit,
        scheme,
        content_type,
        signing_time.is_some(),
        expiry.is_some(),
    )?;
    // x5chain is unprotected in what notation writes; the specification allows it protected.
    let x5chain = sign1
        .unprotected
        .rest
        .iter()
        .chain(header.rest.iter())
        .find(|(label, _)| *label == Label::Int(X5CHAIN))
        .map(|(_, value)| value);
    let chain = match x5chain {
        Some(Value::Array(certs)) => certs
            .iter()
            .map(|c| match c {
                Value::Bytes(der) => Ok(der.clone()),
                _ => Err(Failure::Malformed(
                    "x5chain holds something other than certificates".into(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Bytes(der)) => vec![der.clone()],
        _ => Vec::new(),
    };
    let has_timestamp = sign1
        .unprotected
        .rest
        .iter()
        .any(|(label, _)| *label == Label::Text(TIMESTAMP_SIGNATURE.into()));
    let Some(payload) = sign1.payload.clone() else {
        return Err(Failure::Malformed(
            "the COSE envelope has a detached payload".into(),
        ));
    };
    Ok(Parsed {
        algorithm,
        signed: sign1.tbs_data(&[]),
        signature: sign1.signature.clone(),
        payload,
        chain,
        signing_time,
        expiry,
        has_timestamp,
    })
}
