//! Catching up with a group: fetch the log from our cursor, process every message in
//! order (commits move us to the next epoch, for which we then prove access), record
//! what the user should see, and, for admins, admit joiners and commit members' leave
//! requests.
//!
//! Everything from the relay is checked before it is believed: the outer padding, the
//! MLS framing, that the relay's epoch and kind labels match the MLS message, that every
//! credential is a well-formed Kith credential, and that whoever made a change was
//! allowed to. A message that fails is recorded as an alert and skipped; the group's
//! state is never changed by it.

use super::outcome::{Dead, SyncOutcome, dead_relay, note_dead};
use super::records::*;
use super::state::{self, GroupState};
use super::{Client, ClientError, Result, clean_name, clean_text, mls, now_secs};
use crate::identity::{self, IdentityKey, fingerprint};
use crate::payload::{AppMessage, Body, MAX_NAME_CHARS};
use kith_i18n::t;
use kith_protocol::padding::unpad;
use kith_protocol::{GroupId, Message, MessageKind};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;

/// What one sync brought.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// New records, in order.
    pub new: Vec<MessageRecord>,
    /// This sync completed our join to the group.
    pub joined: bool,
    /// This sync moved the group to another relay (a move, a failover or a return
    /// home): a face that holds a subscription makes it again there.
    pub moved: bool,
}

impl Client {
    /// Catches up with every active group (admitting joiners where we are admin) and
    /// completes pending joins: each on its own, so that a group whose relay is down, or
    /// that fails for any reason, stops nothing else. `Err` only if this profile's list
    /// of groups and joins cannot be read.
    pub async fn sync_all(&mut self) -> Result<Vec<SyncOutcome>> {
        let mut dead = Dead::new();
        let mut out = self.poll_joins_in(&mut dead).await?;
        let groups: Vec<GroupRecord> = self
            .groups_raw()?
            .into_iter()
            .filter(|g| g.status == GroupStatus::Active)
            .collect();
        for g in groups {
            let result = match dead.get(&g.relay) {
                // Not tried again in this pass; but it may be time to go elsewhere.
                Some(why) => {
                    self.when_unreachable(&g.relay_group, true, dead_relay(why))
                        .await
                }
                None => self.sync_group(&g.relay_group, true).await,
            };
            note_dead(&mut dead, &g.relay, &result);
            out.push(SyncOutcome {
                group: Some(g.relay_group),
                name: g.name.clone(),
                result,
            });
        }
        Ok(out)
    }

    /// Catches up with one group. With `admin_work`, also admits joiners, commits leave
    /// requests, keeps our leaf fresh and looks at the group's other relays (a home
    /// that answers again, members who write at a fallback). Where the group's relay
    /// cannot be reached long enough, goes on at a fallback (`failover.rs`).
    pub async fn sync_group(&mut self, group: &GroupId, admin_work: bool) -> Result<SyncReport> {
        let mut report = match Box::pin(self.sync_here(group, admin_work)).await {
            Err(e) if super::failover::place_lost(&e) => {
                return Box::pin(self.when_unreachable(group, admin_work, e)).await;
            }
            r => r?,
        };
        let mut g = self.load_group(group)?;
        if g.place.unreachable_since != 0 {
            g.place.unreachable_since = 0;
            self.save_group(&g)?;
            self.db().commit()?;
        }
        if admin_work {
            let moved = std::mem::take(&mut report.moved);
            Box::pin(self.look_around(group, &mut report)).await?;
            if report.moved {
                let more = Box::pin(self.sync_here(group, admin_work)).await?;
                report.new.extend(more.new);
                report.joined |= more.joined;
            }
            report.moved |= moved;
        }
        Ok(report)
    }

    /// Catches up with one group where this client is (see [`Client::sync_group`]).
    pub(crate) async fn sync_here(
        &mut self,
        group: &GroupId,
        admin_work: bool,
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.purge_expired()?;
        // A copy of ours that died and knocked: the welcome back may be there.
        if Box::pin(self.try_come_back(group)).await? {
            report.joined = true;
        }
        let mut reposts = 0;
        let mut reauths = 0;
        let mut voids = 0;
        loop {
            let g = self.load_group(group)?;
            if g.status != GroupStatus::Active {
                return Ok(report);
            }
            let m = self.mls_group(&g)?;
            let epoch = m.epoch().as_u64();
            let conn = self.ensure_auth(&g, &m).await?;
            let page = match conn.fetch(g.place.id, g.cursor, 256).await {
                Ok(page) => page,
                // An admin's repair voided our authorization: prove access again.
                Err(crate::relay::RelayError::Relay(kith_protocol::ErrorCode::Unauthorized))
                    if reauths < 2 =>
                {
                    reauths += 1;
                    self.authed.retain(|(_, grp, _)| *grp != g.place.id);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let empty = page.messages.is_empty();
            let mut moved = false;
            for msg in page.messages {
                self.process(group, msg, &mut report)?;
                super::crash_point("after-decrypt");
                self.db().commit()?;
                if report.moved {
                    // A commit moved the group: what follows is read at its new home.
                    let now = self.load_group(group)?;
                    if now.relay != g.relay || now.place.id != g.place.id {
                        moved = true;
                        break;
                    }
                }
            }
            if moved {
                continue;
            }
            if empty {
                match page.needs_epoch {
                    None => {
                        reposts += 1;
                        if reposts <= 3 && self.repost_pending(group).await? {
                            continue;
                        }
                        // At the log's end, behind a commit we could not follow (nobody
                        // has posted after it yet): the group is stuck until it is voided.
                        if self
                            .commit_memory(group)?
                            .refused
                            .is_some_and(|(e, _)| e == epoch)
                        {
                            if voids == 0 && self.void_refused_commit(group, epoch).await? {
                                voids += 1;
                                continue;
                            }
                            return Err(ClientError::Hostile(self.stuck_text(&g)));
                        }
                        break;
                    }
                    Some(e) if e == epoch => {
                        return Err(ClientError::Hostile(t!("engine-sync-epoch-withheld")));
                    }
                    Some(e) => {
                        // Our MLS epoch did not move to `e` after processing everything
                        // before it: a commit was missing or refused. An admin voids a
                        // refused one (see `repair`).
                        if voids == 0 && self.void_refused_commit(group, epoch).await? {
                            voids += 1;
                            continue;
                        }
                        let refused = self.commit_memory(group)?.refused.is_some();
                        return Err(ClientError::Hostile(if refused {
                            self.stuck_text(&g)
                        } else {
                            t!(
                                "engine-sync-commit-withheld",
                                next = e.to_string(),
                                epoch = epoch.to_string()
                            )
                        }));
                    }
                }
            }
        }
        // Caught up to the log's end (see `drop_stale_unconfirmed`).
        self.drop_stale_unconfirmed(group)?;
        Box::pin(self.check_admissions(group, &mut report)).await?;
        self.check_relay_retention(group, &mut report)?;
        match Box::pin(self.after_move(group)).await {
            Ok(()) => {}
            Err(e @ ClientError::Store(_)) => return Err(e),
            // Saying we arrived, or deleting the old copy, is tried again next time.
            Err(e) => tracing::debug!(error = %e, "after a move"),
        }
        if admin_work {
            // Boxed: admitting posts commits and messages, which catch up first.
            Box::pin(self.repair(group)).await?;
            Box::pin(self.sync_relay_admin(group, false)).await?;
            Box::pin(self.admit_joiners(group, &mut report)).await?;
            Box::pin(self.answer_knocks(group, &mut report)).await?;
            Box::pin(self.commit_leave_requests(group)).await?;
            Box::pin(self.maybe_self_update(group)).await?;
        }
        Ok(report)
    }

    fn stuck_text(&self, g: &GroupRecord) -> String {
        t!("engine-sync-stuck", group = &g.name)
    }

    /// Caught up with the log and still holding a commit of ours for the current epoch:
    /// the relay never stored it (the post was lost). Post the same commit again.
    /// Returns true if something changed and we must catch up again.
    async fn repost_pending(&mut self, group: &GroupId) -> Result<bool> {
        let mut g = self.load_group(group)?;
        let Some(p) = g.pending.clone() else {
            return Ok(false);
        };
        let mut m = self.mls_group(&g)?;
        let next_secret = match m.pending_commit() {
            Some(staged) if m.epoch().as_u64() == p.epoch => staged
                .export_secret(
                    self.provider.crypto(),
                    kith_protocol::access::ACCESS_EXPORTER_LABEL,
                    b"",
                    kith_protocol::access::ACCESS_EXPORTER_LEN,
                )
                .map_err(mls)?,
            _ => {
                // A stale record: nothing staged for this epoch any more.
                m.clear_pending_commit(self.provider.storage())
                    .map_err(mls)?;
                g.pending = None;
                self.save_group(&g)?;
                self.db().commit()?;
                return Ok(false);
            }
        };
        let next = kith_protocol::access::AccessKey::from_exporter_secret(&next_secret);
        let conn = self.ensure_auth(&g, &m).await?;
        match conn
            .post(
                g.place.id,
                p.epoch,
                kith_protocol::PostKind::Commit {
                    next_access_key: next.public(),
                },
                p.payload.clone(),
            )
            .await
        {
            Ok(seq) => {
                self.finish_own_commit(group, seq, &mut SyncReport::default())?;
                self.db().commit()?;
                Ok(true)
            }
            Err(crate::relay::RelayError::Relay(kith_protocol::ErrorCode::StaleEpoch)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    fn alert(
        &self,
        g: &GroupRecord,
        msg: &Message,
        text: String,
        report: &mut SyncReport,
    ) -> Result<()> {
        self.alert_at(g, msg.seq, 0, text, report).map(drop)
    }

    /// Records an alert filed at `(seq, sub)` of the group's history (not committed: the
    /// caller's commit of the store carries it), and returns it.
    pub(crate) fn alert_at(
        &self,
        g: &GroupRecord,
        seq: u64,
        sub: u16,
        text: String,
        report: &mut SyncReport,
    ) -> Result<MessageRecord> {
        let r = MessageRecord {
            shared_by: None,
            expires: 0,
            seq,
            sub,
            time: now_secs(),
            sender: None,
            own: false,
            kind: RecordKind::Alert(text),
        };
        self.add_record(g, r.clone())?;
        report.new.push(r.clone());
        Ok(r)
    }

    fn advance(&self, group: &GroupId, seq: u64) -> Result<()> {
        let mut g = self.load_group(group)?;
        g.cursor = g.cursor.max(seq + 1);
        self.save_group(&g)?;
        Ok(())
    }

    /// Processes one message from the log. Always advances the cursor past it.
    fn process(&mut self, group: &GroupId, msg: Message, report: &mut SyncReport) -> Result<()> {
        let mut g = self.load_group(group)?;
        if msg.seq < g.cursor {
            return Ok(()); // a duplicate delivery
        }
        // Our own commit, whose answer we did not get?
        if msg.kind == MessageKind::Commit
            && let Some(p) = &g.pending
            && p.epoch == msg.epoch
        {
            if p.payload == msg.payload {
                self.finish_own_commit(group, msg.seq, report)?;
                return self.advance(group, msg.seq);
            }
            // Another commit won the epoch: ours is void.
            let mut m = self.mls_group(&g)?;
            m.clear_pending_commit(self.provider.storage())
                .map_err(mls)?;
            g.pending = None;
            self.save_group(&g)?;
        }
        // The epoch this message is in for us: it joins our view of the log (see `views`).
        let m = self.mls_group(&g)?;
        let epoch = m.epoch().as_u64();
        if msg.seq > g.cursor {
            // Sequence numbers have no gaps; only retention removes (the oldest) messages.
            self.view_hole(&g, epoch)?;
            let missing = msg.seq - g.cursor;
            // Filed under the last missing sequence number, so it sorts just before.
            self.alert_at(
                &g,
                msg.seq - 1,
                999,
                t!("engine-sync-missing", n = missing),
                report,
            )?;
        }
        if msg.kind == MessageKind::Repair {
            self.view_hole(&g, epoch)?;
            self.on_repair_record(&g, &msg, report)?;
            return self.advance(group, msg.seq);
        }
        // Set when a refusal names who sent the commit (their signature checked).
        let mut named = false;
        let result = self.process_mls(&mut g, m, &msg, &mut named, report);
        if msg.epoch == epoch {
            // Whatever became of it: every member of the epoch got the same bytes. (The
            // chain needs only the group's ids, which processing does not change.)
            self.view_append(&g, epoch, &msg.payload)?;
        }
        match result {
            Ok(()) => {}
            Err(ClientError::Hostile(why)) => {
                let g = self.load_group(group)?;
                let epoch = self.mls_group(&g)?.epoch().as_u64();
                if msg.kind == MessageKind::Commit && msg.epoch == epoch {
                    // The epoch's commit, and we cannot follow it: remembered for an
                    // admin's void (see `repair`).
                    let mut mem = self.commit_memory(group)?;
                    mem.refused = Some((epoch, msg.seq));
                    self.save_commit_memory(group, &mem)?;
                    self.alert(
                        &g,
                        &msg,
                        if named {
                            t!("engine-sync-refused-commit", why = why)
                        } else {
                            t!("engine-sync-refused-commit-unsigned", why = why)
                        },
                        report,
                    )?;
                } else {
                    self.alert(
                        &g,
                        &msg,
                        t!("engine-sync-refused-message", why = why),
                        report,
                    )?;
                }
            }
            Err(e) => return Err(e),
        }
        self.advance(group, msg.seq)
    }

    fn process_mls(
        &mut self,
        g: &mut GroupRecord,
        mut m: MlsGroup,
        msg: &Message,
        named: &mut bool,
        report: &mut SyncReport,
    ) -> Result<()> {
        let hostile = ClientError::Hostile;
        let bytes = unpad(&msg.payload).map_err(|_| hostile(t!("engine-sync-bad-padding")))?;
        let mls_msg = MlsMessageIn::tls_deserialize_exact(bytes)
            .map_err(|_| hostile(t!("engine-sync-not-mls")))?;
        let pm: ProtocolMessage = mls_msg
            .try_into_protocol_message()
            .map_err(|_| hostile(t!("engine-sync-not-group-message")))?;
        if !matches!(pm, ProtocolMessage::PrivateMessage(_)) {
            return Err(hostile(t!("engine-sync-plaintext")));
        }
        if pm.epoch().as_u64() != msg.epoch {
            return Err(hostile(t!("engine-sync-epoch-label")));
        }
        let is_commit = pm.content_type() == ContentType::Commit;
        if is_commit != (msg.kind == MessageKind::Commit) {
            return Err(hostile(t!("engine-sync-kind-label")));
        }
        let tag = match &pm {
            ProtocolMessage::PrivateMessage(p) => p.aad().to_vec(),
            ProtocolMessage::PublicMessage(_) => Vec::new(),
        };
        let ours = super::fork_tag(&m);
        let same_epoch = pm.epoch() == m.epoch();
        let mut relabelled = false;
        let processed = match m.process_message(&self.provider, pm) {
            Ok(p) => p,
            // Nothing was changed by a failed processing; say what it means.
            Err(e) if !(same_epoch && tag.len() == ours.len() && tag != ours) => {
                return Err(ClientError::Hostile(t!(
                    "engine-sync-undecryptable",
                    error = e.to_string()
                )));
            }
            // Another view's tag, or a label changed on the way (see `fork`).
            Err(_) => {
                let again = super::fork::relabelled(bytes, &ours)
                    .and_then(|b| MlsMessageIn::tls_deserialize_exact(b.as_slice()).ok())
                    .and_then(|m| m.try_into_protocol_message().ok());
                match again.map(|pm| m.process_message(&self.provider, pm)) {
                    Some(Ok(p)) => {
                        relabelled = true;
                        p
                    }
                    _ if self.foreign_tag_seen(g, &tag, bytes)? => {
                        return Err(ClientError::Hostile(t!("engine-sync-fork")));
                    }
                    _ => {
                        return Err(ClientError::Hostile(t!("engine-sync-other-view")));
                    }
                }
            }
        };
        if relabelled {
            // Filed just after the message (which takes sub 0).
            self.alert_at(g, msg.seq, 1, t!("engine-sync-relabelled"), report)?;
        }
        let sender_index = match processed.sender() {
            Sender::Member(i) => Some(*i),
            _ => None,
        };
        let sender: Option<IdentityKey> = sender_index.and_then(|i| {
            m.member_at(i).and_then(|x| {
                identity::identity_of(x.credential.serialized_content(), &x.signature_key)
            })
        });
        match processed.into_content() {
            ProcessedMessageContent::OwnPrivateMessage => self.own_echo(g, msg, report),
            ProcessedMessageContent::OwnPendingCommit => {
                // Our own commit echoed back: merged when the relay accepted it.
                Ok(())
            }
            ProcessedMessageContent::ApplicationMessage(app) => {
                let who = sender.ok_or_else(|| hostile(t!("engine-sync-message-no-credential")))?;
                let body = match AppMessage::from_padded(&app.into_bytes()) {
                    Ok(AppMessage::V1(body)) => body,
                    Ok(AppMessage::V2 { counter, body }) => {
                        self.counter_gap(g, msg, &who, counter, report)?;
                        body
                    }
                    Ok(AppMessage::V3 {
                        counter,
                        view,
                        body,
                    }) => {
                        self.counter_gap(g, msg, &who, counter, report)?;
                        if let Some(view) = view {
                            self.view_gap(g, msg, m.epoch().as_u64(), &who, &view, report)?;
                        }
                        body
                    }
                    Ok(AppMessage::Again { counter, body }) => {
                        // Posted again after a relay was lost: only what we lack counts.
                        if !self.note_again(g, &who, counter)? {
                            self.seen_after_move(g, &who)?;
                            return Ok(());
                        }
                        body
                    }
                    Err(_) => return Err(hostile(t!("engine-sync-unreadable-version"))),
                };
                self.apply_body(g, msg, who, body, report)
            }
            ProcessedMessageContent::ProposalMessage(_) => {
                // Kith never sends standalone proposals: a stored proposal would block
                // every member's sending until some admin commits it.
                Err(hostile(t!("engine-sync-proposal")))
            }
            ProcessedMessageContent::ExternalJoinProposalMessage(_) => {
                Err(hostile(t!("engine-sync-external-join")))
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let who = sender.ok_or_else(|| hostile(t!("engine-sync-commit-no-credential")))?;
                self.apply_commit(g, m, msg, who, *staged, named, report)
            }
        }
    }

    /// Our own application message, back from the log. We cannot decrypt it; if its
    /// relay's answer was lost, its [`Unconfirmed`] entry (found by the bytes, which only
    /// we could have made) says what it was, and we do now what the answer would have.
    /// Otherwise it was done when the answer came (or the bytes merely claim our leaf,
    /// which any member can forge, and deserve nothing).
    fn own_echo(&self, g: &GroupRecord, msg: &Message, report: &mut SyncReport) -> Result<()> {
        let key = unconfirmed_key(&msg.payload);
        let ns = ns_unconfirmed(&g.relay_group);
        // Its counter is used up, whatever it did (a message without an effect too).
        self.confirm_counted(g, &key)?;
        let Some(entry) = self.get::<Unconfirmed>(&ns, &key)? else {
            return Ok(());
        };
        let claims = ns_claimed(&g.relay_group);
        if let Some(claimed) = self.get::<u64>(&claims, &key)? {
            self.db().delete(&claims, &key)?;
            if claimed == msg.seq {
                // The relay's answer was right: the message was shown there already.
                self.db().delete(&ns, &key)?;
                return Ok(());
            }
            // Shown at the relay's word until now: that place goes, unless a
            // message received there took it already.
            let at = msg_key(claimed, 0);
            let ours = self
                .get::<MessageRecord>(&ns_msgs(&g.relay_group), &at)?
                .is_some_and(|r| {
                    r.own && matches!(r.kind, RecordKind::Text(_) | RecordKind::File(_))
                });
            if ours {
                self.db().delete(&ns_msgs(&g.relay_group), &at)?;
            }
            self.alert_at(
                g,
                msg.seq,
                1,
                t!(
                    "engine-sync-wrong-number",
                    claimed = claimed.to_string(),
                    seq = msg.seq.to_string()
                ),
                report,
            )?;
        }
        self.apply_own(g, msg.seq, entry.effect, &key, report)
    }

    /// Shows what a sender's counter says about their messages before this one.
    fn counter_gap(
        &self,
        g: &GroupRecord,
        msg: &Message,
        who: &IdentityKey,
        counter: u64,
        report: &mut SyncReport,
    ) -> Result<()> {
        let name = self.display_name(&g.relay_group, who);
        let text = match self.note_counter(g, who, counter)? {
            super::counters::Gap::None => return Ok(()),
            super::counters::Gap::Missing(n) => {
                t!("engine-sync-counter-missing", n = n, name = &name)
            }
            super::counters::Gap::Behind => t!("engine-sync-counter-behind", name = &name),
        };
        // Filed just before the message, after a gap in the relay's numbers (999).
        self.alert_at(g, msg.seq.saturating_sub(1), 998, text, report)
            .map(drop)
    }

    /// Shows what a sender's view of the log says against ours (see `views`).
    fn view_gap(
        &self,
        g: &GroupRecord,
        msg: &Message,
        epoch: u64,
        who: &IdentityKey,
        view: &crate::payload::LogView,
        report: &mut SyncReport,
    ) -> Result<()> {
        let name = self.display_name(&g.relay_group, who);
        let text = match self.view_check(g, epoch, view)? {
            None => return Ok(()),
            Some(super::views::Mismatch::Withheld(n)) => {
                t!("engine-sync-view-withheld", n = n, name = &name)
            }
            Some(super::views::Mismatch::Different) => {
                t!("engine-sync-view-different", name = &name)
            }
        };
        // Filed just before the message (beside a counter's gap, 998).
        self.alert_at(g, msg.seq.saturating_sub(1), 997, text, report)
            .map(drop)
    }

    /// Records a notice of a log message (a commit, a member's message), at the time it
    /// happened.
    pub(crate) fn notice(
        &self,
        g: &GroupRecord,
        msg: &Message,
        sub: u16,
        sender: Option<IdentityKey>,
        text: String,
        report: &mut SyncReport,
    ) -> Result<()> {
        let r = MessageRecord {
            shared_by: None,
            expires: 0,
            seq: msg.seq,
            sub,
            // When it happened, not when this client read it (after a day offline the
            // timeline would otherwise jump forward at every notice and back after).
            time: event_time(msg),
            sender,
            own: false,
            kind: RecordKind::Notice(text),
        };
        self.add_record(g, r.clone())?;
        report.new.push(r);
        Ok(())
    }

    fn apply_body(
        &mut self,
        g: &mut GroupRecord,
        msg: &Message,
        who: IdentityKey,
        body: Body,
        report: &mut SyncReport,
    ) -> Result<()> {
        self.seen_after_move(g, &who)?;
        match body {
            Body::Text { text, sent_at } => {
                let r = MessageRecord {
                    shared_by: None,
                    expires: 0,
                    seq: msg.seq,
                    sub: 0,
                    // The sender's clock, but never in the future of ours.
                    time: sent_at.min(now_secs()),
                    sender: Some(who),
                    own: false,
                    kind: RecordKind::Text(clean_text(&text)),
                };
                self.add_record(g, r.clone())?;
                report.new.push(r);
                Ok(())
            }
            Body::Profile { name } => {
                let name = clean_name(&name, MAX_NAME_CHARS);
                if name.is_empty() {
                    return Ok(());
                }
                let old = g.names.insert(who, name.clone());
                self.save_group(g)?;
                match old {
                    Some(o) if o == name => {}
                    Some(o) => self.notice(
                        g,
                        msg,
                        0,
                        Some(who),
                        t!("engine-sync-renamed", old = o, name = &name),
                        report,
                    )?,
                    None => self.notice(
                        g,
                        msg,
                        0,
                        Some(who),
                        t!(
                            "engine-sync-named",
                            fingerprint = &fingerprint(&who)[..9],
                            name = &name
                        ),
                        report,
                    )?,
                }
                // A name another member has, or a verified contact had: loud, on every
                // profile message that carries it (a client sends one when it joins).
                for (i, text) in self.name_alerts(g, &who, &name)?.into_iter().enumerate() {
                    let r = MessageRecord {
                        shared_by: None,
                        expires: 0,
                        seq: msg.seq,
                        sub: 1 + i as u16,
                        time: now_secs(),
                        sender: Some(who),
                        own: false,
                        kind: RecordKind::Alert(text),
                    };
                    self.add_record(g, r.clone())?;
                    report.new.push(r);
                }
                Ok(())
            }
            Body::LeaveRequest => {
                g.leaving.insert(who);
                self.save_group(g)?;
                let text = t!(
                    "engine-sync-leaving",
                    name = self.display_name(&g.relay_group, &who)
                );
                self.notice(g, msg, 0, Some(who), text, report)
            }
            Body::File(file) => self.on_file(g, msg, who, file, report),
            // Issue 6 features; handled in the commits that build them.
            Body::History { to, entries, last } => {
                self.on_history(g, msg, who, to, entries, last, report)
            }
            Body::Delete { seq } => self.on_delete(g, msg, who, seq, report),
            Body::HideFrom { member } => self.on_hide(g, msg, who, member, report),
            Body::DuressNotice => {
                // The sender's client says so; nothing here can prove it, so nothing is
                // done on its word (the leave request that follows is handled as any).
                let name = self.display_name(&g.relay_group, &who);
                let text = if g.state.is_admin(&self.profile.identity) {
                    t!("engine-duress-notice-admin", name = &name, group = &g.name)
                } else {
                    t!("engine-duress-notice", name = &name)
                };
                self.notice(g, msg, 0, Some(who), text, report)
            }
        }
    }

    /// Merges another member's commit, or refuses it; `named` is set when the refusal
    /// names the committer (whose signature was checked).
    #[allow(clippy::too_many_arguments)]
    fn apply_commit(
        &mut self,
        g: &mut GroupRecord,
        mut m: MlsGroup,
        msg: &Message,
        committer: IdentityKey,
        staged: StagedCommit,
        named: &mut bool,
        report: &mut SyncReport,
    ) -> Result<()> {
        let hostile = ClientError::Hostile;
        let old = g.state.clone();
        let new = GroupState::from_extensions(staged.group_context().extensions());
        let committer_admin = old.is_admin(&committer);
        let cname = self.display_name(&g.relay_group, &committer);
        // A change against the rules. Malformed commits are refused outright (above and
        // below); a well-formed one that breaks Kith's rules cannot be refused without
        // leaving this member behind the relay's epoch for good, so it is merged for
        // the keys, its effect on the state is not accepted, and the group is on hold
        // until an admin's client undoes it (see `repair`).
        let mut offense: Option<String> = None;

        let mut added = Vec::new();
        for add in staged.add_proposals() {
            let leaf = add.add_proposal().key_package().leaf_node();
            let id = identity::identity_of(
                leaf.credential().serialized_content(),
                leaf.signature_key().as_slice(),
            )
            .ok_or_else(|| {
                *named = true;
                hostile(t!("engine-sync-add-malformed", name = &cname))
            })?;
            added.push(id);
        }
        let mut removed = Vec::new();
        for rem in staged.remove_proposals() {
            let idx = rem.remove_proposal().removed();
            let id = m
                .member_at(idx)
                .and_then(|x| {
                    identity::identity_of(x.credential.serialized_content(), &x.signature_key)
                })
                .ok_or_else(|| hostile(t!("engine-sync-remove-unknown")))?;
            let proposer = match rem.sender() {
                Sender::Member(i) => m.member_at(*i).and_then(|x| {
                    identity::identity_of(x.credential.serialized_content(), &x.signature_key)
                }),
                _ => None,
            };
            let leaving = proposer == Some(id) || g.leaving.contains(&id);
            if !leaving && !committer_admin {
                // A removal cannot be undone by a repair (the removed member would have
                // to be invited again, and a removed last admin could not even do that):
                // not merged at all. Like a commit nobody can process, an admin's client
                // voids it at the relay (`repair`), and the group goes on from before it.
                *named = true;
                return Err(hostile(t!(
                    "engine-sync-remove-not-admin",
                    name = &cname,
                    member = self.display_name(&g.relay_group, &id)
                )));
            }
            removed.push((id, leaving));
        }
        if staged.update_proposals().next().is_some() {
            return Err(hostile(t!("engine-sync-update-proposal", name = &cname)));
        }
        if let Some(leaf) = staged.update_path_leaf_node() {
            let id = identity::identity_of(
                leaf.credential().serialized_content(),
                leaf.signature_key().as_slice(),
            );
            if id != Some(committer) {
                *named = true;
                return Err(hostile(t!("engine-sync-identity-changed", name = &cname)));
            }
        }
        let mut members_after = super::member_ids(&m);
        for (id, _) in &removed {
            members_after.remove(id);
        }
        members_after.extend(added.iter().copied());
        // The committer's change is what it did to the MLS group context; it is judged
        // against the state we accept (the same, unless the group is on hold).
        let changed = new != GroupState::of(&m);
        let verdict = if changed {
            state::check_change(&old, &new, &committer, &members_after, added.len())
        } else if !added.is_empty() && !committer_admin {
            Err(t!("engine-state-refusal-add"))
        } else {
            Ok(())
        };
        if let Err(why) = verdict {
            offense.get_or_insert(why);
        }
        // An admission names the invite it used (the one it closes). It must not have
        // expired, and a member's must add the one who really answered that code: checked
        // against the relay's answer at the end of this sync (`check_admissions`).
        let admission = if added.is_empty() {
            None
        } else {
            old.invites
                .iter()
                .find(|(k, _)| !new.invites.contains_key(*k))
        };
        if let Some((slot, inv)) = admission {
            if inv.expires_at < msg.stored_at {
                offense.get_or_insert_with(|| t!("engine-sync-refusal-expired-invite"));
            }
            if let ([joiner], Some(secret), false) =
                (added.as_slice(), &inv.secret, committer_admin)
            {
                self.note_admission_check(g, *slot, secret.clone(), *joiner, committer, msg.seq)?;
            }
        }
        let self_removed = staged.self_removed();
        m.merge_staged_commit(&self.provider, staged).map_err(mls)?;
        self.forget_counters(g, added.iter().chain(removed.iter().map(|(id, _)| id)))?;
        self.forget_knocks_of(g, &added)?;
        let mut mem = self.commit_memory(&g.relay_group)?;
        mem.last = Some((msg.seq, committer, m.epoch().as_u64()));
        mem.refused = None;
        self.save_commit_memory(&g.relay_group, &mem)?;
        if let Some(why) = offense {
            return self.record_offense(g, m, msg, committer, &why, &added, self_removed, report);
        }

        let mut sub = 0;
        let used_invite = old
            .invites
            .iter()
            .find(|(k, _)| !new.invites.contains_key(*k));
        // A member let back in (their old leaf removed, a fresh one added) is one event.
        let back: Vec<IdentityKey> = added
            .iter()
            .filter(|id| removed.iter().any(|(r, _)| r == *id))
            .copied()
            .collect();
        for id in &back {
            let text = if *id == self.identity() {
                t!("engine-sync-let-you-back", by = &cname)
            } else {
                t!(
                    "engine-sync-let-back",
                    by = &cname,
                    name = self.display_name(&g.relay_group, id)
                )
            };
            self.notice(g, msg, sub, Some(committer), text, report)?;
            sub += 1;
        }
        for id in added.iter().filter(|id| !back.contains(id)) {
            let fp = &fingerprint(id)[..9];
            let text = match used_invite {
                Some((_, inv)) if inv.by != committer => t!(
                    "engine-sync-added-invited",
                    by = &cname,
                    fingerprint = fp,
                    inviter = self.display_name(&g.relay_group, &inv.by)
                ),
                _ => t!("engine-sync-added", by = &cname, fingerprint = fp),
            };
            self.notice(g, msg, sub, Some(committer), text, report)?;
            sub += 1;
        }
        for (id, leaving) in removed.iter().filter(|(id, _)| !back.contains(id)) {
            let name = self.display_name(&g.relay_group, id);
            let text = if *id == self.identity() {
                t!("engine-sync-removed-you", by = &cname)
            } else if *leaving {
                t!("engine-sync-member-left", name = &name)
            } else {
                t!("engine-sync-removed", by = &cname, name = &name)
            };
            self.notice(g, msg, sub, Some(committer), text, report)?;
            sub += 1;
            g.leaving.remove(id);
        }
        if changed {
            let names = |id: &IdentityKey| self.display_name(&g.relay_group, id);
            let changes = state::describe_change(&old, &new, Some(&cname), &names);
            for text in changes {
                self.notice(g, msg, sub, Some(committer), text, report)?;
                sub += 1;
            }
            g.state = new.clone();
            if self.follow_home(g, &old, &members_after)? {
                report.moved = true;
                let text = t!("engine-sync-moved", by = &cname, relay = &g.relay);
                self.notice(g, msg, sub, Some(committer), text, report)?;
            }
        }
        self.seen_after_move(g, &committer)?;
        if changed {
            let closed: Vec<[u8; 32]> = old
                .invites
                .keys()
                .filter(|k| !new.invites.contains_key(*k) && used_invite.map(|u| u.0) != Some(*k))
                .copied()
                .collect();
            self.tell_closed_codes(g, msg.seq, &closed, report)?;
        }
        self.update_taint(g, &m);
        // Join requests whose invite is no longer open were decided by another admin.
        let accepted = g.state.clone();
        self.drop_decided_requests(g, &accepted)?;
        if self_removed {
            self.forget_group(g, &mut m, committer)?;
        }
        self.save_group(g)?;
        Ok(())
    }

    pub(crate) fn drop_decided_requests(&self, g: &GroupRecord, state: &GroupState) -> Result<()> {
        let ns = ns_requests(&g.relay_group);
        for (key, _) in self.scan::<JoinRequest>(&ns)? {
            if !state.invites.keys().any(|k| k[..] == key[..]) {
                self.db().delete(&ns, &key)?;
            }
        }
        Ok(())
    }

    /// Merges our own commit once the relay accepted it (`seq`), and records what it did.
    pub(crate) fn finish_own_commit(
        &mut self,
        group: &GroupId,
        seq: u64,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut g = self.load_group(group)?;
        let Some(p) = g.pending.take() else {
            return Ok(());
        };
        let mut m = self.mls_group(&g)?;
        let old = g.state.clone();
        let readded = match &p.purpose {
            CommitPurpose::Add { identity, .. } => super::member_index(&m, identity).is_some(),
            _ => false,
        };
        m.merge_pending_commit(&self.provider).map_err(mls)?;
        // Our commits are made from the state we accept, so what they set is accepted.
        let new_state = GroupState::of(&m);
        g.state = new_state.clone();
        self.update_taint(&mut g, &m);
        g.cursor = g.cursor.max(seq + 1);
        let mut new = Vec::new();
        let me = self.identity();
        let note = |text: String, sub: u16| MessageRecord {
            shared_by: None,
            expires: 0,
            seq,
            sub,
            time: now_secs(),
            sender: Some(me),
            own: true,
            kind: RecordKind::Notice(text),
        };
        let admitted = match &p.purpose {
            CommitPurpose::Add { slot, .. } => Some(*slot),
            _ => None,
        };
        match p.purpose {
            CommitPurpose::Add {
                slot,
                identity,
                name,
            } => {
                g.names.insert(identity, name.clone());
                self.forget_counters(&g, [&identity])?;
                let fp = &fingerprint(&identity)[..9];
                let text = if readded {
                    t!("engine-sync-you-let-back", name = &name, fingerprint = fp)
                } else {
                    t!("engine-sync-you-added", name = &name, fingerprint = fp)
                };
                new.push(note(text, 0));
                let ns = ns_invites(&g.relay_group);
                if let Some(mut inv) = self.get::<AdminInvite>(&ns, &slot)?
                    && let (Some(key), Some(welcome)) = (inv.welcome_key.clone(), p.welcome)
                {
                    // The tree of the epoch the joiner joins: the one just merged.
                    let ratchet_tree = m
                        .export_ratchet_tree()
                        .tls_serialize_detached()
                        .map_err(|e| ClientError::Mls(e.to_string()))?;
                    let bundle = crate::seal::WelcomeBundle {
                        welcome,
                        ratchet_tree,
                        start_seq: seq + 1,
                        names: g.names.iter().map(|(k, v)| (*k, v.clone())).collect(),
                    };
                    let blob =
                        crate::seal::seal_welcome(&kith_protocol::SlotId(slot), &key, &bundle)
                            .map_err(|e| ClientError::Mls(e.to_string()))?;
                    inv.welcome_blob = Some(blob);
                    self.put(&ns, &slot, &inv)?;
                }
            }
            CommitPurpose::Remove { identities } => {
                for (i, id) in identities.iter().enumerate() {
                    let name = g.names.get(id).cloned().unwrap_or_else(|| fingerprint(id));
                    new.push(note(t!("engine-sync-you-removed", name = name), i as u16));
                }
            }
            CommitPurpose::Update => g.last_update = now_secs(),
            CommitPurpose::Leaves { identities } => {
                for (i, id) in identities.iter().enumerate() {
                    let name = g.names.get(id).cloned().unwrap_or_else(|| fingerprint(id));
                    new.push(note(t!("engine-sync-member-left", name = name), i as u16));
                    g.leaving.remove(id);
                }
            }
            CommitPurpose::State => {}
        }
        // The state's own changes are told from before and after, as for anyone's commit.
        let names = |id: &IdentityKey| {
            g.names
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("[{}]", &fingerprint(id)[..9]))
        };
        let base = new.len() as u16;
        let told = state::describe_change(&old, &new_state, None, &names);
        for (i, text) in told.into_iter().enumerate() {
            new.push(note(text, 100 + base + i as u16));
        }
        self.drop_decided_requests(&g, &new_state)?;
        // A move of ours: we go first (and set the new home up, at the next request).
        let moved = self.follow_home(&mut g, &old, &super::member_ids(&m))?;
        if moved {
            let text = t!("engine-sync-you-moved", relay = &g.relay);
            new.push(note(text, 99));
        }
        let closed: Vec<[u8; 32]> = old
            .invites
            .keys()
            .filter(|k| !new_state.invites.contains_key(*k) && admitted != Some(**k))
            .copied()
            .collect();
        let told = self.tell_closed_codes(&g, seq, &closed, &mut SyncReport::default())?;
        for r in &new {
            self.add_record(&g, r.clone())?;
        }
        new.extend(told);
        self.save_group(&g)?;
        report.new.extend(new);
        report.moved |= moved;
        Ok(())
    }

    async fn commit_leave_requests(&mut self, group: &GroupId) -> Result<()> {
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active || g.leaving.is_empty() {
            return Ok(());
        }
        let me = self.identity();
        let leaving = g.leaving.clone();
        let committed = self
            .commit_change(group, |_, _, m, state| {
                if !state.is_admin(&me) {
                    return Ok(None);
                }
                let mut next = state.clone();
                let mut removes = Vec::new();
                let mut gone = Vec::new();
                for id in leaving.iter().filter(|id| **id != me) {
                    if let Some(i) = super::member_index(m, id) {
                        removes.push(i);
                        gone.push(*id);
                        next.admins.remove(id);
                    }
                }
                if removes.is_empty() {
                    return Ok(None);
                }
                Ok(Some(super::Change {
                    removes,
                    state: (next != *state).then_some(next),
                    purpose: CommitPurpose::Leaves { identities: gone },
                    ..super::Change::default()
                }))
            })
            .await?;
        if !committed {
            // Nobody left to remove (or we are no admin): forget requests already done.
            let mut g = self.load_group(group)?;
            let m = self.mls_group(&g)?;
            let members = super::member_ids(&m);
            g.leaving.retain(|id| members.contains(id));
            self.save_group(&g)?;
            self.db().commit()?;
        }
        Ok(())
    }

    async fn maybe_self_update(&mut self, group: &GroupId) -> Result<()> {
        let g = self.load_group(group)?;
        if g.status == GroupStatus::Active
            && !g.tainted
            && now_secs().saturating_sub(g.last_update) >= super::SELF_UPDATE_EVERY_SECS
        {
            match self.self_update(group).await {
                Ok(()) | Err(ClientError::CommitLocked) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Commits an update of our own leaf now; returns the new epoch.
    pub async fn update_own_keys(&mut self, group: &GroupId) -> Result<u64> {
        self.sync_group_inner(group).await?;
        self.self_update(group).await?;
        let g = self.load_group(group)?;
        Ok(self.mls_group(&g)?.epoch().as_u64())
    }

    async fn self_update(&mut self, group: &GroupId) -> Result<()> {
        for _ in 0..8 {
            let g = self.load_group(group)?;
            self.may_send(&g)?;
            let mut m = self.mls_group(&g)?;
            let (commit, _, _) = m
                .self_update(&self.provider, &self.signer, LeafNodeParameters::default())
                .map_err(mls)?
                .into_contents();
            if self
                .post_commit(group, m, commit, None, CommitPurpose::Update)
                .await?
            {
                return Ok(());
            }
            self.sync_group_inner(group).await?;
        }
        Err(ClientError::Relay(crate::relay::RelayError::Relay(
            kith_protocol::ErrorCode::StaleEpoch,
        )))
    }

    /// Catch-up without admin work (used between retries of our own commits).
    pub(crate) async fn sync_group_inner(&mut self, group: &GroupId) -> Result<()> {
        Box::pin(self.sync_group(group, false)).await.map(|_| ())
    }
}

impl Client {
    /// Records a commit that broke the rules but was merged (see `apply_commit`).
    #[allow(clippy::too_many_arguments)]
    fn record_offense(
        &mut self,
        g: &mut GroupRecord,
        mut m: MlsGroup,
        msg: &Message,
        committer: IdentityKey,
        why: &str,
        added: &[IdentityKey],
        self_removed: bool,
        report: &mut SyncReport,
    ) -> Result<()> {
        let cname = self.display_name(&g.relay_group, &committer);
        g.offenders.insert(committer);
        g.intruders.extend(added.iter().copied());
        let text = t!("engine-sync-offense", name = &cname, why = why);
        self.alert_at(g, msg.seq, 0, text, report)?;
        if self_removed {
            self.forget_group(g, &mut m, committer)?;
        } else {
            self.update_taint(g, &m);
        }
        self.save_group(g)?;
        Ok(())
    }

    /// We were removed by `by`'s commit: the group's keys and admin work go.
    fn forget_group(&self, g: &mut GroupRecord, m: &mut MlsGroup, by: IdentityKey) -> Result<()> {
        g.status = GroupStatus::Removed { by: Some(by) };
        m.delete(self.provider.storage()).map_err(mls)?;
        self.forget_group_secrets(g)
    }

    /// Whether the group holds something we refused: a state that differs from the
    /// one we accept, or a member added against the rules.
    pub(crate) fn update_taint(&self, g: &mut GroupRecord, m: &MlsGroup) {
        let members = super::member_ids(m);
        g.intruders.retain(|i| members.contains(i));
        g.offenders.retain(|o| members.contains(o));
        g.tainted = !g.intruders.is_empty() || GroupState::of(m) != g.state;
    }

    /// As an admin, undoes a change that broke the rules: one commit that removes the
    /// members it added and sets the group state back to the one we accept.
    async fn repair(&mut self, group: &GroupId) -> Result<()> {
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active || !g.tainted || !g.state.is_admin(&self.identity()) {
            return Ok(());
        }
        let intruders = g.intruders.clone();
        self.commit_change_inner(group, true, |_, g, m, state| {
            if !g.tainted {
                return Ok(None);
            }
            let mut removes = Vec::new();
            let mut gone = Vec::new();
            for id in &intruders {
                if let Some(i) = super::member_index(m, id) {
                    removes.push(i);
                    gone.push(*id);
                }
            }
            let members: std::collections::BTreeSet<IdentityKey> = super::member_ids(m)
                .into_iter()
                .filter(|id| !gone.contains(id))
                .collect();
            let mut next = state.clone();
            next.admins.retain(|a| members.contains(a));
            Ok(Some(super::Change {
                removes,
                state: Some(next),
                purpose: CommitPurpose::Remove { identities: gone },
                ..super::Change::default()
            }))
        })
        .await?;
        Ok(())
    }
}

/// When a log message happened, as well as this client can tell: when the relay stored
/// it (a commit carries no time of its own; the relay's clock is not trusted, so never
/// later than ours), or now if the relay gave no time.
pub(crate) fn event_time(msg: &Message) -> u64 {
    match msg.stored_at {
        0 => now_secs(),
        t => t.min(now_secs()),
    }
}
