//! The `kith` commands that run a group: board, join requests, roles, settings and
//! moderation. Split from cli.rs only to keep each file readable; same conventions
//! (`--json`, exit codes, retries on transient relay failures).

use crate::cli::{Command, Failure, GroupCommand, format_time, retry, transient, usage};
use crate::engine::Client;
use crate::engine::state::{format_duration, parse_duration};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Read};
use std::time::Duration;

/// `kith board GROUP` or `kith board add|edit|rm …`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BoardArgs {
    /// Change the board (admins).
    #[command(subcommand)]
    pub action: Option<BoardCommand>,
    /// The group whose board to show.
    pub group: Option<String>,
}

/// `kith board add|edit|rm`.
#[derive(Subcommand, Debug)]
pub enum BoardCommand {
    /// Pin a new entry (`-` as TEXT reads it from standard input).
    Add {
        /// The group.
        group: String,
        /// The entry's title.
        title: String,
        /// The entry's text (contacts, an address, a template), or `-`.
        #[arg(default_value = "")]
        text: String,
    },
    /// Change an entry's title and/or text.
    Edit {
        /// The group.
        group: String,
        /// The entry's number, as `kith board` shows it.
        id: u32,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new text, or `-` to read it from standard input.
        #[arg(long)]
        text: Option<String>,
    },
    /// Remove an entry.
    Rm {
        /// The group.
        group: String,
        /// The entry's number.
        id: u32,
    },
}

/// Says `what` and asks to go ahead: `--yes` answers for scripts, which are refused
/// without it.
fn confirm(what: &str) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
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

fn text_arg(text: String) -> Result<String, Failure> {
    if text != "-" {
        return Ok(text);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| usage(e.to_string()))?;
    Ok(s.trim_end_matches('\n').to_owned())
}

fn print_board(client: &Client, id: &kith_protocol::GroupId, json: bool) -> Result<(), Failure> {
    let board = client.board(id)?;
    if json {
        for e in &board {
            println!(
                "{}",
                serde_json::json!({
                    "id": e.id,
                    "title": e.title,
                    "text": e.text,
                    "by": client.display_name(id, &e.by),
                    "at": e.at,
                })
            );
        }
        return Ok(());
    }
    if board.is_empty() {
        println!("The board is empty.");
    }
    for e in &board {
        println!("[{}] {}", e.id, e.title);
        for line in e.text.lines() {
            println!("    {line}");
        }
        println!(
            "    — {}, {} UTC",
            client.display_name(id, &e.by),
            format_time(e.at)
        );
    }
    Ok(())
}

/// Runs one of the commands above.
pub(crate) async fn dispatch(
    client: &mut Client,
    command: Command,
    json: bool,
) -> Result<u8, Failure> {
    match command {
        Command::Board(BoardArgs { action, group }) => match action {
            None => {
                let group = group.ok_or_else(|| usage("which group? `kith board GROUP`"))?;
                let id = client.find_group(&group)?;
                if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                    eprintln!("kith: could not sync ({e}); showing the board as stored");
                }
                print_board(client, &id, json)?;
            }
            Some(BoardCommand::Add { group, title, text }) => {
                let id = client.find_group(&group)?;
                let text = text_arg(text)?;
                let entry = retry!(client, client.board_add(&id, &title, &text).await)?;
                if json {
                    println!("{}", serde_json::json!({ "id": entry }));
                } else {
                    println!("Pinned [{entry}] {title}.");
                }
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
                let text = text.map(text_arg).transpose()?;
                retry!(
                    client,
                    client
                        .board_edit(&id, entry, title.as_deref(), text.as_deref())
                        .await
                )?;
                println!("Edited [{entry}].");
            }
            Some(BoardCommand::Rm { group, id: entry }) => {
                let id = client.find_group(&group)?;
                retry!(client, client.board_rm(&id, entry).await)?;
                println!("Removed [{entry}] from the board.");
            }
        },
        Command::Requests { group } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, true).await) {
                eprintln!("kith: could not sync ({e}); showing requests as stored");
            }
            let list = client.requests(&id)?;
            if json {
                for r in &list {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                }
            } else if list.is_empty() {
                println!("No join requests.");
            } else {
                for r in &list {
                    let how = if r.comes_back {
                        "was away too long and asks to come back".to_owned()
                    } else {
                        format!("invited by {}", r.invited_by)
                    };
                    println!(
                        "{}. {}  [{}]  {how}, asked {} UTC",
                        r.number,
                        r.name,
                        r.fingerprint,
                        format_time(r.seen_at)
                    );
                }
                println!(
                    "Compare the fingerprint with the person before `kith approve {group} N`."
                );
            }
        }
        Command::Approve { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.approve(&id, &request).await)?;
            println!("Approved {name}; they are being added.");
        }
        Command::Deny { group, request } => {
            let id = client.find_group(&group)?;
            let name = retry!(client, client.deny(&id, &request).await)?;
            println!("Denied {name}; their invite is closed.");
        }
        Command::Promote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.promote(&id, &who).await)?;
            println!("{name} is now an admin.");
        }
        Command::Demote { group, member } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.demote(&id, &who).await)?;
            println!("{name} is no longer an admin.");
        }
        Command::Delete { group, seq } => {
            let id = client.find_group(&group)?;
            retry!(client, client.delete_message(&id, seq).await)?;
            println!("Deleted message {seq} for everyone.");
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
                    confirm(&what)?;
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
                    eprintln!("kith: {note}");
                }
            }
            println!("Settings changed.");
        }
        Command::Group(GroupCommand::Show { group }) => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                eprintln!("kith: could not sync ({e}); showing the group as stored");
            }
            let s = client.group_state(&id)?;
            let admins: Vec<String> = s
                .admins
                .iter()
                .map(|a| client.display_name(&id, a))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({
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
                    })
                );
            } else {
                println!("{}", client.group_name(&id)?);
                println!("  admins: {}", admins.join(", "));
                println!(
                    "  disappearing messages: {}",
                    match s.disappear_secs {
                        0 => "off".to_owned(),
                        d => format_duration(d),
                    }
                );
                println!(
                    "  history for newcomers: {}",
                    match s.history {
                        0 => "off".to_owned(),
                        n => format!("last {n} messages"),
                    }
                );
                let (home, at) = (client.group_home(&id)?, client.group_relay(&id)?);
                println!("  relay: {home}");
                if at != home {
                    println!("  this client is at the fallback {at}: {home} could not be reached");
                }
                println!(
                    "  fallback relays: {}",
                    if s.fallbacks.is_empty() {
                        "none".to_owned()
                    } else {
                        s.fallbacks.join(", ")
                    }
                );
                println!(
                    "  members away too long: {}",
                    if s.let_back {
                        "let back in when they ask"
                    } else {
                        "an admin decides when they ask"
                    }
                );
                if let Some(r) = client.relay_retention(&id) {
                    println!("  the relay keeps ciphertext for: {}", format_duration(r));
                }
                println!("  board entries: {}", s.board.len());
                println!("  open invites: {}", s.invites.len());
            }
        }
        Command::Group(GroupCommand::Move { group, to }) => {
            let id = client.find_group(&group)?;
            if let Some(url) = crate::engine::state::relay_url(&to) {
                crate::relay::check_plain_ws(&url, client.connect_options.allow_plain_ws)
                    .map_err(|e| usage(e.to_string()))?;
            }
            let r = retry!(client, client.move_group(&id, &to).await)?;
            if json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                println!(
                    "Moved the group from {} to {}. Every member's client follows at its next \
                     sync; the copy at {} is deleted once all have.",
                    r.from, r.to, r.from
                );
                if r.chunks_missing > 0 {
                    println!(
                        "{} file chunk(s) had already expired at {} and could not be copied: \
                         those files can no longer be downloaded.",
                        r.chunks_missing, r.from
                    );
                }
                println!("Open invite codes named the old relay and are closed: make new ones.");
            }
        }
        _ => unreachable!("dispatched by cli.rs"),
    }
    Ok(0)
}
