//! The chat screen's state and what keys do to it. No I/O here: keys and engine events
//! come in, [`Command`]s for the engine go out through [`App::take_commands`], and
//! [`super::ui::draw`] renders the state.

use super::input::LineEditor;
use crate::engine::GroupSummary;
use crate::engine::records::{MessageRecord, RecordKind};
use crate::engine::state::parse_duration;
use crate::identity::IdentityKey;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use kith_engine::live::messages::{Command, ConnState, Event, GroupView, OutState};
use kith_i18n::t;
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

/// What a passing message is about, for taking it away when that is over (`status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// Something under way ("Making an invite…"): over when its result shows.
    Doing,
    /// The connection ("Reconnecting now…", a relay offline): over once connected.
    Connection,
}

/// An invite made in this session, kept to be shown again (`/invites`) while valid.
#[derive(Debug, Clone)]
pub struct MadeInvite {
    /// The group's name.
    pub group: String,
    /// The invite.
    pub invite: String,
    /// The joiner waits for an admin's approval.
    pub approval: bool,
    /// Until when it is valid, Unix seconds.
    pub until: u64,
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
        /// The joiner waits for an admin's approval.
        approval: bool,
    },
    /// The group's pinned board (drawn from the live view); arrows scroll, Esc closes.
    Board {
        /// The group.
        group: GroupId,
        /// Rows scrolled down from the top (clamped by the renderer).
        scroll: usize,
    },
    /// The join requests waiting for an admin (drawn from the live view).
    Requests {
        /// The group.
        group: GroupId,
    },
    /// A question; `y` sends the command.
    Confirm {
        /// The box's title.
        title: String,
        /// What will happen.
        lines: Vec<String>,
        /// What `y` does, e.g. "remove".
        yes: String,
        /// What to show in the status line while it is done.
        doing: String,
        /// The command `y` sends.
        command: Box<Command>,
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
    /// `y` leaves the group.
    ConfirmLeave {
        /// The group.
        group: GroupId,
        /// Its name.
        name: String,
    },
    /// Messages that failed would be lost (those waiting are kept in the outbox): `y`
    /// (or Ctrl-C again) quits anyway.
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
    /// The connections, all at once (the worst of them).
    pub conn: ConnState,
    /// Each relay's connection, by URL.
    pub relays: HashMap<String, ConnState>,
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
    /// Columns the input's text wraps at, at the last draw (0: not drawn yet): Up and
    /// Down move between its rows as drawn.
    pub input_width: usize,
    /// The member list is shown.
    pub show_members: bool,
    /// Message numbers (what `/delete N` takes) are shown.
    pub show_numbers: bool,
    /// Search mode.
    pub search: Option<Search>,
    /// A box over the screen.
    pub overlay: Option<Overlay>,
    /// A passing message in the bottom line.
    pub status: Option<(String, Level, Instant)>,
    /// What the passing message is about, when it is over before its time (`status.rs`);
    /// it holds for the message said at the same instant only.
    pub status_about: Option<(About, Instant)>,
    /// Text to put on the terminal's clipboard (OSC 52), for the screen task to send.
    pub clipboard: Option<String>,
    /// The last invite made in this session, by group: `/invites` shows it again.
    pub invites: HashMap<GroupId, MadeInvite>,
    /// Groups an invite was asked for, oldest first, until the engine made it.
    asked_invites: Vec<GroupId>,
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
            relays: HashMap::new(),
            outbox: Vec::new(),
            input: LineEditor::new(),
            scroll: 0,
            last_rows: 0,
            last_width: 0,
            page: 10,
            input_width: 0,
            show_members: false,
            show_numbers: false,
            search: None,
            overlay: None,
            status: None,
            status_about: None,
            clipboard: None,
            invites: HashMap::new(),
            asked_invites: Vec::new(),
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

    /// The state of a group's relay (of all relays while none is known, or no group).
    pub fn relay_state(&self, group: Option<&GroupId>) -> ConnState {
        group
            .and_then(|g| self.groups.iter().find(|s| s.id == g.to_hex()))
            .and_then(|s| self.relays.get(&s.relay))
            .cloned()
            .unwrap_or_else(|| self.conn.clone())
    }

    /// How many relays other than the open group's are not connected.
    pub fn other_relays_down(&self) -> usize {
        let mine = self.current().map(|g| g.relay.as_str());
        self.relays
            .iter()
            .filter(|(r, s)| Some(r.as_str()) != mine && **s != ConnState::Connected)
            .count()
    }

    /// The summary of the selected group.
    pub fn current(&self) -> Option<&GroupSummary> {
        let id = self.selected?;
        self.groups
            .iter()
            .find(|g| GroupId::from_hex(&g.id) == Some(id))
    }

    /// What we know of the selected group.
    pub fn view(&self) -> Option<&GroupView> {
        self.views.get(&self.selected?)
    }

    /// Whether the selected group can be written to.
    pub fn can_send(&self) -> bool {
        self.current().is_some_and(|g| g.status == "active")
    }

    /// Unsent messages (queued, sending or failed), all groups.
    pub fn unsent(&self) -> usize {
        self.outbox.len()
    }

    /// Messages not sent that quitting loses: those that failed (the engine keeps the
    /// waiting ones in the store's outbox).
    pub fn failed(&self) -> usize {
        self.outbox
            .iter()
            .filter(|o| matches!(o.state, OutState::Failed(_)))
            .count()
    }

    // ---- engine events -----------------------------------------------------------

    /// Applies an engine event.
    pub fn on_engine(&mut self, ev: Event) {
        self.apply_engine(ev);
        self.after_event();
    }

    fn apply_engine(&mut self, ev: Event) {
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
            Event::Relays(states) => self.relays = states.into_iter().collect(),
            Event::Outbox { id, state } => {
                if state == OutState::Sent {
                    self.outbox.retain(|o| o.id != id);
                } else if let Some(o) = self.outbox.iter_mut().find(|o| o.id == id) {
                    if let OutState::Failed(why) = &state {
                        self.status =
                            Some((t!("chat-not-sent", why = why), Level::Error, Instant::now()));
                    }
                    o.state = state;
                }
            }
            Event::Unsent {
                id,
                group,
                text,
                time,
            } => {
                if !self.outbox.iter().any(|o| o.id == id) {
                    self.outbox.push(OutItem {
                        id,
                        group,
                        text,
                        time,
                        state: OutState::Queued,
                    });
                }
            }
            Event::Info(text) => self.say(text, Level::Info),
            Event::Error(text) => self.engine_error(text),
            Event::Invite {
                group,
                invite,
                ttl,
                approval,
            } => self.invite_made(group, invite, ttl, approval),
            Event::SafetyNumber {
                group,
                member,
                name,
                number,
            } => {
                self.status_over(About::Doing);
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
        let unsent = self.failed();
        match self.overlay {
            Some(Overlay::ConfirmQuit { .. }) if ctrl_c => self.quit = true,
            _ if unsent == 0 => self.quit = true,
            _ => self.overlay = Some(Overlay::ConfirmQuit { unsent }),
        }
    }

    fn overlay_key(&mut self, k: KeyEvent) {
        // The key of `y` gives `н` in a Russian keyboard layout, that of `n` gives `т`.
        let yes = matches!(k.code, KeyCode::Char('y' | 'Y' | 'н' | 'Н'));
        let no = matches!(k.code, KeyCode::Char('n' | 'N' | 'т' | 'Т'));
        let Some(overlay) = self.overlay.take() else {
            return;
        };
        if let Overlay::Board { group, scroll } = overlay {
            // Scrolls; only Esc (q, Enter) closes, so reading keys cannot lose it.
            let page = self.page.saturating_sub(4).max(1);
            let scroll = match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::F(1) => return,
                KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
                KeyCode::PageUp => scroll.saturating_sub(page),
                KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(page),
                KeyCode::Home => 0,
                KeyCode::End => usize::MAX / 2,
                _ => scroll,
            };
            self.overlay = Some(Overlay::Board { group, scroll });
            return;
        }
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
            Overlay::Confirm { doing, command, .. } if yes => {
                self.doing(doing);
                self.commands.push(*command);
            }
            Overlay::ConfirmLeave { group, .. } if yes => {
                self.outbox.retain(|o| o.group != group);
                self.commands.push(Command::Leave(group));
            }
            Overlay::ConfirmQuit { .. } if yes => self.quit = true,
            Overlay::Verify { name, .. } if no => {
                self.say(t!("chat-verify-differs", name = name), Level::Error);
            }
            // `c` (`с` in a Russian layout) copies the invite and leaves it open.
            Overlay::Invite { ref invite, .. }
                if matches!(k.code, KeyCode::Char('c' | 'C' | 'с' | 'С')) =>
            {
                self.clipboard = Some(invite.clone());
                self.say(t!("chat-invite-copied"), Level::Info);
                self.overlay = Some(overlay);
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
            KeyCode::F(3) => self.toggle_numbers(),
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
            // A long draft wraps: Up and Down go through its rows as drawn, and only
            // past the first or last row to the lines typed before.
            KeyCode::Up if k.modifiers.is_empty() => {
                let moved = match self.input_width {
                    0 => self.input.up(),
                    w => self.input.up_row(w),
                };
                if !moved {
                    self.input.history_prev();
                }
            }
            KeyCode::Down if k.modifiers.is_empty() => {
                let moved = match self.input_width {
                    0 => self.input.down(),
                    w => self.input.down_row(w),
                };
                if !moved {
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
        // What was said about the group left is over (errors stay their time).
        if matches!(self.status, Some((_, Level::Info, _))) {
            self.status = None;
        }
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
            // Every relay that is down tries again; those up are left alone.
            self.commands.push(Command::Reconnect);
            self.say_about(t!("chat-reconnecting-now"), Level::Info, About::Connection);
        } else if n > 0 {
            self.say(t!("chat-retrying", n = n), Level::Info);
        } else {
            self.say(t!("chat-nothing-to-retry"), Level::Info);
        }
    }

    /// Enter: a slash command or a message.
    fn submit(&mut self) {
        let text = self.input.text().to_owned();
        if text.trim().is_empty() {
            return;
        }
        self.next_action();
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
            return self.say(t!("chat-nowhere-to-send"), Level::Error);
        };
        if !self.can_send() {
            return self.say(t!("chat-not-a-member"), Level::Error);
        }
        if let Some((over, total)) = crate::payload::chars_over_limit(&body) {
            return self.say(
                t!("chat-too-long", over = over, total = total),
                Level::Error,
            );
        }
        self.input.submit();
        let id = self.next_id;
        self.next_id += 1;
        let state = if self.relay_state(Some(&group)) == ConnState::Connected {
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

    /// Runs a slash command. Returns true if the input should be cleared: the command
    /// ran, or was refused (no group open, not an admin: nothing in it to fix, and a
    /// refused line left in the box would only be refused again by the next
    /// Enter); false for a mistake in it (usage), kept to fix.
    fn slash(&mut self, line: &str) -> bool {
        let (name, arg) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(n, a)| (n, a.trim()));
        let group = self.selected;
        let need_group = |app: &mut App| -> Option<GroupId> {
            if !app.can_send() {
                app.say(t!("chat-open-a-group"), Level::Error);
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
                    !(matches!(o.state, OutState::Failed(_) | OutState::Held)
                        && Some(o.group) == group)
                });
                let n = before - self.outbox.len();
                if let Some(g) = group {
                    self.commands.push(Command::Discard(g));
                }
                self.say(t!("chat-discarded", n = n), Level::Info);
            }
            "numbers" | "nums" => self.toggle_numbers(),
            "file" | "send-file" | "sendfile" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                if arg.is_empty() {
                    return self.fail(t!("chat-usage-file"));
                }
                let path = local_path(arg);
                self.doing(t!("chat-sending-file", path = path.display().to_string()));
                self.commands.push(Command::SendFile { group, path });
            }
            "files" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                self.commands.push(Command::ListFiles(group));
            }
            "relays" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let state = match self.relay_state(Some(&group)) {
                    ConnState::Connected => "connected",
                    ConnState::Connecting => "connecting",
                    ConnState::Reconnecting { .. } => "reconnecting",
                    ConnState::Offline { .. } => "offline",
                    ConnState::Idle => "idle",
                };
                let state = t!("chat-relay-state", state = state);
                let at = self.current().map(|g| g.relay.clone()).unwrap_or_default();
                let home = self
                    .view()
                    .map(|v| v.home.clone())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| at.clone());
                let fallbacks = self
                    .view()
                    .map(|v| v.fallbacks.join(", "))
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| t!("chat-relays-none"));
                let text = if at != home {
                    t!(
                        "chat-relays-away",
                        home = &home,
                        at = &at,
                        state = state,
                        fallbacks = fallbacks
                    )
                } else {
                    t!(
                        "chat-relays",
                        home = &home,
                        state = state,
                        fallbacks = fallbacks
                    )
                };
                self.say(text, Level::Info);
            }
            "get" | "save" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let mut parts = arg.splitn(2, char::is_whitespace);
                let which = parts.next().unwrap_or_default().trim().to_owned();
                if which.is_empty() {
                    return self.fail(t!("chat-usage-get"));
                }
                let out = parts
                    .next()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(local_path);
                self.doing(t!("chat-downloading", file = &which));
                self.commands.push(Command::GetFile { group, which, out });
            }
            "invites" => self.reopen_invite(),
            "invite" if matches!(arg.to_lowercase().as_str(), "show" | "again" | "last") => {
                self.reopen_invite();
            }
            "invite" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let (ttl, approval) = match parse_invite(arg) {
                    Ok(v) => v,
                    Err(e) => return self.fail(e),
                };
                if !self.require_admin("invite") {
                    return true;
                }
                self.doing(t!("chat-making-invite"));
                self.asked_invites.push(group);
                self.commands.push(Command::Invite {
                    group,
                    ttl,
                    approval,
                });
            }
            "remove" | "kick" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let Some((member, hide)) = parse_remove(arg) else {
                    return self.fail(t!("chat-usage-remove", hide = "hide"));
                };
                if !self.require_admin("remove") {
                    return true;
                }
                let mut lines = vec![
                    t!("chat-remove-question", name = &member),
                    t!("chat-remove-effect"),
                ];
                if hide {
                    lines.push(t!("chat-remove-hide", name = &member));
                }
                self.overlay = Some(Overlay::Confirm {
                    title: t!("chat-remove-title"),
                    lines,
                    yes: t!("chat-yes-remove"),
                    doing: t!("chat-removing", name = &member),
                    command: Box::new(Command::Remove {
                        group,
                        member,
                        hide,
                    }),
                });
            }
            "board" => return self.board(arg),
            "promote" | "demote" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let promote = name.eq_ignore_ascii_case("promote");
                if arg.is_empty() {
                    return self.fail(t!("chat-usage-name", command = name.to_ascii_lowercase()));
                }
                if !self.require_admin("admins") {
                    return true;
                }
                let member = arg.to_owned();
                if promote {
                    self.doing(t!("chat-promoting", name = &member));
                    self.commands.push(Command::Promote { group, member });
                } else {
                    self.doing(t!("chat-demoting", name = &member));
                    self.commands.push(Command::Demote { group, member });
                }
            }
            "requests" | "req" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                self.overlay = Some(Overlay::Requests { group });
                self.commands.push(Command::Requests(group));
            }
            "approve" | "deny" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let approve = name.eq_ignore_ascii_case("approve");
                if arg.is_empty() {
                    return self.fail(t!(
                        "chat-usage-request",
                        command = name.to_ascii_lowercase()
                    ));
                }
                if !self.require_admin("requests") {
                    return true;
                }
                let request = arg.to_owned();
                if approve {
                    self.doing(t!("chat-approving", request = &request));
                    self.commands.push(Command::Approve { group, request });
                } else {
                    self.doing(t!("chat-denying", request = &request));
                    self.commands.push(Command::Deny { group, request });
                }
            }
            "delete" | "del" => return self.delete(arg),
            "disappear" | "history" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let disappear = name.eq_ignore_ascii_case("disappear");
                if arg.is_empty() {
                    let text = self.settings_text(disappear);
                    self.say(text, Level::Info);
                    return true;
                }
                let parsed = if disappear {
                    parse_disappear(arg).map(|d| (Some(d), None))
                } else {
                    parse_history(arg).map(|h| (None, Some(h)))
                };
                let (d, h) = match parsed {
                    Ok(v) => v,
                    Err(e) => return self.fail(e),
                };
                if !self.require_admin("settings") {
                    return true;
                }
                self.doing(t!("chat-changing-settings"));
                self.commands.push(Command::Settings {
                    group,
                    disappear: d,
                    history: h,
                });
            }
            "verify" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                if arg.is_empty() {
                    self.say(t!("chat-usage-verify"), Level::Error);
                    return false;
                }
                self.commands.push(Command::Verify {
                    group,
                    member: arg.to_owned(),
                });
            }
            "leave" => {
                let Some(group) = need_group(self) else {
                    return true;
                };
                let name = self.current().map(|g| g.name.clone()).unwrap_or_default();
                self.overlay = Some(Overlay::ConfirmLeave { group, name });
            }
            other => {
                self.say(t!("chat-unknown-command", command = other), Level::Error);
                return false;
            }
        }
        true
    }
}

impl App {
    /// Shows an error; returns false (the input is kept, to fix it).
    fn fail(&mut self, text: impl Into<String>) -> bool {
        self.say(text, Level::Error);
        false
    }

    /// Whether we may do an admin's `action` here (a key of the catalogue's
    /// `chat-admins-only`: invite, remove, settings, board, admins, requests, delete);
    /// says why not otherwise. When the view is not known yet the engine decides.
    fn require_admin(&mut self, action: &str) -> bool {
        match self.view() {
            Some(v) if !v.members.is_empty() && !v.admin => {
                self.fail(t!("chat-admins-only", action = action))
            }
            _ => true,
        }
    }

    /// A fresh invite from the engine: shown, and kept for `/invites`.
    fn invite_made(&mut self, group: String, invite: String, ttl: Duration, approval: bool) {
        self.status_over(About::Doing);
        // The event names the group; the one asked for first of that name is it.
        let named = |app: &App, id: &GroupId| {
            app.groups
                .iter()
                .any(|g| g.id == id.to_hex() && g.name == group)
        };
        let id = match self.asked_invites.iter().position(|id| named(self, id)) {
            Some(i) => Some(self.asked_invites.remove(i)),
            None => self
                .groups
                .iter()
                .find(|g| g.name == group)
                .and_then(|g| GroupId::from_hex(&g.id)),
        };
        if let Some(id) = id {
            self.invites.insert(
                id,
                MadeInvite {
                    group: group.clone(),
                    invite: invite.clone(),
                    approval,
                    until: crate::engine::now_secs().saturating_add(ttl.as_secs()),
                },
            );
        }
        self.overlay = Some(Overlay::Invite {
            group,
            invite,
            valid_for: kith_i18n::duration(ttl.as_secs()),
            approval,
        });
    }

    /// `/invites`: the last invite made here in this session, again, while it is valid.
    fn reopen_invite(&mut self) {
        let Some(group) = self.selected else {
            return self.say(t!("chat-no-group-open"), Level::Error);
        };
        let now = crate::engine::now_secs();
        // Every open invite gone from the group's state: this one was used or closed.
        let none_open = self.view().is_some_and(|v| v.open_invites == 0);
        match self.invites.get(&group).cloned() {
            None => self.say(t!("chat-invites-none"), Level::Info),
            Some(m) if m.until <= now => {
                self.invites.remove(&group);
                self.say(t!("chat-invites-expired"), Level::Info);
            }
            Some(_) if none_open => {
                self.invites.remove(&group);
                self.say(t!("chat-invites-closed"), Level::Info);
            }
            Some(m) => {
                self.overlay = Some(Overlay::Invite {
                    group: m.group,
                    invite: m.invite,
                    valid_for: time_left(m.until - now),
                    approval: m.approval,
                });
            }
        }
    }

    fn toggle_numbers(&mut self) {
        self.show_numbers = !self.show_numbers;
        if self.show_numbers {
            self.say(t!("chat-numbers-shown"), Level::Info);
        }
    }

    /// The current disappearing timer or history setting, in words.
    fn settings_text(&self, disappear: bool) -> String {
        let Some(v) = self.view() else {
            return t!("chat-setting-unknown");
        };
        match (disappear, v.disappear_secs, v.history) {
            (true, 0, _) => t!("chat-disappear-off"),
            (true, d, _) => t!("chat-disappear-on", after = kith_i18n::duration(d)),
            (false, _, 0) => t!("chat-history-off"),
            (false, _, n) => t!("chat-history-on", n = n),
        }
    }

    /// `/board …`.
    fn board(&mut self, arg: &str) -> bool {
        let cmd = match parse_board(arg) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        let Some(group) = self.selected else {
            return self.fail(t!("chat-no-group-open"));
        };
        if cmd == BoardCmd::Show {
            self.overlay = Some(Overlay::Board { group, scroll: 0 });
            return true;
        }
        if !self.can_send() {
            return self.fail(t!("chat-not-a-member"));
        }
        if !self.require_admin("board") {
            return true;
        }
        let known = |app: &App, id: u32| {
            app.view()
                .and_then(|v| v.board.iter().find(|e| e.id == id))
                .map(|e| crate::engine::clean_name(&e.title, 200))
        };
        match cmd {
            BoardCmd::Show => {}
            BoardCmd::Add { title, text } => {
                self.doing(t!("chat-pinning", title = &title));
                self.commands.push(Command::BoardAdd { group, title, text });
            }
            BoardCmd::Edit { id, title, text } => {
                if self.view().is_some() && known(self, id).is_none() {
                    return self.fail(t!("chat-no-board-entry", id = id));
                }
                self.doing(t!("chat-editing-entry", id = id));
                self.commands.push(Command::BoardEdit {
                    group,
                    id,
                    title,
                    text,
                });
            }
            BoardCmd::Rm(id) => {
                let title = match (self.view().is_some(), known(self, id)) {
                    (true, None) => {
                        return self.fail(t!("chat-no-board-entry", id = id));
                    }
                    (_, t) => t.unwrap_or_default(),
                };
                self.overlay = Some(Overlay::Confirm {
                    title: t!("chat-board-confirm-title"),
                    lines: vec![t!("chat-board-remove-question", id = id, title = &title)],
                    yes: t!("chat-yes-remove-it"),
                    doing: t!("chat-board-removing", id = id),
                    command: Box::new(Command::BoardRm { group, id }),
                });
            }
        }
        true
    }

    /// `/delete [N]`: our last message, or message N (F3 shows the numbers); asks first.
    fn delete(&mut self, arg: &str) -> bool {
        let Some(group) = self.selected else {
            return self.fail(t!("chat-no-group-open"));
        };
        if !self.can_send() {
            return self.fail(t!("chat-not-a-member"));
        }
        let Some(view) = self.view() else {
            return self.fail(t!("chat-delete-loading"));
        };
        let now = crate::engine::now_secs();
        let live = |r: &&MessageRecord| deletable(r) && (r.expires == 0 || r.expires > now);
        let target = if arg.is_empty() {
            match view.records.iter().filter(live).rfind(|r| r.own) {
                Some(r) => r.clone(),
                None => return self.fail(t!("chat-delete-none-own")),
            }
        } else {
            let Ok(seq) = arg.trim_start_matches('#').parse::<u64>() else {
                return self.fail(t!("chat-usage-delete"));
            };
            match view.records.iter().filter(live).find(|r| r.seq == seq) {
                Some(r) => r.clone(),
                None => {
                    return self.fail(t!("chat-delete-no-such", seq = seq));
                }
            }
        };
        if !target.own && !self.require_admin("delete") {
            return true;
        }
        let view = self.view();
        let seq = target.seq;
        let question = if target.own {
            t!("chat-delete-own-question", seq = seq)
        } else {
            match target.sender.and_then(|s| view.and_then(|v| v.label(&s))) {
                Some(name) => t!("chat-delete-other-question", name = name, seq = seq),
                None => t!("chat-delete-unknown-question", seq = seq),
            }
        };
        let excerpt: String = target.kind.text().chars().take(60).collect();
        let excerpt = crate::engine::clean_name(&excerpt.replace('\n', " "), 60);
        self.overlay = Some(Overlay::Confirm {
            title: t!("chat-delete-title"),
            lines: vec![
                question,
                format!("  {}", t!("chat-quoted", text = excerpt)),
                t!("chat-delete-effect"),
            ],
            yes: t!("chat-yes-delete"),
            doing: t!("chat-deleting", seq = seq),
            command: Box::new(Command::Delete {
                group,
                seq: target.seq,
            }),
        });
        true
    }
}

/// How long an invite is still valid, in words: whole days from three days on, else
/// whole hours or minutes (never more than is left), seconds in the last minute.
pub fn time_left(secs: u64) -> String {
    let shown = [(3 * 86_400, 86_400), (3600, 3600), (60, 60)]
        .into_iter()
        .find(|(from, _)| secs >= *from)
        .map_or(secs, |(_, unit)| secs - secs % unit);
    kith_i18n::duration(shown)
}

/// Whether a record can be deleted for everyone (and so shows a number with F3): a
/// text or file as it arrived (not history handed over on joining).
pub fn deletable(r: &MessageRecord) -> bool {
    matches!(r.kind, RecordKind::Text(_) | RecordKind::File(_))
        && r.sub == 0
        && r.shared_by.is_none()
}

/// What `/board …` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardCmd {
    /// `/board`: show it.
    Show,
    /// `/board add TITLE | TEXT`.
    Add {
        /// Title.
        title: String,
        /// Text (may be empty).
        text: String,
    },
    /// `/board edit ID TITLE | TEXT` (an empty side is kept).
    Edit {
        /// Entry id.
        id: u32,
        /// New title.
        title: Option<String>,
        /// New text.
        text: Option<String>,
    },
    /// `/board rm ID`.
    Rm(u32),
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn entry_id(s: &str) -> Option<u32> {
    s.trim_start_matches(['#', '['])
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Parses the argument of `/board`.
pub fn parse_board(arg: &str) -> Result<BoardCmd, String> {
    let (sub, rest) = arg
        .split_once(char::is_whitespace)
        .map_or((arg, ""), |(a, b)| (a, b.trim()));
    match sub.to_ascii_lowercase().as_str() {
        "" | "show" | "list" => Ok(BoardCmd::Show),
        "add" | "pin" => {
            let (title, text) = rest.split_once('|').unwrap_or((rest, ""));
            match non_empty(title) {
                Some(title) => Ok(BoardCmd::Add {
                    title,
                    text: text.trim().to_owned(),
                }),
                None => Err(t!("chat-usage-board-add")),
            }
        }
        "edit" => {
            let usage = || t!("chat-usage-board-edit");
            let (id, rest) = rest
                .split_once(char::is_whitespace)
                .map_or((rest, ""), |(a, b)| (a, b.trim()));
            let id = entry_id(id).ok_or_else(usage)?;
            let (title, text) = match rest.split_once('|') {
                Some((t, x)) => (non_empty(t), non_empty(x)),
                None => (non_empty(rest), None),
            };
            if title.is_none() && text.is_none() {
                return Err(usage());
            }
            Ok(BoardCmd::Edit { id, title, text })
        }
        "rm" | "remove" | "del" | "delete" | "unpin" => entry_id(rest)
            .map(BoardCmd::Rm)
            .ok_or_else(|| t!("chat-usage-board-rm")),
        other => Err(t!("chat-board-unknown", sub = other)),
    }
}

/// Parses `/invite [DURATION] [approve]` (in any order); 72 hours by default.
pub fn parse_invite(arg: &str) -> Result<(Duration, bool), String> {
    let mut ttl = None;
    let mut approval = false;
    for word in arg.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "approve" | "approval" | "approved" => approval = true,
            w => match humantime::parse_duration(w) {
                Ok(d) if ttl.is_none() => ttl = Some(d),
                _ => {
                    return Err(t!("chat-invite-not-duration", word = word));
                }
            },
        }
    }
    Ok((ttl.unwrap_or(Duration::from_secs(72 * 3600)), approval))
}

/// Parses `/disappear 7d|off` into seconds (0: off).
pub fn parse_disappear(arg: &str) -> Result<u64, String> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "off" | "never" | "0" => Ok(0),
        a => parse_duration(a).ok_or_else(|| t!("chat-disappear-not-duration", arg = arg)),
    }
}

/// Parses `/history N|off` (0: newcomers receive nothing).
pub fn parse_history(arg: &str) -> Result<u16, String> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "off" | "none" | "0" => Ok(0),
        a => a
            .parse::<u16>()
            .map_err(|_| t!("chat-history-not-number", arg = arg)),
    }
}

/// Parses `/remove NAME [hide]`: the name, and whether to hide their messages too.
pub fn parse_remove(arg: &str) -> Option<(String, bool)> {
    let arg = arg.trim();
    if arg.is_empty() {
        return None;
    }
    match arg.rsplit_once(char::is_whitespace) {
        Some((name, last)) if last.eq_ignore_ascii_case("hide") && !name.trim().is_empty() => {
            Some((name.trim().to_owned(), true))
        }
        _ => Some((arg.to_owned(), false)),
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
#[path = "app_tests.rs"]
mod tests;

/// A path typed in the chat as the shell would read it: `~` is the home directory, and a
/// relative path is this process's (a chat attached to a daemon hands paths to a process
/// with another working directory).
pub(crate) fn local_path(typed: &str) -> std::path::PathBuf {
    let home = || dirs::home_dir().unwrap_or_default();
    let path = match typed {
        "~" => home(),
        _ => match typed.strip_prefix("~/") {
            Some(rest) => home().join(rest),
            None => std::path::PathBuf::from(typed),
        },
    };
    if path.is_relative() {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    } else {
        path
    }
}
