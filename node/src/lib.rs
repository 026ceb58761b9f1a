//! The node behind `kpnode`: its configuration and set-up, the engine's
//! consensus glue, transaction gossip, the mempool and the HTTP API. The
//! binary (`src/main.rs`) is only its command line; the library is what the
//! fuzz targets and in-process tests drive.
//!
//! The node is a few services, each owning its state behind a handle:
//! the chain view (`chain`), the mempool (`mempool`), admission of API
//! submissions (`admission`) and transaction gossip (`gossip`). Consensus
//! (`consensus`), the relay between gossip and mempool (`relay`) and the
//! HTTP layer (`http`, served by `server`) work through those handles, and
//! `node` only wires them together.

pub mod admission;
pub mod chain;
pub mod clock;
pub mod consensus;
pub mod dev;
pub mod gossip;
pub mod home;
pub mod http;
pub mod lock;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod peers;
pub mod relay;
pub mod server;
pub mod setup;
#[cfg(test)]
mod testing;
