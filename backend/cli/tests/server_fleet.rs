//! The fleet at the server, over real HTTP against `nodefit serve` processes, on SQLite and on
//! a real PostgreSQL: the matrix of 10,000 generated nodes equals `nodefit test` on each node;
//! filters and summaries read one evaluation; two processes on one database never answer from
//! a stale fleet; a database from before interned storage is converted; values no snapshot
//! refers to are collected and no others.

mod server_support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nodefit_e2e::fleetgen::Generator;
use serde_json::{json, Value};
use server_support::*;

/// Whether a fleet item is one a filter should keep.
type ItemCheck<'a> = Box<dyn Fn(&Value) -> bool + 'a>;

/// Runs each test against SQLite and against PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { let (store, _dir) = super::sqlite(); super::$name(&store) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::postgres_db()) })*
        }
    };
}

on_both_databases!(
    the_matrix_of_10000_generated_nodes_is_what_nodefit_test_answers,
    filters_and_summaries_read_one_evaluation,
    a_database_from_before_interned_storage_is_converted,
    values_no_snapshot_refers_to_are_collected_and_no_others,
);

/// A spec that reads what differs between every node (host name, kernel build), so that each
/// node is a group of its own, beside what pools share.
const PER_NODE_SPEC: &str = r#"version: v1alpha1
compatibilities:
- tag: kernel
  weight: 5
  description: new kernels, some hosts
  rules:
  - name: new-kernel
    matchFeatures:
    - feature: kernel.version
      matchExpressions:
        major: {op: Gt, value: ["5"]}
  - name: some-hosts
    matchAny:
    - matchFeatures:
      - feature: system.name
        matchExpressions:
          nodename: {op: InRegexp, value: ["-00[0-4]"]}
    - matchFeatures:
      - feature: kernel.loadedmodule
        matchExpressions:
          bonding: {op: Exists}
- tag: build
  weight: 3
  rules:
  - name: build
    matchFeatures:
    - feature: kernel.version
      matchExpressions:
        full: {op: InRegexp, value: ["\\.b[0-9]*7$"]}
"#;

fn create_spec(server: &Server, name: &str, content: &str) -> i64 {
    let r = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": name, "content": content}),
    );
    r.expect(201);
    r.json()["id"].as_i64().unwrap()
}

fn evaluate(server: &Server, spec: i64, body: &Value) -> Value {
    let r = server.json(
        "POST",
        &format!("/api/v1/specs/{spec}/evaluate"),
        ADMIN,
        body,
    );
    r.expect(200);
    r.json()
}

/// Every filtered item of an evaluation, page by page; the pages must come from one
/// evaluation (one fleet sequence).
fn all_items(server: &Server, spec: i64, body: &Value) -> (Value, Vec<Value>) {
    let mut items = Vec::new();
    let first = evaluate(server, spec, &merge(body, json!({"limit": 500})));
    loop {
        let page = evaluate(
            server,
            spec,
            &merge(body, json!({"limit": 500, "offset": items.len()})),
        );
        assert_eq!(page["fleetSequence"], first["fleetSequence"]);
        let got = page["items"].as_array().unwrap();
        if got.is_empty() {
            break;
        }
        items.extend(got.iter().cloned());
    }
    assert_eq!(items.len() as u64, first["filtered"].as_u64().unwrap());
    (first, items)
}

fn merge(a: &Value, b: Value) -> Value {
    let mut out = a.clone();
    for (k, v) in b.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

/// Uploads generated nodes `from..to` in lists of `per_list`; the files, for `nodefit test`.
fn upload_generated(
    server: &Server,
    dir: &TempDir,
    range: std::ops::Range<usize>,
    per_list: usize,
) -> Vec<std::path::PathBuf> {
    let generator = Generator::new();
    range
        .clone()
        .step_by(per_list)
        .map(|from| {
            let list = generator.list(from, (from + per_list).min(range.end));
            let r = server.upload("", ADMIN, "application/json", list.as_bytes());
            r.expect(201);
            let path = dir.path().join(format!("list-{from:06}.json"));
            std::fs::write(&path, list).unwrap();
            path
        })
        .collect()
}

/// `nodefit test --output json` on the files: each node's report by node name.
fn nodefit_test(spec: &str, files: &[std::path::PathBuf], tags: &[&str]) -> HashMap<String, Value> {
    let dir = TempDir::new("fleet-spec");
    let spec_file = dir.path().join("spec.yaml");
    std::fs::write(&spec_file, spec).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodefit"));
    cmd.arg("test").arg(&spec_file).args(["--output", "json"]);
    if !tags.is_empty() {
        cmd.arg("--tags").arg(tags.join(","));
    }
    for f in files {
        cmd.arg("-s").arg(f);
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nodes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    nodes
        .into_iter()
        .map(|n| (n["node"].as_str().unwrap().to_owned(), n))
        .collect()
}

/// The generated nodes, uploaded as NodeFeatureLists, evaluated by the server (the whole
/// matrix, paged) and one by one by `nodefit test` from the same files: the same verdict,
/// best set and, for every set, the same match and failing rules, on every node; and for some
/// nodes the server's single-node report is `nodefit test`'s byte for byte.
fn the_matrix_of_10000_generated_nodes_is_what_nodefit_test_answers(store: &Store) {
    const NODES: usize = 10_000;
    let server = Server::start(store);
    let dir = TempDir::new("fleet-lists");
    let files = upload_generated(&server, &dir, 0..NODES, 250);
    let examples = |f: &str| read_data(&format!("examples/{f}"));
    let cases: [(&str, String, &[&str]); 4] = [
        ("image", examples("image-compatibility.yaml"), &[]),
        ("fallback", examples("preferred-fallback.yaml"), &[]),
        (
            "fallback-tagged",
            examples("preferred-fallback.yaml"),
            &["fallback"],
        ),
        ("per-node", PER_NODE_SPEC.to_owned(), &[]),
    ];
    for (name, content, tags) in cases {
        let spec = create_spec(&server, name, &content);
        let (matrix, items) = all_items(&server, spec, &json!({"tags": tags}));
        assert_eq!(matrix["total"], NODES, "{name}");
        let expected = nodefit_test(&content, &files, tags);
        assert_eq!(expected.len(), NODES);
        let mut compatible = 0;
        for item in &items {
            let node = item["nodeName"].as_str().unwrap();
            let cli = &expected[node];
            assert_eq!(item["compatible"], cli["compatible"], "{name}: {node}");
            assert_eq!(item["bestSet"], cli["bestSet"], "{name}: {node}");
            let report = cli["report"].as_array().unwrap();
            let sets = item["sets"].as_array().unwrap();
            assert_eq!(sets.len(), report.len(), "{name}: {node}");
            for (set, status) in sets.iter().zip(report) {
                assert_eq!(set["isMatch"], status["isMatch"], "{name}: {node}");
                let failing: Vec<&Value> = status["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["isMatch"] == false)
                    .map(|r| &r["name"])
                    .collect();
                let got: Vec<&Value> = set["failingRules"].as_array().unwrap().iter().collect();
                assert_eq!(got, failing, "{name}: {node}");
            }
            compatible += usize::from(item["compatible"] == true);
        }
        assert_eq!(matrix["compatible"], compatible, "{name}");
        assert!(
            compatible > 0 && compatible < NODES,
            "{name}: a uniform answer shows little ({compatible})"
        );
        // Reports through the group's projected features, for nodes across the pools.
        for item in items.iter().step_by(NODES / 20) {
            let id = item["snapshotId"].as_i64().unwrap();
            let one = evaluate(&server, spec, &json!({"snapshotIds": [id], "tags": tags}));
            let node = item["nodeName"].as_str().unwrap();
            assert_eq!(
                one["items"][0]["report"], expected[node]["report"],
                "{name}: {node}"
            );
        }
    }
}

/// The summaries and every filter agree with the items they summarise, outcome ids are the
/// same in every evaluation, and pages, filters and summaries of one selection compute its
/// matrix once (the server's own counter says so).
fn filters_and_summaries_read_one_evaluation(store: &Store) {
    let server = Server::start(store);
    let dir = TempDir::new("fleet-lists");
    upload_generated(&server, &dir, 0..600, 200);
    let spec = create_spec(
        &server,
        "fallback",
        &read_data("examples/preferred-fallback.yaml"),
    );
    let misses = || metric(&server, "nodefit_fleet_matrix_misses_total");
    let before = misses();
    let (all, items) = all_items(&server, spec, &json!({"groupBy": ["pool", "zone"]}));
    assert_eq!(all["total"], 600);

    // Outcomes: each item's answer, counted.
    let mut per_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *per_outcome
            .entry(item["outcome"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let outcomes = all["outcomes"].as_array().unwrap();
    assert!(outcomes.len() > 1, "{all}");
    for o in outcomes {
        assert_eq!(o["nodes"], per_outcome[o["id"].as_str().unwrap()]);
        let member = items.iter().find(|i| i["outcome"] == o["id"]).unwrap();
        for field in ["compatible", "bestSet", "sets"] {
            assert_eq!(o[field], member[field]);
        }
    }
    let counts: Vec<u64> = outcomes
        .iter()
        .map(|o| o["nodes"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most first");
    // Groups: per pool, zone and outcome.
    let mut per_group: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for item in &items {
        let l = &item["labels"];
        *per_group
            .entry((
                l["pool"].as_str().unwrap().to_owned(),
                l["zone"].as_str().unwrap().to_owned(),
                item["outcome"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    let groups = all["groups"].as_array().unwrap();
    assert_eq!(groups.len(), per_group.len());
    for g in groups {
        let key = (
            g["labels"]["pool"].as_str().unwrap().to_owned(),
            g["labels"]["zone"].as_str().unwrap().to_owned(),
            g["outcome"].as_str().unwrap().to_owned(),
        );
        assert_eq!(g["nodes"], per_group[&key], "{g}");
    }
    // Failing rules, per set.
    let mut per_rule: BTreeMap<(u64, String), usize> = BTreeMap::new();
    for item in &items {
        for set in item["sets"].as_array().unwrap() {
            for rule in set["failingRules"].as_array().unwrap() {
                *per_rule
                    .entry((
                        set["index"].as_u64().unwrap(),
                        rule.as_str().unwrap().to_owned(),
                    ))
                    .or_default() += 1;
            }
        }
    }
    let rules = all["failingRules"].as_array().unwrap();
    assert_eq!(rules.len(), per_rule.len());
    for r in rules {
        let key = (
            r["set"].as_u64().unwrap(),
            r["rule"].as_str().unwrap().to_owned(),
        );
        assert_eq!(r["nodes"], per_rule[&key], "{r}");
    }
    // Label keys of the selection.
    let keys: Vec<&str> = all["labelKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["cloud", "pool", "zone"])
    );
    assert!(all["labelKeys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["nodes"] == 600));

    // Each filter keeps exactly the items it names, and summarises only those.
    let pool = items[0]["labels"]["pool"].as_str().unwrap().to_owned();
    let outcome = outcomes[1]["id"].as_str().unwrap().to_owned();
    let (set, rule) = per_rule.keys().next().unwrap().clone();
    let name = items[7]["nodeName"].as_str().unwrap().to_owned();
    let filters: Vec<(Value, ItemCheck)> = vec![
        (
            json!({"labels": {"pool": pool}}),
            Box::new(|i: &Value| i["labels"]["pool"] == pool.as_str()),
        ),
        (
            json!({"verdict": "compatible"}),
            Box::new(|i: &Value| i["compatible"] == true),
        ),
        (
            json!({"verdict": "incompatible"}),
            Box::new(|i: &Value| i["compatible"] == false && i.get("error").is_none()),
        ),
        (
            json!({"verdict": "error"}),
            Box::new(|i: &Value| i.get("error").is_some()),
        ),
        (
            json!({"bestSet": 1}),
            Box::new(|i: &Value| i["bestSet"] == 1),
        ),
        (
            json!({"failingRule": {"set": set, "rule": rule}}),
            Box::new(|i: &Value| {
                i["sets"].as_array().unwrap().iter().any(|s| {
                    s["index"] == set
                        && s["failingRules"].as_array().unwrap().contains(&json!(rule))
                })
            }),
        ),
        (
            json!({"outcome": outcome}),
            Box::new(|i: &Value| i["outcome"] == outcome.as_str()),
        ),
        (
            json!({"text": name.to_uppercase()}),
            Box::new(|i: &Value| i["nodeName"] == name.as_str()),
        ),
        (
            json!({"verdict": "incompatible", "labels": {"pool": pool}}),
            Box::new(|i: &Value| i["compatible"] == false && i["labels"]["pool"] == pool.as_str()),
        ),
    ];
    for (filter, keeps) in &filters {
        let expected: Vec<&Value> = items
            .iter()
            .filter(|i| keeps(i))
            .map(|i| &i["snapshotId"])
            .collect();
        let (answer, got) = all_items(&server, spec, &json!({"filter": filter}));
        let got: Vec<&Value> = got.iter().map(|i| &i["snapshotId"]).collect();
        assert_eq!(got, expected, "{filter}");
        let summed: u64 = answer["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["nodes"].as_u64().unwrap())
            .sum();
        assert_eq!(summed as usize, expected.len(), "{filter}");
        assert_eq!(answer["total"], 600, "the selection's totals stay");
    }
    assert_eq!(misses() - before, 1, "one matrix for all of the above");

    // A new node: a new fleet sequence, a new matrix, the same outcome ids.
    let more = TempDir::new("fleet-more");
    upload_generated(&server, &more, 600..601, 1);
    let after = evaluate(&server, spec, &json!({}));
    assert_eq!(after["total"], 601);
    assert_ne!(after["fleetSequence"], all["fleetSequence"]);
    assert_eq!(misses() - before, 2);
    let ids = |m: &Value| -> BTreeSet<String> {
        m["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&after).is_superset(&ids(&all)));

    // Limits.
    let refused = [
        json!({"groupBy": ["a", "b", "c", "d", "e"]}),
        json!({"filter": {"verdict": "maybe"}}),
        json!({"filter": {"nodes": 1}}),
        json!({"filter": {"text": "x".repeat(254)}}),
        json!({"filter": {"failingRule": {"set": 0, "rule": "r\u{202e}"}}}),
        json!({"groupBy": ["pool\u{200b}"]}),
        json!({"snapshotIds": (0..10_001).collect::<Vec<i64>>()}),
    ];
    for body in refused {
        server
            .json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                ADMIN,
                &body,
            )
            .expect_error(400, "bad_request");
    }
}

/// A counter of the server's `/metrics`.
fn metric(server: &Server, name: &str) -> u64 {
    let text = server.request("GET", "/metrics", None, None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs a query on the server's database with the database's own client; its output.
fn sql(store: &Store, statements: &str) -> String {
    let out = match store {
        Store::Sqlite(dir) => Command::new("sqlite3")
            .arg(dir.join("nodefit.db"))
            .arg(statements)
            .output()
            .expect("run sqlite3 (Debian's sqlite3 package)"),
        Store::Postgres(url) => Command::new("psql")
            .args([
                url.as_str(),
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-At",
                "-c",
                statements,
            ])
            .output()
            .expect("run psql"),
    };
    assert!(
        out.status.success(),
        "{statements}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A database put back to the schema before migration 5, its snapshots' features as JSON in
/// the `features` column: on the next start each is converted to values, its features JSON is
/// the same text with the same content hash, the matrix is the same, and uploading the same
/// node again finds it.
fn a_database_from_before_interned_storage_is_converted(store: &Store) {
    let server = Server::start(store);
    let samples = [
        "intel-spr-h100-cx6.features.json",
        "amd-genoa-mi210-rhel9.features.json",
        "arm64-graviton3-al2023.features.json",
    ];
    let mut stored = Vec::new();
    for (i, file) in samples.iter().enumerate() {
        let r = server.upload(
            &format!("?label=pool=p{i}"),
            ADMIN,
            "application/json",
            read_data(&format!("samples/{file}")).as_bytes(),
        );
        r.expect(201);
        let id = r.json()["snapshots"][0]["id"].as_i64().unwrap();
        stored.push(server.get(&format!("/api/v1/snapshots/{id}"), ADMIN).json());
    }
    let spec = create_spec(
        &server,
        "image",
        &read_data("examples/image-compatibility.yaml"),
    );
    let before = evaluate(&server, spec, &json!({"groupBy": ["pool"]}));
    drop(server);

    let mut revert = String::from(
        "DELETE FROM _sqlx_migrations WHERE version = 5; DROP TABLE snapshot_backfill; \
         DROP TABLE fleet_changes; DROP TABLE feature_values;",
    );
    revert.push_str(match store {
        Store::Postgres(_) => {
            " ALTER TABLE snapshots DROP COLUMN value_ids; \
             ALTER TABLE snapshots ADD COLUMN features TEXT NOT NULL DEFAULT '';"
        }
        // The table as migration 1 made it. (Debian's sqlite3 3.40 cannot drop value_ids: it
        // fails to rewrite the table's text around migration 1's comments.)
        Store::Sqlite(_) => {
            " PRAGMA foreign_keys = OFF; \
             CREATE TABLE old (id INTEGER PRIMARY KEY AUTOINCREMENT, node_name TEXT, \
                 format TEXT NOT NULL, content_hash TEXT NOT NULL UNIQUE, \
                 feature_count BIGINT NOT NULL, labels TEXT NOT NULL, created_at BIGINT NOT NULL, \
                 created_by TEXT NOT NULL, features TEXT NOT NULL); \
             INSERT INTO old SELECT id, node_name, format, content_hash, feature_count, labels, \
                 created_at, created_by, '' FROM snapshots; \
             DROP TABLE snapshots; ALTER TABLE old RENAME TO snapshots; \
             CREATE INDEX snapshots_node_name ON snapshots (node_name);"
        }
    });
    for s in &stored {
        let json = s["features"].to_string().replace('\'', "''");
        // The canonical export sorts every object's keys, as serde_json's Value writes them;
        // the content hash check below makes sure the text is the same.
        revert.push_str(&format!(
            " UPDATE snapshots SET features = '{json}' WHERE id = {};",
            s["id"]
        ));
    }
    sql(store, &revert);

    let server = Server::start(store);
    assert!(
        server.logs().contains("stored snapshots as feature values"),
        "{}",
        server.logs()
    );
    for s in &stored {
        let r = server.get(&format!("/api/v1/snapshots/{}", s["id"]), ADMIN);
        r.expect(200);
        let text = r.text();
        let got: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(got, *s);
        // The content hash is the SHA-256 of the features text as answered.
        let raw = features_text(&text);
        assert_eq!(
            nodefit_e2e::testbed::sha256_digest(raw.as_bytes()),
            s["contentHash"].as_str().unwrap()
        );
    }
    assert_eq!(sql(store, "SELECT COUNT(*) FROM snapshot_backfill"), "0");
    let after = evaluate(&server, spec, &json!({"groupBy": ["pool"]}));
    for field in ["total", "compatible", "outcomes", "groups", "items", "sets"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let again = server.upload(
        "",
        ADMIN,
        "application/json",
        read_data(&format!("samples/{}", samples[0])).as_bytes(),
    );
    again.expect(200);
    assert_eq!(again.json()["duplicates"], json!([stored[0]["id"]]));
}

/// The text of the `features` member of a snapshot answer, as sent.
fn features_text(answer: &str) -> &str {
    let start = answer.find("\"features\":").unwrap() + "\"features\":".len();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in answer[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &answer[start..start + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("no features object in {answer}")
}

/// Deleting most nodes leaves their own values (host names, kernel builds) referred to by
/// nothing: the server deletes them from the database once it has seen them go, and keeps
/// every value a snapshot still refers to (each remaining snapshot reads back whole). The
/// deleted nodes uploaded again are stored afresh.
fn values_no_snapshot_refers_to_are_collected_and_no_others(store: &Store) {
    let server = Server::start(store);
    let dir = TempDir::new("fleet-lists");
    upload_generated(&server, &dir, 0..400, 200);
    let spec = create_spec(
        &server,
        "image",
        &read_data("examples/image-compatibility.yaml"),
    );
    let (_, items) = all_items(&server, spec, &json!({}));
    let count = |store: &Store| -> usize {
        sql(store, "SELECT COUNT(*) FROM feature_values")
            .parse()
            .unwrap()
    };
    let before = count(store);
    let (gone, kept) = items.split_at(350);
    for item in gone {
        server
            .delete(&format!("/api/v1/snapshots/{}", item["snapshotId"]), ADMIN)
            .expect(204);
    }
    // The values the kept nodes have: what must remain.
    let generator = Generator::new();
    let by_name: HashMap<String, usize> = (0..400)
        .map(|i| {
            (
                generator.node(i)["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                i,
            )
        })
        .collect();
    let mut needed = HashSet::new();
    for item in kept {
        let node = generator.node(by_name[item["nodeName"].as_str().unwrap()]);
        let features: nodefit_core::features::Features =
            serde_json::from_value(node["spec"]["features"].clone()).unwrap();
        for (name, value) in nodefit_core::fleet::canonical_json(&features).1 {
            needed.insert((name.to_owned(), value));
        }
    }
    // The evaluation syncs the fleet, which sees the values go and has them collected.
    let m = evaluate(&server, spec, &json!({}));
    assert_eq!(m["total"], kept.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(store) > needed.len() {
        assert!(
            Instant::now() < deadline,
            "{} values left of {before}, {} needed:\n{}",
            count(store),
            needed.len(),
            server.logs()
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(store), needed.len());
    assert!(metric(&server, "nodefit_feature_values_collected_total") > 0);
    for item in kept {
        let s = server.get(&format!("/api/v1/snapshots/{}", item["snapshotId"]), ADMIN);
        s.expect(200);
        assert_eq!(
            nodefit_e2e::testbed::sha256_digest(features_text(&s.text()).as_bytes()),
            s.json()["contentHash"].as_str().unwrap()
        );
    }
    // A second server process on the database loads exactly what remains.
    let fresh = Server::start(store);
    assert_eq!(evaluate(&fresh, spec, &json!({}))["total"], kept.len());
    drop(fresh);
    // The deleted nodes again: new snapshots, their values stored again.
    let again = TempDir::new("fleet-again");
    upload_generated(&server, &again, 0..400, 200);
    let (_, items) = all_items(&server, spec, &json!({}));
    assert_eq!(items.len(), 400);
    assert_eq!(count(store), before);
}

/// Two server processes on one PostgreSQL, each with its own copy of the fleet, while clients
/// upload, relabel and delete through both: every evaluation on either includes every write
/// acknowledged before it was sent (and nothing deleted before), and at the end both answer
/// exactly what the database holds. Changes commit in sequence order under an advisory lock;
/// a process that saw change N has seen every change before it.
#[test]
fn two_processes_on_one_postgres_never_answer_from_a_stale_fleet() {
    let store = postgres_db();
    let a = Server::start(&store);
    let b = Server::start(&store);
    let spec = create_spec(
        &a,
        "fallback",
        &read_data("examples/preferred-fallback.yaml"),
    );
    let servers = [&a, &b];
    // What clients were told of each snapshot.
    let acknowledged: Arc<Mutex<BTreeMap<i64, Known>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let checked = thread::scope(|scope| {
        for (w, server) in servers.iter().enumerate() {
            for t in 0..3 {
                let acknowledged = acknowledged.clone();
                let stop = stop.clone();
                scope.spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) && n < 60 {
                        let tag = format!("w{w}-t{t}-{n}");
                        let r = server.upload(
                            &format!("?label=writer=w{w}t{t}"),
                            ADMIN,
                            "application/json",
                            &unique_snapshot(&tag),
                        );
                        r.expect(201);
                        let id = r.json()["snapshots"][0]["id"].as_i64().unwrap();
                        let mut labels =
                            BTreeMap::from([("writer".to_owned(), format!("w{w}t{t}"))]);
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert(id, Known::Live(labels.clone()));
                        if n % 3 == 1 {
                            labels.insert("round".into(), n.to_string());
                            server
                                .json(
                                    "PATCH",
                                    &format!("/api/v1/snapshots/{id}"),
                                    ADMIN,
                                    &json!({"labels": labels}),
                                )
                                .expect(200);
                            acknowledged.lock().unwrap().insert(id, Known::Live(labels));
                        } else if n % 3 == 2 {
                            // Readers must not expect it from here on: the deletion may commit
                            // before its answer arrives.
                            acknowledged.lock().unwrap().insert(id, Known::Deleting);
                            server
                                .delete(&format!("/api/v1/snapshots/{id}"), ADMIN)
                                .expect(204);
                            acknowledged.lock().unwrap().insert(id, Known::Deleted);
                        }
                        n += 1;
                    }
                });
            }
        }
        let readers: Vec<_> = servers
            .iter()
            .map(|server| {
                let acknowledged = acknowledged.clone();
                let stop = stop.clone();
                scope.spawn(move || {
                    let mut checks = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let known = acknowledged.lock().unwrap().clone();
                        let m = evaluate(server, spec, &json!({"limit": 500}));
                        let seen: BTreeMap<i64, &Value> = m["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|i| (i["snapshotId"].as_i64().unwrap(), &i["labels"]))
                            .collect();
                        let now = acknowledged.lock().unwrap().clone();
                        for (id, state) in &known {
                            match (state, &now[id]) {
                                (Known::Live(_), Known::Live(_)) => assert!(
                                    seen.contains_key(id),
                                    "snapshot {id}, acknowledged before the evaluation, is missing"
                                ),
                                (Known::Deleted, _) => {
                                    assert!(!seen.contains_key(id), "snapshot {id} was deleted")
                                }
                                _ => {}
                            }
                        }
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while acknowledged.lock().unwrap().len() < 2 * 3 * 60 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .sum::<usize>()
    });
    assert!(checked > 10, "only {checked} evaluations checked");
    let truth: BTreeMap<i64, BTreeMap<String, String>> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, known)| match known {
            Known::Live(labels) => Some((*id, labels.clone())),
            _ => None,
        })
        .collect();
    for server in servers {
        let m = evaluate(server, spec, &json!({"limit": 500}));
        let got: BTreeMap<i64, BTreeMap<String, String>> = m["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["snapshotId"].as_i64().unwrap(),
                    serde_json::from_value(i["labels"].clone()).unwrap(),
                )
            })
            .collect();
        assert_eq!(got, truth);
    }
}

/// A snapshot as the two-process test's clients know it.
#[derive(Clone, Debug)]
enum Known {
    Live(BTreeMap<String, String>),
    /// Its deletion was sent, not yet answered.
    Deleting,
    Deleted,
}
