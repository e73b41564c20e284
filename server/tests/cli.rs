//! The binary's command line. (Also makes `cargo test --workspace` build the
//! `kith-relay` binary, which the end-to-end tests in `tests/` start.)

use std::process::Command;

fn relay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kith-relay"))
}

#[test]
fn help_documents_every_option() {
    let out = relay().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--data",
        "--config",
        "--metrics-listen",
        "--retention",
        "--retention-interval",
        "--max-group-bytes",
        "--max-group-messages",
        "--max-connections",
        "--handshake-timeout",
        "--idle-timeout",
        "--write-timeout",
        "--rate",
        "--burst",
        "--outbox-bytes",
        "--creation-secret-file",
        "KITH_RELAY_LISTEN",
        "KITH_RELAY_CREATION_SECRET",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

#[test]
fn bad_settings_fail_with_a_clear_message() {
    let out = relay().args(["--rate", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("rate must be greater than zero"), "{err}");

    let out = relay()
        .args(["--config", "/nonexistent/kith.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/nonexistent/kith.toml")
    );
}
