//! The chat screen's state and what keys do to it. No I/O here: keys and engine events
//! come in, [`Command`]s for the engine go out through [`App::take_commands`], and
//! [`super::ui::draw`] renders the state.

use super::engine_task::{Command, ConnState, Event, GroupView, OutState};
use super::input::LineEditor;
use crate::engine::GroupSummary;
use crate::identity::IdentityKey;
use crate::payload::MAX_TEXT_BYTES;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use kith_protocol::GroupId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a passing status message stays in the bottom line.
pub const STATUS_FOR: Duration = Duration::from_secs(8);

/// A message of ours the relay has not acknowledged yet.
#[derive(Debug, Clone)]
pub struct OutItem {
    /// Outbox id.
    pub id: u64,
    /// The group.
    pub group: GroupId,
    /// The text.
    pub text: String,
    /// When it was typed, Unix seconds.
    pub time: u64,
    /// Where it stands.
    pub state: OutState,
}

/// How a status message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral information.
    Info,
    /// Something failed.
    Error,
}

/// A box over the screen that takes the keys until closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Keys and commands.
    Help,
    /// A fresh invite to pass on.
    Invite {
        /// The group's name.
        group: String,
        /// The invite.
        invite: String,
        /// Validity, in words.
        valid_for: String,
    },
    /// A safety number to compare; `y` confirms.
    Verify {
        /// The group.
        group: GroupId,
        /// The member.
        member: IdentityKey,
        /// The member's name.
        name: String,
        /// The number.
        number: String,
    },
    /// `y` removes the member.
    ConfirmRemove {
        /// The group.
        group: GroupId,
        /// The member as typed.
        member: String,
    },
    /// `y` leaves the group.
    ConfirmLeave {
        /// The group.
        group: GroupId,
        /// Its name.
        name: String,
    },
    /// Unsent messages would be lost: `y` (or Ctrl-C again) quits anyway.
    ConfirmQuit {
        /// How many.
        unsent: usize,
    },
}

/// Incremental search in the conversation.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The query.
    pub query: LineEditor,
    /// Which match is current, counted from the newest (0).
    pub current: usize,
    /// How many matches there are (set by the renderer).
    pub matches: usize,
    /// The renderer should bring the current match into view.
    pub jump: bool,
}

/// The whole state of the chat screen.
#[derive(Debug)]
pub struct App {
    /// Our display name.
    pub me: String,
    /// Our identity key.
    pub identity: IdentityKey,
    /// Colors allowed (false under NO_COLOR).
    pub color: bool,
    /// Groups, in display order.
    pub groups: Vec<GroupSummary>,
    /// Groups we wait to be admitted to.
    pub joining: Vec<String>,
    /// What we know of each group.
    pub views: HashMap<GroupId, GroupView>,
    /// The group on screen.
    pub selected: Option<GroupId>,
    /// The connection.
    pub conn: ConnState,
    /// Messages not acknowledged yet.
    pub outbox: Vec<OutItem>,
    /// The input line.
    pub input: LineEditor,
    /// Rows scrolled up from the bottom of the conversation.
    pub scroll: usize,
    /// Rows of the conversation at the last draw (to keep the view still when
    /// messages arrive while scrolled up).
    pub last_rows: usize,
    /// Width of the conversation at the last draw.
    pub last_width: u16,
    /// Height of the conversation at the last draw (for page up/down).
    pub page: usize,
    /// The member list is shown.
    pub show_members: bool,
    /// Search mode.
    pub search: Option<Search>,
    /// A box over the screen.
    pub overlay: Option<Overlay>,
    /// A passing message in the bottom line.
    pub status: Option<(String, Level, Instant)>,
    /// Commands for the engine.
    commands: Vec<Command>,
    /// The user asked to quit.
    pub quit: bool,
    /// The engine stopped for good with this message.
    pub fatal: Option<String>,
    /// The screen should be cleared and redrawn in full.
    pub redraw: bool,
    next_id: u64,
}

fn ctrl(k: &KeyEvent, c: char) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char(c)
}

impl App {
    /// A new screen state; `first` is the group to open.
    pub fn new(color: bool, first: Option<GroupId>) -> Self {
        Self {
            me: String::new(),
            identity: [0; 32],
            color,
            groups: Vec::new(),
            joining: Vec::new(),
            views: HashMap::new(),
            selected: first,
            conn: ConnState::Connecting,
            outbox: Vec::new(),
            input: LineEditor::new(),
            scroll: 0,
            last_rows: 0,
            last_width: 0,
            page: 10,
            show_members: false,
            search: None,
            overlay: None,
            status: None,
            commands: Vec::new(),
            quit: false,
            fatal: None,
            redraw: false,
            next_id: 1,
        }
    }

    /// The commands the engine should get, in order.
    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// Shows a passing message.
    pub fn say(&mut self, text: impl Into<String>, level: Level) {
        self.status = Some((text.into(), level, Instant::now()));
    }

    /// The passing message, if still fresh.
    pub fn status_line(&self) -> Option<(&str, Level)> {
        self.status
            .as_ref()
            .filter(|(_, _, at)| at.elapsed() < STATUS_FOR)
            .map(|(t, l, _)| (t.as_str(), *l))
    }

    /// The summary of the selected group.
    pub fn current(&self) -> Option<&GroupSummary> {
        let id = self.selected?;
        self.groups
            .iter()
            .find(|g| GroupId::from_hex(&g.id) == Some(id))
    }

    /// Whether the selected group can be written to.
    pub fn can_send(&self) -> bool {
        self.current().is_some_and(|g| g.status == "active")
    }

    /// Unsent messages (queued, sending or failed), all groups.
    pub fn unsent(&self) -> usize {
        self.outbox.len()
    }

    // ---- engine events -----------------------------------------------------------

    /// Applies an engine event.
    pub fn on_engine(&mut self, ev: Event) {
        match ev {
            Event::Me { name, identity } => {
                self.me = name;
                self.identity = identity;
            }
            Event::Groups { groups, joining } => {
                self.groups = groups;
                self.joining = joining;
                let known = self
                    .selected
                    .is_some_and(|s| self.groups.iter().any(|g| g.id == s.to_hex()));
                if !known {
                    let first = self
                        .groups
                        .iter()
                        .find(|g| g.status == "active")
                        .or(self.groups.first())
                        .and_then(|g| GroupId::from_hex(&g.id));
                    if let Some(id) = first {
                        self.select(id);
                    }
                }
            }
            Event::Group { id, view } => {
                self.views.insert(id, *view);
            }
            Event::Connection(state) => self.conn = state,
            Event::Outbox { id, state } => {
                if state == OutState::Sent {
                    self.outbox.retain(|o| o.id != id);
                } else if let Some(o) = self.outbox.iter_mut().find(|o| o.id == id) {
                    if let OutState::Failed(why) = &state {
                        self.status = Some((
                            format!("Not sent: {why} (Ctrl-R retries)"),
                            Level::Error,
                            Instant::now(),
                        ));
                    }
                    o.state = state;
                }
            }
            Event::Info(text) => self.say(text, Level::Info),
            Event::Error(text) => self.say(text, Level::Error),
            Event::Invite { group, invite, ttl } => {
                self.overlay = Some(Overlay::Invite {
                    group,
                    invite,
                    valid_for: humantime::format_duration(ttl).to_string(),
                });
            }
            Event::SafetyNumber {
                group,
                member,
                name,
                number,
            } => {
                self.overlay = Some(Overlay::Verify {
                    group,
                    member,
                    name,
                    number,
                });
            }
            Event::Fatal(text) => {
                self.fatal = Some(text);
                self.quit = true;
            }
        }
    }

    // ---- terminal events ---------------------------------------------------------

    /// Applies a terminal event (key, paste, resize).
    pub fn on_terminal(&mut self, ev: TermEvent) {
        match ev {
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => self.on_key(k),
            TermEvent::Paste(text) => {
                if self.overlay.is_some() {
                    return;
                }
                match &mut self.search {
                    Some(s) => {
                        s.query.insert_str(&text.replace('\n', " "));
                        s.current = 0;
                        s.jump = true;
                    }
                    None => self.input.insert_str(&text),
                }
            }
            TermEvent::Resize(..) => self.redraw = true,
            _ => {}
        }
    }

    /// Applies a key.
    pub fn on_key(&mut self, k: KeyEvent) {
        if ctrl(&k, 'c') || ctrl(&k, 'q') {
            return self.request_quit(ctrl(&k, 'c'));
        }
        if self.overlay.is_some() {
            return self.overlay_key(k);
        }
        if self.global_key(&k) {
            return;
        }
        if self.search.is_some() {
            return self.search_key(k);
        }
        self.edit_key(k);
    }

    fn request_quit(&mut self, ctrl_c: bool) {
        let unsent = self.unsent();
        match self.overlay {
            Some(Overlay::ConfirmQuit { .. }) if ctrl_c => self.quit = true,
            _ if unsent == 0 => self.quit = true,
            _ => self.overlay = Some(Overlay::ConfirmQuit { unsent }),
        }
    }

    fn overlay_key(&mut self, k: KeyEvent) {
        let yes = matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y'));
        let Some(overlay) = self.overlay.take() else {
            return;
        };
        match overlay {
            Overlay::Verify {
                group,
                member,
                name,
                ..
            } if yes => self.commands.push(Command::ConfirmVerified {
                group,
                member,
                name,
            }),
            Overlay::ConfirmRemove { group, member } if yes => {
                self.say(format!("Removing {member}…"), Level::Info);
                self.commands.push(Command::Remove { group, member });
            }
            Overlay::ConfirmLeave { group, .. } if yes => {
                self.outbox.retain(|o| o.group != group);
                self.commands.push(Command::Leave(group));
            }
            Overlay::ConfirmQuit { .. } if yes => self.quit = true,
            Overlay::Verify { name, .. } if k.code == KeyCode::Char('n') => {
                self.say(
                    format!(
                        "The numbers differ: do not trust {name} until you know why \
                         (someone may be posing as them)."
                    ),
                    Level::Error,
                );
            }
            Overlay::Help | Overlay::Invite { .. } => {}
            // Any other key closes the box without doing anything.
            _ => {}
        }
    }

    /// Keys that work in every mode. Returns true if the key was used.
    fn global_key(&mut self, k: &KeyEvent) -> bool {
        let alt = k.modifiers == KeyModifiers::ALT;
        match k.code {
            KeyCode::F(1) => self.overlay = Some(Overlay::Help),
            KeyCode::F(2) => self.show_members = !self.show_members,
            KeyCode::Tab => self.cycle_group(1),
            KeyCode::BackTab => self.cycle_group(-1),
            KeyCode::Char('n') if k.modifiers == KeyModifiers::CONTROL => self.cycle_group(1),
            KeyCode::Char('p') if k.modifiers == KeyModifiers::CONTROL => self.cycle_group(-1),
            KeyCode::Down if alt => self.cycle_group(1),
            KeyCode::Up if alt => self.cycle_group(-1),
            KeyCode::Char(c @ '1'..='9') if alt => {
                let n = (c as u8 - b'1') as usize;
                if let Some(id) = self.groups.get(n).and_then(|g| GroupId::from_hex(&g.id)) {
                    self.select(id);
                }
            }
            KeyCode::Char('m') if alt => self.show_members = !self.show_members,
            KeyCode::PageUp => self.scroll_by(self.page.saturating_sub(2).max(1) as isize),
            KeyCode::PageDown => self.scroll_by(-(self.page.saturating_sub(2).max(1) as isize)),
            KeyCode::Up if k.modifiers.contains(KeyModifiers::SHIFT) => self.scroll_by(1),
            KeyCode::Down if k.modifiers.contains(KeyModifiers::SHIFT) => self.scroll_by(-1),
            KeyCode::End if k.modifiers.contains(KeyModifiers::CONTROL) => self.scroll = 0,
            KeyCode::Home if k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.scroll = usize::MAX / 2;
            }
            KeyCode::Char('f') if k.modifiers == KeyModifiers::CONTROL => match &mut self.search {
                Some(s) => {
                    s.current += 1;
                    s.jump = true;
                }
                None => self.search = Some(Search::default()),
            },
            KeyCode::Char('r') if k.modifiers == KeyModifiers::CONTROL => self.retry(),
            KeyCode::Char('l') if k.modifiers == KeyModifiers::CONTROL => self.redraw = true,
            _ => return false,
        }
        true
    }

    fn search_key(&mut self, k: KeyEvent) {
        let Some(s) = &mut self.search else {
            return;
        };
        match k.code {
            KeyCode::Esc => {
                self.search = None;
                self.scroll = 0;
            }
            KeyCode::Enter | KeyCode::Up => {
                s.current += 1;
                s.jump = true;
            }
            KeyCode::Down => {
                s.current = s.current.saturating_sub(1);
                s.jump = true;
            }
            _ => {
                let before = s.query.text().to_owned();
                edit(&mut s.query, &k);
                if s.query.text().contains('\n') {
                    let q = s.query.text().replace('\n', " ");
                    s.query.set_text(&q);
                }
                if s.query.text() != before {
                    s.current = 0;
                    s.jump = true;
                }
            }
        }
        if let Some(s) = &mut self.search
            && s.matches > 0
        {
            s.current = s.current.min(s.matches - 1);
        }
    }

    fn edit_key(&mut self, k: KeyEvent) {
        let newline = k.code == KeyCode::Enter
            && (k.modifiers.contains(KeyModifiers::ALT)
                || k.modifiers.contains(KeyModifiers::SHIFT))
            || ctrl(&k, 'j');
        if newline {
            self.input.insert_char('\n');
            return;
        }
        match k.code {
            KeyCode::Enter => self.submit(),
            KeyCode::Esc => {
                self.scroll = 0;
                self.status = None;
            }
            KeyCode::Up if k.modifiers.is_empty() => {
                if !self.input.up() {
                    self.input.history_prev();
                }
            }
            KeyCode::Down if k.modifiers.is_empty() => {
                if !self.input.down() {
                    self.input.history_next();
                }
            }
            KeyCode::Char('d') if k.modifiers == KeyModifiers::CONTROL && self.input.is_empty() => {
                self.request_quit(false);
            }
            _ => edit(&mut self.input, &k),
        }
    }

    fn scroll_by(&mut self, rows: isize) {
        self.scroll = if rows < 0 {
            self.scroll.saturating_sub(rows.unsigned_abs())
        } else {
            self.scroll.saturating_add(rows as usize)
        };
    }

    /// Opens a group.
    pub fn select(&mut self, id: GroupId) {
        self.selected = Some(id);
        self.scroll = 0;
        self.last_rows = 0;
        self.search = None;
        if let Some(g) = self.groups.iter_mut().find(|g| g.id == id.to_hex()) {
            g.unread = 0;
        }
        self.commands.push(Command::Select(id));
    }

    fn cycle_group(&mut self, by: isize) {
        if self.groups.is_empty() {
            return;
        }
        let n = self.groups.len() as isize;
        let at = self
            .selected
            .and_then(|s| self.groups.iter().position(|g| g.id == s.to_hex()))
            .map_or(0, |i| i as isize);
        let next = (at + by).rem_euclid(n) as usize;
        if let Some(id) = GroupId::from_hex(&self.groups[next].id) {
            self.select(id);
        }
    }

    /// Retries failed messages of the open group, and reconnects now if offline.
    fn retry(&mut self) {
        let mut n = 0;
        for o in &mut self.outbox {
            if matches!(o.state, OutState::Failed(_)) && Some(o.group) == self.selected {
                o.state = OutState::Sending;
                self.commands.push(Command::Send {
                    id: o.id,
                    group: o.group,
                    text: o.text.clone(),
                });
                n += 1;
            }
        }
        if self.conn != ConnState::Connected {
            self.commands.push(Command::Reconnect);
            self.say("Reconnecting now…", Level::Info);
        } else if n > 0 {
            self.say(format!("Retrying {n} message(s)…"), Level::Info);
        } else {
            self.say("Nothing to retry.", Level::Info);
        }
    }

    /// Enter: a slash command or a message.
    fn submit(&mut self) {
        let text = self.input.text().to_owned();
        if text.trim().is_empty() {
            return;
        }
        if let Some(cmd) = text.strip_prefix('/')
            && !cmd.starts_with('/')
        {
            if self.slash(cmd.trim()) {
                self.input.submit();
            }
            return;
        }
        // `//text` sends `/text`.
        let body = text
            .strip_prefix('/')
            .unwrap_or(&text)
            .trim_end()
            .to_owned();
        let Some(group) = self.selected else {
            return self.say("No group is open: there is nowhere to send.", Level::Error);
        };
        if !self.can_send() {
            return self.say("You are not a member of this group any more.", Level::Error);
        }
        if body.len() > MAX_TEXT_BYTES {
            return self.say(
                format!(
                    "Too long to send ({} bytes; at most {MAX_TEXT_BYTES}). Nothing was lost: shorten it.",
                    body.len()
                ),
                Level::Error,
            );
        }
        self.input.submit();
        let id = self.next_id;
        self.next_id += 1;
        let state = if self.conn == ConnState::Connected {
            OutState::Sending
        } else {
            OutState::Queued
        };
        self.outbox.push(OutItem {
            id,
            group,
            text: body.clone(),
            time: crate::engine::now_secs(),
            state,
        });
        self.scroll = 0;
        self.commands.push(Command::Send {
            id,
            group,
            text: body,
        });
    }

    /// Runs a slash command. Returns true if the input should be cleared.
    fn slash(&mut self, line: &str) -> bool {
        let (name, arg) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(n, a)| (n, a.trim()));
        let group = self.selected;
        let need_group = |app: &mut App| -> Option<GroupId> {
            if !app.can_send() {
                app.say(
                    "Open a group you are a member of first (Tab switches).",
                    Level::Error,
                );
                return None;
            }
            group
        };
        match name.to_ascii_lowercase().as_str() {
            "help" | "h" | "?" => self.overlay = Some(Overlay::Help),
            "quit" | "q" | "exit" => self.request_quit(false),
            "members" | "m" => self.show_members = !self.show_members,
            "retry" => self.retry(),
            "search" | "find" => {
                let mut s = Search::default();
                s.query.set_text(arg);
                s.jump = true;
                self.search = Some(s);
            }
            "discard" => {
                let before = self.outbox.len();
                self.outbox.retain(|o| {
                    !(matches!(o.state, OutState::Failed(_)) && Some(o.group) == group)
                });
                let n = before - self.outbox.len();
                self.say(format!("Discarded {n} unsent message(s)."), Level::Info);
            }
            "invite" => {
                let Some(group) = need_group(self) else {
                    return false;
                };
                let ttl = if arg.is_empty() {
                    Duration::from_secs(72 * 3600)
                } else {
                    match humantime::parse_duration(arg) {
                        Ok(d) => d,
                        Err(_) => {
                            self.say(
                                format!("Not a duration: {arg:?} (try 30m, 72h, 7d)"),
                                Level::Error,
                            );
                            return false;
                        }
                    }
                };
                self.say("Making an invite…", Level::Info);
                self.commands.push(Command::Invite { group, ttl });
            }
            "remove" | "kick" => {
                let Some(group) = need_group(self) else {
                    return false;
                };
                if arg.is_empty() {
                    self.say("Usage: /remove NAME", Level::Error);
                    return false;
                }
                self.overlay = Some(Overlay::ConfirmRemove {
                    group,
                    member: arg.to_owned(),
                });
            }
            "verify" => {
                let Some(group) = need_group(self) else {
                    return false;
                };
                if arg.is_empty() {
                    self.say("Usage: /verify NAME", Level::Error);
                    return false;
                }
                self.commands.push(Command::Verify {
                    group,
                    member: arg.to_owned(),
                });
            }
            "leave" => {
                let Some(group) = need_group(self) else {
                    return false;
                };
                let name = self.current().map(|g| g.name.clone()).unwrap_or_default();
                self.overlay = Some(Overlay::ConfirmLeave { group, name });
            }
            other => {
                self.say(
                    format!("Unknown command /{other}. /help lists them; //text sends \"/text\"."),
                    Level::Error,
                );
                return false;
            }
        }
        true
    }
}

/// Editing keys shared by the message input and the search query.
fn edit(e: &mut LineEditor, k: &KeyEvent) {
    let c = k.modifiers.contains(KeyModifiers::CONTROL);
    let a = k.modifiers.contains(KeyModifiers::ALT);
    match k.code {
        KeyCode::Char('a') if c => e.home(),
        KeyCode::Char('e') if c => e.end(),
        KeyCode::Char('b') if c => e.left(),
        KeyCode::Char('f') if c => e.right(),
        KeyCode::Char('b') if a => e.word_left(),
        KeyCode::Char('f') if a => e.word_right(),
        KeyCode::Char('u') if c => e.kill_to_start(),
        KeyCode::Char('k') if c => e.kill_to_end(),
        KeyCode::Char('w') if c => e.delete_word_back(),
        KeyCode::Char('h') if c => e.backspace(),
        KeyCode::Backspace if a || c => e.delete_word_back(),
        KeyCode::Char('d') if c => e.delete(),
        KeyCode::Char(ch) if !c && !a => e.insert_char(ch),
        KeyCode::Backspace => e.backspace(),
        KeyCode::Delete => e.delete(),
        KeyCode::Left if c || a => e.word_left(),
        KeyCode::Right if c || a => e.word_right(),
        KeyCode::Left => e.left(),
        KeyCode::Right => e.right(),
        KeyCode::Home => e.home(),
        KeyCode::End => e.end(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> TermEvent {
        TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(app: &mut App, s: &str) {
        for c in s.chars() {
            app.on_terminal(key(KeyCode::Char(c)));
        }
    }

    fn group(name: &str, id: GroupId) -> GroupSummary {
        GroupSummary {
            name: name.into(),
            id: id.to_hex(),
            relay: "ws://127.0.0.1:1".into(),
            members: 2,
            unread: 0,
            pending_joins: 0,
            status: "active".into(),
        }
    }

    fn app_with_group() -> (App, GroupId) {
        let mut app = App::new(false, None);
        let id = GroupId([7; 16]);
        app.on_engine(Event::Groups {
            groups: vec![group("Legal aid", id)],
            joining: vec![],
        });
        app.take_commands();
        (app, id)
    }

    #[test]
    fn enter_sends_and_offline_messages_wait_in_the_outbox() {
        let (mut app, id) = app_with_group();
        app.on_engine(Event::Connection(ConnState::Offline {
            retry_at: tokio::time::Instant::now(),
        }));
        typed(&mut app, "hello");
        app.on_terminal(key(KeyCode::Enter));
        let cmds = app.take_commands();
        assert_eq!(
            cmds,
            vec![Command::Send {
                id: 1,
                group: id,
                text: "hello".into()
            }]
        );
        assert!(app.input.is_empty());
        assert_eq!(app.outbox[0].state, OutState::Queued);
        // Failure keeps it, with a retry.
        app.on_engine(Event::Outbox {
            id: 1,
            state: OutState::Failed("timeout".into()),
        });
        app.on_engine(Event::Connection(ConnState::Connected));
        app.on_terminal(TermEvent::Key(KeyEvent::new(
            KeyCode::Char('r'),
            KeyModifiers::CONTROL,
        )));
        assert_eq!(app.take_commands().len(), 1);
        app.on_engine(Event::Outbox {
            id: 1,
            state: OutState::Sent,
        });
        assert!(app.outbox.is_empty());
    }

    #[test]
    fn quitting_with_unsent_messages_asks_first() {
        let (mut app, _) = app_with_group();
        typed(&mut app, "x");
        app.on_terminal(key(KeyCode::Enter));
        let ctrl_c = TermEvent::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        app.on_terminal(ctrl_c.clone());
        assert!(!app.quit);
        assert!(matches!(
            app.overlay,
            Some(Overlay::ConfirmQuit { unsent: 1 })
        ));
        app.on_terminal(ctrl_c);
        assert!(app.quit);
    }

    #[test]
    fn slash_commands_and_errors_keep_the_text() {
        let (mut app, id) = app_with_group();
        typed(&mut app, "/frobnicate");
        app.on_terminal(key(KeyCode::Enter));
        assert_eq!(app.input.text(), "/frobnicate");
        assert_eq!(app.status_line().map(|s| s.1), Some(Level::Error));
        app.input.clear();
        typed(&mut app, "/verify Iryna");
        app.on_terminal(key(KeyCode::Enter));
        assert_eq!(
            app.take_commands(),
            vec![Command::Verify {
                group: id,
                member: "Iryna".into()
            }]
        );
        typed(&mut app, "/remove Mykola");
        app.on_terminal(key(KeyCode::Enter));
        assert!(matches!(app.overlay, Some(Overlay::ConfirmRemove { .. })));
        app.on_terminal(key(KeyCode::Char('y')));
        assert_eq!(
            app.take_commands(),
            vec![Command::Remove {
                group: id,
                member: "Mykola".into()
            }]
        );
        typed(&mut app, "//slash");
        app.on_terminal(key(KeyCode::Enter));
        assert!(matches!(
            &app.take_commands()[..],
            [Command::Send { text, .. }] if text == "/slash"
        ));
    }

    #[test]
    fn paste_is_one_multi_line_message() {
        let (mut app, _) = app_with_group();
        app.on_terminal(TermEvent::Paste("line one\r\nline two".into()));
        app.on_terminal(key(KeyCode::Enter));
        assert!(matches!(
            &app.take_commands()[..],
            [Command::Send { text, .. }] if text == "line one\nline two"
        ));
    }

    #[test]
    fn too_long_text_is_kept() {
        let (mut app, _) = app_with_group();
        app.on_terminal(TermEvent::Paste("x".repeat(MAX_TEXT_BYTES + 1)));
        app.on_terminal(key(KeyCode::Enter));
        assert!(app.take_commands().is_empty());
        assert_eq!(app.input.text().len(), MAX_TEXT_BYTES + 1);
    }
}
