//! All of how a reader reads, as one value: what a `kith` command hands the daemon that
//! runs it (`locale` in docs/RPC.md), so that its answer is in the caller's language and
//! time zone, not the daemon's.

use crate::{Lang, lang, set_lang, time};

/// A reader's language and time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale {
    /// The language.
    pub lang: Lang,
    /// Whether times are shown in UTC (`--utc`).
    pub utc: bool,
    /// The zone times are shown in, by IANA name (`Asia/Irkutsk`); `None` when the
    /// reader's zone has no name (a POSIX `TZ` rule) and in the daemon's own locale.
    pub zone: Option<String>,
}

/// The locale in use now.
pub fn locale() -> Locale {
    Locale {
        lang: lang(),
        utc: time::utc(),
        zone: time::zone_name(),
    }
}

/// Speaks and shows times as `locale` says from now on. A zone this build does not know
/// leaves the zone as it was, and says so (`false`).
pub fn set_locale(locale: &Locale) -> bool {
    set_lang(locale.lang);
    time::set_utc(locale.utc);
    time::set_zone(locale.zone.as_deref())
}

/// A reader's locale and face in force until this is dropped, when the ones before come
/// back: one caller's command run by a process that speaks to many (the daemon).
#[must_use = "the locale holds only while the guard lives"]
pub struct Speaking {
    before: (Locale, crate::Face),
}

/// Speaks as `locale` says, to `face`, until the returned guard is dropped.
pub fn speaking(locale: &Locale, face: crate::Face) -> Speaking {
    let before = (self::locale(), crate::face());
    set_locale(locale);
    crate::set_face(face);
    Speaking { before }
}

impl Drop for Speaking {
    fn drop(&mut self) {
        set_locale(&self.before.0);
        crate::set_face(self.before.1);
    }
}
