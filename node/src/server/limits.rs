//! The API's limits: how many connections it serves and how long it waits
//! on each, as `node.json` and the command line set them. Apart from the
//! server, so that both the accept loop and each connection read them
//! without importing each other.

use clap::builder::RangedU64ValueParser;
use serde::{Deserialize, Serialize};

/// Many more than a Participant's node has clients (`kp`, an authority's
/// systems, up to 256 event streams), and with the server's reserve
/// (`DESCRIPTORS_RESERVED`) well within the usual soft open-files limit of
/// 1,024.
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
    /// The name of a limit set to 0, which would serve nothing.
    pub(super) fn zero_limit(&self) -> Option<&'static str> {
        let limits = [
            ("api_connections_max", self.connections_max as u64),
            ("api_header_read_timeout_ms", self.header_read_timeout_ms),
            ("api_body_read_timeout_ms", self.body_read_timeout_ms),
            ("api_idle_timeout_ms", self.idle_timeout_ms),
            ("api_write_stall_timeout_ms", self.write_stall_timeout_ms),
        ];
        limits
            .into_iter()
            .find(|(_, value)| *value == 0)
            .map(|(name, _)| name)
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
