//! A grammar of specs for property tests: the real constructs of a compatibility spec, with the
//! YAML 1.1 traps, odd ops and names authors write. Shared by the no-panic and differential
//! tests.

use proptest::prelude::*;

/// Scalars that exercise YAML 1.1 resolution, Go integer/version parsing and regexes.
pub fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0302".to_string()),
        Just("5.10".to_string()),
        Just("y".to_string()),
        Just("~".to_string()),
        Just("\"Intel\"".to_string()),
        Just("'10de'".to_string()),
        Just("-0b11".to_string()),
        Just(".inf".to_string()),
        Just("\"(unclosed\"".to_string()),
        Just("\"^\\\\d+$\"".to_string()),
        Just("\"5.14.0-427.el9_4\"".to_string()),
        Just("\"1.2.3-01\"".to_string()),
        Just("99999999999999999999".to_string()),
        "[a-zA-Z0-9_.-]{0,8}",
        any::<i64>().prop_map(|i| i.to_string()),
    ]
}

pub fn op() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("In"),
        Just("NotIn"),
        Just("InRegexp"),
        Just("Exists"),
        Just("DoesNotExist"),
        Just("Gt"),
        Just("Ge"),
        Just("Lt"),
        Just("Le"),
        Just("GtLt"),
        Just("GeLe"),
        Just("IsTrue"),
        Just("IsFalse"),
        Just("\"\""),
        Just("in"),
        Just("~"),
    ]
    .prop_map(str::to_string)
}

pub fn expression() -> impl Strategy<Value = String> {
    (
        op(),
        prop::collection::vec(scalar(), 0..4),
        prop_oneof![Just(""), Just(", type: version"), Just(", type: Version")],
    )
        .prop_map(|(op, values, ty)| format!("{{op: {op}, value: [{}]{ty}}}", values.join(", ")))
}

pub fn feature() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("cpu.model"),
        Just("cpu.cpuid"),
        Just("kernel.loadedmodule"),
        Just("kernel.version"),
        Just("pci.device"),
        Just("storage.block"),
        Just("rule.matched"),
        Just("CPU.Model"),
        Just("nodot"),
        Just("a.b.c"),
        Just("system.osrelease"),
        Just("memory.numa"),
    ]
    .prop_map(str::to_string)
}

pub fn element() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("vendor_id"),
        Just("family"),
        Just("vendor"),
        Just("class"),
        Just("AVX512F"),
        Just("vfio_pci"),
        Just("major"),
        Just("full"),
        Just("rotational"),
        Just("y"),
        Just("VERSION_ID"),
    ]
    .prop_map(str::to_string)
}

pub fn term() -> impl Strategy<Value = String> {
    (
        feature(),
        prop::option::of(prop::collection::vec((element(), expression()), 0..3)),
        prop::option::of(expression()),
    )
        .prop_map(|(f, exprs, name)| {
            let mut t = format!("      - feature: {f}\n");
            if let Some(exprs) = exprs {
                if exprs.is_empty() {
                    t.push_str("        matchExpressions: {}\n");
                } else {
                    t.push_str("        matchExpressions:\n");
                    for (e, x) in exprs {
                        t.push_str(&format!("          {e}: {x}\n"));
                    }
                }
            }
            if let Some(n) = name {
                t.push_str(&format!("        matchName: {n}\n"));
            }
            t
        })
}

pub fn rule() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(term(), 0..3),
        prop::collection::vec(prop::collection::vec(term(), 0..2), 0..3),
        prop_oneof![
            Just(""),
            Just("    vars: {gpu: \"true\"}\n"),
            Just("    varsTemplate: \"{{range .pci.device}}v={{.vendor}}\\n{{end}}\"\n"),
            Just("    varsTemplate: \"{{range .cpu.model}}{{.Name}}={{.Value}}\\n{{end}}\"\n"),
            Just("    varsTemplate: \"{{.nope | x}}\"\n"),
        ],
    )
        .prop_map(|(features, any, vars)| {
            let mut r = format!("  - name: r\n{vars}");
            if !features.is_empty() {
                r.push_str("    matchFeatures:\n");
                for t in features {
                    r.push_str(
                        &t.replacen("      ", "    ", 1)
                            .replace("\n        ", "\n      ")
                            .replace("\n          ", "\n        "),
                    );
                }
            }
            if !any.is_empty() {
                r.push_str("    matchAny:\n");
                for elem in any {
                    r.push_str("    - matchFeatures:\n");
                    for t in elem {
                        r.push_str(&t);
                    }
                }
            }
            r
        })
}

pub fn spec() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::collection::vec(rule(), 0..3),
            prop::option::of(0i64..200),
        ),
        1..3,
    )
    .prop_map(|sets| {
        let mut s = String::from("version: v1alpha1\ncompatibilities:\n");
        for (rules, weight) in sets {
            s.push_str("- tag: t\n");
            if let Some(w) = weight {
                s.push_str(&format!("  weight: {w}\n"));
            }
            s.push_str("  rules:\n");
            for r in rules {
                s.push_str(&r);
            }
        }
        s
    })
}
