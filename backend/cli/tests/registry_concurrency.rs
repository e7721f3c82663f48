//! Concurrent writers of one fallback index on distribution 2.8, which has neither the
//! referrers API nor conditional writes: every attach must still be listed afterwards.

mod registry_support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

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

/// The faults the protocol must survive on the way to distribution 2.8: one writer whose read
/// of the fallback index reaches it two seconds late (it writes long after the others read,
/// wrote and checked), connections reset before the registry sees the request, and index
/// writes that the registry applies but whose answer never comes. Every attach is listed.
#[test]
fn a_slowed_writer_resets_and_lost_answers_lose_no_entry() {
    const SLOWED: usize = 10;
    let registry = Registry::distribution();
    let image = seed_image(&registry, "demo/app:v1");
    let tag = format!(
        "/v2/demo/app/manifests/sha256-{}",
        &image["sha256:".len()..]
    );
    let counts = Mutex::new((0usize, 0usize, 0usize, HashSet::new()));
    let index_path = tag.clone();
    let proxy = Proxy::start(&registry.host(), move |head, _| {
        let tag = &index_path;
        let mut counts = counts.lock().unwrap();
        let (requests, index_reads, index_writes, reset_once) = &mut *counts;
        *requests += 1;
        if head.path() == tag.as_str() && head.method == "GET" {
            *index_reads += 1;
            if *index_reads == 3 {
                return Action::DelayAnswer(Duration::from_secs(2));
            }
        }
        if head.path() == tag.as_str() && head.method == "PUT" {
            *index_writes += 1;
            match *index_writes {
                2 | 6 => return Action::ApplyThenReset,
                4 => return Action::Reset,
                _ => {}
            }
        }
        // Every ninth request is reset, but never the same request twice: a client gives up
        // after a bounded number of attempts, and ten writers' retries could otherwise land on
        // multiples of nine until one of them runs out. The index has its own faults above.
        if *requests % 9 == 0
            && head.path() != tag.as_str()
            && reset_once.insert((head.method.clone(), head.path().to_owned()))
        {
            return Action::Reset;
        }
        Action::Forward
    });
    let dir = TempDir::new("faulty-writers");
    let running: Vec<_> = (0..SLOWED)
        .map(|i| {
            let spec = write_spec(dir.path(), &format!("spec{i}.yaml"), &format!("faulty {i}"));
            nodefit(&["attach", "--output", "json"])
                .args(&[
                    "--image".to_owned(),
                    format!("{}/demo/app:v1", proxy.host()),
                    "--plain-http".to_owned(),
                ])
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
            json["artifact"]["digest"].as_str().unwrap().to_owned()
        })
        .collect();
    attached.sort();
    let seen = proxy.seen();
    let delayed = seen.iter().filter(|h| h.path() == tag).count();
    assert!(
        delayed >= 3,
        "the slowed read happened: {delayed} index requests"
    );

    let (_, index) = fallback_index(&registry, "demo/app", &image).expect("fallback index");
    let mut listed = index_digests(&index);
    listed.sort();
    assert_eq!(listed, attached, "the fallback index lost writers");
}
