//! The API's HTTP server: the node's own accept loop in place of
//! `axum::serve`, so that no load on the API can take what consensus needs.
//!
//! - Connections: at most `api_connections_max` are served at once, and
//!   never more than the open-files limit leaves after a reserve for the
//!   ledger, the write-ahead log and peers. One more is not accepted: it
//!   waits in the kernel's listen backlog, costing the node no descriptor,
//!   until a connection closes.
//! - Time: each connection is closed when its request's headers or body
//!   come too slowly, it idles between requests, or its client stops
//!   reading its answer (`connection`); an answer being read is under no
//!   timeout, so an event stream lives as long as its client reads it.

mod connection;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use clap::builder::RangedU64ValueParser;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use self::connection::{serve_connection, Timeouts};

/// Many more than a Participant's node has clients (`kp`, an authority's
/// systems, up to 256 event streams), and with the reserve below well
/// within the usual soft open-files limit of 1,024.
pub const CONNECTIONS_MAX_DEFAULT: usize = 512;
/// Headers are a few hundred bytes: ten seconds is plenty over any link,
/// and a connection that sends none gives its place up soon.
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// A body is at most about 33 KiB (the hex of the largest transaction).
pub const BODY_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Long enough for a client's next request to reuse its connection, short
/// enough that idle connections do not sit on the cap.
pub const IDLE_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// A client that reads nothing of its answer for this long has stopped
/// (a live client drains its socket's buffers in far less), and its
/// connection goes back to the cap.
pub const WRITE_STALL_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Descriptors kept from API connections for everything else the node
/// opens: the ledger's database, the engine's write-ahead log, consensus
/// and gossip connections to peers (two swarms, a few connections to each
/// of up to some sixty Participants), the runtime's event loop and the
/// standard streams.
pub const DESCRIPTORS_RESERVED: u64 = 256;

/// Connections waiting their turn beyond the cap: the kernel keeps up to
/// this many (or `net.core.somaxconn`, if lower), at no cost in descriptors.
const LISTEN_BACKLOG: u32 = 4096;
/// After a failed accept that is not the client's doing (out of
/// descriptors, say), the connection stays in the backlog: try again after
/// this rather than spin.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Once the node stops, how long connections may take to finish what they
/// are sending before they are cut.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// A warning repeated under load is said once in this interval at most.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The API's limits, as `node.json` holds them (each key optional) and
/// `docs/api.md` documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiLimits {
    /// Connections served at once, at most.
    #[serde(rename = "api_connections_max")]
    pub connections_max: usize,
    #[serde(rename = "api_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    #[serde(rename = "api_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    #[serde(rename = "api_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    #[serde(rename = "api_write_stall_timeout_ms")]
    pub write_stall_timeout_ms: u64,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            body_read_timeout_ms: BODY_READ_TIMEOUT_MS_DEFAULT,
            idle_timeout_ms: IDLE_TIMEOUT_MS_DEFAULT,
            write_stall_timeout_ms: WRITE_STALL_TIMEOUT_MS_DEFAULT,
        }
    }
}

impl ApiLimits {
    fn check(&self) -> Result<(), ServerError> {
        let limits = [
            ("api_connections_max", self.connections_max as u64),
            ("api_header_read_timeout_ms", self.header_read_timeout_ms),
            ("api_body_read_timeout_ms", self.body_read_timeout_ms),
            ("api_idle_timeout_ms", self.idle_timeout_ms),
            ("api_write_stall_timeout_ms", self.write_stall_timeout_ms),
        ];
        match limits.into_iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(ServerError::ZeroLimit(name)),
            None => Ok(()),
        }
    }
}

/// The API's limits on the command line of `kpnode dev` and `run`, each
/// over `node.json`'s (or the default).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApiLimitArgs {
    #[arg(
        long = "api-connections-max",
        value_name = "N",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
        help = format!(
            "API connections served at once; more wait to be accepted \
             [default: {CONNECTIONS_MAX_DEFAULT}, or fewer if the open-files limit is low]"
        )
    )]
    pub connections_max: Option<usize>,
    #[arg(
        long = "api-header-read-timeout-ms",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..),
        help = format!(
            "Longest wait for a request's headers [default: {HEADER_READ_TIMEOUT_MS_DEFAULT}]"
        )
    )]
    pub header_read_timeout_ms: Option<u64>,
    #[arg(
        long = "api-body-read-timeout-ms",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..),
        help = format!(
            "Longest wait for a request's body after its headers [default: {BODY_READ_TIMEOUT_MS_DEFAULT}]"
        )
    )]
    pub body_read_timeout_ms: Option<u64>,
    #[arg(
        long = "api-idle-timeout-ms",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..),
        help = format!(
            "How long a kept-alive connection may wait for its next request [default: {IDLE_TIMEOUT_MS_DEFAULT}]"
        )
    )]
    pub idle_timeout_ms: Option<u64>,
    #[arg(
        long = "api-write-stall-timeout-ms",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..),
        help = format!(
            "How long a client may read nothing of an answer before its connection is closed [default: {WRITE_STALL_TIMEOUT_MS_DEFAULT}]"
        )
    )]
    pub write_stall_timeout_ms: Option<u64>,
}

impl ApiLimitArgs {
    /// `base` with what these flags set.
    pub fn over(&self, base: ApiLimits) -> ApiLimits {
        ApiLimits {
            connections_max: self.connections_max.unwrap_or(base.connections_max),
            header_read_timeout_ms: self
                .header_read_timeout_ms
                .unwrap_or(base.header_read_timeout_ms),
            body_read_timeout_ms: self
                .body_read_timeout_ms
                .unwrap_or(base.body_read_timeout_ms),
            idle_timeout_ms: self.idle_timeout_ms.unwrap_or(base.idle_timeout_ms),
            write_stall_timeout_ms: self
                .write_stall_timeout_ms
                .unwrap_or(base.write_stall_timeout_ms),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr} (is another node using it? try --api): {reason}")]
    Listen { addr: SocketAddr, reason: io::Error },
    #[error("the API's limit {0} must be at least 1 (in node.json, or its flag)")]
    ZeroLimit(&'static str),
    #[error(
        "the open-files limit ({soft}) leaves no descriptors for API connections once \
         {DESCRIPTORS_RESERVED} are kept for the ledger, the write-ahead log and peers; \
         raise it (ulimit -n) above {DESCRIPTORS_RESERVED}"
    )]
    OpenFilesLimit { soft: u64 },
}

impl ServerError {
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::Listen { .. } => "api_listen",
            ServerError::ZeroLimit(_) => "api_limits",
            ServerError::OpenFilesLimit { .. } => "open_files_limit",
        }
    }
}

/// The API's listening socket, bound, with the limits it serves under.
pub struct Server {
    listener: TcpListener,
    timeouts: Timeouts,
    /// The connection cap in force: the configured one, or fewer if the
    /// open-files limit leaves less room.
    connections_max: usize,
}

impl Server {
    /// Checks `limits`, raises the open-files limit as far as it goes,
    /// works out the connection cap (and says it) and binds `addr`. Called
    /// before anything else starts, so that a taken address or an
    /// impossible limit stops the node at once.
    pub fn bind(addr: SocketAddr, limits: ApiLimits) -> Result<Server, ServerError> {
        limits.check()?;
        let soft = raise_open_files_limit();
        let connections_max = connection_cap(limits.connections_max, soft)?;
        if connections_max < limits.connections_max {
            warn!(
                connections_max,
                configured = limits.connections_max,
                open_files = soft,
                reserved = DESCRIPTORS_RESERVED,
                "API connections capped below the configured number: the open-files limit \
                 leaves no more once descriptors are kept for the ledger, the write-ahead log \
                 and peers"
            );
        } else {
            info!(
                connections_max,
                open_files = soft,
                reserved = DESCRIPTORS_RESERVED,
                "API connections capped"
            );
        }
        let listener = listen(addr).map_err(|reason| ServerError::Listen { addr, reason })?;
        Ok(Server {
            listener,
            timeouts: Timeouts::from(limits),
            connections_max,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `router` until `stop` turns true; then stops accepting, lets
    /// the connections finish what they are sending (event streams end with
    /// the node) for a while, and cuts the rest.
    pub async fn serve(self, router: Router, mut stop: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.connections_max));
        let mut connections = JoinSet::new();
        let mut at_cap = Throttled::new(WARNING_INTERVAL);
        let mut accept_failed = Throttled::new(WARNING_INTERVAL);
        loop {
            reap(&mut connections);
            let permit = match permits.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if let Some(held_back) = at_cap.ready() {
                        warn!(
                            connections_max = self.connections_max,
                            held_back,
                            "API connections at the cap: more wait to be accepted until one closes"
                        );
                    }
                    tokio::select! {
                        permit = permits.clone().acquire_owned() => {
                            // Never closed: an error would mean no permit ever again.
                            let Ok(permit) = permit else { break };
                            permit
                        }
                        _ = stop.wait_for(|stop| *stop) => break,
                    }
                }
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            match accepted {
                Ok((stream, _)) => {
                    let connection =
                        serve_connection(stream, router.clone(), self.timeouts, stop.clone());
                    connections.spawn(async move {
                        connection.await;
                        drop(permit);
                    });
                }
                // The client gave up before its turn: nothing to do.
                Err(e) if is_connection_error(&e) => {
                    debug!("an API connection was gone before it was accepted: {e}");
                }
                Err(e) => {
                    if let Some(held_back) = accept_failed.ready() {
                        warn!(held_back, "cannot accept API connections: {e}");
                    }
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                }
            }
        }
        // Closed now: connections still in the backlog are refused rather
        // than kept waiting for a node that is going.
        drop(self.listener);
        drain(connections).await;
    }
}

/// Binds `addr` with room in the backlog for connections beyond the cap.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's listeners do on Unix: a restarted node binds again at once,
    // whatever connections of the one before linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft open-files limit to the hard one, and returns the soft
/// limit then in force (`None`: unlimited).
fn raise_open_files_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => info!(
                from = limit.current,
                to = limit.maximum,
                "open-files limit raised to the hard limit"
            ),
            Err(e) => warn!(
                soft = limit.current,
                hard = limit.maximum,
                "cannot raise the open-files limit: {e}"
            ),
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The connections served at once: `configured`, but never more than the
/// soft open-files limit leaves once the reserve is kept.
fn connection_cap(configured: usize, soft: Option<u64>) -> Result<usize, ServerError> {
    let Some(soft) = soft else {
        return Ok(configured);
    };
    match soft.saturating_sub(DESCRIPTORS_RESERVED) {
        0 => Err(ServerError::OpenFilesLimit { soft }),
        room => Ok(usize::try_from(room).map_or(configured, |room| configured.min(room))),
    }
}

/// Errors of one connection, not of the listener: the next accept is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Collects the connections that ended, saying so if one panicked.
fn reap(connections: &mut JoinSet<()>) {
    while let Some(ended) = connections.try_join_next() {
        if let Err(e) = ended {
            error!("an API connection's task failed: {e}");
        }
    }
}

/// Waits (bounded) for the connections to close after the stop, then cuts
/// what is left by dropping their tasks.
async fn drain(mut connections: JoinSet<()>) {
    let closing = async {
        while let Some(ended) = connections.join_next().await {
            if let Err(e) = ended {
                error!("an API connection's task failed: {e}");
            }
        }
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, closing).await.is_err() {
        warn!(
            open = connections.len(),
            "API connections still open {DRAIN_TIMEOUT:?} after the stop are cut"
        );
    }
}

/// A warning said at most once an interval, with how many times it was
/// held back since.
struct Throttled {
    interval: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttled {
    fn new(interval: Duration) -> Self {
        Throttled {
            interval,
            last: None,
            held_back: 0,
        }
    }

    /// Whether to say it now, and if so how many times it was held back.
    fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_to_the_rest_of_the_node() {
        assert_eq!(connection_cap(512, None).ok(), Some(512));
        assert_eq!(connection_cap(512, Some(1_048_576)).ok(), Some(512));
        assert_eq!(connection_cap(512, Some(1024)).ok(), Some(512));
        assert_eq!(connection_cap(512, Some(600)).ok(), Some(344));
        assert_eq!(connection_cap(512, Some(257)).ok(), Some(1));
        for soft in [0, 100, 256] {
            assert!(matches!(
                connection_cap(512, Some(soft)),
                Err(ServerError::OpenFilesLimit { .. })
            ));
        }
    }

    #[test]
    fn every_limit_must_be_at_least_one() {
        assert!(ApiLimits::default().check().is_ok());
        let zero_idle = ApiLimits {
            idle_timeout_ms: 0,
            ..ApiLimits::default()
        };
        assert!(matches!(
            zero_idle.check(),
            Err(ServerError::ZeroLimit("api_idle_timeout_ms"))
        ));
    }

    #[test]
    fn node_json_may_leave_out_any_limit() {
        let limits: ApiLimits =
            serde_json::from_str(r#"{"api_connections_max": 64}"#).expect("parses");
        assert_eq!(
            limits,
            ApiLimits {
                connections_max: 64,
                ..ApiLimits::default()
            }
        );
    }

    #[test]
    fn a_repeated_warning_is_said_once_an_interval() {
        let interval = Duration::from_millis(200);
        let mut warning = Throttled::new(interval);
        assert_eq!(warning.ready(), Some(0));
        assert_eq!(warning.ready(), None);
        assert_eq!(warning.ready(), None);
        std::thread::sleep(interval);
        assert_eq!(warning.ready(), Some(2));
        assert_eq!(warning.ready(), None);
    }
}
