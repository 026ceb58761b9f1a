//! The API's limits against a real `kpnode dev`, over raw TCP: connections
//! beyond what its descriptors allow neither stop consensus nor the API;
//! headers sent too slowly, a body that never comes whole and an idle
//! kept-alive connection are each cut off in time, while an event stream
//! lives on.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use kp_tests::{DevNode, DevOptions};
use kp_wire::api::StatusView;
use tempfile::TempDir;

/// The open-files limit the node runs under, soft and hard: a common
/// default, which it cannot raise.
const NODE_OPEN_FILES_MAX: u32 = 1024;
/// Idle connections the test opens and holds: about twice what that
/// limit could ever serve.
const IDLE_CONNECTIONS: usize = 2000;
/// How long the connections are held before the node is asked anything:
/// long enough for many blocks (one per 100 ms here).
const HOLD: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/v1/status` may take to answer while the idle connections
/// are held, and why: its connection waits in the listen backlog behind
/// them; the node closes them in waves, each of up to its connection cap
/// (512 under this limit), one header-read timeout after it took them.
/// That is at most 2,000 / 512 + 1 = 5 waves of 1 s here, plus room for a
/// debug build on a busy machine.
const STATUS_LIMIT: Duration = Duration::from_secs(20);
/// How long the chain may take to grow a few more blocks afterwards.
const PROGRESS_LIMIT: Duration = Duration::from_secs(20);

/// Raises this process's own open-files limit to its hard limit, so that
/// the test can hold its connections.
fn raise_own_open_files_max() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .expect("raise the test's own open-files limit");
    let wanted = u64::try_from(IDLE_CONNECTIONS + 200).expect("fits");
    let raised = getrlimit(Resource::Nofile).current;
    assert!(
        raised.is_none_or(|n| n >= wanted),
        "this test needs an open-files limit of {wanted}; the hard limit is {raised:?}"
    );
}

fn status(node: &DevNode, limit: Duration) -> Result<StatusView, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limit))
        .build()
        .into();
    let url = format!("{}/v1/status", node.url());
    agent
        .get(&url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?
        .body_mut()
        .read_json()
        .map_err(|e| format!("GET {url}: {e}"))
}

#[test]
fn two_thousand_idle_connections_stop_neither_consensus_nor_the_api() {
    raise_own_open_files_max();
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DevOptions {
        args: [
            "--idle-block-ms",
            "100",
            "--api-header-read-timeout-ms",
            "1000",
        ]
        .map(str::to_owned)
        .to_vec(),
        open_files_max: Some(NODE_OPEN_FILES_MAX),
    };
    let mut node = DevNode::start_with(&dir.path().join("node"), "BW", &options).expect("node");
    let before = node.status().expect("status").height;

    let addr = SocketAddr::from(([127, 0, 0, 1], node.port));
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for i in 0..IDLE_CONNECTIONS {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => idle.push(stream),
            Err(e) => panic!("connection {i} of {IDLE_CONNECTIONS} failed: {e}"),
        }
    }
    std::thread::sleep(HOLD);

    let asked = Instant::now();
    let during = status(&node, STATUS_LIMIT).unwrap_or_else(|e| {
        panic!(
            "the node did not answer within {STATUS_LIMIT:?} while {IDLE_CONNECTIONS} \
             connections were held: {e}"
        )
    });
    eprintln!("status answered in {:?}", asked.elapsed());
    assert!(
        during.height > before,
        "no block in {HOLD:?} of idle connections: height {} then {}",
        before,
        during.height
    );
    let deadline = Instant::now() + PROGRESS_LIMIT;
    loop {
        let height = node.status().expect("status").height;
        if height >= during.height + 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the chain stalled at {height} after the idle connections"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(idle);
    let stopped = node.terminate().expect("the node stops");
    assert!(stopped.success(), "the node stopped with {stopped}");
}

/// The timeouts of the node the timeout tests run, short so that the tests
/// are (the defaults are ten to twenty times longer).
const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(1000);
const BODY_READ_TIMEOUT: Duration = Duration::from_millis(1000);
const IDLE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How much later than its timeout a connection may be closed: a debug
/// build on a busy machine.
const CLOSE_SLACK: Duration = Duration::from_secs(5);
/// How much earlier: none should be, as the test starts its clock before
/// it connects; this is for the granularity of timers.
const EARLY_SLACK: Duration = Duration::from_millis(50);
/// A slow client's pace: a header line this often, each well within the
/// header timeout, none of them finishing the headers.
const TRICKLE_INTERVAL: Duration = Duration::from_millis(250);

fn with_timeouts(home: &Path) -> DevNode {
    let ms = |d: Duration| d.as_millis().to_string();
    let args = [
        "--idle-block-ms".to_owned(),
        "100".to_owned(),
        "--api-header-read-timeout-ms".to_owned(),
        ms(HEADER_READ_TIMEOUT),
        "--api-body-read-timeout-ms".to_owned(),
        ms(BODY_READ_TIMEOUT),
        "--api-idle-timeout-ms".to_owned(),
        ms(IDLE_TIMEOUT),
    ];
    let options = DevOptions {
        args: args.to_vec(),
        open_files_max: None,
    };
    DevNode::start_with(home, "BW", &options).expect("node")
}

/// A connection that has sent a request to a node with the short timeouts
/// (in a directory of its own), and when it was opened: every timeout runs
/// from a moment after that.
struct Client {
    stream: TcpStream,
    opened: Instant,
    _node: DevNode,
    _dir: TempDir,
}

fn sent(request: &[u8]) -> Client {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = with_timeouts(&dir.path().join("node"));
    let addr = SocketAddr::from(([127, 0, 0, 1], node.port));
    let opened = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).expect("connect");
    stream
        .set_read_timeout(Some(TRICKLE_INTERVAL))
        .expect("read timeout");
    stream.write_all(request).expect("the request");
    Client {
        stream,
        opened,
        _node: node,
        _dir: dir,
    }
}

/// What one read of a connection found.
enum Read1 {
    Bytes(Vec<u8>),
    Nothing,
    Closed,
}

fn read_once(stream: &mut TcpStream) -> Read1 {
    let mut buffer = [0u8; 16 * 1024];
    match stream.read(&mut buffer) {
        Ok(0) => Read1::Closed,
        Ok(n) => Read1::Bytes(buffer[..n].to_vec()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Read1::Nothing,
        Err(_) => Read1::Closed,
    }
}

/// Reads until the node closes the connection, calling `meanwhile` between
/// reads (false from it: the connection is closed); returns everything read
/// and how long after its opening it closed, or fails once `limit` passes.
fn read_until_closed(
    client: &mut Client,
    limit: Duration,
    mut meanwhile: impl FnMut(&mut TcpStream) -> bool,
) -> (Vec<u8>, Duration) {
    let mut read = Vec::new();
    loop {
        match read_once(&mut client.stream) {
            Read1::Closed => return (read, client.opened.elapsed()),
            Read1::Bytes(bytes) => read.extend(bytes),
            Read1::Nothing => {}
        }
        if !meanwhile(&mut client.stream) {
            return (read, client.opened.elapsed());
        }
        assert!(
            client.opened.elapsed() < limit,
            "the connection was still open after {limit:?}; read: {}",
            String::from_utf8_lossy(&read)
        );
    }
}

fn assert_closed_in_time(what: &str, closed_after: Duration, timeout: Duration) {
    assert!(
        closed_after + EARLY_SLACK >= timeout,
        "{what}: closed after {closed_after:?}, before its timeout of {timeout:?}"
    );
    assert!(
        closed_after <= timeout + CLOSE_SLACK,
        "{what}: closed after {closed_after:?}, long after its timeout of {timeout:?}"
    );
}

#[test]
fn headers_sent_too_slowly_are_cut_off() {
    let mut client = sent(b"GET /v1/status HTTP/1.1\r\nhost: node\r\n");
    // A header line at a time, never the blank line that ends them.
    let mut line = 0;
    let (read, closed_after) =
        read_until_closed(&mut client, HEADER_READ_TIMEOUT + CLOSE_SLACK, |stream| {
            line += 1;
            stream
                .write_all(format!("x-slow-{line}: 1\r\n").as_bytes())
                .is_ok()
        });
    assert!(
        !String::from_utf8_lossy(&read).contains("200 OK"),
        "a request whose headers never ended was answered"
    );
    assert_closed_in_time("slow headers", closed_after, HEADER_READ_TIMEOUT);
}

#[test]
fn a_body_shorter_than_its_length_is_answered_408() {
    let mut client = sent(
        b"POST /v1/transactions HTTP/1.1\r\nhost: node\r\n\
              content-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"tx\":\"",
    );
    let (read, closed_after) =
        read_until_closed(&mut client, BODY_READ_TIMEOUT + CLOSE_SLACK, |_| true);
    let answer = String::from_utf8_lossy(&read);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "expected 408, got: {answer}"
    );
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_closed_in_time("short body", closed_after, BODY_READ_TIMEOUT);
}

#[test]
fn headers_too_long_are_refused() {
    // 200 KB of headers, in a few of them (hyper refuses more than 100
    // headers whatever their size): far more than any client sends. (hyper
    // checks the size between reads, so a little over 64 KiB may pass.)
    let mut request = b"GET /v1/status HTTP/1.1\r\nhost: node\r\n".to_vec();
    for i in 0..20 {
        request.extend(format!("x-long-{i}: {}\r\n", "a".repeat(10_000)).as_bytes());
    }
    request.extend(b"\r\n");
    let mut client = sent(&request);
    let (read, _) = read_until_closed(&mut client, CLOSE_SLACK, |_| true);
    let answer = String::from_utf8_lossy(&read);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "expected 431, got: {answer}"
    );
}

#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let mut client = sent(b"GET /v1/status HTTP/1.1\r\nhost: node\r\n\r\n");
    // The answer, then silence from both sides.
    let mut answer = Vec::new();
    let deadline = Instant::now() + CLOSE_SLACK;
    while !String::from_utf8_lossy(&answer).contains("\"chain_id\"") {
        assert!(Instant::now() < deadline, "no answer to GET /v1/status");
        match read_once(&mut client.stream) {
            Read1::Bytes(bytes) => answer.extend(bytes),
            Read1::Nothing => {}
            Read1::Closed => panic!("closed before the answer"),
        }
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let (_, closed_after) = read_until_closed(&mut client, IDLE_TIMEOUT + CLOSE_SLACK, |_| true);
    assert_closed_in_time("idle connection", closed_after, IDLE_TIMEOUT);
}

#[test]
fn an_event_stream_outlives_every_timeout() {
    let mut client = sent(b"GET /v1/events HTTP/1.1\r\nhost: node\r\n\r\n");
    // Blocks come every 100 ms: the stream carries one event each.
    let open_for = 2 * (HEADER_READ_TIMEOUT + BODY_READ_TIMEOUT + IDLE_TIMEOUT);
    let started = Instant::now();
    let mut read = Vec::new();
    let mut last_block_at = Instant::now();
    while started.elapsed() < open_for {
        match read_once(&mut client.stream) {
            Read1::Bytes(bytes) => {
                read.extend(bytes);
                last_block_at = Instant::now();
            }
            Read1::Nothing => {}
            Read1::Closed => panic!(
                "the event stream was closed after {:?}: {}",
                started.elapsed(),
                String::from_utf8_lossy(&read)
            ),
        }
        assert!(
            last_block_at.elapsed() < CLOSE_SLACK,
            "no event for {CLOSE_SLACK:?}"
        );
    }
    let text = String::from_utf8_lossy(&read);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.matches("event: block").count() >= 5,
        "few blocks streamed: {text}"
    );
}
