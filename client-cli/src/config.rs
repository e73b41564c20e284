//! The client's settings file: what a person would otherwise type on every command
//! (the relay for new groups, the proxy, the language, the time zone). TOML, at
//! `$KITH_CONFIG`, else `kith/config.toml` in the platform's config directory
//! (`~/.config/kith/config.toml` on Linux). A missing file is no settings; a file that
//! cannot be read or says something unknown is an error that names the file, so that a
//! typo never silently drops Tor.
//!
//! What is given on the command line or in the environment wins over the file.

use crate::args::{Cli, Command, GroupCommand};
use kith_i18n::t;
use serde::Deserialize;
use std::path::PathBuf;

/// The settings (every one optional).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The language: `en` or `ru` (else `LC_ALL`, `LC_MESSAGES`, `LANG`).
    pub lang: Option<String>,
    /// Times in UTC.
    pub utc: Option<bool>,
    /// The time zone, by IANA name (`Asia/Irkutsk`); `TZ` wins over it.
    pub zone: Option<String>,
    /// The relay `kith group create` uses without `--relay`.
    pub relay: Option<String>,
    /// The SOCKS5 proxy every relay is reached through (`--proxy`, `KITH_PROXY` win).
    pub proxy: Option<String>,
    /// The group `read`, `members`, `files`, `invite`, `chat` and a one-argument `send`
    /// use when none is named.
    pub group: Option<String>,
}

/// Where the settings file is.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KITH_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    dirs::config_dir().map(|d| d.join("kith").join("config.toml"))
}

/// Reads the settings file; none there is no settings.
pub fn load() -> Result<Settings, String> {
    let Some(path) = path() else {
        return Ok(Settings::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => {
            return Err(t!(
                "cli-config-unreadable",
                path = path.display().to_string(),
                error = e.to_string()
            ));
        }
    };
    toml::from_str(&text).map_err(|e| {
        t!(
            "cli-config-invalid",
            path = path.display().to_string(),
            error = e.to_string()
        )
    })
}

/// Applies the settings where the command line and the environment left a choice:
/// the language, times, the proxy, `group create`'s relay, the group of commands that
/// name none.
pub fn apply(settings: &Settings, cli: &mut Cli) -> Result<(), String> {
    let lang_given = cli.lang.is_some() || std::env::var_os("KITH_LANG").is_some();
    if let (Some(code), false) = (&settings.lang, lang_given) {
        let lang = kith_i18n::Lang::parse(code)
            .ok_or_else(|| t!("cli-config-bad-lang", value = code.as_str()))?;
        kith_i18n::set_lang(lang);
    }
    if let Some(zone) = &settings.zone
        && std::env::var_os("TZ").is_none()
        && !kith_i18n::set_zone(Some(zone))
    {
        return Err(t!("cli-config-bad-zone", value = zone.as_str()));
    }
    if settings.utc == Some(true) {
        cli.utc = true;
        kith_i18n::set_utc(true);
    }
    if cli.proxy.is_none() {
        cli.proxy.clone_from(&settings.proxy);
    }
    match &mut cli.command {
        Command::Group(GroupCommand::Create { relay, .. }) if relay.is_none() => {
            relay.clone_from(&settings.relay);
        }
        Command::Read { group, .. }
        | Command::Members { group }
        | Command::Files { group }
        | Command::Invite { group, .. }
            if group.is_empty() =>
        {
            *group = settings.group.clone().ok_or_else(no_group)?;
        }
        Command::Chat { group } if group.is_none() => group.clone_from(&settings.group),
        // One argument: the text, for the settings' group.
        Command::Send { group, text } if text.is_none() => {
            let default = settings.group.clone().ok_or_else(no_group)?;
            *text = Some(std::mem::replace(group, default));
        }
        // A code alone: the relay given, else the settings'.
        Command::Join { invite, relay, .. } => {
            let with = relay.as_deref().or(settings.relay.as_deref());
            *invite = crate::args::full_invite(invite, with)?;
            *relay = None;
        }
        _ => {}
    }
    Ok(())
}

/// The error for a command that names no group, with no group in the settings.
fn no_group() -> String {
    let path = path().map(|p| p.display().to_string()).unwrap_or_default();
    t!("cli-config-no-group", path = path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_an_error_not_a_dropped_setting() {
        let bad: Result<Settings, _> = toml::from_str("proxi = \"socks5://127.0.0.1:9050\"");
        assert!(bad.is_err());
        let good: Settings = toml::from_str(
            "lang = \"ru\"\nzone = \"Asia/Irkutsk\"\nrelay = \"wss://relay.example\"\n\
             proxy = \"socks5://127.0.0.1:9050\"\nutc = false\ngroup = \"Семья\"\n",
        )
        .unwrap();
        assert_eq!(good.lang.as_deref(), Some("ru"));
        assert_eq!(good.proxy.as_deref(), Some("socks5://127.0.0.1:9050"));
        assert_eq!(good.group.as_deref(), Some("Семья"));
    }

    #[test]
    fn the_settings_group_fills_in_where_none_is_named() {
        use clap::Parser;
        let settings = Settings {
            group: Some("Семья".into()),
            ..Settings::default()
        };
        let parse = |args: &[&str]| {
            let mut cli = Cli::try_parse_from(args).unwrap();
            apply(&settings, &mut cli).unwrap();
            cli.command
        };
        assert!(
            matches!(parse(&["kith", "read"]), Command::Read { group, .. } if group == "Семья")
        );
        assert!(
            matches!(parse(&["kith", "read", "Работа"]), Command::Read { group, .. } if group == "Работа")
        );
        assert!(matches!(
            parse(&["kith", "send", "привет"]),
            Command::Send { group, text: Some(text) } if group == "Семья" && text == "привет"
        ));
        assert!(matches!(
            parse(&["kith", "send", "Работа", "привет"]),
            Command::Send { group, text: Some(text) } if group == "Работа" && text == "привет"
        ));
        assert!(
            matches!(parse(&["kith", "chat"]), Command::Chat { group: Some(g) } if g == "Семья")
        );
        // Without the setting, a missing group is a usage error that says what to do.
        let mut cli = Cli::try_parse_from(["kith", "members"]).unwrap();
        assert!(apply(&Settings::default(), &mut cli).is_err());
    }
}
