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
mod limits;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use self::connection::{serve_connection, Timeouts};
pub use self::limits::{ApiLimitArgs, ApiLimits};

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
        if let Some(name) = limits.zero_limit() {
            return Err(ServerError::ZeroLimit(name));
        }
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
        assert_eq!(ApiLimits::default().zero_limit(), None);
        let zero_idle = ApiLimits {
            idle_timeout_ms: 0,
            ..ApiLimits::default()
        };
        assert_eq!(zero_idle.zero_limit(), Some("api_idle_timeout_ms"));
        let refused = Server::bind("127.0.0.1:0".parse().expect("an address"), zero_idle);
        assert!(matches!(
            refused.err(),
            Some(ServerError::ZeroLimit("api_idle_timeout_ms"))
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
