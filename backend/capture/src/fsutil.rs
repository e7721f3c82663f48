//! Reading the host's pseudo-files, which may be missing, unreadable, empty or garbage: every
//! read returns an error or lossy text, never panics.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// Largest file read whole. Kernel configs are a few hundred KB; a larger file is truncated
/// rather than allowed to exhaust memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// `EINVAL`, which sysfs returns for attributes that exist but have no value (the speed of a
/// link that is down). The same number on every Linux architecture.
pub(super) const EINVAL: i32 = 22;

pub(super) fn read_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    fs::File::open(path)?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// File contents as text; bytes that are not UTF-8 become U+FFFD (Go keeps them, but every file
/// NFD reads is ASCII in practice).
pub(super) fn read_text(path: &Path) -> io::Result<String> {
    Ok(String::from_utf8_lossy(&read_bytes(path)?).into_owned())
}

/// `strings.TrimSpace(string(os.ReadFile(path)))`.
pub(super) fn read_trimmed(path: &Path) -> io::Result<String> {
    Ok(read_text(path)?.trim().to_string())
}

pub(super) struct Entry {
    pub name: String,
    /// The entry itself is a directory (a symlink to one is not), like Go's `DirEntry.IsDir`.
    pub is_dir: bool,
}

/// `os.ReadDir`: entries sorted by name.
pub(super) fn list_dir(path: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        out.push(Entry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: entry.file_type().is_ok_and(|t| t.is_dir()),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Names of the entries of a directory, sorted.
pub(super) fn list_names(path: &Path) -> io::Result<Vec<String>> {
    Ok(list_dir(path)?.into_iter().map(|e| e.name).collect())
}

/// `<path>: <error>`, for problem reports.
pub(super) fn describe(path: &Path, err: &io::Error) -> String {
    format!("{}: {err}", path.display())
}
