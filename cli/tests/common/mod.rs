//! Helpers for running the built `kp` binary, and a stand-in node: a tiny
//! HTTP server answering from a closure, so that the wallet's whole write
//! path (nonce, chain id, signing, submission, waiting) is tested without a
//! real node. End-to-end tests against `kpnode` live in `tests/`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

pub const PASSPHRASE: &str = "correct horse battery staple";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `kp` with no terminal, no inherited `KP_NODE`, and `KP_PASSPHRASE`
/// set unless `passphrase` is `None`.
pub fn kp_with(args: &[&str], passphrase: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kp"));
    cmd.args(args)
        .env_remove("KP_NODE")
        .env_remove("KP_PASSPHRASE")
        .stdin(Stdio::null());
    if let Some(p) = passphrase {
        cmd.env("KP_PASSPHRASE", p);
    }
    Run::from(cmd.output().expect("run kp"))
}

pub fn kp(args: &[&str]) -> Run {
    kp_with(args, Some(PASSPHRASE))
}

/// A new key file at `path` (cheap scrypt); returns its public key.
pub fn new_key(path: &Path) -> String {
    let run = kp(&[
        "key",
        "new",
        "--out",
        path.to_str().unwrap(),
        "--work-factor",
        "4",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_owned()
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: String,
}

pub struct MockNode {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl MockNode {
    /// Serves until the test process ends; `answer` gives (status, JSON body).
    pub fn start(answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> MockNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Some(req) = read_request(&stream) {
                    seen.lock().unwrap().push(req.clone());
                    let (status, body) = answer(&req);
                    respond(stream, status, &body);
                }
            }
        });
        MockNode { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(mut stream: TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}
