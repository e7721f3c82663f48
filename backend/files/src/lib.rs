//! Reading user files with errors that name the file.

use std::path::Path;

/// Largest spec or snapshot file read from disk.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: larger than {MAX_INPUT_BYTES} bytes")]
    TooLarge { path: String },
    #[error("cannot read {path}: not UTF-8 text")]
    NotText { path: String },
    #[error("cannot read {path}: not a regular file (a {kind}); use `-` to read standard input")]
    NotAFile { path: String, kind: &'static str },
}

/// What a non-regular file is, for messages.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
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

/// Reads a text file; `-` is standard input. Anything but a regular file is refused before it
/// is opened: opening a named pipe waits for a writer, and reading a device may never end.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let name = path.display().to_string();
    let io = |source| ReadError::Io {
        path: name.clone(),
        source,
    };
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        let file_type = std::fs::metadata(path).map_err(io)?.file_type();
        if !file_type.is_file() {
            return Err(ReadError::NotAFile {
                path: name,
                kind: file_kind(file_type),
            });
        }
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge { path: name });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText { path: name })
}
