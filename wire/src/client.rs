//! The node's HTTP API as typed, blocking calls, and the submit-then-wait
//! loop every write goes through: the one client of `kp`, the end-to-end
//! tests and the cluster benchmark. The shapes are this crate's, the same
//! types the node serves. Every request is bounded in time and every
//! answer in size.

use std::io::BufReader;
use std::thread;
use std::time::{Duration, Instant};

use kp_crypto::PublicKey;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Certificate, Member, Participant, ParticipantCode, Transfer, TxId};
use kp_ledger::trace::Trace;
use kp_ledger::units::Day;
use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::config::ConfigBuilder;
use ureq::http::Response;
use ureq::typestate::AgentScope;
use ureq::{Agent, Body, BodyReader};

use crate::anomalies::AnomaliesView;
use crate::api::{
    ApiError, BlockView, ErrorBody, NonceView, ParcelView, ProposalView, StatsTableView, StatsView,
    StatusView, SubmitRequest, TxState, TxStatus,
};
use crate::sse::SseReader;
use crate::stats::Period;

/// How long one HTTP request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a pending transaction is asked after.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The largest answer read (a long trace is the biggest).
const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// How much of an answer that is not the API's JSON goes into an error.
const SNIPPET_CHARS_MAX: usize = 200;
/// How long the node may take to accept a connection for the event stream.
const STREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence on an open event stream: the node sends a keep-alive
/// every 15 s, so a stream quiet for this long is a dead connection.
const STREAM_SILENCE_MAX: Duration = Duration::from_secs(45);

/// Why a call to the node failed. The node's own refusals carry its error
/// body (`docs/errors.md`); the rest say what went wrong on the way.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: the node is down, the address wrong, or time ran out.
    #[error("cannot reach the node at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    /// The answer began but could not be read whole, or was too large.
    #[error("reading the answer of the node at {base}: {reason}")]
    Unreadable { base: String, reason: String },
    /// A success whose body is not the shape asked for.
    #[error(
        "the node at {base} answered in a form this client does not understand ({reason}); \
         are kp and kpnode the same version?"
    )]
    Undecodable { base: String, reason: String },
    /// The node refused with its error body: 422 is a rule's rejection of a
    /// transaction, 404 a thing that does not exist, 503 a busy node.
    #[error("{} ({})", .error.message, .error.code)]
    Refused { http_status: u16, error: ApiError },
    /// A failing status without the API's error body (a proxy, say).
    #[error("the node at {base} answered HTTP {http_status}: {snippet}")]
    Http {
        base: String,
        http_status: u16,
        snippet: String,
    },
}

impl ClientError {
    /// A stable name for the failure: the API's code when the node gave
    /// one, else what kind of failure it was.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Unreadable { .. } => "unreadable_answer",
            ClientError::Undecodable { .. } => "undecodable_answer",
            ClientError::Refused { error, .. } => &error.code,
            ClientError::Http { .. } => "http_error",
        }
    }

    /// The HTTP status of an answer that was a failure.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { http_status, .. } | ClientError::Http { http_status, .. } => {
                Some(*http_status)
            }
            _ => None,
        }
    }

    /// A rule of the ledger refused the transaction (HTTP 422).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            ClientError::Refused {
                http_status: 422,
                ..
            }
        )
    }

    /// The node said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404)
    }

    /// Not known yet to the node asked, or the node busy: worth asking again.
    pub fn is_transient(&self) -> bool {
        matches!(self.http_status(), Some(404 | 503))
    }

    /// The node understood and refused the request: asking again the same
    /// way will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { http_status, .. } if (400..500).contains(http_status))
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// A node's API at one address.
#[derive(Debug, Clone)]
pub struct Client {
    agent: Agent,
    /// For the event stream, which stays open: no overall time limit.
    stream_agent: Agent,
    /// `scheme://host:port`, no trailing slash.
    base: String,
}

impl Client {
    /// The node at `node`: `127.0.0.1:8780` or `http://host:port/`.
    pub fn new(node: &str) -> Client {
        Client::with_timeout(node, REQUEST_TIMEOUT)
    }

    /// The same, each request bounded by `timeout` (tests ask for less).
    pub fn with_timeout(node: &str, timeout: Duration) -> Client {
        let base = normalize_base(node);
        let agent = agent(&base, |config| config.timeout_global(Some(timeout)));
        let stream_agent = agent_for_streams(&base);
        Client {
            agent,
            stream_agent,
            base,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn status(&self) -> ClientResult<StatusView> {
        self.get("/v1/status")
    }

    pub fn nonces(&self, key: &PublicKey) -> ClientResult<NonceView> {
        self.get(&format!("/v1/nonces/{key}"))
    }

    pub fn participants(&self) -> ClientResult<Vec<Participant>> {
        self.get("/v1/participants")
    }

    /// The proposals to change the Participant set still waiting for approvals.
    pub fn proposals(&self) -> ClientResult<Vec<ProposalView>> {
        self.get("/v1/proposals")
    }

    /// `id` is a whole id or a unique prefix of one.
    pub fn proposal(&self, id: &str) -> ClientResult<ProposalView> {
        self.get(&format!("/v1/proposals/{}", segment(id)))
    }

    pub fn member(&self, key: &PublicKey) -> ClientResult<Member> {
        self.get(&format!("/v1/members/{key}"))
    }

    /// `id` is a whole id or a unique prefix of one.
    pub fn parcel(&self, id: &str) -> ClientResult<ParcelView> {
        self.get(&format!("/v1/parcels/{}", segment(id)))
    }

    pub fn trace(&self, id: &str) -> ClientResult<Trace> {
        self.get(&format!("/v1/parcels/{}/trace", segment(id)))
    }

    /// The parcel's provenance bundle file, as the node wrote it.
    pub fn bundle(&self, id: &str) -> ClientResult<String> {
        self.text(&format!("/v1/parcels/{}/bundle", segment(id)))
    }

    pub fn genesis(&self) -> ClientResult<Genesis> {
        self.get("/v1/genesis")
    }

    pub fn block(&self, height: u64) -> ClientResult<BlockView> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    pub fn transfer(&self, id: &str) -> ClientResult<Transfer> {
        self.get(&format!("/v1/transfers/{}", segment(id)))
    }

    pub fn certificate(&self, number: &str) -> ClientResult<Certificate> {
        self.get(&format!("/v1/certificates/{}", segment(number)))
    }

    /// One Participant's Annex III statistics for a period.
    pub fn stats(&self, participant: ParticipantCode, period: &Period) -> ClientResult<StatsView> {
        let mut query = vec![("participant", participant.to_string())];
        query.extend(period_query(period));
        self.get_with("/v1/stats", &query)
    }

    /// Every Participant's totals for a period.
    pub fn stats_table(&self, period: &Period) -> ClientResult<StatsTableView> {
        self.get_with("/v1/stats/all", &period_query(period))
    }

    /// What the anomaly checks find as of the tip, filtered as asked; the
    /// node applies its documented defaults to what is left out.
    pub fn anomalies(&self, query: &AnomalyFilter) -> ClientResult<AnomaliesView> {
        let pairs: Vec<(&str, String)> = [
            ("participant", query.participant.map(|p| p.to_string())),
            ("since", query.since_day.map(|day| Day(day).to_string())),
            ("band", query.band_percent.map(|n| n.to_string())),
            (
                "period_change",
                query.period_change_percent.map(|n| n.to_string()),
            ),
            ("markup", query.markup_percent.map(|n| n.to_string())),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        self.get_with("/v1/anomalies", &pairs)
    }

    pub fn tx(&self, id: &TxId) -> ClientResult<TxStatus> {
        self.get(&format!("/v1/transactions/{id}"))
    }

    /// `GET /metrics`: the node's Prometheus text.
    pub fn metrics(&self) -> ClientResult<String> {
        self.text("/metrics")
    }

    /// Posts a signed transaction's bytes; the node answers `pending` once
    /// its checks pass, or refuses it with the rule's reason.
    pub fn submit(&self, tx_bytes: &[u8]) -> ClientResult<TxStatus> {
        self.post(
            "/v1/transactions",
            &SubmitRequest {
                tx: hex::encode(tx_bytes),
            },
        )
    }

    /// Asks after a submitted transaction until it is committed or rejected,
    /// or until `timeout` has passed (then the last, pending, status).
    pub fn wait(&self, submitted: TxStatus, timeout: Duration) -> ClientResult<TxStatus> {
        let deadline = Instant::now() + timeout;
        let mut last = submitted;
        while last.state == TxState::Pending {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            thread::sleep(POLL_INTERVAL.min(deadline - now));
            match self.tx(&last.id) {
                Ok(status) => last = status,
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(last)
    }

    /// Opens `GET /v1/events` from block `from`, or after the event
    /// `last_id` (which wins), and hands back its events as they come.
    pub fn events(
        &self,
        from: Option<u64>,
        last_id: Option<&str>,
    ) -> ClientResult<SseReader<BufReader<BodyReader<'static>>>> {
        let url = format!("{}/v1/events", self.base);
        let mut request = self
            .stream_agent
            .get(&url)
            .header("accept", "text/event-stream");
        if let Some(from) = from {
            request = request.query("from", from.to_string());
        }
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let mut response = request.call().map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let body = response.into_body().into_reader();
            return Ok(SseReader::new(BufReader::new(body)));
        }
        let text = self.read_text(&mut response)?;
        Err(self.failure(status, &text))
    }

    /// `GET path` (from `/`), decoded as `T`: for routes without a method.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.get_with(path, &[])
    }

    /// `GET path?key=value&…`, the values percent-encoded by ureq.
    fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ClientResult<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .query_pairs(query.iter().map(|(key, value)| (*key, value.as_str())))
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.decode(response)
    }

    /// Like [`Client::get`], but "not found" is `None` rather than an error.
    pub fn get_if_found<T: DeserializeOwned>(&self, path: &str) -> ClientResult<Option<T>> {
        match self.get(path) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET path`, the body as text.
    fn text(&self, path: &str) -> ClientResult<String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.success_text(response)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> ClientResult<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| self.unreachable(e))?;
        self.decode(response)
    }

    fn unreachable(&self, e: ureq::Error) -> ClientError {
        let reason = match e {
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        ClientError::Unreachable {
            base: self.base.clone(),
            reason,
        }
    }

    fn read_text(&self, response: &mut Response<Body>) -> ClientResult<String> {
        response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_string()
            .map_err(|e| ClientError::Unreadable {
                base: self.base.clone(),
                reason: e.to_string(),
            })
    }

    fn decode<T: DeserializeOwned>(&self, response: Response<Body>) -> ClientResult<T> {
        let text = self.success_text(response)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Undecodable {
            base: self.base.clone(),
            reason: e.to_string(),
        })
    }

    /// The answer's text when its status is a success, else its error.
    fn success_text(&self, mut response: Response<Body>) -> ClientResult<String> {
        let status = response.status().as_u16();
        let text = self.read_text(&mut response)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(self.failure(status, &text))
    }

    /// The error an answer with a failing HTTP status carries.
    fn failure(&self, http_status: u16, text: &str) -> ClientError {
        match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => ClientError::Refused {
                http_status,
                error: body.error,
            },
            Err(_) => ClientError::Http {
                base: self.base.clone(),
                http_status,
                snippet: snippet(text),
            },
        }
    }
}

/// What `GET /v1/anomalies` is asked; `None` leaves the node's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnomalyFilter {
    pub participant: Option<ParticipantCode>,
    pub since_day: Option<u32>,
    pub band_percent: Option<u32>,
    pub period_change_percent: Option<u32>,
    pub markup_percent: Option<u32>,
}

/// An agent for the node at `base`, as `configure` sets it up.
fn agent(
    base: &str,
    configure: impl FnOnce(ConfigBuilder<AgentScope>) -> ConfigBuilder<AgentScope>,
) -> Agent {
    let mut config = configure(
        Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("kp/", env!("CARGO_PKG_VERSION"))),
    );
    if is_loopback(base) {
        // A proxy from the environment has no business with a local node.
        config = config.proxy(None);
    }
    config.build().into()
}

/// Bounded connecting and silence, but no bound on the whole: a stream
/// stays open as long as the node sends.
fn agent_for_streams(base: &str) -> Agent {
    agent(base, |config| {
        config
            .timeout_connect(Some(STREAM_CONNECT_TIMEOUT))
            .timeout_recv_response(Some(STREAM_CONNECT_TIMEOUT))
            .timeout_per_read(Some(STREAM_SILENCE_MAX))
    })
}

/// `127.0.0.1:8780` and `http://127.0.0.1:8780/` both mean the same node.
fn normalize_base(node: &str) -> String {
    let node = node.trim().trim_end_matches('/');
    if node.contains("://") {
        node.to_owned()
    } else {
        format!("http://{node}")
    }
}

fn is_loopback(base: &str) -> bool {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split([':', '/']).next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Percent-encodes one path segment (certificate numbers may hold `/`).
/// Written here because ureq encodes query values (see [`Client::get_with`])
/// but offers nothing for a path segment, and RFC 3986's unreserved set is
/// all a segment needs: not worth a further dependency.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `year=2026`, with `quarter=Q` or `half=H` when asked.
fn period_query(period: &Period) -> Vec<(&'static str, String)> {
    let mut query = vec![("year", period.year.to_string())];
    if let Some(q) = period.quarter() {
        query.push(("quarter", q.to_string()));
    }
    if let Some(h) = period.half() {
        query.push(("half", h.to_string()));
    }
    query
}

fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > SNIPPET_CHARS_MAX {
        let cut: String = one_line.chars().take(SNIPPET_CHARS_MAX).collect();
        format!("{cut}…")
    } else if one_line.is_empty() {
        "(no body)".to_owned()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_and_loopback() {
        assert_eq!(normalize_base("127.0.0.1:8780"), "http://127.0.0.1:8780");
        assert_eq!(
            normalize_base("http://node.example:80/ "),
            "http://node.example:80"
        );
        assert!(is_loopback("http://127.0.0.1:8780"));
        assert!(is_loopback("http://localhost:8780"));
        assert!(is_loopback("http://[::1]:8780"));
        assert!(!is_loopback("https://kp.example.org"));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("BW-2026/001"), "BW-2026%2F001");
        assert_eq!(segment("3f9a12cd"), "3f9a12cd");
        assert_eq!(segment("a b"), "a%20b");
    }

    #[test]
    fn refusals_are_told_apart() {
        let refused = |http_status, code: &str| ClientError::Refused {
            http_status,
            error: ApiError {
                code: code.into(),
                message: "m".into(),
            },
        };
        let rejected = refused(422, "not_holder");
        assert!(rejected.is_rejection() && rejected.is_refusal() && !rejected.is_transient());
        assert_eq!(rejected.code(), "not_holder");
        assert_eq!(rejected.to_string(), "m (not_holder)");
        let missing = refused(404, "not_found");
        assert!(missing.is_not_found() && missing.is_transient() && !missing.is_rejection());
        let busy = refused(503, "busy");
        assert!(busy.is_transient() && !busy.is_refusal());
        let down = ClientError::Unreachable {
            base: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(down.code(), "unreachable");
        assert!(!down.is_refusal() && !down.is_transient() && down.http_status().is_none());
    }

    #[test]
    fn snippets_are_one_bounded_line() {
        assert_eq!(snippet(""), "(no body)");
        assert_eq!(snippet("<h1>Bad\n gateway</h1>"), "<h1>Bad gateway</h1>");
        assert_eq!(
            snippet(&"x".repeat(500)).chars().count(),
            SNIPPET_CHARS_MAX + 1
        );
    }
}
