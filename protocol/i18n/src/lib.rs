//! Kith's words in the language its reader reads.
//!
//! Every sentence a person reads goes through [`t!`]: a message id and its arguments,
//! looked up in the catalogue of the chosen [`Lang`] (`locales/LANG/*.ftl`, Project
//! Fluent's syntax, compiled into the binary). The catalogues own the grammar: plural
//! forms ("1 участник", "3 участника", "5 участников"), word order, case. The code passes
//! numbers as numbers and names as names, and never glues translated pieces together.
//!
//! A message missing from a catalogue is a test failure (`tests/catalogues.rs` walks
//! every id of every language, and every id the sources use), never a fallback to
//! another language at run time; should one slip through anyway, the id itself is shown.
//!
//! The language is chosen once, at start-up ([`set_lang`]): `--lang`, else the client's
//! setting, else the environment ([`Lang::from_env`]: `LC_ALL`, `LC_MESSAGES`, `LANG`).
//! Times ([`time`]) are in the reader's zone (`TZ`, else the system's) unless
//! [`set_utc`] asked for UTC.

#![forbid(unsafe_code)]

mod locale;
mod time;

pub use locale::{Locale, Speaking, locale, set_locale, speaking};
pub use time::{set_utc, set_zone, time, utc, zone_known, zone_label, zone_name};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A language Kith speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// Every language, in the order `--lang` lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// Its code, as `--lang` and the settings take it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// Reads a language code or a POSIX locale (`ru`, `ru-RU`, `ru_RU.UTF-8`,
    /// `en_US@euro`): the part before `_`, `-`, `.` or `@`. `C` and `POSIX` are English.
    pub fn parse(tag: &str) -> Option<Lang> {
        let base = tag
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "en" | "c" | "posix" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The language of the environment, as POSIX orders it: the first of `LC_ALL`,
    /// `LC_MESSAGES` and `LANG` that is set and not empty decides, and one that names a
    /// language Kith does not speak means English.
    pub fn from_env() -> Lang {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any source of variables (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| var(name).filter(|v| !v.trim().is_empty()))
            .map(|v| Lang::parse(&v).unwrap_or(Lang::En))
            .next()
            .unwrap_or(Lang::En)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The catalogues: each language's files, in the order they are loaded.
pub const CATALOGUES: [(Lang, &[(&str, &str)]); 2] = [
    (
        Lang::En,
        &[
            ("common.ftl", include_str!("../locales/en/common.ftl")),
            ("cli.ftl", include_str!("../locales/en/cli.ftl")),
            ("profile.ftl", include_str!("../locales/en/profile.ftl")),
            ("admin.ftl", include_str!("../locales/en/admin.ftl")),
            ("chat.ftl", include_str!("../locales/en/chat.ftl")),
            ("engine.ftl", include_str!("../locales/en/engine.ftl")),
            ("relay.ftl", include_str!("../locales/en/relay.ftl")),
            ("help.ftl", include_str!("../locales/en/help.ftl")),
            (
                "engine-net.ftl",
                include_str!("../locales/en/engine-net.ftl"),
            ),
        ],
    ),
    (
        Lang::Ru,
        &[
            ("common.ftl", include_str!("../locales/ru/common.ftl")),
            ("cli.ftl", include_str!("../locales/ru/cli.ftl")),
            ("profile.ftl", include_str!("../locales/ru/profile.ftl")),
            ("admin.ftl", include_str!("../locales/ru/admin.ftl")),
            ("chat.ftl", include_str!("../locales/ru/chat.ftl")),
            ("engine.ftl", include_str!("../locales/ru/engine.ftl")),
            ("relay.ftl", include_str!("../locales/ru/relay.ftl")),
            ("help.ftl", include_str!("../locales/ru/help.ftl")),
            (
                "engine-net.ftl",
                include_str!("../locales/ru/engine-net.ftl"),
            ),
        ],
    ),
];

/// 0: not chosen yet (the environment's on first use); else 1 + the language's index.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    CATALOGUES
        .iter()
        .map(|(lang, files)| {
            let id = lang.code().parse().expect("a valid language tag");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Unicode isolation marks (U+2068/U+2069) around arguments show as stray
            // characters in many terminals and in scripts' output.
            bundle.set_use_isolating(false);
            for (_, text) in *files {
                // A catalogue that does not parse or defines an id twice fails the
                // catalogue tests; here the messages that did parse are kept.
                let resource = FluentResource::try_new(text.to_string())
                    .unwrap_or_else(|(partial, _)| partial);
                let _ = bundle.add_resource(resource);
            }
            bundle
        })
        .collect()
});

/// Which face speaks: the engine's notices name the chat's commands (`/requests`) in the
/// chat and the command line's (`kith requests GROUP`) elsewhere. Catalogues select on
/// the `face` argument, which [`message`] passes to every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// The command line, a script, the daemon.
    Cli,
    /// The full-screen chat.
    Chat,
}

static CHAT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says which face speaks from now on.
pub fn set_face(face: Face) {
    CHAT.store(face == Face::Chat, Ordering::Relaxed);
}

/// The face that speaks.
pub fn face() -> Face {
    if CHAT.load(Ordering::Relaxed) {
        Face::Chat
    } else {
        Face::Cli
    }
}

/// Chooses the language of everything said from now on.
pub fn set_lang(lang: Lang) {
    CHOSEN.store(1 + lang as u8, Ordering::Relaxed);
}

/// The language in use: the one chosen, else the environment's.
pub fn lang() -> Lang {
    match CHOSEN.load(Ordering::Relaxed) {
        1 => Lang::En,
        2 => Lang::Ru,
        _ => {
            let lang = Lang::from_env();
            set_lang(lang);
            lang
        }
    }
}

/// An argument of a message: a text or a number (numbers choose plural forms).
pub struct Arg(FluentValue<'static>);

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg(FluentValue::from(s.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg(FluentValue::from(s))
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg(FluentValue::from(s.clone()))
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg(FluentValue::from(n))
            }
        }
    )*};
}
number_args!(u8, u16, u32, u64, usize, i32, i64);

/// The message `id` in the language in use, with its arguments. Use [`t!`].
pub fn message(id: &str, args: &[(&str, Arg)]) -> String {
    message_in(lang(), id, args)
}

/// Whether `lang`'s catalogue has the message `id` (for ids made at run time, whose
/// presence no scan of the sources can check).
pub fn has_message(lang: Lang, id: &str) -> bool {
    BUNDLES[lang.index()].has_message(id)
}

/// The message `id` in `lang`.
pub fn message_in(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    let bundle = &BUNDLES[lang.index()];
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_owned();
    };
    let mut fluent_args = FluentArgs::new();
    let face = match face() {
        Face::Cli => "cli",
        Face::Chat => "chat",
    };
    fluent_args.set("face", face);
    for (name, Arg(value)) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fluent_args), &mut errors)
        .into_owned()
}

/// A message in the language in use: `t!("id")`, or `t!("id", name = value, count = n)`.
/// Argument names are the catalogue's variables (`{ $name }`); numbers stay numbers so
/// that the catalogue can choose plural forms.
#[macro_export]
macro_rules! t {
    ($id:literal $(,)?) => {
        $crate::message($id, &[])
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::message($id, &[$((stringify!($name), $crate::Arg::from($value))),+])
    };
}

/// A span of time in words: "7 days", "1 hour", "90 seconds" ("7 дней", "1 час"…), in
/// the largest unit it is a whole number of (so what was typed as `7d` reads back as
/// seven days, not one week).
pub fn duration(secs: u64) -> String {
    for (id, len) in [
        ("duration-days", 86_400),
        ("duration-hours", 3600),
        ("duration-minutes", 60),
    ] {
        if secs >= len && secs.is_multiple_of(len) {
            return message(id, &[("n", Arg::from(secs / len))]);
        }
    }
    message("duration-seconds", &[("n", Arg::from(secs))])
}

/// A byte count as people read it: "812 B", "3.4 KiB", "25.0 MiB", "3.0 GiB", "5.0 TiB"
/// ("3,4 КиБ"…).
pub fn size(n: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;
    let (id, value) = match n {
        0..KIB => return message("size-bytes", &[("n", Arg::from(n))]),
        KIB..MIB => ("size-kib", n as f64 / KIB as f64),
        MIB..GIB => ("size-mib", n as f64 / MIB as f64),
        GIB..TIB => ("size-gib", n as f64 / GIB as f64),
        _ => ("size-tib", n as f64 / TIB as f64),
    };
    let mut shown = format!("{value:.1}");
    if lang() == Lang::Ru {
        shown = shown.replace('.', ",");
    }
    message(id, &[("n", Arg::from(shown))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_chooses_as_posix_orders_it() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Lang::from_vars(env(&[("LANG", "ru_RU.UTF-8")])), Lang::Ru);
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "ru_RU.UTF-8"), ("LC_ALL", "C")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "en_US.UTF-8"), ("LC_MESSAGES", "ru_RU")])),
            Lang::Ru
        );
        assert_eq!(
            Lang::from_vars(env(&[("LC_ALL", ""), ("LANG", "ru")])),
            Lang::Ru
        );
        assert_eq!(Lang::from_vars(env(&[("LANG", "de_DE.UTF-8")])), Lang::En);
        assert_eq!(Lang::from_vars(env(&[])), Lang::En);
        assert_eq!(Lang::parse("ru-RU"), Some(Lang::Ru));
        assert_eq!(Lang::parse("fr"), None);
    }

    #[test]
    fn russian_counts_take_their_three_forms() {
        let members = |n: u64| message_in(Lang::Ru, "count-members", &[("n", Arg::from(n))]);
        assert_eq!(members(1), "1 участник");
        assert_eq!(members(3), "3 участника");
        assert_eq!(members(5), "5 участников");
        assert_eq!(members(11), "11 участников");
        assert_eq!(members(21), "21 участник");
        assert_eq!(members(22), "22 участника");
        let en = |n: u64| message_in(Lang::En, "count-members", &[("n", Arg::from(n))]);
        assert_eq!(en(1), "1 member");
        assert_eq!(en(3), "3 members");
    }

    #[test]
    fn durations_read_back_as_typed() {
        set_lang(Lang::En);
        assert_eq!(duration(7 * 86_400), "7 days");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(duration(86_400), "1 day");
        assert_eq!(duration(3600), "1 hour");
        assert_eq!(duration(90), "90 seconds");
        assert_eq!(duration(120), "2 minutes");
        assert_eq!(
            message_in(Lang::Ru, "duration-days", &[("n", Arg::from(7u64))]),
            "7 дней"
        );
        assert_eq!(
            message_in(Lang::Ru, "duration-days", &[("n", Arg::from(3u64))]),
            "3 дня"
        );
        assert_eq!(size(812), "812 B");
        assert_eq!(size(3 * 1024 + 400), "3.4 KiB");
        assert_eq!(size(25 * 1_048_576), "25.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(size(5 << 40), "5.0 TiB");
        assert_eq!(
            message_in(Lang::Ru, "size-kib", &[("n", Arg::from("3,4"))]),
            "3,4 КиБ"
        );
    }
}
