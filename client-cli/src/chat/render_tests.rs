//! Rendering tests: the screen drawn on ratatui's `TestBackend` for each state (empty,
//! long history, narrow, offline, members, overlays, NO_COLOR), asserting on the text of
//! the buffer.

use super::app::{App, Overlay};
use super::ui;
use crate::engine::records::{MessageRecord, RecordKind};
use crate::engine::{BoardEntry, GroupSummary, MemberInfo, RequestInfo};
use crate::payload::FileRef;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use kith_engine::live::messages::{ConnState, Event, GroupView, OutState};
use kith_protocol::GroupId;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const OLENA: [u8; 32] = [1; 32];
const IRYNA: [u8; 32] = [2; 32];
const MYKOLA: [u8; 32] = [3; 32];
/// 2026-11-26 18:02 UTC.
const T0: u64 = 1_795_716_120;

/// The tests read English, with times in UTC.
fn english() {
    kith_i18n::set_lang(kith_i18n::Lang::En);
    kith_i18n::set_utc(true);
}

fn render(app: &mut App, w: u16, h: u16) -> (Vec<String>, Terminal<TestBackend>) {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    let rows = screen_rows(&t);
    (rows, t)
}

fn screen_rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect()
}

fn screen(rows: &[String]) -> String {
    rows.join("\n")
}

fn summary(name: &str, id: GroupId, unread: usize, status: &str) -> GroupSummary {
    GroupSummary {
        name: name.into(),
        id: id.to_hex(),
        relay: "ws://127.0.0.1:7878".into(),
        members: 3,
        unread,
        pending_joins: 0,
        status: status.into(),
        on_hold: false,
    }
}

fn member(name: &str, key: [u8; 32], role: &'static str, verified: bool, you: bool) -> MemberInfo {
    MemberInfo {
        name: name.into(),
        identity: kith_protocol::ids::hex(&key),
        fingerprint: crate::identity::fingerprint(&key),
        role: role.to_owned(),
        verified,
        you,
        name_collides: false,
    }
}

fn text(seq: u64, time: u64, who: [u8; 32], t: &str) -> MessageRecord {
    MessageRecord {
        shared_by: None,
        expires: 0,
        seq,
        sub: 0,
        time,
        sender: Some(who),
        own: who == OLENA,
        kind: RecordKind::Text(t.into()),
    }
}

fn notice(seq: u64, time: u64, t: &str) -> MessageRecord {
    MessageRecord {
        shared_by: None,
        expires: 0,
        seq,
        sub: 0,
        time,
        sender: Some(OLENA),
        own: true,
        kind: RecordKind::Notice(t.into()),
    }
}

/// Olena's chat with "Legal aid" (open) and "Family" (2 unread).
fn app(records: Vec<MessageRecord>) -> (App, GroupId) {
    let legal = GroupId([7; 16]);
    let family = GroupId([8; 16]);
    let mut app = App::new(true, Some(legal));
    app.on_engine(Event::Me {
        name: "Olena".into(),
        identity: OLENA,
    });
    app.on_engine(Event::Groups {
        groups: vec![
            summary("Family", family, 2, "active"),
            summary("Legal aid", legal, 0, "active"),
        ],
        joining: vec!["Book club".into()],
    });
    let mut view = GroupView {
        records,
        ..Default::default()
    };
    view.names.insert(OLENA, "Olena".into());
    view.names.insert(IRYNA, "Iryna".into());
    view.names.insert(MYKOLA, "Mykola".into());
    view.verified.insert(IRYNA);
    view.members = vec![
        member("Olena", OLENA, "admin", false, true),
        member("Iryna", IRYNA, "member", true, false),
        member("Mykola", MYKOLA, "member", false, false),
    ];
    app.on_engine(Event::Group {
        id: legal,
        view: Box::new(view),
    });
    app.on_engine(Event::Connection(ConnState::Connected));
    app.take_commands();
    (app, legal)
}

fn key(app: &mut App, code: KeyCode, mods: KeyModifiers) {
    app.on_terminal(TermEvent::Key(KeyEvent::new(code, mods)));
}

#[test]
fn empty_profile_says_how_to_start() {
    english();
    let mut app = App::new(true, None);
    app.on_engine(Event::Groups {
        groups: vec![],
        joining: vec![],
    });
    app.on_engine(Event::Connection(ConnState::Idle));
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(rows[0].starts_with(" kith"), "{s}");
    assert!(rows[0].contains("idle"), "{s}");
    assert!(s.contains("No groups yet."), "{s}");
    assert!(s.contains("kith group create NAME --relay URL"), "{s}");
    assert!(s.contains("(none yet)"), "{s}");
    assert!(rows[23].contains("F1 help"), "{s}");
}

#[test]
fn conversation_shows_names_times_days_notices_and_marks() {
    english();
    let day2 = T0 + 86_400;
    let (mut app, _) = app(vec![
        notice(1, T0 - 60, "You created the group"),
        text(2, T0, OLENA, "Lawyer Petrenko takes appeals on Thursdays"),
        text(3, T0 + 60, IRYNA, "Thank you"),
        text(4, day2, MYKOLA, "Is the office open?"),
    ]);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(rows[0].contains("Legal aid · 3 members"), "{s}");
    assert!(rows[0].contains("● connected"), "{s}");
    assert!(s.contains("── Thursday 2026-11-26 (UTC) ──"), "{s}");
    assert!(s.contains("── Friday 2026-11-27 (UTC) ──"), "{s}");
    assert!(s.contains("18:01 * You created the group"), "{s}");
    assert!(
        s.contains("18:02 Olena: Lawyer Petrenko takes appeals on Thursdays"),
        "{s}"
    );
    // Iryna is verified; Mykola is not: he gets the mark.
    assert!(s.contains("18:03 Iryna: Thank you"), "{s}");
    assert!(s.contains("18:02 Mykola?: Is the office open?"), "{s}");
    // The group list: the open one marked, unread counts, a pending join.
    assert!(s.contains(">Legal aid"), "{s}");
    assert!(
        rows.iter()
            .any(|r| r.contains(" Family") && r.contains("2 ")),
        "{s}"
    );
    assert!(s.contains("Book club"), "{s}");
    assert!(s.contains("joining…"), "{s}");
    assert!(s.contains("Message to Legal aid"), "{s}");
}

#[test]
fn look_alike_names_carry_fingerprint_fragments() {
    english();
    // A newcomer calls themself "Iryna" with a Cyrillic "І" and "у"; both Irynas are
    // tagged on their lines and in the member list, the other names are not.
    const FAKE: [u8; 32] = [4; 32];
    assert!(crate::engine::names::collides(
        "Iryna",
        "\u{0406}r\u{0443}na"
    ));
    let (mut app, legal) = app(vec![
        text(1, T0, IRYNA, "The lawyer is Petrenko"),
        text(2, T0 + 60, FAKE, "New lawyer, call +7 900"),
        text(3, T0 + 120, MYKOLA, "Which one?"),
        MessageRecord {
            sender: Some(FAKE),
            own: false,
            ..notice(4, T0 + 180, "\u{0406}r\u{0443}na is leaving the group")
        },
    ]);
    let mut view = app.views.get(&legal).cloned().expect("view");
    view.names.insert(FAKE, "\u{0406}r\u{0443}na".into());
    view.colliding.extend([IRYNA, FAKE]);
    view.members
        .push(member("\u{0406}r\u{0443}na", FAKE, "member", false, false));
    for m in view.members.iter_mut() {
        m.name_collides = m.name.ends_with("na") && m.name != "Olena";
    }
    app.on_engine(Event::Group {
        id: legal,
        view: Box::new(view),
    });
    let (rows, _) = render(&mut app, 100, 24);
    let s = screen(&rows);
    let real = crate::engine::names::tag(&IRYNA);
    let fake = crate::engine::names::tag(&FAKE);
    assert_ne!(real, fake);
    assert!(
        s.contains(&format!("Iryna {real}: The lawyer is Petrenko")),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "\u{0406}r\u{0443}na {fake}?: New lawyer, call +7 900"
        )),
        "{s}"
    );
    assert!(s.contains("Mykola?: Which one?"), "{s}");
    assert!(!s.contains(&crate::engine::names::tag(&MYKOLA)), "{s}");
    // A notice of theirs says which one it was.
    assert!(
        s.contains(&format!(
            "* \u{0406}r\u{0443}na is leaving the group (by \u{0406}r\u{0443}na {fake})"
        )),
        "{s}"
    );
    // The member list tells them apart too.
    assert!(s.contains(&format!("Iryna {real}")), "{s}");
}

#[test]
fn long_history_shows_the_latest_and_scrolls() {
    english();
    let records: Vec<_> = (0..500)
        .map(|i| text(i + 1, T0 + i * 600, IRYNA, &format!("message number {i}")))
        .collect();
    let (mut app, _) = app(records);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("message number 499"), "{s}");
    assert!(!s.contains("message number 470"), "{s}");
    // The latest message sits right above the input.
    let last = rows.iter().rposition(|r| r.contains("message number 499"));
    let input = rows.iter().position(|r| r.contains("Message to Legal aid"));
    assert_eq!(last.map(|l| l + 1), input, "{s}");

    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(!s.contains("message number 499"), "{s}");
    assert!(s.contains("more row(s) below"), "{s}");
    // A new message while scrolled up does not move the view.
    let before = rows.clone();
    let mut view = app.views[&GroupId([7; 16])].clone();
    view.records
        .push(text(501, T0 + 500 * 600, IRYNA, "a newer one"));
    app.on_engine(Event::Group {
        id: GroupId([7; 16]),
        view: Box::new(view),
    });
    let (rows, _) = render(&mut app, 80, 24);
    assert_eq!(rows[1..15], before[1..15]);

    // Search jumps to an old message and highlights it.
    key(&mut app, KeyCode::Char('f'), KeyModifiers::CONTROL);
    for c in "number 17".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("message number 17"), "{s}");
    assert!(s.contains("Search: match 1 of 1"), "{s}");
    // Esc goes back to the latest.
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("a newer one"), "{s}");
}

#[test]
fn narrow_terminal_hides_the_group_list_and_wraps() {
    english();
    let long = "This is a long message that has to wrap over several rows of a narrow terminal";
    let (mut app, _) = app(vec![text(1, T0, IRYNA, long)]);
    let (rows, _) = render(&mut app, 40, 14);
    let s = screen(&rows);
    assert!(!s.contains("Groups"), "{s}");
    assert!(rows[0].contains("Legal aid"), "{s}");
    assert!(rows[0].contains("connected"), "{s}");
    assert!(s.contains("18:02 Iryna: This is a long message"), "{s}");
    // Wrapped rows are indented under the text, and no word is lost.
    let words: String = rows.iter().map(|r| r.trim()).collect::<Vec<_>>().join(" ");
    assert!(words.contains("several rows of a narrow terminal"), "{s}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("      ") && r.trim().len() > 3),
        "{s}"
    );
    // A long input grows the input box and keeps the cursor in view.
    app.input.set_text(&"word ".repeat(30));
    let (rows, mut t) = render(&mut app, 40, 14);
    let cursor = t.get_cursor_position().expect("cursor");
    assert!(cursor.y < 13, "{}", screen(&rows));
    // Members in a narrow terminal take the whole middle.
    app.show_members = true;
    let (rows, _) = render(&mut app, 40, 14);
    let s = screen(&rows);
    assert!(s.contains("Members (3)"), "{s}");
    // Even a tiny terminal does not panic.
    render(&mut app, 12, 4);
    render(&mut app, 1, 1);
}

#[test]
fn offline_state_and_unsent_messages_are_visible() {
    english();
    let (mut app, _) = app(vec![text(1, T0, IRYNA, "hello")]);
    app.on_engine(Event::Connection(ConnState::Offline {
        retry_at: tokio::time::Instant::now() + std::time::Duration::from_secs(20),
    }));
    app.input.set_text("first while offline");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    app.input.set_text("second");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    app.input.set_text("still typing");
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(rows[0].contains("○ offline · retry in"), "{s}");
    assert!(
        s.contains("Olena: first while offline [queued: offline]"),
        "{s}"
    );
    assert!(s.contains("Olena: second [queued: offline]"), "{s}");
    assert!(s.contains("still typing"), "{s}");

    app.on_engine(Event::Connection(ConnState::Reconnecting {
        attempt: 1,
        retry_at: tokio::time::Instant::now(),
    }));
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Failed("no answer from the relay".into()),
    });
    app.on_engine(Event::Outbox {
        id: 2,
        state: OutState::Sending,
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(rows[0].contains("reconnecting"), "{s}");
    assert!(s.contains("[NOT SENT: no answer from the"), "{s}");
    assert!(s.contains("second [sending…]"), "{s}");
    assert!(s.contains("Ctrl-R retries"), "{s}");
}

#[test]
fn members_pane_shows_roles_and_verification() {
    english();
    let (mut app, _) = app(vec![]);
    key(&mut app, KeyCode::F(2), KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("Members (3)"), "{s}");
    assert!(s.contains("Olena (you)"), "{s}");
    assert!(s.contains("admin"), "{s}");
    assert!(s.contains("member · verified"), "{s}");
    assert!(s.contains("member · NOT verified"), "{s}");
    assert!(s.contains("No messages yet"), "{s}");
}

#[test]
fn overlays_fit_in_80x24() {
    english();
    let (mut app, legal) = app(vec![]);
    key(&mut app, KeyCode::F(1), KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    for line in ui::help_rows() {
        assert!(s.contains(line.trim()), "help line {line:?} missing:\n{s}");
    }
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(app.overlay.is_none());
    app.on_engine(Event::Invite {
        group: "Legal aid".into(),
        invite: "kith+ws://127.0.0.1:7878/ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345".into(),
        ttl: std::time::Duration::from_secs(72 * 3600),
        approval: false,
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(
        s.contains("kith+ws://127.0.0.1:7878/ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345"),
        "{s}"
    );
    assert!(s.contains("valid for 3 days"), "{s}");
    app.overlay = Some(Overlay::Verify {
        group: legal,
        member: MYKOLA,
        name: "Mykola".into(),
        number: "12345 67890 12345 67890 12345 67890".into(),
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("Safety number with Mykola"), "{s}");
    assert!(s.contains("12345 67890 12345 67890 12345 67890"), "{s}");
}

#[test]
fn no_color_draws_without_colors() {
    english();
    let (mut app, _) = app(vec![
        text(1, T0, IRYNA, "hi"),
        text(2, T0, MYKOLA, "hello"),
        MessageRecord {
            shared_by: None,
            expires: 0,
            seq: 3,
            sub: 0,
            time: T0,
            sender: None,
            own: false,
            kind: RecordKind::Alert("refused a message".into()),
        },
    ]);
    let (_, t) = render(&mut app, 80, 24);
    let colored = t
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != Color::Reset || c.bg != Color::Reset);
    assert!(colored, "the colored theme uses colors");

    app.color = false;
    app.show_members = true;
    app.on_engine(Event::Connection(ConnState::Offline {
        retry_at: tokio::time::Instant::now(),
    }));
    let (rows, t) = render(&mut app, 80, 24);
    for c in t.backend().buffer().content() {
        assert_eq!(
            (c.fg, c.bg),
            (Color::Reset, Color::Reset),
            "a colored cell under NO_COLOR:\n{}",
            screen(&rows)
        );
    }
    assert!(screen(&rows).contains("! refused a message"));
}

#[test]
fn resize_keeps_the_state() {
    english();
    let (mut app, _) = app(vec![text(1, T0, IRYNA, "kept across sizes")]);
    app.input.set_text("draft text");
    for (w, h) in [(80, 24), (50, 12), (120, 40), (80, 24)] {
        app.on_terminal(TermEvent::Resize(w, h));
        let (rows, _) = render(&mut app, w, h);
        let s = screen(&rows);
        assert!(s.contains("kept across sizes"), "{w}x{h}:\n{s}");
        assert!(s.contains("draft text"), "{w}x{h}:\n{s}");
    }
}

#[test]
fn removed_group_is_read_only() {
    english();
    let (mut app, legal) = app(vec![text(1, T0, IRYNA, "before")]);
    app.on_engine(Event::Groups {
        groups: vec![summary("Legal aid", legal, 0, "removed")],
        joining: vec![],
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("You were removed from this group"), "{s}");
    assert!(rows[0].contains("Legal aid · removed"), "{s}");
    assert!(s.contains("Legal aid (r"), "{s}");
    app.input.set_text("hello?");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert!(app.take_commands().is_empty());
    assert_eq!(app.input.text(), "hello?");
}

fn with_view(app: &mut App, id: GroupId, f: impl FnOnce(&mut GroupView)) {
    let mut view = app.views[&id].clone();
    f(&mut view);
    app.on_engine(Event::Group {
        id,
        view: Box::new(view),
    });
}

fn entry(id: u32, title: &str, text: &str) -> BoardEntry {
    BoardEntry {
        id,
        title: title.into(),
        text: text.into(),
        by: OLENA,
        at: T0,
    }
}

#[test]
fn board_overlay_lists_entries_wrapped_and_scrolls() {
    english();
    let (mut app, legal) = app(vec![text(1, T0, IRYNA, "hello")]);
    with_view(&mut app, legal, |v| {
        v.admin = true;
        v.board = vec![
            entry(
                0,
                "Lawyer Petrenko",
                "Takes appeals on Thursdays, 10:00-14:00, at Kyivska 12, office 4. Bring the \
                 original call-up papers and two copies of each.\n+380 44 123 4567",
            ),
            // A hostile title with an escape sequence: drawn harmless.
            entry(2, "Shelter\x1b[2J address", "Street 5"),
        ];
    });
    app.input.set_text("/board");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains(" Board · Legal aid "), "{s}");
    assert!(s.contains("[0] Lawyer Petrenko"), "{s}");
    // The text wraps inside the box, indented; its own newline starts a row.
    assert!(s.contains("    Takes appeals on Thursdays"), "{s}");
    assert!(s.contains("original call-up papers"), "{s}");
    assert!(
        rows.iter().any(|r| r
            .trim_start_matches(['│', ' '])
            .starts_with("+380 44 123 4567")),
        "{s}"
    );
    assert!(s.contains("— Olena, 2026-11-26 18:02"), "{s}");
    assert!(s.contains("Times are UTC."), "{s}");
    assert!(s.contains("[2] Shelter[2J address"), "{s}");
    assert!(!s.contains('\x1b'), "{s}");
    assert!(s.contains("Esc closes · /board add|edit|rm"), "{s}");
    // The box stays within the screen, every row of it.
    assert!(rows.iter().all(|r| r.chars().count() == 80));

    // In a short terminal it scrolls.
    let (rows, _) = render(&mut app, 60, 12);
    let s = screen(&rows);
    assert!(s.contains("rows below"), "{s}");
    assert!(!s.contains("[2] Shelter"), "{s}");
    key(&mut app, KeyCode::End, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 60, 12);
    let s = screen(&rows);
    assert!(s.contains("[2] Shelter"), "{s}");
    assert!(!s.contains("[0] Lawyer"), "{s}");
    // The renderer clamped the scroll: one row up shows one more row.
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 60, 12);
    assert!(screen(&rows).contains("[2] Shelter"));

    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(!s.contains(" Board · "), "{s}");
    assert!(s.contains("Iryna: hello"), "{s}");

    // An empty board says so, and how to pin for admins.
    with_view(&mut app, legal, |v| v.board.clear());
    app.input.set_text("/board");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("The board is empty."), "{s}");
    assert!(s.contains("/board add TITLE | TEXT"), "{s}");
}

fn file(name: &str, size: u64) -> FileRef {
    FileRef {
        name: name.into(),
        size,
        sha256: [0; 32],
        key: [0; 32],
        chunk_size: 1024,
        chunks: vec![],
        sent_at: 0,
    }
}

#[test]
fn deleted_history_file_and_disappearing_records() {
    english();
    let now = crate::engine::now_secs();
    let mut shared = text(2, T0, IRYNA, "from before I joined");
    shared.shared_by = Some(MYKOLA);
    shared.sub = 1;
    let mut soon = text(6, now - 30, IRYNA, "this one will disappear");
    soon.expires = now + 3600;
    let mut gone = text(7, now - 60, IRYNA, "this one has disappeared");
    gone.expires = now - 1;
    let (mut app, _) = app(vec![
        shared,
        MessageRecord {
            kind: RecordKind::Deleted { by: OLENA },
            ..text(3, T0 + 60, MYKOLA, "")
        },
        MessageRecord {
            kind: RecordKind::File(file("appeal\x1b]0;pwned\x07.pdf", 3 * 1024 * 1024 + 1)),
            ..text(4, T0 + 120, IRYNA, "")
        },
        text(5, T0 + 180, OLENA, "ok"),
        soon,
        gone,
    ]);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(
        s.contains("18:02 Iryna: from before I joined  · history via Mykola"),
        "{s}"
    );
    assert!(s.contains("18:03 Mykola: message deleted by Olena"), "{s}");
    assert!(
        s.contains("18:04 Iryna: [file] appeal]0;pwned.pdf (3.0 MiB)"),
        "{s}"
    );
    assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s}");
    // The disappearing one carries the mark after its time; the expired one is gone
    // without any engine event.
    assert!(s.contains("◷Iryna: this one will disappear"), "{s}");
    assert!(!s.contains("has disappeared"), "{s}");
    assert!(!s.contains("◷Olena"), "{s}");
    // F3: the numbers /delete takes, on what can be deleted only.
    key(&mut app, KeyCode::F(3), KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("#5 Olena: ok"), "{s}");
    assert!(s.contains("#4 Iryna: [file]"), "{s}");
    assert!(!s.contains("#3 "), "{s}");
    assert!(!s.contains("#2 "), "{s}");
}

#[test]
fn on_hold_group_says_so_and_holds_messages() {
    english();
    let (mut app, legal) = app(vec![text(1, T0, IRYNA, "hello")]);
    app.input.set_text("are we safe?");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let why = "\"Legal aid\" is on hold: Mykola made a change without the right to, and an \
               admin's client has not undone it yet.";
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Held,
    });
    app.on_engine(Event::Error(format!(
        "Not sent, held until the group is repaired: {why}"
    )));
    with_view(&mut app, legal, |v| v.on_hold = Some(why.into()));
    let (rows, _) = render(&mut app, 100, 24);
    let s = screen(&rows);
    assert!(rows[0].contains("Legal aid · ON HOLD · 3 members"), "{s}");
    assert!(
        s.contains(" ON HOLD: nothing is sent until an admin's client"),
        "{s}"
    );
    assert!(
        s.contains("Olena: are we safe? [held: the group is on hold"),
        "{s}"
    );
    // The engine's words, whole: a long message wraps over a few bottom rows.
    let bottom = rows[21..].join(" ");
    assert!(
        bottom.contains("Not sent, held until the group is repaired"),
        "{s}"
    );
    assert!(bottom.contains("has not undone it yet."), "{s}");
    assert!(!s.contains("NOT SENT"), "{s}");
    // Sent once repaired: the engine clears the hold.
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Sent,
    });
    with_view(&mut app, legal, |v| v.on_hold = None);
    let (rows, _) = render(&mut app, 100, 24);
    let s = screen(&rows);
    assert!(!s.contains("ON HOLD"), "{s}");
    assert!(s.contains("Message to Legal aid"), "{s}");
}

#[test]
fn settings_roles_and_requests_are_visible() {
    english();
    let (mut app, legal) = app(vec![]);
    let request = |n: usize, name: &str| RequestInfo {
        number: n,
        name: name.into(),
        fingerprint: "56a6 7245 0c1d 9e8f aa01".into(),
        identity: String::new(),
        invited_by: "Olena".into(),
        seen_at: T0,
        comes_back: false,
    };
    with_view(&mut app, legal, |v| {
        v.admin = true;
        v.disappear_secs = 7 * 86_400;
        v.history = 50;
        v.requests = vec![request(1, "Taras"), request(2, "Oksana")];
    });
    key(&mut app, KeyCode::F(2), KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 100, 24);
    let s = screen(&rows);
    assert!(
        rows[0].contains("Legal aid · 3 members · ◷ 7 days · history 50 · 2 join requests"),
        "{s}"
    );
    // Admins carry the mark in the member list; requests are pointed at.
    assert!(s.contains("@Olena (you)"), "{s}");
    assert!(s.contains(" Iryna"), "{s}");
    assert!(!s.contains("@Iryna"), "{s}");
    assert!(s.contains("2 join request(s):"), "{s}");
    // At 80 columns the top bar is cut, not wrapped, and keeps the connection.
    let (rows, _) = render(&mut app, 80, 24);
    assert!(
        rows[0].contains("◷ 7 days") && rows[0].contains("connected"),
        "{rows:?}"
    );

    app.input.set_text("/requests");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("1. Taras  [56a6 7245 0c1d 9e8f aa01]"), "{s}");
    assert!(s.contains("2. Oksana"), "{s}");
    assert!(
        s.contains("invited by Olena, asked 2026-11-26 18:02"),
        "{s}"
    );
    assert!(s.contains("Times are UTC."), "{s}");
    assert!(s.contains("/approve N or /deny N"), "{s}");
    // A member sees neither the count nor the requests.
    with_view(&mut app, legal, |v| v.admin = false);
    let (rows, _) = render(&mut app, 100, 24);
    let s = screen(&rows);
    assert!(!rows[0].contains("join request"), "{s}");
    assert!(
        s.contains("Only admins see and decide join requests."),
        "{s}"
    );
}

#[test]
fn confirmations_and_approval_invites_fit() {
    english();
    let (mut app, _) = app(vec![text(1, T0, OLENA, "sent by mistake")]);
    app.input.set_text("/delete");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("Delete your message #1 for everyone?"), "{s}");
    assert!(s.contains("\"sent by mistake\""), "{s}");
    assert!(s.contains("y: delete · any other key: cancel"), "{s}");
    key(&mut app, KeyCode::Char('n'), KeyModifiers::NONE);
    app.on_engine(Event::Invite {
        group: "Legal aid".into(),
        invite: "kith+ws://127.0.0.1:7878/ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345".into(),
        ttl: std::time::Duration::from_secs(3600),
        approval: true,
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    assert!(s.contains("needs an admin's approval"), "{s}");
    assert!(s.contains("/approve N"), "{s}");
}

fn said(id: &str, args: &[(&str, &str)]) -> String {
    let args: Vec<(&str, kith_i18n::Arg)> = args
        .iter()
        .map(|(k, v)| (*k, kith_i18n::Arg::from(*v)))
        .collect();
    kith_i18n::message_in(kith_i18n::Lang::En, id, &args)
}

#[test]
fn the_conversation_is_in_the_order_things_happened() {
    english();
    // Mykola joined (the commit's time) before Iryna's message, though this client
    // read it later in the log: it sits where it happened.
    let (mut app, _) = app(vec![
        text(1, T0, OLENA, "first, at 18:02"),
        text(3, T0 + 300, IRYNA, "third, at 18:07"),
        notice(2, T0 + 600, "second in the log, at 18:12"),
        text(4, T0 + 120, MYKOLA, "fourth in the log, at 18:04"),
    ]);
    key(&mut app, KeyCode::F(3), KeyModifiers::NONE);
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    let at = |t: &str| {
        rows.iter()
            .position(|r| r.contains(t))
            .unwrap_or_else(|| panic!("{t} not on screen:\n{s}"))
    };
    assert!(at("first, at 18:02") < at("fourth in the log"), "{s}");
    assert!(at("fourth in the log") < at("third, at 18:07"), "{s}");
    assert!(at("third, at 18:07") < at("second in the log"), "{s}");
    // The numbers `/delete N` takes are still the log's.
    assert!(rows[at("fourth in the log")].contains("#4 "), "{s}");
    assert!(rows[at("third, at 18:07")].contains("#3 "), "{s}");
    // One day separator: the times no longer jump back.
    assert_eq!(s.matches("Thursday").count(), 1, "{s}");
}

#[test]
fn invite_notices_in_a_row_are_one_line() {
    english();
    let made = |seq: u64, time: u64| {
        let mut r = notice(
            seq,
            time,
            &said(
                "engine-state-told-invite",
                &[("actor", "other"), ("by", "Iryna")],
            ),
        );
        r.own = false;
        r
    };
    let added = |seq: u64, fp: &str| {
        notice(
            seq,
            T0 + 100 + seq,
            &said(
                "engine-sync-added-invited",
                &[("by", "Olena"), ("fingerprint", fp), ("inviter", "Iryna")],
            ),
        )
    };
    let named = |seq: u64, fp: &str, name: &str| {
        notice(
            seq,
            T0 + 100 + seq,
            &said("engine-sync-named", &[("fingerprint", fp), ("name", name)]),
        )
    };
    let asks = |seq: u64, name: &str| MessageRecord {
        kind: RecordKind::Alert(said(
            "engine-invite-asks-to-join",
            &[
                ("name", name),
                ("fingerprint", "0123abcd9"),
                ("inviter", "Olena"),
                ("group", "Legal aid"),
            ],
        )),
        sender: None,
        own: false,
        ..notice(seq, T0 + 200 + seq, "")
    };
    let (mut app, _) = app(vec![
        made(1, T0 + 1),
        made(2, T0 + 2),
        made(3, T0 + 3),
        text(4, T0 + 50, IRYNA, "made three"),
        added(5, "aaaa1111b"),
        named(6, "aaaa1111b", "Petro"),
        added(7, "cccc2222d"),
        named(8, "cccc2222d", "Hanna"),
        text(9, T0 + 150, OLENA, "welcome"),
        made(10, T0 + 180),
        asks(11, "Taras"),
        asks(12, "Oksana"),
    ]);
    let (rows, _) = render(&mut app, 120, 30);
    let s = screen(&rows);
    assert!(s.contains("* Iryna made 3 invites"), "{s}");
    assert_eq!(
        s.matches("Iryna made an invite").count(),
        1,
        "the lone one:\n{s}"
    );
    assert!(
        s.contains("* 2 new members joined by invite: Petro [aaaa1111b], Hanna [cccc2222d] (added by Olena)"),
        "{s}"
    );
    assert!(!s.contains("added a new member"), "{s}");
    assert!(
        s.contains("! 2 people ask to join: Taras [0123abcd9], Oksana [0123abcd9]."),
        "{s}"
    );
    // Stored history is as it was: grouping is for the screen.
    assert_eq!(app.view().map(|v| v.records.len()), Some(12));
}

#[test]
fn the_invite_is_selectable_alone_on_its_row() {
    english();
    let (mut app, _) = app(vec![]);
    let code = kith_protocol::invite::InviteCode::generate().to_string();
    let invite = format!("kith+ws://127.0.0.1:7878/{code}");
    let invite = invite.as_str();
    app.on_engine(Event::Invite {
        group: "Legal aid".into(),
        invite: invite.into(),
        ttl: std::time::Duration::from_secs(72 * 3600),
        approval: false,
    });
    let (rows, _) = render(&mut app, 80, 24);
    let s = screen(&rows);
    let at = rows
        .iter()
        .position(|r| r.contains(invite))
        .unwrap_or_else(|| panic!("{s}"));
    // From the first column, nothing else on the row: a triple click takes it whole.
    assert_eq!(rows[at].trim_end(), invite, "{s}");
    // The box spans the screen, ruled above and below, with no side borders.
    let top = rows[..at]
        .iter()
        .rposition(|r| r.contains("Invite ──"))
        .expect("top");
    let bottom = at
        + rows[at..]
            .iter()
            .position(|r| r.starts_with("────"))
            .expect("bottom");
    for r in &rows[top..=bottom] {
        assert!(!r.contains('│'), "a side border:\n{s}");
    }
    assert!(
        s.contains(&format!(
            "By voice or by hand: the code {code}, on the relay"
        )),
        "{s}"
    );
    assert!(s.contains("c: copy it to the clipboard"), "{s}");
    // Narrower than the invite: its rows, put together, are the invite.
    let (rows, _) = render(&mut app, 40, 24);
    let start = rows
        .iter()
        .position(|r| r.starts_with("kith+ws://"))
        .unwrap_or_else(|| panic!("{}", screen(&rows)));
    let joined: String = rows[start..start + 2].concat();
    assert_eq!(joined.trim_end(), invite, "{}", screen(&rows));
}
