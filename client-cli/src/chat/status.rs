//! The bottom line's passing messages, and when one is over before its time: a newer
//! one replaces it; "Making an invite…" goes once its result is on screen; a word about
//! the connection goes once every relay is connected; "not sent" goes once nothing is
//! unsent any more; and what was said goes with the user's next action (Enter, another
//! group), which says its own.

use super::app::{About, App, Level};
use super::notices::read_back;
use kith_engine::live::messages::{ConnState, OutState};
use kith_i18n::{Lang, message_in};
use std::time::Instant;

/// Whether an engine error is about reaching the relays: connecting or subscribing
/// failed, a relay is offline (the live loop's words, in any language).
pub fn about_connection(text: &str) -> bool {
    if read_back(text, "net-live-relay-offline", &[], &["relay", "verdict"]).is_some() {
        return true;
    }
    read_back(text, "net-live-failed", &[], &["context", "why"]).is_some_and(|v| {
        Lang::ALL.iter().any(|lang| {
            ["net-live-connecting", "net-live-subscribing"]
                .iter()
                .any(|id| message_in(*lang, id, &[]) == v[0])
        })
    })
}

impl App {
    /// Shows a passing message about `about`.
    pub fn say_about(&mut self, text: impl Into<String>, level: Level, about: About) {
        let at = Instant::now();
        self.status = Some((text.into(), level, at));
        self.status_about = Some((about, at));
    }

    /// Shows what is being done, until its result (or anything newer) is said.
    pub fn doing(&mut self, text: impl Into<String>) {
        self.say_about(text, Level::Info, About::Doing);
    }

    /// What the passing message is about, if it was said with [`App::say_about`].
    pub fn status_is(&self, about: About) -> bool {
        match (&self.status, &self.status_about) {
            (Some((_, _, at)), Some((a, said))) => *a == about && at == said,
            _ => false,
        }
    }

    /// Takes the passing message away if it is about `about`.
    pub fn status_over(&mut self, about: About) {
        if self.status_is(about) {
            self.status = None;
            self.status_about = None;
        }
    }

    /// An engine error: one about the connection goes once connected.
    pub(super) fn engine_error(&mut self, text: String) {
        if about_connection(&text) {
            self.say_about(text, Level::Error, About::Connection);
        } else {
            self.say(text, Level::Error);
        }
    }

    /// After an engine event: what it made out of date goes.
    pub(super) fn after_event(&mut self) {
        if self.conn == ConnState::Connected
            && self.relays.values().all(|s| *s == ConnState::Connected)
        {
            self.status_over(About::Connection);
        }
        // "Not sent: …" once nothing is unsent any more.
        let failed = self
            .outbox
            .iter()
            .any(|o| matches!(o.state, OutState::Failed(_)));
        if !failed
            && let Some((text, Level::Error, _)) = &self.status
            && read_back(text, "chat-not-sent", &[], &["why"]).is_some()
        {
            self.status = None;
        }
    }

    /// The user acts anew (Enter): what was said before is over; the action says its own.
    pub(super) fn next_action(&mut self) {
        self.status = None;
        self.status_about = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_told_apart() {
        for lang in Lang::ALL {
            let say = |id: &str, args: &[(&str, &str)]| {
                let args: Vec<(&str, kith_i18n::Arg)> = args
                    .iter()
                    .map(|(k, v)| (*k, kith_i18n::Arg::from(*v)))
                    .collect();
                message_in(lang, id, &args)
            };
            let connecting = say("net-live-connecting", &[]);
            let failed = say(
                "net-live-failed",
                &[("context", &connecting), ("why", "connection refused")],
            );
            assert!(about_connection(&failed), "{failed}");
            let offline = say(
                "net-live-relay-offline",
                &[
                    ("relay", "ws://127.0.0.1:1"),
                    ("verdict", "Nothing listens."),
                ],
            );
            assert!(about_connection(&offline), "{offline}");
            let other = say(
                "net-live-failed",
                &[("context", "Legal aid"), ("why", "no such member")],
            );
            assert!(!about_connection(&other), "{other}");
        }
    }
}
