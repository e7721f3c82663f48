//! The publish pipeline: what `nodefit attach [--sign]` and `POST /api/v1/publish` both run, in
//! this order.
//!
//! 1. [`check`], the lint gate: a spec with error-severity diagnostics (NFD refusing or
//!    aborting on it, keys NFD ignores, rules no node can satisfy...) is refused, unless the
//!    caller forces it through. Pure and CPU-bound, so that the server can run it off its async
//!    workers; the only way to get the [`Checked`] spec that [`publish`] takes.
//! 2. [`annotations`]: the caller's annotations with `org.opencontainers.image.created`, which
//!    NFD picks the newest artifact by.
//! 3. [`publish`]: attach the spec to the image as NFD's compatibility artifact (re-attaching
//!    the content of the newest artifact changes nothing, which is also what makes a retry after
//!    a failed signature sign the artifact already there), then let each [`Signer`] sign it.
//!
//! Nothing here prints or words errors for a user: the lint gate returns the diagnostics, the
//! registry and signing crates' errors pass through, and each edge renders them.

use std::collections::BTreeMap;

use nodefit_core::lint::{self, Diagnostic, Severity};
use nodefit_registry::{self as registry, Attached, Client, Platform, CREATED};
use nodefit_signing::notary;
use nodefit_signing::remote::{self, SignWith, Signed};
use p256::ecdsa::SigningKey;

/// A spec that passed the lint gate, or was forced through it.
#[derive(Debug)]
pub struct Checked {
    spec: String,
    forced: Vec<Diagnostic>,
}

impl Checked {
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The error-severity diagnostics it was forced through with (empty when it passed).
    pub fn forced(&self) -> &[Diagnostic] {
        &self.forced
    }
}

/// A spec the lint gate refused, with its error-severity diagnostics.
#[derive(Debug)]
pub struct Refused {
    pub spec: String,
    pub errors: Vec<Diagnostic>,
}

/// The lint gate: `spec` is refused if linting it finds errors, unless `force`.
pub fn check(spec: String, force: bool) -> Result<Checked, Refused> {
    let errors: Vec<Diagnostic> = lint::lint(&spec, &[])
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() || force {
        Ok(Checked {
            spec,
            forced: errors,
        })
    } else {
        Err(Refused { spec, errors })
    }
}

/// An artifact's annotations, `org.opencontainers.image.created` among them.
#[derive(Clone, Debug)]
pub struct Annotations(BTreeMap<String, String>);

impl Annotations {
    /// `given`, with `org.opencontainers.image.created` set to now: RFC 3339 in UTC with
    /// nanoseconds, so that quick successive publishes still sort in order.
    pub fn created_now(mut given: BTreeMap<String, String>) -> Self {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        given.insert(CREATED.to_owned(), now);
        Self(given)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// A creation time NFD cannot read.
#[derive(Debug, thiserror::Error)]
#[error(
    "{CREATED}={0:?} is not an RFC 3339 time NFD can read; NFD would treat the artifact as the \
     oldest"
)]
pub struct BadCreated(pub String);

/// `given`, with `org.opencontainers.image.created` set to now unless given
/// ([`Annotations::created_now`]); a given one must be a time NFD can read.
pub fn annotations(given: BTreeMap<String, String>) -> Result<Annotations, BadCreated> {
    match given.get(CREATED) {
        Some(created) if registry::created_is_valid(created) => Ok(Annotations(given)),
        Some(created) => Err(BadCreated(created.clone())),
        None => Ok(Annotations::created_now(given)),
    }
}

/// One way of signing a published artifact: a signature format is a variant, and a
/// publication takes a list of signers (one per format the caller signs in).
pub enum Signer<'k> {
    /// A sigstore bundle referrer, as cosign 3 writes it.
    Bundle(&'k SigningKey),
    /// A classic cosign key-pair signature, in the artifact's `sha256-<hex>.sig` tag.
    Classic(&'k SigningKey),
    /// A Notary Project signature referrer, as notation writes it.
    Notation {
        key: &'k notary::keys::SigningKey,
        /// DER certificates, signing certificate first.
        chain: &'k [Vec<u8>],
        envelope: notary::EnvelopeFormat,
    },
}

impl Signer<'_> {
    /// How the signing crate is told to sign.
    pub fn with(&self) -> SignWith<'_> {
        match self {
            Signer::Bundle(key) => SignWith::Bundle(key),
            Signer::Classic(key) => SignWith::Classic(key),
            Signer::Notation {
                key,
                chain,
                envelope,
            } => SignWith::Notation {
                key,
                chain,
                envelope: *envelope,
            },
        }
    }
}

/// Where and how to publish a checked spec.
pub struct Publication<'a> {
    /// Attach to this platform's manifest of a multi-platform image instead of to its index.
    pub platform: Option<&'a Platform>,
    /// The spec layer's file name (the registry client makes it a plain file name).
    pub title: &'a str,
    pub annotations: &'a Annotations,
    /// Each signs the artifact, in this order.
    pub signers: &'a [Signer<'a>],
}

/// What [`publish`] did.
#[derive(Debug)]
pub struct Published {
    pub attached: Attached,
    /// One per signer, in the signers' order; each says its format.
    pub signatures: Vec<Signed>,
}

/// Attaches `spec` to the client's image as NFD's compatibility artifact, then signs it with
/// each signer. Signers run only once the artifact is attached, so a failed signature leaves an
/// artifact that publishing again (same content, nothing new written) signs; a signer whose
/// signature is there already writes nothing.
pub async fn publish(
    client: &Client,
    spec: &Checked,
    publication: &Publication<'_>,
) -> Result<Published, registry::Error> {
    let attached = client
        .attach(
            publication.platform,
            spec.spec.as_bytes(),
            publication.title,
            &publication.annotations.0,
        )
        .await?;
    let mut signatures = Vec::with_capacity(publication.signers.len());
    for signer in publication.signers {
        signatures.push(
            remote::sign(
                client,
                publication.platform,
                Some(&attached.digest),
                &signer.with(),
            )
            .await?,
        );
    }
    Ok(Published {
        attached,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNDECODABLE: &str = "compatibilities: [{rules: 5}]\n";
    const UNKNOWN_OP: &str = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions:\n        vfio_pci: {op: exists}\n";

    #[test]
    fn specs_with_lint_errors_are_refused_unless_forced() {
        for broken in [UNDECODABLE, UNKNOWN_OP] {
            let refused = check(broken.to_owned(), false).unwrap_err();
            assert!(!refused.errors.is_empty());
            assert_eq!(refused.spec, broken);
            let forced = check(broken.to_owned(), true).unwrap();
            assert_eq!(forced.forced().len(), refused.errors.len());
            assert_eq!(forced.spec(), broken);
        }
        let warnings_only = UNKNOWN_OP
            .replace("exists", "Exists")
            .replace("vfio_pci", "vfio-pci");
        let passed = check(warnings_only, false).unwrap();
        assert!(passed.forced().is_empty());
    }

    #[test]
    fn a_creation_time_nfd_can_read_is_kept_or_added() {
        let given = BTreeMap::from([("team".to_owned(), "hpc".to_owned())]);
        let added = annotations(given).unwrap();
        assert_eq!(added.get("team"), Some("hpc"));
        let created = added.get(CREATED).unwrap();
        assert!(registry::created_is_valid(created), "{created}");
        assert!(created.ends_with('Z') && created.contains('.'), "{created}");

        let kept = BTreeMap::from([(CREATED.to_owned(), "2025-01-01T00:00:00Z".to_owned())]);
        assert_eq!(
            annotations(kept).unwrap().get(CREATED),
            Some("2025-01-01T00:00:00Z")
        );
        let bad = BTreeMap::from([(CREATED.to_owned(), "yesterday".to_owned())]);
        assert_eq!(
            annotations(bad).unwrap_err().to_string(),
            "org.opencontainers.image.created=\"yesterday\" is not an RFC 3339 time NFD can \
             read; NFD would treat the artifact as the oldest"
        );
    }
}
