//! Speed of the core: snapshot parsing, evaluation per node (the three samples and 10,000
//! generated nodes), lint of a 2,000-line spec, and a 20-rule NodeFeatureRule processed per
//! node as nfd-master does. Figures go to docs/benchmarks.md.

use std::hint::black_box;

/// The allocator the `nodefit` binary uses, so that figures are the CLI's and the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nodefit_core::eval::{evaluate, Options};
use nodefit_core::features::{Features, Instance};
use nodefit_core::nfr::{self, process};
use nodefit_core::{lint, parse_spec, snapshot};

const SAMPLES: [(&str, &str); 3] = [
    (
        "intel",
        include_str!("../tests/data/samples/intel-spr-h100-cx6.features.json"),
    ),
    (
        "amd",
        include_str!("../tests/data/samples/amd-genoa-mi210-rhel9.features.json"),
    ),
    (
        "arm64",
        include_str!("../tests/data/samples/arm64-graviton3-al2023.features.json"),
    ),
];
const EXAMPLE: &str = include_str!("../tests/data/examples/preferred-fallback.yaml");
const NFD_EXAMPLE: &str = include_str!("../tests/data/examples/image-compatibility.yaml");

fn samples() -> Vec<Features> {
    SAMPLES
        .iter()
        .map(|(_, src)| snapshot::parse(src).unwrap().nodes.remove(0).features)
        .collect()
}

/// 10,000 nodes derived from the samples with varied CPU vendors, loaded modules and PCI
/// devices, so that rules match on some and fail on others at different terms.
fn generated(n: usize) -> Vec<Features> {
    let base = samples();
    let vendors = ["Intel", "AMD", "ARM", "Hygon"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let mut f = base[i % base.len()].clone();
            let r = next();
            if let Some(model) = f
                .attributes
                .get_mut("cpu.model")
                .and_then(|a| a.elements.as_mut())
            {
                model.insert("vendor_id".into(), vendors[(r % 4) as usize].into());
            }
            if r & 16 != 0 {
                f.flags
                    .entry("kernel.loadedmodule".into())
                    .or_default()
                    .elements
                    .get_or_insert_with(Default::default)
                    .insert("vfio-pci".into());
            }
            if r & 32 != 0 {
                if let Some(devs) = f
                    .instances
                    .get_mut("pci.device")
                    .and_then(|s| s.elements.as_mut())
                {
                    devs.push(Instance {
                        attributes: Some(
                            [
                                ("vendor".into(), "0eee".into()),
                                ("class".into(), "0200".into()),
                            ]
                            .into_iter()
                            .collect(),
                        ),
                    });
                }
            }
            f
        })
        .collect()
}

/// A spec of about `lines` lines: many rules over many features and ops.
fn big_spec(lines: usize) -> String {
    let mut s = String::from("version: v1alpha1\ncompatibilities:\n");
    let mut set = 0;
    while s.lines().count() < lines {
        s.push_str(&format!(
            "- tag: \"set{set}\"\n  weight: {}\n  description: \"generated set {set}\"\n  rules:\n",
            set % 100 + 1
        ));
        for r in 0..10 {
            s.push_str(&format!(
                "  - name: \"rule {set}-{r}\"\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions:\n        vfio_pci: {{op: Exists}}\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: In, value: [\"Intel\", \"AMD\"]}}\n        family: {{op: Ge, value: [\"6\"]}}\n    - feature: kernel.version\n      matchExpressions:\n        major: {{op: GtLt, value: [\"4\", \"7\"]}}\n    matchAny:\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions:\n          vendor: {{op: In, value: [\"10de\"]}}\n          class: {{op: InRegexp, value: [\"^03\"]}}\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions:\n          vendor: {{op: In, value: [\"1002\"]}}\n"
            ));
        }
        set += 1;
    }
    s
}

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, src) in SAMPLES {
        g.throughput(Throughput::Bytes(src.len() as u64));
        g.bench_function(format!("snapshot/{name}"), |b| {
            b.iter(|| snapshot::parse(black_box(src)).unwrap())
        });
    }
    g.bench_function("spec/preferred-fallback", |b| {
        b.iter(|| parse_spec(black_box(EXAMPLE)).unwrap())
    });
    g.finish();
}

fn evaluation(c: &mut Criterion) {
    let options = Options::default();
    let mut g = c.benchmark_group("evaluate");
    for (spec_name, src) in [
        ("preferred-fallback", EXAMPLE),
        ("image-compatibility", NFD_EXAMPLE),
    ] {
        let spec = parse_spec(src).unwrap();
        for ((name, _), features) in SAMPLES.iter().zip(samples()) {
            g.bench_function(format!("{spec_name}/{name}"), |b| {
                b.iter(|| evaluate(&spec, black_box(&features), &options).unwrap())
            });
        }
    }
    let spec = parse_spec(NFD_EXAMPLE).unwrap();
    let fleet = generated(10_000);
    g.throughput(Throughput::Elements(fleet.len() as u64));
    g.sample_size(10);
    g.bench_function("image-compatibility/10000-generated-nodes", |b| {
        b.iter(|| {
            fleet
                .iter()
                .filter(|f| evaluate(&spec, f, &options).unwrap().is_compatible())
                .count()
        })
    });
    g.finish();
}

/// `nodefit labels` and the server's labels matrix: 20 rules (e2e/bench/nodefeaturerule-20.yaml)
/// on each sample, and on 1,000 generated nodes.
fn labels(c: &mut Criterion) {
    let objects = nfr::parse(include_str!("../../../e2e/bench/nodefeaturerule-20.yaml")).unwrap();
    let ruleset = process::Ruleset::new(&objects);
    let settings = process::Settings::default();
    let options = process::Options::default();
    let mut g = c.benchmark_group("labels");
    for ((name, _), features) in SAMPLES.iter().zip(samples()) {
        g.bench_function(format!("20-rules/{name}"), |b| {
            b.iter(|| {
                process::process(&ruleset, black_box(&features), &settings, &options).unwrap()
            })
        });
    }
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(10);
    g.bench_function("20-rules/1000-generated-nodes", |b| {
        // Built here, so that the other benchmarks of the group do not pay for it when filtered.
        let fleet = generated(1_000);
        b.iter(|| {
            fleet
                .iter()
                .map(|f| {
                    process::process(&ruleset, f, &settings, &options)
                        .unwrap()
                        .labels
                        .len()
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

fn linting(c: &mut Criterion) {
    let spec = big_spec(2000);
    let mut g = c.benchmark_group("lint");
    g.throughput(Throughput::Bytes(spec.len() as u64));
    g.bench_function("2000-line-spec", |b| {
        b.iter(|| lint::lint(black_box(&spec), &[]))
    });
    let samples = samples();
    let snaps: Vec<lint::LintSnapshot> = samples
        .iter()
        .map(|f| lint::LintSnapshot {
            name: "sample",
            features: f,
        })
        .collect();
    g.bench_function("2000-line-spec-with-3-snapshots", |b| {
        b.iter_batched(
            || (),
            |_| lint::lint(black_box(&spec), &snaps),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parsing, evaluation, linting, labels);
criterion_main!(benches);
