//! The attacks of issue 12 through the CLI: `nodefit lint` and `nodefit test` refuse input
//! that goes over a budget with exit 2 and the budget named, in bounded memory (the process
//! runs under a 1 GiB address-space limit, so an allocation beyond it would abort it), and
//! never wait on a special file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{data, stderr, stdout};

/// Address space the CLI runs in here: far above what any budget lets it use.
const ADDRESS_SPACE: &str = "--as=1073741824";

fn confined(args: &[&str]) -> Output {
    Command::new("prlimit")
        .args([ADDRESS_SPACE, "--"])
        .arg(env!("CARGO_BIN_EXE_nodefit"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run nodefit under prlimit")
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("nodefit-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SAMPLE: &str = "samples/intel-spr-h100-cx6.features.json";

#[track_caller]
fn assert_refused(out: &Output, budget: &str, at: &str) {
    let text = format!("{}{}", stdout(out), stderr(out));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("{budget} budget")), "{text}");
    assert!(text.contains(at), "no {at:?} in:\n{text}");
}

#[test]
fn alias_byte_bombs_exit_2_naming_the_budget() {
    let dir = Dir::new("alias");
    let mut spec = format!(
        "version: v1alpha1\ncompatibilities:\n- description: &a {}\n  rules: []\n  tag: [",
        "x".repeat(400_000)
    );
    spec.push_str(&"*a,".repeat(150_000));
    spec.push_str("*a]\n");
    let spec = dir.write("alias.yaml", &spec);
    // The eleventh alias is where 4 MiB of copies would be passed, on line 5.
    assert_refused(
        &confined(&["lint", &spec]),
        "yaml-alias-bytes",
        "alias.yaml:5:",
    );
    let out = confined(&["test", &spec, "--snapshot", &data(SAMPLE)]);
    assert_refused(&out, "yaml-alias-bytes", "alias.yaml:5:");

    let mut node = format!(
        "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeature\nmetadata:\n  name: n\n  labels:\n    a: &big {}\n",
        "y".repeat(2_000_000)
    );
    for i in 0..1_500 {
        node.push_str(&format!("    l{i}: *big\n"));
    }
    node.push_str("spec:\n  features: {}\n");
    let node = dir.write("node.yaml", &node);
    let spec = data("examples/image-compatibility.yaml");
    let out = confined(&["test", &spec, "--snapshot", &node]);
    assert_refused(&out, "yaml-alias-bytes", "node.yaml:");
}

#[test]
fn regex_compile_bombs_exit_2_naming_the_budget() {
    let dir = Dir::new("regex");
    let patterns: Vec<String> = (0..100)
        .map(|i| format!("'[\\w\\pN]{{1000}}{i}'"))
        .collect();
    let spec = dir.write(
        "regex.yaml",
        &format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: system.name\n      matchExpressions:\n        nodename: {{op: InRegexp, value: [{}]}}\n",
            patterns.join(", ")
        ),
    );
    let out = confined(&["lint", &spec]);
    assert_refused(&out, "regex-pattern", "regex.yaml:8:");
    assert!(stdout(&out).contains("over-budget"), "{}", stdout(&out));
    let out = confined(&["test", &spec, "--snapshot", &data(SAMPLE)]);
    assert_refused(&out, "regex-pattern", "regex.yaml:8:");
}

#[test]
fn template_bombs_exit_2_naming_the_budget() {
    let dir = Dir::new("template");
    let spec = |template: &str| {
        format!(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: bomb\n    varsTemplate: |\n      {template}\n    matchFeatures:\n    - feature: cpu.cpuid\n      matchName: {{op: Exists}}\n"
        )
    };
    let writes = dir.write(
        "writes.yaml",
        &spec(&format!(
            "{{{{range .cpu.cpuid}}}}{{{{range $.cpu.cpuid}}}}{{{{range $.cpu.cpuid}}}}{}{{{{end}}}}{{{{end}}}}{{{{end}}}}",
            "x".repeat(3_000)
        )),
    );
    let loops = dir.write(
        "loops.yaml",
        &spec("{{range .cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{range $.cpu.cpuid}}{{end}}{{end}}{{end}}{{end}}{{end}}"),
    );
    let sample = data(SAMPLE);
    for (file, budget) in [(&writes, "template-output"), (&loops, "template-steps")] {
        let started = Instant::now();
        let out = confined(&["test", file, "--snapshot", &sample]);
        assert_refused(&out, budget, ":6:7");
        assert!(started.elapsed() < Duration::from_secs(30));
        // lint with the snapshot runs the template too, and says where.
        let out = confined(&["lint", file, "--snapshot", &sample]);
        assert_refused(&out, budget, ":6:7");
    }
}

#[test]
fn special_files_are_refused_without_waiting() {
    let dir = Dir::new("fifo");
    let fifo = dir.0.join("spec.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let fifo = fifo.display().to_string();
    for args in [
        vec!["lint", fifo.as_str()],
        vec!["test", fifo.as_str(), "--snapshot", "/dev/zero"],
        vec!["lint", Path::new("/").to_str().unwrap()],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nodefit"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("nodefit {args:?} waited on a special file");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
}
