//! `kp watch`: committed events as they happen, read from the node's event
//! stream (`GET /v1/events`, server-sent events). One line per event; with
//! `--json`, one JSON object per line. A dropped connection is resumed after
//! the last event seen, so that nothing is missed or shown twice.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use kp_wire::api::{ApiError, BlockEventView, TxEventView};
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::failure::{ApiFailure, Rejected};
use crate::view::{date_time, short_id};

/// The first wait before reconnecting; it doubles up to the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// No line of the stream is longer than a block's event is; past this it is
/// not the node speaking.
const LINE_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// One server-sent event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct SseEvent {
    id: Option<String>,
    event: String,
    data: String,
}

/// Folds the stream's lines into events, as the server-sent events format
/// says: `field: value` lines, comments after `:`, a blank line ends one.
/// Written here: the client crates for the format bring their own HTTP
/// client or an async runtime, where this reads ureq's blocking body, and
/// the format's rules for what the node sends fit in this one type.
#[derive(Debug, Default)]
struct SseParser {
    current: SseEvent,
    has_data: bool,
}

impl SseParser {
    /// Takes one line (without its line ending); an event once it is whole.
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let complete = std::mem::take(&mut self.has_data);
            return complete.then_some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.current.id = Some(value.to_owned()),
            "event" => value.clone_into(&mut self.current.event),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            // `retry` and unknown fields: nothing for a line reader to do.
            _ => {}
        }
        None
    }
}

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
                Err(e) if is_refusal(&e) => return Err(e),
                Err(e) => reason = format!("{e:#}"),
            }
        };
    }
}

/// The node understood and refused the request: asking again will not help.
fn is_refusal(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Rejected>().is_some()
        || err
            .downcast_ref::<ApiFailure>()
            .is_some_and(|f| (400..500).contains(&f.http_status))
}

/// Prints every event of one connection, remembering the id of the last.
fn follow(json_mode: bool, body: impl Read, last_id: &mut Option<String>) -> Stop {
    let mut reader = BufReader::new(body);
    let mut parser = SseParser::default();
    let out = io::stdout();
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(line)) => line,
            Ok(None) => return Stop::Lost("the node closed the stream".to_owned()),
            Err(e) => return Stop::Lost(e.to_string()),
        };
        let Some(event) = parser.line(&line) else {
            continue;
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

/// One line of the stream without its line ending; `None` at the end.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut bytes = Vec::new();
    let read = reader.take(LINE_BYTES_MAX).read_until(b'\n', &mut bytes)?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.last() != Some(&b'\n') {
        let problem = if read as u64 >= LINE_BYTES_MAX {
            "a line of the stream is too long"
        } else {
            "the stream ended mid-line"
        };
        return Err(io::Error::other(problem));
    }
    bytes.pop();
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| io::Error::other(anyhow!("a line of the stream is not UTF-8")))
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

    fn parse(text: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        text.lines().filter_map(|l| parser.line(l)).collect()
    }

    #[test]
    fn events_comments_and_multi_line_data() {
        let events = parse(
            ": keep-alive\n\nid: 3:0\nevent: register_parcel\ndata: {\"a\":1}\n\n\
             id:3\nevent:block\ndata: x\ndata: y\n\nevent: lonely\n\n",
        );
        assert_eq!(
            events,
            vec![
                SseEvent {
                    id: Some("3:0".into()),
                    event: "register_parcel".into(),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    id: Some("3".into()),
                    event: "block".into(),
                    data: "x\ny".into()
                },
            ]
        );
    }

    #[test]
    fn lines_are_bounded_and_whole() {
        let mut input: &[u8] = b"id: 1\r\ndata: x\npartial";
        assert_eq!(read_line(&mut input).unwrap().as_deref(), Some("id: 1"));
        assert_eq!(read_line(&mut input).unwrap().as_deref(), Some("data: x"));
        assert!(read_line(&mut input).is_err());
        let mut empty: &[u8] = b"";
        assert_eq!(read_line(&mut empty).unwrap(), None);
    }

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
