//! Build tasks written in Rust, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! `build-ui` builds the web UI into `frontend/dist/` with nothing downloaded outside the
//! package registries (crates.io, npm):
//! 1. `cargo build -p nodefit-frontend --target wasm32-unknown-unknown --profile wasm-release`;
//! 2. wasm-bindgen, in process through `wasm-bindgen-cli-support` (the version pinned to the
//!    frontend's `wasm-bindgen`), so no `wasm-bindgen` binary has to be installed;
//! 3. `npm ci` (when the lockfile changed) and esbuild for the CodeMirror bundle;
//! 4. content-hashed file names, so the server may cache them forever, and an `index.html`
//!    (never cached) that names them.
//!
//! There is deliberately no wasm-opt step: Debian bookworm's binaryen silently breaks the
//! app's wasm (see docs/ui.md); the size profile gets most of the gain.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: cargo xtask build-ui

Builds the web UI (frontend/) into frontend/dist/: the Leptos app for wasm32 with wasm-bindgen,
and the CodeMirror bundle with npm + esbuild (needs node and npm on PATH).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["build-ui"] => build_ui(),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})").into())
    }
}

fn build_ui() -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let frontend = root.join("frontend");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));

    eprintln!("xtask: building nodefit-frontend for wasm32 (profile wasm-release)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).current_dir(&root).args([
        "build",
        "-p",
        "nodefit-frontend",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
    ]))?;
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/nodefit_frontend.wasm");

    eprintln!("xtask: wasm-bindgen");
    let bindgen_out = target_dir.join("xtask/bindgen");
    let _ = fs::remove_dir_all(&bindgen_out);
    fs::create_dir_all(&bindgen_out)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        // The library defaults to true (the CLI does not); without the default path the
        // generated init() fails with "Argument 0 must be a buffer source".
        .omit_default_module_path(false)
        .typescript(false)
        // Function names are for debuggers; they are 40 % of the file.
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&bindgen_out)?;
    let glue = fs::read_to_string(bindgen_out.join("nodefit_frontend.js"))?;
    let wasm_bytes = fs::read(bindgen_out.join("nodefit_frontend_bg.wasm"))?;

    let editor_js = build_editor(&frontend.join("editor"), &target_dir.join("xtask"))?;
    let style = fs::read(frontend.join("style.css"))?;

    let dist = frontend.join("dist");
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist)?;
    let mut files: Vec<(String, usize)> = Vec::new();
    let mut write = |stem: &str, ext: &str, bytes: &[u8]| -> Result<String> {
        let name = format!("{stem}-{}.{ext}", short_hash(bytes));
        fs::write(dist.join(&name), bytes)?;
        files.push((name.clone(), bytes.len()));
        Ok(name)
    };
    let wasm_name = write("nodefit", "wasm", &wasm_bytes)?;
    let glue_name = write("nodefit", "js", glue.as_bytes())?;
    let editor_name = write("editor", "js", &editor_js)?;
    let style_name = write("style", "css", &style)?;
    let boot = boot_js(&editor_name, &glue_name, &wasm_name);
    let boot_name = write("boot", "js", boot.as_bytes())?;

    let template = fs::read_to_string(frontend.join("index.html"))?;
    let index = template
        .replace("{{style}}", &style_name)
        .replace("{{boot}}", &boot_name)
        .replace("{{wasm}}", &wasm_name)
        .replace("{{glue}}", &glue_name)
        .replace("{{editor}}", &editor_name);
    if index.contains("{{") {
        return Err("frontend/index.html has a placeholder xtask does not know".into());
    }
    fs::write(dist.join("index.html"), &index)?;

    let mut report = String::new();
    let mut total_gz = 0;
    for (name, raw) in &files {
        let gz = gzip_len(&fs::read(dist.join(name))?)?;
        total_gz += gz;
        writeln!(report, "  {name:<40} {raw:>9} B  {gz:>8} B gzipped")?;
    }
    eprint!("{report}");
    eprintln!(
        "xtask: frontend/dist written in {:.1} s; {} B gzipped in all",
        started.elapsed().as_secs_f64(),
        total_gz
    );
    Ok(())
}

/// The ES module that loads the editor bundle, then starts the app with the hashed wasm.
fn boot_js(editor: &str, glue: &str, wasm: &str) -> String {
    format!(
        r#"// Generated by `cargo xtask build-ui`.
import "./{editor}";
import init from "./{glue}";
init({{ module_or_path: new URL("./{wasm}", import.meta.url) }}).catch((e) => {{
  const p = document.createElement("p");
  p.setAttribute("role", "alert");
  p.textContent = "nodefit's web UI could not start (" + e + "). Reload the page; if it keeps failing, rebuild it with `cargo xtask build-ui` and restart `nodefit serve`.";
  document.body.prepend(p);
}});
"#
    )
}

/// Installs the editor's npm packages (only when the lockfile changed) and bundles it.
fn build_editor(dir: &Path, scratch: &Path) -> Result<Vec<u8>> {
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (fs::metadata(&lock), fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => i.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        eprintln!("xtask: npm ci (frontend/editor)");
        run(Command::new("npm")
            .current_dir(dir)
            .args(["ci", "--no-audit", "--no-fund"]))
        .map_err(|e| format!("{e}: the editor bundle needs node and npm on PATH"))?;
    }
    eprintln!("xtask: esbuild (frontend/editor)");
    fs::create_dir_all(scratch)?;
    let out = scratch.join("editor.js");
    run(Command::new(dir.join("node_modules/.bin/esbuild"))
        .current_dir(dir)
        .args([
            "src/editor.js",
            "--bundle",
            "--format=esm",
            "--minify",
            "--target=es2020",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", out.display())))?;
    Ok(fs::read(out)?)
}

/// The first 16 hex digits of the content's SHA-256.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_content() {
        assert_eq!(short_hash(b"a"), short_hash(b"a"));
        assert_ne!(short_hash(b"a"), short_hash(b"b"));
        assert_eq!(short_hash(b"").len(), 16);
    }

    #[test]
    fn boot_loads_the_hashed_files() {
        let boot = boot_js("editor-1.js", "nodefit-2.js", "nodefit-3.wasm");
        assert!(boot.contains(r#"import "./editor-1.js";"#));
        assert!(boot.contains(r#"import init from "./nodefit-2.js";"#));
        assert!(boot.contains(r#"new URL("./nodefit-3.wasm", import.meta.url)"#));
    }
}
