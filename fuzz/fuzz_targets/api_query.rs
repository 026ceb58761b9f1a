//! What the API decodes from a request's line and headers, then answers
//! over a real store (the certified chain of [`kp_fuzz::chain`]): byte 0
//! names the endpoint, the rest is its input.
//!
//! 0 `GET /v1/stats?QUERY`, 1 `GET /v1/stats/all?QUERY`,
//! 2 `GET /v1/anomalies?QUERY` (each through axum's query extractor and the
//! handler's own parsing: `api::StatsQuery`, `api::AnomaliesQuery`);
//! 3 `GET /v1/events?QUERY`, then a newline and a `Last-Event-ID` header
//! (`events::start_of`, then the block events it starts at);
//! 4 a parcel, transfer or proposal id or prefix from a path, 5 a
//! certificate number, 6 a block height or `latest`.
#![no_main]

use std::sync::OnceLock;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Uri};
use kp_fuzz::chain::Chain;
use kp_ledger::state::StateRead;
use kp_node::http::events::{start_of, EventsQuery};
use kp_node::http::statistics::{AnomaliesQuery, StatsQuery};
use kp_wire::bundle_file::to_file;
use libfuzzer_sys::fuzz_target;

/// Built once per process, in a temporary directory (left behind at exit:
/// `scripts/fuzz` points TMPDIR into the fuzz target dir and empties it).
fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(Chain::build)
}

fn query<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Option<T> {
    // A request line that is no URI never reaches a handler.
    let uri: Uri = format!("{path}?{text}").parse().ok()?;
    Query::<T>::try_from_uri(&uri).ok().map(|Query(q)| q)
}

fn json(value: &impl serde::Serialize) {
    let _ = serde_json::to_string(value).expect("a view serializes");
}

fuzz_target!(|data: &[u8]| {
    let Some((&endpoint, bytes)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let s = chain().chain.snapshot();
    match endpoint % 7 {
        0 => {
            let Some(q) = query::<StatsQuery>("/v1/stats", text) else {
                return;
            };
            let (Ok(participant), Ok(period)) = (q.participant(), q.period()) else {
                return;
            };
            if s.participant(participant).expect("reads").is_some() {
                json(&s.stats(participant, &period).expect("reads"));
            }
        }
        1 => {
            let Some(q) = query::<StatsQuery>("/v1/stats/all", text) else {
                return;
            };
            if let Ok(period) = q.period() {
                json(&s.stats_table(&period).expect("reads"));
            }
        }
        2 => {
            let Some(q) = query::<AnomaliesQuery>("/v1/anomalies", text) else {
                return;
            };
            if let Ok(q) = q.parse() {
                json(&s.anomalies(&q).expect("reads"));
            }
        }
        3 => {
            let (line, header) = match text.split_once('\n') {
                Some((line, header)) => (line, Some(header)),
                None => (text, None),
            };
            let Some(q) = query::<EventsQuery>("/v1/events", line) else {
                return;
            };
            let mut headers = HeaderMap::new();
            if let Some(header) = header {
                // A header value that is no header value never arrives.
                let Ok(value) = HeaderValue::from_bytes(header.as_bytes()) else {
                    return;
                };
                headers.insert("last-event-id", value);
            }
            let tip = s.tip().expect("reads").height;
            if let Ok(position) = start_of(&headers, &q, tip) {
                if position.height <= tip {
                    let events = s
                        .block_events(position.height, position.index)
                        .expect("reads");
                    if let Some(events) = events {
                        for tx in &events.txs {
                            json(tx);
                        }
                        json(&events.block);
                    }
                }
            }
        }
        4 => {
            if let Ok(parcel) = s.parcel_by_prefix(text) {
                json(&s.parcel_events(&parcel.id).expect("reads"));
                json(&s.trace(&parcel.id).expect("reads"));
                let bundle = s.bundle(&parcel.id).expect("builds");
                let bundle = bundle.expect("a parcel found has a bundle");
                let _ = to_file(&bundle);
            }
            if let Ok(transfer) = s.transfer_by_prefix(text) {
                json(&transfer);
            }
            if let Ok(proposal) = s.proposal_by_prefix(text) {
                json(&proposal);
            }
        }
        5 => {
            if let Some(certificate) = s.certificate(text).expect("reads") {
                json(&certificate);
            }
        }
        _ => {
            let height = match text {
                "latest" => s.tip().expect("reads").height,
                text => match text.parse::<u64>() {
                    Ok(height) => height,
                    Err(_) => return,
                },
            };
            if let Some(block) = s.block_summary(height).expect("reads") {
                json(&block.header);
            }
            s.commit_proof(height).expect("the chain's own certificate");
        }
    }
});
