//! The event stream (`GET /v1/events`) of a real `kpnode dev`, and `kp watch`
//! over it: transactions arrive in ledger order with ids a client resumes
//! after (no duplicates, no gaps), a height beyond the tip waits for its
//! block, a bad start is refused with its code, and an open stream does not
//! hold up the node's shutdown.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use kp_crypto::keystore::read_key_file;
use kp_crypto::SecretKey;
use kp_ledger::model::Role;
use kp_ledger::tx::{Body, Transaction};
use kp_tests::{binary, content_type, DevNode, DEV_PASSPHRASE};
use kp_wire::api::{BlockEventView, TxEventView};
use kp_wire::sse::SseEvent;
use serde_json::Value;

/// Every wait for an event is bounded by this.
const EVENT_WAIT: Duration = Duration::from_secs(20);

/// Opens the stream from height `from`, or after the event `last_event_id`,
/// and reads it on a thread with the reader `kp watch` uses; events come
/// out of the receiver. The thread ends with the connection.
fn subscribe(node: &DevNode, from: u64, last_event_id: Option<&str>) -> Receiver<SseEvent> {
    let events = node
        .client()
        .events(Some(from), last_event_id)
        .expect("the stream opens");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for event in events.map_while(Result::ok) {
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

/// The id of an event of the stream, which every event carries.
fn id_of(event: &SseEvent) -> &str {
    event.id.as_deref().expect("an event id")
}

/// The next event, waited for (bounded).
fn next(events: &Receiver<SseEvent>) -> SseEvent {
    events
        .recv_timeout(EVENT_WAIT)
        .unwrap_or_else(|e| panic!("no event within {EVENT_WAIT:?}: {e}"))
}

/// Events until (and with) the one whose id is `last`.
fn until(events: &Receiver<SseEvent>, last: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    loop {
        let event = next(events);
        let done = id_of(&event) == last;
        out.push(event);
        if done {
            return out;
        }
    }
}

/// Enrolments signed by Botswana's authority, one per nonce, submitted
/// at once so that some share a block; their ids.
fn enrol_members(
    node: &DevNode,
    nonces: std::ops::RangeInclusive<u64>,
) -> Vec<kp_ledger::model::TxId> {
    let bw = read_key_file(&node.key_path("BW"), DEV_PASSPHRASE).expect("BW's key");
    let genesis = node.status().expect("status").genesis_hash;
    let client = node.client();
    nonces
        .map(|nonce| {
            let enrol = Body::EnrolMember {
                member: SecretKey::generate().public(),
                role: Role::Trader,
                name: format!("Trader {nonce}"),
                licence: format!("BW-T-{nonce}"),
                zone: None,
            };
            let tx = Transaction::signed(&bw, nonce, genesis, enrol);
            client
                .submit(&tx.to_bytes())
                .expect("the enrolment is accepted")
                .id
        })
        .collect()
}

/// Where a transaction was committed, as `HEIGHT:INDEX` (waits, bounded).
fn committed_id(node: &DevNode, id: &kp_ledger::model::TxId) -> String {
    let deadline = Instant::now() + EVENT_WAIT;
    loop {
        let status = node.client().tx(id).expect("status");
        if let (Some(height), Some(index)) = (status.height, status.index) {
            return format!("{height}:{index}");
        }
        assert!(Instant::now() < deadline, "{id} not committed in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Heights as the ids say: `H:I` and `H` both sit at height H.
fn height_of(id: &str) -> u64 {
    id.split(':')
        .next()
        .and_then(|h| h.parse().ok())
        .expect("an event id")
}

#[test]
fn events_stream_in_order_resume_wait_and_end_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = DevNode::start(&dir.path().join("node"), "BW,EU").expect("node");
    let url = node.url();

    // A bad start is refused with its code.
    let agent = kp_tests::agent();
    for (query, code) in [("from=abc", "bad_height"), ("from=0", "bad_height")] {
        let mut response = agent
            .get(&format!("{url}/v1/events?{query}"))
            .call()
            .expect("answer");
        assert_eq!(response.status().as_u16(), 400, "{query}");
        let body: Value = response.body_mut().read_json().expect("error body");
        assert_eq!(body["error"]["code"], code, "{query}");
    }
    let mut response = agent
        .get(&format!("{url}/events"))
        .header("last-event-id", "nine")
        .call()
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.body_mut().read_json().expect("error body");
    assert_eq!(body["error"]["code"], "bad_event_id");
    let response = agent
        .get(&format!("{url}/v1/events?from=1"))
        .call()
        .expect("the stream opens");
    let content_type = content_type(&response);
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    drop(response);

    // From height 1: every block in turn, and each transaction before its
    // block, under the id its status names.
    let live = subscribe(&node, 1, None);
    let ids = enrol_members(&node, 1..=3);
    let places: Vec<String> = ids.iter().map(|id| committed_id(&node, id)).collect();
    let seen = until(&live, &places[2]);
    let mut expected_height = 1;
    let mut txs = Vec::new();
    for event in &seen {
        if event.event == "block" {
            let block: BlockEventView = serde_json::from_str(&event.data).expect("block");
            assert_eq!(block.height, expected_height, "{seen:?}");
            assert_eq!(id_of(event), block.height.to_string());
            expected_height += 1;
        } else {
            let tx: TxEventView = serde_json::from_str(&event.data).expect("tx event");
            assert_eq!(tx.event.height, expected_height, "{seen:?}");
            assert_eq!(
                id_of(event),
                format!("{}:{}", tx.event.height, tx.event.index)
            );
            assert_eq!(
                (event.event.as_str(), tx.kind.as_str()),
                ("enrol_member", "enrol_member")
            );
            assert!(tx.summary.starts_with("enrolled "), "{}", tx.summary);
            txs.push((id_of(event).to_owned(), tx.event.tx));
        }
    }
    let want: Vec<_> = places.iter().cloned().zip(ids.iter().copied()).collect();
    assert_eq!(txs, want);

    // Resumed after the first transaction: the same events, none twice,
    // none missing, then live as before.
    let more = until(&live, &(height_of(&places[2]) + 2).to_string());
    let original: Vec<SseEvent> = seen.iter().chain(&more).cloned().collect();
    let first = original
        .iter()
        .position(|e| id_of(e) == places[0])
        .expect("first transaction");
    let last = id_of(&original[original.len() - 1]);
    let resumed = subscribe(&node, 1, Some(&places[0]));
    assert_eq!(until(&resumed, last), original[first + 1..].to_vec());

    // Beyond the tip: nothing until that block, then its events.
    let tip = node.status().expect("status").height;
    let ahead = subscribe(&node, tip + 3, None);
    let first_ahead = next(&ahead);
    assert_eq!(height_of(id_of(&first_ahead)), tip + 3, "{first_ahead:?}");
    assert!(node.status().expect("status").height >= tip + 3);

    // An open stream does not hold up SIGTERM, and ends with the node.
    let exit = node.terminate().expect("kpnode stops with a stream open");
    assert!(exit.success(), "{exit}");
    let deadline = Instant::now() + EVENT_WAIT;
    loop {
        match ahead.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            _ => assert!(Instant::now() < deadline, "the stream did not end"),
        }
    }
}

/// A `kp watch` that reconnects for ever: killed when the test ends,
/// whether it passes or fails.
struct KilledAtEnd(std::process::Child);

impl Drop for KilledAtEnd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kp_watch_json_prints_one_event_per_line_and_resumes_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = DevNode::start(&dir.path().join("node"), "BW,EU").expect("node");
    let mut watch = KilledAtEnd(
        Command::new(binary("kp"))
            .args(["--node", &node.url(), "watch", "--from", "1", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kp watch starts"),
    );
    let stdout = watch.0.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = enrol_members(&node, 1..=2);
    let mut places: Vec<String> = first.iter().map(|id| committed_id(&node, id)).collect();
    let mut seen = Vec::new();
    let mut blocks = Vec::new();
    let mut read_until = |last: &str, seen: &mut Vec<String>| {
        while seen.last().map(String::as_str) != Some(last) {
            let line = lines
                .recv_timeout(EVENT_WAIT)
                .unwrap_or_else(|e| panic!("no line from kp watch within {EVENT_WAIT:?}: {e}"));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let id = event["id"].as_str().expect("an id").to_owned();
            if event["event"] == "block" {
                blocks.push(height_of(&id));
            } else {
                assert_eq!(event["event"], "enrol_member", "{line}");
                assert_eq!(event["data"]["kind"], "enrol_member", "{line}");
                seen.push(id);
            }
        }
    };
    read_until(&places[1], &mut seen);

    // The node goes away and comes back: kp watch says so, reconnects and
    // goes on after the last event it printed.
    node.restart().expect("the node restarts");
    let later = enrol_members(&node, 3..=4);
    places.extend(later.iter().map(|id| committed_id(&node, id)));
    read_until(&places[3], &mut seen);
    assert_eq!(seen, places, "transactions once each, in order");
    let expected: Vec<u64> = (1..=blocks.len() as u64).collect();
    assert_eq!(blocks, expected, "every block once, in order");
    let _ = watch.0.kill();
    let _ = watch.0.wait();
    let mut stderr = String::new();
    if let Some(mut err) = watch.0.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert!(stderr.contains("reconnected"), "kp watch said: {stderr}");
}

#[test]
fn kp_watch_names_an_unreachable_node() {
    let port = kp_tests::free_port();
    let out = Command::new(binary("kp"))
        .args(["--node", &format!("http://127.0.0.1:{port}"), "watch"])
        .stdin(Stdio::null())
        .output()
        .expect("kp runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach the node"), "{stderr}");
}

/// `node/src/http/events.rs`, `EVENT_STREAMS_MAX`.
const EVENT_STREAMS_MAX: usize = 256;

/// Opens `GET /v1/events` on a raw connection and returns it with the
/// status code of the answer.
fn open_stream(port: u16) -> (std::net::TcpStream, u16) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(EVENT_WAIT))
        .expect("read timeout");
    stream
        .write_all(
            b"GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
        )
        .expect("request");
    let mut status_line = Vec::new();
    let mut byte = [0u8; 1];
    while !status_line.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).expect("status line");
        status_line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&status_line);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {line}"));
    (stream, status)
}

#[test]
fn open_event_streams_are_capped_and_a_closed_one_frees_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), "BW").expect("node");
    let mut open: Vec<std::net::TcpStream> = (0..EVENT_STREAMS_MAX)
        .map(|i| {
            let (stream, status) = open_stream(node.port);
            assert_eq!(status, 200, "stream {i}");
            stream
        })
        .collect();
    let (_, status) = open_stream(node.port);
    assert_eq!(status, 503, "one stream more than the cap");
    let error: Value = kp_tests::agent()
        .get(&format!("{}/v1/events", node.url()))
        .call()
        .expect("answer")
        .body_mut()
        .read_json()
        .expect("error body");
    assert_eq!(error["error"]["code"], "too_many_streams");

    // The node notices a client gone at its next write (an empty block's
    // event within about a second): its place is then free.
    drop(open.pop());
    let deadline = Instant::now() + EVENT_WAIT;
    loop {
        let (_, status) = open_stream(node.port);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place stays taken"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
