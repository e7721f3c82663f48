//! The web UI in a real headless Chromium against the real server and the real test registry:
//! upload snapshots, write a spec with a mistake, see the diagnostic at its line, test FAIL,
//! apply the quick fix, use the rule builder, test OK, the fleet matrix, versions, and publish
//! with one click, confirmed through the registry, `nodefit verify` and cosign. Each page is
//! kept as a screenshot in `e2e/artifacts/ui/`.
//!
//! Needs `cargo xtask build-ui` and `apt-get install chromium chromium-driver` (scripts/test.sh
//! does both) and the test bed (`e2e/testbed/setup.sh`).

mod ui_support;

use std::fs;
use std::process::Command;
use std::time::Duration;

use nodefit_e2e::testbed::{self, run, seed_image, Registry, TempDir};
use serde_json::{json, Value};
use ui_support::{sample, Browser, Server, ADMIN_TOKEN, SERIAL};

const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";

/// The spec typed in the editor, with one mistake on line 11: NFD's module names use `_`.
const SPEC_HEAD: &str = "\
version: v1alpha1
compatibilities:
- description: GPU nodes with VFIO
  tag: gpu
  weight: 10
  rules:
  - name: vfio
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
";
const MISTAKE_LINE: &str = "        vfio-pci: {op: Exists}";

fn nodefit(args: &[&str]) -> testbed::Output {
    let bin = workspace_bin();
    run(Command::new(bin).args(args))
}

fn workspace_bin() -> std::path::PathBuf {
    std::env::var_os("NODEFIT_BIN")
        .filter(|b| !b.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| testbed::workspace_root().join("target/debug/nodefit"))
}

async fn log_in(b: &Browser, url: &str) {
    b.client.goto(url).await.unwrap();
    b.fill("#token", ADMIN_TOKEN).await;
    b.click("form button[type=submit]").await;
    b.wait_text("[data-testid=role]", "admin").await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_whole_journey_in_a_browser() {
    let _serial = SERIAL.lock().await;

    // A registry with the referrers API and an image to publish to, and a signing key.
    let registry = Registry::referrers();
    let image_digest = seed_image(&registry, "demo/app:v1");
    let keys = TempDir::new("ui-keys");
    let key = keys.path().join("cosign.key");
    let public = keys.path().join("cosign.pub");
    nodefit(&["keygen", "--output-key", key.to_str().unwrap()]).assert_success();
    let config = format!(
        "[registries.local]\nhost = \"{}\"\nplain_http = true\n\n[signing]\nkey_file = \"{}\"\nformats = [\"bundle\", \"classic\"]\n",
        registry.host(),
        key.display()
    );
    let server = Server::start(Some(&config));
    let b = Browser::start("journey").await;

    // Login: the header shows the role and what it may do.
    b.client.goto(&server.url).await.unwrap();
    b.find("#token").await;
    b.shot("01-login").await;
    log_in(&b, &server.url).await;
    b.wait_text("[data-testid=who]", "sign, attach and detach")
        .await;

    // Keyboard: arrow keys move between tabs.
    b.find("#tab-editor")
        .await
        .send_keys("\u{E014}")
        .await
        .unwrap(); // ArrowRight
    b.find("#panel-snapshots:not([hidden])").await;
    let focused = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(focused, json!("tab-snapshots"));

    // Snapshots: one through the file picker (with labels), one dropped onto the page.
    b.fill(".dropzone input:not([type=file])", "pool=gpu").await;
    b.find("[data-testid=upload-input]")
        .await
        .send_keys(sample("intel-spr-h100-cx6.features.json").to_str().unwrap())
        .await
        .unwrap();
    b.wait_texts("[data-testid=snapshot-row]", "1 snapshot", |t| t.len() == 1)
        .await;
    b.fill(".dropzone input:not([type=file])", "pool=cpu").await;
    let arm = fs::read_to_string(sample("arm64-graviton3-al2023.features.json")).unwrap();
    b.js(
        "const dt = new DataTransfer();
         dt.items.add(new File([arguments[0]], 'arm64.features.json', {type: 'application/json'}));
         document.querySelector('[data-testid=dropzone]')
           .dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        vec![json!(arm)],
    )
    .await;
    let rows = b
        .wait_texts("[data-testid=snapshot-row]", "2 snapshots", |t| {
            t.len() == 2
        })
        .await;
    assert!(rows.iter().any(|r| r.contains("pool=gpu")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("pool=cpu")), "{rows:?}");
    // Filter by label, then browse one snapshot's features.
    b.fill(".filters input[placeholder='pool=gpu']", "pool=gpu")
        .await;
    b.click_text(".filters button", "Filter").await;
    b.wait_texts("[data-testid=snapshot-row]", "only the gpu node", |t| {
        t.len() == 1 && t[0].contains("pool=gpu")
    })
    .await;
    // Edit the labels in place.
    b.click_text("[data-testid=snapshot-row] button", "Edit labels")
        .await;
    b.fill("[data-testid=snapshot-row] input", "pool=gpu, zone=a")
        .await;
    b.click_text("[data-testid=snapshot-row] button", "Save labels")
        .await;
    b.wait_text("[data-testid=snapshot-row]", "zone=a").await;
    b.click_text("[data-testid=snapshot-row] button", "Features")
        .await;
    b.fill("[data-testid=feature-browser] input[type=search]", "vfio")
        .await;
    b.wait_text("[data-testid=feature-browser] td", "vfio_pci")
        .await;
    b.shot("02-snapshots").await;

    // Editor: the spec with its mistake. The last line is typed key by key.
    b.tab("editor").await;
    b.replace_editor_text(SPEC_HEAD).await;
    b.find(".cm-content")
        .await
        .send_keys(MISTAKE_LINE)
        .await
        .unwrap();
    let problem = b
        .wait_text("[data-testid=problem]", "module-name-hyphen")
        .await;
    assert!(
        problem.starts_with("11:9"),
        "diagnostic at line 11, column 9: {problem}"
    );
    // Underlined at the exact span, with a gutter marker.
    let underlined = b.wait_text(".cm-lintRange-warning", "vfio").await;
    assert_eq!(underlined, "vfio-pci");
    b.find(".cm-gutter-lint .cm-lint-marker-warning").await;
    assert!(b.editor_text().await.ends_with(MISTAKE_LINE));
    b.fill("[data-testid=spec-name]", "gpu-vfio").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "Saved gpu-vfio as version 1")
        .await;
    b.shot("03-editor-diagnostic").await;

    // Test: both nodes FAIL, though the Intel node has the module (as vfio_pci). The results
    // were there without a click: they follow the text.
    b.tab("test").await;
    let verdicts = b
        .wait_texts("[data-testid=verdict]", "two verdicts", |t| t.len() == 2)
        .await;
    assert!(
        verdicts.iter().all(|v| v.starts_with("FAIL")),
        "{verdicts:?}"
    );
    b.wait_text("[data-testid=test-results] td", "(element missing)")
        .await;
    b.shot("04-test-fail").await;

    // The quick fix from the problems list.
    b.tab("editor").await;
    b.click("[data-testid=quick-fix]").await;
    b.wait_texts("[data-testid=problem]", "the hyphen warning gone", |t| {
        !t.iter().any(|p| p.contains("module-name-hyphen"))
    })
    .await;
    assert!(b
        .editor_text()
        .await
        .contains("        vfio_pci: {op: Exists}"));
    b.shot("05-quick-fix").await;

    // Rule builder (beside the editor, in place of the results): add a term and an
    // expression to the rule, through pickers.
    b.click_text(".side-switch", "Rule builder").await;
    b.click_text("[data-testid=outline] button", "rule vfio")
        .await;
    b.fill(".builder-form input[list=feature-names]", "cpu.model")
        .await;
    b.click_text(".builder-form button", "Add term").await;
    b.wait_text("[data-testid=outline] button", "feature cpu.model")
        .await;
    b.click_text("[data-testid=outline] button", "feature cpu.model")
        .await;
    b.fill(".builder-form input[list=element-names]", "vendor_id")
        .await;
    b.click_text(".builder-form .chip", "Intel").await;
    b.click_text(".builder-form button", "Add expression").await;
    let text = b.editor_text().await;
    assert!(
        text.ends_with("    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}"),
        "{text}"
    );
    assert!(
        text.starts_with(SPEC_HEAD),
        "the builder kept the rest: {text}"
    );
    b.shot("06-builder").await;

    // Test again: the Intel node is now OK, the Arm one still FAILs.
    b.tab("test").await;
    let verdicts = b
        .wait_texts("[data-testid=verdict]", "OK and FAIL", |t| {
            t.len() == 2 && t.iter().any(|v| v.starts_with("OK"))
        })
        .await;
    assert!(
        verdicts.iter().any(|v| v.starts_with("FAIL")),
        "{verdicts:?}"
    );
    b.wait_text("[data-testid=node-report] td", "Intel").await;
    b.shot("07-test-ok").await;

    // Fleet: the server's matrix of the unsaved text; nothing is saved for it.
    b.tab("fleet").await;
    b.click("[data-testid=run-fleet]").await;
    let summary = b
        .wait_text("[data-testid=fleet-summary]", "1 of 2 nodes compatible")
        .await;
    assert!(summary.contains("unsaved text"), "{summary}");
    let cells = b.texts("[data-testid=fleet-matrix] td.cell").await;
    assert_eq!(cells.len(), 2, "{cells:?}");
    b.shot("08-fleet").await;
    b.tab("editor").await;
    b.wait_text("[data-testid=save-state]", "version 1 + unsaved changes")
        .await;
    b.fill("[data-testid=save-message]", "fixed and narrowed")
        .await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "Saved gpu-vfio as version 2")
        .await;

    // Versions: the diff of the quick fix and the builder's edits.
    b.tab("versions").await;
    b.wait_texts("[data-testid=versions] tbody tr", "two versions", |t| {
        t.len() == 2
    })
    .await;
    b.click_text("#panel-versions button", "Show diff").await;
    let diff = b.wait_text("[data-testid=diff]", "vfio_pci").await;
    assert!(diff.contains("-        vfio-pci: {op: Exists}"), "{diff}");
    assert!(diff.contains("+    - feature: cpu.model"), "{diff}");
    b.shot("09-versions").await;
    // Restore the first version into the editor and save it (version 3), then the second
    // again (version 4): each restore says what it does first.
    for (old, new) in [(1, 3), (2, 4)] {
        b.tab("versions").await;
        b.click_text(
            "[data-testid=versions] button",
            &format!("Restore version {old}"),
        )
        .await;
        b.wait_text(
            "[data-testid=dialog]",
            "nothing is saved until you press Save",
        )
        .await;
        b.click("[data-testid=dialog-confirm]").await;
        b.wait_text(
            "[data-testid=notice]",
            &format!("Version {old} is in the editor"),
        )
        .await;
        b.click("[data-testid=save]").await;
        b.wait_text("[data-testid=notice]", &format!("as version {new}"))
            .await;
        if old == 1 {
            assert!(b.editor_text().await.contains("vfio-pci"));
        }
    }
    b.tab("versions").await;
    b.wait_texts("[data-testid=versions] tbody tr", "four versions", |t| {
        t.len() == 4
    })
    .await;
    assert!(b
        .editor_text()
        .await
        .contains("vendor_id: {op: In, value: [Intel]}"));

    // Publish with one click, then confirm outside the UI.
    b.tab("publish").await;
    b.wait_text("[data-testid=registry] option", "local").await;
    b.fill("[data-testid=image]", "demo/app:v1").await;
    b.click("[data-testid=publish]").await;
    let artifact = b
        .wait_text("[data-testid=artifact-digest]", "sha256:")
        .await;
    let signature = b
        .wait_text("[data-testid=signature-digest]", "sha256:")
        .await;
    b.wait_texts("[data-testid=publish-steps] li", "every step done", |t| {
        t.len() == 3 && t.iter().all(|s| s.starts_with('✓'))
    })
    .await;
    b.wait_text("[data-testid=publish-result]", &image_digest)
        .await;
    // The attachment names the spec and version it holds.
    let attached = b.wait_text("[data-testid=referrer]", &artifact).await;
    assert!(attached.contains("gpu-vfio version 4"), "{attached}");
    // Every signature, each verified against the server's keys, and the verdict.
    assert!(attached.contains("classic cosign"), "{attached}");
    assert!(attached.contains("sigstore bundle"), "{attached}");
    assert_eq!(
        attached
            .matches("verified with the server's signing key")
            .count(),
        2,
        "{attached}"
    );
    assert!(
        attached.contains("trusted under the server's signing keys"),
        "{attached}"
    );
    let signed = b.wait_text("[data-testid=signed]", "sigstore bundle").await;
    assert!(signed.contains("classic cosign"), "{signed}");
    // The attached spec opens read-only.
    b.click("[data-testid=referrer] [data-testid=open-artifact]")
        .await;
    b.wait_text(
        "[data-testid=viewer-text]",
        "vendor_id: {op: In, value: [Intel]}",
    )
    .await;
    b.click_text("[data-testid=viewer] button", "Close").await;
    // The confirmation stays after the listing (and is still there a while later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.wait_text(
        "[data-testid=publish-result]",
        "Published version 4 of gpu-vfio",
    )
    .await;
    // The spec's publication history records who published which version where.
    let history = b
        .wait_text("[data-testid=publications] tbody tr", &artifact)
        .await;
    assert!(history.contains(&signature), "{history}");
    assert!(history.contains("demo/app:v1"), "{history}");
    b.shot("10-publish").await;
    // The publication's NodeFeatureRule and pod affinity, to copy or download.
    b.click("[data-testid=publications] [data-testid=show-schedule]")
        .await;
    let rule = b
        .wait_text("[data-testid=schedule-rule]", "kind: \"NodeFeatureRule\"")
        .await;
    assert!(rule.contains(&artifact), "traced to the artifact: {rule}");
    b.wait_text(
        "[data-testid=schedule-affinity]",
        "requiredDuringSchedulingIgnoredDuringExecution",
    )
    .await;
    b.shot("10b-schedule").await;

    let discovered = testbed::oras(&[
        "discover",
        "--plain-http",
        "--format",
        "json",
        &format!("{}/demo/app:v1", registry.host()),
    ]);
    discovered.assert_success();
    let listing: Value = serde_json::from_str(&discovered.stdout).unwrap();
    let referrers = listing
        .get("manifests")
        .or_else(|| listing.get("referrers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        referrers
            .iter()
            .any(|r| r["digest"] == artifact.as_str() && r["artifactType"] == ARTIFACT_TYPE),
        "the registry lists the artifact {artifact}: {discovered}"
    );
    assert_ne!(signature, artifact);
    let image_ref = format!("{}/demo/app:v1", registry.host());
    nodefit(&[
        "verify",
        "--image",
        &image_ref,
        "--key",
        public.to_str().unwrap(),
        "--plain-http",
    ])
    .assert_success();
    testbed::cosign(&[
        "verify",
        "--key",
        public.to_str().unwrap(),
        "--insecure-ignore-tlog=true",
        "--allow-http-registry",
        &format!("{}/demo/app@{artifact}", registry.host()),
    ])
    .assert_success();

    // Detach from the image page: the dialog says what happens; Cancel leaves it attached.
    b.click_text("[data-testid=referrer] button", "Detach")
        .await;
    b.wait_text("[data-testid=dialog]", "cannot be undone")
        .await;
    b.click("[data-testid=dialog-cancel]").await;
    b.wait_text("[data-testid=referrer]", &artifact).await;
    b.click_text("[data-testid=referrer] button", "Detach")
        .await;
    b.click("[data-testid=dialog-confirm]").await;
    b.wait_text("#panel-publish p", "No compatibility artifacts")
        .await;
    // The history says it was detached.
    b.wait_text("[data-testid=attached-state]", "detached")
        .await;
    b.shot("11-detached").await;

    // Someone else saves the spec meanwhile: saving says so and offers to save anyway, which
    // keeps both versions.
    let (_, specs) = b.api("GET", "/specs", None).await;
    let id = specs["items"][0]["id"].as_i64().unwrap();
    let (status, theirs) = b
        .api(
            "PUT",
            &format!("/specs/{id}"),
            Some(json!({
                "content": format!("{}\n# theirs\n", b.editor_text().await.trim_end()),
                "baseVersion": 4
            })),
        )
        .await;
    assert_eq!(status, 200, "{theirs}");
    b.tab("editor").await;
    let mine = format!("{}\n# mine\n", b.editor_text().await.trim_end());
    b.replace_editor_text(&mine).await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=dialog]", "Someone saved a newer version")
        .await;
    b.shot("12-save-conflict").await;
    b.click("[data-testid=dialog-confirm]").await;
    b.wait_text("[data-testid=notice]", "as version 6").await;

    // A text file given as a snapshot: refused, naming the file and what was expected.
    let notes = std::env::temp_dir().join(format!("nodefit-notes-{}.txt", std::process::id()));
    fs::write(&notes, "these are not node features\n").unwrap();
    b.tab("snapshots").await;
    b.find("[data-testid=upload-input]")
        .await
        .send_keys(notes.to_str().unwrap())
        .await
        .unwrap();
    b.wait_text("[data-testid=notice]", "1 of 1 file(s) were not stored")
        .await;
    let refused = b
        .wait_text(
            "[data-testid=upload-outcomes]",
            "is not a snapshot nodefit can read",
        )
        .await;
    assert!(
        refused.contains(notes.file_name().unwrap().to_str().unwrap())
            && refused.contains("NodeFeatureList"),
        "{refused}"
    );
    let _ = fs::remove_file(&notes);

    b.close().await;
    drop(server);
}

/// The figures of docs/benchmarks.md ("Web UI"): bundle size, time to an editable editor,
/// and lint + diagnostics per keystroke on a 500-line spec. Prints them; fails only far past
/// the goals, because the machine is shared with other builds.
#[tokio::test(flavor = "current_thread")]
async fn ui_figures() {
    let _serial = SERIAL.lock().await;

    // Bundle: the wasm as served, gzipped (gzip -9, as a server would precompress it).
    let dist = ui_support::ui_dir();
    let wasm = fs::read_dir(&dist)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .expect("a .wasm in frontend/dist");
    let gz = run(Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -9 -c '{}' | wc -c", wasm.display())));
    let wasm_gz: u64 = gz.stdout.trim().parse().unwrap();
    let total_gz: u64 = fs::read_dir(&dist)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .map(|p| {
            run(Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9 -c '{}' | wc -c", p.display())))
            .stdout
            .trim()
            .parse::<u64>()
            .unwrap()
        })
        .sum();
    println!("UI: wasm {wasm_gz} B gzipped; everything in frontend/dist {total_gz} B gzipped");
    assert!(wasm_gz <= 1024 * 1024, "wasm over 1 MiB gzipped: {wasm_gz}");

    let server = Server::start(None);
    let b = Browser::start("figures").await;
    // The token goes into the tab's sessionStorage from a page of the same origin that is not
    // the app, so that the first load below starts with an empty cache, as a returning user's
    // first visit after a new build.
    b.client
        .goto(&format!("{}/healthz", server.url))
        .await
        .unwrap();
    b.js(
        "sessionStorage.setItem('nodefit.token', arguments[0]);",
        vec![json!(ADMIN_TOKEN)],
    )
    .await;

    // Time to editable: navigation start to the editor created and linted (the first
    // "nodefit-lint" measure ends then): the page, the wasm, `GET /api/v1/me`, the editor.
    let mut loads = Vec::new();
    for _ in 0..11 {
        b.client.goto("about:blank").await.unwrap();
        b.client.goto(&server.url).await.unwrap();
        b.find(".cm-content[contenteditable=true]").await;
        let ms = b
            .js(
                "const m = performance.getEntriesByName('nodefit-lint')[0];
                 return m.startTime + m.duration;",
                vec![],
            )
            .await
            .as_f64()
            .unwrap();
        loads.push(ms);
    }
    let first = loads[0];
    let mut warm = loads[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let warm_median = warm[warm.len() / 2];
    println!(
        "UI: navigation to editable editor: cold cache {first:.0} ms, then (cached) median {warm_median:.0} ms, max {:.0} ms",
        warm[warm.len() - 1]
    );

    // Lint + diagnostics per keystroke on a 500-line spec with diagnostics in it.
    let spec = big_spec(500);
    assert_eq!(spec.lines().count(), 500);
    b.replace_editor_text(&spec).await;
    b.wait_text("[data-testid=problem-summary]", "warnings")
        .await;
    b.js("performance.clearMeasures('nodefit-lint');", vec![])
        .await;
    let editor = b.find(".cm-content").await;
    for chunk in ["# typed while measuring", " x".repeat(40).as_str(), " done"] {
        editor.send_keys(chunk).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut times: Vec<f64> = serde_json::from_value(
        b.js(
            "return performance.getEntriesByName('nodefit-lint').map(m => m.duration);",
            vec![],
        )
        .await,
    )
    .unwrap();
    assert!(
        times.len() >= 100,
        "one lint per keystroke: {}",
        times.len()
    );
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).min(times.len()) - 1];
    println!(
        "UI: lint + diagnostics per keystroke, 500-line spec, {} keystrokes: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        pct(0.5),
        pct(0.95),
        times[times.len() - 1]
    );
    assert!(
        pct(0.95) < 100.0,
        "lint far past its 16 ms goal: p95 {:.1} ms",
        pct(0.95)
    );
    b.shot("500-lines").await;

    // Keystroke to updated Test results: the same spec against 10 snapshots (the four
    // samples, and copies made distinct by one attribute). Measured in the page from the
    // keydown to the DOM change of the results (their `data-revision`), which comes after
    // lint, evaluation of every node and rendering.
    for i in 0..10 {
        let file = [
            "intel-spr-h100-cx6",
            "arm64-graviton3-al2023",
            "amd-genoa-mi210-rhel9",
        ][i % 3];
        let mut features: Value = serde_json::from_str(
            &fs::read_to_string(sample(&format!("{file}.features.json"))).unwrap(),
        )
        .unwrap();
        features["attributes"]["nodefit.bench"] = json!({"elements": {"copy": i.to_string()}});
        let (status, body) = b.api("POST", "/snapshots", Some(features)).await;
        assert_eq!(status, 201, "{body}");
    }
    b.client.refresh().await.unwrap();
    b.wait_texts("[data-testid=live-node]", "ten results", |t| t.len() == 10)
        .await;
    // Also from the edit, as lint is measured: the start of the last `nodefit-lint` measure is
    // when CodeMirror's document changed, after Chromium and CodeMirror handled the key.
    b.js(
        "window.nodefitTimes = []; window.nodefitFromEdit = []; let start = null;
         document.addEventListener('keydown', () => { start = performance.now(); }, true);
         new MutationObserver(() => {
           if (start === null) return;
           const now = performance.now();
           nodefitTimes.push(now - start);
           const edit = performance.getEntriesByName('nodefit-lint', 'measure').pop();
           if (edit && edit.startTime >= start) nodefitFromEdit.push(now - edit.startTime);
           start = null;
         }).observe(document.querySelector('[data-testid=live-results]'), {attributes: true, attributeFilter: ['data-revision']});",
        vec![],
    )
    .await;
    let editor = b.find(".cm-content").await;
    editor.send_keys("\u{E010}").await.unwrap(); // End
    for _ in 0..100 {
        editor.send_keys("x").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut results: Vec<f64> =
        serde_json::from_value(b.js("return window.nodefitTimes;", vec![]).await).unwrap();
    let mut from_edit: Vec<f64> =
        serde_json::from_value(b.js("return window.nodefitFromEdit;", vec![]).await).unwrap();
    assert!(
        results.len() >= 90,
        "one update per keystroke: {}",
        results.len()
    );
    assert!(
        from_edit.len() >= 90,
        "each update timed from its edit too: {}",
        from_edit.len()
    );
    results.sort_by(f64::total_cmp);
    from_edit.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| v[((v.len() as f64 * p).ceil() as usize).min(v.len()) - 1];
    let at = |p: f64| pct(&results, p);
    println!(
        "UI: keystroke to updated Test results, 500-line spec, 10 snapshots, {} keystrokes: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        results.len(),
        at(0.5),
        at(0.95),
        results[results.len() - 1]
    );
    println!(
        "UI: the same from CodeMirror's edit (as lint is timed): median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        pct(&from_edit, 0.5),
        pct(&from_edit, 0.95),
        from_edit[from_edit.len() - 1]
    );
    assert!(
        at(0.95) < 100.0,
        "results far past their 16 ms goal: p95 {:.1} ms",
        at(0.95)
    );
    b.close().await;
}

/// A spec of `lines` lines: sets of rules over real features, with a warning in every set.
fn big_spec(lines: usize) -> String {
    let mut out = String::from("version: v1alpha1\ncompatibilities:\n");
    let mut set = 0;
    while out.lines().count() + 12 <= lines {
        out.push_str(&format!(
            "- description: set {set}\n  tag: t{set}\n  weight: {w}\n  rules:\n  - name: cpu-{set}\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {{op: In, value: [Intel, AMD]}}\n        family: {{op: Gt, value: [\"5\"]}}\n    - feature: kernel.loadedmodule\n      matchExpressions: {{vfio-pci: {{op: Exists}}}}\n",
            w = set % 100 + 1
        ));
        set += 1;
    }
    while out.lines().count() < lines {
        out.push_str("# padding\n");
    }
    out
}

/// The editor as an editor: autocomplete from the catalog, hover messages, undo, search, and
/// the problems list jumping to the line.
#[tokio::test(flavor = "current_thread")]
async fn the_editor_completes_explains_and_undoes() {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction};

    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("editor").await;
    log_in(&b, &server.url).await;
    let template = b.editor_text().await;
    assert!(
        template.ends_with("vendor_id: {op: In, value: [Intel, AMD]}\n"),
        "{template}"
    );

    // A new expression under the template's cpu.model term (Backspace joins the empty last
    // line, Enter keeps the indentation), and the element names of cpu.model are offered.
    let content = b.find(".cm-content").await;
    content.send_keys("\u{E003}\u{E007}fam").await.unwrap();
    b.wait_text(".cm-tooltip-autocomplete li", "family").await;
    b.shot("autocomplete").await;
    content
        .send_keys("\u{E007}{op: Gt, value: [\"5")
        .await
        .unwrap();
    let text = b.editor_text().await;
    assert!(
        text.ends_with("\n        family: {op: Gt, value: [\"5\"]}"),
        "completion and closing brackets: {text}"
    );

    // A mistake (End first: the closing brackets were typed for us): the message is shown on
    // hover over the underlined text.
    content
        .send_keys("\u{E010}\u{E007}family: {op: Lt, value: [\"3")
        .await
        .unwrap();
    b.wait_text("[data-testid=problem]", "duplicate-key").await;
    let underline = b.find(".cm-lintRange-error").await;
    b.client
        .perform_actions(
            MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
                element: underline,
                duration: None,
                x: 0.0,
                y: 0.0,
            }),
        )
        .await
        .unwrap();
    b.wait_text(".cm-tooltip-lint", "twice").await;
    b.shot("hover").await;

    // The problems list jumps to the line: the cursor lands on it.
    b.click_text("[data-testid=problem] button", "duplicate-key")
        .await;
    let line = b
        .js(
            "return document.querySelector('.cm-activeLine').textContent;",
            vec![],
        )
        .await;
    assert!(line.as_str().unwrap().contains("family"), "{line}");

    // Undo takes the edits back, one by one; search opens a panel.
    let content = b.find(".cm-content").await;
    for _ in 0..20 {
        content.send_keys("\u{E009}z\u{E000}").await.unwrap();
    }
    assert_eq!(b.editor_text().await, template);
    content.send_keys("\u{E009}f\u{E000}").await.unwrap();
    b.find(".cm-search input[name=search]").await;
    b.shot("search").await;
    b.close().await;
}

/// A wrong token is refused with what to do; a viewer's token shows what the role may do and
/// disables what it may not.
#[tokio::test(flavor = "current_thread")]
async fn roles_decide_what_the_ui_offers() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("roles").await;

    b.client.goto(&server.url).await.unwrap();
    b.fill("#token", "not-a-token").await;
    b.click("form button[type=submit]").await;
    let error = b.wait_text("#token-error", "Login failed").await;
    assert!(error.contains("does not accept this API token"), "{error}");
    assert!(
        error.contains("nodefit token create"),
        "says what to do: {error}"
    );
    b.shot("wrong-token").await;

    // An admin makes a viewer token through the API.
    b.fill("#token", ADMIN_TOKEN).await;
    b.click("form button[type=submit]").await;
    b.wait_text("[data-testid=role]", "admin").await;
    let created = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/tokens', {method: 'POST',
               headers: {'Authorization': 'Bearer ' + arguments[0], 'Content-Type': 'application/json'},
               body: JSON.stringify({name: 'reader', role: 'viewer'})})
               .then(r => r.json()).then(done, e => done(String(e)));",
            vec![json!(ADMIN_TOKEN)],
        )
        .await
        .unwrap();
    let viewer = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));

    b.click_text(".who button", "Log out").await;
    b.fill("#token", viewer).await;
    b.click("form button[type=submit]").await;
    b.wait_text("[data-testid=role]", "viewer").await;
    let who = b.wait_text("[data-testid=who]", "May read").await;
    assert!(!who.contains("sign, attach"), "{who}");
    let save = b.find("[data-testid=save]").await;
    assert!(!save.is_enabled().await.unwrap(), "a viewer cannot save");
    assert_eq!(
        save.attr("title").await.unwrap().as_deref(),
        Some("Saving needs the author role")
    );
    b.tab("publish").await;
    b.wait_text("#panel-publish p", "needs the publisher role")
        .await;
    assert!(!b
        .find("[data-testid=publish]")
        .await
        .is_enabled()
        .await
        .unwrap());
    b.shot("viewer").await;
    b.close().await;
}

/// Uploads the sample snapshots through the API from the page; returns their ids.
async fn upload_samples(b: &Browser, files: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for file in files {
        let features: Value =
            serde_json::from_str(&fs::read_to_string(sample(file)).unwrap()).unwrap();
        let (status, body) = b.api("POST", "/snapshots", Some(features)).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["snapshots"][0]["id"].as_i64().unwrap());
    }
    ids
}

/// The workspace keeps up with the text and loses nothing: results change as the text does,
/// without a click, and are marked when they are of an earlier text; the fleet of unsaved
/// text creates no version; a reload brings back the open spec and its unsaved changes;
/// logging out asks, then leaves nothing for the next person.
#[tokio::test(flavor = "current_thread")]
async fn results_follow_the_text_and_nothing_is_lost() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("workspace").await;
    log_in(&b, &server.url).await;
    upload_samples(
        &b,
        &[
            "intel-spr-h100-cx6.features.json",
            "arm64-graviton3-al2023.features.json",
        ],
    )
    .await;
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=role]", "admin").await;

    // The template's results, beside the editor, with nothing clicked: both nodes are x86 or
    // Arm (AWS's Graviton reports vendor ARM), so Intel passes and Arm fails.
    let before = b
        .wait_texts("[data-testid=live-node]", "two results", |t| t.len() == 2)
        .await;
    assert_eq!(
        before.iter().filter(|t| t.starts_with("OK")).count(),
        1,
        "{before:?}"
    );
    b.wait_text("[data-testid=live-fleet]", "1 of 2 nodes compatible")
        .await;
    // An edit changes them: no vendor matches any more.
    let text = b.editor_text().await;
    b.replace_editor_text(&text.replace("[Intel, AMD]", "[Acme]"))
        .await;
    b.wait_texts("[data-testid=live-node]", "both FAIL", |t| {
        t.len() == 2 && t.iter().all(|r| r.starts_with("FAIL"))
    })
    .await;
    b.wait_text("[data-testid=live-fleet]", "0 of 2 nodes compatible")
        .await;
    // Text NFD cannot read: the last results stay, marked as of an earlier text.
    b.find(".cm-content")
        .await
        .send_keys("\ncompatibilities: 3")
        .await
        .unwrap();
    let stale = b.wait_text("[data-testid=stale]", "Out of date").await;
    assert!(stale.contains("cannot read"), "{stale}");
    b.shot("stale").await;
    for _ in 0.."\ncompatibilities: 3".len() {
        b.find(".cm-content")
            .await
            .send_keys("\u{E003}")
            .await
            .unwrap();
    }
    b.wait_texts("[data-testid=stale]", "no mark", |t| t.is_empty())
        .await;

    // Saved once; then an unsaved change evaluated on the fleet creates no version.
    b.fill("[data-testid=spec-name]", "trusted").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "Saved trusted as version 1")
        .await;
    let url = b.client.current_url().await.unwrap();
    assert!(url.as_str().ends_with("#editor/spec/1@1"), "{url}");
    let saved = b.editor_text().await;
    b.replace_editor_text(&saved.replace("[Acme]", "[Intel]"))
        .await;
    b.tab("fleet").await;
    b.click("[data-testid=run-fleet]").await;
    b.wait_text(
        "[data-testid=fleet-summary]",
        "1 of 2 nodes compatible (the editor's unsaved text)",
    )
    .await;
    let (_, versions) = b.api("GET", "/specs/1/versions", None).await;
    assert_eq!(versions["total"], 1, "{versions}");
    // The matrix says when it is no longer of the editor's text.
    b.tab("editor").await;
    b.find(".cm-content")
        .await
        .send_keys("\n# a comment")
        .await
        .unwrap();
    b.tab("fleet").await;
    b.wait_text("[data-testid=stale]", "changed since this matrix")
        .await;

    // A reload: the same spec, with the unsaved changes back.
    b.tab("editor").await;
    let unsaved = b.editor_text().await;
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=notice]", "unsaved changes").await;
    b.wait_text("[data-testid=save-state]", "version 1 + unsaved changes")
        .await;
    assert_eq!(b.editor_text().await, unsaved);
    assert!(b
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("spec/1@1"));

    // Log out: asked first, then nothing of it is left for the next person to log in.
    b.click_text(".who button", "Log out").await;
    b.wait_text("[data-testid=dialog]", "unsaved changes").await;
    b.shot("log-out").await;
    b.click("[data-testid=dialog-confirm]").await;
    b.find("#token").await;
    let kept = b
        .js(
            "return Object.keys(localStorage).filter(k => k.startsWith('nodefit.'));",
            vec![],
        )
        .await;
    assert_eq!(kept, json!([]));
    b.fill("#token", ADMIN_TOKEN).await;
    b.click("form button[type=submit]").await;
    b.wait_text("[data-testid=role]", "admin").await;
    let after = b.editor_text().await;
    assert!(!after.contains("# a comment"), "{after}");
    b.close().await;
    drop(server);
}

/// Every destructive action says what will happen and can be cancelled; versions can be read
/// before restoring them.
#[tokio::test(flavor = "current_thread")]
async fn destructive_actions_ask_and_can_be_cancelled() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("confirm").await;
    log_in(&b, &server.url).await;
    upload_samples(&b, &["intel-spr-h100-cx6.features.json"]).await;
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=role]", "admin").await;

    // Snapshot delete: cancel keeps it.
    b.tab("snapshots").await;
    b.click("[data-testid=delete-snapshot]").await;
    let said = b
        .wait_text("[data-testid=dialog]", "cannot be undone")
        .await;
    assert!(said.contains("Delete snapshot"), "{said}");
    b.shot("delete-snapshot").await;
    b.click("[data-testid=dialog-cancel]").await;
    b.wait_texts("[data-testid=snapshot-row]", "still one", |t| t.len() == 1)
        .await;

    // Two versions; one viewed read-only, a restore cancelled: the editor is unchanged.
    b.tab("editor").await;
    b.fill("[data-testid=spec-name]", "kept").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "as version 1").await;
    let v1 = b.editor_text().await;
    b.replace_editor_text(&v1.replace("Intel, AMD", "Intel"))
        .await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "as version 2").await;
    let v2 = b.editor_text().await;
    b.tab("versions").await;
    b.click_text("[data-testid=versions] button", "View version 1")
        .await;
    let shown = b.wait_text("[data-testid=viewer-text]", "Intel, AMD").await;
    assert!(shown.contains("vendor_id"), "{shown}");
    b.shot("view-version").await;
    b.click_text("[data-testid=viewer] button", "Close").await;
    b.click_text("[data-testid=versions] button", "Restore version 1")
        .await;
    b.wait_text(
        "[data-testid=dialog]",
        "nothing is saved until you press Save",
    )
    .await;
    b.click("[data-testid=dialog-cancel]").await;
    assert_eq!(b.editor_text().await, v2);

    // Discarding unsaved changes asks too.
    b.tab("editor").await;
    b.replace_editor_text(&v2.replace("Intel", "AMD")).await;
    b.click("[data-testid=discard]").await;
    b.wait_text("[data-testid=dialog]", "discarded").await;
    b.click("[data-testid=dialog-cancel]").await;
    assert!(b.editor_text().await.contains("[AMD]"));
    // New spec would replace nothing unsaved of a new spec: it does not ask, and the stored
    // spec's unsaved changes stay as its draft.
    b.click("[data-testid=new-spec]").await;
    b.wait_text("[data-testid=save-state]", "new spec").await;
    let picker = b
        .wait_text("[data-testid=open-spec]", "unsaved changes")
        .await;
    assert!(picker.contains("kept • unsaved changes"), "{picker}");
    // Saving with lint errors asks first.
    b.replace_editor_text("version: v1alpha1\ncompatibilities: []\nextra: [")
        .await;
    b.fill("[data-testid=spec-name]", "broken").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=dialog]", "lint error").await;
    b.click("[data-testid=dialog-cancel]").await;
    let (_, specs) = b.api("GET", "/specs", None).await;
    assert_eq!(specs["total"], 1, "not saved: {specs}");

    // Token revoke: cancelled, the token still works.
    b.tab("tokens").await;
    b.click_text("[data-testid=token-row] button", "Revoke")
        .await;
    b.wait_text("[data-testid=dialog]", "stops working").await;
    b.click("[data-testid=dialog-cancel]").await;
    assert_eq!(b.api("GET", "/me", None).await.0, 200);
    b.close().await;
    drop(server);
}

/// A NodeFeatureRule that labels the nodes with NVIDIA's driver loaded (the Intel/H100 sample,
/// not the AMD/MI210 one), and tries a label nfd-master refuses on every node with VFIO.
const GPU_RULES: &str = "\
apiVersion: nfd.k8s-sigs.io/v1alpha1
kind: NodeFeatureRule
metadata:
  name: gpu-drivers
spec:
  rules:
  - name: nvidia driver loaded
    labels:
      example.com/nvidia-driver: \"true\"
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
        nvidia: {op: Exists}
  - name: gpu role
    labels:
      node-role.kubernetes.io/gpu: \"true\"
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
        vfio_pci: {op: Exists}
";

/// Pastes `text` into the element `css` through the browser's input pipeline, as a paste would.
async fn paste(b: &Browser, css: &str, text: &str) {
    b.click(css).await;
    b.js(
        "const el = document.querySelector(arguments[0]); el.focus(); el.select();
         document.execCommand('insertText', false, arguments[1]);",
        vec![json!(css), json!(text)],
    )
    .await;
}

/// The Rules tab as a user goes through it: paste a NodeFeatureRule, save and lint it, run it
/// on the stored nodes, see the label on exactly the node it matches and what nfd-master
/// refuses, ask another node why the rule did not match there, and delete the file after
/// cancelling once.
#[tokio::test(flavor = "current_thread")]
async fn the_rules_tab_dry_runs_a_node_feature_rule() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("rules").await;
    log_in(&b, &server.url).await;
    upload_samples(
        &b,
        &[
            "intel-spr-h100-cx6.features.json",
            "amd-genoa-mi210-rhel9.features.json",
        ],
    )
    .await;
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=role]", "admin").await;

    b.tab("rules").await;
    b.wait_text("#panel-rules caption", "No NodeFeatureRule files yet")
        .await;
    b.fill("[data-testid=rule-file-name]", "gpu-drivers").await;
    paste(&b, "[data-testid=rule-file-content]", GPU_RULES).await;
    b.wait_text("[data-testid=rule-save-state]", "not saved yet")
        .await;
    b.click("[data-testid=save-rule-file]").await;
    b.wait_text("[data-testid=notice]", "Saved gpu-drivers.")
        .await;
    b.wait_texts("[data-testid=rule-file]", "the saved file listed", |t| {
        t.len() == 1 && t[0].contains("gpu-drivers (in the form)")
    })
    .await;
    let (_, stored) = b.api("GET", "/nodefeaturerules/1", None).await;
    assert_eq!(stored["content"], GPU_RULES, "saved as pasted");
    b.js("window.scrollTo(0, 0);", vec![]).await;
    b.shot("saved").await;

    // Lint names the label nfd-master will drop, at its line.
    b.click("[data-testid=lint-rule-file]").await;
    b.wait_text(
        "[data-testid=rule-lint-summary]",
        "1 error, 0 warnings, 0 notes",
    )
    .await;
    let problems = b.texts("[data-testid=rule-problem]").await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("16:7") && problems[0].contains("denied-namespace"),
        "{problems:?}"
    );

    // The dry run on every stored node: the label on the H100 node only; the role label is
    // refused on both, which nfd-master logs as an error.
    b.click("[data-testid=run-rules]").await;
    let summary = b.wait_text("[data-testid=rules-summary]", "2 nodes").await;
    assert!(
        summary.contains("2 where nfd-master would log an error"),
        "{summary}"
    );
    let counts = b.texts("[data-testid=rules-label-count]").await;
    assert_eq!(
        counts,
        ["Label example.com/nvidia-driver=true on 1 of 2 nodes"],
        "{counts:?}"
    );
    let rows = b.texts("[data-testid=rules-row]").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (gpu, amd): (Vec<&String>, Vec<&String>) =
        rows.iter().partition(|r| r.contains("gpu-node-01"));
    assert!(
        gpu[0].contains("example.com/nvidia-driver=true"),
        "{rows:?}"
    );
    assert!(amd[0].contains("amd-node-07"), "{rows:?}");
    assert!(!amd[0].contains("nvidia-driver"), "{rows:?}");
    for row in &rows {
        assert!(row.contains("node-role.kubernetes.io/gpu=true: "), "{row}");
    }
    b.wait_text("[data-testid=rules-page]", "Nodes 1–2 of 2")
        .await;
    b.js(
        "document.getElementById('rules-run-heading').scrollIntoView();",
        vec![],
    )
    .await;
    b.shot("dry-run").await;

    // The AMD node alone: every rule's outcome, and where the NVIDIA rule stopped.
    b.click_text("[data-testid=rules-row] button", "amd-node-07")
        .await;
    b.wait_text("[data-testid=rules-node] h3", "Every rule on amd-node-07")
        .await;
    let rules = b
        .wait_texts("[data-testid=rules-rule]", "both rules", |t| t.len() == 2)
        .await;
    let nvidia = rules
        .iter()
        .find(|r| r.contains("nvidia driver loaded"))
        .unwrap();
    assert!(
        nvidia.contains("gpu-drivers / nvidia driver loaded: not matched"),
        "{nvidia}"
    );
    assert!(nvidia.contains("matchFeatures"), "says where: {nvidia}");
    assert!(nvidia.contains("nvidia"), "{nvidia}");
    let role = rules.iter().find(|r| r.contains("gpu role")).unwrap();
    assert!(role.contains(": matched"), "{role}");
    b.shot("why").await;

    // A rule without its name, saved: the answer is marked as of the earlier file, and the API
    // server would refuse the new one, at the rule's line.
    let nameless = GPU_RULES.replace("  - name: gpu role\n    labels:", "  - labels:");
    paste(&b, "[data-testid=rule-file-content]", &nameless).await;
    b.wait_text("[data-testid=rules-stale]", "unsaved changes")
        .await;
    b.click("[data-testid=save-rule-file]").await;
    b.wait_text("[data-testid=rules-stale]", "saved since")
        .await;
    b.click("[data-testid=run-rules]").await;
    let refused = b
        .wait_text("[data-testid=rules-refused] li", "`name` is required")
        .await;
    assert!(refused.starts_with("14:"), "the rule's line: {refused}");
    b.wait_text("[data-testid=notice]", "would refuse").await;
    b.shot("refused").await;

    // Delete: cancelled, it stays; confirmed, it is gone.
    b.click("[data-testid=delete-rule-file]").await;
    let said = b
        .wait_text("[data-testid=dialog]", "cannot be undone")
        .await;
    assert!(
        said.contains("Delete NodeFeatureRule file gpu-drivers?"),
        "{said}"
    );
    b.shot("delete").await;
    b.click("[data-testid=dialog-cancel]").await;
    let (_, files) = b.api("GET", "/nodefeaturerules", None).await;
    assert_eq!(files["total"], 1, "kept: {files}");
    b.wait_texts("[data-testid=rule-file]", "still listed", |t| t.len() == 1)
        .await;
    b.click("[data-testid=delete-rule-file]").await;
    b.wait_text("[data-testid=dialog]", "cannot be undone")
        .await;
    b.click("[data-testid=dialog-confirm]").await;
    b.wait_text("[data-testid=notice]", "Deleted gpu-drivers.")
        .await;
    b.wait_texts("[data-testid=rule-file]", "none listed", |t| t.is_empty())
        .await;
    let (_, files) = b.api("GET", "/nodefeaturerules", None).await;
    assert_eq!(files["total"], 0, "deleted: {files}");
    b.close().await;
    drop(server);
}

/// What playground users expect: an example that lints clean, the spec attached to an image
/// on the allow-list, a share link of unsaved text opened in a fresh browser profile, format
/// and download.
#[tokio::test(flavor = "current_thread")]
async fn share_links_examples_images_and_files() {
    let _serial = SERIAL.lock().await;
    let registry = Registry::referrers();
    seed_image(&registry, "demo/app:v1");
    let config = format!(
        "[registries.lab]\nhost = \"{}\"\nplain_http = true\n",
        registry.host()
    );
    let server = Server::start(Some(&config));
    let b = Browser::start("playground").await;
    log_in(&b, &server.url).await;

    // An example from the gallery lints clean.
    b.click("[data-testid=examples]").await;
    b.wait_text("[data-testid=gallery]", "matchAny and instance features")
        .await;
    b.shot("gallery").await;
    b.click_text("[data-testid=open-example]", "any-nic.yaml")
        .await;
    b.wait_text("[data-testid=problem-summary]", "No problems")
        .await;
    assert!(b.editor_text().await.contains("one of the network cards"));

    // Format document: indentation only, and undoable.
    let messy = "version: v1alpha1\ncompatibilities:\n    -   rules:   # kept\n          -   name: r\n              matchFeatures:\n                  -   feature: cpu.model\n                      matchExpressions:\n                          vendor_id: {op: In, value: [Intel]}\n";
    b.replace_editor_text(messy).await;
    b.click("[data-testid=format]").await;
    b.wait_text("[data-testid=notice]", "Formatted").await;
    assert_eq!(
        b.editor_text().await,
        "version: v1alpha1\ncompatibilities:\n- rules:   # kept\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n"
    );

    // A share link of the unsaved text, opened in a fresh profile, after logging in there.
    let shared = b.editor_text().await;
    b.click("[data-testid=share]").await;
    let link = b
        .find("[data-testid=share-url]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.contains("#editor/text/"), "{link}");
    let other = Browser::start("playground-shared").await;
    other.client.goto(&link).await.unwrap();
    other.fill("#token", ADMIN_TOKEN).await;
    other.click("form button[type=submit]").await;
    other
        .wait_text("[data-testid=notice]", "The shared spec is in the editor")
        .await;
    assert_eq!(other.editor_text().await, shared);
    other.shot("shared").await;
    other.close().await;

    // The spec attached to an image: published through the API, opened from the registry.
    b.fill("[data-testid=spec-name]", "attached").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "as version 1").await;
    let (status, published) = b
        .api(
            "POST",
            "/publish",
            Some(json!({"specId": 1, "registry": "lab", "image": "demo/app:v1"})),
        )
        .await;
    assert_eq!(status, 201, "{published}");
    b.click("[data-testid=new-spec]").await;
    b.click("[data-testid=from-image]").await;
    b.fill("[data-testid=image-ref]", "demo/app:v1").await;
    b.click("[data-testid=image-form] button[type=submit]")
        .await;
    b.wait_text(
        "[data-testid=notice]",
        "The spec attached to lab:demo/app:v1",
    )
    .await;
    assert_eq!(b.editor_text().await, shared);
    // A missing tag is a sentence that names no host and no request.
    b.click("[data-testid=from-image]").await;
    b.fill("[data-testid=image-ref]", "demo/app:nope").await;
    b.click("[data-testid=image-form] button[type=submit]")
        .await;
    let error = b
        .wait_text("[data-testid=notice]", "No spec was loaded")
        .await;
    assert!(error.contains("Check the image reference"), "{error}");
    assert!(
        !error.contains(&registry.host()) && !error.contains("HTTP") && !error.contains("GET "),
        "{error}"
    );
    b.shot("image-error").await;
    b.close().await;
    drop(server);
}

/// Keyboard and accessibility: Tab leaves the editor unless the user makes it indent; focus
/// is visible; axe-core finds no serious or critical violation on any tab, light or dark; and
/// a screenshot of every tab at 1400 and 800 pixels, light and dark.
#[tokio::test(flavor = "current_thread")]
async fn keyboard_accessibility_and_every_tab_light_and_dark() {
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("tabs").await;
    log_in(&b, &server.url).await;
    upload_samples(
        &b,
        &[
            "intel-spr-h100-cx6.features.json",
            "amd-genoa-mi210-rhel9.features.json",
        ],
    )
    .await;
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=role]", "admin").await;
    b.wait_texts("[data-testid=live-node]", "two results", |t| t.len() == 2)
        .await;

    // Tab in the editor moves focus out and leaves the text alone.
    let before = b.editor_text().await;
    b.click(".cm-content").await;
    b.find(".cm-content")
        .await
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let inside = b
        .js(
            "return !!document.activeElement.closest('.cm-editor');",
            vec![],
        )
        .await;
    assert_eq!(inside, json!(false));
    assert_eq!(b.editor_text().await, before);
    // The focus ring of the editor is drawn outside it, where nothing clips it.
    b.click(".cm-content").await;
    let ring = b
        .js(
            "return getComputedStyle(document.querySelector('.editor-host')).outlineStyle;",
            vec![],
        )
        .await;
    assert_eq!(ring, json!("solid"));
    // With Tab indenting switched on, Tab indents.
    b.click("[data-testid=tab-indents]").await;
    b.click(".cm-content").await;
    b.find(".cm-content")
        .await
        .send_keys("\u{E011}\u{E004}")
        .await
        .unwrap(); // Home, Tab
    assert_ne!(b.editor_text().await, before);
    b.find(".cm-content")
        .await
        .send_keys("\u{E009}z\u{E000}")
        .await
        .unwrap();
    b.click("[data-testid=tab-indents]").await;

    // A saved spec, so that every tab has something to show.
    b.fill("[data-testid=spec-name]", "every-tab").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", "as version 1").await;
    let (status, body) = b
        .api(
            "POST",
            "/nodefeaturerules",
            Some(json!({"name": "gpu-drivers", "content": GPU_RULES})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let tabs = [
        "editor",
        "snapshots",
        "test",
        "fleet",
        "rules",
        "publish",
        "versions",
        "tokens",
    ];
    for scheme in ["light", "dark"] {
        b.color_scheme(scheme).await;
        for (width, height) in [(1400, 1000), (800, 1000)] {
            b.client.set_window_size(width, height).await.unwrap();
            for tab in tabs {
                b.tab(tab).await;
                if tab == "fleet" && scheme == "light" && width == 1400 {
                    b.click("[data-testid=run-fleet]").await;
                    b.wait_text("[data-testid=fleet-summary]", "nodes compatible")
                        .await;
                }
                if tab == "rules" && scheme == "light" && width == 1400 {
                    b.click_text("[data-testid=rule-file] button", "gpu-drivers")
                        .await;
                    b.click("[data-testid=lint-rule-file]").await;
                    b.click("[data-testid=run-rules]").await;
                    b.wait_text("[data-testid=rules-summary]", "2 nodes").await;
                    b.click_text("[data-testid=rules-row] button", "amd-node-07")
                        .await;
                    b.wait_text("[data-testid=rules-node] h3", "amd-node-07")
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
                b.shot(&format!("{tab}-{width}-{scheme}")).await;
                if width == 1400 {
                    let violations = b.axe().await;
                    assert!(violations.is_empty(), "{tab} ({scheme}): {violations:#?}");
                }
            }
        }
    }
    b.close().await;
    drop(server);
}

/// The Fleet tab on a 10,000-node server (`nodefit_e2e::fleetgen`: 24 pools of similar nodes,
/// each node with its own host name and kernel build): one click shows the answer as groups
/// ("N nodes in pool=…: compatible via set #1"), a group drills down to a page of its nodes,
/// and the next page follows. Prints the time from the click to the grouped answer for
/// docs/benchmarks.md; fails only far past the 1 s goal, because the machine is shared with
/// other builds and the server may be a debug build.
#[tokio::test(flavor = "current_thread")]
async fn the_fleet_tab_groups_ten_thousand_nodes() {
    const NODES: usize = 10_000;
    const PER_UPLOAD: usize = 100;
    let _serial = SERIAL.lock().await;
    let server = Server::start(None);
    let b = Browser::start("fleet-10k").await;
    log_in(&b, &server.url).await;
    let generator = nodefit_e2e::fleetgen::Generator::new();
    for from in (0..NODES).step_by(PER_UPLOAD) {
        let list: Value = serde_json::from_str(&generator.list(from, from + PER_UPLOAD)).unwrap();
        let (status, body) = b.api("POST", "/snapshots", Some(list)).await;
        assert_eq!(status, 201, "{body}");
    }
    let spec = fs::read_to_string(
        testbed::workspace_root().join("shared/core/tests/data/examples/image-compatibility.yaml"),
    )
    .unwrap();
    let (status, created) = b
        .api(
            "POST",
            "/specs",
            Some(json!({"name": "fleet-10k", "content": spec})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    b.client
        .goto(&format!("{}/#editor/spec/{id}", server.url))
        .await
        .unwrap();
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=role]", "admin").await;
    b.wait_text("[data-testid=save-state]", "version 1").await;
    b.tab("fleet").await;

    let clicked = std::time::Instant::now();
    b.click("[data-testid=run-fleet]").await;
    let group = b
        .wait_text("[data-testid=fleet-group]", " nodes in pool=")
        .await;
    let took = clicked.elapsed();
    println!("UI: Fleet tab, {NODES} nodes: grouped answer {took:?} after the click (including the 100 ms polling)");
    let summary = b
        .wait_text("[data-testid=fleet-summary]", "of 10,000 nodes compatible")
        .await;
    assert!(summary.contains("spec version 1"), "{summary}");
    assert!(
        group.contains("compatible via set #") || group.contains("not compatible"),
        "{group}"
    );
    let groups = b.texts("[data-testid=fleet-group]").await;
    let total: usize = groups
        .iter()
        .map(|g| {
            g.split(' ')
                .next()
                .unwrap()
                .replace(',', "")
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, NODES, "{groups:#?}");
    b.shot("fleet-groups").await;

    // Drill down: the first group's nodes, a page at a time.
    let first = groups[0].split(" nodes in ").nth(1).unwrap();
    let first = first.trim_end_matches(" show nodes").to_owned();
    b.click("[data-testid=fleet-group] button").await;
    let caption = b.wait_text("[data-testid=fleet-page]", &first).await;
    assert!(caption.starts_with("Nodes 1–50 of "), "{caption}");
    let rows = b.texts("[data-testid=fleet-row]").await;
    assert_eq!(rows.len(), 50, "{rows:#?}");
    let pool = first.split(':').next().unwrap();
    assert!(rows.iter().all(|r| r.contains(pool)), "{pool}: {rows:#?}");
    b.shot("fleet-drill-down").await;
    b.click("[data-testid=fleet-next]").await;
    b.wait_text("[data-testid=fleet-page]", "Nodes 51–").await;
    assert!(
        took < Duration::from_secs(5),
        "the grouped answer took {took:?} (goal: 1 s)"
    );
    b.close().await;
    drop(server);
}
