//! The server as several processes and through crashes: two `nodefit serve` processes on one
//! PostgreSQL behave as one service, and every upload answered 2xx survives `kill -9`, on
//! SQLite and on a PostgreSQL that syncs (killed too, and recovering from its log).

mod server_support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use server_support::*;

/// Every node name stored, page by page.
fn node_names(server: &Server) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut offset = 0;
    loop {
        let page = server
            .get(
                &format!("/api/v1/snapshots?limit=500&offset={offset}"),
                ADMIN,
            )
            .json();
        let items = page["items"].as_array().unwrap();
        names.extend(
            items
                .iter()
                .map(|i| i["nodeName"].as_str().unwrap().to_owned()),
        );
        offset += items.len();
        if items.is_empty() || offset as i64 >= page["total"].as_i64().unwrap() {
            return names;
        }
    }
}

#[test]
fn two_processes_on_one_postgres_are_one_service() {
    let store = postgres_db();
    // Both start at once on the empty database: the migrations and the first admin token race.
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| Server::start(&store));
        let b = s.spawn(|| Server::start(&store));
        (a.join().unwrap(), b.join().unwrap())
    });
    let admins = a.get("/api/v1/tokens", ADMIN).json()["items"].clone();
    assert_eq!(
        admins.as_array().unwrap().len(),
        1,
        "exactly one first admin token: {admins}"
    );

    // What one writes, the other reads.
    let r = a.upload(
        "?label=pool=gpu",
        ADMIN,
        "application/json",
        &unique_snapshot("first"),
    );
    r.expect(201);
    let first = r.json()["snapshots"][0]["id"].as_i64().unwrap();
    assert_eq!(
        b.get(&format!("/api/v1/snapshots/{first}"), ADMIN).json()["nodeName"],
        "node-first"
    );
    let author = a.token("author");
    assert_eq!(b.get("/api/v1/me", &author).json()["role"], "author");
    let spec = b.json(
        "POST",
        "/api/v1/specs",
        &author,
        &json!({"name": "shared", "content": read_data("examples/preferred-fallback.yaml")}),
    );
    spec.expect(201);
    let spec = spec.json()["id"].as_i64().unwrap();
    a.get(&format!("/api/v1/specs/{spec}"), &author).expect(200);

    // Concurrent uploads through both lose nothing.
    const THREADS_PER_SERVER: usize = 3;
    const UPLOADS_PER_THREAD: usize = 20;
    thread::scope(|s| {
        for (name, server) in [("a", &a), ("b", &b)] {
            for t in 0..THREADS_PER_SERVER {
                s.spawn(move || {
                    for i in 0..UPLOADS_PER_THREAD {
                        let r = server.upload(
                            "?label=pool=load",
                            ADMIN,
                            "application/json",
                            &unique_snapshot(&format!("{name}-{t}-{i}")),
                        );
                        r.expect(201);
                    }
                });
            }
        }
    });
    let expected: BTreeSet<String> = ["a", "b"]
        .iter()
        .flat_map(|name| {
            (0..THREADS_PER_SERVER).flat_map(move |t| {
                (0..UPLOADS_PER_THREAD).map(move |i| format!("node-{name}-{t}-{i}"))
            })
        })
        .chain(["node-first".to_owned()])
        .collect();
    assert_eq!(node_names(&a), expected);
    assert_eq!(node_names(&b), expected);

    // The same features uploaded through both at once are stored once.
    let same = unique_snapshot("same");
    let answers: Vec<Value> = thread::scope(|s| {
        let handles: Vec<_> = [&a, &b, &a, &b]
            .into_iter()
            .map(|server| {
                let same = &same;
                s.spawn(move || server.upload("", ADMIN, "application/json", same).json())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: BTreeSet<i64> = answers
        .iter()
        .map(|r| r["snapshots"][0]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let duplicates = answers
        .iter()
        .filter(|r| !r["duplicates"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(duplicates, 3, "{answers:?}");

    // Concurrent saves of one spec through both number their versions without gaps or losses.
    const SAVES_PER_THREAD: usize = 8;
    let contents = Arc::new(Mutex::new(BTreeSet::new()));
    thread::scope(|s| {
        for (name, server) in [("a", &a), ("b", &b)] {
            for t in 0..2 {
                let contents = contents.clone();
                let author = &author;
                s.spawn(move || {
                    for i in 0..SAVES_PER_THREAD {
                        let content = format!(
                            "{}# save {name}-{t}-{i}\n",
                            read_data("examples/preferred-fallback.yaml")
                        );
                        let r = server.json(
                            "PUT",
                            &format!("/api/v1/specs/{spec}"),
                            author,
                            &json!({"content": content}),
                        );
                        r.expect(200);
                        contents.lock().unwrap().insert(content);
                    }
                });
            }
        }
    });
    let versions = b
        .get(&format!("/api/v1/specs/{spec}/versions"), &author)
        .json()["items"]
        .clone();
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    let total = 1 + 4 * SAVES_PER_THREAD as i64;
    assert_eq!(numbers, (1..=total).rev().collect::<Vec<_>>());
    let mut saved = BTreeSet::new();
    for v in 2..=total {
        saved.insert(
            a.get(&format!("/api/v1/specs/{spec}/versions/{v}"), &author)
                .json()["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(saved, *contents.lock().unwrap());

    // The fleet matrix is the same from either process (each has its own copy of the fleet), and
    // a deletion through one is seen by the other at once.
    let evaluate = |server: &Server| {
        let r = server.json(
            "POST",
            &format!("/api/v1/specs/{spec}/evaluate"),
            &author,
            &json!({"version": 1, "limit": 500}),
        );
        r.expect(200);
        r.json()
    };
    let from_a = evaluate(&a);
    assert_eq!(from_a["total"].as_u64(), Some(expected.len() as u64 + 1));
    assert_eq!(evaluate(&b), from_a);
    a.delete(&format!("/api/v1/snapshots/{first}"), &author)
        .expect(204);
    let after = evaluate(&b);
    assert_eq!(after["total"].as_u64(), Some(expected.len() as u64));
    assert!(after["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["snapshotId"] != first));

    // A token revoked through one process is refused by the other.
    let tokens = b.get("/api/v1/tokens", ADMIN).json()["items"].clone();
    let author_id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "author")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    b.delete(&format!("/api/v1/tokens/{author_id}"), ADMIN)
        .expect(204);
    a.get("/api/v1/me", &author)
        .expect_error(401, "unauthorized");
}

/// Uploaders that send unique snapshots to `addr` until `stop`, recording each node name whose
/// upload was answered 2xx. A request cut off by a killed process was not acknowledged; so is
/// one answered 5xx while the database is down (allowed only where `database_may_die`).
fn start_uploaders(
    addr: std::net::SocketAddr,
    round: u64,
    acknowledged: &Arc<Mutex<BTreeSet<String>>>,
    stop: &Arc<AtomicBool>,
    database_may_die: bool,
) -> Vec<thread::JoinHandle<usize>> {
    const UPLOADERS: usize = 4;
    (0..UPLOADERS)
        .map(|t| {
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let auth = format!("Bearer {ADMIN}");
                let headers = [
                    ("Authorization", auth.as_str()),
                    ("Content-Type", "application/json"),
                ];
                let mut answered = 0;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let tag = format!("{round}-{t}-{i}");
                    let body = unique_snapshot(&tag);
                    match try_http(addr, "POST", "/api/v1/snapshots", &headers, Some(&body)) {
                        Ok(r) if (200..300).contains(&r.status) => {
                            acknowledged.lock().unwrap().insert(format!("node-{tag}"));
                            answered += 1;
                        }
                        Ok(r) if database_may_die && r.status >= 500 => {
                            // Not stored, and said so; a pause keeps the loop from spinning.
                            thread::sleep(Duration::from_millis(20));
                        }
                        Ok(r) => panic!("upload answered {}: {}", r.status, r.text()),
                        // The server died under this request: it was not acknowledged.
                        Err(_) => {}
                    }
                }
                answered
            })
        })
        .collect()
}

fn stop_uploaders(stop: &AtomicBool, uploaders: Vec<thread::JoinHandle<usize>>) -> usize {
    stop.store(true, Ordering::Relaxed);
    uploaders.into_iter().map(|u| u.join().unwrap()).sum()
}

/// Every acknowledged upload is stored (stored but not acknowledged is fine: the answer was on
/// its way), and nothing else is.
#[track_caller]
fn assert_nothing_lost(server: &Server, acknowledged: &Mutex<BTreeSet<String>>, round: u64) {
    let stored = node_names(server);
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "round {round}: {} of {} acknowledged uploads lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(stored.iter().all(|n| n.starts_with("node-")), "{stored:?}");
}

#[test]
fn uploads_answered_2xx_survive_kill_9() {
    let (store, _dir) = sqlite();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    for round in 0..3 {
        let mut server = Server::start(&store);
        let stop = Arc::new(AtomicBool::new(false));
        let uploaders = start_uploaders(server.addr, round, &acknowledged, &stop, false);
        // Let uploads flow, then kill the server in the middle of them.
        thread::sleep(Duration::from_millis(700 + 300 * round));
        server.kill9();
        let answered = stop_uploaders(&stop, uploaders);
        assert!(
            answered > 0,
            "no upload was answered before the kill in round {round}"
        );
        eprintln!("round {round}: {answered} uploads acknowledged before kill -9");
        assert_nothing_lost(&Server::start(&store), &acknowledged, round);
    }
}

/// The same on PostgreSQL, with a cluster that syncs as a production one does: first both
/// the server and PostgreSQL are killed with SIGKILL in the middle of the uploads and
/// PostgreSQL recovers from its write-ahead log; then PostgreSQL alone is killed under a
/// running server, which answers 5xx while it is down (never 2xx) and stores again once it
/// is back, before the server is killed too.
#[test]
fn uploads_answered_2xx_survive_kill_9_of_the_server_and_of_postgres() {
    let mut pg = DurablePostgres::start();
    let store = Store::Postgres(pg.create_database());
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));

    for round in 0..2 {
        let mut server = Server::start(&store);
        let stop = Arc::new(AtomicBool::new(false));
        let uploaders = start_uploaders(server.addr, round, &acknowledged, &stop, false);
        thread::sleep(Duration::from_millis(800 + 400 * round));
        // The server first, so that, as in a crash of the machine, nothing is answered after
        // PostgreSQL has gone.
        server.kill9();
        pg.kill9();
        let answered = stop_uploaders(&stop, uploaders);
        assert!(answered > 0, "no upload was answered in round {round}");
        eprintln!("round {round}: {answered} uploads acknowledged before kill -9 of both");
        pg.restart();
        assert_nothing_lost(&Server::start(&store), &acknowledged, round);
    }

    let round = 2;
    let mut server = Server::start(&store);
    let stop = Arc::new(AtomicBool::new(false));
    let uploaders = start_uploaders(server.addr, round, &acknowledged, &stop, true);
    thread::sleep(Duration::from_millis(800));
    pg.kill9();
    let before_restart = acknowledged.lock().unwrap().len();
    thread::sleep(Duration::from_millis(1500));
    let during_outage = acknowledged.lock().unwrap().len();
    pg.restart();
    let back = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() == during_outage {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the server stores nothing after PostgreSQL is back:\n{}",
            server.logs()
        );
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    server.kill9();
    let answered = stop_uploaders(&stop, uploaders);
    // An upload committed just before the kill may be answered a moment later; none after.
    assert!(
        during_outage - before_restart <= 4,
        "{} uploads acknowledged while PostgreSQL was down",
        during_outage - before_restart
    );
    eprintln!(
        "round {round}: {answered} uploads acknowledged around a kill -9 of PostgreSQL alone"
    );
    assert_nothing_lost(&Server::start(&store), &acknowledged, round);
}
