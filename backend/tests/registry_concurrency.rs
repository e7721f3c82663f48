//! Concurrent writers of one fallback index on distribution 2.8, which has neither the
//! referrers API nor conditional writes: every attach must still be listed afterwards.

mod registry_support;

use registry_support::*;

const WRITERS: usize = 20;

#[test]
fn twenty_concurrent_attaches_are_all_listed() {
    let registry = Registry::distribution();
    let image = seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("concurrent");
    let specs: Vec<_> = (0..WRITERS)
        .map(|i| write_spec(dir.path(), &format!("spec{i}.yaml"), &format!("writer {i}")))
        .collect();

    let running: Vec<_> = specs
        .iter()
        .map(|spec| {
            nodefit(&["attach", "--output", "json"])
                .args(&image_args(&registry, "demo/app:v1"))
                .arg(spec)
                .spawn()
        })
        .collect();
    let mut attached: Vec<String> = running
        .into_iter()
        .map(|r| {
            let out = r.wait();
            out.assert_success();
            let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(json["referrers"], "tag-schema", "{out}");
            json["artifact"]["digest"].as_str().unwrap().to_owned()
        })
        .collect();
    attached.sort();
    attached.dedup();
    assert_eq!(attached.len(), WRITERS);

    let (_, index) = fallback_index(&registry, "demo/app", &image).expect("fallback index");
    let mut listed = index_digests(&index);
    listed.sort();
    assert_eq!(listed, attached, "the fallback index lost writers");

    let mut discovered = discovered(&registry, "demo/app:v1");
    discovered.sort();
    assert_eq!(discovered, attached);
    let mut by_oras = oras_discovered(&registry, "demo/app:v1");
    by_oras.sort();
    assert_eq!(by_oras, attached);
}

/// Attaching and detaching at the same time: each detach and each attach holds afterwards.
#[test]
fn concurrent_attaches_and_detaches_all_hold() {
    let registry = Registry::distribution();
    seed_image(&registry, "demo/app:v1");
    let dir = TempDir::new("mixed");
    let attach = |name: &str| {
        let spec = write_spec(dir.path(), &format!("{name}.yaml"), name);
        nodefit(&["attach"])
            .args(&image_args(&registry, "demo/app:v1"))
            .arg(spec)
            .spawn()
    };
    let doomed: Vec<String> = (0..5)
        .map(|i| printed_digest(&attach(&format!("doomed{i}")).wait()))
        .collect();

    let detaching: Vec<_> = doomed
        .iter()
        .map(|digest| {
            nodefit(&["detach", "--artifact", digest])
                .args(&image_args(&registry, "demo/app:v1"))
                .spawn()
        })
        .collect();
    let attaching: Vec<_> = (0..5).map(|i| attach(&format!("kept{i}"))).collect();
    for r in detaching {
        r.wait().assert_success();
    }
    let mut kept: Vec<String> = attaching
        .into_iter()
        .map(|r| printed_digest(&r.wait()))
        .collect();
    kept.sort();

    let mut listed = discovered(&registry, "demo/app:v1");
    listed.sort();
    assert_eq!(listed, kept);
}
