//! Helpers shared by the CLI tests: run the built `nodefit` binary and compare with golden files.
//! Each test crate uses a subset of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn nodefit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run nodefit")
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository")
}

/// A path under the core crate's test data, as a string argument.
pub fn data(rel: &str) -> String {
    repo()
        .join("shared/core/tests/data")
        .join(rel)
        .display()
        .to_string()
}

/// Compares `actual` with `backend/cli/tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    // Golden files hold paths relative to the repository so they do not depend on the checkout.
    let actual = actual.replace(&format!("{}/", repo().display()), "");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
