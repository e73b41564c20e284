//! Drawing the chat screen from [`App`]: a top bar (group, connection state), the group
//! list, the conversation, the member list (toggle), the input, and a bottom line for
//! hints and passing messages. Pure: everything comes from the state, so rendering is
//! tested on ratatui's `TestBackend`.
//!
//! ```text
//!  kith · Legal aid · 3 members                                      ● connected
//!  Groups          │── Thursday 2026-11-26 (UTC) ──────────────────────────────
//! >Legal aid       │18:02 * You created the group
//!  Family        2 │18:05 Olena: Lawyer Petrenko takes appeals on Thursdays
//! ```
//!
//! Text from the network was cleaned of control characters by the engine; names and
//! texts are drawn as plain spans, never interpreted.

use super::app::{App, Level, OutItem, Overlay, deletable};
use super::notices::{self, Line as Told};
use crate::engine::records::{MessageRecord, RecordKind};
use crate::engine::{clean_name, clean_text};
use crate::identity::IdentityKey;
use kith_engine::live::messages::{ConnState, GroupView, OutState};
use kith_i18n::t;
use kith_protocol::GroupId;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

/// Below this width the group list is hidden (the top bar names the group).
pub const NARROW: u16 = 60;

/// Columns of the time prefix (`HH:MM `); wrapped lines are indented by it.
const TIME_COLS: usize = 6;

/// The mark of a message that will disappear (after its time, in place of the space),
/// and of the disappearing timer in the top bar.
pub const DISAPPEARS: &str = "◷";

/// Makes text from the network safe and tidy for one terminal cell per char: no
/// control characters (a board entry or file name from a hostile member must not
/// rewrite the terminal), tabs as spaces, newlines kept.
fn safe_text(s: &str) -> String {
    clean_text(s).replace('\t', "    ")
}

/// A name or title from the network, on one line.
fn safe_line(s: &str) -> String {
    clean_name(&s.replace(['\n', '\t'], " "), 200)
}

/// The styles, with or without color (NO_COLOR).
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    color: bool,
}

const NAME_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Green,
    Color::Magenta,
    Color::Blue,
    Color::Yellow,
    Color::LightRed,
];

impl Theme {
    /// A theme; `color` false draws with modifiers (bold, reverse…) only.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    /// Whether the environment allows color: NO_COLOR set to anything non-empty
    /// forbids it (<https://no-color.org>).
    pub fn color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn bar(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    fn name(&self, who: &IdentityKey, own: bool) -> Style {
        let base = Style::default().add_modifier(Modifier::BOLD);
        if own || !self.color {
            return base;
        }
        let h = who
            .iter()
            .fold(0usize, |a, b| a.wrapping_mul(31) + *b as usize);
        base.fg(NAME_COLORS[h % NAME_COLORS.len()])
    }

    fn notice(&self) -> Style {
        self.dim().add_modifier(Modifier::ITALIC)
    }

    fn alert(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    fn hit(&self, current: bool) -> Style {
        let s = if self.color {
            Style::default().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        };
        if current {
            s.add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            s
        }
    }
}

/// Formats Unix seconds as `HH:MM` in the reader's zone (like `kith read`).
pub fn hhmm(secs: u64) -> String {
    let time = kith_i18n::time(secs);
    time.get(11..16).unwrap_or(&time).to_owned()
}

/// The day of Unix seconds in the reader's zone, `YYYY-MM-DD`: where a day separator
/// goes.
pub fn local_date(secs: u64) -> String {
    let mut time = kith_i18n::time(secs);
    time.truncate(10);
    time
}

/// The day of the week of a `YYYY-MM-DD` date, as the catalogue's `chat-day` selects
/// it (`mon`…`sun`).
fn weekday(date: &str) -> &'static str {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return "";
    };
    // Howard Hinnant's days-from-civil; 1970-01-01 was a Thursday.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][days.rem_euclid(7) as usize]
}

/// The day separator text for Unix seconds, in the reader's zone and naming it:
/// `Thursday 2026-11-26 (UTC)`.
pub fn day_label(secs: u64) -> String {
    let date = local_date(secs);
    t!(
        "chat-day",
        weekday = weekday(&date),
        date = &date,
        zone = kith_i18n::zone_label()
    )
}

/// The connection state as shown in the top bar, and its style.
pub fn conn_label(state: &ConnState) -> (String, ConnTone) {
    let secs_to = |at: &tokio::time::Instant| {
        at.saturating_duration_since(tokio::time::Instant::now())
            .as_secs()
    };
    match state {
        ConnState::Connected => (format!("● {}", t!("chat-conn-connected")), ConnTone::Good),
        ConnState::Connecting => (format!("◌ {}", t!("chat-conn-connecting")), ConnTone::Warn),
        ConnState::Reconnecting { retry_at, .. } => {
            let s = secs_to(retry_at);
            if s == 0 {
                (
                    format!("◌ {}", t!("chat-conn-reconnecting")),
                    ConnTone::Warn,
                )
            } else {
                (
                    format!("◌ {}", t!("chat-conn-reconnecting-in", s = s)),
                    ConnTone::Warn,
                )
            }
        }
        ConnState::Offline { retry_at } => (
            format!("○ {}", t!("chat-conn-offline", s = secs_to(retry_at))),
            ConnTone::Bad,
        ),
        ConnState::Idle => (format!("○ {}", t!("chat-conn-idle")), ConnTone::Warn),
    }
}

/// How a connection label is colored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnTone {
    /// Connected.
    Good,
    /// Getting there.
    Warn,
    /// Offline.
    Bad,
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &mut App) {
    let theme = Theme::new(app.color);
    let area = f.area();
    if area.width < 20 || area.height < 6 {
        f.render_widget(
            Paragraph::new(t!("chat-too-small")).wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    // The input's text wraps at its width less the cursor's column (`draw_input`).
    app.input_width = area.width.saturating_sub(1) as usize;
    let input_rows = input_rows(app, area);
    // The search count is known only once the conversation is drawn: the bottom's
    // height first, its text last.
    let bottom_rows = bottom_lines(app, &theme, area.width as usize).len() as u16;
    let [top, main, input, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(input_rows + 1),
        Constraint::Length(bottom_rows),
    ])
    .areas(area);

    draw_top(f, app, &theme, top);

    let narrow = area.width < NARROW;
    let show_groups = !narrow;
    let members_w = if app.show_members {
        if narrow { main.width } else { 26 }
    } else {
        0
    };
    let groups_w = if show_groups {
        (area.width / 5).clamp(18, 26)
    } else {
        0
    };
    let [groups, convo, members] = Layout::horizontal([
        Constraint::Length(groups_w),
        Constraint::Min(0),
        Constraint::Length(members_w),
    ])
    .areas(main);
    if show_groups {
        draw_groups(f, app, &theme, groups);
    }
    if convo.width > 0 {
        draw_conversation(f, app, &theme, convo);
    }
    if app.show_members {
        draw_members(f, app, &theme, members);
    }
    draw_input(f, app, &theme, input);
    let lines = bottom_lines(app, &theme, area.width as usize);
    f.render_widget(Paragraph::new(lines), bottom);
    if let Some(o) = app.overlay.clone() {
        match o {
            Overlay::Board { group, scroll } => draw_board(f, app, &theme, group, scroll, area),
            Overlay::Invite {
                group,
                invite,
                valid_for,
                approval,
            } => draw_invite(f, &theme, &group, &invite, &valid_for, approval, area),
            o => draw_overlay(f, app, &theme, &o, area),
        }
    }
}

fn input_rows(app: &App, area: Rect) -> u16 {
    if app.search.is_some() {
        return 1;
    }
    let (rows, _) = app.input.layout(area.width.saturating_sub(1) as usize);
    let max = (area.height / 4).clamp(1, 8) as usize;
    rows.len().clamp(1, max) as u16
}

/// What the top bar says about the open group after its name: members, the group's
/// settings, join requests (for admins). The hold is drawn apart (as an alert).
pub fn group_facts(app: &App) -> String {
    let Some(g) = app.current() else {
        return String::new();
    };
    if g.status != "active" {
        return format!(" · {}", status_label(&g.status));
    }
    let mut s = format!(" · {}", t!("count-members", n = g.members));
    if let Some(v) = app.view() {
        if v.disappear_secs > 0 {
            s.push_str(&format!(
                " · {DISAPPEARS} {}",
                kith_i18n::duration(v.disappear_secs)
            ));
        }
        if v.history > 0 {
            s.push_str(&format!(" · {}", t!("chat-facts-history", n = v.history)));
        }
        if v.admin && !v.requests.is_empty() {
            let n = v.requests.len();
            s.push_str(&format!(" · {}", t!("chat-facts-requests", n = n)));
        }
    }
    s
}

/// A group's status other than active (`removed`, `left`), in words.
fn status_label(status: &str) -> String {
    t!("chat-group-status", status = status)
}

fn draw_top(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let on_hold = app.can_send() && app.view().is_some_and(|v| v.on_hold.is_some());
    let left = match app.current() {
        Some(g) => format!(" kith · {}", g.name),
        None => " kith".to_owned(),
    };
    let hold = if on_hold {
        format!(" · {}", t!("chat-on-hold-mark"))
    } else {
        String::new()
    };
    let facts = group_facts(app);
    // The open group's relay is what matters here; other relays that are down are
    // counted beside it, and marked in the group list.
    let (conn, tone) = conn_label(&app.relay_state(app.selected.as_ref()));
    let (conn, tone) = match app.other_relays_down() {
        0 => (conn, tone),
        n => (
            format!("{conn} · {}", t!("chat-other-relays-down", n = n)),
            if tone == ConnTone::Good {
                ConnTone::Warn
            } else {
                tone
            },
        ),
    };
    let conn = format!("{conn} ");
    let conn_style = match tone {
        ConnTone::Good => theme.good(),
        ConnTone::Warn => theme.warn(),
        ConnTone::Bad => theme.alert(),
    }
    .add_modifier(Modifier::REVERSED);
    let w = area.width as usize;
    let cw = conn.width();
    let room = w.saturating_sub(cw + 1);
    let left = truncate(&left, room);
    let hold = truncate(&hold, room.saturating_sub(left.width()));
    let facts = truncate(&facts, room.saturating_sub(left.width() + hold.width()));
    let pad = w.saturating_sub(left.width() + hold.width() + facts.width() + cw);
    let line = Line::from(vec![
        Span::styled(left, theme.bar().add_modifier(Modifier::BOLD)),
        Span::styled(
            hold,
            theme
                .alert()
                .add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::styled(facts, theme.bar().add_modifier(Modifier::BOLD)),
        Span::styled(" ".repeat(pad), theme.bar()),
        Span::styled(conn, conn_style),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

/// Cuts `s` to at most `w` columns, with an ellipsis when cut.
fn truncate(s: &str, w: usize) -> String {
    if s.width() <= w {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    if w > 0 {
        out.push('…');
    }
    out
}

fn draw_groups(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let block = Block::default()
        .borders(Borders::RIGHT)
        .border_style(theme.dim());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = vec![Line::styled(
        format!(" {}", t!("chat-groups-title")),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let selected = app.selected.map(|s| s.to_hex());
    for g in &app.groups {
        let mut right = String::new();
        if g.pending_joins > 0 {
            right.push_str(&format!("+{}", g.pending_joins));
        }
        if g.unread > 0 {
            if !right.is_empty() {
                right.push(' ');
            }
            right.push_str(&g.unread.to_string());
        }
        let down = app
            .relays
            .get(&g.relay)
            .is_some_and(|s| *s != ConnState::Connected);
        let name = if g.status == "active" && down {
            // Its relay is not reachable now (the others' groups are live).
            format!("{} ○", g.name)
        } else if g.status == "active" {
            g.name.clone()
        } else {
            format!("{} ({})", g.name, status_label(&g.status))
        };
        let is_sel = selected.as_deref() == Some(g.id.as_str());
        let mark = if is_sel { ">" } else { " " };
        let name = truncate(&name, w.saturating_sub(right.width() + 2));
        let pad = w.saturating_sub(1 + name.width() + right.width() + 1);
        let mut style = Style::default();
        if g.status != "active" {
            style = theme.dim();
        }
        if g.unread > 0 {
            style = style.add_modifier(Modifier::BOLD);
        }
        if is_sel {
            style = style.patch(theme.selected());
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{mark}{name}{}", " ".repeat(pad)), style),
            Span::styled(format!("{right} "), style.add_modifier(Modifier::BOLD)),
        ]));
    }
    for j in &app.joining {
        lines.push(Line::styled(truncate(&format!(" {j}"), w), theme.dim()));
        lines.push(Line::styled(
            truncate(&format!("   {}", t!("chat-joining")), w),
            theme.dim(),
        ));
    }
    if app.groups.is_empty() && app.joining.is_empty() {
        lines.push(Line::styled(
            format!(" {}", t!("chat-none-yet")),
            theme.dim(),
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_members(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(theme.dim());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let view = app.selected.and_then(|s| app.views.get(&s));
    let members = view.map(|v| v.members.as_slice()).unwrap_or(&[]);
    let w = inner.width as usize;
    let mut lines = vec![Line::styled(
        format!(" {}", t!("chat-members-title", n = members.len())),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let mut sorted: Vec<_> = members.iter().collect();
    sorted.sort_by_key(|m| (!m.you, m.role != "admin", m.name.to_lowercase()));
    for m in sorted {
        let mut name = m.name.clone();
        if m.name_collides {
            name.push_str(&format!(
                " [{}]",
                m.fingerprint.get(..9).unwrap_or_default()
            ));
        }
        if m.you {
            name.push_str(&format!(" {}", t!("chat-you")));
        }
        // Admins are marked `@` (as operators in IRC), members with a space.
        let mark = if m.role == "admin" { "@" } else { " " };
        lines.push(Line::styled(
            truncate(&format!("{mark}{name}"), w),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let (v, vs) = if m.you {
            (String::new(), Style::default())
        } else if m.verified {
            (format!(" · {}", t!("chat-member-verified")), theme.good())
        } else {
            (
                format!(" · {}", t!("chat-member-not-verified")),
                theme.warn(),
            )
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("   {}", t!("chat-role", role = &m.role)),
                theme.dim(),
            ),
            Span::styled(v, vs),
        ]));
    }
    if members.is_empty() {
        lines.push(Line::styled(
            format!(" {}", t!("chat-not-a-member-pane")),
            theme.dim(),
        ));
    } else {
        lines.push(Line::styled(
            truncate(&format!(" {}", t!("chat-verify-hint")), w),
            theme.dim(),
        ));
    }
    if let Some(v) = view.filter(|v| v.admin && !v.requests.is_empty()) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            truncate(
                &format!(" {}", t!("chat-requests-count", n = v.requests.len())),
                w,
            ),
            theme.warn().add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::styled(
            truncate(&format!(" {}", t!("chat-requests-hint")), w),
            theme.warn(),
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// One styled piece of a conversation item before wrapping.
struct Seg {
    text: String,
    style: Style,
}

fn seg(text: impl Into<String>, style: Style) -> Seg {
    Seg {
        text: text.into(),
        style,
    }
}

/// Word-wraps styled segments into rows of `width` columns; rows after the first are
/// indented by `indent`; `\n` starts a new row; words longer than a row are split.
fn wrap(segs: &[Seg], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(4);
    let indent = indent.min(width / 2);
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut col = 0;
    let new_row = |rows: &mut Vec<Vec<Span<'static>>>, col: &mut usize| {
        rows.push(vec![Span::raw(" ".repeat(indent))]);
        *col = indent;
    };
    for s in segs {
        // Tokens: runs of spaces, runs of non-spaces, and newlines.
        let mut tokens: Vec<String> = Vec::new();
        for c in s.text.chars() {
            let kind = |c: char| {
                if c == '\n' {
                    0
                } else if c == ' ' {
                    1
                } else {
                    2
                }
            };
            match tokens.last_mut() {
                Some(t) if c != '\n' && t.chars().last().is_some_and(|l| kind(l) == kind(c)) => {
                    t.push(c)
                }
                _ => tokens.push(c.to_string()),
            }
        }
        for t in tokens {
            if t == "\n" {
                new_row(&mut rows, &mut col);
                continue;
            }
            let tw = t.width();
            if col + tw <= width {
                if let Some(r) = rows.last_mut() {
                    r.push(Span::styled(t, s.style));
                }
                col += tw;
                continue;
            }
            if t.starts_with(' ') {
                // Spaces at a break vanish.
                new_row(&mut rows, &mut col);
                continue;
            }
            if tw <= width - indent && col > indent {
                new_row(&mut rows, &mut col);
                if let Some(r) = rows.last_mut() {
                    r.push(Span::styled(t, s.style));
                }
                col += tw;
                continue;
            }
            // A word longer than a row: split it where the row ends.
            let mut piece = String::new();
            for c in t.chars() {
                let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if col + cw > width {
                    if let Some(r) = rows.last_mut() {
                        r.push(Span::styled(std::mem::take(&mut piece), s.style));
                    }
                    new_row(&mut rows, &mut col);
                }
                piece.push(c);
                col += cw;
            }
            if let Some(r) = rows.last_mut() {
                r.push(Span::styled(piece, s.style));
            }
        }
    }
    rows.into_iter().map(Line::from).collect()
}

/// Splits `text` into segments, highlighting case-insensitive matches of `query`.
fn highlighted(text: &str, query: &str, base: Style, hit: Style) -> Vec<Seg> {
    if query.is_empty() {
        return vec![seg(text, base)];
    }
    let chars: Vec<char> = text.chars().collect();
    let q: Vec<char> = query.chars().collect();
    let eq = |a: char, b: char| a.to_lowercase().eq(b.to_lowercase());
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while i < chars.len() {
        if i + q.len() <= chars.len() && q.iter().enumerate().all(|(j, c)| eq(chars[i + j], *c)) {
            if !plain.is_empty() {
                out.push(seg(std::mem::take(&mut plain), base));
            }
            out.push(seg(chars[i..i + q.len()].iter().collect::<String>(), hit));
            i += q.len();
        } else {
            plain.push(chars[i]);
            i += 1;
        }
    }
    if !plain.is_empty() {
        out.push(seg(plain, base));
    }
    out
}

fn contains_ci(text: &str, query: &str) -> bool {
    !query.is_empty() && text.to_lowercase().contains(&query.to_lowercase())
}

/// What the conversation shows, in order.
enum Item<'a> {
    Day(u64),
    Record(&'a MessageRecord),
    /// Invite notices in a row, told as one line (`notices::group`).
    Grouped {
        first: &'a MessageRecord,
        text: String,
        alert: bool,
    },
    Out(&'a OutItem),
}

impl Item<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Item::Day(_) => "".into(),
            Item::Record(r) => match &r.kind {
                RecordKind::Text(t) | RecordKind::Notice(t) | RecordKind::Alert(t) => t.into(),
                RecordKind::Deleted { .. } => "".into(),
                other => other.text().into(),
            },
            Item::Grouped { text, .. } => text.as_str().into(),
            Item::Out(o) => o.text.as_str().into(),
        }
    }
}

/// The conversation's items; messages whose timer ran out by `now` are left out (the
/// engine re-reads the view too, but the screen must not wait for it).
fn items<'a>(view: Option<&'a GroupView>, outbox: &'a [OutItem], now: u64) -> Vec<Item<'a>> {
    let mut out = Vec::new();
    let mut day = None;
    let mut push_day = |out: &mut Vec<Item<'a>>, t: u64| {
        let date = local_date(t);
        if day.as_ref() != Some(&date) {
            day = Some(date);
            out.push(Item::Day(t));
        }
    };
    if let Some(v) = view {
        let mut records: Vec<&MessageRecord> = v
            .records
            .iter()
            .filter(|r| r.expires == 0 || r.expires > now)
            .collect();
        notices::in_time_order(&mut records);
        let same_day =
            |a: &MessageRecord, b: &MessageRecord| local_date(a.time) == local_date(b.time);
        for line in notices::group(&records, same_day) {
            match line {
                Told::One(r) => {
                    push_day(&mut out, r.time);
                    out.push(Item::Record(r));
                }
                Told::Many { first, text, alert } => {
                    push_day(&mut out, first.time);
                    out.push(Item::Grouped { first, text, alert });
                }
            }
        }
    }
    for o in outbox {
        push_day(&mut out, o.time);
        out.push(Item::Out(o));
    }
    out
}

/// The rows of one item.
fn item_rows(
    item: &Item,
    app: &App,
    view: Option<&GroupView>,
    theme: &Theme,
    width: usize,
    query: &str,
    current: bool,
) -> Vec<Line<'static>> {
    let hit = theme.hit(current);
    let name_of = |who: &IdentityKey| -> (String, bool) {
        if *who == app.identity {
            // Our own name too carries the fragment when someone else has it.
            if view.is_some_and(|v| v.colliding.contains(who)) {
                return (crate::engine::names::tagged(&app.me, who), true);
            }
            return (app.me.clone(), true);
        }
        let name = view
            .and_then(|v| v.label(who))
            .unwrap_or_else(|| crate::engine::names::tag(who));
        let verified = view.is_some_and(|v| v.verified.contains(who));
        (name, verified)
    };
    match item {
        Item::Day(t) => {
            let label = format!("── {} ", day_label(*t));
            let fill = width.saturating_sub(label.width());
            vec![Line::styled(
                format!("{label}{}", "─".repeat(fill)),
                theme.dim(),
            )]
        }
        Item::Record(r) => {
            // A message that will disappear has the mark in place of the space.
            let gap = if r.expires != 0 { DISAPPEARS } else { " " };
            let time = seg(format!("{}{gap}", hhmm(r.time)), theme.dim());
            let mut segs = vec![time];
            if app.show_numbers && deletable(r) {
                segs.push(seg(format!("#{} ", r.seq), theme.dim()));
            }
            let sender = |segs: &mut Vec<Seg>, style: Option<Style>| {
                let who = r.sender.unwrap_or_default();
                let (name, verified) = name_of(&who);
                segs.push(seg(name, style.unwrap_or_else(|| theme.name(&who, r.own))));
                if !verified && !r.own && style.is_none() {
                    segs.push(seg("?", theme.warn().add_modifier(Modifier::BOLD)));
                }
                segs.push(seg(": ", style.unwrap_or_default()));
            };
            match &r.kind {
                RecordKind::Text(t) => {
                    sender(&mut segs, None);
                    segs.extend(highlighted(t, query, Style::default(), hit));
                }
                RecordKind::Notice(t) => {
                    segs.push(seg("* ", theme.notice()));
                    segs.extend(highlighted(t, query, theme.notice(), hit));
                    // A member's notice names them plainly; when that name is shared,
                    // say which one (as `kith read` does).
                    if let Some(who) = r.sender.filter(|w| {
                        !r.own
                            && view.is_some_and(|v| v.colliding.contains(w))
                            && !t.contains(&crate::engine::names::tag(w))
                    }) {
                        segs.push(seg(
                            format!(" {}", t!("chat-notice-by", name = name_of(&who).0)),
                            theme.dim(),
                        ));
                    }
                }
                RecordKind::Alert(t) => {
                    segs.push(seg("! ", theme.alert()));
                    segs.extend(highlighted(t, query, theme.alert(), hit));
                }
                RecordKind::File(file) => {
                    sender(&mut segs, None);
                    segs.push(seg(format!("{} ", t!("chat-file-mark")), theme.dim()));
                    segs.extend(highlighted(
                        &safe_line(&file.name),
                        query,
                        Style::default().add_modifier(Modifier::BOLD),
                        hit,
                    ));
                    segs.push(seg(
                        format!(" ({})", kith_i18n::size(file.size)),
                        theme.dim(),
                    ));
                }
                RecordKind::Deleted { by } => {
                    sender(&mut segs, Some(theme.dim()));
                    let (by, _) = name_of(by);
                    segs.push(seg(t!("chat-deleted-by", name = by), theme.notice()));
                }
            }
            if let Some(via) = &r.shared_by {
                let (via, _) = name_of(via);
                segs.push(seg(
                    format!("  {}", t!("chat-history-via", name = via)),
                    theme.dim(),
                ));
            }
            wrap(&segs, width, TIME_COLS)
        }
        Item::Grouped { first, text, alert } => {
            let (mark, style) = if *alert {
                ("! ", theme.alert())
            } else {
                ("* ", theme.notice())
            };
            let mut segs = vec![
                seg(format!("{} ", hhmm(first.time)), theme.dim()),
                seg(mark, style),
            ];
            segs.extend(highlighted(text, query, style, hit));
            wrap(&segs, width, TIME_COLS)
        }
        Item::Out(o) => {
            let mut segs = vec![
                seg(format!("{} ", hhmm(o.time)), theme.dim()),
                seg(app.me.clone(), theme.name(&app.identity, true)),
                seg(": ", Style::default()),
            ];
            let body = if matches!(o.state, OutState::Failed(_)) {
                Style::default()
            } else {
                theme.dim()
            };
            segs.extend(highlighted(&o.text, query, body, hit));
            let (mark, style) = match &o.state {
                OutState::Queued => (t!("chat-out-queued"), theme.warn()),
                OutState::Held => (t!("chat-out-held"), theme.warn()),
                OutState::Sending | OutState::Sent => (t!("chat-out-sending"), theme.dim()),
                OutState::Failed(why) => (t!("chat-out-failed", why = why), theme.alert()),
            };
            segs.push(seg(format!(" {mark}"), style));
            wrap(&segs, width, TIME_COLS)
        }
    }
}

fn draw_conversation(f: &mut Frame, app: &mut App, theme: &Theme, area: Rect) {
    let width = area.width as usize;
    let height = area.height as usize;
    app.page = height;
    let Some(sel) = app.selected else {
        let text = vec![
            Line::raw(""),
            Line::styled(
                t!("chat-no-groups"),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(""),
            Line::raw(t!("chat-no-groups-create")),
            Line::raw(t!("chat-no-groups-join")),
            Line::raw(""),
            Line::raw(t!("chat-no-groups-then")),
        ];
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
        return;
    };
    let view = app.views.get(&sel);
    let outbox: Vec<OutItem> = app
        .outbox
        .iter()
        .filter(|o| o.group == sel)
        .cloned()
        .collect();
    let list = items(view, &outbox, crate::engine::now_secs());
    let query = app
        .search
        .as_ref()
        .map(|s| s.query.text().to_owned())
        .unwrap_or_default();
    // Matches, newest first.
    let matches: Vec<usize> = (0..list.len())
        .rev()
        .filter(|i| contains_ci(&list[*i].text(), &query))
        .collect();
    let current = app.search.as_ref().and_then(|s| {
        if matches.is_empty() {
            None
        } else {
            Some(matches[s.current.min(matches.len() - 1)])
        }
    });
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut spans = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let start = rows.len();
        rows.extend(item_rows(
            item,
            app,
            view,
            theme,
            width,
            &query,
            current == Some(i),
        ));
        spans.push((start, rows.len()));
    }
    if list.is_empty() {
        rows.push(Line::styled(
            if view.is_some() {
                t!("chat-no-messages")
            } else {
                t!("chat-loading")
            },
            theme.dim(),
        ));
    }
    let total = rows.len();
    // Keep the view still when rows arrive while scrolled up.
    if app.scroll > 0 && app.last_width == area.width && total > app.last_rows {
        app.scroll += total - app.last_rows;
    }
    app.last_rows = total;
    app.last_width = area.width;
    if let Some(s) = &mut app.search {
        s.matches = matches.len();
        if s.jump {
            s.jump = false;
            if let Some(i) = current {
                let (start, _) = spans[i];
                let bottom = (start + height / 2 + 1).min(total);
                app.scroll = total - bottom;
            }
        }
    }
    let max_scroll = total.saturating_sub(height);
    app.scroll = app.scroll.min(max_scroll);
    let end = total - app.scroll;
    let start = end.saturating_sub(height);
    let mut visible: Vec<Line> = rows[start..end].to_vec();
    // Messages sit at the bottom, next to the input, like in every chat.
    let pad = height.saturating_sub(visible.len());
    let mut lines = vec![Line::raw(""); pad];
    lines.append(&mut visible);
    if app.scroll > 0
        && let Some(last) = lines.last_mut()
    {
        let text = format!("── {} ", t!("chat-more-below", n = app.scroll));
        let fill = width.saturating_sub(text.width());
        *last = Line::styled(format!("{text}{}", "─".repeat(fill)), theme.warn());
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_input(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let can_send = app.can_send();
    let on_hold =
        app.search.is_none() && can_send && app.view().is_some_and(|v| v.on_hold.is_some());
    let title = if app.search.is_some() {
        t!("chat-search-title")
    } else {
        match app.current() {
            Some(_) if on_hold => t!("chat-on-hold-title"),
            Some(g) if can_send => t!("chat-message-to", group = &g.name),
            Some(g) if g.status == "removed" => t!("chat-removed-title"),
            Some(_) => t!("chat-left-title"),
            None => t!("chat-no-group-title"),
        }
    };
    let title = format!(" {title} ");
    let title_style = if on_hold {
        theme.alert()
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.dim())
        .title(Span::styled(
            truncate(&title, area.width as usize),
            title_style,
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = inner.width.saturating_sub(1) as usize;
    let (rows, (crow, ccol), placeholder) = match &app.search {
        Some(s) => {
            let (r, c) = s.query.layout(width);
            (r, c, false)
        }
        None => {
            let (r, c) = app.input.layout(width);
            (r, c, app.input.is_empty())
        }
    };
    let h = inner.height as usize;
    let first = (crow + 1).saturating_sub(h);
    let lines: Vec<Line> = if placeholder {
        let hint = if can_send {
            t!("chat-input-hint")
        } else {
            t!("chat-input-hint-read-only")
        };
        vec![Line::styled(truncate(&hint, width), theme.dim())]
    } else {
        rows.iter()
            .skip(first)
            .take(h)
            .map(|r| Line::raw(r.clone()))
            .collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
    if app.overlay.is_none() {
        f.set_cursor_position(Position::new(
            inner.x + ccol as u16,
            inner.y + (crow - first) as u16,
        ));
    }
}

/// The most rows a passing message may take at the bottom (long engine messages wrap
/// rather than being cut).
pub const STATUS_ROWS: usize = 3;

/// The bottom line(s): search state, a passing message (wrapped, up to
/// [`STATUS_ROWS`]), or the key hints.
fn bottom_lines(app: &App, theme: &Theme, w: usize) -> Vec<Line<'static>> {
    if let Some(s) = &app.search {
        let text = if s.query.is_empty() {
            t!("chat-search-empty")
        } else if s.matches == 0 {
            t!("chat-search-none")
        } else {
            t!("chat-search-match", n = s.current + 1, total = s.matches)
        };
        vec![Line::styled(truncate(&text, w), theme.warn())]
    } else if let Some((text, level)) = app.status_line() {
        let style = match level {
            Level::Info => Style::default(),
            Level::Error => theme.alert(),
        };
        let text = text.replace('\n', " ");
        let mut rows = wrap(&[seg(text, style)], w, 0);
        if rows.len() > STATUS_ROWS {
            rows.truncate(STATUS_ROWS);
            if let Some(last) = rows.last_mut() {
                let t: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
                *last = Line::styled(truncate(&format!("{t} …"), w), style);
            }
        }
        rows
    } else {
        // The key hints, when nothing else is to be said.
        vec![Line::styled(truncate(&t!("chat-hints"), w), theme.dim())]
    }
}

/// The help text (keys and commands), a row each; fits an 80x24 terminal. Rows that
/// do not start with a space are headings.
pub fn help_rows() -> Vec<String> {
    text_rows(&t!("chat-help", approve = "approve", hide = "hide"))
}

/// A message of several rows, a row each.
fn text_rows(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_overlay(f: &mut Frame, app: &App, theme: &Theme, o: &Overlay, area: Rect) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let (title, lines): (String, Vec<Line>) = match o {
        Overlay::Help => (
            t!("chat-help-title"),
            help_rows()
                .into_iter()
                .map(|l| {
                    if l.starts_with(' ') {
                        Line::raw(l)
                    } else {
                        Line::styled(l, bold)
                    }
                })
                .collect(),
        ),
        Overlay::Requests { group } => {
            let view = app.views.get(group);
            let mut lines = Vec::new();
            match view {
                Some(v) if !v.admin => {
                    lines.push(Line::raw(t!("chat-requests-admins-only")));
                }
                Some(v) if v.requests.is_empty() => {
                    lines.push(Line::raw(t!("chat-requests-none")));
                    lines.push(Line::styled(t!("chat-requests-none-hint"), theme.dim()));
                }
                Some(v) => {
                    for r in &v.requests {
                        lines.push(Line::from(vec![
                            Span::styled(format!("{}. {}", r.number, safe_line(&r.name)), bold),
                            Span::raw(format!("  [{}]", r.fingerprint)),
                        ]));
                        let time = kith_i18n::time(r.seen_at);
                        let about = if r.comes_back {
                            t!("chat-request-comes-back", time = time)
                        } else {
                            t!(
                                "chat-request-invited",
                                name = safe_line(&r.invited_by),
                                time = time
                            )
                        };
                        lines.push(Line::styled(format!("   {about}"), theme.dim()));
                    }
                    lines.push(Line::styled(
                        t!("chat-times-in", zone = kith_i18n::zone_label()),
                        theme.dim(),
                    ));
                    lines.push(Line::raw(""));
                    lines.push(Line::raw(t!("chat-requests-compare")));
                    lines.push(Line::styled(t!("chat-requests-decide"), theme.warn()));
                }
                None => lines.push(Line::raw(t!("chat-loading"))),
            }
            (t!("chat-requests-title"), lines)
        }
        Overlay::Confirm {
            title, lines, yes, ..
        } => {
            let mut out: Vec<Line> = lines.iter().map(|l| Line::raw(l.clone())).collect();
            out.push(Line::raw(""));
            out.push(Line::styled(
                t!("chat-confirm-keys", yes = yes),
                theme.warn(),
            ));
            (title.clone(), out)
        }
        Overlay::Verify { name, number, .. } => (
            t!("chat-verify-title"),
            vec![
                Line::raw(t!("chat-verify-number", name = name)),
                Line::raw(""),
                Line::styled(number.clone(), bold),
                Line::raw(""),
                Line::raw(t!("chat-verify-compare", name = name)),
                Line::raw(""),
                Line::styled(t!("chat-verify-keys"), theme.warn()),
            ],
        ),
        Overlay::ConfirmLeave { name, .. } => (
            t!("chat-leave-title"),
            vec![
                Line::raw(t!("chat-leave-question", name = name)),
                Line::raw(t!("chat-leave-effect")),
                Line::raw(""),
                Line::styled(
                    t!("chat-confirm-keys", yes = t!("chat-yes-leave")),
                    theme.warn(),
                ),
            ],
        ),
        Overlay::ConfirmQuit { unsent } => (
            t!("chat-quit-title"),
            vec![
                Line::raw(t!("chat-quit-unsent", n = *unsent)),
                Line::raw(""),
                Line::styled(t!("chat-quit-keys"), theme.warn()),
            ],
        ),
        // Drawn by `draw_board` and `draw_invite`.
        Overlay::Board { .. } | Overlay::Invite { .. } => return,
    };
    let title = format!(" {title} ");
    let content_w = lines.iter().map(|l| l.width()).max().unwrap_or(10) as u16;
    let w = (content_w + 4).max(title.width() as u16 + 4);
    let w = w.min(area.width.saturating_sub(2)).max(10);
    let inner_w = w.saturating_sub(4).max(1) as usize;
    let wrapped_h: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_w))
        .sum();
    let h = (wrapped_h as u16 + 2)
        .min(area.height.saturating_sub(2))
        .max(3);
    let rect = centered(area, w, h);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, bold))
        .padding(ratatui::widgets::Padding::horizontal(1));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// The invite box: the whole width, ruled above and below but with no side borders, and
/// the invite alone on its row(s) from the first column, unbroken by wrapping within the
/// screen's width: a mouse selection (or a triple click) takes it and nothing else. `c`
/// copies it through the terminal (OSC 52).
fn draw_invite(
    f: &mut Frame,
    theme: &Theme,
    group: &str,
    invite: &str,
    valid_for: &str,
    approval: bool,
    area: Rect,
) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let w = area.width as usize;
    let text = |t: String, style: Style| wrap(&[seg(format!(" {t}"), style)], w, 1);
    let mut lines = text(
        t!("chat-invite-code", group = group, valid = valid_for),
        Style::default(),
    );
    lines.push(Line::raw(""));
    // The invite's rows: cut at the screen's width only, never indented.
    let chars: Vec<char> = invite.chars().collect();
    for row in chars.chunks(w.max(1)) {
        lines.push(Line::styled(row.iter().collect::<String>(), bold));
    }
    lines.push(Line::raw(""));
    if let Ok(parsed) = invite.parse::<kith_protocol::invite::Invite>() {
        let scheme = if parsed.relay.tls { "wss" } else { "ws" };
        lines.extend(text(
            t!(
                "chat-invite-by-voice",
                code = parsed.code.to_string(),
                relay = format!("{scheme}://{}", parsed.relay.authority)
            ),
            Style::default(),
        ));
    }
    lines.extend(text(t!("chat-invite-pass"), Style::default()));
    let how = if approval {
        t!("chat-invite-approval")
    } else {
        t!("chat-invite-direct")
    };
    for row in text_rows(&how) {
        lines.extend(text(row, Style::default()));
    }
    lines.push(Line::raw(""));
    lines.extend(text(t!("chat-invite-keys"), theme.warn()));
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect::new(area.x, area.y + (area.height - h) / 2, area.width, h);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::TOP | Borders::BOTTOM)
        .title(Span::styled(format!(" {} ", t!("chat-invite-title")), bold));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    f.render_widget(Paragraph::new(lines), inner);
}

/// The rows of the pinned board at `width` columns: each entry's id and title, its text
/// wrapped (newlines kept), who wrote it and when.
pub fn board_rows(view: Option<&GroupView>, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let Some(v) = view else {
        return vec![Line::raw(t!("chat-loading"))];
    };
    if v.board.is_empty() {
        let mut out = vec![Line::raw(t!("chat-board-empty"))];
        if v.admin {
            out.push(Line::styled(t!("chat-board-empty-hint"), theme.dim()));
        }
        return out;
    }
    let mut out = Vec::new();
    for (i, e) in v.board.iter().enumerate() {
        if i > 0 {
            out.push(Line::raw(""));
        }
        out.extend(wrap(
            &[
                seg(
                    format!("[{}] ", e.id),
                    theme.dim().add_modifier(Modifier::BOLD),
                ),
                seg(safe_line(&e.title), bold),
            ],
            width,
            4,
        ));
        let text = safe_text(&e.text);
        if !text.trim().is_empty() {
            out.extend(wrap(
                &[seg("    ", Style::default()), seg(text, Style::default())],
                width,
                4,
            ));
        }
        let by = v
            .label(&e.by)
            .unwrap_or_else(|| crate::engine::names::tag(&e.by));
        out.extend(wrap(
            &[seg(
                format!(
                    "    {}",
                    t!(
                        "chat-board-by",
                        name = safe_line(&by),
                        time = kith_i18n::time(e.at)
                    )
                ),
                theme.dim(),
            )],
            width,
            4,
        ));
    }
    out.push(Line::raw(""));
    out.extend(wrap(
        &[seg(
            t!("chat-times-in", zone = kith_i18n::zone_label()),
            theme.dim(),
        )],
        width,
        0,
    ));
    out
}

/// The board overlay: nearly the whole screen, scrolled by `scroll` rows (clamped
/// here and written back), with a fixed hint row at the bottom.
fn draw_board(
    f: &mut Frame,
    app: &mut App,
    theme: &Theme,
    group: GroupId,
    scroll: usize,
    area: Rect,
) {
    let w = area.width.saturating_sub(4).clamp(10, 90);
    let view = app.views.get(&group);
    // As tall as the entries (and the hint row) need, at most the screen.
    let rows_needed = board_rows(view, theme, w.saturating_sub(4).max(1) as usize).len() as u16;
    let h = (rows_needed + 3).min(area.height.saturating_sub(2)).max(3);
    let rect = centered(area, w, h);
    let name = app
        .groups
        .iter()
        .find(|g| g.id == group.to_hex())
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let title = format!(" {} ", t!("chat-board-title", group = name));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            truncate(&title, w.saturating_sub(2) as usize),
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(Clear, rect);
    f.render_widget(block, rect);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let width = inner.width as usize;
    let rows = board_rows(view, theme, width);
    let body_h = inner.height.saturating_sub(1) as usize;
    let max_scroll = rows.len().saturating_sub(body_h);
    let scroll = scroll.min(max_scroll);
    let below = rows.len().saturating_sub(scroll + body_h);
    let visible: Vec<Line> = rows.into_iter().skip(scroll).take(body_h).collect();
    let [body, hint] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    f.render_widget(Paragraph::new(visible), body);
    let mut text = String::new();
    if scroll > 0 || below > 0 {
        text.push_str(&format!("{} · ", t!("chat-board-scroll", n = below)));
    }
    text.push_str(&t!("chat-board-close"));
    if view.is_some_and(|v| v.admin) {
        text.push_str(" · /board add|edit|rm");
    }
    f.render_widget(
        Paragraph::new(Line::styled(truncate(&text, width), theme.dim())),
        hint,
    );
    if let Some(Overlay::Board { scroll: s, .. }) = &mut app.overlay {
        *s = scroll;
    }
}
