//! Running a relay for real (issue 8): built-in TLS with a certificate from a test CA and
//! its reload on SIGHUP, the admin subcommands (`check`, `stats`, `gc`, `healthcheck`) on
//! a data directory with traffic in it, and the deployment files in `deploy/` checked by
//! the tools that will read them (`systemd-analyze`, `caddy`, `nginx`).
//!
//! The tool checks skip (saying so) where a tool is not installed, except under CI
//! (`CI` set), where `.ci/run` installs them and a missing tool is a failure. Release
//! builds have no test hooks: checked here on cargo's feature resolution (cheap), and by
//! `.ci/run` on the release binaries themselves.

use kith::{ConnectOptions, RelayConnection, RelayError};
use kith_protocol::{Request, Response, SlotId};
use kith_tests::tls::{TestCa, served_certificate, write_atomic};
use kith_tests::{
    TestRelay, create_group, eventually, http_get, payload, payload_of, post_app, relay_bin,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Runs `kith-relay ARGS…` to the end with none of the caller's `KITH_RELAY_*` settings.
fn relay_cmd(args: &[&str]) -> Output {
    let mut cmd = Command::new(relay_bin());
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("KITH_RELAY_")) || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    // English, whatever the machine's language (the assertions read English).
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    cmd.output().expect("run kith-relay")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn sighup(relay: &TestRelay) {
    let pid = relay.pid().expect("relay runs").to_string();
    let status = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("run kill -HUP");
    assert!(status.success());
}

/// Files of a TLS relay: a CA, its PEM file, and the relay's certificate and key paths.
struct TlsSetup {
    dir: tempfile::TempDir,
    ca: TestCa,
    ca_file: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsSetup {
    fn new() -> TlsSetup {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::new("Kith test CA");
        let ca_file = dir.path().join("ca.pem");
        ca.write_pem(&ca_file);
        let cert = dir.path().join("relay.crt");
        let key = dir.path().join("relay.key");
        TlsSetup {
            dir,
            ca,
            ca_file,
            cert,
            key,
        }
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions {
            ca: Some(self.ca_file.clone()),
            ..ConnectOptions::default()
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn built_in_tls_serves_wss_and_reloads_on_sighup() {
    let t = TlsSetup::new();
    let first = t.ca.issue(&["localhost", "127.0.0.1"], 1001);
    first.write(&t.cert, &t.key);
    let relay = TestRelay::start(&["--tls-cert", path(&t.cert), "--tls-key", path(&t.key)]).await;
    let port = relay.addr().port();
    let url = format!("wss://localhost:{port}/v1");

    // A real client over wss://, trusting the test CA: Hello, CreateGroup, Auth, Post.
    let conn = RelayConnection::connect_with(&url, t.options())
        .await
        .unwrap_or_else(|e| panic!("wss connect: {e}\n{}", relay.log_tail(20)));
    let group = create_group(&conn).await;
    post_app(&conn, group.id, 0, payload("over TLS"))
        .await
        .expect("post over TLS");
    // The IP address is in the certificate too.
    RelayConnection::connect_with(&format!("wss://127.0.0.1:{port}/v1"), t.options())
        .await
        .expect("wss to the IP address");

    // Without the CA: the web PKI roots do not know it, and the error says why.
    match RelayConnection::connect(&url).await {
        Err(e @ RelayError::Certificate(_)) => {
            assert!(e.to_string().contains("UnknownIssuer"), "{e}")
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
    // A CA file that does not exist is an error, not a silent fallback to the roots.
    let missing = ConnectOptions {
        ca: Some(t.dir.path().join("missing-ca.pem")),
        ..ConnectOptions::default()
    };
    match RelayConnection::connect_with(&url, missing).await {
        Err(RelayError::Setup(msg)) => assert!(msg.contains("missing-ca.pem"), "{msg}"),
        other => panic!("expected a CA file error, got {other:?}"),
    }
    // Plain ws:// to the TLS port fails, and plain HTTP gets no health answer.
    assert!(
        RelayConnection::connect(&format!("ws://127.0.0.1:{port}/v1"))
            .await
            .is_err()
    );
    assert_eq!(
        served_certificate(relay.addr(), &t.ca, "localhost").await,
        first.der
    );

    // The container's probe speaks TLS when the relay does.
    let listen = relay.addr().to_string();
    let hc = relay_cmd(&[
        "--listen",
        &listen,
        "--tls-cert",
        path(&t.cert),
        "--tls-key",
        path(&t.key),
        "healthcheck",
    ]);
    assert!(hc.status.success(), "healthcheck over TLS: {}", text(&hc));

    // SIGHUP with a new certificate: new connections get it; the old one goes on.
    let second = t.ca.issue(&["localhost", "127.0.0.1"], 1002);
    assert_ne!(first.der, second.der);
    second.write(&t.cert, &t.key);
    sighup(&relay);
    let (addr, ca, want) = (relay.addr(), &t.ca, &second.der);
    eventually(
        Duration::from_secs(10),
        "the reloaded certificate",
        || async move { (served_certificate(addr, ca, "localhost").await == *want).then_some(()) },
    )
    .await;
    assert!(relay.log().contains("TLS certificate and key reloaded"));
    conn.ping()
        .await
        .expect("a connection from before the reload");
    let again = RelayConnection::connect_with(&url, t.options())
        .await
        .expect("connect after the reload");
    create_group(&again).await;

    // SIGHUP with a broken key: a warning, and the certificate in use stays.
    let secret_line = "c2VjcmV0IGtleSBtYXRlcmlhbA";
    write_atomic(
        &t.key,
        format!("-----BEGIN PRIVATE KEY-----\n{secret_line}\n-----END PRIVATE KEY-----\n")
            .as_bytes(),
    );
    sighup(&relay);
    let relay_ref = &relay;
    eventually(
        Duration::from_secs(10),
        "the reload failure",
        || async move { relay_ref.log().contains("TLS reload failed").then_some(()) },
    )
    .await;
    let log = relay.log();
    assert!(
        !log.contains(secret_line),
        "the key leaked into the log:\n{log}"
    );
    assert!(log.contains("WARN"), "{log}");
    assert_eq!(
        served_certificate(relay.addr(), &t.ca, "localhost").await,
        second.der
    );
    RelayConnection::connect_with(&url, t.options())
        .await
        .expect("connect after a failed reload")
        .ping()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_without_tls_does_not_stop_the_relay() {
    let relay = TestRelay::start(&[]).await;
    sighup(&relay);
    let relay_ref = &relay;
    eventually(Duration::from_secs(10), "the SIGHUP note", || async move {
        relay_ref.log().contains("nothing to reload").then_some(())
    })
    .await;
    relay.connect().await.ping().await.expect("still serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_flags_are_checked_at_start() {
    let t = TlsSetup::new();
    let data = tempfile::tempdir().unwrap();
    // One without the other.
    let out = relay_cmd(&[
        "--data",
        path(data.path()),
        "--tls-cert",
        path(&t.cert),
        "check",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("tls-cert needs tls-key"),
        "{}",
        text(&out)
    );
    // Missing files: `check` names them and fails; so does starting the relay.
    let args = [
        "--data",
        path(data.path()),
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "off",
        "--tls-cert",
        path(&t.cert),
        "--tls-key",
        path(&t.key),
    ];
    let mut check = args.to_vec();
    check.push("check");
    let out = relay_cmd(&check);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("tls: FAILED") && stdout(&out).contains("relay.crt"),
        "{}",
        text(&out)
    );
    let out = relay_cmd(&args);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("relay.crt"), "{}", text(&out));
    // A key that is not the certificate's.
    let a = t.ca.issue(&["localhost"], 1);
    let b = t.ca.issue(&["localhost"], 2);
    a.write(&t.cert, &t.key);
    write_atomic(&t.key, b.key_pem.as_bytes());
    let out = relay_cmd(&check);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The right pair passes.
    a.write(&t.cert, &t.key);
    let out = relay_cmd(&check);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("tls: ok"), "{}", text(&out));
}

/// Puts an invite slot that expires after `ttl_secs`.
async fn put_invite(conn: &RelayConnection, ttl_secs: u64) {
    let answer = conn
        .request(Request::PutInvite {
            slot: SlotId(rand::random()),
            manage_hash: [7; 32],
            ttl_secs,
            invitation: payload("a sealed invitation"),
        })
        .await;
    assert!(
        matches!(answer, Ok(Response::InvitePut { .. })),
        "{answer:?}"
    );
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_check_stats_and_gc_on_a_data_dir() {
    let mut relay = TestRelay::start(&[]).await;
    let data = relay.data_dir().to_path_buf();
    let data = path(&data).to_owned();
    let conn = relay.connect().await;
    let g1 = create_group(&conn).await;
    let g2 = create_group(&conn).await;
    let mut bytes = 0u64;
    for i in 0..5 {
        let p = payload_of(300 * i + 10, b'a');
        bytes += p.len() as u64;
        post_app(&conn, g1.id, 0, p).await.unwrap();
    }
    for i in 0..3 {
        let p = payload_of(2000 * i + 5, b'b');
        bytes += p.len() as u64;
        post_app(&conn, g2.id, 0, p).await.unwrap();
    }
    put_invite(&conn, 1).await;
    put_invite(&conn, 3600).await;

    // While the relay runs, the data dir is locked: a clear refusal.
    for cmd in ["stats", "gc", "check"] {
        let out = relay_cmd(&["--data", &data, cmd]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{cmd} while running: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("is the relay running?"),
            "{cmd} while running: {}",
            text(&out)
        );
    }

    conn.close().await;
    let status = relay.stop_gracefully(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    let out = relay_cmd(&["--data", &data, "check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("all checks passed"), "{}", text(&out));
    assert!(stdout(&out).contains("open to anyone"), "{}", text(&out));

    let stats = json(&relay_cmd(&["--data", &data, "stats", "--json"]));
    assert_eq!(stats["groups"], 2, "{stats}");
    assert_eq!(stats["messages"], 8, "{stats}");
    assert_eq!(stats["bytes"], bytes, "{stats}");
    assert_eq!(stats["invite_slots"], 2, "{stats}");
    // The text form has the same totals and no ids.
    let out = relay_cmd(&["--data", &data, "stats"]);
    let shown = stdout(&out);
    assert!(shown.contains("groups:        2"), "{shown}");
    assert!(shown.contains("messages:      8"), "{shown}");
    for g in [&g1, &g2] {
        let hex = kith_protocol::ids::hex(&g.id.0);
        assert!(!shown.contains(&hex[..8]), "a group id in stats:\n{shown}");
    }

    // Once the short invite has expired: gc with the default retention removes only it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let gc = json(&relay_cmd(&["--data", &data, "gc", "--json"]));
    assert_eq!(gc["removed_messages"], 0, "{gc}");
    assert_eq!(gc["removed_invite_slots"], 1, "{gc}");
    // A 1-second retention removes every message (all are older than that now).
    let gc = json(&relay_cmd(&[
        "--data",
        &data,
        "--retention",
        "1s",
        "gc",
        "--json",
    ]));
    assert_eq!(gc["removed_messages"], 8, "{gc}");
    assert_eq!(gc["removed_bytes"], bytes, "{gc}");
    assert_eq!(gc["removed_invite_slots"], 0, "{gc}");
    let out = relay_cmd(&["--data", &data, "gc", "--retention", "1s"]);
    assert!(
        stdout(&out).contains("removed 0 message(s)"),
        "{}",
        text(&out)
    );
    let stats = json(&relay_cmd(&["--data", &data, "stats", "--json"]));
    assert_eq!(stats["groups"], 2, "{stats}");
    assert_eq!(stats["messages"], 0, "{stats}");
    assert_eq!(stats["bytes"], 0, "{stats}");
    assert_eq!(stats["invite_slots"], 1, "{stats}");

    // The relay starts on the collected data dir and the groups go on where they were.
    relay.restart().await;
    let conn = relay.connect().await;
    conn.auth(g1.id, 0, &g1.key).await.expect("auth after gc");
    let seq = post_app(&conn, g1.id, 0, payload("after gc"))
        .await
        .unwrap();
    assert_eq!(seq, 6, "sequence numbers continue after gc");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_explains_a_bad_data_dir_and_healthcheck_probes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = relay_cmd(&["--data", path(&file), "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("not a directory"), "{}", text(&out));
    let out = relay_cmd(&["--data", path(&dir.path().join("fresh")), "check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("will create it"), "{}", text(&out));
    let out = relay_cmd(&["--data", path(&dir.path().join("fresh")), "stats"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not exist"), "{}", text(&out));
    let out = relay_cmd(&[
        "--data",
        path(dir.path()),
        "--config",
        "/nonexistent.toml",
        "check",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let relay = TestRelay::start(&[]).await;
    let listen = relay.addr().to_string();
    let out = relay_cmd(&["--listen", &listen, "healthcheck"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out).trim(), "ok");
    assert_eq!(http_get(relay.addr(), "/healthz").await.0, 200);
    // A listener that never answers: the probe gives up and says so.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_addr = mute.local_addr().unwrap().to_string();
    let out = relay_cmd(&["--listen", &mute_addr, "healthcheck", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no answer"), "{}", text(&out));
}

// ---- the deployment files, checked by the tools that read them ----

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .join("deploy")
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = kith_tests::installed_tool("systemd-analyze", "systemd") else {
        return;
    };
    let unit = std::fs::read_to_string(deploy_dir().join("kith-relay.service")).unwrap();
    for needed in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "ReadWritePaths=/var/lib/kith-relay\n",
        "MemoryMax=",
        "LimitNOFILE=",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed:?}");
    }
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kith-relay.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/kith-relay", path(relay_bin())),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("run systemd-analyze");
    let all = text(&out);
    assert!(out.status.success(), "systemd-analyze verify failed: {all}");
    // Unknown or misspelt keys are only warnings: there must be none about our unit.
    assert!(
        !all.contains("kith-relay.service"),
        "systemd-analyze verify complained: {all}"
    );
}

#[test]
fn caddyfile_passes_caddy_validate() {
    let Some(caddy) = kith_tests::installed_tool("caddy", "caddy") else {
        return;
    };
    let file = deploy_dir().join("Caddyfile");
    let text_of = std::fs::read_to_string(&file).unwrap();
    // No site-level `log` directive: that would be an access log with client addresses.
    assert!(
        !text_of
            .lines()
            .map(str::trim)
            .any(|l| l == "log" || (l.starts_with("log ") && !l.starts_with("log default"))),
        "the Caddyfile enables an access log"
    );
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(caddy)
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .expect("run caddy validate");
    assert!(
        out.status.success(),
        "caddy validate failed: {}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not formatted"),
        "run `caddy fmt --overwrite deploy/Caddyfile`: {}",
        text(&out)
    );
}

#[test]
fn nginx_conf_passes_nginx_t() {
    let Some(nginx) = kith_tests::installed_tool("nginx", "nginx") else {
        return;
    };
    let site = std::fs::read_to_string(deploy_dir().join("nginx.conf")).unwrap();
    assert!(site.contains("access_log off;"));
    // The relay's idle timeout is 5 minutes: nginx must wait longer on the WebSocket.
    assert!(site.contains("proxy_read_timeout 600s;"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new("nginx test CA");
    let issued = ca.issue(&["relay.example.org"], 7);
    issued.write(&d.join("fullchain.pem"), &d.join("privkey.pem"));
    let site = site
        .replace(
            "/etc/letsencrypt/live/relay.example.org/fullchain.pem",
            path(&d.join("fullchain.pem")),
        )
        .replace(
            "/etc/letsencrypt/live/relay.example.org/privkey.pem",
            path(&d.join("privkey.pem")),
        )
        .replace("/var/log/nginx/", &format!("{}/", path(d)));
    std::fs::write(d.join("site.conf"), site).unwrap();
    // The site file goes inside `http { }`, as in /etc/nginx/sites-enabled.
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\n    \
             client_body_temp_path {0}/body;\n    proxy_temp_path {0}/proxy;\n    \
             include {0}/site.conf;\n}}\n",
            path(d)
        ),
    )
    .unwrap();
    let out = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .arg("-e")
        .arg(d.join("error.log"))
        .output()
        .expect("run nginx -t");
    assert!(out.status.success(), "nginx -t failed: {}", text(&out));
}

#[test]
fn dockerfile_builds_locked_and_runs_unprivileged() {
    // No Docker engine here: the image cannot be built in tests. Check what it promises.
    let file = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    for needed in [
        "FROM rust:1-bookworm AS build",
        "cargo build --release --locked -p kith-relay",
        "FROM debian:bookworm-slim",
        "USER kith-relay:kith-relay",
        "VOLUME /data",
        "EXPOSE 7878",
        "CMD [\"kith-relay\", \"healthcheck\"]",
    ] {
        assert!(file.contains(needed), "the Dockerfile lacks {needed:?}");
    }
    // The image's default settings are a valid configuration.
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(relay_bin())
        .arg("check")
        .env("KITH_RELAY_LISTEN", "0.0.0.0:7878")
        .env("KITH_RELAY_METRICS_LISTEN", "0.0.0.0:9464")
        .env("KITH_RELAY_DATA", data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // A relay.toml like the sample in deploy/ parses (its secret file aside).
    let sample = std::fs::read_to_string(deploy_dir().join("relay.toml")).unwrap();
    let secret = data.path().join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    let conf = data.path().join("relay.toml");
    std::fs::write(
        &conf,
        sample.replace("/etc/kith-relay/creation-secret", path(&secret)),
    )
    .unwrap();
    let out = relay_cmd(&[
        "--config",
        path(&conf),
        "--data",
        path(&data.path().join("d")),
        "check",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("restricted"), "{}", text(&out));
}

/// The features cargo turns on for a build of `packages` with the dependency kinds
/// `edges` (`cargo tree`; no compilation), as `name feature "f"` lines.
fn resolved_features(packages: &[&str], edges: &str) -> Vec<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace)
        .arg("tree")
        .args(packages)
        .args([
            "-e", edges, "--locked", "--prefix", "none", "--color", "never",
        ])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "{}", text(&out));
    let mut features: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains(" feature \""))
        .map(|l| l.trim_end_matches(" (*)").to_owned())
        .collect();
    features.sort();
    features.dedup();
    features
}

/// The test hooks of `kith`, `kith-engine` and `kith-relay` (their `test-hooks` feature: crash points,
/// the fast KDF, the role hook) come only from the tests crate's dev-dependencies, so
/// that `cargo build --release` — of the two packages, as the Dockerfile and the README
/// do, or of the whole workspace — never has them, while the tests' builds do. `.ci/run`
/// also looks for the hooks' variable names in real release binaries.
#[test]
fn only_test_builds_have_test_hooks() {
    let hooks = [
        "kith feature \"test-hooks\"".to_owned(),
        "kith-engine feature \"test-hooks\"".to_owned(),
        "kith-relay feature \"test-hooks\"".to_owned(),
    ];
    for packages in [
        &["-p", "kith", "-p", "kith-relay"][..],
        &["--workspace"][..],
    ] {
        let release = resolved_features(packages, "normal,build,features");
        assert!(
            hooks.iter().all(|h| !release.contains(h)),
            "a build of {packages:?} without tests has test hooks: {release:?}"
        );
    }
    let tests = resolved_features(&["--workspace"], "normal,build,dev,features");
    assert!(
        hooks.iter().all(|h| tests.contains(h)),
        "the tests' build lacks test hooks: {tests:?}"
    );
    for (bin, path) in [
        ("kith", kith_tests::client::kith_bin()),
        ("kith-relay", relay_bin()),
    ] {
        assert!(
            kith_tests::has_test_hooks(path),
            "the end-to-end tests run a {bin} without test hooks: {}",
            path.display()
        );
    }
}

/// One package's `[package.metadata.deb]`.
fn deb_metadata(manifest: &str) -> toml::Table {
    let root = deploy_dir().parent().unwrap().to_owned();
    let text = std::fs::read_to_string(root.join(manifest).join("Cargo.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc["package"]["metadata"]["deb"]
        .as_table()
        .unwrap()
        .clone()
}

/// Where each asset goes, by source.
fn deb_assets(deb: &toml::Table) -> Vec<(String, String)> {
    deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_owned(),
                a[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The Debian packages (`deploy/build-debs.sh`, `cargo deb`) install what deploy/README.md
/// says, where it says, and what the unit and the settings expect: the binaries, the
/// settings as a conffile, the unit, man pages and completions; the maintainer scripts
/// make the user, the data directory and the creation secret that relay.toml names, and
/// a purge says what it deletes before it does. (`.ci/run` builds, installs, runs and
/// purges the packages themselves.)
#[test]
fn the_packages_hold_what_the_guide_says() {
    let relay = deb_metadata("server");
    let dests: Vec<String> = deb_assets(&relay).into_iter().map(|(_, d)| d).collect();
    for want in [
        "usr/bin/",
        "etc/kith-relay/relay.toml",
        "usr/share/man/man1/",
        "usr/share/bash-completion/completions/kith-relay",
        "usr/share/zsh/vendor-completions/_kith-relay",
        "usr/share/fish/vendor_completions.d/kith-relay.fish",
        "usr/share/doc/kith-relay/README.md",
        "usr/share/doc/kith-relay/CHANGELOG.md",
        "usr/share/doc/kith-relay/examples/Caddyfile",
        "usr/share/doc/kith-relay/examples/nginx.conf",
    ] {
        assert!(
            dests.iter().any(|d| d == want),
            "the relay package lacks {want}"
        );
    }
    assert_eq!(
        relay["conf-files"].as_array().unwrap()[0].as_str(),
        Some("/etc/kith-relay/relay.toml"),
        "the settings survive upgrades as a conffile"
    );
    assert_eq!(
        relay["systemd-units"]["unit-name"].as_str(),
        Some("kith-relay")
    );
    // Files from the source tree exist (build-debs.sh makes the rest, in
    // deploy/debian/generated).
    let root = deploy_dir().parent().unwrap().to_owned();
    for (src, _) in deb_assets(&relay) {
        if src.starts_with("../") && !src.starts_with("../deploy/debian/generated/") {
            assert!(root.join("server").join(&src).exists(), "{src} is missing");
        }
    }

    let client = deb_metadata("client-cli");
    let dests: Vec<String> = deb_assets(&client).into_iter().map(|(_, d)| d).collect();
    for want in [
        "usr/bin/",
        "usr/share/man/man1/",
        "usr/share/bash-completion/completions/kith",
        "usr/share/zsh/vendor-completions/_kith",
        "usr/share/fish/vendor_completions.d/kith.fish",
    ] {
        assert!(
            dests.iter().any(|d| d == want),
            "the kith package lacks {want}"
        );
    }

    // The settings name what the maintainer scripts make, and the unit what they own.
    let settings = std::fs::read_to_string(deploy_dir().join("relay.toml")).unwrap();
    let settings: toml::Table = toml::from_str(&settings).unwrap();
    assert_eq!(settings["data"].as_str(), Some("/var/lib/kith-relay"));
    assert_eq!(
        settings["creation_secret_file"].as_str(),
        Some("/etc/kith-relay/creation-secret")
    );
    assert_eq!(
        settings["listen"].as_str(),
        Some("127.0.0.1:7878"),
        "a package starts the relay at once: on loopback only"
    );
    let postinst = std::fs::read_to_string(deploy_dir().join("debian/postinst")).unwrap();
    for needed in [
        "adduser --system",
        "install -d -m 0700 -o kith-relay -g kith-relay /var/lib/kith-relay",
        "/etc/kith-relay/creation-secret",
        "chmod 0640 /etc/kith-relay/creation-secret",
        "#DEBHELPER#",
    ] {
        assert!(postinst.contains(needed), "postinst lacks {needed:?}");
    }
    let postrm = std::fs::read_to_string(deploy_dir().join("debian/postrm")).unwrap();
    let said = postrm
        .find("echo \"kith-relay: deleting /var/lib/kith-relay")
        .unwrap();
    let done = postrm.find("rm -rf /var/lib/kith-relay").unwrap();
    assert!(
        said < done,
        "a purge says what it deletes before it deletes it"
    );
    assert!(
        postrm.contains("\"$1\" = purge"),
        "only a purge deletes the data"
    );
    for script in ["postinst", "postrm"] {
        let out = Command::new("sh")
            .arg("-n")
            .arg(deploy_dir().join("debian").join(script))
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out));
    }
    let unit = std::fs::read_to_string(deploy_dir().join("kith-relay.service")).unwrap();
    assert!(unit.contains("StateDirectory=kith-relay\n"));
    assert!(unit.contains("User=kith-relay\n"));
    let build = std::fs::read_to_string(deploy_dir().join("build-debs.sh")).unwrap();
    assert!(
        build.contains("s#/usr/local/bin/kith-relay#/usr/bin/kith-relay#g"),
        "the packaged unit runs the packaged binary"
    );

    // The guide says it: how to build and install them, and where everything is.
    let guide = std::fs::read_to_string(deploy_dir().join("README.md")).unwrap();
    for needed in [
        "deploy/build-debs.sh",
        "sudo apt install ./kith-relay_",
        "/etc/kith-relay/relay.toml",
        "/var/lib/kith-relay",
        "/etc/kith-relay/creation-secret",
        "sudo apt purge kith-relay",
        "CHANGELOG.md",
    ] {
        assert!(
            guide.contains(needed),
            "deploy/README.md does not say {needed:?}"
        );
    }
}
