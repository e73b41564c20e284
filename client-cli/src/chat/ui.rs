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

use super::app::{App, Level, OutItem, Overlay};
use super::engine_task::{ConnState, GroupView, OutState};
use crate::engine::records::{MessageRecord, RecordKind};
use crate::identity::IdentityKey;
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

/// Formats Unix seconds as `HH:MM` (UTC, like `kith read`).
pub fn hhmm(secs: u64) -> String {
    let rem = secs % 86_400;
    format!("{:02}:{:02}", rem / 3600, (rem % 3600) / 60)
}

/// The day separator text for Unix seconds: `Thursday 2026-11-26 (UTC)`.
pub fn day_label(secs: u64) -> String {
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let day = DAYS[((secs / 86_400) % 7) as usize];
    let date = crate::cli::format_time(secs);
    format!("{day} {} (UTC)", &date[..10])
}

/// The connection state as shown in the top bar, and its style.
pub fn conn_label(state: &ConnState) -> (String, ConnTone) {
    let secs_to = |at: &tokio::time::Instant| {
        at.saturating_duration_since(tokio::time::Instant::now())
            .as_secs()
    };
    match state {
        ConnState::Connected => ("● connected".into(), ConnTone::Good),
        ConnState::Connecting => ("◌ connecting…".into(), ConnTone::Warn),
        ConnState::Reconnecting { retry_at, .. } => {
            let s = secs_to(retry_at);
            if s == 0 {
                ("◌ reconnecting…".into(), ConnTone::Warn)
            } else {
                (format!("◌ reconnecting in {s}s"), ConnTone::Warn)
            }
        }
        ConnState::Offline { retry_at } => (
            format!("○ offline · retry in {}s (^R now)", secs_to(retry_at)),
            ConnTone::Bad,
        ),
        ConnState::Idle => ("○ idle (no groups)".into(), ConnTone::Warn),
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
            Paragraph::new("Too small for kith chat: enlarge the terminal.")
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let input_rows = input_rows(app, area);
    let [top, main, input, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(input_rows + 1),
        Constraint::Length(1),
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
    draw_bottom(f, app, &theme, bottom);
    if let Some(o) = app.overlay.clone() {
        draw_overlay(f, &theme, &o, area);
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

fn draw_top(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let left = match app.current() {
        Some(g) => {
            let mut s = format!(" kith · {}", g.name);
            if g.status == "active" {
                s.push_str(&format!(
                    " · {} member{}",
                    g.members,
                    if g.members == 1 { "" } else { "s" }
                ));
            } else {
                s.push_str(&format!(" · {}", g.status));
            }
            s
        }
        None => " kith".to_owned(),
    };
    let (conn, tone) = conn_label(&app.conn);
    let conn = format!("{conn} ");
    let conn_style = match tone {
        ConnTone::Good => theme.good(),
        ConnTone::Warn => theme.warn(),
        ConnTone::Bad => theme.alert(),
    }
    .add_modifier(Modifier::REVERSED);
    let w = area.width as usize;
    let cw = conn.width();
    let left = truncate(&left, w.saturating_sub(cw + 1));
    let pad = w.saturating_sub(left.width() + cw);
    let line = Line::from(vec![
        Span::styled(left, theme.bar().add_modifier(Modifier::BOLD)),
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
        " Groups",
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
        let name = if g.status == "active" {
            g.name.clone()
        } else {
            format!("{} ({})", g.name, g.status)
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
        lines.push(Line::styled("   joining…", theme.dim()));
    }
    if app.groups.is_empty() && app.joining.is_empty() {
        lines.push(Line::styled(" (none yet)", theme.dim()));
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
        format!(" Members ({})", members.len()),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let mut sorted: Vec<_> = members.iter().collect();
    sorted.sort_by_key(|m| (!m.you, m.role != "admin", m.name.to_lowercase()));
    for m in sorted {
        let name = if m.you {
            format!("{} (you)", m.name)
        } else {
            m.name.clone()
        };
        lines.push(Line::styled(
            truncate(&format!(" {name}"), w),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let (v, vs) = if m.you {
            ("", Style::default())
        } else if m.verified {
            (" · verified", theme.good())
        } else {
            (" · NOT verified", theme.warn())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("   {}", m.role), theme.dim()),
            Span::styled(v, vs),
        ]));
    }
    if members.is_empty() {
        lines.push(Line::styled(" (not a member)", theme.dim()));
    } else {
        lines.push(Line::styled(" /verify NAME to check", theme.dim()));
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
    Out(&'a OutItem),
}

impl Item<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Item::Day(_) => "".into(),
            Item::Record(r) => match &r.kind {
                RecordKind::Text(t) | RecordKind::Notice(t) | RecordKind::Alert(t) => t.into(),
                other => other.text().into(),
            },
            Item::Out(o) => o.text.as_str().into(),
        }
    }
}

fn items<'a>(view: Option<&'a GroupView>, outbox: &'a [OutItem]) -> Vec<Item<'a>> {
    let mut out = Vec::new();
    let mut day = None;
    let mut push_day = |out: &mut Vec<Item<'a>>, t: u64| {
        if day != Some(t / 86_400) {
            day = Some(t / 86_400);
            out.push(Item::Day(t));
        }
    };
    if let Some(v) = view {
        for r in &v.records {
            push_day(&mut out, r.time);
            out.push(Item::Record(r));
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
            return (app.me.clone(), true);
        }
        let name = view
            .and_then(|v| v.names.get(who).cloned())
            .unwrap_or_else(|| format!("[{}]", &crate::identity::fingerprint(who)[..9]));
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
            let time = seg(format!("{} ", hhmm(r.time)), theme.dim());
            let mut segs = vec![time];
            match &r.kind {
                RecordKind::Text(t) => {
                    let who = r.sender.unwrap_or_default();
                    let (name, verified) = name_of(&who);
                    segs.push(seg(name, theme.name(&who, r.own)));
                    if !verified && !r.own {
                        segs.push(seg("?", theme.warn().add_modifier(Modifier::BOLD)));
                    }
                    segs.push(seg(": ", Style::default()));
                    segs.extend(highlighted(t, query, Style::default(), hit));
                }
                RecordKind::Notice(t) => {
                    segs.push(seg("* ", theme.notice()));
                    segs.extend(highlighted(t, query, theme.notice(), hit));
                }
                RecordKind::Alert(t) => {
                    segs.push(seg("! ", theme.alert()));
                    segs.extend(highlighted(t, query, theme.alert(), hit));
                }
                other => {
                    let who = r.sender.unwrap_or_default();
                    let (name, _) = name_of(&who);
                    segs.push(seg(name, theme.name(&who, r.own)));
                    segs.push(seg(": ", Style::default()));
                    segs.extend(highlighted(&other.text(), query, theme.notice(), hit));
                }
            }
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
                OutState::Queued => (" [queued: offline]".to_owned(), theme.warn()),
                OutState::Sending | OutState::Sent => (" [sending…]".to_owned(), theme.dim()),
                OutState::Failed(why) => (
                    format!(" [NOT SENT: {why} · Ctrl-R retries, /discard drops]"),
                    theme.alert(),
                ),
            };
            segs.push(seg(mark, style));
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
                "No groups yet.",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(""),
            Line::raw("Create one:  kith group create NAME --relay URL"),
            Line::raw("or join one: kith join INVITE"),
            Line::raw(""),
            Line::raw("then open the chat again. F1 shows the keys, Ctrl-C quits."),
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
    let list = items(view, &outbox);
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
                "No messages yet. Say something below."
            } else {
                "Loading…"
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
        let text = format!(
            "── ↓ {} more row(s) below · Esc or Ctrl-End: latest ",
            app.scroll
        );
        let fill = width.saturating_sub(text.width());
        *last = Line::styled(format!("{text}{}", "─".repeat(fill)), theme.warn());
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_input(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let can_send = app.can_send();
    let title = if app.search.is_some() {
        " Search (Enter/↑ older · ↓ newer · Esc close) ".to_owned()
    } else {
        match app.current() {
            Some(g) if can_send => format!(" Message to {} ", g.name),
            Some(g) if g.status == "removed" => {
                " You were removed from this group: you can read, not write ".to_owned()
            }
            Some(_) => " You left this group ".to_owned(),
            None => " No group ".to_owned(),
        }
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.dim())
        .title(Span::styled(
            truncate(&title, area.width as usize),
            Style::default().add_modifier(Modifier::BOLD),
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
            "Type a message; Enter sends, Alt-Enter adds a line, /help lists commands"
        } else {
            "/help lists commands; Tab opens another group"
        };
        vec![Line::styled(truncate(hint, width), theme.dim())]
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

/// The key hints shown when nothing else is to be said.
pub const HINTS: &str =
    "F1 help · ^C quit · Tab next group · PgUp/PgDn scroll · ^F search · F2 members";

fn draw_bottom(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let w = area.width as usize;
    let line = if let Some(s) = &app.search {
        let text = if s.query.is_empty() {
            "Search: type to find in this conversation".to_owned()
        } else if s.matches == 0 {
            "Search: no match".to_owned()
        } else {
            format!("Search: match {} of {}", s.current + 1, s.matches)
        };
        Line::styled(truncate(&text, w), theme.warn())
    } else if let Some((text, level)) = app.status_line() {
        let style = match level {
            Level::Info => Style::default(),
            Level::Error => theme.alert(),
        };
        Line::styled(truncate(text, w), style)
    } else {
        Line::styled(truncate(HINTS, w), theme.dim())
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The help text (keys and commands).
pub const HELP: &[&str] = &[
    "Keys",
    "  Enter           send          Alt-Enter, Ctrl-J  new line",
    "  Up/Down         history       Ctrl-A/E, Ctrl-←/→ move",
    "  Ctrl-U/K/W      delete to line start / line end / word",
    "  Tab, Shift-Tab  next / previous group (also Ctrl-N/P, Alt-1…9)",
    "  PgUp/PgDn       scroll        Shift-↑/↓ one row, Esc latest",
    "  Ctrl-F          search        then Enter/↑ older, ↓ newer",
    "  F2              members       Ctrl-R  retry unsent, reconnect",
    "  F1              this help     Ctrl-C  quit",
    "Commands",
    "  /invite [72h]   one-time invite code (admins)",
    "  /remove NAME    remove a member (admins)",
    "  /verify NAME    compare safety numbers with a member",
    "  /members  /leave  /retry  /discard  /search TEXT  /quit",
    "  //text          send a line that starts with /",
    "Marks",
    "  Name?  not verified   * notice   ! warning   +N open invites",
    "  [sending…] [queued: offline] [NOT SENT]",
];

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

fn draw_overlay(f: &mut Frame, theme: &Theme, o: &Overlay, area: Rect) {
    let (title, lines): (&str, Vec<Line>) = match o {
        Overlay::Help => (
            " Help · any key closes ",
            HELP.iter()
                .map(|l| {
                    if l.starts_with(' ') {
                        Line::raw(*l)
                    } else {
                        Line::styled(*l, Style::default().add_modifier(Modifier::BOLD))
                    }
                })
                .collect(),
        ),
        Overlay::Invite {
            group,
            invite,
            valid_for,
        } => (
            " Invite · any key closes ",
            vec![
                Line::raw(format!(
                    "A one-time code for {group}, valid for {valid_for}:"
                )),
                Line::raw(""),
                Line::styled(
                    invite.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Line::raw(""),
                Line::raw("Pass it on in person or by phone, never in a group chat."),
                Line::raw("It works once; an admin's client admits the joiner."),
            ],
        ),
        Overlay::Verify { name, number, .. } => (
            " Verify ",
            vec![
                Line::raw(format!("Safety number with {name}:")),
                Line::raw(""),
                Line::styled(
                    number.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Line::raw(""),
                Line::raw(format!(
                    "Compare it with {name} in person or on a call: they see the same."
                )),
                Line::raw(""),
                Line::styled(
                    "y: it matches (mark verified) · n: it differs · Esc: later",
                    theme.warn(),
                ),
            ],
        ),
        Overlay::ConfirmRemove { member, .. } => (
            " Remove ",
            vec![
                Line::raw(format!("Remove {member} from this group?")),
                Line::raw("They will not be able to read anything sent after this."),
                Line::raw(""),
                Line::styled("y: remove · any other key: cancel", theme.warn()),
            ],
        ),
        Overlay::ConfirmLeave { name, .. } => (
            " Leave ",
            vec![
                Line::raw(format!("Leave {name}?")),
                Line::raw("You will not be able to read it again; an admin must invite you back."),
                Line::raw(""),
                Line::styled("y: leave · any other key: cancel", theme.warn()),
            ],
        ),
        Overlay::ConfirmQuit { unsent } => (
            " Quit ",
            vec![
                Line::raw(format!(
                    "{unsent} message(s) have not reached the relay yet and will be lost."
                )),
                Line::raw(""),
                Line::styled(
                    "y or Ctrl-C: quit anyway · any other key: stay",
                    theme.warn(),
                ),
            ],
        ),
    };
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
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .padding(ratatui::widgets::Padding::horizontal(1));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
