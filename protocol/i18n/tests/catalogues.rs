//! Every catalogue complete: each language has every message of every other, with the
//! same variables, and every id the sources ask for; the Russian has no English left in
//! it. A missing Russian string fails here instead of showing English to a reader.

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};
use kith_i18n::{CATALOGUES, Lang};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A message's variables and the words of all its variants.
#[derive(Default)]
struct Shape {
    variables: BTreeSet<String>,
    texts: Vec<String>,
}

fn walk_inline(e: &InlineExpression<&str>, shape: &mut Shape) {
    match e {
        InlineExpression::VariableReference { id } => {
            shape.variables.insert(id.name.to_owned());
        }
        InlineExpression::Placeable { expression } => walk_expression(expression, shape),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                walk_inline(a, shape);
            }
        }
        _ => {}
    }
}

fn walk_expression(e: &Expression<&str>, shape: &mut Shape) {
    match e {
        Expression::Select { selector, variants } => {
            walk_inline(selector, shape);
            for v in variants {
                walk_pattern(&v.value, shape);
            }
        }
        Expression::Inline(i) => walk_inline(i, shape),
    }
}

fn walk_pattern(p: &Pattern<&str>, shape: &mut Shape) {
    let mut text = String::new();
    for element in &p.elements {
        match element {
            PatternElement::TextElement { value } => text.push_str(value),
            PatternElement::Placeable { expression } => {
                // An argument stands in the sentence as a blank.
                text.push(' ');
                walk_expression(expression, shape);
            }
        }
    }
    shape.texts.push(text);
}

/// Each language's messages, failing on a file that does not parse or an id defined
/// twice.
fn catalogues() -> BTreeMap<&'static str, BTreeMap<String, Shape>> {
    let mut all = BTreeMap::new();
    for (lang, files) in CATALOGUES {
        let mut messages: BTreeMap<String, Shape> = BTreeMap::new();
        for (name, text) in files {
            let resource = fluent_syntax::parser::parse(*text).unwrap_or_else(|(_, errors)| {
                panic!("{}/{name} does not parse: {errors:?}", lang.code())
            });
            for entry in &resource.body {
                match entry {
                    Entry::Message(m) => {
                        let mut shape = Shape::default();
                        if let Some(p) = &m.value {
                            walk_pattern(p, &mut shape);
                        }
                        assert!(
                            m.value.is_some(),
                            "{}/{name}: {} has no text",
                            lang.code(),
                            m.id.name
                        );
                        let again = messages.insert(m.id.name.to_owned(), shape);
                        assert!(
                            again.is_none(),
                            "{}/{name}: {} is defined twice",
                            lang.code(),
                            m.id.name
                        );
                    }
                    Entry::Junk { content } => {
                        panic!("{}/{name}: cannot read {content:?}", lang.code())
                    }
                    _ => {}
                }
            }
        }
        all.insert(lang.code(), messages);
    }
    all
}

#[test]
fn every_language_has_every_message_with_the_same_variables() {
    let all = catalogues();
    let en = &all["en"];
    assert!(en.len() > 40, "the English catalogue looks empty");
    for lang in Lang::ALL {
        let other = &all[lang.code()];
        let missing: Vec<&String> = en.keys().filter(|id| !other.contains_key(*id)).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
        let extra: Vec<&String> = other.keys().filter(|id| !en.contains_key(*id)).collect();
        assert!(
            extra.is_empty(),
            "{} has messages English lacks: {extra:?}",
            lang.code()
        );
        for (id, shape) in other {
            assert_eq!(
                shape.variables,
                en[id].variables,
                "{}: {id} takes other arguments than in English",
                lang.code()
            );
        }
    }
}

/// Every `t!("id"` in the sources of the client.
fn ids_in_sources() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = BTreeMap::new();
    // (The ids kith-i18n itself uses are checked by its unit tests.)
    let mut dirs = vec![
        root.join("client-cli/src"),
        root.join("client-cli/engine/src"),
        root.join("server/src"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find("t!(") {
                // `t!(`, not the end of `format!(` or `print!(`.
                let macro_name =
                    at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                rest = &rest[at + 3..];
                if !macro_name {
                    continue;
                }
                let args = rest.trim_start();
                if let Some(quoted) = args.strip_prefix('"') {
                    let id = &quoted[..quoted.find('"').unwrap()];
                    found.insert(id.to_owned(), path.display().to_string());
                }
            }
        }
    }
    found
}

#[test]
fn every_message_the_sources_use_is_in_the_catalogues() {
    let all = catalogues();
    let used = ids_in_sources();
    assert!(
        used.len() > 30,
        "the scan of the sources found too little: {used:?}"
    );
    for (id, file) in &used {
        assert!(
            all["en"].contains_key(id),
            "{file} uses {id}, which no catalogue has"
        );
    }
}

/// Words the Russian text may keep in Latin letters: names of things that have none in
/// Russian, and what is typed as it is (commands, flags, examples of addresses).
#[rustfmt::skip]
const LATIN_ALLOWED: &[&str] = &[
    "kith", "Kith", "Tor", "MLS", "ID", "URL", "JSON", "TLS", "SOCKS5", "wss", "ws", "onion",
    "PEM", "chmod", "Enter", "Esc", "Tab", "Ctrl", "Alt", "PgUp", "PgDn", "Home", "End", "Up", "Down",
    "Left", "Right", "Backspace", "F1", "F2", "F3", "F10", "KiB", "MiB",
    // Language codes and the settings file's keys, typed as they are.
    "en", "ru", "lang", "utc", "zone", "relay", "proxy", "group", "config", "toml", "UTC",
];

#[test]
fn the_russian_has_no_english_left_in_it() {
    let all = catalogues();
    let mut english = Vec::new();
    for (id, shape) in &all["ru"] {
        for text in &shape.texts {
            // A command line to type (`kith …`, `/команда …`) stays as typed, up to the
            // next Russian word.
            let mut in_command = false;
            for word in text.split_whitespace() {
                let cyrillic = word
                    .chars()
                    .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'));
                let opened = word.trim_start_matches(['(', '«', '"', '`', '[']);
                if word.trim_matches(|c: char| !c.is_alphanumeric()) == "kith"
                    || opened.starts_with('/')
                    || opened.starts_with("--")
                {
                    in_command = true;
                    continue;
                }
                // A path, an address or a zone's name (`Asia/Irkutsk`), an environment
                // variable (`KITH_PASSPHRASE`) and a key (`Ctrl-C`) are typed as they are.
                let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                if word.contains('/')
                    || (bare.contains('_') && !bare.chars().any(|c| c.is_ascii_lowercase()))
                    || bare.starts_with("Ctrl-")
                    || bare.starts_with("Alt-")
                {
                    continue;
                }
                if cyrillic {
                    in_command = false;
                    continue;
                }
                let letters: String = word.chars().filter(|c| c.is_ascii_alphabetic()).collect();
                let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                if in_command || letters.len() < 2 || LATIN_ALLOWED.contains(&bare) {
                    continue;
                }
                english.push(format!("{id}: {word:?} in {text:?}"));
            }
        }
    }
    assert!(
        english.is_empty(),
        "English words in the Russian catalogue:\n{}",
        english.join("\n")
    );
}

#[test]
fn a_russian_reader_reads_russian() {
    let members = |n: u64| {
        kith_i18n::message_in(Lang::Ru, "count-members", &[("n", kith_i18n::Arg::from(n))])
    };
    assert_eq!(members(1), "1 участник");
    assert_eq!(members(3), "3 участника");
    assert_eq!(members(5), "5 участников");
    // Not the id (what a missing message shows), not English.
    let no_groups = kith_i18n::message_in(Lang::Ru, "cli-no-groups", &[]);
    assert!(no_groups.starts_with("Групп пока нет"), "{no_groups}");
}
