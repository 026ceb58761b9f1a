//! The load's own HTTP/1.1 client: one keep-alive connection, one request
//! at a time, `Content-Length` bodies only (what the node's API sends).
//!
//! A general client spends most of its time on what the load never needs
//! (URL parsing, header maps, pools, redirects); on a 2-core machine that
//! time comes out of the cluster under test. This one writes a request in
//! one syscall and reads the answer through a buffer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Answers larger than this are not the API's and end the connection.
const ANSWER_BYTES_MAX: usize = 1 << 20;

pub struct Connection {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
}

impl Connection {
    /// Connects on first use, and again after any failure.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Connection {
            addr,
            timeout,
            stream: None,
            request: Vec::new(),
        }
    }

    /// POSTs a JSON body to `path`; returns the status and the answer's
    /// text. A failed exchange closes the connection: the next call opens
    /// a new one rather than read a stale answer.
    pub fn post_json(&mut self, path: &str, body: &str) -> Result<(u16, String)> {
        let answer = self.exchange(path, body);
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    fn exchange(&mut self, path: &str, body: &str) -> Result<(u16, String)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let Some(stream) = self.stream.as_mut() else {
            bail!("no connection to {}", self.addr);
        };
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        self.request.extend_from_slice(body.as_bytes());
        stream
            .get_mut()
            .write_all(&self.request)
            .with_context(|| format!("POST {path} to {}", self.addr))?;
        read_answer(stream)
            .with_context(|| format!("POST {path} to {}: reading the answer", self.addr))
    }
}

/// Reads one answer: status line, headers, and a `Content-Length` body.
fn read_answer(stream: &mut BufReader<TcpStream>) -> Result<(u16, String)> {
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP status line: {:?}", line.trim_end()))?;
    let mut length = None;
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 {
            bail!("the connection closed inside the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("a bad content-length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("a {value} answer; only content-length bodies are read");
            }
        }
    }
    let length = length.context("an answer without content-length")?;
    if length > ANSWER_BYTES_MAX {
        bail!("an answer of {length} bytes");
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok((
        status,
        String::from_utf8(body).context("an answer that is not UTF-8")?,
    ))
}
