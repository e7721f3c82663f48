//! The examples gallery: the specs of `docs/examples/`, compiled in, each with what it shows
//! (its leading comment). Every one lints clean, so a new user starts from a spec NFD reads
//! as written.

/// One example: its title, what it shows, and its text.
pub struct Example {
    pub file: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        file: "cpu-vendor.yaml",
        title: "One rule: the processor's vendor",
        text: include_str!("../../docs/examples/cpu-vendor.yaml"),
    },
    Example {
        file: "preferred-fallback.yaml",
        title: "Tags and weights: a preferred and a fallback set",
        text: include_str!("../../docs/examples/preferred-fallback.yaml"),
    },
    Example {
        file: "any-nic.yaml",
        title: "matchAny and instance features: one of two network cards",
        text: include_str!("../../docs/examples/any-nic.yaml"),
    },
    Example {
        file: "kernel-and-os.yaml",
        title: "Numbers: kernel version and OS release",
        text: include_str!("../../docs/examples/kernel-and-os.yaml"),
    },
    Example {
        file: "gpu-vendor-regexp.yaml",
        title: "Regular expressions: a GPU by PCI class",
        text: include_str!("../../docs/examples/gpu-vendor-regexp.yaml"),
    },
];

impl Example {
    /// What the example shows: its leading comment, as one paragraph.
    pub fn shows(&self) -> String {
        self.text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The name a spec opened from it is saved under.
    pub fn spec_name(&self) -> &'static str {
        self.file.trim_end_matches(".yaml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_lints_clean_and_says_what_it_shows() {
        let files: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        assert_eq!(
            files.len(),
            EXAMPLES.len(),
            "every file of docs/examples is in the gallery: {files:?}"
        );
        for example in EXAMPLES {
            let found = nodefit_core::lint::lint(example.text, &[]);
            assert!(found.is_empty(), "{}: {found:?}", example.file);
            assert!(example.shows().len() > 40, "{}", example.file);
            assert!(nodefit_core::parse_spec(example.text).is_ok());
        }
    }
}
