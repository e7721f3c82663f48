//! Signing compatibility artifacts and verifying them before they are trusted, as classic
//! cosign key-pair signatures (`cosign sign --key` / `cosign verify --key`), so that the
//! tools the ecosystem already runs accept what nodefit signs, and the reverse.
//!
//! - `keys`: P-256 key generation and the PEM formats (PKCS#8, SEC1, PKIX, cosign's encrypted).
//! - `encrypted`: cosign's scrypt + NaCl secretbox envelope around a private key.
//! - `simple_signing`: the payload, the `.sig` manifest and config, exact bytes; signing.
//! - `verify`: checking a `.sig` manifest's layers against a trusted key, and the refusals.
//! - `remote`: signing and verifying on a registry, through `registry::Client`.
//!
//! All but `remote` do no I/O: bytes in, bytes or verdicts out (generating a key and
//! encrypting one draw from the OS random number generator). Callers read key files (through
//! `nodefit_files::read_secret`, at most [`MAX_KEY_BYTES`]) and passwords. Private keys are
//! p256's `SigningKey`, which zeroizes itself on drop; decrypted key bytes and passwords are
//! held in `Zeroizing` buffers. Nothing here prints, chooses exit codes or logs secrets, and
//! errors never quote them.

pub mod bundle;
pub mod encrypted;
pub mod keys;
pub mod notary;
pub mod remote;
pub mod simple_signing;
pub mod trust;
pub mod verify;

pub use keys::{read_private_key, read_public_key, PrivateKeyFormat};
pub use verify::Refusal;

/// The environment variable a key's password is taken from, by the CLI and the server (set but
/// empty means an empty password, as `COSIGN_PASSWORD` does for cosign).
pub const PASSWORD_ENV: &str = "NODEFIT_KEY_PASSWORD";
/// Largest key file read: keys are a few hundred bytes.
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// A key that cannot be generated, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM key file: {0}")]
    NotPem(String),
    #[error("unsupported key: {0}")]
    Unsupported(String),
    #[error("wrong password for the encrypted private key (or the key file is corrupted)")]
    WrongPassword,
    #[error("malformed encrypted private key: {0}")]
    Envelope(String),
    /// No usable password: none given, unreadable, or not confirmed.
    #[error("{0}")]
    Password(String),
    #[error("cannot encode the key: {0}")]
    Encoding(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}
