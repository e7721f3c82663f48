//! Accepting and keeping connections, with budgets: at most `max_connections` open at once, a
//! deadline for every request head (which is also how long a kept-alive connection may sit
//! idle), a bound on the head's size, and a bounded wait for requests in flight at shutdown.
//!
//! axum's own `serve` has none of these (hyper only applies its header timeout when given a
//! timer, which `serve` does not), so connections that send nothing, or half a header, would
//! stay open until the process runs out of descriptors. When the table is full, the connection
//! that has been idle longest (no request in progress: before its first request, between
//! kept-alive requests, or still sending a head) is closed to make room; a new connection is
//! refused only when every open one is busy with a request, which the request timeout bounds.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::metrics::Metrics;

/// Largest request head (request line and headers); hyper answers 431 beyond it.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Connections the kernel completes and queues before `accept` takes them (the kernel clamps it
/// to `net.core.somaxconn`, 4096 by default). tokio's `bind` uses std's 128: a burst of a few
/// hundred connections, such as idle ones opened to exhaust the table, then overflows the queue
/// and every client behind it, health probes included, waits a second for a SYN retransmit.
const LISTEN_BACKLOG: u32 = 4096;
/// Pause after a failed accept (typically no descriptor left) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// Time to send a request head, counted from the end of the previous response (or from the
    /// connection's start): an idle kept-alive connection is closed after it.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// Listens on `addr` with room for bursts of connections ([`LISTEN_BACKLOG`]).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As tokio's own `bind`: a restarted server can listen at once on the port it just left.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// One open connection, as eviction sees it.
struct Connection {
    in_flight: AtomicUsize,
    /// Since when no request has been in progress (meaningful while `in_flight` is 0).
    idle_since: Mutex<Instant>,
    evict: Notify,
}

impl Connection {
    /// No request in progress: the connection may be dropped outright. (hyper's graceful
    /// shutdown would wait for a head that is still arriving, which a slow client never ends.)
    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }
}

#[derive(Default)]
struct Table {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        // Entries are independent; a panic elsewhere cannot leave the map inconsistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            evict: Notify::new(),
        });
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Asks the connection idle longest to close, and takes it out of the table at once so
    /// that its slot is free for the new one. False when every connection is busy.
    fn evict_longest_idle(&self) -> bool {
        let mut open = self.lock();
        let victim = open
            .iter()
            .filter(|(_, c)| c.is_idle())
            .min_by_key(|(_, c)| *c.idle_since.lock().unwrap_or_else(|p| p.into_inner()))
            .map(|(id, _)| *id);
        match victim.and_then(|id| open.remove(&id)) {
            Some(conn) => {
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a connection busy for as long as it lives (one request).
struct Busy(Arc<Connection>);

impl Busy {
    fn new(conn: Arc<Connection>) -> Busy {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish
/// (up to `limits.shutdown_grace`) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let table = Arc::new(Table::default());
    let (closing, _) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            // Finished connection tasks are collected as they end, so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        if table.len() >= limits.max_connections {
            if table.evict_longest_idle() {
                metrics.connections_evicted.inc();
            } else {
                metrics.connections_refused.inc();
                continue;
            }
        }
        // Small answers are written at once: without TCP_NODELAY, Nagle's algorithm and
        // delayed ACKs can hold a keep-alive response back by 40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (id, conn) = table.add();
        let (table, app, mut closing) = (table.clone(), app.clone(), closing.subscribe());
        let open_gauge = metrics.connections_open.clone();
        open_gauge.inc();
        connections.spawn(async move {
            let service = hyper::service::service_fn({
                let conn = conn.clone();
                move |req: hyper::Request<hyper::body::Incoming>| {
                    let busy = Busy::new(conn.clone());
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(req.map(axum::body::Body::new)).await;
                        // Busy until the body has been written out (hyper drops it then).
                        response.map(|r| {
                            r.map(|body| {
                                axum::body::Body::new(body.map_frame(move |frame| {
                                    let _held = &busy;
                                    frame
                                }))
                            })
                        })
                    }
                }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(served);
            let mut asked_to_close = false;
            loop {
                tokio::select! {
                    result = served.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = conn.evict.notified(), if !asked_to_close => {
                        if conn.is_idle() {
                            break;
                        }
                        asked_to_close = true;
                        served.as_mut().graceful_shutdown();
                    }
                    _ = closing.changed(), if !asked_to_close => {
                        if conn.is_idle() {
                            break;
                        }
                        asked_to_close = true;
                        served.as_mut().graceful_shutdown();
                    }
                }
            }
            table.remove(id);
            open_gauge.dec();
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "requests still in flight after the shutdown grace period; closing them"
        );
        connections.abort_all();
    }
}
