//! Writes a generated fleet (`nodefit_e2e::fleetgen`) as NodeFeatureList files, for
//! `e2e/bench/fleet-scale.sh`:
//!
//!     fleet-gen NODES DIR [NODES_PER_FILE]
//!
//! Files are `DIR/list-NNNNN.json`, 100 nodes each unless told otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use nodefit_e2e::fleetgen::Generator;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(nodes), Some(dir)) = (
        args.first().and_then(|n| n.parse::<usize>().ok()),
        args.get(1).map(PathBuf::from),
    ) else {
        eprintln!("usage: fleet-gen NODES DIR [NODES_PER_FILE]");
        return ExitCode::from(2);
    };
    let per_file = args
        .get(2)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(100)
        .max(1);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("fleet-gen: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let generator = Generator::new();
    for (n, from) in (0..nodes).step_by(per_file).enumerate() {
        let path = dir.join(format!("list-{n:05}.json"));
        let list = generator.list(from, (from + per_file).min(nodes));
        if let Err(e) = std::fs::write(&path, list) {
            eprintln!("fleet-gen: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
