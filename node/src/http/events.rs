//! `GET /v1/events` (also `/events`): committed events as server-sent
//! events, for an authority's own systems to follow the ledger. One event
//! per committed transaction, in ledger order, then one per block; each
//! carries an id a client resumes after (`Last-Event-ID`).
//!
//! A stream holds no queue of its own beyond one block's events: it waits
//! on the committed height and reads each block from the store when its
//! turn comes, so a slow client falls behind and catches up, and costs the
//! node nothing meanwhile.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use kp_store::events::HeightEvents;
use kp_wire::api::ApiError;
use serde::Deserialize;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tracing::warn;

use super::error::ErrorResponse;
use super::state::{read_ledger, HttpState};
use crate::chain::ChainView;

/// A comment line this often keeps proxies and idle timers from closing a
/// stream that waits for a block.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Streams open at once, at most: each holds a connection and a task, and
/// an authority's systems need a few, not thousands. One more is refused
/// (503 `too_many_streams`) until one closes.
pub const EVENT_STREAMS_MAX: usize = 256;

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    from: Option<String>,
}

/// The next event a stream sends: transaction `index` of block `height`,
/// or, once its transactions are sent, the block itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub height: u64,
    pub index: u32,
}

/// Where a request's stream starts, from its `Last-Event-ID` header and its
/// query (see [`start`]).
pub fn start_of(
    headers: &HeaderMap,
    query: &EventsQuery,
    committed: u64,
) -> Result<Position, ErrorResponse> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "bad_event_id",
                "Last-Event-ID is not text",
            )
        })?),
    };
    start(last_event_id, query.from.as_deref(), committed)
}

/// The highest `from` taken: heights are int64 in the API's contract, as
/// JSON clients hold numbers; no chain comes near.
const FROM_HEIGHT_MAX: u64 = i64::MAX.unsigned_abs();

/// Where to start: after `Last-Event-ID` when a client resumes (it wins over
/// `from`, which a reconnecting client sends again unchanged), else at
/// `from`, else at the next block. A bad `from` is refused even beside a
/// `Last-Event-ID`: the request is malformed either way.
fn start(
    last_event_id: Option<&str>,
    from: Option<&str>,
    committed: u64,
) -> Result<Position, ErrorResponse> {
    let from = from
        .map(|text| {
            number(text)
                .filter(|h| (1..=FROM_HEIGHT_MAX).contains(h))
                .ok_or_else(|| {
                    ErrorResponse::new(
                        StatusCode::BAD_REQUEST,
                        "bad_height",
                        format!("`from={text}` is not a block height (1 to {FROM_HEIGHT_MAX})"),
                    )
                })
        })
        .transpose()?;
    if let Some(id) = last_event_id.map(str::trim).filter(|id| !id.is_empty()) {
        return after(id).ok_or_else(|| {
            ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "bad_event_id",
                format!("Last-Event-ID `{id}` is not an event id (HEIGHT or HEIGHT:INDEX)"),
            )
        });
    }
    let height = from.unwrap_or_else(|| committed.saturating_add(1));
    Ok(Position { height, index: 0 })
}

/// The position after event `id`: `H:I` is transaction I of block H, and
/// `H` is block H itself, which follows its transactions.
fn after(id: &str) -> Option<Position> {
    match id.split_once(':') {
        Some((height, index)) => Some(Position {
            height: number(height)?,
            index: u32::try_from(number(index)?)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
        }),
        None => Some(Position {
            height: number(id)?.saturating_add(1),
            index: 0,
        }),
    }
    // Height 0 is the genesis, which is no block: start at the first one.
    .map(|p| {
        if p.height == 0 {
            Position {
                height: 1,
                index: 0,
            }
        } else {
            p
        }
    })
}

/// Digits as a number, as many as are given (the contract's pattern for an
/// event id): more than a u64 holds are taken as its largest, an id past
/// every block and transaction there can be, which resumes past the tip as
/// any id beyond the tip does.
fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits alone fail to parse only by overflowing.
    Some(digits.parse().unwrap_or(u64::MAX))
}

#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "ledger",
    summary = "Committed transactions and blocks as server-sent events, live",
    description = "For each committed block, in ledger order: one event per transaction (`id: \
        HEIGHT:INDEX`, `event:` its kind, `data:` a `TxEventView`), then one `block` event (`id: \
        HEIGHT`, `data:` a `BlockEventView`). A comment line every 15 s keeps an idle stream \
        open. If the node cannot read a block it sends `event: error` with `{\"code\", \
        \"message\"}` and ends the stream. See docs/api.md#events.",
    params(
        (
            "from" = Option<u64>,
            Query,
            minimum = 1,
            maximum = 9223372036854775807usize,
            description = "The first block's height; default: the next block"
        ),
        (
            "Last-Event-ID" = Option<String>,
            Header,
            nullable = false,
            pattern = "^([0-9]+(:[0-9]+)?)?$",
            description = "Resume after this event (wins over `from`); empty: none"
        ),
    ),
    responses(
        (
            status = 200,
            description = "The stream, until the client or the node stops it; each event as \
                `StreamEvent` says",
            content_type = "text/event-stream",
            body = crate::http::contract::StreamEvent
        ),
        crate::http::contract::EventsErrors,
    )
)]
pub async fn events(
    State(state): State<HttpState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ErrorResponse> {
    let Query(query) = query?;
    let committed = state.chain.committed();
    let next = start_of(&headers, &query, *committed.borrow())?;
    let permit = state
        .event_streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ErrorResponse::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                format!("{EVENT_STREAMS_MAX} event streams are open already; try again later"),
            )
        })?;
    let follower = Follower {
        _permit: permit,
        stopping: state.stopping.clone(),
        chain: state.chain,
        next,
        committed,
        ready: VecDeque::new(),
        ended: false,
    };
    let stream = stream::unfold(follower, |mut follower| async move {
        let event = follower.next_event().await?;
        Some((Ok(event), follower))
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(KEEP_ALIVE_INTERVAL)
            .text("keep-alive"),
    ))
}

struct Follower {
    /// Held while the stream lives: returned when the client goes.
    _permit: OwnedSemaphorePermit,
    chain: ChainView,
    next: Position,
    committed: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    /// One block's events, read but not sent yet.
    ready: VecDeque<Event>,
    /// After an error event: nothing more to send.
    ended: bool,
}

impl Follower {
    /// The next event, waiting for blocks as long as it takes; `None` ends
    /// the stream (the node is stopping, or the store failed).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if self.ended || *self.stopping.borrow() {
                return None;
            }
            let tip = *self.committed.borrow_and_update();
            if self.next.height <= tip {
                self.read_block().await;
                continue;
            }
            tokio::select! {
                changed = self.committed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                // Gone without a word counts as stopping too.
                stopped = self.stopping.changed() => {
                    if stopped.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Queues the events of the block at `next` and moves past it; on a
    /// failure, queues an error event and ends.
    async fn read_block(&mut self) {
        let Position { height, index } = self.next;
        let read = read_ledger(&self.chain, move |s| {
            s.block_events(height, index)?.ok_or_else(|| {
                ErrorResponse::internal(format!("block {height} is committed but not stored"))
            })
        })
        .await;
        match read {
            Ok(events) => {
                self.ready.extend(sse_events(events));
                self.next = Position {
                    height: height.saturating_add(1),
                    index: 0,
                };
            }
            Err(failure) => {
                let error = ApiError::from(failure);
                warn!(
                    height,
                    code = error.code,
                    "event stream ends: {}",
                    error.message
                );
                self.ready
                    .extend(json_event(Event::default().event("error"), &error));
                self.ended = true;
            }
        }
    }
}

fn sse_events(events: HeightEvents) -> impl Iterator<Item = Event> {
    let block = &events.block;
    let block = json_event(
        Event::default().id(block.height.to_string()).event("block"),
        block,
    );
    events
        .txs
        .into_iter()
        .filter_map(|tx| {
            let event = Event::default()
                .id(format!("{}:{}", tx.event.height, tx.event.index))
                .event(&tx.kind);
            json_event(event, &tx)
        })
        .chain(block)
}

/// `event` with `data` as its JSON. Serializing views cannot fail; were it
/// to, the event is left out and logged rather than sent malformed.
fn json_event(event: Event, data: &impl serde::Serialize) -> Option<Event> {
    event
        .json_data(data)
        .inspect_err(|e| warn!("event left out of the stream: {e}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(height: u64, index: u32) -> Position {
        Position { height, index }
    }

    #[test]
    fn resume_after_a_transaction_or_a_block() {
        assert_eq!(after("7:0"), Some(at(7, 1)));
        assert_eq!(after("7"), Some(at(8, 0)));
        assert_eq!(after("0"), Some(at(1, 0)));
        for bad in ["", "x", "7:", ":3", "7:1:2", "-1", "7:-1", "+7", "7:+1"] {
            assert_eq!(after(bad), None, "{bad}");
        }
        // Past every block or transaction there can be: past the tip.
        assert_eq!(after("18446744073709551615"), Some(at(u64::MAX, 0)));
        assert_eq!(after("99999999999999999999"), Some(at(u64::MAX, 0)));
        assert_eq!(after("7:4294967295"), Some(at(7, u32::MAX)));
        assert_eq!(after("7:99999999999"), Some(at(7, u32::MAX)));
    }

    #[test]
    fn start_prefers_last_event_id_then_from_then_the_next_block() {
        assert_eq!(start(None, None, 9).ok(), Some(at(10, 0)));
        assert_eq!(start(None, Some("3"), 9).ok(), Some(at(3, 0)));
        assert_eq!(start(None, Some("30"), 9).ok(), Some(at(30, 0)));
        assert_eq!(start(Some("4:2"), Some("3"), 9).ok(), Some(at(4, 3)));
        assert_eq!(start(Some(" "), Some("3"), 9).ok(), Some(at(3, 0)));
        for bad in ["0", "-2", "+2", " 2", "ten", "", "9223372036854775808"] {
            let failure = start(None, Some(bad), 9).expect_err(bad);
            assert_eq!(ApiError::from(failure).code, "bad_height");
            let failure = start(Some("4:2"), Some(bad), 9).expect_err(bad);
            assert_eq!(ApiError::from(failure).code, "bad_height");
        }
        assert_eq!(
            start(None, Some("9223372036854775807"), 9).ok(),
            Some(at(9_223_372_036_854_775_807, 0))
        );
        let failure = start(Some("4:x"), None, 9).expect_err("bad id");
        assert_eq!(ApiError::from(failure).code, "bad_event_id");
    }
}
