//! One `kpnode` process, as the end-to-end tests run it: output appended to
//! a log file, its API waited for (bounded), killed or stopped on demand and
//! started again with the same arguments. `DevNode` and `Cluster` both run
//! their nodes through it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kp_wire::api::{ParcelView, StatusView};

use kp_wire::client::Client;

use crate::{binary, client, enroll_args, ok_stdout, DEV_PASSPHRASE, TEST_WORK_FACTOR};

/// How long a node may take from start to answering its API: a debug build
/// opening its store and, after a crash, replaying its write-ahead log, on a
/// machine that may be building something else at the same time.
pub const READY_LIMIT: Duration = Duration::from_secs(60);
/// How long a node may take to exit after SIGTERM.
const TERMINATE_LIMIT: Duration = Duration::from_secs(20);
/// How much of a node's log a failure shows.
const LOG_TAIL_LINES: usize = 40;
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A `kpnode` serving its API on `127.0.0.1:port`; killed when dropped, and
/// then, if the test is failing, the tail of its log is printed.
pub struct NodeProcess {
    /// `kpnode`, or a build of it for fault tests.
    binary: &'static str,
    /// Its arguments, the same at every start.
    args: Vec<OsString>,
    port: u16,
    log: PathBuf,
    /// The open-files limit (soft and hard) it runs under, if lowered.
    open_files_max: Option<u32>,
    child: Option<Child>,
}

impl NodeProcess {
    /// A node not started yet: `kpnode ARGS`, serving its API on `port`
    /// (which `args` must say), its output appended to `log`.
    pub fn new(args: Vec<OsString>, port: u16, log: PathBuf) -> NodeProcess {
        NodeProcess {
            binary: "kpnode",
            args,
            port,
            log,
            open_files_max: None,
            child: None,
        }
    }

    /// The same, run from another build of kpnode in the same directory
    /// (`kpnode-byzantine`, which `scripts/test` builds).
    pub fn with_binary(mut self, binary: &'static str) -> NodeProcess {
        self.binary = binary;
        self
    }

    /// The same, run under an open-files limit of `max` descriptors, soft
    /// and hard (set by a shell that then becomes the node), so that the
    /// node cannot raise it.
    pub fn with_open_files_max(mut self, max: u32) -> NodeProcess {
        self.open_files_max = Some(max);
        self
    }

    /// Starts the process and returns at once; see [`NodeProcess::wait_ready`].
    pub fn spawn(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("kpnode (API port {}) is already running", self.port);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open node log {}", self.log.display()))?;
        let mut command = match self.open_files_max {
            None => Command::new(binary(self.binary)),
            Some(max) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {max} && exec \"$0\" \"$@\""))
                    .arg(binary(self.binary));
                shell
            }
        };
        let child = command
            .args(&self.args)
            .env("KP_PASSPHRASE", DEV_PASSPHRASE)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("clone log")?)
            .stderr(log)
            .spawn()
            .context("start kpnode")?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the API answers; fails, with the end of the log, if the
    /// process exits first or `limit` passes.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.status().is_ok() {
                return Ok(());
            }
            let Some(child) = self.child.as_mut() else {
                bail!("kpnode (API port {}) is not running", self.port);
            };
            if let Some(exit) = child.try_wait()? {
                self.child = None;
                bail!("kpnode exited early ({exit}); {}", self.log_tail());
            }
            if Instant::now() > deadline {
                bail!(
                    "kpnode did not answer on {} within {limit:?}; {}",
                    self.url(),
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its API, as `kp` calls it.
    pub fn client(&self) -> Client {
        client(&self.url())
    }

    pub fn status(&self) -> Result<StatusView> {
        Ok(self.client().status()?)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("node is not running")
        };
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("send SIGTERM")?;
        let deadline = Instant::now() + TERMINATE_LIMIT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("kpnode did not stop within {TERMINATE_LIMIT:?} of SIGTERM");
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Kills the node if it runs, starts it again with the same arguments
    /// (same home, same ports) and waits for its API.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9();
        self.spawn()?;
        self.wait_ready(READY_LIMIT)
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

    /// `kp parcel show ID --json`, read back.
    pub fn parcel(&self, id: &str) -> ParcelView {
        let out = self.kp(&["parcel", "show", id, "--json"]);
        let json = ok_stdout(&out, "kp parcel show");
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("kp parcel show --json: {e}"))
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

    /// A new key in `dir`, enrolled by the authority of key file
    /// `authority_key` as `role`, named and licensed for a test; its key
    /// file and public key.
    pub fn member(
        &self,
        dir: &Path,
        authority_key: &str,
        name: &str,
        role: &str,
    ) -> (String, String) {
        let (key, public) = self.new_key(dir, name);
        ok_stdout(
            &self.kp(&enroll_args(authority_key, &public, role, name, "L-1")),
            "enrol",
        );
        (key, public)
    }

    /// Moves `parcel` from the member of key file `from_key` to the one of
    /// key file `to_key` and public key `to`: an offer, then its acceptance.
    pub fn hand_over(&self, from_key: &str, parcel: &str, to_key: &str, to: &str) {
        let offer = ok_stdout(
            &self.kp(&[
                "transfer", "offer", "--key", from_key, "--parcel", parcel, "--to", to,
            ]),
            "transfer offer",
        );
        ok_stdout(
            &self.kp(&["transfer", "accept", "--key", to_key, "--transfer", &offer]),
            "transfer accept",
        );
    }

    /// The last lines of the log, introduced by its path, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!(
            "last {} lines of {}:\n{tail}",
            LOG_TAIL_LINES.min(lines.len()),
            self.log.display()
        )
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "\n--- kpnode on API port {}, {}",
                self.port,
                self.log_tail()
            );
        }
    }
}
