//! `nodefit keygen`: an ECDSA P-256 key pair for signing compatibility artifacts.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::password::{password, Confirm};
use nodefit_signing::keys;
use nodefit_signing::PASSWORD_ENV;

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created with mode 0600).
    #[arg(long, value_name = "FILE", default_value = "nodefit.key")]
    output_key: PathBuf,
    /// Where to write the public key, which verifiers are given [default: the private key's
    /// path with the extension `.pub`].
    #[arg(long, value_name = "FILE")]
    output_pub: Option<PathBuf>,
    /// Write the private key in cosign's encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`),
    /// which `cosign sign --key` reads too, instead of unencrypted PKCS#8. The password comes
    /// from NODEFIT_KEY_PASSWORD, else it is asked for.
    #[arg(long)]
    cosign_format: bool,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: KeygenArgs) -> Result<u8> {
    let private_path = args.output_key;
    let public_path = args
        .output_pub
        .unwrap_or_else(|| private_path.with_extension("pub"));
    if private_path == public_path {
        bail!(
            "the private and the public key would both be written to {}",
            private_path.display()
        );
    }
    if !args.force {
        for path in [&private_path, &public_path] {
            if fs::symlink_metadata(path).is_ok() {
                bail!("{} exists; --force replaces it", path.display());
            }
        }
    }
    let key = keys::generate()?;
    let private_pem = if args.cosign_format {
        let password = password("Enter a password for the private key: ", Confirm::Twice)?;
        keys::cosign_pem(&key, password.as_bytes())?
    } else {
        keys::pkcs8_pem(&key)?
    };
    let public_pem = keys::public_pem(key.verifying_key())?;
    write_file(&private_path, private_pem.as_bytes(), 0o600, args.force)?;
    write_file(&public_path, public_pem.as_bytes(), 0o644, args.force)?;
    let format = if args.cosign_format {
        "cosign's encrypted format"
    } else {
        "PKCS#8 PEM, unencrypted"
    };
    eprintln!(
        "Private key written to {} ({format}, mode 0600)",
        private_path.display()
    );
    eprintln!("Public key written to {}", public_path.display());
    if args.cosign_format && std::env::var_os(PASSWORD_ENV).is_some() {
        eprintln!("(password taken from {PASSWORD_ENV})");
    }
    Ok(0)
}

/// Writes a new file with `mode`. Without `replace`, refuses to touch an existing path (checked
/// by the kernel, so no race with another writer). With it, writes a temporary file beside the
/// target and renames it over, so a replaced private key never has the old file's looser mode
/// and a reader never sees half a key.
fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    let target = if replace {
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?;
        let mut temporary = name.to_os_string();
        temporary.push(format!(".nodefit-{}.tmp", std::process::id()));
        path.with_file_name(temporary)
    } else {
        path.to_path_buf()
    };
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&target)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = fs::remove_file(&target);
        }
        return Err(e).with_context(|| format!("cannot write {}", target.display()));
    }
    if replace {
        if let Err(e) = fs::rename(&target, path) {
            let _ = fs::remove_file(&target);
            return Err(e).with_context(|| format!("cannot replace {}", path.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nodefit-keygen-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn new_files_get_their_mode_and_existing_ones_are_kept() {
        let dir = scratch("mode");
        let path = dir.join("k");
        write_file(&path, b"one", 0o600, false).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let error = write_file(&path, b"two", 0o600, false).unwrap_err();
        assert!(format!("{error:#}").contains("exists"), "{error:#}");
        assert_eq!(fs::read(&path).unwrap(), b"one");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_file(&path, b"two", 0o600, true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
