//! A harness for end-to-end tests: real `kpnode` and `kp` processes on
//! loopback ports chosen here, every wait bounded, every process stopped.
//!
//! The binaries come from the same target directory as the test itself:
//! `scripts/test` builds them before running the tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kp_ledger::api::StatusView;

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

/// A `kpnode dev` process with its own home, killed when dropped.
pub struct DevNode {
    pub home: PathBuf,
    pub port: u16,
    pub participants: String,
    child: Option<Child>,
}

impl DevNode {
    /// Starts a node in `home` (created on first start) and waits for its API.
    pub fn start(home: &Path, participants: &str) -> Result<DevNode> {
        let mut node = DevNode {
            home: home.to_path_buf(),
            port: free_port(),
            participants: participants.to_owned(),
            child: None,
        };
        node.spawn()?;
        Ok(node)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.with_extension("log"))
            .context("open node log")?;
        let child = Command::new(binary("kpnode"))
            .args(["dev", "--home"])
            .arg(&self.home)
            .args(["--api", &format!("127.0.0.1:{}", self.port)])
            .args(["--participants", &self.participants])
            .env("KP_PASSPHRASE", DEV_PASSPHRASE)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("clone log")?)
            .stderr(log)
            .spawn()
            .context("start kpnode dev")?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.status().is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(exit) = child.try_wait()? {
                    bail!(
                        "kpnode exited early ({exit}); see {}",
                        self.home.with_extension("log").display()
                    );
                }
            }
            if Instant::now() > deadline {
                bail!("kpnode did not answer within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn status(&self) -> Result<StatusView> {
        get_json(&format!("{}/v1/status", self.url()))
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("node is not running")
        };
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("send SIGTERM")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("kpnode did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the node again on the same home and port.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9();
        self.spawn()
    }

    /// Runs `kp` against this node.
    pub fn kp<S: AsRef<str>>(&self, args: &[S]) -> Output {
        Command::new(binary("kp"))
            .args(args.iter().map(AsRef::as_ref))
            .env("KP_NODE", self.url())
            .env("KP_PASSPHRASE", DEV_PASSPHRASE)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run kp: {e}"))
    }

    /// Runs `kp`, expects a refusal carrying `code` (one line on stderr,
    /// a non-zero exit) and checks that the state hash did not change.
    pub fn kp_refused<S: AsRef<str> + std::fmt::Debug>(&self, args: &[S], code: &str) {
        let before = self.status().map(|s| s.state_hash).ok();
        let out = self.kp(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success(),
            "kp {args:?} should fail, it printed {stdout}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line on stderr: {stderr}"
        );
        assert!(
            stderr.contains(code),
            "kp {args:?}: expected {code}, got: {stderr}"
        );
        let after = self.status().map(|s| s.state_hash).ok();
        assert_eq!(after, before, "kp {args:?} changed the state");
    }

    /// A new key file in `dir`, quick to decrypt; returns its path and public key.
    pub fn new_key(&self, dir: &Path, name: &str) -> (String, String) {
        let path = dir
            .join(format!("{name}.key"))
            .to_string_lossy()
            .into_owned();
        let out = self.kp(&[
            "key",
            "new",
            "--out",
            &path,
            "--work-factor",
            TEST_WORK_FACTOR,
        ]);
        let public = ok_stdout(&out, "kp key new");
        (path, public)
    }

    pub fn key_path(&self, code: &str) -> PathBuf {
        self.home.join("keys").join(format!("{code}.key"))
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T> {
    let agent = agent();
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    response
        .body_mut()
        .read_json()
        .with_context(|| format!("decode {url}"))
}

/// An HTTP client that gives up after a few seconds and hands back error
/// statuses as responses, for tests that look at them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
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
