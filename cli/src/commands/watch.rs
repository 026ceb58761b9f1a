//! `kp watch`: committed events as they happen, read from the node's event
//! stream (`GET /v1/events`, server-sent events). One line per event; with
//! `--json`, one JSON object per line. A dropped connection is resumed after
//! the last event seen, so that nothing is missed or shown twice.

use std::io::{self, BufRead, Write};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use kp_wire::api::{ApiError, BlockEventView, TxEventView};
use kp_wire::sse::{SseEvent, SseReader};
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::view::{date_time, short_id};

/// The first wait before reconnecting; it doubles up to the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Why following the stream stopped.
enum Stop {
    /// stdout is closed (`kp watch | head`): the watch is over.
    OutputClosed,
    /// The connection or the node failed; worth reconnecting.
    Lost(String),
}

pub fn run(ctx: &Ctx, from: Option<u64>) -> Result<()> {
    // Ctrl-C ends the watch with success, but never halfway through a line:
    // the handler waits for the line being written.
    ctrlc::set_handler(|| {
        let _whole_lines = io::stdout().lock();
        std::process::exit(0);
    })
    .context("cannot listen for Ctrl-C")?;
    // The starting height is fixed here, so that a reconnection before the
    // first event still starts where the watch began.
    let from = match from {
        Some(height) => height,
        None => ctx.client.status()?.height.saturating_add(1),
    };
    let mut last_id: Option<String> = None;
    let mut reader = ctx.client.events(Some(from), None)?;
    let mut delay = BACKOFF_MIN;
    loop {
        let seen_before = last_id.clone();
        let mut reason = match follow(ctx.json, reader, &mut last_id) {
            Stop::OutputClosed => return Ok(()),
            Stop::Lost(reason) => reason,
        };
        if last_id != seen_before {
            delay = BACKOFF_MIN;
        }
        reader = loop {
            let resuming = match &last_id {
                Some(id) => format!("resuming after event {id}"),
                None => format!("resuming at height {from}"),
            };
            eprintln!(
                "kp watch: lost the node at {} ({reason}); reconnecting in {} ms, {resuming}",
                ctx.client.base(),
                delay.as_millis()
            );
            thread::sleep(delay);
            delay = (delay * 2).min(BACKOFF_MAX);
            match ctx.client.events(Some(from), last_id.as_deref()) {
                Ok(reader) => {
                    eprintln!("kp watch: reconnected to {}", ctx.client.base());
                    break reader;
                }
                Err(e) if e.is_refusal() => return Err(e.into()),
                Err(e) => reason = format!("{e:#}"),
            }
        };
    }
}

/// Prints every event of one connection, remembering the id of the last.
fn follow(
    json_mode: bool,
    mut events: SseReader<impl BufRead>,
    last_id: &mut Option<String>,
) -> Stop {
    let out = io::stdout();
    loop {
        let event = match events.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return Stop::Lost("the node closed the stream".to_owned()),
            Err(e) => return Stop::Lost(e.to_string()),
        };
        if event.event == "error" {
            let reason = serde_json::from_str::<ApiError>(&event.data)
                .map_or(event.data, |e| format!("{} ({})", e.message, e.code));
            return Stop::Lost(format!("the node ended the stream: {reason}"));
        }
        let shown = if json_mode {
            Some(json_line(&event))
        } else {
            human_line(&event)
        };
        if let Some(text) = shown {
            let mut lock = out.lock();
            let written = writeln!(lock, "{text}").and_then(|()| lock.flush());
            if written.is_err() {
                return Stop::OutputClosed;
            }
        }
        if event.id.is_some() {
            *last_id = event.id;
        }
    }
}

/// `{"id": "12:0", "event": "register_parcel", "data": {...}}`
fn json_line(event: &SseEvent) -> String {
    let data =
        serde_json::from_str::<Value>(&event.data).unwrap_or(Value::String(event.data.clone()));
    json!({ "id": event.id, "event": event.event, "data": data }).to_string()
}

/// `12:0  2026-03-01 14:05:09 UTC  register_parcel  1a2b3c4d5e6f  1250.500 ct, …`;
/// a block's line only when it carried transactions, so that an idle chain
/// is quiet.
fn human_line(event: &SseEvent) -> Option<String> {
    if event.event == "block" {
        let block: BlockEventView = serde_json::from_str(&event.data).ok()?;
        return (block.txs > 0).then(|| {
            format!(
                "{}  {}  {:<20} {}  {} transaction(s)",
                block.height,
                date_time(block.time),
                "block",
                short_id(&block.hash),
                block.txs
            )
        });
    }
    let id = event.id.as_deref().unwrap_or("-");
    Some(match serde_json::from_str::<TxEventView>(&event.data) {
        Ok(tx) => format!(
            "{id}  {}  {:<20} {}  {}",
            date_time(tx.event.time),
            tx.kind,
            short_id(&tx.event.tx),
            tx.summary
        ),
        // From a newer node: shown as it came rather than dropped.
        Err(_) => format!("{id}  {}  {}", event.event, event.data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_for_blocks_and_transactions() {
        let block = SseEvent {
            id: Some("4".into()),
            event: "block".into(),
            data: json!({"height": 4, "hash": "ab".repeat(32), "time": 86_400, "txs": 0})
                .to_string(),
        };
        assert_eq!(human_line(&block), None);
        let busy = SseEvent {
            data: block.data.replace("\"txs\":0", "\"txs\":2"),
            ..block.clone()
        };
        assert_eq!(
            human_line(&busy).as_deref(),
            Some("4  1970-01-02 00:00:00 UTC  block                abababababab  2 transaction(s)")
        );
        let line: Value = serde_json::from_str(&json_line(&block)).unwrap();
        assert_eq!(
            line,
            json!({"id": "4", "event": "block", "data": {"height": 4, "hash": "ab".repeat(32), "time": 86_400, "txs": 0}})
        );
        let odd = SseEvent {
            id: Some("4:0".into()),
            event: "new_kind".into(),
            data: "{}".into(),
        };
        assert_eq!(human_line(&odd).as_deref(), Some("4:0  new_kind  {}"));
    }
}
