//! The node behind `kpnode`: its configuration and set-up, the engine's
//! consensus glue, transaction gossip, the mempool and the HTTP API. The
//! binary (`src/main.rs`) is only its command line; the library is what the
//! fuzz targets and in-process tests drive.

pub mod api;
pub mod consensus;
pub mod dev;
pub mod events;
pub mod gossip;
pub mod health;
pub mod home;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod rejections;
pub mod relay;
pub mod server;
pub mod setup;
