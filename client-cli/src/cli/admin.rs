//! The `kith` commands that run a group: board, join requests, roles, settings and
//! moderation. Split from cli.rs only to keep each file readable; same conventions
//! (`--json`, exit codes, retries on transient relay failures).

use super::commands::read_stdin;
use super::failure::{Failure, retry, usage};
use super::out::Out;
use crate::args::{BoardArgs, BoardCommand, Command, GroupCommand};
use crate::engine::Client;
use crate::engine::state::parse_duration;
use kith_i18n::{duration, t};
use std::io::IsTerminal;

/// Says `what` and asks to go ahead: `--yes` answers for scripts and for the daemon
/// (whose output is kept), which are refused without it.
pub(crate) fn confirm(what: &str, out: &Out) -> Result<(), Failure> {
    if !out.is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage(t!("admin-confirm-with-yes", what = what)));
    }
    eprint!("{} ", t!("admin-confirm-ask", what = what));
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| usage(e.to_string()))?;
    // Yes in English or in Russian ("д", "да").
    if !matches!(
        line.trim().to_lowercase().as_str(),
        "y" | "yes" | "д" | "да"
    ) {
        return Err(usage(t!("admin-nothing-changed")));
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
        out.text(t!("admin-board-empty"));
    }
    for e in &board {
        let by = client.display_name(id, &e.by);
        let mut text = format!("[{}] {}", e.id, e.title);
        for line in e.text.lines() {
            text.push_str(&format!("\n    {line}"));
        }
        text.push_str(&format!(
            "\n    {}",
            t!(
                "admin-board-by",
                name = &by,
                time = kith_i18n::time(e.at),
                zone = kith_i18n::zone_label()
            )
        ));
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
                let group = group.ok_or_else(|| usage(t!("admin-board-which-group")))?;
                let id = client.find_group(&group)?;
                if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                    out.note(t!("admin-board-stored", error = e.to_string()));
                }
                print_board(client, &id, out)?;
            }
            Some(BoardCommand::Add { group, title, text }) => {
                let id = client.find_group(&group)?;
                let text = text_arg(text, out)?;
                let entry = retry!(client, client.board_add(&id, &title, &text).await)?;
                out.record(
                    serde_json::json!({ "id": entry }),
                    t!("admin-board-pinned", id = entry.to_string(), title = &title),
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
                    return Err(usage(t!("admin-board-edit-what")));
                }
                let text = text.map(|t| text_arg(t, out)).transpose()?;
                retry!(
                    client,
                    client
                        .board_edit(&id, entry, title.as_deref(), text.as_deref())
                        .await
                )?;
                out.line(t!("admin-board-edited", id = entry.to_string()));
            }
            Some(BoardCommand::Rm { group, id: entry }) => {
                let id = client.find_group(&group)?;
                retry!(client, client.board_rm(&id, entry).await)?;
                out.line(t!("admin-board-removed", id = entry.to_string()));
            }
        },
        Command::Requests { group } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, true).await) {
                out.note(t!("admin-requests-stored", error = e.to_string()));
            }
            let list = client.requests(&id)?;
            if list.is_empty() {
                out.text(t!("admin-requests-none"));
            }
            for r in &list {
                let (time, zone) = (kith_i18n::time(r.seen_at), kith_i18n::zone_label());
                let text = if r.comes_back {
                    t!(
                        "admin-request-back",
                        number = r.number.to_string(),
                        name = &r.name,
                        fingerprint = &r.fingerprint,
                        time = time,
                        zone = zone
                    )
                } else {
                    t!(
                        "admin-request-invited",
                        number = r.number.to_string(),
                        name = &r.name,
                        fingerprint = &r.fingerprint,
                        inviter = &r.invited_by,
                        time = time,
                        zone = zone
                    )
                };
                out.record(serde_json::to_value(r).unwrap_or_default(), text);
            }
            if !list.is_empty() {
                out.text(t!("admin-requests-compare", group = &group));
            }
        }
        Command::Approve { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.approve(&id, &request).await)?;
            out.line(t!("admin-approved", name = &name));
        }
        Command::Deny { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.deny(&id, &request).await)?;
            out.line(t!("admin-denied", name = &name));
        }
        Command::Promote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.promote(&id, &who).await)?;
            out.line(t!("admin-promoted", name = &name));
        }
        Command::Demote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.demote(&id, &who).await)?;
            out.line(t!("admin-demoted", name = &name));
        }
        Command::Delete { group, seq } => {
            let id = client.find_group(&group)?;
            retry!(client, client.delete_message(&id, seq).await)?;
            out.line(t!("admin-deleted", seq = seq.to_string()));
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
                        .ok_or_else(|| usage(t!("admin-set-bad-duration", value = &d))),
                })
                .transpose()?;
            let history = history
                .map(|h| match h.as_str() {
                    "off" => Ok(0),
                    _ => h
                        .parse::<u16>()
                        .map_err(|_| usage(t!("admin-set-bad-history", value = &h))),
                })
                .transpose()?;
            let let_back = let_back
                .map(|b| match b.as_str() {
                    "auto" => Ok(true),
                    "ask" => Ok(false),
                    _ => Err(usage(t!("admin-set-bad-let-back", value = &b))),
                })
                .transpose()?;
            let relays_change = !fallback.is_empty() || !no_fallback.is_empty();
            if disappear.is_none() && history.is_none() && let_back.is_none() && !relays_change {
                return Err(usage(t!("admin-set-what")));
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
                    let what = t!(
                        "admin-set-timer-deletes",
                        duration = duration(d),
                        messages = messages,
                        files = files
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
                    out.note(t!("admin-set-fallback-note", note = &note));
                }
            }
            out.line(t!("admin-set-done"));
        }
        Command::Group(GroupCommand::Show { group }) => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                out.note(t!("admin-show-stored", error = e.to_string()));
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
            // The group's name, then its settings, each indented under it.
            let mut lines: Vec<String> = Vec::new();
            {
                lines.push(t!("admin-show-admins", admins = admins.join(", ")));
                lines.push(match s.disappear_secs {
                    0 => t!("admin-show-disappear-off"),
                    d => t!("admin-show-disappear", duration = duration(d)),
                });
                lines.push(match s.history {
                    0 => t!("admin-show-history-off"),
                    n => t!("admin-show-history", n = n),
                });
                let (home, at) = (client.group_home(&id)?, client.group_relay(&id)?);
                lines.push(t!("admin-show-relay", relay = &home));
                if at != home {
                    lines.push(t!("admin-show-at-fallback", at = &at, home = &home));
                }
                lines.push(if s.fallbacks.is_empty() {
                    t!("admin-show-fallbacks-none")
                } else {
                    t!("admin-show-fallbacks", relays = s.fallbacks.join(", "))
                });
                lines.push(if s.let_back {
                    t!("admin-show-let-back-auto")
                } else {
                    t!("admin-show-let-back-ask")
                });
                if let Some(r) = client.relay_retention(&id) {
                    lines.push(t!("admin-show-retention", duration = duration(r)));
                }
                lines.push(t!("admin-show-board", n = s.board.len()));
                lines.push(t!("admin-show-invites", n = s.invites.len()));
            }
            let mut text = client.group_name(&id)?;
            for line in lines {
                text.push_str("\n  ");
                text.push_str(&line);
            }
            out.record(v, text);
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
                lines.push(t!("admin-moved", from = &r.from, to = &r.to));
                if r.chunks_missing > 0 {
                    lines.push(t!(
                        "admin-moved-chunks-lost",
                        n = r.chunks_missing,
                        from = &r.from
                    ));
                }
                lines.push(t!("admin-moved-invites-closed"));
            }
            out.record(v, lines.join("\n"));
        }
        _ => unreachable!("dispatched by cli/commands.rs"),
    }
    Ok(0)
}
