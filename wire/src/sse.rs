//! Server-sent events, as the node's event stream (`GET /v1/events`) sends
//! them: `field: value` lines, comments after `:`, a blank line ending each
//! event. Read from any [`BufRead`], every line bounded, so that `kp watch`
//! and the tests read the stream the same way.
//!
//! Written here: the client crates for the format bring their own HTTP
//! client or an async runtime, where this reads ureq's blocking body, and
//! the format's rules for what the node sends fit in this one file.

use std::io::{self, BufRead, Read};

/// No line of the stream is longer than a block's event is; past this it is
/// not the node speaking.
pub const LINE_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// One server-sent event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `12` for a block, `12:0` for a block's first transaction.
    pub id: Option<String>,
    /// `block`, a transaction's kind, or `error` when the node ends the stream.
    pub event: String,
    pub data: String,
}

/// The events of one stream, in order; `None` when the stream ends between
/// events.
pub struct SseReader<R> {
    lines: R,
    current: SseEvent,
    has_data: bool,
}

impl<R: BufRead> SseReader<R> {
    pub fn new(lines: R) -> SseReader<R> {
        SseReader {
            lines,
            current: SseEvent::default(),
            has_data: false,
        }
    }

    /// The next whole event. A line over [`LINE_BYTES_MAX`], one cut off by
    /// the end of the stream, or one that is not UTF-8 is an error.
    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        loop {
            let Some(line) = read_line(&mut self.lines)? else {
                return Ok(None);
            };
            if let Some(event) = self.line(&line) {
                return Ok(Some(event));
            }
        }
    }

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

impl<R: BufRead> Iterator for SseReader<R> {
    type Item = io::Result<SseEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
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
        .map_err(|_| io::Error::other("a line of the stream is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<SseEvent> {
        SseReader::new(text.as_bytes())
            .collect::<io::Result<_>>()
            .unwrap()
    }

    #[test]
    fn events_comments_and_multi_line_data() {
        let events = parse(
            ": keep-alive\n\nid: 3:0\nevent: register_parcel\ndata: {\"a\":1}\n\n\
             id:3\r\nevent:block\ndata: x\ndata: y\n\nevent: lonely\n\n",
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
        let mut not_utf8: &[u8] = b"data: \xff\n";
        assert!(read_line(&mut not_utf8).is_err());
        let long = vec![b'x'; LINE_BYTES_MAX as usize + 1];
        let error = read_line(&mut long.as_slice()).unwrap_err();
        assert_eq!(error.to_string(), "a line of the stream is too long");
    }

    #[test]
    fn a_cut_stream_never_yields_a_partial_event() {
        // Cut mid-line: an error, so that the caller reconnects.
        let mut reader = SseReader::new(&b"id: 1\ndata: {\"a\""[..]);
        assert!(reader.next_event().is_err());
        // Cut between lines, before the blank line that ends the event: the
        // stream is over and the half event is never handed out.
        let mut ended = SseReader::new(&b"id: 1\ndata: x\n"[..]);
        assert_eq!(ended.next_event().unwrap(), None);
    }
}
