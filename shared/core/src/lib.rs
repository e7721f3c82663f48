//! nodefit's pure core: the NFD image-compatibility spec model, YAML reading with source spans,
//! NFD-exact evaluation against node feature snapshots, the validate-node report, and lint.
//!
//! Nothing here does I/O: every function takes values and returns values, so the same code runs
//! in the CLI, the server and the browser (wasm32).

pub mod budget;
pub mod decode;
pub mod eval;
pub mod features;
pub mod fleet;
pub mod goregex;
pub mod gostr;
pub mod k8s;
pub mod nfr;
pub mod report;
pub mod schedule;
pub mod snapshot;
pub mod source;
pub mod spec;
pub mod template;
pub mod text;
pub mod tree;
pub mod verdict;
pub mod version;
pub mod yaml;

/// Reads a spec as NFD would (YAML or JSON): the model, or every place Go's decoder refuses.
pub fn parse_spec(src: &str) -> Result<spec::Spec, Vec<decode::DecodeError>> {
    let root = yaml::parse(src).map_err(|e| {
        vec![decode::DecodeError {
            path: String::new(),
            message: e.message,
            span: e.span,
            budget: e.budget,
        }]
    })?;
    let (spec, errors) = decode::decode_spec(root.as_ref());
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}
pub mod catalog;
pub mod lint;
