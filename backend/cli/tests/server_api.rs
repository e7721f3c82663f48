//! The server's API over real HTTP against `nodefit serve` processes: every endpoint and auth
//! outcome, limits and bad input, on SQLite and on a real PostgreSQL (started by the tests on
//! loopback); then what only concerns one process on SQLite (the UI, operations, the
//! configuration, tokens from the command line, shutdown).

mod server_support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server_support::*;

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
    every_endpoint_answers_each_role_as_documented,
    snapshots_upload_list_get_edit_delete,
    snapshot_uploads_refuse_bad_input,
    specs_keep_versions_and_diff_them,
    lint_and_evaluation_answer_as_the_cli_does,
    evaluation_of_unsaved_text_saves_nothing,
    json_endpoints_refuse_bad_input,
    names_refuse_hidden_characters_and_token_names_are_unique,
    duplicate_token_names_of_an_older_database_are_renamed_on_upgrade,
    publications_of_an_older_database_keep_their_ids_and_are_attached,
);

fn spec_body(name: &str, file: &str) -> Value {
    json!({"name": name, "content": read_data(&format!("examples/{file}"))})
}

fn create_spec(server: &Server, name: &str, file: &str) -> i64 {
    let r = server.json("POST", "/api/v1/specs", ADMIN, &spec_body(name, file));
    r.expect(201);
    r.json()["id"].as_i64().unwrap()
}

fn upload_unique(server: &Server, tag: &str) -> i64 {
    let r = server.upload("", ADMIN, "application/json", &unique_snapshot(tag));
    r.expect(201);
    r.json()["snapshots"][0]["id"].as_i64().unwrap()
}

struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    role: &'static str,
}

fn call(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    role: &'static str,
) -> Call {
    Call {
        method,
        path: path.into(),
        body,
        role,
    }
}

fn send(server: &Server, c: &Call, token: Option<&str>) -> Response {
    match (&c.body, c.path.as_str()) {
        (Some(_), "/api/v1/snapshots") => server.request(
            c.method,
            &c.path,
            token,
            Some((
                "application/json",
                &unique_snapshot(&format!("auth-{}", token.unwrap_or("-"))),
            )),
        ),
        (Some(b), _) => {
            let bytes = serde_json::to_vec(b).unwrap();
            server.request(c.method, &c.path, token, Some(("application/json", &bytes)))
        }
        (None, _) => server.request(c.method, &c.path, token, None),
    }
}

fn every_endpoint_answers_each_role_as_documented(store: &Store) {
    let server = Server::start(store);
    let tokens: Vec<(&str, String)> = ["viewer", "author", "publisher"]
        .into_iter()
        .map(|role| (role, server.token(role)))
        .chain([("admin", ADMIN.to_owned())])
        .collect();
    let token = |role: &str| tokens.iter().find(|(r, _)| *r == role).unwrap().1.clone();
    let below = |role: &str| match role {
        "author" => Some("viewer"),
        "publisher" => Some("author"),
        "admin" => Some("publisher"),
        _ => None,
    };
    let snapshot = upload_unique(&server, "auth-kept");
    let doomed_snapshot = upload_unique(&server, "auth-deleted");
    let spec = create_spec(&server, "auth-kept", "preferred-fallback.yaml");
    let doomed_spec = create_spec(&server, "auth-deleted", "preferred-fallback.yaml");
    let doomed_token = server
        .json(
            "POST",
            "/api/v1/tokens",
            ADMIN,
            &json!({"name": "x", "role": "viewer"}),
        )
        .json()["id"]
        .as_i64()
        .unwrap();
    let content = read_data("examples/image-compatibility.yaml");
    let rules = read_data("nodefeaturerules/nodefeaturerule-storage.yaml");
    let rule_file = |name: &str| {
        server
            .json(
                "POST",
                "/api/v1/nodefeaturerules",
                ADMIN,
                &json!({"name": name, "content": rules}),
            )
            .json()["id"]
            .as_i64()
            .unwrap()
    };
    let (rule, doomed_rule) = (rule_file("auth-kept"), rule_file("auth-deleted"));
    // Deleting calls come last: the others use what they would delete.
    let calls = [
        call("GET", "/api/v1/me", None, "viewer"),
        call("GET", "/api/v1/snapshots", None, "viewer"),
        call("POST", "/api/v1/snapshots", Some(json!("upload")), "author"),
        call(
            "GET",
            format!("/api/v1/snapshots/{snapshot}"),
            None,
            "viewer",
        ),
        call(
            "PATCH",
            format!("/api/v1/snapshots/{snapshot}"),
            Some(json!({"labels": {"pool": "a"}})),
            "author",
        ),
        call("GET", "/api/v1/specs", None, "viewer"),
        call(
            "POST",
            "/api/v1/specs",
            Some(json!({"name": "auth-new", "content": content})),
            "author",
        ),
        call("GET", format!("/api/v1/specs/{spec}"), None, "viewer"),
        call(
            "PUT",
            format!("/api/v1/specs/{spec}"),
            Some(json!({"content": content})),
            "author",
        ),
        call(
            "GET",
            format!("/api/v1/specs/{spec}/versions"),
            None,
            "viewer",
        ),
        call(
            "GET",
            format!("/api/v1/specs/{spec}/versions/1"),
            None,
            "viewer",
        ),
        call("GET", format!("/api/v1/specs/{spec}/diff"), None, "viewer"),
        call(
            "POST",
            format!("/api/v1/specs/{spec}/lint"),
            Some(json!({})),
            "viewer",
        ),
        call(
            "POST",
            format!("/api/v1/specs/{spec}/evaluate"),
            Some(json!({})),
            "viewer",
        ),
        call("GET", "/api/v1/nodefeaturerules", None, "viewer"),
        call(
            "POST",
            "/api/v1/nodefeaturerules",
            Some(json!({"name": "auth-new", "content": rules})),
            "author",
        ),
        call(
            "GET",
            format!("/api/v1/nodefeaturerules/{rule}"),
            None,
            "viewer",
        ),
        call(
            "PUT",
            format!("/api/v1/nodefeaturerules/{rule}"),
            Some(json!({"content": rules})),
            "author",
        ),
        call(
            "POST",
            format!("/api/v1/nodefeaturerules/{rule}/lint"),
            Some(json!({})),
            "viewer",
        ),
        call(
            "POST",
            format!("/api/v1/nodefeaturerules/{rule}/labels"),
            Some(json!({})),
            "viewer",
        ),
        call("GET", "/api/v1/registries", None, "viewer"),
        call("GET", "/api/v1/publications", None, "viewer"),
        call("GET", "/api/v1/tokens", None, "admin"),
        call(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "n", "role": "viewer"})),
            "admin",
        ),
        call(
            "DELETE",
            format!("/api/v1/tokens/{doomed_token}"),
            None,
            "admin",
        ),
        call(
            "DELETE",
            format!("/api/v1/snapshots/{doomed_snapshot}"),
            None,
            "author",
        ),
        call(
            "DELETE",
            format!("/api/v1/specs/{doomed_spec}"),
            None,
            "author",
        ),
        call(
            "DELETE",
            format!("/api/v1/nodefeaturerules/{doomed_rule}"),
            None,
            "author",
        ),
    ];
    for c in &calls {
        let what = format!("{} {}", c.method, c.path);
        let r = send(&server, c, None);
        r.expect_error(401, "unauthorized");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"nodefit\""),
            "{what}"
        );
        send(&server, c, Some("nft_not-a-real-token")).expect_error(401, "unauthorized");
        if let Some(lower) = below(c.role) {
            let e = send(&server, c, Some(&token(lower))).expect_error(403, "forbidden");
            assert!(
                e["message"].as_str().unwrap().contains(c.role),
                "{what}: {e}"
            );
        }
    }
    // A header that is not `Bearer <token>`.
    let basic = http(
        server.addr,
        "GET",
        "/api/v1/me",
        &[("Authorization", "Basic YWRtaW46YWRtaW4=")],
        None,
    );
    basic.expect_error(401, "unauthorized");
    for c in &calls {
        let r = send(&server, c, Some(&token(c.role)));
        assert!(
            (200..300).contains(&r.status),
            "{} {} as {}: {} {}",
            c.method,
            c.path,
            c.role,
            r.status,
            r.text()
        );
    }
    // Roles include the ones before them.
    let r = send(&server, &calls[2], Some(&token("publisher")));
    assert_eq!(r.status, 201, "{}", r.text());
    for (role, t) in &tokens {
        let me = server.get("/api/v1/me", t).json();
        assert_eq!(me["role"], *role);
        let permissions: Vec<&str> = me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let expected: &[&str] = match *role {
            "viewer" => &["read"],
            "author" => &["read", "write"],
            "publisher" => &["read", "write", "publish"],
            _ => &["read", "write", "publish", "admin"],
        };
        assert_eq!(permissions, expected);
    }
    // A revoked token stops working at once.
    let list = server.get("/api/v1/tokens", ADMIN).json()["items"].clone();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("token").is_none() && t.get("tokenHash").is_none()));
    let viewer_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "viewer")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    server
        .delete(&format!("/api/v1/tokens/{viewer_id}"), ADMIN)
        .expect(204);
    server
        .get("/api/v1/me", &token("viewer"))
        .expect_error(401, "unauthorized");
    server
        .delete(&format!("/api/v1/tokens/{viewer_id}"), ADMIN)
        .expect_error(404, "not_found");
    // Outside the API, and the API's own description, no token is needed.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/",
    ] {
        server.request("GET", path, None, None).expect(200);
    }
    assert!(!server.logs().contains(ADMIN), "a token reached the logs");
}

fn snapshots_upload_list_get_edit_delete(store: &Store) {
    let server = Server::start(store);
    let upload = |file: &str, query: &str, content_type: &str| {
        server.upload(
            query,
            ADMIN,
            content_type,
            read_data(&format!("samples/{file}")).as_bytes(),
        )
    };
    let r = upload(
        "intel-spr-h100-cx6.features.json",
        "?label=pool=gpu&label=cloud=aws",
        "application/json",
    );
    r.expect(201);
    let intel = r.json()["snapshots"][0].clone();
    assert_eq!(intel["format"], "nfdFeatures");
    assert_eq!(
        intel["nodeName"], "gpu-node-01",
        "from the system.name feature"
    );
    assert_eq!(intel["labels"], json!({"pool": "gpu", "cloud": "aws"}));
    assert_eq!(intel["createdBy"], "admin");
    assert!(intel["contentHash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(intel["featureCount"].as_i64().unwrap() > 10);
    let r = upload(
        "amd-genoa-mi210-rhel9.features.json",
        "?label=pool=gpu&label=cloud=gcp&node=amd-1",
        "application/json",
    );
    r.expect(201);
    assert_eq!(r.json()["snapshots"][0]["nodeName"], "amd-1");
    upload(
        "arm64-graviton3-al2023.features.json",
        "?label=pool=arm&label=os=al2023",
        "application/json",
    )
    .expect(201);
    let r = upload(
        "nodefeature-gpu-node-01.yaml",
        "?label=pool=gpu",
        "application/yaml; charset=utf-8",
    );
    r.expect(201);
    let nf = r.json()["snapshots"][0].clone();
    assert_eq!(nf["format"], "nodeFeature");
    assert_eq!(
        nf["labels"],
        json!({"pool": "gpu"}),
        "the node-name label is the node name, not a label"
    );

    // The same features again are a duplicate: nothing new, the existing snapshot named.
    let r = upload(
        "intel-spr-h100-cx6.features.json",
        "?label=pool=other",
        "application/json",
    );
    r.expect(200);
    assert_eq!(r.json()["duplicates"], json!([intel["id"]]));
    assert_eq!(
        r.json()["snapshots"][0]["labels"],
        intel["labels"],
        "a duplicate changes nothing"
    );

    // A NodeFeatureList becomes one snapshot per node, in one transaction.
    let items: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let mut features: Value = serde_json::from_slice(&unique_snapshot(&format!("list-{n}"))).unwrap();
            features["attributes"].as_object_mut().unwrap().remove("system.name");
            json!({"kind": "NodeFeature", "metadata": {"name": format!("list-{n}"), "labels": {"team": "x"}}, "spec": {"features": features}})
        })
        .collect();
    let list = json!({"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeatureList", "items": items});
    let r = server.upload(
        "?label=pool=list",
        ADMIN,
        "application/json",
        list.to_string().as_bytes(),
    );
    r.expect(201);
    let stored = r.json()["snapshots"].as_array().unwrap().clone();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1]["nodeName"], "list-b");
    assert_eq!(stored[1]["format"], "nodeFeatureList");
    assert_eq!(stored[1]["labels"], json!({"pool": "list", "team": "x"}));
    server
        .upload(
            "?node=x",
            ADMIN,
            "application/json",
            list.to_string().as_bytes(),
        )
        .expect_error(400, "bad_request");

    // Lists: filters combine, pages add up.
    let names = |query: &str| -> Vec<String> {
        let r = server.get(&format!("/api/v1/snapshots{query}"), ADMIN);
        r.expect(200);
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["nodeName"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(server.get("/api/v1/snapshots", ADMIN).json()["total"], 7);
    assert_eq!(names("?label=pool=gpu").len(), 3);
    assert_eq!(names("?label=pool=gpu&label=cloud=gcp"), ["amd-1"]);
    assert_eq!(names("?node=list-c"), ["list-c"]);
    assert_eq!(
        names("?q=LIST-"),
        ["list-c", "list-b", "list-a"],
        "newest first, case-insensitive"
    );
    assert_eq!(names("?q=al2023").len(), 1, "text in label values");
    assert_eq!(names("?q=100%25").len(), 0, "LIKE characters are literal");
    let page = server
        .get("/api/v1/snapshots?limit=2&offset=2", ADMIN)
        .json();
    assert_eq!(
        (
            page["total"].as_i64(),
            page["limit"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(7), Some(2), Some(2))
    );
    let mut seen = BTreeSet::new();
    for offset in (0..7).step_by(3) {
        for item in server
            .get(&format!("/api/v1/snapshots?limit=3&offset={offset}"), ADMIN)
            .json()["items"]
            .as_array()
            .unwrap()
        {
            assert!(seen.insert(item["id"].as_i64().unwrap()));
        }
    }
    assert_eq!(seen.len(), 7);

    // Get: the features are the `nfd export features` JSON of what was uploaded.
    let id = intel["id"].as_i64().unwrap();
    let got = server.get(&format!("/api/v1/snapshots/{id}"), ADMIN);
    got.expect(200);
    let parsed =
        nodefit_core::snapshot::parse(&read_data("samples/intel-spr-h100-cx6.features.json"))
            .unwrap();
    assert_eq!(
        got.json()["features"],
        serde_json::to_value(&parsed.nodes[0].features).unwrap()
    );
    assert_eq!(got.json()["nodeName"], "gpu-node-01");

    // Labels are replaced as a whole.
    let r = server.json(
        "PATCH",
        &format!("/api/v1/snapshots/{id}"),
        ADMIN,
        &json!({"labels": {"pool": "cpu", "zone": "b"}}),
    );
    r.expect(200);
    assert_eq!(r.json()["labels"], json!({"pool": "cpu", "zone": "b"}));
    assert_eq!(names("?label=pool=gpu").len(), 2);
    assert_eq!(names("?label=zone=b").len(), 1);
    server
        .json(
            "PATCH",
            &format!("/api/v1/snapshots/{id}"),
            ADMIN,
            &json!({"labels": {"bad key": "x"}}),
        )
        .expect_error(400, "bad_request");
    server
        .json(
            "PATCH",
            "/api/v1/snapshots/999999",
            ADMIN,
            &json!({"labels": {}}),
        )
        .expect_error(404, "not_found");

    server
        .delete(&format!("/api/v1/snapshots/{id}"), ADMIN)
        .expect(204);
    server
        .get(&format!("/api/v1/snapshots/{id}"), ADMIN)
        .expect_error(404, "not_found");
    server
        .delete(&format!("/api/v1/snapshots/{id}"), ADMIN)
        .expect_error(404, "not_found");
    assert_eq!(names("?label=zone=b").len(), 0, "its labels went with it");
    // Uploads have their own limit (5 MiB by default), above the other bodies' 2 MiB.
    let mut big = unique_snapshot("three-mib");
    big.resize(3 * 1024 * 1024, b' ');
    server
        .upload("", ADMIN, "application/json", &big)
        .expect(201);
    // Deleted features can be uploaded again, under a new id.
    let r = upload("intel-spr-h100-cx6.features.json", "", "application/json");
    r.expect(201);
    assert_ne!(r.json()["snapshots"][0]["id"].as_i64(), Some(id));
}

fn snapshot_uploads_refuse_bad_input(store: &Store) {
    let server = Server::start_with(
        store,
        Options {
            args: vec!["--max-upload-bytes", "1048576"],
            ..Default::default()
        },
    );
    let bad = |content_type: &str, body: &[u8]| server.upload("", ADMIN, content_type, body);

    // Parse errors name the line and column.
    let e = bad(
        "application/yaml",
        b"kind: NodeFeature\nspec:\n  features:\n    flags: [\n",
    )
    .expect_error(400, "parse_error");
    assert!(e["message"].as_str().unwrap().starts_with("line "), "{e}");
    assert!(e["details"]["line"].as_u64().unwrap() >= 4, "{e}");
    let e = bad(
        "application/json",
        b"{\n  \"flags\": {\n    \"cpu.cpuid\": {\"elements\": [1, 2]}\n  }\n}",
    )
    .expect_error(400, "parse_error");
    assert_eq!(e["details"]["line"], 3, "{e}");
    let e = bad("application/json", br#"{"kind": "Pod"}"#).expect_error(400, "parse_error");
    assert!(e["message"].as_str().unwrap().contains("Pod"), "{e}");
    bad("application/json", b"").expect_error(400, "parse_error");
    bad("application/json", &[0xff, 0xfe, 0x00]).expect_error(400, "parse_error");
    bad("application/yaml", b"kind: NodeFeatureList\nitems: []\n").expect_error(400, "parse_error");

    // An alias bomb is refused quickly, without the memory it asks for.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    bomb.push_str("kind: NodeFeature\nspec: {features: {flags: {x: {elements: *i}}}}\n");
    let started = Instant::now();
    bad("application/yaml", bomb.as_bytes()).expect_error(400, "parse_error");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "alias bomb took {:?}",
        started.elapsed()
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    bad("application/yaml", deep.as_bytes()).expect_error(400, "parse_error");

    // Content types: JSON and YAML only.
    for ct in [
        "text/html",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
    ] {
        bad(ct, b"{}").expect_error(415, "unsupported_media_type");
    }
    server
        .request("POST", "/api/v1/snapshots", Some(ADMIN), None)
        .expect_error(415, "unsupported_media_type");

    // Over the limit: refused from the declared length, before the body is sent...
    let huge = 100 * 1024 * 1024;
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /api/v1/snapshots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {huge}\r\n\r\n"
    )
    .unwrap();
    let error = read_response(&mut s).expect_error(413, "payload_too_large");
    // The limit in the units people read, and in bytes for clients to work with.
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("larger than 1 MiB"),
        "{error}"
    );
    assert_eq!(error["details"]["limitBytes"], 1024 * 1024);
    // ...and while reading when the length is not declared (chunked), 100 MB on the way.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /api/v1/snapshots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let mut reader = s.try_clone().unwrap();
    let answer = std::thread::spawn(move || {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        raw
    });
    let chunk = vec![b' '; 1024 * 1024];
    let mut sent = 0;
    for _ in 0..100 {
        if write!(s, "{:x}\r\n", chunk.len())
            .and_then(|_| s.write_all(&chunk))
            .and_then(|_| s.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let _ = s.shutdown(std::net::Shutdown::Write);
    parse_response(&answer.join().unwrap()).expect_error(413, "payload_too_large");
    assert!(
        sent < 100,
        "the server read all 100 MB instead of stopping at the limit"
    );
    // Just under the limit is fine (padding is JSON whitespace).
    let mut body = unique_snapshot("at-limit");
    body.resize(1024 * 1024, b' ');
    bad("application/json", &body).expect(201);
    body.push(b' ');
    bad("application/json", &body).expect_error(413, "payload_too_large");

    // Label and node name checks.
    let ok = unique_snapshot("labels");
    server
        .upload("?label=novalue", ADMIN, "application/json", &ok)
        .expect_error(400, "bad_request");
    server
        .upload("?label==v", ADMIN, "application/json", &ok)
        .expect_error(400, "bad_request");
    server
        .upload("?colour=red", ADMIN, "application/json", &ok)
        .expect_error(400, "bad_request");
    server
        .upload("?node=a%00b", ADMIN, "application/json", &ok)
        .expect_error(400, "bad_request");
    let many: String = (0..65).map(|i| format!("&label=k{i}=v")).collect();
    server
        .upload(&format!("?{}", &many[1..]), ADMIN, "application/json", &ok)
        .expect_error(400, "bad_request");
    let nul_name =
        br#"{"kind": "NodeFeature", "metadata": {"name": "a\u0000b"}, "spec": {"features": {}}}"#;
    server
        .upload("", ADMIN, "application/json", nul_name)
        .expect_error(400, "bad_request");

    // Nothing of that stored anything, and the server is fine.
    assert_eq!(server.get("/api/v1/snapshots", ADMIN).json()["total"], 1);
    server.request("GET", "/readyz", None, None).expect(200);
}

fn specs_keep_versions_and_diff_them(store: &Store) {
    let server = Server::start(store);
    let author = server.token("author");
    let v1 = read_data("examples/preferred-fallback.yaml");
    let r = server.json(
        "POST",
        "/api/v1/specs",
        &author,
        &json!({"name": "gpu-nodes", "content": v1, "message": "first"}),
    );
    r.expect(201);
    let spec = r.json();
    let id = spec["id"].as_i64().unwrap();
    assert_eq!(
        (spec["version"].as_i64(), spec["createdBy"].as_str()),
        (Some(1), Some("author-user"))
    );
    assert_eq!(spec["content"], v1.as_str());
    server
        .json(
            "POST",
            "/api/v1/specs",
            &author,
            &json!({"name": "gpu-nodes", "content": "x"}),
        )
        .expect_error(409, "conflict");
    create_spec(&server, "arm-nodes", "image-compatibility.yaml");

    // Saves: a new version when the content changes, none when it does not.
    let v2 = v1.replace("weight: 10", "weight: 20");
    let r = server.json(
        "PUT",
        &format!("/api/v1/specs/{id}"),
        &author,
        &json!({"content": v2, "message": "heavier"}),
    );
    r.expect(200);
    assert_eq!(r.json()["version"], 2);
    let r = server.json(
        "PUT",
        &format!("/api/v1/specs/{id}"),
        &author,
        &json!({"content": v2}),
    );
    assert_eq!(
        r.json()["version"],
        2,
        "identical content creates no version"
    );
    // A save based on an old version is refused rather than overwriting.
    let e = server
        .json(
            "PUT",
            &format!("/api/v1/specs/{id}"),
            &author,
            &json!({"content": "v3", "baseVersion": 1}),
        )
        .expect_error(409, "conflict");
    assert_eq!(e["details"]["latestVersion"], 2);
    let v3 = format!("{v2}# a comment\n");
    let r = server.json(
        "PUT",
        &format!("/api/v1/specs/{id}"),
        &author,
        &json!({"content": v3, "baseVersion": 2, "name": "gpu"}),
    );
    r.expect(200);
    assert_eq!(
        (r.json()["version"].as_i64(), r.json()["name"].as_str()),
        (Some(3), Some("gpu"))
    );
    server
        .json(
            "PUT",
            &format!("/api/v1/specs/{id}"),
            &author,
            &json!({"content": v3, "name": "arm-nodes"}),
        )
        .expect_error(409, "conflict");
    assert_eq!(
        server.get(&format!("/api/v1/specs/{id}"), &author).json()["name"],
        "gpu",
        "a refused rename changes nothing"
    );
    server
        .json(
            "PUT",
            "/api/v1/specs/999999",
            &author,
            &json!({"content": "x"}),
        )
        .expect_error(404, "not_found");

    let got = server.get(&format!("/api/v1/specs/{id}"), &author);
    got.expect(200);
    assert_eq!(
        (
            got.json()["version"].as_i64(),
            got.json()["content"].as_str()
        ),
        (Some(3), Some(v3.as_str()))
    );
    let list = server.get("/api/v1/specs", &author).json();
    assert_eq!(list["total"], 2);
    assert!(
        list["items"][0].get("content").is_none(),
        "lists leave content out"
    );
    assert_eq!(list["items"][0]["name"], "arm-nodes", "by name");
    assert_eq!(
        server.get("/api/v1/specs?q=GP", &author).json()["items"][0]["id"],
        id
    );

    let versions = server
        .get(&format!("/api/v1/specs/{id}/versions"), &author)
        .json()["items"]
        .clone();
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1], "newest first");
    assert_eq!(versions[1]["message"], "heavier");
    assert_eq!(versions[2]["message"], "first");
    assert!(versions[0].get("content").is_none());
    let old = server
        .get(&format!("/api/v1/specs/{id}/versions/1"), &author)
        .json();
    assert_eq!(old["content"], v1.as_str());
    server
        .get(&format!("/api/v1/specs/{id}/versions/9"), &author)
        .expect_error(404, "not_found");

    let diff = server
        .get(&format!("/api/v1/specs/{id}/diff?from=1&to=2"), &author)
        .json();
    let unified = diff["unified"].as_str().unwrap();
    assert!(unified.starts_with("--- gpu@v1\n+++ gpu@v2\n"), "{unified}");
    assert!(
        unified.contains("-  weight: 10\n+  weight: 20\n"),
        "{unified}"
    );
    let hunk = &diff["hunks"][0];
    let kinds: Vec<&str> = hunk["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"removed") && kinds.contains(&"added") && kinds.contains(&"context"));
    assert_eq!(hunk["oldStart"], 1);
    let default = server
        .get(&format!("/api/v1/specs/{id}/diff"), &author)
        .json();
    assert_eq!(
        (default["from"].as_i64(), default["to"].as_i64()),
        (Some(2), Some(3))
    );
    assert!(default["unified"]
        .as_str()
        .unwrap()
        .contains("+# a comment"));
    server
        .get(&format!("/api/v1/specs/{id}/diff?from=7"), &author)
        .expect_error(404, "not_found");
    server
        .get(&format!("/api/v1/specs/{id}/diff?to=x"), &author)
        .expect_error(400, "bad_request");

    server
        .delete(&format!("/api/v1/specs/{id}"), &author)
        .expect(204);
    server
        .get(&format!("/api/v1/specs/{id}"), &author)
        .expect_error(404, "not_found");
    server
        .get(&format!("/api/v1/specs/{id}/versions"), &author)
        .expect_error(404, "not_found");
    server
        .delete(&format!("/api/v1/specs/{id}"), &author)
        .expect_error(404, "not_found");
    // The name is free again.
    create_spec(&server, "gpu", "preferred-fallback.yaml");
}

/// `nodefit` run as a process: its exit code and standard output.
fn cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn without_file(mut diagnostics: Value) -> Value {
    for d in diagnostics.as_array_mut().unwrap() {
        d.as_object_mut().unwrap().remove("file");
    }
    diagnostics
}

fn lint_and_evaluation_answer_as_the_cli_does(store: &Store) {
    let server = Server::start(store);
    let samples = [
        ("intel-spr-h100-cx6.features.json", "pool=gpu"),
        ("amd-genoa-mi210-rhel9.features.json", "pool=gpu"),
        ("arm64-graviton3-al2023.features.json", "pool=arm"),
        ("nodefeature-gpu-node-01.yaml", "pool=edge"),
    ];
    let ids: Vec<i64> = samples
        .iter()
        .map(|(file, label)| {
            let content_type = if file.ends_with(".yaml") {
                "application/yaml"
            } else {
                "application/json"
            };
            let r = server.upload(
                &format!("?label={label}"),
                ADMIN,
                content_type,
                read_data(&format!("samples/{file}")).as_bytes(),
            );
            r.expect(201);
            r.json()["snapshots"][0]["id"].as_i64().unwrap()
        })
        .collect();
    let viewer = server.token("viewer");

    for example in ["preferred-fallback.yaml", "image-compatibility.yaml"] {
        let spec = create_spec(&server, example, example);
        let path = data(&format!("examples/{example}"));
        let path = path.to_str().unwrap();

        // Lint: the CLI's JSON, without and with a snapshot.
        let r = server.json(
            "POST",
            &format!("/api/v1/specs/{spec}/lint"),
            &viewer,
            &json!({}),
        );
        r.expect(200);
        let (_, out) = cli(&["lint", "--format", "json", path]);
        let expected: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            without_file(r.json()["diagnostics"].clone()),
            without_file(expected["diagnostics"].clone()),
            "{example}"
        );
        assert!(r.json()["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["file"] == example));
        let nf = data("samples/nodefeature-gpu-node-01.yaml");
        let r = server.json(
            "POST",
            &format!("/api/v1/specs/{spec}/lint"),
            &viewer,
            &json!({"snapshotIds": [ids[3]]}),
        );
        let (_, out) = cli(&["lint", "--format", "json", "-s", nf.to_str().unwrap(), path]);
        let expected: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            without_file(r.json()["diagnostics"].clone()),
            without_file(expected["diagnostics"].clone()),
            "{example} with a snapshot"
        );

        // One snapshot: the item carries NFD's report, as `nodefit test --output json` prints it.
        for (i, (file, _)) in samples.iter().enumerate() {
            let r = server.json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                &viewer,
                &json!({"snapshotIds": [ids[i]]}),
            );
            r.expect(200);
            let m = r.json();
            let (code, out) = cli(&[
                "test",
                path,
                "-s",
                data(&format!("samples/{file}")).to_str().unwrap(),
                "--output",
                "json",
            ]);
            let report: Value = serde_json::from_str(&out).unwrap();
            let item = &m["items"][0];
            assert_eq!(item["report"], report, "{example} on {file}");
            assert_eq!(item["compatible"], code == 0, "{example} on {file}");
            let best = report
                .as_array()
                .unwrap()
                .iter()
                .position(|s| s["best"] == true);
            assert_eq!(item["bestSet"].as_u64().map(|b| b as usize), best);
            assert_eq!(m["total"], 1);
        }

        // The fleet: every snapshot, with per-set counts and failing rules.
        let m = server
            .json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                &viewer,
                &json!({}),
            )
            .json();
        assert_eq!(m["total"], 4);
        assert_eq!(m["specVersion"], 1);
        let items = m["items"].as_array().unwrap();
        assert!(items.iter().all(|i| i.get("report").is_none()));
        let compatible = items.iter().filter(|i| i["compatible"] == true).count();
        assert_eq!(m["compatible"].as_u64(), Some(compatible as u64));
        for set in m["sets"].as_array().unwrap() {
            let matched = items
                .iter()
                .filter(|i| {
                    i["sets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| s["index"] == set["index"] && s["isMatch"] == true)
                })
                .count();
            assert_eq!(set["matched"].as_u64(), Some(matched as u64));
        }
        for item in items {
            for s in item["sets"].as_array().unwrap() {
                assert_eq!(
                    s["isMatch"] == true,
                    s["failingRules"].as_array().unwrap().is_empty(),
                    "{item}"
                );
            }
        }
        // Selections: ids, labels, tags, pages.
        let m = server
            .json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                &viewer,
                &json!({"labels": {"pool": "gpu"}}),
            )
            .json();
        let got: Vec<i64> = m["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["snapshotId"].as_i64().unwrap())
            .collect();
        assert_eq!(got, &ids[..2]);
        let m = server
            .json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                &viewer,
                &json!({"snapshotIds": [ids[0], ids[2]], "limit": 1, "offset": 1}),
            )
            .json();
        assert_eq!(
            (m["total"].as_u64(), m["items"].as_array().unwrap().len()),
            (Some(2), 1)
        );
        assert_eq!(m["items"][0]["snapshotId"], ids[2]);
        server
            .json(
                "POST",
                &format!("/api/v1/specs/{spec}/evaluate"),
                &viewer,
                &json!({"snapshotIds": [ids[0], 999999]}),
            )
            .expect_error(404, "not_found");
    }
    let spec = create_spec(&server, "tags", "preferred-fallback.yaml");
    let m = server
        .json(
            "POST",
            &format!("/api/v1/specs/{spec}/evaluate"),
            &viewer,
            &json!({"tags": ["fallback"]}),
        )
        .json();
    assert_eq!(m["sets"].as_array().unwrap().len(), 1);
    assert_eq!(m["sets"][0]["tag"], "fallback");
    assert_eq!(m["items"][0]["sets"][0]["index"], 1);

    // A spec NFD refuses: 422 with every error and its line; one NFD aborts on: the item says why.
    let refused = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: Intel}\n";
    let r = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": "refused", "content": refused}),
    );
    r.expect(201);
    let refused_id = r.json()["id"].as_i64().unwrap();
    let e = server
        .json(
            "POST",
            &format!("/api/v1/specs/{refused_id}/evaluate"),
            &viewer,
            &json!({}),
        )
        .expect_error(422, "invalid_spec");
    assert_eq!(e["details"]["errors"][0]["line"], 8, "{e}");
    let lint = server
        .json(
            "POST",
            &format!("/api/v1/specs/{refused_id}/lint"),
            &viewer,
            &json!({}),
        )
        .json();
    assert!(
        lint["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "wrong-type" && d["line"] == 8),
        "{lint}"
    );
    let aborts = "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: family\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        family: {op: Gt, value: [\"abc\"]}\n";
    let r = server.json(
        "POST",
        "/api/v1/specs",
        ADMIN,
        &json!({"name": "aborts", "content": aborts}),
    );
    let aborts_id = r.json()["id"].as_i64().unwrap();
    let m = server
        .json(
            "POST",
            &format!("/api/v1/specs/{aborts_id}/evaluate"),
            &viewer,
            &json!({"snapshotIds": [ids[0]]}),
        )
        .json();
    let error = m["items"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("line 8, column ") && error.contains("not a number \"abc\""),
        "{error}"
    );
    assert_eq!(
        (m["items"][0]["compatible"].as_bool(), m["errors"].as_u64()),
        (Some(false), Some(1))
    );
    // Old versions are evaluated as they were.
    let v1 = server.json(
        "PUT",
        &format!("/api/v1/specs/{spec}"),
        ADMIN,
        &json!({"content": refused}),
    );
    v1.expect(200);
    server
        .json(
            "POST",
            &format!("/api/v1/specs/{spec}/evaluate"),
            &viewer,
            &json!({"version": 1}),
        )
        .expect(200);
    server
        .json(
            "POST",
            &format!("/api/v1/specs/{spec}/evaluate"),
            &viewer,
            &json!({"version": 2}),
        )
        .expect_error(422, "invalid_spec");
    server
        .json(
            "POST",
            &format!("/api/v1/specs/{spec}/evaluate"),
            &viewer,
            &json!({"version": 3}),
        )
        .expect_error(404, "not_found");
}

/// `content` evaluates an editor's unsaved text as the spec it belongs to: the answer is that
/// text's, pinned to no version, and no version is created.
fn evaluation_of_unsaved_text_saves_nothing(store: &Store) {
    let server = Server::start(store);
    let viewer = server.token("viewer");
    let spec = create_spec(&server, "fallback", "preferred-fallback.yaml");
    let intel = server.upload(
        "",
        ADMIN,
        "application/json",
        read_data("samples/intel-spr-h100-cx6.features.json").as_bytes(),
    );
    intel.expect(201);
    let path = format!("/api/v1/specs/{spec}/evaluate");
    let saved = server.json("POST", &path, &viewer, &json!({})).json();
    assert_eq!(saved["specVersion"], 1);
    assert_eq!(saved["compatible"], 1);
    // The same spec with a vendor no node has: nothing is compatible any more.
    let edited =
        read_data("examples/preferred-fallback.yaml").replace("\"Intel\", \"AMD\"", "\"Acme\"");
    let r = server.json("POST", &path, &viewer, &json!({"content": edited}));
    r.expect(200);
    let m = r.json();
    assert_eq!(
        (m["specVersion"].as_i64(), m["compatible"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(m["total"], 1);
    // Another unsaved text is answered for itself, not from the first one's cached matrix
    // (both are version 0), and the first one's answer is still its own.
    let other =
        read_data("examples/preferred-fallback.yaml").replace("\"Intel\", \"AMD\"", "\"Intel\"");
    let r = server.json("POST", &path, &viewer, &json!({"content": other}));
    r.expect(200);
    assert_eq!(r.json()["compatible"], 1);
    let again = server.json("POST", &path, &viewer, &json!({"content": edited}));
    assert_eq!(again.json()["compatible"], 0);
    // Nothing was saved.
    let versions = server
        .get(&format!("/api/v1/specs/{spec}/versions"), ADMIN)
        .json();
    assert_eq!(versions["total"], 1);
    // Text NFD cannot decode is refused as a stored version would be; content and version
    // together, and content larger than a spec may be, are refused.
    server
        .json(
            "POST",
            &path,
            &viewer,
            &json!({"content": "compatibilities: 3\n"}),
        )
        .expect_error(422, "invalid_spec");
    server
        .json(
            "POST",
            &path,
            &viewer,
            &json!({"content": edited, "version": 1}),
        )
        .expect_error(400, "bad_request");
    server
        .json(
            "POST",
            &path,
            &viewer,
            &json!({"content": "#".repeat(1024 * 1024 + 1)}),
        )
        .expect_error(413, "payload_too_large");
    server
        .json(
            "POST",
            "/api/v1/specs/999999/evaluate",
            &viewer,
            &json!({"content": edited}),
        )
        .expect_error(404, "not_found");
}

fn json_endpoints_refuse_bad_input(store: &Store) {
    let server = Server::start(store);
    let spec = create_spec(&server, "s", "preferred-fallback.yaml");
    let post = |path: &str, content_type: &str, body: &[u8]| {
        server.request("POST", path, Some(ADMIN), Some((content_type, body)))
    };
    post("/api/v1/specs", "application/json", b"{\"name\": ").expect_error(400, "bad_request");
    post("/api/v1/specs", "application/json", b"[1, 2]").expect_error(400, "bad_request");
    post("/api/v1/specs", "text/yaml", b"name: x\ncontent: y\n")
        .expect_error(415, "unsupported_media_type");
    server
        .request("POST", "/api/v1/specs", Some(ADMIN), None)
        .expect_error(415, "unsupported_media_type");
    post(
        "/api/v1/specs",
        "application/json",
        br#"{"name": "x", "content": "y", "colour": 1}"#,
    )
    .expect_error(400, "bad_request");
    post(
        "/api/v1/specs",
        "application/json",
        br#"{"name": "", "content": "y"}"#,
    )
    .expect_error(400, "bad_request");
    post(
        "/api/v1/specs",
        "application/json",
        br#"{"name": "x\u0000", "content": "y"}"#,
    )
    .expect_error(400, "bad_request");
    post(
        "/api/v1/specs",
        "application/json",
        br#"{"name": "x", "content": "a\u0000b"}"#,
    )
    .expect_error(400, "bad_request");
    let big = json!({"name": "big", "content": "#".repeat(1024 * 1024 + 1)});
    let error = server
        .json("POST", "/api/v1/specs", ADMIN, &big)
        .expect_error(413, "payload_too_large");
    assert_eq!(
        (error["message"].as_str(), &error["details"]["limitBytes"]),
        (Some("the spec is larger than 1 MiB"), &json!(1024 * 1024))
    );
    let huge = json!({"name": "huge", "content": "#".repeat(3 * 1024 * 1024)});
    server
        .json("POST", "/api/v1/specs", ADMIN, &huge)
        .expect_error(413, "payload_too_large");
    post(
        &format!("/api/v1/specs/{spec}/evaluate"),
        "application/json",
        br#"{"limit": 0}"#,
    )
    .expect_error(400, "bad_request");
    post(
        &format!("/api/v1/specs/{spec}/evaluate"),
        "application/json",
        br#"{"limit": 501}"#,
    )
    .expect_error(400, "bad_request");
    post(
        &format!("/api/v1/specs/{spec}/evaluate"),
        "application/json",
        br#"{"offset": -1}"#,
    )
    .expect_error(400, "bad_request");
    post(
        &format!("/api/v1/specs/{spec}/evaluate"),
        "application/json",
        br#"{"snapshotIds": "all"}"#,
    )
    .expect_error(400, "bad_request");
    post(
        "/api/v1/tokens",
        "application/json",
        br#"{"name": "t", "role": "root"}"#,
    )
    .expect_error(400, "bad_request");
    server
        .get("/api/v1/specs/abc", ADMIN)
        .expect_error(400, "bad_request");
    server
        .get("/api/v1/snapshots/1.5", ADMIN)
        .expect_error(400, "bad_request");
    server
        .get("/api/v1/snapshots?limit=abc", ADMIN)
        .expect_error(400, "bad_request");
    server
        .get("/api/v1/snapshots?limit=100000", ADMIN)
        .expect_error(400, "bad_request");
    server
        .get("/api/v1/specs?sort=name", ADMIN)
        .expect_error(400, "bad_request");
    server
        .get("/api/v1/nothing", ADMIN)
        .expect_error(404, "not_found");
    server
        .request("GET", "/api/v2/specs", None, None)
        .expect_error(404, "not_found");
    server
        .request("PATCH", "/api/v1/specs", Some(ADMIN), None)
        .expect_error(405, "method_not_allowed");
    server
        .get("/api/v1/specs/999999", ADMIN)
        .expect_error(404, "not_found");
    server.request("GET", "/readyz", None, None).expect(200);
}

// ---- SQLite only: one process's concerns ----

#[test]
fn ui_is_served_with_cache_headers_and_spa_fallback() {
    let (store, _dir) = sqlite();
    // Without a build, `/` explains how to make one (not an error).
    let server = Server::start(&store);
    let r = server.request("GET", "/", None, None);
    r.expect(200);
    assert!(r.text().contains("cargo xtask build-ui"), "{}", r.text());
    drop(server);

    let ui = TempDir::new("server-ui");
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>nodefit</title>",
    )
    .unwrap();
    let wasm = vec![0u8; 64 * 1024];
    std::fs::write(ui.path().join("nodefit-1dbeaecffd63946a_bg.wasm"), &wasm).unwrap();
    std::fs::write(
        ui.path().join("app-0123abcd.js"),
        "console.log('nodefit');\n".repeat(100),
    )
    .unwrap();
    std::fs::write(ui.path().join("robots.txt"), "User-agent: *\n").unwrap();
    let ui_dir = ui.path().to_str().unwrap();
    let server = Server::start_with(
        &store,
        Options {
            args: vec!["--ui-dir", ui_dir],
            ..Default::default()
        },
    );
    let get = |path: &str| server.request("GET", path, None, None);
    for path in ["/", "/index.html", "/specs/12", "/snapshots"] {
        let r = get(path);
        r.expect(200);
        assert!(r.text().contains("<title>nodefit</title>"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }
    let r = get("/app-0123abcd.js");
    r.expect(200);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let r = get("/nodefit-1dbeaecffd63946a_bg.wasm");
    assert_eq!((r.status, r.body.len()), (200, wasm.len()));
    assert_eq!(r.header("content-type"), Some("application/wasm"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(get("/robots.txt").header("cache-control"), Some("no-cache"));
    get("/missing-0123abcd.js").expect(404);
    assert!(!get("/../../etc/passwd").text().contains("root:"));
    // Compression when the browser accepts it.
    let r = http(
        server.addr,
        "GET",
        "/app-0123abcd.js",
        &[("Accept-Encoding", "gzip")],
        None,
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, "console.log('nodefit');\n".repeat(100));
    let r = http(
        server.addr,
        "GET",
        "/api/v1/openapi.json",
        &[("Accept-Encoding", "gzip")],
        None,
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[test]
fn operations_endpoints_and_the_openapi_document() {
    let (store, _dir) = sqlite();
    let server = Server::start(&store);
    let get = |path: &str| server.request("GET", path, None, None);
    assert_eq!(get("/healthz").json(), json!({"status": "ok"}));
    assert_eq!(get("/readyz").json(), json!({"status": "ready"}));
    server.get("/api/v1/snapshots", ADMIN).expect(200);
    let metrics = get("/metrics");
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text();
    assert!(
        text.contains(
            r#"nodefit_http_requests_total{method="GET",route="/api/v1/snapshots",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("nodefit_http_request_duration_seconds_bucket"));

    // Request ids: generated, or the caller's, echoed and logged.
    let r = get("/healthz");
    assert_eq!(r.header("x-request-id").map(str::len), Some(36));
    let r = http(
        server.addr,
        "GET",
        "/healthz",
        &[("X-Request-Id", "trace-me-42")],
        None,
    );
    assert_eq!(r.header("x-request-id"), Some("trace-me-42"));
    thread_sleep_ms(100);
    assert!(
        server.logs().contains("id=trace-me-42"),
        "{}",
        server.logs()
    );

    // JSON logs for collectors carry the same fields.
    let json_logs = Server::start_with(
        &store,
        Options {
            args: vec!["--log-format", "json"],
            ..Default::default()
        },
    );
    http(
        json_logs.addr,
        "GET",
        "/healthz",
        &[("X-Request-Id", "json-trace-7")],
        None,
    )
    .expect(200);
    thread_sleep_ms(100);
    let logs = json_logs.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("json-trace-7"))
        .unwrap_or_else(|| panic!("{logs}"));
    let event: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (event["span"]["id"].as_str(), event["status"].as_u64()),
        (Some("json-trace-7"), Some(200)),
        "{event}"
    );
    drop(json_logs);

    let doc = get("/api/v1/openapi.json").json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    for expected in [
        "GET /api/v1/me",
        "POST /api/v1/tokens",
        "GET /api/v1/tokens",
        "DELETE /api/v1/tokens/{id}",
        "POST /api/v1/snapshots",
        "GET /api/v1/snapshots",
        "GET /api/v1/snapshots/{id}",
        "PATCH /api/v1/snapshots/{id}",
        "DELETE /api/v1/snapshots/{id}",
        "POST /api/v1/specs",
        "GET /api/v1/specs",
        "GET /api/v1/specs/{id}",
        "PUT /api/v1/specs/{id}",
        "DELETE /api/v1/specs/{id}",
        "GET /api/v1/specs/{id}/versions",
        "GET /api/v1/specs/{id}/versions/{version}",
        "GET /api/v1/specs/{id}/diff",
        "POST /api/v1/specs/{id}/lint",
        "POST /api/v1/specs/{id}/evaluate",
        "GET /api/v1/registries",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ] {
        assert!(
            paths.contains(expected),
            "{expected} missing from {paths:?}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["FleetMatrix"].is_object());
}

fn thread_sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn registries_are_named_but_never_revealed() {
    let (store, _dir) = sqlite();
    let conf = TempDir::new("server-config");
    std::fs::write(conf.path().join("prod.password"), "file-secret-pw\n").unwrap();
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    std::fs::write(conf.path().join("ca.pem"), ca).unwrap();
    let config = conf.path().join("nodefit.toml");
    std::fs::write(
        &config,
        r#"
[registries.prod]
host = "registry.internal.example:5000"
username = "ci-bot"
password_file = "prod.password"
ca_file = "ca.pem"

[registries.staging]
host = "staging-registry.internal.example"
username = "inline-user"
password = "inline-secret-pw"

[registries.local]
host = "127.0.0.1:5999"
plain_http = true
"#,
    )
    .unwrap();
    let server = Server::start_with(
        &store,
        Options {
            args: vec!["--config", config.to_str().unwrap()],
            env: vec![("NODEFIT_REGISTRY_LOCAL_TOKEN", "env-secret-token")],
            ..Default::default()
        },
    );
    let viewer = server.token("viewer");
    let r = server.get("/api/v1/registries", &viewer);
    r.expect(200);
    assert_eq!(
        r.json(),
        json!({"items": [{"name": "local"}, {"name": "prod"}, {"name": "staging"}], "total": 3, "limit": 3, "offset": 0})
    );
    let mut everything = r.text();
    for path in ["/api/v1/openapi.json", "/metrics", "/api/v1/me", "/healthz"] {
        everything.push_str(&server.request("GET", path, Some(ADMIN), None).text());
    }
    everything.push_str(&server.logs());
    for secret in [
        "file-secret-pw",
        "inline-secret-pw",
        "env-secret-token",
        "registry.internal.example",
        "ci-bot",
        "inline-user",
        "127.0.0.1:5999",
    ] {
        assert!(!everything.contains(secret), "{secret} was revealed");
    }

    // A configuration mistake stops the server at start, naming it.
    for (text, expected) in [
        (
            "[registries.x]\nhost = \"https://r.example\"\n",
            "without a scheme",
        ),
        (
            "[registries.x]\nhost = \"r\"\nusername = \"u\"\n",
            "without a password",
        ),
        (
            "[registries.x]\nhost = \"r\"\npasword = \"typo\"\n",
            "unknown field",
        ),
        ("[signing]\nkey_file = \"/nonexistent.key\"\n", "key_file"),
    ] {
        std::fs::write(&config, text).unwrap();
        let logs = Server::try_start(
            &store,
            Options {
                args: vec!["--config", config.to_str().unwrap()],
                ..Default::default()
            },
        )
        .err()
        .unwrap_or_else(|| panic!("started with {text}"));
        assert!(logs.contains(expected), "{text}: {logs}");
        assert!(
            !logs.contains("typo"),
            "a value from the file was echoed: {logs}"
        );
    }
}

#[test]
fn first_start_creates_one_admin_token_and_the_cli_manages_tokens() {
    let (store, _dir) = sqlite();
    let Store::Sqlite(data_dir) = &store else {
        unreachable!()
    };
    let data_dir = data_dir.to_str().unwrap();
    let mut server = Server::start_with(
        &store,
        Options {
            no_admin_token: true,
            ..Default::default()
        },
    );
    let logs = server.logs();
    let token = logs
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("nft_"))
        .unwrap_or_else(|| panic!("no admin token printed:\n{logs}"))
        .to_owned();
    assert_eq!(server.get("/api/v1/me", &token).json()["role"], "admin");
    assert_eq!(server.terminate(Duration::from_secs(10)).code(), Some(0));
    // Not again on the next start, even with NODEFIT_ADMIN_TOKEN set.
    let server = Server::start(&store);
    assert!(!server.logs().contains("nft_"), "{}", server.logs());
    server
        .get("/api/v1/me", ADMIN)
        .expect_error(401, "unauthorized");
    assert_eq!(server.get("/api/v1/me", &token).json()["role"], "admin");

    // `nodefit token` works on the same database while the server runs.
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args([
            "token",
            "create",
            "--role",
            "publisher",
            "--name",
            "ci",
            "--data-dir",
            data_dir,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ci = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(ci.starts_with("nft_"), "{ci}");
    let me = server.get("/api/v1/me", &ci).json();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("ci"), Some("publisher"))
    );
    // Names are unique, and free of characters that would let one pass for another.
    for (name, says) in [
        ("ci", "a token named \"ci\" exists"),
        ("c\u{202E}i", "U+202E"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
            .args([
                "token",
                "create",
                "--role",
                "viewer",
                "--name",
                name,
                "--data-dir",
                data_dir,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says) && out.stdout.is_empty(), "{stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(["token", "list", "--data-dir", data_dir])
        .output()
        .unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("publisher") && listing.contains(" ci") && !listing.contains("nft_"),
        "{listing}"
    );
    let id = listing
        .lines()
        .find(|l| l.ends_with(" ci"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(["token", "revoke", &id, "--data-dir", data_dir])
        .output()
        .unwrap();
    assert!(out.status.success());
    server
        .get("/api/v1/me", &ci)
        .expect_error(401, "unauthorized");
    let out = Command::new(env!("CARGO_BIN_EXE_nodefit"))
        .args(["token", "revoke", &id, "--data-dir", data_dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A weak NODEFIT_ADMIN_TOKEN is refused on a new database.
    let (fresh, _fresh_dir) = sqlite();
    let logs = Server::try_start(
        &fresh,
        Options {
            no_admin_token: true,
            env: vec![("NODEFIT_ADMIN_TOKEN", "short")],
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(
        logs.contains("NODEFIT_ADMIN_TOKEN must be at least 16 characters"),
        "{logs}"
    );
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_cleanly() {
    let (store, _dir) = sqlite();
    let mut server = Server::start(&store);
    // A slow upload in flight: headers sent, body trickling in.
    let body = unique_snapshot("sigterm");
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /api/v1/snapshots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..100]).unwrap();
    thread_sleep_ms(200);
    assert!(sigterm(server.pid()));
    thread_sleep_ms(200);
    s.write_all(&body[100..]).unwrap();
    read_response(&mut s).expect(201);
    assert_eq!(server.terminate(Duration::from_secs(10)).code(), Some(0));
    assert!(server.logs().contains("SIGTERM"), "{}", server.logs());
    // What it answered is there after a restart.
    let server = Server::start(&store);
    assert_eq!(server.get("/api/v1/snapshots", ADMIN).json()["total"], 1);
}

/// Names and labels holding a character that hides or reorders text (here a right-to-left
/// override, a zero-width space, an isolate, a byte-order mark) could pass for another name:
/// each is a 400 that names the field. Spec content may hold them, since NFD reads them, and
/// lint warns about them. Token names are unique, since records name their author by them.
fn names_refuse_hidden_characters_and_token_names_are_unique(store: &Store) {
    let server = Server::start(store);
    let refused = |r: Response, field: &str| {
        let error = r.expect_error(400, "bad_request");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(field), "names {field}: {message}");
        assert!(
            !message
                .chars()
                .any(|c| ('\u{200B}'..='\u{206F}').contains(&c) || c == '\u{FEFF}'),
            "the message itself shows no hidden character: {message:?}"
        );
    };

    let token = |name: &str, role: &str| {
        server.json(
            "POST",
            "/api/v1/tokens",
            ADMIN,
            &json!({"name": name, "role": role}),
        )
    };
    token("ci", "publisher").expect(201);
    let taken = token("ci", "viewer").expect_error(409, "conflict");
    assert!(
        taken["message"].as_str().unwrap().contains("\"ci\""),
        "{taken}"
    );
    token("admin", "viewer").expect_error(409, "conflict");
    token("ci ", "viewer").expect_error(400, "bad_request");
    refused(token("c\u{202E}i", "viewer"), "the token name");
    refused(token("ci\u{200B}", "viewer"), "the token name");
    let names: Vec<Value> = server.get("/api/v1/tokens", ADMIN).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("admin"), json!("ci")]);

    let spec = |name: &str, content: &str| {
        server.json(
            "POST",
            "/api/v1/specs",
            ADMIN,
            &json!({"name": name, "content": content}),
        )
    };
    let content = read_data("examples/preferred-fallback.yaml");
    refused(spec("gpu\u{2066}", &content), "the spec name");
    let created = spec("gpu", &content);
    created.expect(201);
    let id = created.json()["id"].as_i64().unwrap();
    refused(
        server.json(
            "PUT",
            &format!("/api/v1/specs/{id}"),
            ADMIN,
            &json!({"name": "gp\u{FEFF}u", "content": content}),
        ),
        "the spec name",
    );
    // Content: stored as written, with a lint warning at the character.
    let hidden = content.replacen("version: v1alpha1", "version: v1alpha1 # \u{202E}", 1);
    assert_ne!(hidden, content);
    server
        .json(
            "PUT",
            &format!("/api/v1/specs/{id}"),
            ADMIN,
            &json!({"content": hidden}),
        )
        .expect(200);
    let lint = server.json(
        "POST",
        &format!("/api/v1/specs/{id}/lint"),
        ADMIN,
        &json!({}),
    );
    lint.expect(200);
    let diagnostics = lint.json()["diagnostics"].clone();
    let warned: Vec<&Value> = diagnostics
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "hidden-character")
        .collect();
    assert_eq!(warned.len(), 1, "{}", lint.text());
    assert_eq!(warned[0]["severity"], "warning");

    // Labels and node names, from the query, the NodeFeature and an edit.
    let snapshot = unique_snapshot("hidden");
    let upload = |query: &str| server.upload(query, ADMIN, "application/json", &snapshot);
    refused(upload("?label=pool=gpu%E2%80%8B"), "label \"pool\"'s value");
    refused(upload("?label=po%E2%80%AEol=gpu"), "label key");
    refused(upload("?node=node%E2%81%A6a"), "the node name");
    let node_feature = format!(
        "apiVersion: nfd.k8s-sigs.io/v1alpha1\nkind: NodeFeature\nmetadata:\n  name: \"worker\u{200D}1\"\nspec:\n  features: {}\n",
        serde_json::from_slice::<Value>(&snapshot).unwrap()
    );
    refused(
        server.upload("", ADMIN, "application/yaml", node_feature.as_bytes()),
        "the node name",
    );
    let stored = upload("?label=pool=gpu");
    stored.expect(201);
    let snapshot_id = stored.json()["snapshots"][0]["id"].as_i64().unwrap();
    refused(
        server.json(
            "PATCH",
            &format!("/api/v1/snapshots/{snapshot_id}"),
            ADMIN,
            &json!({"labels": {"pool": "gpu\u{2069}"}}),
        ),
        "label \"pool\"'s value",
    );
}

/// Runs SQL on the server's database with the database's own client.
fn sql(store: &Store, statements: &str) {
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
}

/// A database from before token names were unique, holding three tokens called "ci": on the
/// next start the oldest keeps its name, the others are renamed after their ids, and all of
/// them still work.
fn duplicate_token_names_of_an_older_database_are_renamed_on_upgrade(store: &Store) {
    let server = Server::start(store);
    drop(server);
    let tokens: Vec<String> = (0..3)
        .map(|i| format!("nft_duplicate_name_token_{i}"))
        .collect();
    let hash = |t: &str| {
        nodefit_e2e::testbed::sha256_digest(t.as_bytes())
            .trim_start_matches("sha256:")
            .to_owned()
    };
    let mut statements =
        String::from("DROP INDEX tokens_name; DELETE FROM _sqlx_migrations WHERE version = 3;");
    for (i, t) in tokens.iter().enumerate() {
        statements.push_str(&format!(
            " INSERT INTO tokens (name, role, token_hash, created_at, created_by) \
             VALUES ('ci', '{}', '{}', {i}, 'test');",
            ["viewer", "author", "publisher"][i],
            hash(t)
        ));
    }
    sql(store, &statements);

    let server = Server::start(store);
    let listed = server.get("/api/v1/tokens", ADMIN).json()["items"].clone();
    let ci: Vec<(i64, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("ci"))
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ci.len(), 3, "{listed}");
    assert_eq!(ci[0].1, "ci", "the oldest keeps its name: {listed}");
    for (id, name) in &ci[1..] {
        assert_eq!(*name, format!("ci (token {id})"));
    }
    let me: Vec<String> = tokens
        .iter()
        .map(|t| {
            server.get("/api/v1/me", t).json()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(me, ci.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>());
    server
        .json(
            "POST",
            "/api/v1/tokens",
            ADMIN,
            &json!({"name": "ci", "role": "viewer"}),
        )
        .expect_error(409, "conflict");
}

/// A database from before detaches were recorded: its publications keep their ids and count as
/// attached.
fn publications_of_an_older_database_keep_their_ids_and_are_attached(store: &Store) {
    let server = Server::start(store);
    drop(server);
    let old_schema = match store {
        Store::Sqlite(_) => {
            "DROP TABLE publications; CREATE TABLE publications (id INTEGER PRIMARY KEY \
             AUTOINCREMENT, spec_id BIGINT NOT NULL, version BIGINT NOT NULL, registry TEXT NOT \
             NULL, image TEXT NOT NULL, image_digest TEXT NOT NULL, artifact_digest TEXT NOT \
             NULL, signature_digest TEXT, created_at BIGINT NOT NULL, created_by TEXT NOT NULL, \
             UNIQUE (spec_id, version, registry, image_digest)); \
             CREATE INDEX publications_spec ON publications (spec_id, created_at);"
        }
        Store::Postgres(_) => {
            "DROP INDEX publications_attached; DROP INDEX publications_artifact; \
             ALTER TABLE publications DROP COLUMN detached_at, DROP COLUMN detached_by, \
             ADD CONSTRAINT publications_spec_id_version_registry_image_digest_key \
             UNIQUE (spec_id, version, registry, image_digest);"
        }
    };
    let mut statements = format!("{old_schema} DELETE FROM _sqlx_migrations WHERE version = 4;");
    for id in [7, 9] {
        statements.push_str(&format!(
            " INSERT INTO publications (id, spec_id, version, registry, image, image_digest, \
             artifact_digest, created_at, created_by) VALUES ({id}, 1, {id}, 'lab', 'demo/app:v1', \
             'sha256:{id:064}', 'sha256:{:064}', {id}, 'old');",
            id + 100
        ));
    }
    if let Store::Sqlite(_) = store {
        statements.push_str(" UPDATE sqlite_sequence SET seq = 9 WHERE name = 'publications';");
    }
    sql(store, &statements);

    let server = Server::start(store);
    let listed = server.get("/api/v1/publications", ADMIN).json();
    let items = listed["items"].as_array().unwrap();
    let ids: Vec<i64> = items.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [9, 7], "{listed}");
    assert!(
        items.iter().all(|p| p.get("detachedAt").is_none()),
        "{listed}"
    );
    assert_eq!(items[0]["createdBy"], "old");
}
