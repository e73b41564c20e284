//! The `kith` commands that run a group: board, join requests, roles, settings and
//! moderation. Split from cli.rs only to keep each file readable; same conventions
//! (`--json`, exit codes, retries on transient relay failures).

use super::commands::read_stdin;
use super::failure::{Failure, retry, usage};
use super::out::Out;
use crate::args::{BoardArgs, BoardCommand, Command, GroupCommand};
use crate::engine::Client;
use crate::engine::records::format_time;
use crate::engine::state::{format_duration, parse_duration};
use std::io::IsTerminal;

/// Says `what` and asks to go ahead: `--yes` answers for scripts and for the daemon
/// (whose output is kept), which are refused without it.
fn confirm(what: &str, out: &Out) -> Result<(), Failure> {
    if !out.is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage(format!("{what} Run again with --yes to go ahead.")));
    }
    eprint!("{what} Go ahead? [y/N] ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| usage(e.to_string()))?;
    if !matches!(line.trim(), "y" | "Y" | "yes") {
        return Err(usage("nothing changed"));
    }
    Ok(())
}

fn text_arg(text: String, out: &Out) -> Result<String, Failure> {
    if text != "-" {
        return Ok(text);
    }
    Ok(read_stdin(out)?.trim_end_matches('\n').to_owned())
}

fn print_board(client: &Client, id: &kith_protocol::GroupId, out: &mut Out) -> Result<(), Failure> {
    let board = client.board(id)?;
    if board.is_empty() {
        out.text("The board is empty.");
    }
    for e in &board {
        let by = client.display_name(id, &e.by);
        let mut text = format!("[{}] {}", e.id, e.title);
        for line in e.text.lines() {
            text.push_str(&format!("\n    {line}"));
        }
        text.push_str(&format!("\n    — {by}, {} UTC", format_time(e.at)));
        out.record(
            serde_json::json!({
                "id": e.id,
                "title": e.title,
                "text": e.text,
                "by": by,
                "at": e.at,
            }),
            text,
        );
    }
    Ok(())
}

/// Runs one of the commands above.
pub(crate) async fn dispatch(
    client: &mut Client,
    command: Command,
    out: &mut Out,
) -> Result<u8, Failure> {
    match command {
        Command::Board(BoardArgs { action, group }) => match action {
            None => {
                let group = group.ok_or_else(|| usage("which group? `kith board GROUP`"))?;
                let id = client.find_group(&group)?;
                if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                    out.note(format!(
                        "kith: could not sync ({e}); showing the board as stored"
                    ));
                }
                print_board(client, &id, out)?;
            }
            Some(BoardCommand::Add { group, title, text }) => {
                let id = client.find_group(&group)?;
                let text = text_arg(text, out)?;
                let entry = retry!(client, client.board_add(&id, &title, &text).await)?;
                out.record(
                    serde_json::json!({ "id": entry }),
                    format!("Pinned [{entry}] {title}."),
                );
            }
            Some(BoardCommand::Edit {
                group,
                id: entry,
                title,
                text,
            }) => {
                let id = client.find_group(&group)?;
                if title.is_none() && text.is_none() {
                    return Err(usage("give --title and/or --text"));
                }
                let text = text.map(|t| text_arg(t, out)).transpose()?;
                retry!(
                    client,
                    client
                        .board_edit(&id, entry, title.as_deref(), text.as_deref())
                        .await
                )?;
                out.line(format!("Edited [{entry}]."));
            }
            Some(BoardCommand::Rm { group, id: entry }) => {
                let id = client.find_group(&group)?;
                retry!(client, client.board_rm(&id, entry).await)?;
                out.line(format!("Removed [{entry}] from the board."));
            }
        },
        Command::Requests { group } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, true).await) {
                out.note(format!(
                    "kith: could not sync ({e}); showing requests as stored"
                ));
            }
            let list = client.requests(&id)?;
            if list.is_empty() {
                out.text("No join requests.");
            }
            for r in &list {
                let how = if r.comes_back {
                    "was away too long and asks to come back".to_owned()
                } else {
                    format!("invited by {}", r.invited_by)
                };
                out.record(
                    serde_json::to_value(r).unwrap_or_default(),
                    format!(
                        "{}. {}  [{}]  {how}, asked {} UTC",
                        r.number,
                        r.name,
                        r.fingerprint,
                        format_time(r.seen_at)
                    ),
                );
            }
            if !list.is_empty() {
                out.text(format!(
                    "Compare the fingerprint with the person before `kith approve {group} N`."
                ));
            }
        }
        Command::Approve { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.approve(&id, &request).await)?;
            out.line(format!("Approved {name}; they are being added."));
        }
        Command::Deny { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.deny(&id, &request).await)?;
            out.line(format!("Denied {name}; their invite is closed."));
        }
        Command::Promote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.promote(&id, &who).await)?;
            out.line(format!("{name} is now an admin."));
        }
        Command::Demote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.demote(&id, &who).await)?;
            out.line(format!("{name} is no longer an admin."));
        }
        Command::Delete { group, seq } => {
            let id = client.find_group(&group)?;
            retry!(client, client.delete_message(&id, seq).await)?;
            out.line(format!("Deleted message {seq} for everyone."));
        }
        Command::Group(GroupCommand::Set {
            group,
            disappear,
            history,
            let_back,
            fallback,
            no_fallback,
            yes,
        }) => {
            let id = client.find_group(&group)?;
            let disappear = disappear
                .map(|d| match d.as_str() {
                    "off" | "0" => Ok(0),
                    _ => parse_duration(&d)
                        .ok_or_else(|| usage(format!("not a duration: {d:?} (e.g. 1h, 7d, off)"))),
                })
                .transpose()?;
            let history = history
                .map(|h| match h.as_str() {
                    "off" => Ok(0),
                    _ => h
                        .parse::<u16>()
                        .map_err(|_| usage(format!("not a number of messages: {h:?}"))),
                })
                .transpose()?;
            let let_back = let_back
                .map(|b| match b.as_str() {
                    "auto" => Ok(true),
                    "ask" => Ok(false),
                    _ => Err(usage(format!("--let-back is `ask` or `auto`, not {b:?}"))),
                })
                .transpose()?;
            let relays_change = !fallback.is_empty() || !no_fallback.is_empty();
            if disappear.is_none() && history.is_none() && let_back.is_none() && !relays_change {
                return Err(usage(
                    "give --disappear, --history, --let-back, --fallback and/or --no-fallback",
                ));
            }
            for u in &fallback {
                if let Some(url) = crate::engine::state::relay_url(u) {
                    crate::relay::check_plain_ws(&url, client.connect_options.allow_plain_ws)
                        .map_err(|e| usage(e.to_string()))?;
                }
            }
            if let Some(d) = disappear
                && !yes
            {
                retry!(client, client.sync_group(&id, false).await)?;
                let (messages, files) = client.lost_to_timer(&id, d)?;
                if messages + files > 0 {
                    let what = format!(
                        "A {} timer deletes at once, from the relay, {messages} message(s) and \
                         {files} file(s) older than that which it still keeps: members who have \
                         not read them yet (or downloaded the files) lose them. What is already \
                         on people's devices stays until their own timer ends.",
                        format_duration(d)
                    );
                    confirm(&what, out)?;
                }
            }
            if disappear.is_some() || history.is_some() || let_back.is_some() {
                retry!(
                    client,
                    client.set_settings(&id, disappear, history, let_back).await
                )?;
            }
            if relays_change {
                let notes = retry!(
                    client,
                    client.set_fallbacks(&id, &fallback, &no_fallback).await
                )?;
                for note in notes {
                    out.note(format!("kith: {note}"));
                }
            }
            out.line("Settings changed.");
        }
        Command::Group(GroupCommand::Show { group }) => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                out.note(format!(
                    "kith: could not sync ({e}); showing the group as stored"
                ));
            }
            let s = client.group_state(&id)?;
            let admins: Vec<String> = s
                .admins
                .iter()
                .map(|a| client.display_name(&id, a))
                .collect();
            let v = serde_json::json!({
                "name": client.group_name(&id)?,
                "admins": admins,
                "disappear_secs": s.disappear_secs,
                "history": s.history,
                "let_back": if s.let_back { "auto" } else { "ask" },
                "relay": client.group_home(&id)?,
                "at": client.group_relay(&id)?,
                "fallbacks": s.fallbacks,
                "board_entries": s.board.len(),
                "open_invites": s.invites.len(),
                "relay_retention_secs": client.relay_retention(&id),
            });
            let mut lines: Vec<String> = Vec::new();
            {
                lines.push(client.group_name(&id)?);
                lines.push(format!("  admins: {}", admins.join(", ")));
                lines.push(format!(
                    "  disappearing messages: {}",
                    match s.disappear_secs {
                        0 => "off".to_owned(),
                        d => format_duration(d),
                    }
                ));
                lines.push(format!(
                    "  history for newcomers: {}",
                    match s.history {
                        0 => "off".to_owned(),
                        n => format!("last {n} messages"),
                    }
                ));
                let (home, at) = (client.group_home(&id)?, client.group_relay(&id)?);
                lines.push(format!("  relay: {home}"));
                if at != home {
                    lines.push(format!(
                        "  this client is at the fallback {at}: {home} could not be reached"
                    ));
                }
                lines.push(format!(
                    "  fallback relays: {}",
                    if s.fallbacks.is_empty() {
                        "none".to_owned()
                    } else {
                        s.fallbacks.join(", ")
                    }
                ));
                lines.push(format!(
                    "  members away too long: {}",
                    if s.let_back {
                        "let back in when they ask"
                    } else {
                        "an admin decides when they ask"
                    }
                ));
                if let Some(r) = client.relay_retention(&id) {
                    lines.push(format!(
                        "  the relay keeps ciphertext for: {}",
                        format_duration(r)
                    ));
                }
                lines.push(format!("  board entries: {}", s.board.len()));
                lines.push(format!("  open invites: {}", s.invites.len()));
            }
            out.record(v, lines.join("\n"));
        }
        Command::Group(GroupCommand::Move { group, to }) => {
            let id = client.find_group(&group)?;
            if let Some(url) = crate::engine::state::relay_url(&to) {
                crate::relay::check_plain_ws(&url, client.connect_options.allow_plain_ws)
                    .map_err(|e| usage(e.to_string()))?;
            }
            let r = retry!(client, client.move_group(&id, &to).await)?;
            let v = serde_json::to_value(&r).unwrap_or_default();
            let mut lines: Vec<String> = Vec::new();
            {
                lines.push(format!(
                    "Moved the group from {} to {}. Every member's client follows at its next \
                     sync; the copy at {} is deleted once all have.",
                    r.from, r.to, r.from
                ));
                if r.chunks_missing > 0 {
                    lines.push(format!(
                        "{} file chunk(s) had already expired at {} and could not be copied: \
                         those files can no longer be downloaded.",
                        r.chunks_missing, r.from
                    ));
                }
                lines.push(
                    "Open invite codes named the old relay and are closed: make new ones.".into(),
                );
            }
            out.record(v, lines.join("\n"));
        }
        _ => unreachable!("dispatched by cli/commands.rs"),
    }
    Ok(0)
}
