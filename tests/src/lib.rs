//! A harness for end-to-end tests: real `kpnode` and `kp` processes on
//! loopback ports chosen here, every wait bounded, every process stopped.
//! [`DevNode`] runs a chain of one (`kpnode dev`); [`Cluster`] runs a
//! network of validators (`kpnode testnet`, then `kpnode run` each).
//!
//! The binaries come from the same target directory as the test itself:
//! `scripts/test` builds them before running the tests.

mod cluster;
mod links;
mod process;

use std::ffi::OsString;
use std::net::TcpListener;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::Result;
use kp_wire::client::Client;

pub use cluster::{write_testnet, Cluster, Joiner, Options, PortBlock};
pub use process::{NodeProcess, READY_LIMIT};

/// The passphrase `kpnode dev` encrypts its authority keys with in tests.
pub const DEV_PASSPHRASE: &str = "dev";
/// scrypt cost for keys made in tests: quick, since they guard nothing.
pub const TEST_WORK_FACTOR: &str = "10";

/// The directory holding the workspace's binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    // The test runs as target/debug/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test` (it builds the binaries before the tests)",
        path.display()
    );
    path
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A `kpnode dev` process with its own home, killed when dropped. It is
/// used as the [`NodeProcess`] it runs: `node.kp(..)`, `node.restart()`.
pub struct DevNode {
    pub home: PathBuf,
    pub port: u16,
    pub participants: String,
    process: NodeProcess,
}

impl DevNode {
    /// Starts a node in `home` (created on first start) and waits for its API.
    pub fn start(home: &Path, participants: &str) -> Result<DevNode> {
        DevNode::start_with(home, participants, &DevOptions::default())
    }

    /// The same, with `options`.
    pub fn start_with(home: &Path, participants: &str, options: &DevOptions) -> Result<DevNode> {
        let port = free_port();
        let mut args = vec![
            OsString::from("dev"),
            "--home".into(),
            home.into(),
            "--api".into(),
            format!("127.0.0.1:{port}").into(),
            "--participants".into(),
            participants.into(),
        ];
        args.extend(options.args.iter().map(OsString::from));
        let mut process = NodeProcess::new(args, port, home.with_extension("log"));
        if let Some(max) = options.open_files_max {
            process = process.with_open_files_max(max);
        }
        process.spawn()?;
        process.wait_ready(READY_LIMIT)?;
        Ok(DevNode {
            home: home.to_path_buf(),
            port,
            participants: participants.to_owned(),
            process,
        })
    }

    pub fn key_path(&self, code: &str) -> PathBuf {
        self.home.join("keys").join(format!("{code}.key"))
    }
}

/// How a [`DevNode`] runs, beyond its home and Participants.
#[derive(Debug, Clone, Default)]
pub struct DevOptions {
    /// More arguments for `kpnode dev`.
    pub args: Vec<String>,
    /// The open-files limit it runs under (see [`NodeProcess::with_open_files_max`]).
    pub open_files_max: Option<u32>,
}

impl Deref for DevNode {
    type Target = NodeProcess;

    fn deref(&self) -> &NodeProcess {
        &self.process
    }
}

impl DerefMut for DevNode {
    fn deref_mut(&mut self) -> &mut NodeProcess {
        &mut self.process
    }
}

/// A dev chain of Botswana and the EU with a miner and an exporter in
/// Botswana and an importer in the EU: the cast of a shipment.
pub struct BwToEu {
    pub node: DevNode,
    /// Authority key files.
    pub bw: String,
    pub eu: String,
    /// Key files and public keys of the members.
    pub miner: String,
    pub exporter_key: String,
    pub exporter: String,
    pub importer_key: String,
    pub importer: String,
}

impl BwToEu {
    pub fn start(dir: &Path) -> Result<BwToEu> {
        let node = DevNode::start(&dir.join("node"), "BW,EU")?;
        let bw = node.key_path("BW").to_string_lossy().into_owned();
        let eu = node.key_path("EU").to_string_lossy().into_owned();
        let (miner, _) = node.member(dir, &bw, "miner", "miner");
        let (exporter_key, exporter) = node.member(dir, &bw, "exporter", "exporter");
        let (importer_key, importer) = node.member(dir, &eu, "importer", "importer");
        Ok(BwToEu {
            node,
            bw,
            eu,
            miner,
            exporter_key,
            exporter,
            importer_key,
            importer,
        })
    }
}

/// How long one request of a test may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// The API of the node at `url`, as `kp` calls it, each request bounded.
pub fn client(url: &str) -> Client {
    Client::with_timeout(url, REQUEST_LIMIT)
}

/// A response's `Content-Type`, or nothing.
pub fn content_type(response: &ureq::http::Response<ureq::Body>) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A plain HTTP agent that gives up after a few seconds and hands back
/// error statuses as responses: for the tests of the HTTP layer itself
/// (malformed queries, headers, limits). Everything else goes through
/// [`client`].
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_LIMIT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// The arguments of `kp member enroll`: the authority whose key file is
/// `authority_key` licenses `member` (a public key) as `role`.
pub fn enroll_args(
    authority_key: &str,
    member: &str,
    role: &str,
    name: &str,
    licence: &str,
) -> Vec<String> {
    let args = [
        "member",
        "enroll",
        "--key",
        authority_key,
        "--member",
        member,
    ];
    let rest = ["--role", role, "--name", name, "--licence", licence];
    args.into_iter().chain(rest).map(str::to_owned).collect()
}

/// The arguments of `kp parcel register` for a small parcel from the
/// Orapa mine, as the tests register them: `origin`, `zone` (if any),
/// `carats` and `hs` vary, the rest does not matter to them.
pub fn register_args(
    key_file: &str,
    origin: &str,
    zone: Option<&str>,
    carats: &str,
    hs: &str,
) -> Vec<String> {
    let mut args = vec!["parcel", "register", "--key", key_file, "--origin", origin];
    if let Some(zone) = zone {
        args.extend(["--zone", zone]);
    }
    args.extend(["--mine", "Orapa", "--carats", carats, "--stones", "5"]);
    args.extend(["--value-usd", "900.00", "--hs", hs]);
    args.into_iter().map(str::to_owned).collect()
}

/// What `kp cert issue` needs to certify `parcels` from `exporter` to
/// `importer` in Participant `to`.
pub struct Shipment<'a> {
    pub authority_key: &'a str,
    pub number: &'a str,
    pub exporter: &'a str,
    pub importer: &'a str,
    pub to: &'a str,
    pub parcels: &'a [&'a str],
    pub hs: &'a str,
    pub expires: &'a str,
    /// The declared value in US$ (`--value-usd`); `None`: the parcels'.
    pub value_usd: Option<&'a str>,
}

/// `kp cert issue` arguments for `shipment`.
pub fn cert_issue_args(shipment: &Shipment<'_>) -> Vec<String> {
    let mut args = vec!["cert", "issue", "--key", shipment.authority_key];
    args.extend(["--number", shipment.number]);
    args.extend([
        "--exporter",
        shipment.exporter,
        "--importer",
        shipment.importer,
    ]);
    args.extend(["--to", shipment.to]);
    for parcel in shipment.parcels {
        args.extend(["--parcel", parcel]);
    }
    args.extend(["--hs", shipment.hs, "--expires", shipment.expires]);
    if let Some(usd) = shipment.value_usd {
        args.extend(["--value-usd", usd]);
    }
    args.into_iter().map(str::to_owned).collect()
}

/// `kp cert receive` arguments: the importing authority's figures.
pub fn cert_receive_args(
    authority_key: &str,
    number: &str,
    carats: &str,
    parcels: &str,
) -> Vec<String> {
    [
        "cert",
        "receive",
        "--key",
        authority_key,
        "--number",
        number,
        "--carats",
        carats,
        "--parcels",
        parcels,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// stdout of a successful `kp` run, trimmed; panics with its stderr otherwise.
pub fn ok_stdout(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
