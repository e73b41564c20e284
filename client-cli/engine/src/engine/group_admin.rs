//! Running a group: roles, the pinned board, settings, join approval, moderation and
//! history for newcomers.
//!
//! Every change to roles, board or settings is a commit that changes the MLS-agreed
//! group state (state.rs), which every client checks before merging. Moderation
//! (deleting a message for everyone, hiding a removed member's messages) travels as
//! application messages that every client obeys only when they come from an admin (or,
//! for deleting, from the message's own sender).

use super::records::*;
use super::state::{
    self, BoardEntry, GroupState, MAX_BOARD_ENTRIES, MAX_BOARD_TEXT_BYTES, MAX_BOARD_TITLE_CHARS,
};
use super::{Change, Client, ClientError, Result, SyncReport, clean_name, clean_text, now_secs};
use crate::identity::{IdentityKey, fingerprint};
use crate::payload::{Body, HistoryContent, HistoryEntry, MAX_NAME_CHARS};
use kith_i18n::t;
use kith_protocol::{GroupId, Message, Seq};

/// The most bytes of shared history per message (several messages carry more).
const HISTORY_PART_BYTES: usize = 256 * 1024;

/// A join request as `kith requests` shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RequestInfo {
    /// 1-based position in the list (what `kith approve N` takes).
    pub number: usize,
    /// The name the joiner gave.
    pub name: String,
    /// The joiner's fingerprint (compare it with them out of band).
    pub fingerprint: String,
    /// The joiner's identity key, hex.
    pub identity: String,
    /// Who made the invite.
    pub invited_by: String,
    /// When the request was seen, Unix seconds.
    pub seen_at: u64,
    /// A member whose copy of the group died (away too long) asks to be let back in,
    /// rather than someone new to join.
    pub comes_back: bool,
}

/// Cleans a board text: keeps newlines and tabs, drops other control characters.
fn clean_board_text(text: &str) -> String {
    clean_text(text).trim().to_owned()
}

impl Client {
    /// The group's shared state as of our epoch.
    pub fn group_state(&self, group: &GroupId) -> Result<GroupState> {
        Ok(self.load_group(group)?.state)
    }

    /// The pinned board, cleaned for display (an admin's hostile client could have put
    /// terminal escape sequences in it; the state itself is kept as agreed).
    pub fn board(&self, group: &GroupId) -> Result<Vec<BoardEntry>> {
        let mut board = self.group_state(group)?.board;
        for e in &mut board {
            e.title = clean_name(&e.title, MAX_BOARD_TITLE_CHARS);
            e.text = clean_board_text(&e.text);
        }
        Ok(board)
    }

    /// Why the group is on hold (a member made a change without the right to, and no
    /// admin's client has undone it yet), or `None`.
    pub fn on_hold(&self, group: &GroupId) -> Result<Option<String>> {
        let g = self.load_group(group)?;
        Ok(g.tainted.then(|| self.taint_text(&g)))
    }

    /// Commits a change of the group state made by `edit` (admins only: `refusal` says
    /// so to a member who is not one); `edit` sees the current state and returns the new
    /// one, or an error to refuse.
    async fn change_state<F>(&mut self, group: &GroupId, refusal: String, mut edit: F) -> Result<()>
    where
        F: FnMut(&GroupState) -> Result<GroupState>,
    {
        let me = self.identity();
        self.commit_change(group, |_, _, m, state| {
            if !state.is_admin(&me) && super::own_role_checks() {
                return Err(ClientError::Usage(refusal.clone()));
            }
            let mut next = edit(state)?;
            // Every client refuses an admin who is not a member (state::check_change).
            let members = super::member_ids(m);
            if next
                .admins
                .iter()
                .any(|a| !members.contains(a) && !state.admins.contains(a))
            {
                return Err(ClientError::NoMember(t!("net-admin-not-a-member")));
            }
            next.admins.retain(|a| members.contains(a));
            Ok((next != *state).then(|| Change {
                state: Some(next),
                ..Change::default()
            }))
        })
        .await?;
        Ok(())
    }

    /// Makes a member an admin.
    pub async fn promote(&mut self, group: &GroupId, who: &IdentityKey) -> Result<()> {
        let who = *who;
        self.change_state(group, t!("net-admin-only-promote"), |s| {
            let mut n = s.clone();
            n.admins.insert(who);
            Ok(n)
        })
        .await
    }

    /// Makes an admin a member again. The last admin cannot step down while others
    /// remain: nobody could invite or remove any more.
    pub async fn demote(&mut self, group: &GroupId, who: &IdentityKey) -> Result<()> {
        let who = *who;
        self.change_state(group, t!("net-admin-only-demote"), |s| {
            if !s.is_admin(&who) {
                return Err(ClientError::Usage(t!("net-admin-not-an-admin")));
            }
            if s.admins.len() == 1 {
                return Err(ClientError::Usage(t!("net-admin-last-admin")));
            }
            let mut n = s.clone();
            n.admins.remove(&who);
            Ok(n)
        })
        .await
    }

    fn check_entry(title: &str, text: &str) -> Result<(String, String)> {
        let title = clean_name(title, MAX_BOARD_TITLE_CHARS + 1);
        let text = clean_board_text(text);
        if title.is_empty() {
            return Err(ClientError::Usage(t!("net-board-needs-title")));
        }
        if title.chars().count() > MAX_BOARD_TITLE_CHARS {
            return Err(ClientError::Usage(t!(
                "net-board-title-too-long",
                n = MAX_BOARD_TITLE_CHARS
            )));
        }
        if text.len() > MAX_BOARD_TEXT_BYTES {
            return Err(ClientError::Usage(t!(
                "net-board-text-too-long",
                limit = kith_i18n::size(MAX_BOARD_TEXT_BYTES as u64),
                size = kith_i18n::size(text.len() as u64)
            )));
        }
        Ok((title, text))
    }

    /// Pins a new entry to the board; returns its id.
    pub async fn board_add(&mut self, group: &GroupId, title: &str, text: &str) -> Result<u32> {
        let (title, text) = Self::check_entry(title, text)?;
        let me = self.identity();
        let mut id = 0;
        self.change_state(group, t!("net-admin-only-board"), |s| {
            if s.board.len() >= MAX_BOARD_ENTRIES {
                return Err(ClientError::Usage(t!(
                    "net-board-full",
                    n = MAX_BOARD_ENTRIES
                )));
            }
            let mut n = s.clone();
            id = n.next_entry;
            n.next_entry += 1;
            n.board.push(BoardEntry {
                id,
                title: title.clone(),
                text: text.clone(),
                by: me,
                at: now_secs(),
            });
            Ok(n)
        })
        .await?;
        Ok(id)
    }

    /// Edits a board entry's title and/or text.
    pub async fn board_edit(
        &mut self,
        group: &GroupId,
        id: u32,
        title: Option<&str>,
        text: Option<&str>,
    ) -> Result<()> {
        let me = self.identity();
        let (title, text) = (title.map(str::to_owned), text.map(str::to_owned));
        self.change_state(group, t!("net-admin-only-board"), |s| {
            let mut n = s.clone();
            let e = n
                .board
                .iter_mut()
                .find(|e| e.id == id)
                .ok_or_else(|| ClientError::Usage(t!("net-board-no-entry", id = id)))?;
            let (t, x) = Self::check_entry(
                title.as_deref().unwrap_or(&e.title),
                text.as_deref().unwrap_or(&e.text),
            )?;
            e.title = t;
            e.text = x;
            e.by = me;
            e.at = now_secs();
            Ok(n)
        })
        .await
    }

    /// Removes a board entry.
    pub async fn board_rm(&mut self, group: &GroupId, id: u32) -> Result<()> {
        self.change_state(group, t!("net-admin-only-board"), |s| {
            let mut n = s.clone();
            let before = n.board.len();
            n.board.retain(|e| e.id != id);
            if n.board.len() == before {
                return Err(ClientError::Usage(t!("net-board-no-entry", id = id)));
            }
            Ok(n)
        })
        .await
    }

    /// What a disappearing timer of `secs` would delete from the relay at once: the
    /// messages and files (counted from our own history) that the relay keeps now and
    /// that are older than `secs`. Members who have not fetched them yet lose them.
    pub fn lost_to_timer(&self, group: &GroupId, secs: u64) -> Result<(usize, usize)> {
        let g = self.load_group(group)?;
        let kept_now = match g.state.disappear_secs {
            0 => self
                .relay_retention(group)
                .unwrap_or(kith_protocol::limits::DEFAULT_RETENTION_SECS),
            s => s,
        };
        if secs == 0 || secs >= kept_now {
            return Ok((0, 0));
        }
        let now = now_secs();
        let (mut messages, mut files) = (0, 0);
        for r in self.messages(group)? {
            let age = now.saturating_sub(r.time);
            if age < secs || age >= kept_now {
                continue;
            }
            match r.kind {
                RecordKind::Text(_) => messages += 1,
                RecordKind::File(_) => files += 1,
                _ => {}
            }
        }
        Ok((messages, files))
    }

    /// Sets the disappearing-messages timer (seconds, 0 = off), how many recent messages
    /// newcomers receive (0 = none), and whether members who were away too long are let
    /// back in without asking an admin.
    pub async fn set_settings(
        &mut self,
        group: &GroupId,
        disappear_secs: Option<u64>,
        history: Option<u16>,
        let_back: Option<bool>,
    ) -> Result<()> {
        if let Some(d) = disappear_secs
            && d != 0
            && !(state::MIN_DISAPPEAR_SECS..=state::MAX_DISAPPEAR_SECS).contains(&d)
        {
            return Err(ClientError::Usage(t!(
                "net-settings-timer-range",
                min = kith_i18n::duration(state::MIN_DISAPPEAR_SECS),
                max = kith_i18n::duration(state::MAX_DISAPPEAR_SECS)
            )));
        }
        if let Some(h) = history
            && h > state::MAX_HISTORY
        {
            return Err(ClientError::Usage(t!(
                "net-settings-history-too-long",
                n = state::MAX_HISTORY
            )));
        }
        self.change_state(group, t!("net-admin-only-settings"), |s| {
            let mut n = s.clone();
            if let Some(d) = disappear_secs {
                n.disappear_secs = d;
            }
            if let Some(h) = history {
                n.history = h;
            }
            if let Some(b) = let_back {
                n.let_back = b;
            }
            Ok(n)
        })
        .await?;
        // The relay's retention follows the timer: the commit told it (an admin request,
        // see `commit_change_inner`).
        self.purge_expired()?;
        Ok(())
    }

    /// Adds fallback relays (at the end, in order) and removes others (admins). Each must
    /// be a relay address (`ws[s]://host[:port]`); at most [`state::MAX_FALLBACKS`]. Each
    /// new one is checked first: it must let a member set the group up there, with the
    /// creation secret in KITH_CREATION_SECRET if it asks for one (which then goes into
    /// the group's state, for that relay only). Returns what the user should know: a
    /// fallback that could not be reached to check.
    pub async fn set_fallbacks(
        &mut self,
        group: &GroupId,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>> {
        let parse = |u: &String| {
            state::relay_url(u)
                .ok_or_else(|| ClientError::Usage(t!("net-fallback-not-an-address", url = u)))
        };
        let add: Vec<String> = add.iter().map(parse).collect::<Result<_>>()?;
        let remove: Vec<String> = remove.iter().map(parse).collect::<Result<_>>()?;
        let g = self.load_group(group)?;
        let home = self.home_place(&g);
        if add.contains(&home.url) {
            return Err(ClientError::Usage(t!("net-fallback-is-home")));
        }
        let mut secrets = Vec::new();
        let mut notes = Vec::new();
        for url in add.iter().filter(|u| !g.state.fallbacks.contains(u)) {
            match self.relay_takes_groups(url, &g.mls_group_id).await {
                Ok(Some(secret)) => secrets.push((url.clone(), secret)),
                Ok(None) => {}
                Err(ClientError::Relay(e)) => notes.push(t!(
                    "net-fallback-unchecked",
                    url = url,
                    why = e.to_string(),
                    var = "KITH_CREATION_SECRET"
                )),
                Err(e) => return Err(e),
            }
        }
        self.change_state(group, t!("net-admin-only-relays"), |s| {
            let mut n = s.clone();
            n.fallbacks.retain(|u| !remove.contains(u));
            for u in &add {
                if !n.fallbacks.contains(u) {
                    n.fallbacks.push(u.clone());
                }
            }
            for (url, secret) in &secrets {
                n.creation_secrets
                    .insert(url.clone(), state::CreationSecret(secret.clone()));
            }
            let named: Vec<String> = n
                .fallbacks
                .iter()
                .chain(n.home.iter().map(|h| &h.url))
                .cloned()
                .collect();
            n.creation_secrets.retain(|u, _| named.contains(u));
            if !n.fallbacks.is_empty() {
                // A member who joins on a fallback must still know where home is, and
                // every member must be able to find the fallbacks' copies.
                n.home.get_or_insert_with(|| home.clone());
                n.copy_key.get_or_insert_with(rand::random);
            }
            if n.fallbacks.len() > state::MAX_FALLBACKS {
                return Err(ClientError::Usage(t!(
                    "net-fallback-too-many",
                    n = state::MAX_FALLBACKS
                )));
            }
            Ok(n)
        })
        .await?;
        Ok(notes)
    }

    // ---- moderation --------------------------------------------------------------

    /// Deletes a message for everyone: our own, or anyone's if we are an admin.
    pub async fn delete_message(&mut self, group: &GroupId, seq: Seq) -> Result<()> {
        self.sync_group_inner(group).await?;
        let r: MessageRecord = self
            .get(&ns_msgs(group), &msg_key(seq, 0))?
            .filter(|r: &MessageRecord| matches!(r.kind, RecordKind::Text(_) | RecordKind::File(_)))
            .ok_or_else(|| ClientError::Usage(t!("net-delete-no-message", seq = seq)))?;
        let me = self.identity();
        if r.sender != Some(me)
            && !self.group_state(group)?.is_admin(&me)
            && super::own_role_checks()
        {
            return Err(ClientError::Usage(t!("net-admin-only-delete")));
        }
        self.send_body(group, Body::Delete { seq }).await?;
        Ok(())
    }

    /// Marks our record of message `seq` deleted by `by`; whether there was one to mark.
    pub(crate) fn mark_deleted(&self, g: &GroupRecord, seq: Seq, by: &IdentityKey) -> Result<bool> {
        let ns = ns_msgs(&g.relay_group);
        let key = msg_key(seq, 0);
        match self.get::<MessageRecord>(&ns, &key)? {
            Some(mut r) if matches!(r.kind, RecordKind::Text(_) | RecordKind::File(_)) => {
                r.kind = RecordKind::Deleted { by: *by };
                self.put_record(&ns, &key, &r)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Replaces every text and file of `who` with a deletion mark.
    pub(crate) fn hide_messages_of(
        &self,
        g: &GroupRecord,
        who: &IdentityKey,
        by: &IdentityKey,
    ) -> Result<usize> {
        let ns = ns_msgs(&g.relay_group);
        let mut n = 0;
        for (key, mut r) in self.scan::<MessageRecord>(&ns)? {
            if r.sender == Some(*who) && matches!(r.kind, RecordKind::Text(_) | RecordKind::File(_))
            {
                r.kind = RecordKind::Deleted { by: *by };
                self.put_record(&ns, &key, &r)?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub(crate) fn on_delete(
        &mut self,
        g: &mut GroupRecord,
        msg: &Message,
        who: IdentityKey,
        seq: Seq,
        report: &mut SyncReport,
    ) -> Result<()> {
        let target: Option<MessageRecord> = self.get(&ns_msgs(&g.relay_group), &msg_key(seq, 0))?;
        let Some(target) = target else {
            return Ok(()); // gone already (expired, or never readable)
        };
        let admin = g.state.is_admin(&who);
        if target.sender != Some(who) && !admin {
            let name = self.display_name(&g.relay_group, &who);
            return Err(ClientError::Hostile(t!(
                "net-delete-not-admin",
                name = name
            )));
        }
        if self.mark_deleted(g, seq, &who)? {
            report.new.retain(|r| r.seq != seq);
            if target.sender != Some(who) {
                let text = t!(
                    "net-notice-deleted",
                    name = self.display_name(&g.relay_group, &who),
                    author = target
                        .sender
                        .map(|s| self.display_name(&g.relay_group, &s))
                        .unwrap_or_default()
                );
                self.notice(g, msg, 0, Some(who), text, report)?;
            }
        }
        Ok(())
    }

    pub(crate) fn on_hide(
        &mut self,
        g: &mut GroupRecord,
        msg: &Message,
        who: IdentityKey,
        member: IdentityKey,
        report: &mut SyncReport,
    ) -> Result<()> {
        let name = self.display_name(&g.relay_group, &who);
        if !g.state.is_admin(&who) {
            return Err(ClientError::Hostile(t!("net-hide-not-admin", name = &name)));
        }
        let n = self.hide_messages_of(g, &member, &who)?;
        report.new.retain(|r| r.sender != Some(member));
        let text = t!(
            "net-notice-hid",
            name = &name,
            member = self.display_name(&g.relay_group, &member),
            n = n
        );
        self.notice(g, msg, 0, Some(who), text, report)?;
        Ok(())
    }

    // ---- history for newcomers -----------------------------------------------------

    /// Hands the group's recent messages to a member we just admitted, when the group
    /// shares history. Always ends with a part marked last (possibly empty), which
    /// closes the newcomer's window for history.
    pub(crate) async fn send_history(&mut self, group: &GroupId, to: &IdentityKey) -> Result<()> {
        let n = self.group_state(group)?.history as usize;
        if n == 0 {
            return Ok(());
        }
        let records = self.messages(group)?;
        let mut entries: Vec<HistoryEntry> = records
            .into_iter()
            .filter_map(|r| {
                let content = match r.kind {
                    RecordKind::Text(t) => HistoryContent::Text(t),
                    RecordKind::File(f) => HistoryContent::File(f),
                    _ => return None,
                };
                Some(HistoryEntry {
                    sender: r.sender?,
                    time: r.time,
                    content,
                })
            })
            .collect();
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
        let mut parts: Vec<Vec<HistoryEntry>> = vec![Vec::new()];
        let mut size = 0;
        for e in entries {
            let len = postcard::to_stdvec(&e).map(|v| v.len()).unwrap_or(0);
            if size + len > HISTORY_PART_BYTES && !parts.last().is_some_and(Vec::is_empty) {
                parts.push(Vec::new());
                size = 0;
            }
            size += len;
            if let Some(p) = parts.last_mut() {
                p.push(e);
            }
        }
        let count = parts.len();
        for (i, entries) in parts.into_iter().enumerate() {
            let body = Body::History {
                to: *to,
                entries,
                last: i + 1 == count,
            };
            self.send_body(group, body).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_history(
        &mut self,
        g: &mut GroupRecord,
        msg: &Message,
        who: IdentityKey,
        to: IdentityKey,
        entries: Vec<HistoryEntry>,
        last: bool,
        report: &mut SyncReport,
    ) -> Result<()> {
        if to != self.identity() {
            return Ok(()); // for another newcomer
        }
        if g.history_from != Some(who) {
            let name = self.display_name(&g.relay_group, &who);
            return Err(ClientError::Hostile(t!(
                "net-history-unexpected",
                name = name
            )));
        }
        let now = now_secs();
        let join_seq = self
            .messages(&g.relay_group)?
            .iter()
            .find(|r| r.sub == u16::MAX)
            .map(|r| r.seq)
            .unwrap_or(msg.seq);
        for e in entries {
            let time = e.time.min(now);
            let ttl = g.state.disappear_secs;
            if ttl > 0 && time.saturating_add(ttl) <= now {
                continue;
            }
            let kind = match e.content {
                HistoryContent::Text(t) => RecordKind::Text(clean_text(&t)),
                HistoryContent::File(f) => RecordKind::File(f),
            };
            if g.history_next >= u16::MAX - 1 {
                break;
            }
            let r = MessageRecord {
                shared_by: Some(who),
                expires: 0,
                seq: join_seq,
                sub: g.history_next,
                time,
                sender: Some(e.sender),
                own: e.sender == self.identity(),
                kind,
            };
            g.history_next += 1;
            self.add_record(g, r.clone())?;
            report.new.push(r);
        }
        if last {
            g.history_from = None;
        }
        self.save_group(g)?;
        Ok(())
    }

    // ---- join approval -------------------------------------------------------------

    fn request_list(&self, group: &GroupId) -> Result<Vec<JoinRequest>> {
        let mut v: Vec<JoinRequest> = self
            .scan::<JoinRequest>(&ns_requests(group))?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        v.sort_by_key(|r| (r.seen_at, r.slot));
        Ok(v)
    }

    /// The join requests waiting for an admin's decision (as this admin has seen them;
    /// `kith sync` fetches new ones).
    pub fn requests(&self, group: &GroupId) -> Result<Vec<RequestInfo>> {
        let state = self.group_state(group)?;
        Ok(self
            .request_list(group)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| RequestInfo {
                comes_back: self.seen_knock(group, &r.slot).ok().flatten().is_some(),
                number: i + 1,
                name: clean_name(&r.name, MAX_NAME_CHARS),
                fingerprint: fingerprint(&r.identity),
                identity: kith_protocol::ids::hex(&r.identity),
                invited_by: state
                    .invites
                    .get(&r.slot)
                    .map(|i| self.display_name(group, &i.by))
                    .unwrap_or_default(),
                seen_at: r.seen_at,
            })
            .collect())
    }

    fn find_request(&self, group: &GroupId, query: &str) -> Result<JoinRequest> {
        let list = self.request_list(group)?;
        let q = query.trim();
        if let Ok(n) = q.parse::<usize>()
            && n >= 1
            && n <= list.len()
        {
            return Ok(list[n - 1].clone());
        }
        let qhex = q.replace(' ', "").to_ascii_lowercase();
        let hits: Vec<_> = list
            .into_iter()
            .filter(|r| {
                super::names::same(&r.name, q)
                    || (qhex.len() >= 4
                        && fingerprint(&r.identity).replace(' ', "").starts_with(&qhex))
            })
            .collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(ClientError::NoMember(t!("net-request-no-such", query = q))),
            n => Err(ClientError::NoMember(t!(
                "net-request-ambiguous",
                n = n,
                query = q
            ))),
        }
    }

    /// Approves a join request: adds the joiner (admins only).
    pub async fn approve(&mut self, group: &GroupId, query: &str) -> Result<String> {
        let req = self.find_request(group, query)?;
        let state = self.group_state(group)?;
        if !state.is_admin(&self.identity()) {
            return Err(ClientError::Usage(t!("net-admin-only-approve")));
        }
        if self.seen_knock(group, &req.slot)?.is_some() {
            return if self.let_back_in(group, &req).await? {
                Ok(req.name)
            } else {
                Err(ClientError::Usage(t!("net-request-decided")))
            };
        }
        let Some(open) = state.invites.get(&req.slot) else {
            self.db().delete(&ns_requests(group), &req.slot)?;
            self.db().commit()?;
            return Err(ClientError::Usage(t!("net-request-decided")));
        };
        let name = req.name.clone();
        let g = self.load_group(group)?;
        let secret = self
            .invite_secret(&g, &req.slot, open)
            .ok_or_else(|| ClientError::Usage(t!("net-request-secret-not-sealed")))?;
        let admitted = self.admit(group, secret, req.clone()).await?;
        self.db().delete(&ns_requests(group), &req.slot)?;
        self.db().commit()?;
        if !admitted {
            return Err(ClientError::Usage(t!("net-request-decided")));
        }
        Ok(name)
    }

    /// Denies a join request: closes its invite, so nobody can admit with it.
    pub async fn deny(&mut self, group: &GroupId, query: &str) -> Result<String> {
        let req = self.find_request(group, query)?;
        if self.seen_knock(group, &req.slot)?.is_some() {
            self.refuse_knock(group, &req.slot).await?;
            return Ok(clean_name(&req.name, MAX_NAME_CHARS));
        }
        let slot = req.slot;
        let g = self.load_group(group)?;
        let token = g
            .state
            .invites
            .get(&slot)
            .and_then(|i| self.invite_secret(&g, &slot, i))
            .map(|s| s.manage_token);
        self.change_state(group, t!("net-admin-only-deny"), |s| {
            let mut n = s.clone();
            n.invites.remove(&slot);
            Ok(n)
        })
        .await?;
        if let Some(manage_token) = token {
            let g = self.load_group(group)?;
            let conn = self.conn(&g.relay).await?;
            // Best effort: the slot expires anyway, and the invite is closed for every
            // member already.
            let _ = conn
                .request(kith_protocol::Request::DeleteInvite {
                    slot: kith_protocol::SlotId(slot),
                    manage_token,
                })
                .await;
        }
        self.db().delete(&ns_requests(group), &slot)?;
        self.db().commit()?;
        Ok(clean_name(&req.name, MAX_NAME_CHARS))
    }
}
