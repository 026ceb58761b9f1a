//! Every way `kpnode dev` and `kpnode run` can fail to start ends alike: the
//! process exits non-zero within seconds, and the last line it writes on
//! stderr names what is wrong. (A node whose API address was taken used to
//! print nothing and hang, deaf to SIGTERM.)

use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kp_tests::{binary, free_port, write_testnet, DevNode, DEV_PASSPHRASE};

/// How long a failing start may take. A debug build reading its files and
/// opening its database on a busy two-core machine needs a second or two;
/// a node that hangs never exits, so any bound tells the two apart.
const EXIT_LIMIT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// One way to fail: the command, and what its last line must say.
struct Case {
    name: &'static str,
    command: Command,
    /// Fragments the last line of stderr must hold, after the command's
    /// own prefix (`kpnode dev: ` or `kpnode run: `).
    expect: Vec<String>,
    /// A loopback port taken, as another program would, while it runs.
    taken: Option<u16>,
}

impl Case {
    fn new(name: &'static str, command: Command, expect: &[&str]) -> Case {
        Case {
            name,
            command,
            expect: expect.iter().map(|s| (*s).to_owned()).collect(),
            taken: None,
        }
    }

    fn taking(mut self, port: u16) -> Case {
        self.taken = Some(port);
        self
    }
}

fn kpnode<S: Into<OsString>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(binary("kpnode"));
    command
        .args(args.into_iter().map(Into::into))
        .env("KP_PASSPHRASE", DEV_PASSPHRASE)
        .env("RUST_LOG", "info");
    command
}

/// `kpnode ARGS` under an open-files limit of `max`, soft and hard, set by
/// a shell that then becomes the node, so that the node cannot raise it.
fn kpnode_with_open_files_max(max: u32, args: Vec<OsString>) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {max} && exec \"$0\" \"$@\""))
        .arg(binary("kpnode"))
        .args(args)
        .env("KP_PASSPHRASE", DEV_PASSPHRASE)
        .env("RUST_LOG", "info");
    command
}

fn dev_args(home: &Path, api_port: u16) -> Vec<OsString> {
    vec![
        "dev".into(),
        "--home".into(),
        home.into(),
        "--api".into(),
        format!("127.0.0.1:{api_port}").into(),
        "--participants".into(),
        "BW,EU".into(),
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("read the home") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Runs `case` (bounded) and says what went wrong, if anything.
fn check(mut case: Case, logs: &Path) -> Result<(), String> {
    let name = case.name;
    let _taken = case
        .taken
        .map(|port| TcpListener::bind(("127.0.0.1", port)))
        .transpose()
        .map_err(|e| format!("{name}: cannot take the port: {e}"))?;
    let stderr_path = logs.join(format!("{}.stderr", name.replace([' ', ':', '/'], "_")));
    let stderr = fs::File::create(&stderr_path).map_err(|e| format!("{name}: log: {e}"))?;
    let mut child = case
        .command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{name}: wait: {e}"))? {
            break status;
        }
        if started.elapsed() > EXIT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name}: still running after {EXIT_LIMIT:?}"));
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let text = fs::read_to_string(&stderr_path).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if status.success() || status.code().is_none() {
        return Err(format!(
            "{name}: exited with {status}, not an error code: {last}"
        ));
    }
    let prefixed = last.starts_with("kpnode dev: ") || last.starts_with("kpnode run: ");
    let missing: Vec<&String> = case.expect.iter().filter(|e| !last.contains(*e)).collect();
    if !prefixed || !missing.is_empty() {
        return Err(format!(
            "{name}: the last line should name {:?}, it is: {last}",
            case.expect
        ));
    }
    Ok(())
}

fn check_all(cases: Vec<Case>, logs: &Path) {
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|case| check(case, logs).err())
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A dev home that has run once: genesis, keys, validator key, database.
fn dev_home(dir: &Path) -> PathBuf {
    let home = dir.join("dev");
    let mut node = DevNode::start(&home, "BW,EU").expect("a dev node starts");
    let stopped = node.terminate().expect("it stops");
    assert!(stopped.success(), "the dev node stopped with {stopped}");
    home
}

/// Removes the format a database records, as an older `kpnode` wrote it.
fn unversion(db: &Path) {
    let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(db).expect("open the database");
    let txn = db.begin_write().expect("write");
    txn.open_table(meta)
        .expect("the meta table")
        .remove("format")
        .expect("remove the format");
    txn.commit().expect("commit");
}

/// A broken copy of a dev home: what is wrong, how to break it, and what
/// the node must then say.
type Broken = (&'static str, fn(&Path), &'static [&'static str]);

const BROKEN_DEV_HOMES: &[Broken] = &[
    (
        "dev: genesis.json malformed",
        |home| write(&home.join("genesis.json"), "{"),
        &["genesis.json", "is not a genesis file"],
    ),
    (
        "dev: keys but no genesis",
        |home| remove(&home.join("genesis.json")),
        &["holds keys but no genesis.json"],
    ),
    (
        "dev: validator key missing",
        |home| remove(&home.join("node/validator.key")),
        &["cannot read", "node/validator.key"],
    ),
    (
        "dev: validator key malformed",
        |home| write(&home.join("node/validator.key"), "not hex\n"),
        &["node/validator.key", "64-hex-character key"],
    ),
    (
        "dev: validator key of another chain",
        |home| write(&home.join("node/validator.key"), &"17".repeat(32)),
        &["is not the validator key of BW"],
    ),
    (
        "dev: database of another genesis",
        |home| {
            let path = home.join("genesis.json");
            let mut genesis: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("JSON");
            let time = genesis["genesis_time"].as_u64().expect("a genesis time");
            genesis["genesis_time"] = (time + 1).into();
            write(&path, &genesis.to_string());
        },
        &["data/ledger.redb", "belongs to genesis"],
    ),
    (
        "dev: database of another format",
        |home| unversion(&home.join("data/ledger.redb")),
        &["data/ledger.redb", "unversioned format"],
    ),
    (
        "dev: database file is no database",
        |home| write(&home.join("data/ledger.redb"), "not a database"),
        &["cannot open the ledger database", "data/ledger.redb"],
    ),
    (
        "dev: write-ahead log not a directory",
        |home| {
            fs::remove_dir_all(home.join("data/wal")).expect("remove the write-ahead log");
            write(&home.join("data/wal"), "not a directory");
        },
        &["cannot create", "data/wal"],
    ),
];

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn remove(path: &Path) {
    fs::remove_file(path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
}

#[test]
fn dev_that_cannot_start_exits_at_once_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dev_home(dir.path());
    let mut cases = Vec::new();
    for (i, (name, breaking, expect)) in BROKEN_DEV_HOMES.iter().enumerate() {
        let home = dir.path().join(format!("broken{i}"));
        copy_dir(&base, &home);
        breaking(&home);
        cases.push(Case::new(
            name,
            kpnode(dev_args(&home, free_port())),
            expect,
        ));
    }

    let port = free_port();
    cases.push(
        Case::new(
            "dev: API address taken",
            kpnode(dev_args(&base, port)),
            &[&format!("127.0.0.1:{port}"), "in use"],
        )
        .taking(port),
    );

    let port = free_port();
    cases.push(
        Case::new(
            "dev: API address taken on the first run",
            kpnode(dev_args(&dir.path().join("fresh"), port)),
            &[&format!("127.0.0.1:{port}"), "in use"],
        )
        .taking(port),
    );

    let file = dir.path().join("a-file");
    write(&file, "not a directory");
    let under_file = file.join("home");
    cases.push(Case::new(
        "dev: home under a file",
        kpnode(dev_args(&under_file, free_port())),
        &["cannot create", &under_file.display().to_string()],
    ));

    let mut unknown = kpnode(["dev", "--participants", "BW,XQ", "--home"]);
    unknown.arg(dir.path().join("unknown"));
    unknown.args(["--api", &format!("127.0.0.1:{}", free_port())]);
    cases.push(Case::new(
        "dev: an unknown Participant",
        unknown,
        &["XQ is not a Participant"],
    ));

    cases.push(Case::new(
        "dev: open-files limit below the node's reserve",
        kpnode_with_open_files_max(200, dev_args(&base, free_port())),
        &["the open-files limit (200)", "ulimit -n"],
    ));

    // Last: the base home itself runs, and a second node is started on it.
    let running = DevNode::start(&base, "BW,EU").expect("the base home runs");
    cases.push(Case::new(
        "dev: database in use",
        kpnode(dev_args(&base, free_port())),
        &["data/ledger.redb", "in use"],
    ));
    check_all(cases, dir.path());
    drop(running);
}

/// The consensus port in a `kpnode testnet` home's `node.json`.
fn consensus_port(home: &Path) -> u16 {
    let text = fs::read_to_string(home.join("node.json")).expect("node.json");
    let settings: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let listen = settings["listen"].as_str().expect("a listen address");
    let port = listen.rsplit('/').next().expect("a port");
    port.parse().expect("a port number")
}

fn api_port(home: &Path) -> u16 {
    let text = fs::read_to_string(home.join("node.json")).expect("node.json");
    let settings: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let api = settings["api"].as_str().expect("an API address");
    api.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

fn run_args(home: &Path, genesis: &Path) -> Vec<OsString> {
    vec![
        "run".into(),
        "--home".into(),
        home.into(),
        "--genesis".into(),
        genesis.into(),
    ]
}

#[test]
fn run_that_cannot_start_exits_at_once_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("testnet");
    write_testnet(&root, 1).expect("kpnode testnet");
    let base = root.join("node0");
    let genesis = root.join("genesis.json");
    let copy = |name: &str| {
        let home = dir.path().join(name);
        copy_dir(&base, &home);
        home
    };
    let mut cases = Vec::new();

    let port = api_port(&base);
    cases.push(
        Case::new(
            "run: API address taken",
            kpnode(run_args(&base, &genesis)),
            &[&format!("127.0.0.1:{port}"), "in use"],
        )
        .taking(port),
    );

    let port = consensus_port(&base);
    cases.push(
        Case::new(
            "run: consensus port taken",
            kpnode(run_args(&base, &genesis)),
            &["cannot listen for consensus on", &format!("/tcp/{port}")],
        )
        .taking(port),
    );

    let port = consensus_port(&base) + 1;
    cases.push(
        Case::new(
            "run: gossip port taken",
            kpnode(run_args(&base, &genesis)),
            &["transaction gossip", &format!("/tcp/{port}"), "in use"],
        )
        .taking(port),
    );

    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    cases.push(Case::new(
        "run: no node.json",
        kpnode(run_args(&empty, &genesis)),
        &["node.json"],
    ));

    let home = copy("bad-settings");
    fs::write(home.join("node.json"), "{").expect("write");
    cases.push(Case::new(
        "run: node.json malformed",
        kpnode(run_args(&home, &genesis)),
        &["node.json", "malformed"],
    ));

    let home = copy("bad-listen");
    let path = home.join("node.json");
    let mut settings: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("JSON");
    settings["listen"] = "tcp:27000".into();
    fs::write(&path, settings.to_string()).expect("write");
    cases.push(Case::new(
        "run: listen address not a multiaddr",
        kpnode(run_args(&home, &genesis)),
        &["`tcp:27000` is not a multiaddr"],
    ));

    for (name, key, value, expect) in [
        (
            "run: no API connections allowed in node.json",
            "api_connections_max",
            serde_json::json!(0),
            "api_connections_max must be at least 1",
        ),
        (
            "run: an API timeout in node.json not a number",
            "api_idle_timeout_ms",
            serde_json::json!("soon"),
            "malformed",
        ),
    ] {
        let home = copy(&format!("bad-{key}"));
        let path = home.join("node.json");
        let mut settings: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("JSON");
        settings[key] = value;
        fs::write(&path, settings.to_string()).expect("write");
        cases.push(Case::new(
            name,
            kpnode(run_args(&home, &genesis)),
            &["node.json", expect],
        ));
    }

    let missing = dir.path().join("missing-genesis.json");
    cases.push(Case::new(
        "run: genesis file missing",
        kpnode(run_args(&base, &missing)),
        &["cannot read", &missing.display().to_string()],
    ));

    let bad = dir.path().join("bad-genesis.json");
    fs::write(&bad, "[]").expect("write");
    cases.push(Case::new(
        "run: genesis file malformed",
        kpnode(run_args(&base, &bad)),
        &["is not a genesis file"],
    ));

    let home = copy("unreadable-key");
    let key = home.join("node/validator.key");
    fs::remove_file(&key).expect("remove");
    fs::create_dir(&key).expect("a directory in its place");
    cases.push(Case::new(
        "run: validator key unreadable",
        kpnode(run_args(&home, &genesis)),
        &["cannot read", "validator.key"],
    ));

    check_all(cases, dir.path());
}
