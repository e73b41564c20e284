//! Times in the reader's zone: `TZ`, else the system's (`/etc/localtime`), else UTC;
//! or UTC throughout when asked (`--utc`, for scripts and for logs compared across
//! machines).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock};

static UTC: AtomicBool = AtomicBool::new(false);

/// The zone of the environment, read once: jiff reads `TZ` (an IANA name such as
/// `Asia/Irkutsk`, or a POSIX rule), else `/etc/localtime`, and falls back to UTC.
static LOCAL: LazyLock<TimeZone> = LazyLock::new(TimeZone::system);

/// Shows every time in UTC from now on (`--utc`), or in the local zone again.
pub fn set_utc(on: bool) {
    UTC.store(on, Ordering::Relaxed);
}

/// Whether times are shown in UTC.
pub fn utc() -> bool {
    UTC.load(Ordering::Relaxed)
}

/// A zone chosen by name instead of the environment's (the daemon answering for a
/// reader in another zone).
static CHOSEN: RwLock<Option<TimeZone>> = RwLock::new(None);

/// Shows times in the zone of this IANA name from now on, or the environment's again
/// (`None`). An unknown name changes nothing: `false`.
pub fn set_zone(name: Option<&str>) -> bool {
    let zone = match name {
        None => None,
        Some(name) => match jiff::tz::db().get(name) {
            Ok(zone) => Some(zone),
            Err(_) => return false,
        },
    };
    *CHOSEN.write().unwrap_or_else(|e| e.into_inner()) = zone;
    true
}

/// Whether this build knows a time zone of that IANA name.
pub fn zone_known(name: &str) -> bool {
    jiff::tz::db().get(name).is_ok()
}

/// The IANA name of the zone in use, where it has one.
pub fn zone_name() -> Option<String> {
    let chosen = CHOSEN.read().unwrap_or_else(|e| e.into_inner()).clone();
    chosen
        .unwrap_or_else(|| LOCAL.clone())
        .iana_name()
        .map(str::to_owned)
}

fn zone() -> TimeZone {
    if utc() {
        return TimeZone::UTC;
    }
    let chosen = CHOSEN.read().unwrap_or_else(|e| e.into_inner()).clone();
    chosen.unwrap_or_else(|| LOCAL.clone())
}

/// Unix seconds as `YYYY-MM-DD HH:MM` in the reader's zone.
pub fn time(secs: u64) -> String {
    let Ok(at) = Timestamp::from_second(secs.min(i64::MAX as u64) as i64) else {
        return "????-??-?? ??:??".into();
    };
    at.to_zoned(zone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// The zone times are shown in, said once where it matters: `Asia/Irkutsk, UTC+08:00`,
/// `UTC+07:00` for a zone without a name, `UTC`.
pub fn zone_label() -> String {
    let zone = zone();
    let offset = Timestamp::now().to_zoned(zone.clone()).offset();
    let secs = offset.seconds();
    let mut label = if secs == 0 {
        "UTC".to_owned()
    } else {
        let (sign, abs) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
        format!("UTC{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    };
    if let Some(name) = zone
        .iana_name()
        .filter(|n| *n != "UTC" && !n.starts_with("Etc/"))
    {
        label = format!("{name}, {label}");
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_utc() {
        set_utc(true);
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(time(1_796_601_600), "2026-12-07 00:00");
        assert_eq!(zone_label(), "UTC");
        set_utc(false);
    }

    #[test]
    fn a_zone_chosen_by_name() {
        assert!(!set_zone(Some("Mars/Olympus_Mons")));
        assert!(set_zone(Some("Asia/Irkutsk")));
        assert_eq!(zone_name().as_deref(), Some("Asia/Irkutsk"));
        assert!(utc() || time(1_796_601_600) == "2026-12-07 08:00");
        assert!(utc() || zone_label() == "Asia/Irkutsk, UTC+08:00");
        set_zone(None);
    }

    #[test]
    fn irkutsk_is_eight_hours_ahead() {
        let tz = jiff::tz::db()
            .get("Asia/Irkutsk")
            .expect("the bundled database");
        let at = Timestamp::from_second(1_796_601_600).unwrap().to_zoned(tz);
        assert_eq!(
            at.strftime("%Y-%m-%d %H:%M").to_string(),
            "2026-12-07 08:00"
        );
    }
}
