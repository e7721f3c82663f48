//! The flags that say what is trusted, shared by `verify`, `fetch`, `validate-node` and
//! `discover`, and how they become the signing crate's [`Requirement`] for a repository: cosign
//! keys, trusted certificates and notation's configuration on the command line (any of them
//! verifying is enough, or each with `--require-all`), or one trust policy file.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use nodefit_signing::trust::{Requirement, Rule};
use nodefit_signing::trust_files::{load_certs, load_key, NotationConfig, Policy};

#[derive(Args, Default)]
pub struct TrustOpts {
    /// A trusted certificate (PEM or DER): Notary Project signatures whose chain leads to it
    /// verify. Repeat for more.
    #[arg(long = "trusted-cert", value_name = "FILE")]
    trusted_certs: Vec<PathBuf>,
    /// notation's configuration directory (`~/.config/notation`): its trustpolicy.json and
    /// trust store decide which Notary Project signatures verify.
    #[arg(long, value_name = "DIR")]
    notation_config: Option<PathBuf>,
    /// Require a verified signature by each key, certificate and notation policy given,
    /// instead of by any one of them.
    #[arg(long)]
    require_all: bool,
    /// A nodefit trust policy (docs/signing.md): what must verify, per repository. Replaces
    /// the other trust flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trusted_certs", "notation_config", "require_all"])]
    trust_policy: Option<PathBuf>,
}

impl TrustOpts {
    /// Whether anything is trusted: without it, commands behave as NFD and verify nothing.
    pub fn given(&self, keys: &[PathBuf]) -> bool {
        !keys.is_empty()
            || !self.trusted_certs.is_empty()
            || self.notation_config.is_some()
            || self.trust_policy.is_some()
    }

    /// What must verify for `repository` (`registry/name`), with `keys` the command's cosign
    /// key flags. `Ok(None)` when nothing is trusted. A repository no policy covers is a
    /// [`Refusal::NoPolicy`].
    pub fn requirement(&self, keys: &[PathBuf], repository: &str) -> Result<Option<Requirement>> {
        if let Some(path) = &self.trust_policy {
            if !keys.is_empty() {
                bail!("--trust-policy names the trusted keys itself; drop the key flags");
            }
            return Ok(Some(Policy::load(path)?.requirement(repository)?));
        }
        if !self.given(keys) {
            return Ok(None);
        }
        let mut trusted = Vec::new();
        for key in keys {
            trusted.push(load_key(key)?);
        }
        if !self.trusted_certs.is_empty() {
            trusted.push(load_certs(&self.trusted_certs, &[])?);
        }
        let mut rule = if self.require_all {
            Rule::AllOf
        } else {
            Rule::AnyOf
        };
        if let Some(dir) = &self.notation_config {
            match NotationConfig::load(dir)?.trust_for(repository)? {
                Some(notation) => trusted.push(notation),
                // notation's `skip`: this repository needs no Notary Project signature.
                None if trusted.is_empty() => rule = Rule::None,
                None => {}
            }
        }
        Ok(Some(Requirement {
            policy: "the command line's trust flags".into(),
            rule,
            trusted,
        }))
    }
}
