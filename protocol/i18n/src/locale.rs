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
