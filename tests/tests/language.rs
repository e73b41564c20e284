//! End-to-end tests of the reader's language and time (issue 18): a Russian speaker
//! (`LANG=ru_RU.UTF-8`, `--lang ru`) reads Russian from the first command to the last,
//! with Russian plural forms; times are in the reader's zone (`TZ=Asia/Irkutsk`) unless
//! `--utc`; a daemon answers each command in its caller's language and zone, not its
//! own; `kith read` says by its exit code when it could not sync; and the newcomer's rough
//! edges (help, invite codes by voice, the settings file, creation secrets). Real relay, real
//! `kith` processes.

use kith_tests::client::{JOIN_WITHIN, Output, Profile, admit_while, poll};
use kith_tests::*;
use std::os::unix::net::UnixStream;
use std::time::Duration;

const RU: &[(&str, &str)] = &[("LANG", "ru_RU.UTF-8")];
const IRKUTSK: &[(&str, &str)] = &[("TZ", "Asia/Irkutsk")];

/// English words that must not appear in what a Russian reader is shown (the words of
/// the English catalogue's common sentences).
const ENGLISH: &[&str] = &[
    "member",
    "unread",
    "Joined",
    "Created",
    "valid for",
    "invites you",
    "Join request",
    "Fingerprint",
    "verified",
    "admin",
    "days",
    "could not",
    "group",
    "Sent",
    "Removed",
    "waiting",
];

fn russian(out: &Output, what: &str) {
    let both = format!("{}{}", out.stdout, out.stderr);
    // Commands to type stay as typed (`kith …` up to the end of the line), and so do
    // addresses and invite codes.
    let prose: String = both
        .lines()
        .map(|l| l.split("kith ").next().unwrap_or_default())
        .flat_map(str::split_whitespace)
        .filter(|w| !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ");
    for word in ENGLISH {
        assert!(
            !prose.contains(word),
            "{what}: English {word:?} in what a Russian reader sees:\n{out}"
        );
    }
    assert!(
        both.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я')),
        "{what}: no Russian at all:\n{out}"
    );
}

fn ok_ru(p: &Profile, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = p.run_env(args, envs);
    assert!(out.success(), "kith {}: {out}", args.join(" "));
    russian(&out, &args.join(" "));
    out
}

/// The `HH:MM` of the first record line `kith read --all` prints.
fn first_time(out: &str) -> (u32, u32) {
    let line = out.lines().next().expect("a record");
    let hm = line.split_whitespace().nth(1).expect("date and time");
    let (h, m) = hm.split_once(':').expect("HH:MM");
    (h.parse().unwrap(), m.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_russian_speaker_reads_russian_and_local_time() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Олена");
    let iryna = Profile::new("Iryna");
    let url = relay.ws_url();

    let out = ok_ru(&olena, &["group", "create", "Семья", "--relay", &url], RU);
    assert!(out.stdout.contains("Группа «Семья» создана"), "{out}");
    // A second group of the same name (case folded) is asked about first; a script,
    // which cannot answer, is refused and told how to go ahead.
    let again = olena.run_env(&["group", "create", "СЕМЬЯ", "--relay", &url], RU);
    assert_eq!(again.code(), 2, "{again}");
    assert!(
        again.stderr.contains("У вас уже есть группа «СЕМЬЯ»"),
        "{again}"
    );
    let out = ok_ru(&olena, &["groups"], RU);
    assert!(out.stdout.contains("1 участник "), "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    // Names match with full case folding: "семья" finds "Семья".
    let out = ok_ru(&olena, &["invite", "семья"], RU);
    assert!(
        out.stderr.contains("Одноразовый код, действует 3 дня"),
        "the default 72h in words: {out}"
    );
    let invite = out.stdout.trim().to_owned();
    // By voice or by hand: the code alone, and the relay's address apart.
    let code = invite.rsplit('/').next().unwrap().to_owned();
    assert!(
        out.stderr.contains(&format!("код {code}")),
        "the code to read aloud: {out}"
    );
    let no_relay = iryna.run_env(&["join", &code.to_lowercase()], RU);
    assert_eq!(no_relay.code(), 2, "{no_relay}");
    assert!(no_relay.stderr.contains("без адреса сервера"), "{no_relay}");

    let mut join = iryna.command(&["join", &code, "--relay", &url, "--wait", "30"]);
    join.env("LANG", "ru_RU.UTF-8");
    let joined = admit_while(&olena, iryna.spawn_command(join, "join (ru)"));
    assert!(joined.success(), "{joined}");
    russian(&joined, "join");
    assert_eq!(joined.stdout.trim(), "Вы вступили в группу «Семья».");
    assert!(
        joined.stderr.contains("приглашает вас в группу «Семья»"),
        "{joined}"
    );

    olena.ok(&["sync"]);
    let out = ok_ru(&olena, &["groups"], RU);
    assert!(out.stdout.contains("2 участника"), "{out}");
    let out = ok_ru(&olena, &["members", "Семья"], RU);
    assert!(
        out.stdout.contains("админ") && out.stdout.contains("(вы)"),
        "{out}"
    );
    assert!(out.stdout.contains("не проверен"), "{out}");

    olena.ok(&["send", "Семья", "Апелляцию подали сегодня"]);
    // The same record in UTC and in Irkutsk (UTC+8 all year): eight hours apart.
    let utc = iryna.ok(&["read", "Семья", "--all", "--utc"]);
    let mut local = iryna.command(&["read", "Семья", "--all"]);
    local.env("TZ", "Asia/Irkutsk");
    let local = iryna.spawn_command(local, "read (Irkutsk)").wait();
    assert!(local.success(), "{local}");
    assert!(utc.contains("Апелляцию подали сегодня"), "{utc}");
    let ((uh, um), (lh, lm)) = (first_time(&utc), first_time(&local.stdout));
    assert_eq!((lh + 24 - uh) % 24, 8, "Irkutsk is UTC+8:\n{utc}\n{local}");
    assert_eq!(um, lm);
    // The harness's TZ=UTC with --utc or without: the same.
    assert_eq!(first_time(&iryna.ok(&["read", "Семья", "--all"])), (uh, um));

    // --lang wins over the environment, both ways.
    let out = olena.run_env(&["--lang", "ru", "groups"], &[]);
    russian(&out, "--lang ru");
    let out = olena.run_env(&["--lang", "en", "groups"], RU);
    assert!(out.stdout.contains("2 members"), "{out}");
    // A language kith does not speak is English, not an error; a wrong --lang is one.
    let out = olena.run_env(&["groups"], &[("LANG", "de_DE.UTF-8")]);
    assert!(out.success() && out.stdout.contains("2 members"), "{out}");
    olena.fails(&["--lang", "xx", "groups"], 2);
    ok_ru(
        &olena,
        &["group", "create", "СЕМЬЯ", "--relay", &url, "--yes"],
        RU,
    );
    assert_eq!(olena.ok(&["groups"]).lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_answers_in_its_callers_language_and_zone() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", "Family", "--relay", &relay.ws_url()]);
    olena.ok(&["send", "Family", "hello"]);
    let utc = olena.ok(&["read", "Family", "--all", "--utc"]);

    // The daemon runs in English and UTC (the harness's environment).
    let mut daemon = olena.spawn(&["daemon"]);
    poll(JOIN_WITHIN, "the daemon's socket", || {
        if let Some(out) = daemon.try_finish() {
            panic!("the daemon exited at start: {out}");
        }
        UnixStream::connect(olena.dir().join("kith.sock")).ok()
    });
    let out = ok_ru(&olena, &["groups"], RU);
    assert!(out.stdout.contains("1 участник "), "{out}");
    let out = olena.ok(&["groups"]);
    assert!(
        out.contains("1 member "),
        "the daemon keeps no caller's language: {out}"
    );
    let out = olena.run_env(&["read", "Family", "--all"], IRKUTSK);
    assert!(out.success(), "{out}");
    let ((uh, _), (lh, _)) = (first_time(&utc), first_time(&out.stdout));
    assert_eq!((lh + 24 - uh) % 24, 8, "through the daemon:\n{utc}\n{out}");
    let stop = olena.run(&["daemon", "--stop"]);
    assert!(stop.success(), "{stop}");
    daemon.exits_within(Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_says_by_its_exit_code_that_it_could_not_sync() {
    let mut relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", "Family", "--relay", &relay.ws_url()]);
    olena.ok(&["send", "Family", "kept here"]);
    relay.kill9();
    let out = olena.run(&["read", "Family", "--all"]);
    assert_ne!(out.code(), 0, "a read that could not sync succeeded: {out}");
    assert!(
        out.stdout.contains("kept here"),
        "what is stored is still shown: {out}"
    );
    assert!(out.stderr.contains("could not sync"), "{out}");
    let out = olena.run_env(&["read", "Family", "--all"], RU);
    assert_ne!(out.code(), 0, "{out}");
    assert!(
        out.stderr.contains("показано то, что уже сохранено"),
        "{out}"
    );
}

/// The settings file: the language, the time zone and the relay for new groups come
/// from it; the command line wins over it; a key kith does not know is an error that
/// names the file, not a setting silently dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_file_gives_language_zone_and_relay() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    std::fs::write(
        olena.config_path(),
        format!(
            "lang = \"ru\"\nzone = \"Asia/Irkutsk\"\nrelay = \"{}\"\n",
            relay.ws_url()
        ),
    )
    .unwrap();
    // No TZ, so that the file's zone counts.
    let mut create = olena.command(&["group", "create", "Семья"]);
    create.env_remove("TZ");
    let out = olena
        .spawn_command(create, "group create (settings)")
        .wait();
    assert!(out.success(), "{out}");
    russian(&out, "group create");
    olena.ok(&["send", "Семья", "from the settings"]);
    let utc = olena.ok(&["read", "Семья", "--all", "--utc"]);
    let mut local = olena.command(&["read", "Семья", "--all"]);
    local.env_remove("TZ");
    let local = olena.spawn_command(local, "read (settings zone)").wait();
    assert!(local.success(), "{local}");
    let ((uh, _), (lh, _)) = (first_time(&utc), first_time(&local.stdout));
    assert_eq!((lh + 24 - uh) % 24, 8, "{utc}\n{local}");
    // --lang wins over the file.
    assert!(olena.ok(&["--lang", "en", "groups"]).contains("1 member "));
    // Without a group named, none is guessed; with `group` in the file, it is the one.
    let out = olena.run(&["read"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("укажите группу") && out.stderr.contains("group = "),
        "{out}"
    );
    std::fs::write(
        olena.config_path(),
        format!("relay = \"{}\"\ngroup = \"семья\"\n", relay.ws_url()),
    )
    .unwrap();
    olena.ok(&["send", "the text alone, to the settings' group"]);
    let all = olena.ok(&["read", "--all"]);
    assert!(
        all.contains("the text alone, to the settings' group"),
        "{all}"
    );
    assert!(all.contains("from the settings"), "{all}");
    assert!(olena.ok(&["members"]).contains("Olena"));
    // A typo is an error, named.
    std::fs::write(olena.config_path(), "proxi = \"socks5://127.0.0.1:9050\"\n").unwrap();
    let out = olena.run(&["groups"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("config.toml"), "{out}");
}

/// `kith --help` opens with the five commands a newcomer needs, in order, in the
/// reader's language, and lists every command in it.
#[test]
fn the_help_starts_with_a_newcomers_five_commands() {
    let p = Profile::new("Olena");
    for (envs, start, read) in [
        (&[][..], "Start here", "Print new messages"),
        (RU, "С чего начать", "Показать новые сообщения"),
    ] {
        let out = p.run_env(&["--help"], envs);
        assert!(out.success(), "{out}");
        assert!(out.stdout.starts_with(start), "{out}");
        let steps: Vec<usize> = [
            "kith init",
            "kith join",
            "kith chat",
            "kith send",
            "kith read",
        ]
        .iter()
        .map(|c| {
            out.stdout
                .find(c)
                .unwrap_or_else(|| panic!("{c} missing: {out}"))
        })
        .collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order: {out}");
        assert!(out.stdout.contains(read), "{out}");
    }
    let out = p.run_env(&["--lang", "ru", "--help"], &[]);
    assert!(out.stdout.starts_with("С чего начать"), "{out}");
}

/// A relay that lets only holders of its creation secret create groups: a member with no
/// secret is told to set one, a member with a wrong one is told it is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_creation_secret_is_told_apart_from_none() {
    let relay =
        TestRelay::start_with_env(&[], &[("KITH_RELAY_CREATION_SECRET", "the right one")]).await;
    let olena = Profile::new("Olena");
    let url = relay.ws_url();
    let none = olena.run(&["group", "create", "Family", "--relay", &url]);
    assert_eq!(none.code(), 2, "{none}");
    assert!(
        none.stderr
            .contains("only lets holders of its creation secret"),
        "{none}"
    );
    let wrong = olena.run_env(
        &["group", "create", "Family", "--relay", &url],
        &[("KITH_CREATION_SECRET", "a wrong one")],
    );
    assert_eq!(wrong.code(), 2, "{wrong}");
    assert!(
        wrong.stderr.contains("refuses the creation secret"),
        "{wrong}"
    );
    let right = olena.run_env(
        &["group", "create", "Family", "--relay", &url],
        &[("KITH_CREATION_SECRET", "the right one")],
    );
    assert!(right.success(), "{right}");
}

/// `kith COMMAND --help` is in the reader's language at any depth, and a command line
/// kith cannot read is explained in it, with the usual exit code 2; English readers keep
/// clap's own words.
#[test]
fn a_commands_help_and_a_wrong_command_line_are_in_the_readers_language() {
    let p = Profile::new("Olena");
    let out = p.run_env(&["send", "--help"], RU);
    assert!(out.success(), "{out}");
    russian(&out, "send --help");
    for words in [
        "Как запускать: kith send",
        "Аргументы:",
        "Параметры:",
        "Показать справку",
    ] {
        assert!(out.stdout.contains(words), "{words:?}: {out}");
    }
    let out = p.run_env(&["group", "create", "--help"], RU);
    assert!(out.success(), "{out}");
    russian(&out, "group create --help");
    assert!(out.stdout.starts_with("Создать группу на сервере"), "{out}");

    // A text with spaces, not quoted: one word too many.
    let out = p.run_env(&["send", "Family", "hello", "world"], RU);
    assert_eq!(out.code(), 2, "{out}");
    russian(&out, "send with an extra word");
    assert!(
        out.stderr.starts_with("kith: Лишнее в команде: «world»"),
        "{out}"
    );
    assert!(out.stderr.contains("Подробнее: kith send --help"), "{out}");
    let out = p.run_env(&["sendx"], RU);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.starts_with("kith: Неизвестная команда «sendx»"),
        "{out}"
    );

    let out = p.run_env(&["send", "Family", "hello", "world"], &[]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr
            .contains("error: unexpected argument 'world' found"),
        "{out}"
    );
    let out = p.run_env(&["send", "--help"], &[]);
    assert!(out.stdout.contains("Usage: kith send"), "{out}");
    assert!(out.stdout.contains("The text, or `-`"), "{out}");
}
