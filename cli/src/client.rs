//! The node's HTTP API as typed calls (`docs/api.md`), and the submit-then-
//! wait loop every write goes through. The shapes are `kp_wire::api`'s,
//! the same types the node serves.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use kp_crypto::PublicKey;
use kp_ledger::genesis::Genesis;
use kp_ledger::model::{Certificate, Member, Participant, ParticipantCode, Transfer, TxId};
use kp_ledger::trace::Trace;
use kp_ledger::units::Day;
use kp_wire::anomalies::AnomaliesView;
use kp_wire::api::{
    ErrorBody, NonceView, ParcelView, ProposalView, StatsTableView, StatsView, StatusView,
    SubmitRequest, TxState, TxStatus,
};
use kp_wire::stats::Period;
use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::config::ConfigBuilder;
use ureq::http::Response;
use ureq::typestate::AgentScope;
use ureq::{Agent, Body, BodyReader};

use crate::failure::{ApiFailure, Rejected};

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

pub struct Client {
    agent: Agent,
    /// For the event stream, which stays open: no overall time limit.
    stream_agent: Agent,
    /// `scheme://host:port`, no trailing slash.
    base: String,
}

impl Client {
    pub fn new(node: &str) -> Client {
        let base = normalize_base(node);
        let agent = agent(&base, |config| config.timeout_global(Some(REQUEST_TIMEOUT)));
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

    pub fn status(&self) -> Result<StatusView> {
        self.get("/v1/status")
    }

    pub fn nonces(&self, key: &PublicKey) -> Result<NonceView> {
        self.get(&format!("/v1/nonces/{key}"))
    }

    pub fn participants(&self) -> Result<Vec<Participant>> {
        self.get("/v1/participants")
    }

    /// The proposals to change the Participant set still waiting for approvals.
    pub fn proposals(&self) -> Result<Vec<ProposalView>> {
        self.get("/v1/proposals")
    }

    /// `id` is a whole id or a unique prefix of one.
    pub fn proposal(&self, id: &str) -> Result<ProposalView> {
        self.get(&format!("/v1/proposals/{}", segment(id)))
    }

    pub fn member(&self, key: &PublicKey) -> Result<Member> {
        self.get(&format!("/v1/members/{key}"))
    }

    /// `id` is a whole id or a unique prefix of one.
    pub fn parcel(&self, id: &str) -> Result<ParcelView> {
        self.get(&format!("/v1/parcels/{}", segment(id)))
    }

    pub fn trace(&self, id: &str) -> Result<Trace> {
        self.get(&format!("/v1/parcels/{}/trace", segment(id)))
    }

    /// The parcel's provenance bundle file, as the node wrote it.
    pub fn bundle(&self, id: &str) -> Result<String> {
        let url = format!("{}/v1/parcels/{}/bundle", self.base, segment(id));
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.success_text(response)
    }

    pub fn genesis(&self) -> Result<Genesis> {
        self.get("/v1/genesis")
    }

    pub fn transfer(&self, id: &str) -> Result<Transfer> {
        self.get(&format!("/v1/transfers/{}", segment(id)))
    }

    pub fn certificate(&self, number: &str) -> Result<Certificate> {
        self.get(&format!("/v1/certificates/{}", segment(number)))
    }

    /// One Participant's Annex III statistics for a period.
    pub fn stats(&self, participant: ParticipantCode, period: &Period) -> Result<StatsView> {
        let mut query = vec![("participant", participant.to_string())];
        query.extend(period_query(period));
        self.get_with("/v1/stats", &query)
    }

    /// Every Participant's totals for a period.
    pub fn stats_table(&self, period: &Period) -> Result<StatsTableView> {
        self.get_with("/v1/stats/all", &period_query(period))
    }

    /// What the anomaly checks find as of the tip, filtered as asked; the
    /// node applies its documented defaults to what is left out.
    pub fn anomalies(
        &self,
        participant: Option<ParticipantCode>,
        since_day: Option<u32>,
        band_percent: Option<u32>,
        period_change_percent: Option<u32>,
        markup_percent: Option<u32>,
    ) -> Result<AnomaliesView> {
        let query: Vec<(&str, String)> = [
            ("participant", participant.map(|p| p.to_string())),
            ("since", since_day.map(|day| Day(day).to_string())),
            ("band", band_percent.map(|n| n.to_string())),
            (
                "period_change",
                period_change_percent.map(|n| n.to_string()),
            ),
            ("markup", markup_percent.map(|n| n.to_string())),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        self.get_with("/v1/anomalies", &query)
    }

    pub fn tx(&self, id: &TxId) -> Result<TxStatus> {
        self.get(&format!("/v1/transactions/{id}"))
    }

    /// Posts a signed transaction's bytes; the node answers `pending` once
    /// its checks pass, or refuses it with the rule's reason.
    pub fn submit(&self, tx_bytes: &[u8]) -> Result<TxStatus> {
        self.post(
            "/v1/transactions",
            &SubmitRequest {
                tx: hex::encode(tx_bytes),
            },
        )
    }

    /// Asks after a submitted transaction until it is committed or rejected,
    /// or until `timeout` has passed (then the last, pending, status).
    pub fn wait(&self, submitted: TxStatus, timeout: Duration) -> Result<TxStatus> {
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
                // Not yet known to the node we ask, or the node is busy:
                // ask again until the deadline.
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(last)
    }

    /// Opens `GET /v1/events` from block `from`, or after the event
    /// `last_id` (which wins), and hands back its body to read as it comes.
    pub fn events(&self, from: Option<u64>, last_id: Option<&str>) -> Result<BodyReader<'static>> {
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
            return Ok(response.into_body().into_reader());
        }
        let text = self.text(&mut response)?;
        Err(self.failure(status, &text))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_with(path, &[])
    }

    /// `GET path?key=value&…`, the values percent-encoded by ureq.
    fn get_with<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .query_pairs(query.iter().map(|(key, value)| (*key, value.as_str())))
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.decode(response)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| self.unreachable(e))?;
        self.decode(response)
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        let reason = match e {
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        anyhow!("cannot reach the node at {}: {reason}", self.base)
    }

    fn text(&self, response: &mut Response<Body>) -> Result<String> {
        response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_string()
            .map_err(|e| anyhow!("reading the answer of the node at {}: {e}", self.base))
    }

    fn decode<T: DeserializeOwned>(&self, response: Response<Body>) -> Result<T> {
        let text = self.success_text(response)?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "the node at {} answered in a form this kp does not understand ({e}); \
                 are kp and kpnode the same version?",
                self.base
            )
        })
    }

    /// The answer's text when its status is a success, else its error.
    fn success_text(&self, mut response: Response<Body>) -> Result<String> {
        let status = response.status().as_u16();
        let text = self.text(&mut response)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(self.failure(status, &text))
    }

    /// The error an answer with a failing HTTP status carries.
    fn failure(&self, status: u16, text: &str) -> anyhow::Error {
        match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) if status == 422 => Rejected(body.error).into(),
            Ok(body) => ApiFailure {
                http_status: status,
                error: body.error,
            }
            .into(),
            Err(_) => anyhow!(
                "the node at {} answered HTTP {status}: {}",
                self.base,
                snippet(text)
            ),
        }
    }
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

fn is_transient(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ApiFailure>()
        .is_some_and(|f| f.http_status == 404 || f.http_status == 503)
}

/// `127.0.0.1:8780` and `http://127.0.0.1:8780/` both mean the same node.
pub fn normalize_base(node: &str) -> String {
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
}
