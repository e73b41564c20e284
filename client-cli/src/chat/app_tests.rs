use super::*;
use crate::payload::MAX_TEXT_BYTES;

/// The tests read English, with times in UTC.
fn english() {
    kith_i18n::set_lang(kith_i18n::Lang::En);
    kith_i18n::set_utc(true);
}

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
        on_hold: false,
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
    english();
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
fn quitting_with_failed_messages_asks_first_and_with_waiting_ones_does_not() {
    english();
    let (mut app, _) = app_with_group();
    typed(&mut app, "x");
    app.on_terminal(key(KeyCode::Enter));
    // Waiting: the engine keeps it in the store's outbox, so quitting loses nothing.
    app.on_terminal(TermEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.quit);
    app.quit = false;
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Failed("refused".into()),
    });
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
    english();
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
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    app.on_terminal(key(KeyCode::Char('y')));
    assert_eq!(
        app.take_commands(),
        vec![Command::Remove {
            group: id,
            member: "Mykola".into(),
            hide: false,
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
    english();
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
    english();
    let (mut app, _) = app_with_group();
    app.on_terminal(TermEvent::Paste("x".repeat(MAX_TEXT_BYTES + 1)));
    app.on_terminal(key(KeyCode::Enter));
    assert!(app.take_commands().is_empty());
    assert_eq!(app.input.text().len(), MAX_TEXT_BYTES + 1);
    let (said, _) = app.status_line().expect("why not");
    assert!(said.contains("1 character too many"), "{said}");
}

/// Sends `line` as typed input and returns the commands it produced.
fn run(app: &mut App, line: &str) -> Vec<Command> {
    app.input.clear();
    typed(app, line);
    app.on_terminal(key(KeyCode::Enter));
    app.take_commands()
}

fn rec(seq: u64, own: bool, kind: RecordKind) -> MessageRecord {
    MessageRecord {
        seq,
        sub: 0,
        time: 1,
        sender: Some(if own { [0; 32] } else { [2; 32] }),
        own,
        kind,
        shared_by: None,
        expires: 0,
    }
}

/// The group open with a view; `admin` says whether we are one.
fn app_with_view(admin: bool) -> (App, GroupId) {
    let (mut app, id) = app_with_group();
    let view = GroupView {
        admin,
        members: vec![crate::engine::MemberInfo {
            name: "Me".into(),
            identity: kith_protocol::ids::hex(&[0; 32]),
            fingerprint: String::new(),
            role: if admin { "admin" } else { "member" }.to_owned(),
            verified: false,
            you: true,
            name_collides: false,
        }],
        board: vec![crate::engine::BoardEntry {
            id: 3,
            title: "Hotline".into(),
            text: "+380 44".into(),
            by: [0; 32],
            at: 1,
        }],
        records: vec![
            rec(5, true, RecordKind::Text("mine, older".into())),
            rec(6, false, RecordKind::Text("theirs".into())),
            rec(7, true, RecordKind::Text("mine, newest".into())),
            rec(8, false, RecordKind::Notice("a notice".into())),
        ],
        ..Default::default()
    };
    app.on_engine(Event::Group {
        id,
        view: Box::new(view),
    });
    (app, id)
}

#[test]
fn board_syntax() {
    english();
    assert_eq!(parse_board(""), Ok(BoardCmd::Show));
    assert_eq!(
        parse_board("add Legal aid hotline | +380 44 123\nweekdays 9-18"),
        Ok(BoardCmd::Add {
            title: "Legal aid hotline".into(),
            text: "+380 44 123\nweekdays 9-18".into()
        })
    );
    // The text is optional; a second `|` belongs to the text.
    assert_eq!(
        parse_board("add Title"),
        Ok(BoardCmd::Add {
            title: "Title".into(),
            text: String::new()
        })
    );
    assert_eq!(
        parse_board("add T | a | b"),
        Ok(BoardCmd::Add {
            title: "T".into(),
            text: "a | b".into()
        })
    );
    assert!(parse_board("add | text only").is_err());
    assert_eq!(
        parse_board("edit 3 New title | new text"),
        Ok(BoardCmd::Edit {
            id: 3,
            title: Some("New title".into()),
            text: Some("new text".into())
        })
    );
    // An empty side is kept.
    assert_eq!(
        parse_board("edit [3] | only the text"),
        Ok(BoardCmd::Edit {
            id: 3,
            title: None,
            text: Some("only the text".into())
        })
    );
    assert_eq!(
        parse_board("edit #3 Only the title"),
        Ok(BoardCmd::Edit {
            id: 3,
            title: Some("Only the title".into()),
            text: None
        })
    );
    assert!(parse_board("edit 3").is_err());
    assert!(parse_board("edit x title").is_err());
    assert_eq!(parse_board("rm 3"), Ok(BoardCmd::Rm(3)));
    assert_eq!(parse_board("RM [12]"), Ok(BoardCmd::Rm(12)));
    assert!(parse_board("rm").is_err());
    assert!(parse_board("frob").is_err());
}

#[test]
fn invite_settings_and_remove_syntax() {
    english();
    let h72 = Duration::from_secs(72 * 3600);
    assert_eq!(parse_invite(""), Ok((h72, false)));
    assert_eq!(parse_invite("approve"), Ok((h72, true)));
    assert_eq!(
        parse_invite("24h approve"),
        Ok((Duration::from_secs(24 * 3600), true))
    );
    assert_eq!(
        parse_invite("Approval 30m"),
        Ok((Duration::from_secs(1800), true))
    );
    assert!(parse_invite("soon").is_err());
    assert!(parse_invite("1h 2h").is_err());

    assert_eq!(parse_disappear("7d"), Ok(7 * 86_400));
    assert_eq!(parse_disappear("OFF"), Ok(0));
    assert_eq!(parse_disappear("90"), Ok(90));
    assert!(parse_disappear("a week").is_err());
    assert_eq!(parse_history("50"), Ok(50));
    assert_eq!(parse_history("off"), Ok(0));
    assert!(parse_history("-1").is_err());
    assert!(parse_history("70000").is_err());

    assert_eq!(parse_remove("Mykola"), Some(("Mykola".into(), false)));
    assert_eq!(
        parse_remove("Mykola Petrenko hide"),
        Some(("Mykola Petrenko".into(), true))
    );
    // Someone called "hide" can still be removed.
    assert_eq!(parse_remove("hide"), Some(("hide".into(), false)));
    assert_eq!(parse_remove("  "), None);
}

#[test]
fn admin_commands_become_engine_commands() {
    english();
    let (mut app, id) = app_with_view(true);
    assert_eq!(
        run(&mut app, "/board add Hotline | +380 44 123"),
        vec![Command::BoardAdd {
            group: id,
            title: "Hotline".into(),
            text: "+380 44 123".into()
        }]
    );
    assert!(app.input.is_empty());
    assert_eq!(
        run(&mut app, "/board edit 3 | new number"),
        vec![Command::BoardEdit {
            group: id,
            id: 3,
            title: None,
            text: Some("new number".into())
        }]
    );
    // An entry that is not on the board: said at once, the text kept.
    assert!(run(&mut app, "/board edit 9 x").is_empty());
    assert_eq!(app.input.text(), "/board edit 9 x");
    assert_eq!(app.status_line().map(|s| s.1), Some(Level::Error));
    // Removing asks first.
    assert!(run(&mut app, "/board rm 3").is_empty());
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    app.on_terminal(key(KeyCode::Char('y')));
    assert_eq!(
        app.take_commands(),
        vec![Command::BoardRm { group: id, id: 3 }]
    );
    assert_eq!(
        run(&mut app, "/promote Iryna"),
        vec![Command::Promote {
            group: id,
            member: "Iryna".into()
        }]
    );
    assert_eq!(
        run(&mut app, "/demote Iryna"),
        vec![Command::Demote {
            group: id,
            member: "Iryna".into()
        }]
    );
    assert_eq!(
        run(&mut app, "/approve 1"),
        vec![Command::Approve {
            group: id,
            request: "1".into()
        }]
    );
    assert_eq!(
        run(&mut app, "/deny Mykola"),
        vec![Command::Deny {
            group: id,
            request: "Mykola".into()
        }]
    );
    assert_eq!(
        run(&mut app, "/invite 24h approve"),
        vec![Command::Invite {
            group: id,
            ttl: Duration::from_secs(24 * 3600),
            approval: true
        }]
    );
    assert_eq!(
        run(&mut app, "/disappear 7d"),
        vec![Command::Settings {
            group: id,
            disappear: Some(7 * 86_400),
            history: None
        }]
    );
    assert_eq!(
        run(&mut app, "/history off"),
        vec![Command::Settings {
            group: id,
            disappear: None,
            history: Some(0)
        }]
    );
    // Without an argument, the setting is told.
    assert!(run(&mut app, "/disappear").is_empty());
    assert!(
        app.status_line()
            .is_some_and(|s| s.0.contains("do not disappear"))
    );
    assert!(run(&mut app, "/remove Mykola hide").is_empty());
    app.on_terminal(key(KeyCode::Char('y')));
    assert_eq!(
        app.take_commands(),
        vec![Command::Remove {
            group: id,
            member: "Mykola".into(),
            hide: true
        }]
    );
    assert_eq!(run(&mut app, "/requests"), vec![Command::Requests(id)]);
    assert!(matches!(app.overlay, Some(Overlay::Requests { .. })));
}

#[test]
fn members_are_told_what_only_admins_may_do() {
    english();
    let (mut app, _) = app_with_view(false);
    for line in [
        "/board add T | x",
        "/promote Iryna",
        "/approve 1",
        "/invite",
        "/disappear off",
        "/remove Iryna",
        "/delete 6",
    ] {
        assert!(run(&mut app, line).is_empty(), "{line}");
        assert!(app.overlay.is_none(), "{line}");
        let (text, level) = app.status_line().expect("a reason");
        assert_eq!(level, Level::Error);
        assert!(text.contains("Only admins"), "{line}: {text}");
        // Refused, not mistyped: the line is gone.
        assert_eq!(app.input.text(), "", "{line}");
    }
    // Reading the board is for everyone.
    assert!(run(&mut app, "/board").is_empty());
    assert!(matches!(
        app.overlay,
        Some(Overlay::Board { scroll: 0, .. })
    ));
    // It scrolls with the arrows and stays open; Esc closes it.
    app.on_terminal(key(KeyCode::Down));
    assert!(matches!(
        app.overlay,
        Some(Overlay::Board { scroll: 1, .. })
    ));
    app.on_terminal(key(KeyCode::Char('x')));
    assert!(app.overlay.is_some());
    app.on_terminal(key(KeyCode::Esc));
    assert!(app.overlay.is_none());
}

#[test]
fn delete_takes_the_last_own_message_or_a_number() {
    english();
    let (mut app, id) = app_with_view(false);
    assert!(run(&mut app, "/delete").is_empty());
    let Some(Overlay::Confirm { lines, .. }) = &app.overlay else {
        panic!("no confirmation: {:?}", app.overlay);
    };
    assert!(lines[0].contains("your message #7"), "{lines:?}");
    assert!(lines[1].contains("mine, newest"), "{lines:?}");
    app.on_terminal(key(KeyCode::Char('y')));
    assert_eq!(
        app.take_commands(),
        vec![Command::Delete { group: id, seq: 7 }]
    );
    // By number (F3 shows them); a cancelled one sends nothing.
    assert!(run(&mut app, "/delete #5").is_empty());
    app.on_terminal(key(KeyCode::Char('n')));
    assert!(app.take_commands().is_empty());
    // Notices and unknown numbers cannot be deleted.
    assert!(run(&mut app, "/delete 8").is_empty());
    assert!(app.overlay.is_none());
    assert!(run(&mut app, "/delete 99").is_empty());
    assert!(app.overlay.is_none());
    assert!(run(&mut app, "/delete me").is_empty());
    assert_eq!(app.status_line().map(|s| s.1), Some(Level::Error));
    // An admin may delete anyone's.
    let (mut app, id) = app_with_view(true);
    assert!(run(&mut app, "/delete 6").is_empty());
    app.on_terminal(key(KeyCode::Char('y')));
    assert_eq!(
        app.take_commands(),
        vec![Command::Delete { group: id, seq: 6 }]
    );
    // F3 toggles the numbers.
    app.on_terminal(key(KeyCode::F(3)));
    assert!(app.show_numbers);
}

#[test]
fn held_messages_wait_and_discard_drops_them_in_the_engine_too() {
    english();
    let (mut app, id) = app_with_view(false);
    typed(&mut app, "hello");
    app.on_terminal(key(KeyCode::Enter));
    app.take_commands();
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Held,
    });
    assert_eq!(app.unsent(), 1);
    assert_eq!(run(&mut app, "/discard"), vec![Command::Discard(id)]);
    assert_eq!(app.unsent(), 0);
}

#[test]
fn a_refused_command_leaves_the_input_clean_and_a_mistake_keeps_it() {
    english();
    let (mut app, _) = app_with_view(false);
    // Not an admin: refused, nothing in the line to fix.
    assert!(run(&mut app, "/remove Iryna").is_empty());
    assert_eq!(app.input.text(), "");
    assert!(app.status_line().is_some_and(|(s, _)| s.contains("admin")));
    // A usage mistake stays, to be fixed.
    assert!(run(&mut app, "/get").is_empty());
    assert_eq!(app.input.text(), "/get");
}

#[test]
fn paths_typed_in_the_chat_read_as_the_shell_reads_them() {
    let home = dirs::home_dir().unwrap();
    assert_eq!(local_path("~"), home);
    assert_eq!(local_path("~/scan.pdf"), home.join("scan.pdf"));
    assert_eq!(
        local_path("/tmp/a b.pdf"),
        std::path::PathBuf::from("/tmp/a b.pdf")
    );
    assert_eq!(
        local_path("a.pdf"),
        std::env::current_dir().unwrap().join("a.pdf")
    );
    let (mut app, group) = app_with_view(false);
    assert_eq!(
        run(&mut app, "/file ~/scan.pdf"),
        vec![Command::SendFile {
            group,
            path: home.join("scan.pdf")
        }]
    );
}

#[test]
fn up_and_down_go_through_a_wrapped_draft_before_the_history() {
    english();
    let (mut app, _) = app_with_group();
    app.input.set_text("said before");
    app.input.submit();
    // The input wraps at 10 columns: three rows, the cursor on the last.
    app.input_width = 10;
    typed(&mut app, "aaaaaaaaaabbbbbbbbbbcc");
    let draft = app.input.text().to_owned();
    app.on_terminal(key(KeyCode::Up));
    assert_eq!(app.input.text(), draft, "Up moved to the row above");
    assert_eq!(app.input.layout(10).1, (1, 2));
    app.on_terminal(key(KeyCode::Up));
    assert_eq!(app.input.text(), draft);
    assert_eq!(app.input.layout(10).1, (0, 2));
    // On the first row, Up recalls the line typed before; Down comes back to the
    // draft, and in it Down goes down its rows.
    app.on_terminal(key(KeyCode::Up));
    assert_eq!(app.input.text(), "said before");
    app.on_terminal(key(KeyCode::Down));
    assert_eq!(app.input.text(), draft);
    app.input.home();
    app.on_terminal(key(KeyCode::Down));
    // (A cursor before the row's first character is drawn at the end of the row above.)
    assert_eq!(app.input.layout(10).1, (1, 1));
    assert_eq!(app.input.text(), draft);
}

#[test]
fn status_lines_go_when_what_they_said_is_over() {
    english();
    let (mut app, _) = app_with_view(true);
    // A word about the connection goes once connected.
    app.on_engine(Event::Connection(ConnState::Offline {
        retry_at: tokio::time::Instant::now(),
    }));
    app.on_terminal(TermEvent::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(app.status_line().map(|s| s.0), Some("Reconnecting now…"));
    app.on_engine(Event::Error(kith_i18n::t!(
        "net-live-failed",
        context = kith_i18n::t!("net-live-connecting"),
        why = "connection refused"
    )));
    assert_eq!(app.status_line().map(|s| s.1), Some(Level::Error));
    app.on_engine(Event::Connection(ConnState::Connected));
    assert_eq!(app.status_line(), None, "the connection error outlived it");
    // Another error stays its time, even once connected.
    app.on_engine(Event::Error(
        "Mykola was not removed: no such member".into(),
    ));
    app.on_engine(Event::Connection(ConnState::Connected));
    assert!(app.status_line().is_some());
    // "Making an invite…" goes once the invite is on screen.
    run(&mut app, "/invite");
    assert_eq!(app.status_line().map(|s| s.0), Some("Making an invite…"));
    app.on_engine(Event::Invite {
        group: "Legal aid".into(),
        invite: "kith+ws://127.0.0.1:7878/ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345".into(),
        ttl: Duration::from_secs(3600),
        approval: false,
    });
    app.on_terminal(key(KeyCode::Esc));
    assert_eq!(
        app.status_line(),
        None,
        "the progress line outlived its result"
    );
    // What was said goes with the next action, which says its own.
    app.on_engine(Event::Info("Removed Mykola.".into()));
    typed(&mut app, "hello");
    app.on_terminal(key(KeyCode::Enter));
    assert_eq!(app.status_line(), None);
    // "Not sent" goes once the message went out after all.
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Failed("timeout".into()),
    });
    assert_eq!(app.status_line().map(|s| s.1), Some(Level::Error));
    app.on_engine(Event::Outbox {
        id: 1,
        state: OutState::Sent,
    });
    assert_eq!(app.status_line(), None);
}

#[test]
fn the_invite_box_copies_and_opens_again() {
    english();
    let (mut app, id) = app_with_view(true);
    if let Some(v) = app.views.get_mut(&id) {
        v.open_invites = 1;
    }
    // Nothing made yet in this session.
    run(&mut app, "/invites");
    assert!(app.overlay.is_none());
    assert!(
        app.status_line()
            .is_some_and(|(s, _)| s.contains("/invite makes one"))
    );
    let invite = "kith+ws://127.0.0.1:7878/ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345";
    run(&mut app, "/invite 72h");
    app.on_engine(Event::Invite {
        group: "Legal aid".into(),
        invite: invite.into(),
        ttl: Duration::from_secs(72 * 3600),
        approval: false,
    });
    // `c` (or `с`, the same key in a Russian layout) copies and leaves the box open.
    app.on_terminal(key(KeyCode::Char('c')));
    assert_eq!(app.clipboard.take().as_deref(), Some(invite));
    assert!(matches!(app.overlay, Some(Overlay::Invite { .. })));
    app.on_terminal(key(KeyCode::Char('с')));
    assert_eq!(app.clipboard.take().as_deref(), Some(invite));
    app.on_terminal(key(KeyCode::Esc));
    assert!(app.overlay.is_none());
    // `/invites` shows it again, with what is left of its time.
    assert!(
        run(&mut app, "/invites").is_empty(),
        "no new invite is made"
    );
    match &app.overlay {
        Some(Overlay::Invite {
            invite: shown,
            valid_for,
            ..
        }) => {
            assert_eq!(shown, invite);
            assert!(
                valid_for == "3 days" || valid_for == "71 hours",
                "{valid_for}"
            );
        }
        other => panic!("{other:?}"),
    }
    app.on_terminal(key(KeyCode::Esc));
    // Once the group holds no open invite, it was used or closed: not shown.
    if let Some(v) = app.views.get_mut(&id) {
        v.open_invites = 0;
    }
    run(&mut app, "/invites");
    assert!(app.overlay.is_none());
    assert!(
        app.status_line()
            .is_some_and(|(s, _)| s.contains("used or closed"))
    );
    assert_eq!(time_left(3 * 86_400 - 1), "71 hours");
    assert_eq!(time_left(90), "1 minute");
}

#[test]
fn the_clipboard_sequence_is_osc_52() {
    assert_eq!(crate::chat::osc52("kith"), "\x1b]52;c;a2l0aA==\x07");
    assert_eq!(crate::chat::osc52("ki"), "\x1b]52;c;a2k=\x07");
    assert_eq!(crate::chat::osc52(""), "\x1b]52;c;\x07");
}
