//! The commands that run on an open profile: each takes the engine's `Client` and
//! writes what it has to say to an [`Out`] (the terminal, or the daemon's answer to
//! another process).

use super::failure::{Failure, is_connect, retry, transient, usage};
use super::out::{Item, Out};
use crate::args::{Command, GroupCommand};
use crate::engine::names::{self, Roster, tag};
use crate::engine::records::{MessageRecord, RecordKind, in_time_order};
use crate::engine::{Client, SyncOutcome};
use crate::identity::fingerprint;
use kith_i18n::t;
use kith_protocol::GroupId;
use std::io::{IsTerminal, Read};
use std::time::Duration;

/// Prints one record of a group's history. A sender whose name collides with another
/// member's carries a fingerprint fragment (`Olena [3f2a 91c0]`); one whose safety
/// number this profile has not confirmed is marked `?`, as in the chat.
pub(crate) fn record_item(roster: &Roster, r: &MessageRecord) -> Item {
    let name = r.sender.map(|s| roster.name(&s)).unwrap_or_default();
    let json = {
        let kind = match &r.kind {
            RecordKind::Text(_) => "text",
            RecordKind::Notice(_) => "notice",
            RecordKind::Alert(_) => "alert",
            RecordKind::File(_) => "file",
            RecordKind::Deleted { .. } => "deleted",
        };
        let text = r.kind.text();
        let v = serde_json::json!({
            "seq": r.seq,
            "time": r.time,
            "sender": r.sender.map(|s| kith_protocol::ids::hex(&s)),
            "sender_fingerprint": r.sender.map(|s| fingerprint(&s)),
            "name": name,
            "name_collides": r.sender.is_some_and(|s| roster.collides(&s)),
            "sender_verified": r.sender.is_some_and(|s| roster.verified(&s)),
            "own": r.own,
            "kind": kind,
            "text": text,
            "history_from": r.shared_by.map(|s| roster.label(&s)),
        });
        v
    };
    let text = {
        let t = kith_i18n::time(r.time);
        // As in the chat: no mark on our own lines, nor on a deleted message's.
        let who = match r.sender {
            Some(s)
                if r.own || roster.verified(&s) || matches!(r.kind, RecordKind::Deleted { .. }) =>
            {
                roster.label(&s)
            }
            Some(s) => format!("{}?", roster.label(&s)),
            None => String::new(),
        };
        match &r.kind {
            RecordKind::Text(text) => format!("{t} {who}: {text}"),
            RecordKind::Notice(text) => match r.sender {
                // A member's notice names them plainly; when that name is shared, say
                // which one.
                Some(s) if !r.own && roster.collides(&s) && !text.contains(&tag(&s)) => {
                    format!(
                        "{t} * {text} {}",
                        t!("cli-notice-by", name = roster.label(&s))
                    )
                }
                _ => format!("{t} * {text}"),
            },
            RecordKind::Alert(text) => format!("{t} ! {text}"),
            other => format!("{t} {who}: {}", other.text()),
        }
    };
    Item::Record { json, text }
}

/// [`Client::sync_all`], with the parts that failed for a passing reason tried again
/// (backoff as in [`retry!`]); what each pass brought is kept.
async fn sync_everything(client: &mut Client) -> Result<Vec<SyncOutcome>, Failure> {
    let mut delay = Duration::from_millis(500);
    let mut merged: Vec<SyncOutcome> = Vec::new();
    for tries in 0.. {
        for o in client.sync_all().await? {
            let same = merged.iter_mut().find(|m| match (m.group, o.group) {
                (Some(a), Some(b)) => a == b,
                // A join that failed before has no group yet: the same join, if
                // this pass completed one of that name.
                (None, Some(_)) => m.name == o.name && o.result.as_ref().is_ok_and(|r| r.joined),
                (None, None) => m.name == o.name,
                (Some(_), None) => false,
            });
            match (same, o.result) {
                (None, result) => merged.push(SyncOutcome { result, ..o }),
                (Some(m), Ok(r)) => match &mut m.result {
                    Ok(before) => {
                        before.new.extend(r.new);
                        before.joined |= r.joined;
                    }
                    Err(_) => m.result = Ok(r),
                },
                // It synced before: a later pass failing takes nothing away.
                (Some(m), Err(e)) if m.result.is_err() => m.result = Err(e),
                (Some(_), Err(_)) => {}
            }
        }
        // A relay that refuses connections is most likely down: two more tries (1.5 s)
        // for one that restarts, not the 15 s a failing connection gets.
        let failing = || merged.iter().filter_map(|o| o.result.as_ref().err());
        let again = failing().any(|e| transient(e) && !is_connect(e))
            || (tries < 2 && failing().any(transient));
        if !again || tries == 5 {
            break;
        }
        client.close().await;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(8));
    }
    Ok(merged)
}

/// The relay a text names, if it is a relay URL or an invite (not a group's name).
pub(crate) fn relay_of_text(text: &str) -> Option<String> {
    if let Ok(invite) = text.parse::<kith_protocol::invite::Invite>() {
        return Some(invite.relay.ws_url());
    }
    if let Ok(relay) = text.parse::<kith_protocol::invite::RelayAddr>() {
        return Some(relay.ws_url());
    }
    // Not a well-formed address, but meant as one: the doctor says what is wrong.
    (text.starts_with("ws://") || text.starts_with("wss://")).then(|| text.to_owned())
}

/// Checks each relay and prints what was found; non-zero if any cannot be used.
pub(crate) async fn doctor(
    urls: &[String],
    options: &crate::relay::ConnectOptions,
    out: &mut Out,
) -> Result<u8, Failure> {
    let mut all_ok = true;
    for url in urls {
        let d = crate::doctor::diagnose(url, options).await;
        all_ok &= d.ok;
        let mut text = d.url.clone();
        for s in &d.steps {
            text.push_str(&format!(
                "\n  {:<4} {}: {}",
                if s.ok {
                    t!("cli-doctor-ok")
                } else {
                    t!("cli-doctor-fail")
                },
                s.step,
                s.detail
            ));
        }
        text.push_str(&format!("\n  {}", d.verdict));
        out.record(serde_json::to_value(&d).unwrap_or_default(), text);
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// Runs one command on an open profile. The daemon runs it too, for other processes,
/// with kept output; the commands it cannot run there are refused before (`rpc.rs`).
pub(crate) async fn dispatch(
    client: &mut Client,
    command: Command,
    out: &mut Out,
) -> Result<u8, Failure> {
    match command {
        Command::Init { .. }
        | Command::Wipe { .. }
        | Command::GenerateDocs { .. }
        | Command::Passphrase { .. }
        | Command::Daemon { .. } => {
            return Err(usage(t!("cli-not-on-open-profile")));
        }
        Command::Doctor {
            target: Some(target),
        } if relay_of_text(&target).is_some() => {
            let urls: Vec<String> = relay_of_text(&target).into_iter().collect();
            let options = client.connect_options.clone();
            return doctor(&urls, &options, out).await;
        }
        Command::Doctor { target } => {
            let mut urls: Vec<String> = Vec::new();
            let groups = match &target {
                Some(g) => vec![client.find_group(g)?],
                None => client
                    .groups()?
                    .iter()
                    .filter(|g| g.status == "active")
                    .filter_map(|g| GroupId::from_hex(&g.id))
                    .collect(),
            };
            for id in groups {
                let relay = client.group_relay(&id)?;
                let home = client.group_home(&id)?;
                let fallbacks = client.group_state(&id)?.fallbacks;
                for u in [home, relay].into_iter().chain(fallbacks) {
                    if !urls.contains(&u) {
                        urls.push(u);
                    }
                }
            }
            if urls.is_empty() {
                return Err(usage(t!("cli-doctor-no-relay")));
            }
            let options = client.connect_options.clone();
            return doctor(&urls, &options, out).await;
        }
        Command::Chat { group } => {
            crate::chat::run(client, group.as_deref())
                .await
                .map_err(|e| Failure {
                    code: e.exit_code(),
                    message: e.to_string(),
                })?
        }
        Command::Whoami => {
            out.record(
                serde_json::json!({
                    "name": client.name(),
                    "fingerprint": client.fingerprint(),
                    "identity": kith_protocol::ids::hex(&client.identity()),
                }),
                t!(
                    "cli-whoami",
                    name = client.name(),
                    fingerprint = client.fingerprint()
                ),
            );
        }
        Command::Group(GroupCommand::Create { name, relay, yes }) => {
            let relay = relay.ok_or_else(|| usage(t!("cli-no-relay")))?;
            // Two groups of one name are told apart only by their ids: ask first.
            let groups = client.groups()?;
            if !yes && groups.iter().any(|g| names::same(&g.name, &name)) {
                super::admin::confirm(&t!("cli-group-name-taken", name = &name), out)?;
            }
            let id = client.create_group(&name, &relay).await?;
            out.record(
                serde_json::json!({"name": name, "id": id.to_hex()}),
                t!("cli-group-created", name = &name, id = &id.to_hex()[..8]),
            );
        }
        Command::Group(GroupCommand::Update { group }) => {
            let id = client.find_group(&group)?;
            let epoch = retry!(client, client.update_own_keys(&id).await)?;
            out.record(
                serde_json::json!({"epoch": epoch}),
                t!("cli-keys-updated", epoch = epoch),
            );
        }
        Command::Groups => {
            let groups = client.groups()?;
            if groups.is_empty() {
                out.text(t!("cli-no-groups"));
            }
            for g in &groups {
                let mut line = format!(
                    "{:<24} {}  {}  {}",
                    g.name,
                    &g.id[..8],
                    t!("count-members", n = g.members),
                    t!("count-unread", n = g.unread)
                );
                if g.pending_joins > 0 {
                    line.push_str("  ");
                    line.push_str(&t!("count-pending-joins", n = g.pending_joins));
                }
                match g.status.as_str() {
                    "removed" => line.push_str(&format!("  {}", t!("cli-group-status-removed"))),
                    "left" => line.push_str(&format!("  {}", t!("cli-group-status-left"))),
                    _ => {}
                }
                out.record(serde_json::to_value(g).unwrap_or_default(), line);
            }
            for name in client.pending_joins()? {
                out.record(
                    serde_json::json!({"waiting_to_join": name}),
                    format!("{name:<24} {}", t!("cli-waiting-to-join")),
                );
            }
        }
        Command::Invite {
            group,
            expires,
            approve,
        } => {
            let id = client.find_group(&group)?;
            let invite = retry!(client, client.invite(&id, expires, approve).await)?;
            out.record(serde_json::json!({"invite": invite}), invite.to_string());
            if let Ok(parsed) = invite.parse::<kith_protocol::invite::Invite>() {
                let scheme = if parsed.relay.tls { "wss" } else { "ws" };
                out.note(t!(
                    "cli-invite-by-voice",
                    code = parsed.code.to_string(),
                    relay = format!("{scheme}://{}", parsed.relay.authority)
                ));
            }
            out.note(t!(
                "cli-invite-valid",
                valid = kith_i18n::duration(expires.as_secs())
            ));
            if approve {
                out.note(t!("cli-invite-needs-approval", group = &group));
            }
        }
        Command::Join {
            invite,
            relay,
            wait,
        } => {
            let invite = crate::args::full_invite(&invite, relay.as_deref()).map_err(usage)?;
            let slot = join_start(client, &invite, out).await?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
            loop {
                if join_try(client, &slot, out).await? {
                    return Ok(0);
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            return Ok(join_not_yet(wait, out));
        }
        #[cfg(feature = "test-hooks")]
        Command::TestEvil { group, what, arg } => {
            let id = client.find_group(&group)?;
            let said = client.test_evil(&id, &what, arg).await?;
            out.line(said);
        }
        Command::Sync { group } => {
            let outcomes = match group {
                Some(g) => {
                    let id = client.find_group(&g)?;
                    let r = retry!(client, client.sync_group(&id, true).await)?;
                    vec![SyncOutcome {
                        group: Some(id),
                        name: client.group_name(&id)?,
                        result: Ok(r),
                    }]
                }
                None => sync_everything(client).await?,
            };
            // Each group reports on its own; the exit code is that of the first failure.
            let mut failed = None;
            for o in outcomes {
                let id = o.group.map(|id| id.to_hex());
                let name = o.name;
                match o.result {
                    Ok(r) => {
                        let v = serde_json::json!({"group": name, "id": id, "new": r.new.len(), "joined": r.joined});
                        if r.joined {
                            out.record(v, t!("cli-joined", name = &name));
                        } else if !r.new.is_empty() {
                            out.record(
                                v,
                                t!(
                                    "cli-sync-new",
                                    name = &name,
                                    new = t!("count-new", n = r.new.len())
                                ),
                            );
                        } else {
                            out.record(v, String::new());
                        }
                    }
                    Err(e) => {
                        out.record(
                            serde_json::json!({"group": name, "id": id, "error": e.to_string()}),
                            String::new(),
                        );
                        out.note(t!("cli-sync-failed", name = &name, error = e.to_string()));
                        failed.get_or_insert(Failure::from(e).code);
                    }
                }
            }
            // What waits in the outbox goes now, with the connection this opened.
            super::outbox::flush(client, out).await?;
            if let Some(code) = failed {
                return Ok(code);
            }
        }
        Command::Send { group, text } => {
            let text = text.ok_or_else(|| usage(t!("cli-send-what")))?;
            let id = client.find_group(&group)?;
            let text = if text == "-" {
                read_stdin(out)?.trim_end_matches('\n').to_owned()
            } else {
                text
            };
            return super::outbox::send(client, &id, &text, out).await;
        }
        Command::Outbox { drop } => return super::outbox::list(client, drop, out),
        Command::SendFile { group, path } => {
            let id = client.find_group(&group)?;
            let seq = retry!(client, client.send_file(&id, &path).await)?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let name = path
                .file_name()
                .map(|n| crate::engine::clean_file_name(&n.to_string_lossy()))
                .unwrap_or_default();
            out.record(
                serde_json::json!({"seq": seq, "name": name, "size": size}),
                t!("cli-file-sent", name = &name, size = kith_i18n::size(size)),
            );
        }
        Command::Files { group } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                out.note(t!("cli-showing-stored", error = e.to_string()));
            }
            let files = client.files(&id)?;
            if files.is_empty() {
                out.text(t!("cli-no-files"));
            }
            for f in &files {
                out.record(
                    serde_json::to_value(f).unwrap_or_default(),
                    format!(
                        "{:>3}  {}  {:<16} {}  ({})",
                        f.number,
                        kith_i18n::time(f.time),
                        f.sender,
                        f.name,
                        kith_i18n::size(f.size)
                    ),
                );
            }
        }
        Command::Get {
            group,
            file,
            output,
            force,
        } => {
            let id = client.find_group(&group)?;
            let saved = retry!(
                client,
                client.get_file(&id, &file, output.as_deref(), force).await
            )?;
            out.record(
                serde_json::to_value(&saved).unwrap_or_default(),
                t!(
                    "cli-file-saved",
                    name = &saved.name,
                    size = kith_i18n::size(saved.size),
                    path = saved.path.display().to_string()
                ),
            );
        }
        Command::Read { group, all, follow } => {
            let id = client.find_group(&group)?;
            // What is stored is shown either way; a script learns from the exit code
            // that it may not be all (`--follow` keeps trying instead).
            let mut unsynced = None;
            if let Err(e) = retry!(client, client.sync_group(&id, true).await)
                && !follow
            {
                out.note(t!("cli-showing-stored", error = e.to_string()));
                unsynced = Some(Failure::from(e).code);
            }
            let roster = client.roster(&id)?;
            let mut records = client.take_unread(&id, all)?;
            // When things happened (a notice where its commit was, not where this
            // client read it); the numbers stay the log's.
            in_time_order(&mut records);
            if !records.is_empty() && out.is_terminal() && std::io::stderr().is_terminal() {
                out.note(t!("cli-times-in", zone = kith_i18n::zone_label()));
            }
            for r in records {
                out.put(record_item(&roster, &r));
            }
            if follow {
                follow_group(client, &id, out).await?;
            }
            if let Some(code) = unsynced {
                return Ok(code);
            }
        }
        Command::Members { group } => {
            let id = client.find_group(&group)?;
            let _ = retry!(client, client.sync_group(&id, false).await);
            for m in client.members(&id)? {
                out.record(
                    serde_json::to_value(&m).unwrap_or_default(),
                    format!(
                        "{:<20} {}  {:<6} {}{}",
                        m.name,
                        m.fingerprint,
                        if m.role == "admin" {
                            t!("cli-role-admin")
                        } else {
                            t!("cli-role-member")
                        },
                        if m.verified {
                            t!("cli-member-verified")
                        } else {
                            t!("cli-member-unverified")
                        },
                        if m.you {
                            format!("  {}", t!("cli-member-you"))
                        } else {
                            String::new()
                        }
                    ),
                );
            }
        }
        Command::Remove {
            group,
            member,
            hide,
        } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.remove_member(&id, &who, hide).await)?;
            if hide {
                out.line(t!("cli-removed-hidden", name = &name));
            } else {
                out.line(t!("cli-removed", name = &name));
            }
        }
        Command::Leave { group } => {
            let id = client.find_group(&group)?;
            retry!(client, client.leave(&id).await)?;
            out.line(t!("cli-left"));
        }
        c @ (Command::Board(_)
        | Command::Requests { .. }
        | Command::Approve { .. }
        | Command::Deny { .. }
        | Command::Promote { .. }
        | Command::Demote { .. }
        | Command::Delete { .. }
        | Command::Group(
            GroupCommand::Set { .. } | GroupCommand::Show { .. } | GroupCommand::Move { .. },
        )) => {
            return super::admin::dispatch(client, c, out).await;
        }
        Command::Verify {
            group,
            member,
            confirm,
        } => {
            let id = client.find_group(&group)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            let number = client.safety_number(&who);
            out.record(
                serde_json::json!({"member": name, "safety_number": number, "confirmed": confirm}),
                t!("cli-safety-number", name = &name, number = &number),
            );
            if confirm {
                client.confirm_verified(&who, &name)?;
                out.text(t!("cli-marked-verified", name = &name));
            }
        }
    }
    Ok(0)
}

/// Standard input, for an argument given as `-`: this process's own, never the
/// daemon's (a program that sends `-` to the daemon is told to send the text).
pub(crate) fn read_stdin(out: &Out) -> Result<String, Failure> {
    if !out.is_terminal() {
        return Err(usage(t!("cli-no-stdin-in-daemon")));
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| usage(e.to_string()))?;
    Ok(s)
}

/// `kith join`, first half: shows the invite and answers it. Returns the join's slot
/// for [`join_try`].
pub(crate) async fn join_start(
    client: &mut Client,
    invite: &str,
    out: &mut Out,
) -> Result<[u8; 32], Failure> {
    let preview = client.preview_invite(invite).await?;
    out.note(t!(
        "cli-invite-preview",
        inviter = &preview.inviter_name,
        fingerprint = &preview.inviter_fingerprint,
        group = &preview.group_name,
        relay = &preview.relay,
        until = kith_i18n::time(preview.expires_at),
        zone = kith_i18n::zone_label()
    ));
    let slot = client.answer_invite(invite).await?;
    if preview.needs_approval {
        out.note(t!("cli-join-requested-approval"));
    } else {
        out.note(t!("cli-join-requested"));
    }
    Ok(slot)
}

/// `kith join`, second half, tried until admitted or the wait is over: whether the
/// join completed (and then says so).
pub(crate) async fn join_try(
    client: &mut Client,
    slot: &[u8; 32],
    out: &mut Out,
) -> Result<bool, Failure> {
    match client.try_complete_join_slot(slot).await {
        Ok(Some(group)) => {
            let name = client.group_name(&group)?;
            out.record(
                serde_json::json!({"joined": name, "id": group.to_hex()}),
                t!("cli-joined", name = &name),
            );
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) if transient(&e) => {
            client.close().await;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `kith join` after its wait without being admitted: says what happens next; the
/// exit code (3: still waiting, unless no wait was asked for).
pub(crate) fn join_not_yet(wait: u64, out: &mut Out) -> u8 {
    out.note(t!("cli-not-admitted"));
    if wait == 0 { 0 } else { 3 }
}

async fn follow_group(client: &mut Client, id: &GroupId, out: &mut Out) -> Result<(), Failure> {
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut pushes = match client.subscribe(id).await {
            Ok(p) => {
                backoff = Duration::from_millis(500);
                p
            }
            Err(e) if transient(&e) => {
                out.note(t!(
                    "cli-relay-unreachable-retrying",
                    error = e.to_string(),
                    wait = kith_i18n::duration(backoff.as_secs().max(1))
                ));
                client.close().await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // Messages stored between the read above and the subscription.
        catch_up(client, id, out).await?;
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tokio::select! {
                push = pushes.recv() => {
                    if push.is_none() {
                        break; // connection lost: resubscribe
                    }
                    while pushes.try_recv().is_ok() {}
                }
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            if let Err(e) = catch_up(client, id, out).await {
                out.note(format!("kith: {}", e.message));
                break;
            }
            // Removed, or left from elsewhere: nothing more will come (the notice
            // saying so was printed above).
            let hex = id.to_hex();
            if client
                .groups()?
                .iter()
                .any(|g| g.id == hex && g.status != "active")
            {
                return Ok(());
            }
        }
        client.close().await;
    }
}

async fn catch_up(client: &mut Client, id: &GroupId, out: &mut Out) -> Result<(), Failure> {
    match client.sync_group(id, true).await {
        Ok(_) => {}
        Err(e) if transient(&e) => {
            return Err(Failure {
                code: 1,
                message: e.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let roster = client.roster(id)?;
    let mut records = client.take_unread(id, false)?;
    in_time_order(&mut records);
    for r in records {
        out.put(record_item(&roster, &r));
    }
    Ok(())
}
