//! The `kith` binary starts and documents every subcommand.

use std::process::Command;

#[test]
fn help_lists_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_kith"))
        .arg("--help")
        .env_remove("KITH_HOME")
        .env_remove("KITH_PASSPHRASE")
        .output()
        .expect("run kith --help");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "kith --help failed: {out:?}");
    let listed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for cmd in [
        "init", "whoami", "group", "groups", "invite", "join", "sync", "send", "read", "members",
        "remove", "leave", "verify", "wipe",
    ] {
        assert!(
            listed.contains(&cmd),
            "`kith --help` does not list {cmd:?}:\n{stdout}"
        );
    }
}

#[test]
fn group_help_lists_create_and_update() {
    let out = Command::new(env!("CARGO_BIN_EXE_kith"))
        .args(["group", "--help"])
        .output()
        .expect("run kith group --help");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "kith group --help failed: {out:?}");
    for cmd in ["create", "update"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "`kith group --help` does not list {cmd:?}:\n{stdout}"
        );
    }
}
