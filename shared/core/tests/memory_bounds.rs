//! Memory bounds: for every input kind the core reads, generated inputs (real shapes, and the
//! hostile ones: YAML aliases repeated level upon level, long scalars, `range` inside `range`,
//! large repeat counts in regexps) keep the most bytes the core holds at once within the
//! bound stated in `bounds/mod.rs` and docs/testing.md: a multiple of the input's size plus a
//! constant. The fuzz targets in shared/fuzz check the same bounds on their inputs.
//!
//! The counting allocator is this binary's global allocator; it counts per thread, so tests
//! running side by side do not see each other's allocations.

use nodefit_core::features::Features;
use nodefit_core::snapshot;
use proptest::prelude::*;

mod bounds;
mod grammar;

#[global_allocator]
static METER: bounds::Meter = bounds::Meter;

fn node() -> Features {
    snapshot::parse(include_str!(
        "data/samples/intel-spr-h100-cx6.features.json"
    ))
    .unwrap()
    .nodes
    .remove(0)
    .features
}

// ---- the meter itself: a bound that cannot be exceeded would make every test below vacuous ----

#[test]
fn the_meter_counts_what_a_call_holds_at_its_peak() {
    let bound = bounds::Bound {
        kind: "test",
        per_input_byte: 1,
        constant: 4 << 20,
    };
    let (kept, peak) = bound.measure(0, || {
        let transient = vec![1u8; 2 << 20];
        drop(transient);
        vec![1u8; 1 << 20]
    });
    assert_eq!(kept.len(), 1 << 20);
    assert!((2 << 20..3 << 20).contains(&peak), "peak {peak}");
}

#[test]
#[should_panic(expected = "over the bound")]
fn a_call_over_its_bound_fails() {
    let bound = bounds::Bound {
        kind: "test",
        per_input_byte: 2,
        constant: 1 << 20,
    };
    let input = vec![0u8; 1000];
    bound.measure(input.len(), || vec![1u8; (1 << 20) + 3000]);
}

// ---- YAML: anchors and aliases ----

/// A chain of anchors: level 0 is `leaf`, level k is `width` aliases of level k-1 (in a
/// sequence, a mapping, or merged with `<<`), so the tree holds width^depth copies of the
/// leaf. Returns the anchor definitions as a flow mapping, and the name of the top anchor.
fn alias_chain(leaf: &str, width: usize, depth: usize, shape: u8) -> (String, String) {
    let mut defs = vec![format!("l0: &a0 {leaf}")];
    for level in 1..=depth {
        let below = level - 1;
        let body = match shape % 3 {
            0 => format!("[{}]", vec![format!("*a{below}"); width].join(", ")),
            1 => format!(
                "{{{}}}",
                (0..width)
                    .map(|i| format!("k{i}: *a{below}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "{{<<: [{}], m{level}: x}}",
                vec![format!("*a{below}"); width].join(", ")
            ),
        };
        defs.push(format!("l{level}: &a{level} {body}"));
    }
    (format!("{{{}}}", defs.join(", ")), format!("*a{depth}"))
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0usize..4096).prop_map(|n| format!("\"{}\"", "x".repeat(n))),
        Just("{vendor_id: {op: In, value: [Intel, AMD]}}".to_string()),
        Just(
            "{name: r, matchFeatures: [{feature: cpu.model, matchExpressions: {vendor_id: {op: Exists}}}]}"
                .to_string()
        ),
        Just("{unknownKey: 1, Name: r, name: s}".to_string()),
    ]
}

/// A spec with an alias chain, used where lint and decoding walk it (a rule list, a
/// matchExpressions map, a value list) or only defined under an unknown key.
fn aliased_spec() -> impl Strategy<Value = String> {
    (leaf(), 1usize..40, 1usize..6, any::<u8>(), 0u8..4).prop_map(
        |(leaf, width, depth, shape, place)| {
            let (defs, top) = alias_chain(&leaf, width, depth, shape);
            let rules = match place {
                0 => top.clone(),
                1 => format!(
                    "[{{name: r, matchFeatures: [{{feature: cpu.model, matchExpressions: {top}}}]}}]"
                ),
                2 => format!(
                    "[{{name: r, matchFeatures: [{{feature: cpu.model, matchExpressions: {{vendor_id: {{op: In, value: {top}}}}}}}]}}]"
                ),
                _ => "[{name: r}]".to_string(),
            };
            format!("x-anchors: {defs}\nversion: v1alpha1\ncompatibilities:\n- rules: {rules}\n")
        },
    )
}

/// A snapshot with an alias chain as a feature's elements, as a list of nodes, or unused.
fn aliased_snapshot() -> impl Strategy<Value = String> {
    (leaf(), 1usize..40, 1usize..6, any::<u8>(), 0u8..3).prop_map(
        |(leaf, width, depth, shape, place)| {
            let (defs, top) = alias_chain(&leaf, width, depth, shape);
            match place {
                0 => format!(
                    "x-anchors: {defs}\napiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeature\nmetadata: {{name: n}}\nspec:\n  features:\n    attributes:\n      cpu.model: {{elements: {top}}}\n"
                ),
                1 => format!(
                    "x-anchors: {defs}\napiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeatureList\nitems: {top}\n"
                ),
                _ => format!("x-anchors: {defs}\nflags: {{cpu.cpuid: {{elements: {{avx: {{}}}}}}}}\n"),
            }
        },
    )
}

fn real_snapshot() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(include_str!(
            "data/samples/intel-spr-h100-cx6.features.json"
        )),
        Just(include_str!(
            "data/samples/amd-genoa-mi210-rhel9.features.json"
        )),
        Just(include_str!(
            "data/samples/arm64-graviton3-al2023.features.json"
        )),
        Just(include_str!("data/samples/nodefeature-gpu-node-01.yaml")),
    ]
    .prop_map(str::to_string)
}

// ---- long scalars ----

fn long_text() -> impl Strategy<Value = String> {
    (0usize..200_000, any::<char>()).prop_map(|(n, c)| {
        let c = if c.is_control() { 'x' } else { c };
        std::iter::repeat_n(c, n).collect()
    })
}

fn long_scalar_spec() -> impl Strategy<Value = String> {
    (long_text(), 0u8..4).prop_map(|(text, style)| {
        let scalar = match style {
            0 => serde_json::to_string(&text).unwrap(),
            1 => format!("'{}'", text.replace('\'', "''")),
            2 => format!("|\n        {}", text.replace('\n', " ")),
            _ => format!("[{}]", vec![serde_json::to_string(&text).unwrap(); 3].join(", ")),
        };
        format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id:\n          op: In\n          value: {}\n",
            if style == 3 { scalar } else { format!("[{scalar}]") }
        )
    })
}

fn long_scalar_snapshot() -> impl Strategy<Value = String> {
    (long_text(), any::<bool>()).prop_map(|(text, json)| {
        let value = serde_json::to_string(&text).unwrap();
        if json {
            format!("{{\"attributes\": {{\"cpu.model\": {{\"elements\": {{\"vendor_id\": {value}, {value}: \"x\"}}}}}}}}")
        } else {
            format!("kind: NodeFeature\nmetadata: {{name: {value}}}\nspec:\n  features:\n    attributes:\n      cpu.model:\n        elements: {{vendor_id: {value}}}\n")
        }
    })
}

// ---- wide: many small nodes, where the cost per input byte is highest ----

/// Up to 60,000 short entries in one place: values, expressions, rules, or unknown keys (one
/// lint diagnostic each).
fn wide_spec() -> impl Strategy<Value = String> {
    (1usize..60_000, 0u8..4).prop_map(|(n, shape)| {
        let head = "version: v1alpha1\ncompatibilities:\n- rules:\n";
        match shape {
            0 => format!(
                "{head}  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: In, value: [{}]}}\n",
                (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>().join(",")
            ),
            1 => format!(
                "{head}  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions: {{{}}}\n",
                (0..n).map(|i| format!("e{i}: {{op: Exists}}")).collect::<Vec<_>>().join(", ")
            ),
            2 => format!("{head}{}", "  - {name: r, vars: {a: b}}\n".repeat(n)),
            _ => format!(
                "{head}  - name: r\n{}",
                (0..n).map(|i| format!("    unknown{i}: x\n")).collect::<String>()
            ),
        }
    })
}

/// Up to 60,000 elements of one feature, as attributes, flags or instances, JSON or YAML.
fn wide_snapshot() -> impl Strategy<Value = String> {
    (1usize..60_000, 0u8..4).prop_map(|(n, shape)| match shape {
        0 => format!(
            "{{\"attributes\": {{\"cpu.model\": {{\"elements\": {{{}}}}}}}}}",
            (0..n)
                .map(|i| format!("\"k{i}\": \"v\""))
                .collect::<Vec<_>>()
                .join(",")
        ),
        1 => format!(
            "{{\"instances\": {{\"pci.device\": {{\"elements\": [{}]}}}}}}",
            vec!["{\"attributes\": {\"a\": \"b\"}}"; n].join(",")
        ),
        2 => format!(
            "flags:\n  cpu.cpuid:\n    elements:\n{}",
            (0..n)
                .map(|i| format!("      f{i}: {{}}\n"))
                .collect::<String>()
        ),
        _ => format!(
            "kind: NodeFeatureList\nitems:\n{}",
            "- {kind: NodeFeature, metadata: {name: n}, spec: {features: {}}}\n".repeat(n)
        ),
    })
}

// ---- regexps: large repeat counts, nested ----

/// Atoms whose compiled form is large (a Unicode class is hundreds of ranges).
fn atom() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("."),
        Just("\\pL"),
        Just("[\\p{L}\\p{N}]"),
        Just("\\w"),
        Just("(?i)k"),
        Just("[^a]"),
    ]
}

/// `(((atom){n1}){n2}){n3}`: each count up to Go's limit of 1000.
fn repeated_pattern() -> impl Strategy<Value = String> {
    (
        atom(),
        prop::collection::vec((1u32..=1000, any::<bool>()), 1..4),
    )
        .prop_map(|(atom, counts)| {
            let mut p = atom.to_string();
            for (n, open) in counts {
                p = if open {
                    format!("(?:{p}){{{n},}}")
                } else {
                    format!("(?:{p}){{{n}}}")
                };
            }
            p
        })
}

/// Long patterns: a literal, alternatives, or classes, up to 128 KiB, half of them within the
/// core's 4 KiB pattern budget; the syntax tree of a Unicode class is thousands of bytes,
/// however few the pattern spends on it.
fn long_pattern() -> impl Strategy<Value = String> {
    (
        prop_oneof![1usize..1_100, 1usize..16_000],
        prop_oneof![
            Just("abcd"),
            Just("w|"),
            Just("[a-z]"),
            Just("\\pL|"),
            Just("\\PL|"),
            Just("(?i)\\pL|"),
        ],
    )
        .prop_map(|(n, unit)| unit.repeat(n).trim_end_matches('|').to_string())
}

fn regexp_spec() -> impl Strategy<Value = String> {
    prop::collection::vec(repeated_pattern(), 1..60).prop_map(|patterns| {
        let values: Vec<String> = patterns
            .iter()
            .map(|p| serde_json::to_string(p).unwrap())
            .collect();
        format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: InRegexp, value: [{}]}}\n",
            values.join(", ")
        )
    })
}

// ---- templates: range in range, the whole data printed ----

fn list() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("$.cpu.cpuid"),
        Just("$.kernel.config"),
        Just("$.pci.device"),
        Just("$.cpu.model"),
    ]
}

/// `range` nested up to five deep over the rule's matched elements, printing an element,
/// the whole data, or a `key=value` line at the innermost level; or a flat run of prints.
fn hostile_template() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        Just("{{.}}"),
        Just("{{$}}"),
        Just("k{{len $.cpu.cpuid}}=v\n"),
        Just("{{range $i, $e := .}}{{$i}}={{$e}}\n{{end}}"),
    ];
    prop_oneof![
        (prop::collection::vec(list(), 1..6), body).prop_map(|(lists, body)| {
            let mut t = String::new();
            for (i, l) in lists.iter().enumerate() {
                t.push_str(&format!("{{{{range $k{i}, $v{i} := {l}}}}}"));
            }
            t.push_str(body);
            t.push_str(&"{{end}}".repeat(lists.len()));
            t
        }),
        (
            1usize..12_000,
            prop_oneof![Just("{{$}}"), Just("{{.cpu}}"), Just("x")]
        )
            .prop_map(|(n, print)| format!("k={}", print.repeat(n))),
    ]
}

fn real_template() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{range .cpu.model}}cpu-{{.Name}}={{.Value}}\n{{end}}".to_string()),
        Just("{{- range $i, $d := .pci.device }}\ngpu-{{ $i }}={{ index $d \"vendor\" }}\n{{- end }}".to_string()),
        Just("{{if .cpu.cpuid}}flags={{len .cpu.cpuid}}{{else}}none=1{{end}}".to_string()),
        "[a-z{}. $|=\n]{0,200}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn specs_stay_within_their_bound(src in prop_oneof![
        grammar::spec(),
        wide_spec(),
        aliased_spec(),
        long_scalar_spec(),
        regexp_spec(),
    ]) {
        bounds::spec(&src, &node());
    }

    #[test]
    fn snapshots_stay_within_their_bound(src in prop_oneof![
        real_snapshot(),
        wide_snapshot(),
        aliased_snapshot(),
        long_scalar_snapshot(),
    ]) {
        let _ = bounds::snapshot(&src);
    }

    #[test]
    fn templates_stay_within_their_bound(template in prop_oneof![
        real_template(),
        hostile_template(),
    ]) {
        bounds::template(&template, &node());
    }

    #[test]
    fn regexps_stay_within_their_bound(pattern in prop_oneof![
        repeated_pattern(),
        long_pattern(),
        "[a-z|()*+?{},0-9\\\\pLN.\\[\\]^$]{0,60}",
    ]) {
        bounds::regexp(&pattern);
    }
}
