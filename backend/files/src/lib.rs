//! Reading the files users name (specs, snapshots, keys, passwords, configuration, CA
//! certificates) within a size budget, with errors that name the file.
//!
//! Only regular files are read. Anything else is refused without waiting: opening a named pipe
//! waits for a writer and reading a device may never end, so the kind is checked before the
//! file is opened, and the file is opened without blocking and checked again, in case it was
//! swapped in between.
//!
//! Secrets (private keys, passwords, tokens, files that hold credentials) are read by
//! [`read_secret`] into one buffer sized before reading and never grown, so that no
//! reallocation leaves a copy behind, and wiped when dropped.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

/// Largest spec or snapshot read.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest secret read: a password, a token or a private key is a few hundred bytes to a few
/// KiB.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// What `-` names in [`read_text`], and how messages call it.
const STDIN: &str = "-";

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The cause is part of the message rather than a `source`: callers print errors with their
    /// causes, which would repeat it.
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("cannot read {path}: larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("cannot read {path}: not UTF-8 text")]
    NotText { path: String },
    #[error("cannot read {path}: not a regular file (a {kind}){}",
        if *stdin_allowed { "; use `-` to read standard input" } else { "" })]
    NotAFile {
        path: String,
        kind: &'static str,
        /// Whether the reader takes `-` for standard input instead.
        stdin_allowed: bool,
    },
}

impl ReadError {
    /// Whether the file does not exist (some files are optional).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A secret as read: wiped when dropped.
pub struct SecretBytes {
    name: String,
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretBytes {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The secret as text, without copying it.
    pub fn text(&self) -> Result<&str, ReadError> {
        std::str::from_utf8(&self.bytes).map_err(|_| ReadError::NotText {
            path: self.name.clone(),
        })
    }
}

/// Reads a text file of at most [`MAX_INPUT_BYTES`]; `-` is standard input.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let name = path.display().to_string();
    let bytes = if name == STDIN {
        read_within(std::io::stdin().lock(), &name, MAX_INPUT_BYTES)?
    } else {
        read_within(open(path, true)?, &name, MAX_INPUT_BYTES)?
    };
    String::from_utf8(bytes).map_err(|_| ReadError::NotText { path: name })
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_within(open(path, false)?, &path.display().to_string(), limit)
}

/// Reads a secret from a regular file of at most `limit` bytes.
pub fn read_secret(path: &Path, limit: usize) -> Result<SecretBytes, ReadError> {
    read_secret_into(open(path, false)?, path.display().to_string(), limit)
}

/// Reads a secret of at most `limit` bytes from standard input, through its file descriptor:
/// `std::io::stdin()` would pass it through a buffer of its own that is never wiped.
pub fn read_secret_stdin(limit: usize) -> Result<SecretBytes, ReadError> {
    use std::os::fd::AsFd;
    let name = "standard input".to_owned();
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|error| ReadError::Io {
            path: name.clone(),
            error,
        })?;
    read_secret_into(File::from(fd), name, limit)
}

/// Reads a secret of at most `limit` bytes from `source` (a pipe from another program), which
/// messages call `name`.
pub fn read_secret_from(
    source: impl Read,
    name: &str,
    limit: usize,
) -> Result<SecretBytes, ReadError> {
    read_secret_into(source, name.to_owned(), limit)
}

/// Reads into a buffer of `limit + 1` bytes allocated up front (the extra byte tells a file of
/// exactly `limit` bytes from a larger one), filled in place and never reallocated.
fn read_secret_into(
    mut source: impl Read,
    name: String,
    limit: usize,
) -> Result<SecretBytes, ReadError> {
    let mut bytes = Zeroizing::new(vec![0; limit + 1]);
    let mut filled = 0;
    while filled < bytes.len() {
        match source.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(ReadError::Io { path: name, error }),
        }
    }
    if filled > limit {
        return Err(ReadError::TooLarge {
            path: name,
            limit: limit as u64,
        });
    }
    // Shortening keeps the allocation (and the bytes past the end, which are wiped with it).
    bytes.truncate(filled);
    Ok(SecretBytes { name, bytes })
}

fn read_within(source: impl Read, name: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    source
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| ReadError::Io {
            path: name.to_owned(),
            error,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: name.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Opens a regular file for reading. Its kind is checked before it is opened, so that a named
/// pipe or a device is not even opened; it is opened without blocking (a named pipe swapped in
/// meanwhile would otherwise wait for a writer) and without becoming the controlling terminal,
/// and checked again once open.
fn open(path: &Path, stdin_allowed: bool) -> Result<File, ReadError> {
    let name = || path.display().to_string();
    let io = |error| ReadError::Io {
        path: name(),
        error,
    };
    let not_a_file = |file_type| ReadError::NotAFile {
        path: name(),
        kind: file_kind(file_type),
        stdin_allowed,
    };
    let file_type = std::fs::metadata(path).map_err(io)?.file_type();
    if !file_type.is_file() {
        return Err(not_a_file(file_type));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let file_type = file.metadata().map_err(io)?.file_type();
    if !file_type.is_file() {
        return Err(not_a_file(file_type));
    }
    Ok(file)
}

/// What a non-regular file is, for messages.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "named pipe"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::Duration;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("nodefit-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs `read` on another thread, failing instead of hanging if it blocks.
    fn without_waiting<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || sender.send(read()));
        receiver
            .recv_timeout(Duration::from_secs(5))
            .expect("the read blocked")
    }

    #[test]
    fn secrets_are_read_whole_up_to_their_limit() {
        let dir = Scratch::new("limit");
        let exact = dir.file("exact", &[b'k'; 16]);
        let secret = read_secret(&exact, 16).unwrap();
        assert_eq!(secret.as_bytes(), [b'k'; 16]);
        assert_eq!(secret.text().unwrap(), "k".repeat(16));

        let over = dir.file("over", &[b'k'; 17]);
        let error = read_secret(&over, 16).err().unwrap();
        assert!(
            matches!(error, ReadError::TooLarge { limit: 16, .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            format!("cannot read {}: larger than 16 bytes", over.display())
        );
        assert!(matches!(
            read_bytes(&over, 16),
            Err(ReadError::TooLarge { limit: 16, .. })
        ));

        let binary = dir.file("binary", &[0xff, 0xfe]);
        let error = read_secret(&binary, 16).unwrap().text().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("cannot read {}: not UTF-8 text", binary.display())
        );
    }

    #[test]
    fn secrets_are_read_into_the_buffer_allocated_first() {
        let dir = Scratch::new("capacity");
        let path = dir.file("key", b"-----BEGIN PRIVATE KEY-----\n");
        let secret = read_secret(&path, 1024).unwrap();
        // Never grown: the allocation is the one made before reading.
        assert_eq!(secret.bytes.capacity(), 1025);
        assert_eq!(secret.as_bytes(), b"-----BEGIN PRIVATE KEY-----\n");
    }

    #[test]
    fn named_pipes_are_refused_without_waiting_for_a_writer() {
        let dir = Scratch::new("fifo");
        let fifo = dir.0.join("pipe");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (a, b, c) = (fifo.clone(), fifo.clone(), fifo.clone());
        let errors = [
            without_waiting(move || read_secret(&a, 64).err().unwrap()),
            without_waiting(move || read_bytes(&b, 64).unwrap_err()),
            without_waiting(move || read_text(&c).unwrap_err()),
        ];
        for error in &errors {
            assert!(
                matches!(
                    error,
                    ReadError::NotAFile {
                        kind: "named pipe",
                        ..
                    }
                ),
                "{error}"
            );
        }
        assert!(errors[0]
            .to_string()
            .ends_with("not a regular file (a named pipe)"));
        assert!(errors[2]
            .to_string()
            .ends_with("; use `-` to read standard input"));
    }

    #[test]
    fn directories_and_devices_are_refused() {
        let dir = Scratch::new("kinds");
        let error = read_secret(&dir.0, 64).err().unwrap();
        assert!(
            matches!(
                error,
                ReadError::NotAFile {
                    kind: "directory",
                    ..
                }
            ),
            "{error}"
        );
        let error = without_waiting(|| read_bytes(Path::new("/dev/zero"), 64).unwrap_err());
        assert!(
            matches!(
                error,
                ReadError::NotAFile {
                    kind: "character device",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_file_and_tell_missing_files_apart() {
        let error = read_secret(Path::new("/nonexistent/key"), 64)
            .err()
            .unwrap();
        assert!(error.is_not_found());
        let text = error.to_string();
        assert!(text.starts_with("cannot read /nonexistent/key: "), "{text}");
        // The cause appears once: it is not also a `source` that printing would repeat.
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn text_is_checked_and_bounded() {
        let dir = Scratch::new("text");
        let spec = dir.file("spec.yaml", b"version: v1alpha1\n");
        assert_eq!(read_text(&spec).unwrap(), "version: v1alpha1\n");
        let binary = dir.file("binary", &[0xff]);
        assert!(matches!(read_text(&binary), Err(ReadError::NotText { .. })));
    }
}
