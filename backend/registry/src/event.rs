//! What the client reports while it works, for an edge that shows it (`nodefit -v` prints one
//! line per event). The client itself never prints.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Origin;
use crate::setting::Text;
use crate::Error;

/// One thing the client did.
pub enum Event<'a> {
    /// An exchange with the registry ended (redirects and body included).
    Exchange {
        method: &'a str,
        /// Without its query, which may carry upload state.
        url: &'a str,
        outcome: Outcome<'a>,
        took: Duration,
    },
    /// A token was asked for at the registry's token realm.
    Token {
        method: &'a str,
        url: &'a str,
        /// What the token is for: `repository:<name>:<actions>`.
        scope: &'a str,
        outcome: Outcome<'a>,
    },
    /// A request is sent again after `wait`.
    Retry {
        method: &'a str,
        url: &'a str,
        wait: Duration,
    },
    /// Credentials for `registry` were looked up: what kind, and where from (never what they
    /// are).
    Credentials {
        registry: &'a str,
        kind: &'static str,
        origin: &'a Origin,
    },
    /// The registry refused a manifest (`refusal`) because a blob being committed by another
    /// writer read as missing; the blobs are checked and the manifest pushed again.
    ManifestRetry { refusal: &'a Error },
}

/// How an exchange ended.
pub enum Outcome<'a> {
    /// The registry answered with this status.
    Status(u16),
    /// No usable answer came, for this reason (may name hosts).
    Failed(&'a Text),
}

/// Receives the client's [`Event`]s.
pub type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync>;
