//! When to retry a request and how long to wait. Pure, apart from the jitter source.
//!
//! oci-client has no retry policy at all, and a publish that dies on one 503 from a busy
//! registry is not acceptable in CI pipelines, so every request goes through this.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled for each further one.
pub const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two attempts that nodefit chooses itself.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest `Retry-After` honoured; a registry asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether a response status is worth another attempt: the registry is overloaded or broken
/// for a moment. `501` and `505` say the request will never work.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status) && !matches!(status, 501 | 505)
}

/// The wait before attempt `attempt + 1` (`attempt` starting at 1): exponential backoff with
/// jitter (half to all of the nominal delay), or the registry's `Retry-After` when it sent one.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_RETRY_AFTER);
    }
    let nominal = BASE_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    jittered(nominal)
}

/// A duration between half of `nominal` and `nominal`, so that concurrent clients that failed
/// together do not retry together.
pub fn jittered(nominal: Duration) -> Duration {
    let half = nominal / 2;
    let spread = half.as_nanos().max(1) as u64;
    half + Duration::from_nanos(random_u64() % spread)
}

/// A random number from the standard library's per-process random hash keys; enough for jitter,
/// and no extra crate.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}

/// Parses `Retry-After` given in seconds; the HTTP-date form is not used by registries.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 201, 202, 400, 401, 403, 404, 405, 409, 501, 505] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for attempt in 1..=3 {
            let nominal = BASE_BACKOFF * (1 << (attempt - 1));
            for _ in 0..50 {
                let wait = backoff(attempt, None);
                assert!(
                    wait >= nominal / 2 && wait <= nominal,
                    "{attempt}: {wait:?}"
                );
            }
        }
        assert!(backoff(30, None) <= MAX_BACKOFF);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
