//! Network links the test controls: a TCP relay between one node and a
//! peer's port, which the test can cut (closing every connection through it
//! and refusing new ones) and heal. Nodes that reach each other only
//! through such links can be partitioned without privileges or namespaces.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

struct LinkState {
    open: AtomicBool,
    stopping: AtomicBool,
    /// Both ends of every connection relayed, to close them on a cut.
    streams: Mutex<Vec<TcpStream>>,
}

impl LinkState {
    fn streams(&self) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close_all(&self) {
        for stream in self.streams().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// One relayed port: connections to `addr()` reach `target` while open.
pub struct Link {
    addr: SocketAddr,
    state: Arc<LinkState>,
}

impl Link {
    fn start(listener: TcpListener, target: SocketAddr) -> Result<Link> {
        let addr = listener.local_addr().context("link address")?;
        let state = Arc::new(LinkState {
            open: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let accepting = state.clone();
        thread::spawn(move || {
            for incoming in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(inbound) = incoming else { continue };
                if !accepting.open.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                if let Err(e) = relay(inbound, target, &accepting) {
                    eprintln!("link to {target}: {e}");
                }
            }
        });
        Ok(Link { addr, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection through the link and refuses new ones.
    pub fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        self.state.close_all();
    }

    pub fn heal(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accepting thread so that it sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Connects `inbound` to `target` and copies bytes both ways on two threads.
fn relay(inbound: TcpStream, target: SocketAddr, state: &Arc<LinkState>) -> io::Result<()> {
    let outbound = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    let (in_read, out_write) = (inbound.try_clone()?, outbound.try_clone()?);
    {
        let mut streams = state.streams();
        streams.push(inbound.try_clone()?);
        streams.push(outbound.try_clone()?);
    }
    thread::spawn(move || copy(in_read, out_write));
    thread::spawn(move || copy(outbound, inbound));
    Ok(())
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The two links from one node to one peer: consensus, and transaction
/// gossip on the port after it (as `kpnode` derives the gossip port from a
/// peer's consensus address).
pub struct PeerLink {
    pub consensus: Link,
    pub gossip: Link,
}

impl PeerLink {
    /// Relays to a peer listening for consensus on `port` (and for gossip
    /// on `port + 1`), from two adjacent free loopback ports.
    pub fn start(port: u16) -> Result<PeerLink> {
        let (first, second) = adjacent_listeners()?;
        Ok(PeerLink {
            consensus: Link::start(first, SocketAddr::from(([127, 0, 0, 1], port)))?,
            gossip: Link::start(second, SocketAddr::from(([127, 0, 0, 1], port + 1)))?,
        })
    }

    /// The consensus address to give the node as this peer's.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.consensus.addr().port())
    }

    pub fn cut(&self) {
        self.consensus.cut();
        self.gossip.cut();
    }

    pub fn heal(&self) {
        self.consensus.heal();
        self.gossip.heal();
    }
}

/// Two listeners on consecutive loopback ports.
fn adjacent_listeners() -> Result<(TcpListener, TcpListener)> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").context("bind a link port")?;
        let port = first.local_addr().context("link address")?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if let Ok(second) = TcpListener::bind(("127.0.0.1", next)) {
            return Ok((first, second));
        }
    }
    anyhow::bail!("no two adjacent free loopback ports after 50 tries")
}
