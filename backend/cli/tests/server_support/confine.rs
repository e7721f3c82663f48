//! What an attack test needs around a server: the process confined as issue 12 asks (4 GiB of
//! address space, 1,024 file descriptors), a watcher that keeps asking `/healthz` and records
//! the slowest answer, and the process's peak memory and CPU time read from `/proc`.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Options, Server, Store};

/// Address space a confined server may map: an allocation beyond it fails (and Rust aborts),
/// which is exactly what an attack must not be able to cause.
pub const ADDRESS_SPACE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// File descriptors a confined server may hold.
pub const MAX_FILES: u64 = 1024;
/// Peak resident memory a confined server must stay under while attacked.
pub const MAX_PEAK_RSS_BYTES: u64 = 1024 * 1024 * 1024;

impl Server {
    /// `nodefit serve` under the attack tests' limits, applied by `prlimit` to the process
    /// itself (util-linux, in every Debian install).
    pub fn start_confined(store: &Store, mut options: Options) -> Server {
        options.wrapper = Some(vec![
            "prlimit".into(),
            format!("--as={ADDRESS_SPACE_BYTES}"),
            format!("--nofile={MAX_FILES}"),
            "--".into(),
        ]);
        Server::start_with(store, options)
    }

    /// The most memory the process has had resident (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// CPU time the process has used so far (user + system).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("the server's /proc/PID/stat");
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command name.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 1000 / clock_ticks_per_second())
    }

    /// Asserts that the process burns (almost) no CPU over `window`: work for an answered or
    /// abandoned request has stopped.
    #[track_caller]
    pub fn assert_idle(&self, window: Duration) {
        let before = self.cpu_time();
        thread::sleep(window);
        let used = self.cpu_time() - before;
        assert!(
            used < window / 10,
            "the server used {used:?} of CPU in {window:?} after the answer: work is still running\n{}",
            self.logs()
        );
    }

    /// Asserts the confined server stayed under [`MAX_PEAK_RSS_BYTES`].
    #[track_caller]
    pub fn assert_peak_rss_bounded(&self) {
        let peak = self.peak_rss();
        assert!(
            peak < MAX_PEAK_RSS_BYTES,
            "peak RSS {} MiB (limit {} MiB)",
            peak >> 20,
            MAX_PEAK_RSS_BYTES >> 20
        );
    }

    /// Starts asking `/healthz` continuously, one connection per probe.
    pub fn watch_health(&self) -> HealthWatch {
        HealthWatch::start(self.addr)
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn clock_ticks_per_second() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf CLK_TCK");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100)
}

/// Probes `/healthz` every 50 ms from its own thread until stopped.
pub struct HealthWatch {
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<HealthRecord>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// What the probes saw.
#[derive(Clone, Debug, Default)]
pub struct HealthRecord {
    pub probes: usize,
    pub slowest: Duration,
    /// Probes that got no `200 ok` (refused, cut off, timed out, other status), with why.
    pub failures: Vec<String>,
}

/// How long one probe may wait before it counts as unanswered.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl HealthWatch {
    fn start(addr: SocketAddr) -> HealthWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(HealthRecord::default()));
        let thread = {
            let (stop, record) = (stop.clone(), record.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let outcome = probe(addr);
                    let took = started.elapsed();
                    let mut r = record.lock().unwrap();
                    r.probes += 1;
                    r.slowest = r.slowest.max(took);
                    if let Err(why) = outcome {
                        r.failures.push(format!("after {took:?}: {why}"));
                    }
                    drop(r);
                    thread::sleep(Duration::from_millis(50));
                }
            })
        };
        HealthWatch {
            stop,
            record,
            thread: Some(thread),
        }
    }

    /// Stops probing; what was seen.
    pub fn stop(mut self) -> HealthRecord {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.record.lock().unwrap().clone()
    }

    /// Stops probing and asserts every probe was answered within `within`.
    #[track_caller]
    pub fn assert_answered_within(self, within: Duration) -> HealthRecord {
        let record = self.stop();
        assert!(record.probes > 0, "no /healthz probe ran");
        assert!(
            record.failures.is_empty(),
            "/healthz went unanswered: {:?}",
            record.failures
        );
        assert!(
            record.slowest < within,
            "/healthz took {:?} (limit {within:?}) over {} probes",
            record.slowest,
            record.probes
        );
        record
    }
}

impl Drop for HealthWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn probe(addr: SocketAddr) -> Result<(), String> {
    use std::io::{Read, Write};
    // Short timeouts, so that a full accept queue or a stalled server shows as a failure.
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("incomplete answer ({} bytes)", raw.len()));
    }
    let answer = super::parse_response(&raw);
    if answer.status == 200 {
        Ok(())
    } else {
        Err(format!("status {}", answer.status))
    }
}
