//! The command line's help and its errors in the reader's language. `kith --help` opens
//! with the five commands a newcomer needs, in order; it and `kith COMMAND --help` (any
//! depth: `kith group create --help`) take every line from the catalogue (`help.ftl`).
//! clap's own derive texts (the doc comments in `args.rs`) stay the English reference:
//! the man pages use them.
//!
//! The catalogue's ids, by the command's path (its words below `kith` joined by `-`:
//! `send`, `group-create`, `board-add`):
//! - `help-cmd-PATH`: the command's line in its parent's list (and its help's opening);
//! - `help-long-PATH` (optional): the longer text `kith PATH --help` opens with;
//! - `help-arg-PATH-ARG`: an argument's or flag's line (ARG: its name, `_` as `-`:
//!   `help-arg-group-set-no-fallback`), else `help-arg-ARG`, shared by every command
//!   with an argument of that name and no text of its own (`help-arg-group`);
//! - `help-opt-ARG`: the options every command takes (`--home`, `--json`…);
//! - `help-flag-help`, `help-flag-version`, `help-cmd-help`: clap's own `--help`,
//!   `--version` and `help` command; `help-usage`, `help-commands`, `help-arguments`,
//!   `help-options`: the headings; `help-default`, `help-env`, `help-possible`: the
//!   `[default: …]` fragments, which clap would print in English.
//!
//! clap has no translations of its errors either: [`explain`] says in the reader's
//! language what is wrong with a command line, from the error's details.

use crate::args::Cli;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, CommandFactory};
use kith_i18n::{Arg as Value, Lang, message_in};
use std::ffi::OsString;

/// The command line, its help in the language in use.
pub fn command() -> clap::Command {
    command_in(kith_i18n::lang())
}

/// The command line, its help in `lang`, built (clap makes its own `--help`, `--version`
/// and `help` when it builds the command: those are translated after). A text the
/// catalogue lacks stays English (the tests fail on that; see below).
pub fn command_in(lang: Lang) -> clap::Command {
    let say = |id: &str| message_in(lang, id, &[]);
    let mut cmd = Cli::command()
        .about(say("help-about"))
        .before_help(say("help-start"));
    cmd = cmd.mut_args(|a| {
        let id = format!("help-opt-{}", a.get_id().as_str().replace('_', "-"));
        if a.is_global_set() && kith_i18n::has_message(lang, &id) {
            with_fragments(a, say(&id), lang)
        } else {
            a
        }
    });
    let mut cmd = localize(cmd, &[], lang);
    cmd.build();
    clap_own(cmd, lang)
}

/// The catalogue's id for an argument `arg` of the command at `path`, if it has one.
fn arg_id(lang: Lang, path: &[String], arg: &str) -> Option<String> {
    let arg = arg.replace('_', "-");
    let mut own = String::from("help-arg-");
    for word in path {
        own.push_str(word);
        own.push('-');
    }
    own.push_str(&arg);
    let shared = format!("help-arg-{arg}");
    [own, shared]
        .into_iter()
        .find(|id| kith_i18n::has_message(lang, id))
}

/// `cmd` (at `path` below `kith`) with its headings, its arguments' texts and its
/// subcommands' (recursively) from the catalogue.
fn localize(mut cmd: clap::Command, path: &[String], lang: Lang) -> clap::Command {
    let say = |id: &str| message_in(lang, id, &[]);
    let mut template = format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}",
        say("help-usage")
    );
    if cmd.has_subcommands() {
        template += &format!("\n\n{}\n{{subcommands}}", say("help-commands"));
    }
    if cmd.get_positionals().any(|a| !a.is_hide_set()) {
        template += &format!("\n\n{}\n{{positionals}}", say("help-arguments"));
    }
    template += &format!("\n\n{}\n{{options}}{{after-help}}", say("help-options"));
    cmd = cmd
        .help_template(template)
        .subcommand_value_name(say("help-value-command"));
    // The shared options were done on `kith` itself: clap copies them down when it
    // builds. (`mut_args` keeps the arguments' order, which numbers the positionals.)
    cmd = cmd.mut_args(|a| {
        if a.is_global_set() {
            return a;
        }
        match arg_id(lang, path, a.get_id().as_str()) {
            Some(id) => with_fragments(a, say(&id), lang),
            None => a,
        }
    });
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        let mut sub_path = path.to_vec();
        sub_path.push(name.clone());
        let key = sub_path.join("-");
        let about = kith_i18n::has_message(lang, &format!("help-cmd-{key}"))
            .then(|| say(&format!("help-cmd-{key}")));
        let long = kith_i18n::has_message(lang, &format!("help-long-{key}"))
            .then(|| say(&format!("help-long-{key}")))
            .filter(|long| Some(long) != about.as_ref());
        cmd = cmd.mut_subcommand(name, |c| {
            let mut c = localize(c, &sub_path, lang);
            if let Some(about) = about {
                c = c.about(about);
            }
            // Without a longer text, clap's derive one (English) must not show either.
            match long {
                Some(long) => c.long_about(long),
                None => c.long_about(None),
            }
        });
    }
    cmd
}

/// `arg` with the help `help`, followed by its environment variable, default and
/// possible values said in `lang` (instead of clap's English `[default: …]`).
fn with_fragments(mut arg: Arg, mut help: String, lang: Lang) -> Arg {
    let takes_value = arg.get_action().takes_values();
    // The placeholder in the usage line (`<GROUP>`: clap's default is the name in
    // capitals), where the catalogue has one (`help-value-group`; optional).
    if takes_value {
        let names: Vec<String> = match arg.get_value_names() {
            Some(names) => names.iter().map(ToString::to_string).collect(),
            None => vec![arg.get_id().as_str().to_uppercase()],
        };
        let said: Option<Vec<String>> = names
            .iter()
            .map(|name| {
                let key: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let id = format!("help-value-{key}");
                kith_i18n::has_message(lang, &id).then(|| message_in(lang, &id, &[]))
            })
            .collect();
        if let Some(said) = said {
            arg = arg.value_names(said);
        }
    }
    if let Some(name) = arg.get_env().and_then(|e| e.to_str()).map(str::to_owned)
        && !arg.is_hide_env_set()
    {
        help += " ";
        help += &message_in(lang, "help-env", &[("name", Value::from(name))]);
        arg = arg.hide_env(true);
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if takes_value && !defaults.is_empty() && !arg.is_hide_default_value_set() {
        help += " ";
        let value = Value::from(defaults.join(", "));
        help += &message_in(lang, "help-default", &[("value", value)]);
        arg = arg.hide_default_value(true);
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_owned())
        .collect();
    if takes_value && !possible.is_empty() && !arg.is_hide_possible_values_set() {
        help += " ";
        let values = Value::from(possible.join(", "));
        help += &message_in(lang, "help-possible", &[("values", values)]);
        arg = arg.hide_possible_values(true);
    }
    arg.help(help)
}

/// A built `cmd` with the `--help`, `--version` and `help` that clap made in `lang`.
/// (`mut_args` and `mut_subcommands` keep the order clap's built index relies on.)
fn clap_own(cmd: clap::Command, lang: Lang) -> clap::Command {
    let say = |id: &str| message_in(lang, id, &[]);
    cmd.mut_args(|a| match a.get_action() {
        clap::ArgAction::Help if a.get_long_help().is_some() => a
            .help(say("help-flag-help-more"))
            .long_help(say("help-flag-help-summary")),
        clap::ArgAction::Help => a.help(say("help-flag-help")),
        clap::ArgAction::Version => a.help(say("help-flag-version")),
        _ => a,
    })
    .mut_subcommands(|c| {
        let c = if c.get_name() == "help" {
            c.about(say("help-cmd-help"))
        } else {
            c
        };
        clap_own(c, lang)
    })
}

/// What is wrong with the command line `args` (clap's error `e`), in `lang`: the first
/// line names it, with what clap found (the argument, the value); then how the command
/// is used and where to read more. Ends with a newline.
pub fn explain(e: &clap::Error, args: &[OsString], lang: Lang) -> String {
    let say = |id: &str, vars: &[(&str, Value)]| message_in(lang, id, vars);
    let get = |kind| e.get(kind).map(context_text);
    // (A subcommand that conflicts with an argument is named as the "invalid subcommand".)
    let arg = get(ContextKind::InvalidArg)
        .or_else(|| get(ContextKind::InvalidSubcommand))
        .unwrap_or_default();
    let cmd = command_in(lang);
    let command = command_path(&cmd, args);
    let mut lines = Vec::new();
    match e.kind() {
        ErrorKind::UnknownArgument if arg.starts_with('-') => {
            lines.push(say("help-error-unknown-option", &[("arg", arg.into())]));
        }
        ErrorKind::UnknownArgument => {
            lines.push(say("help-error-extra", &[("arg", arg.into())]));
        }
        ErrorKind::InvalidSubcommand => {
            let arg = get(ContextKind::InvalidSubcommand).unwrap_or_default();
            lines.push(say("help-error-unknown-command", &[("arg", arg.into())]));
        }
        ErrorKind::MissingRequiredArgument => {
            let n = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.len(),
                _ => 1,
            };
            let vars = [("args", arg.into()), ("n", n.into())];
            lines.push(say("help-error-missing", &vars));
        }
        ErrorKind::InvalidValue
            if get(ContextKind::InvalidValue)
                .unwrap_or_default()
                .is_empty() =>
        {
            // `--let-back` with nothing after it.
            lines.push(say("help-error-no-value", &[("arg", arg.into())]));
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = get(ContextKind::InvalidValue).unwrap_or_default();
            let vars = [("value", value.into()), ("arg", arg.into())];
            lines.push(say("help-error-bad-value", &vars));
            // A parser's own reason, when it is in the reader's language (`--lang`'s).
            if let Some(reason) = std::error::Error::source(e).map(|s| s.to_string())
                && (lang == Lang::En || reason.chars().any(is_cyrillic))
            {
                lines.push(reason);
            }
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            lines.push(say("help-error-too-many", &[("arg", arg.into())]));
        }
        ErrorKind::ArgumentConflict => {
            let other = get(ContextKind::PriorArg).unwrap_or_default();
            let vars = [("arg", arg.into()), ("other", other.into())];
            lines.push(say("help-error-conflict", &vars));
        }
        ErrorKind::MissingSubcommand => {
            let vars = [("command", command.clone().into())];
            lines.push(say("help-error-no-command", &vars));
        }
        _ => {
            // What clap says, after a line in the reader's language.
            lines.push(say("help-error-other", &[]));
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            lines.push(first.trim_start_matches("error: ").to_owned());
        }
    }
    let suggestions = [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(get)
    .or_else(|| {
        matches!(e.kind(), ErrorKind::InvalidValue)
            .then(|| get(ContextKind::ValidValue))
            .flatten()
    });
    if let Some(suggestions) = suggestions.filter(|s| !s.is_empty()) {
        lines.push(if e.kind() == ErrorKind::InvalidValue {
            say("help-error-possible", &[("values", suggestions.into())])
        } else {
            say("help-error-similar", &[("suggestions", suggestions.into())])
        });
    }
    let mut text = format!("kith: {}\n", lines.join("\n"));
    if let Some(usage) = get(ContextKind::Usage) {
        let usage = usage.trim();
        let usage = usage.strip_prefix("Usage:").unwrap_or(usage).trim();
        text += &format!("\n{} {usage}\n", say("help-usage", &[]));
    }
    text += &format!(
        "\n{}\n",
        say("help-error-more", &[("command", command.into())])
    );
    text
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё')
}

/// A detail of a clap error as text.
fn context_text(value: &ContextValue) -> String {
    match value {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(v) => v.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(v) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// The command `args` name, as far as it is one (`kith group create`): where `--help`
/// tells more about what went wrong.
fn command_path(cmd: &clap::Command, args: &[OsString]) -> String {
    let mut path = String::from("kith");
    let mut cmd = cmd;
    let mut skip_value = false;
    for word in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if word == "--" {
            break;
        }
        if let Some(flag) = word.strip_prefix('-') {
            // An option's value (`--home DIR`, `-o PATH`) is not a command's word.
            let takes_value = |a: &&Arg| a.get_action().takes_values();
            skip_value = match flag.strip_prefix('-') {
                Some(long) if !long.contains('=') => cmd
                    .get_arguments()
                    .filter(takes_value)
                    .any(|a| a.get_long() == Some(long)),
                Some(_) => false,
                None => {
                    flag.chars().count() == 1
                        && cmd
                            .get_arguments()
                            .filter(takes_value)
                            .any(|a| a.get_short() == flag.chars().next())
                }
            };
            continue;
        }
        match cmd.find_subcommand(word) {
            Some(sub) if sub.get_name() != "help" => {
                path.push(' ');
                path.push_str(sub.get_name());
                cmd = sub;
            }
            _ => break,
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command (any depth) with its path below `kith`.
    fn commands(
        cmd: &clap::Command,
        path: Vec<String>,
        out: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        for c in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            let mut p = path.clone();
            p.push(c.get_name().to_owned());
            out.push((p.clone(), c.clone()));
            commands(c, p, out);
        }
    }

    #[test]
    fn every_command_and_argument_has_its_text_in_every_language() {
        let cmd = Cli::command();
        let mut all = Vec::new();
        commands(&cmd, Vec::new(), &mut all);
        assert!(all.iter().any(|(p, _)| p == &["group", "create"]));
        for lang in Lang::ALL {
            for (path, c) in &all {
                let id = format!("help-cmd-{}", path.join("-"));
                assert!(kith_i18n::has_message(lang, &id), "{lang:?} lacks {id}");
                for arg in c.get_arguments().filter(|a| !a.is_hide_set()) {
                    assert!(
                        arg_id(lang, path, arg.get_id().as_str()).is_some(),
                        "{lang:?} lacks help-arg-{}-{}",
                        path.join("-"),
                        arg.get_id().as_str().replace('_', "-")
                    );
                }
            }
            // The options every command takes.
            for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
                let id = format!("help-opt-{}", arg.get_id().as_str().replace('_', "-"));
                assert!(kith_i18n::has_message(lang, &id), "{lang:?} lacks {id}");
            }
            for id in [
                "help-flag-help",
                "help-flag-help-more",
                "help-flag-help-summary",
                "help-flag-version",
                "help-cmd-help",
            ] {
                assert!(kith_i18n::has_message(lang, id), "{lang:?} lacks {id}");
            }
        }
    }

    /// The help of `kith PATH` in `lang`, as `--help` prints it.
    fn help(lang: Lang, path: &[&str]) -> String {
        let mut cmd = command_in(lang);
        let mut c = &mut cmd;
        for word in path {
            c = c.find_subcommand_mut(word).expect("a command");
        }
        // Words only: where clap wraps the lines depends on the terminal.
        let text = c.render_long_help().to_string();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_commands_help_is_russian_at_any_depth() {
        for path in [&["send"][..], &["group", "create"], &["invite"], &["board"]] {
            let text = help(Lang::Ru, path);
            for english in [
                "Usage:",
                "Arguments:",
                "Options:",
                "Commands:",
                "Print",
                "[default:",
                "[env:",
                "The group",
                "Profile directory",
            ] {
                assert!(!text.contains(english), "{english:?} in {path:?}:\n{text}");
            }
            assert!(text.contains("Как запускать:"), "{path:?}:\n{text}");
            assert!(text.contains("Параметры:"), "{path:?}:\n{text}");
            assert!(text.contains("Показать справку"), "{path:?}:\n{text}");
        }
        let create = help(Lang::Ru, &["group", "create"]);
        assert!(create.contains("Создать группу на сервере"), "{create}");
        assert!(create.contains("Аргументы:"), "{create}");
        assert!(create.contains("Название группы"), "{create}");
        assert!(
            create.contains("kith group create [OPTIONS] <ИМЯ>"),
            "{create}"
        );
        assert!(create.contains("--relay <СЕРВЕР>"), "{create}");
        // Defaults and variables are said in Russian, with clap's values.
        let invite = help(Lang::Ru, &["invite"]);
        assert!(invite.contains("[по умолчанию: 72h]"), "{invite}");
        assert!(invite.contains("[переменная KITH_PROXY]"), "{invite}");
        let board = help(Lang::Ru, &["board"]);
        assert!(board.contains("Команды:"), "{board}");
        assert!(board.contains("Добавить запись на доску"), "{board}");
        // The longer text, where there is one.
        let doctor = help(Lang::Ru, &["doctor"]);
        assert!(doctor.contains("какой шаг не прошёл"), "{doctor}");
    }

    #[test]
    fn the_english_help_keeps_claps_words() {
        let text = help(Lang::En, &["invite"]);
        for words in [
            "Usage: kith invite [OPTIONS] [GROUP]",
            "Arguments:",
            "Options:",
            "The group: its name or an id prefix",
            "[default: 72h]",
            "[env: KITH_FAILOVER_AFTER] [default: 1h]",
            "Print help",
        ] {
            assert!(text.contains(words), "{words:?}:\n{text}");
        }
    }

    fn error_of(args: &[&str]) -> (clap::Error, Vec<OsString>) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let e = command_in(Lang::Ru)
            .try_get_matches_from(&args)
            .expect_err("a wrong command line");
        (e, args)
    }

    #[test]
    fn a_wrong_command_line_is_explained_in_russian() {
        for (args, first, more) in [
            (
                &["kith", "sendx", "G"][..],
                "Неизвестная команда «sendx»",
                "kith --help",
            ),
            (
                &["kith", "remove", "G"],
                "Не указан обязательный аргумент: <УЧАСТНИК>",
                "kith remove --help",
            ),
            (
                &["kith", "--home", "/tmp/x", "send", "G", "hello", "world"],
                "Лишнее в команде: «world»",
                "kith send --help",
            ),
            (
                &["kith", "group", "create", "G", "--frob"],
                "Неизвестный параметр --frob",
                "kith group create --help",
            ),
            (
                &["kith", "invite", "G", "--expires", "soon"],
                "Неверное значение «soon» для --expires",
                "kith invite --help",
            ),
        ] {
            let (e, args) = error_of(args);
            let text = explain(&e, &args, Lang::Ru);
            assert!(text.starts_with(&format!("kith: {first}")), "{text}");
            assert!(
                text.trim_end().ends_with(&format!("Подробнее: {more}")),
                "{text}"
            );
            assert!(!text.contains("Usage"), "{text}");
            assert!(!text.contains("error:"), "{text}");
        }
        let (e, args) = error_of(&["kith", "group", "set", "G", "--let-back"]);
        let text = explain(&e, &args, Lang::Ru);
        assert!(
            text.starts_with("kith: После --let-back <ask|auto> нужно указать значение"),
            "{text}"
        );
        let (e, args) = error_of(&["kith", "board", "G", "add", "x"]);
        let text = explain(&e, &args, Lang::Ru);
        assert!(
            text.starts_with("kith: add нельзя указывать вместе с"),
            "{text}"
        );
        // clap's suggestion is kept.
        let (e, args) = error_of(&["kith", "sendx"]);
        let text = explain(&e, &args, Lang::Ru);
        assert!(text.contains("Может быть, вы имели в виду"), "{text}");
        assert!(text.contains("send"), "{text}");
        let (e, args) = error_of(&["kith", "remove"]);
        let text = explain(&e, &args, Lang::Ru);
        assert!(
            text.contains("Не указаны обязательные аргументы: <ГРУППА>, <УЧАСТНИК>"),
            "{text}"
        );
        assert!(
            text.contains("Как запускать: kith remove <ГРУППА> <УЧАСТНИК>"),
            "{text}"
        );
    }
}
