//! Going on without the home relay, and coming back (see `place.rs` for the design):
//! a sync whose place cannot be reached notes since when, and past
//! [`Client::failover_after`] goes to the first of home and fallbacks that takes the
//! group at our epoch (`fail_over`). A sync that reached its place looks around every
//! [`Client::look_every`] (`look_around`): from a fallback, at the home, to go back as
//! soon as it answers; from home, at the fallbacks, to tell of members writing there.

use super::place::{copy_id, first_seq_after};
use super::records::*;
use super::{Client, ClientError, Result, SyncReport, now_secs};
use crate::relay::RelayError;
use kith_i18n::t;
use kith_protocol::{ErrorCode, GroupId, Seq};
use openmls::group::MlsGroup;
use std::time::Duration;

/// Whether a failed sync means the group's place cannot be used now: the relay does not
/// answer (down, blocked), answers with a certificate that does not verify (something
/// intercepts), or does not know the group (wiped, seized and restored, deleted).
pub(crate) fn place_lost(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Relay(
            RelayError::Connect(_)
                | RelayError::Timeout(_)
                | RelayError::Closed(_)
                | RelayError::Certificate(_)
                | RelayError::Relay(ErrorCode::NoSuchGroup)
        )
    )
}

/// Where a client may go on: a relay, the group's id there, and whether a missing copy
/// may be set up there (a fallback) or not (the home: it is the sequencer only while it
/// has the group).
struct Candidate {
    url: String,
    id: GroupId,
    fallback: bool,
}

impl Client {
    /// How often a client that reaches its place looks at the group's other relays: as
    /// often as a member who cannot reach the home would fail over, at most every ten
    /// minutes.
    pub fn look_every(&self) -> Duration {
        self.failover_after.min(Duration::from_secs(600))
    }

    /// Notes that the group's place failed to answer now (kept from the first failure).
    /// Committed.
    pub fn note_unreachable(&self, group: &GroupId) -> Result<()> {
        let mut g = self.load_group(group)?;
        if g.place.unreachable_since == 0 {
            g.place.unreachable_since = now_secs();
            self.save_group(&g)?;
            self.db().commit()?;
        }
        Ok(())
    }

    /// When (Unix seconds) this client will go on elsewhere if the group's place still
    /// cannot be reached; `None` while it answers, or where there is nowhere to go.
    pub fn failover_at(&self, group: &GroupId) -> Result<Option<u64>> {
        let g = self.load_group(group)?;
        if g.place.unreachable_since == 0
            || g.status != GroupStatus::Active
            || (g.state.fallbacks.is_empty() && !self.away_from_home(&g))
        {
            return Ok(None);
        }
        Ok(Some(
            g.place
                .unreachable_since
                .saturating_add(self.failover_after.as_secs()),
        ))
    }

    /// A sync of `group` failed with `e` because its place cannot be used: past the
    /// threshold, go on at the first candidate that takes the group and sync there.
    /// Otherwise (or when none does) `e` stands.
    pub(crate) async fn when_unreachable(
        &mut self,
        group: &GroupId,
        admin_work: bool,
        e: ClientError,
    ) -> Result<SyncReport> {
        self.note_unreachable(group)?;
        match self.failover_at(group)? {
            Some(at) if now_secs() >= at => {}
            Some(at) => {
                return Err(match e {
                    ClientError::Relay(RelayError::Connect(why)) => {
                        ClientError::Relay(RelayError::Connect(t!(
                            "engine-failover-soon",
                            why = why,
                            wait = kith_i18n::duration(at.saturating_sub(now_secs()).max(1))
                        )))
                    }
                    e => e,
                });
            }
            None => return Err(e),
        }
        if !Box::pin(self.fail_over(group)).await? {
            return Err(e);
        }
        let mut report = Box::pin(self.sync_here(group, admin_work)).await?;
        report.moved = true;
        Ok(report)
    }

    /// Goes to the first of home and fallbacks (in the state's order) that takes the
    /// group at our epoch, setting a fallback's copy up if nobody has yet. Returns
    /// whether it went anywhere.
    async fn fail_over(&mut self, group: &GroupId) -> Result<bool> {
        let g = self.load_group(group)?;
        let m = self.mls_group(&g)?;
        let epoch = m.epoch().as_u64();
        let home = self.home_place(&g);
        let mut candidates = Vec::new();
        if self.away_from_home(&g) {
            candidates.push(Candidate {
                url: home.url.clone(),
                id: home.id,
                fallback: false,
            });
        }
        if let Some(key) = g.state.copy_key {
            for url in g.state.fallbacks.iter().filter(|u| **u != g.relay) {
                candidates.push(Candidate {
                    url: url.clone(),
                    id: copy_id(&key, url, epoch),
                    fallback: true,
                });
            }
        }
        let since = g.place.unreachable_since;
        for c in candidates {
            let start = match self.try_place(&g, &m, &c).await {
                Ok(Some(start)) => start,
                Ok(None) => continue,
                Err(e @ ClientError::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "a fallback did not take the group");
                    continue;
                }
            };
            let left = g.relay.clone();
            let mut g = self.load_group(group)?;
            let text = if c.fallback {
                t!(
                    "engine-failover-fallback",
                    left = &left,
                    since = kith_i18n::duration(now_secs().saturating_sub(since).max(1)),
                    fallback = &c.url,
                    home = &home.url
                )
            } else {
                t!("engine-failover-home", left = &left, home = &c.url)
            };
            self.go_on_at(
                &mut g,
                &c.url,
                c.id,
                start,
                text,
                &mut SyncReport::default(),
            )?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Goes on at `(url, id)` after a failover or a return home (reading from `start`
    /// where it never read before), marks what we wrote elsewhere to be posted again
    /// there (`reposts.rs`), and tells the user why, in an alert. Committed.
    fn go_on_at(
        &mut self,
        g: &mut GroupRecord,
        url: &str,
        id: GroupId,
        start: Seq,
        why: String,
        report: &mut SyncReport,
    ) -> Result<()> {
        self.switch_place(g, url, id, start, true)?;
        g.place.repost = true;
        self.save_group(g)?;
        self.db().commit()?;
        self.record_now(&g.relay_group, RecordKind::Alert(why), report)
    }

    /// Whether the candidate takes the group at our epoch; where it starts reading
    /// there if so. A fallback without the group gets it set up, its log starting above
    /// every number we read.
    async fn try_place(
        &mut self,
        g: &GroupRecord,
        m: &MlsGroup,
        c: &Candidate,
    ) -> Result<Option<Seq>> {
        let epoch = m.epoch().as_u64();
        let access = self.access_key(m)?;
        let start = first_seq_after(g.cursor.saturating_sub(1), epoch);
        let conn = self.conn(&c.url).await?;
        match conn.auth_info(c.id, epoch, &access).await {
            Ok(_) => {}
            Err(RelayError::Relay(ErrorCode::NoSuchGroup)) if c.fallback => {
                self.set_up_copy(g, m, &c.url, c.id, start).await?;
                conn.auth_info(c.id, epoch, &access).await?;
            }
            // Not at our epoch (ahead of us, or behind), not our key, or gone: not here.
            Err(RelayError::Relay(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        self.authed.insert((c.url.clone(), c.id, epoch));
        Ok(Some(if c.fallback { start } else { 0 }))
    }

    /// After a sync that reached the group's place: every [`Client::look_every`], from a
    /// fallback, go home if it takes us at our epoch again; from home, tell of copies on
    /// the fallbacks that others write to (a split: they cannot reach the home). Best
    /// effort: a relay that does not answer is looked at again next time.
    pub(crate) async fn look_around(
        &mut self,
        group: &GroupId,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut g = self.load_group(group)?;
        let now = now_secs();
        if g.status != GroupStatus::Active
            || now.saturating_sub(g.place.last_look) < self.look_every().as_secs()
        {
            return Ok(());
        }
        g.place.last_look = now;
        self.save_group(&g)?;
        self.db().commit()?;
        let m = self.mls_group(&g)?;
        let epoch = m.epoch().as_u64();
        let access = self.access_key(&m)?;
        if self.away_from_home(&g) {
            let home = self.home_place(&g);
            let info = async {
                let conn = self.conn(&home.url).await?;
                Ok::<_, ClientError>(conn.auth_info(home.id, epoch, &access).await?)
            }
            .await;
            // Home takes us at our epoch: it is the sequencer again.
            if let Ok(info) = info
                && info.current_epoch >= epoch
            {
                let was = g.relay.clone();
                // What we read there (our own included) is no news if we look there
                // from home later.
                g.place.seen.insert(was.clone(), g.cursor);
                let text = t!("engine-failover-back-home", home = &home.url, was = &was);
                self.go_on_at(&mut g, &home.url, home.id, 0, text, report)?;
                self.authed.insert((home.url.clone(), home.id, epoch));
                report.moved = true;
            }
            return Ok(());
        }
        let Some(key) = g.state.copy_key else {
            return Ok(());
        };
        let start = first_seq_after(g.cursor.saturating_sub(1), epoch);
        for url in g.state.fallbacks.clone() {
            let id = copy_id(&key, &url, epoch);
            let seen = g.place.seen.get(&url).copied().unwrap_or(start);
            let writers = async {
                let conn = self.conn(&url).await?;
                let head = conn.auth_info(id, epoch, &access).await?.head;
                if head <= seen {
                    return Ok((head, Default::default()));
                }
                let page = conn.fetch(id, seen, 64).await?;
                Ok::<_, ClientError>((head, self.writers_in(&g, page.messages)?))
            }
            .await;
            let (head, writers) = match writers {
                Ok(found) => found,
                Err(e @ ClientError::Store(_)) => return Err(e),
                // Nothing there (the usual case), or not reachable from here.
                Err(_) => continue,
            };
            if head <= seen {
                continue;
            }
            g.place.seen.insert(url.clone(), head);
            self.save_group(&g)?;
            self.db().commit()?;
            if writers.is_empty() {
                // The relay's word alone (nothing there opened as a member's message):
                // no evidence of anything, so nothing to say.
                continue;
            }
            let names: Vec<String> = writers
                .iter()
                .map(|w| self.display_name(group, w))
                .collect();
            let text = t!(
                "engine-failover-writers-elsewhere",
                names = names.join(", "),
                fallback = &url,
                relay = &g.relay
            );
            self.record_now(group, RecordKind::Alert(text), report)?;
        }
        Ok(())
    }

    /// Who wrote the messages of our epoch among `messages` (another copy's log): each
    /// is opened as a member's message would be, and everything that did to our state is
    /// rolled back, so that the copy is only looked at. Only a message that opens names
    /// its sender: the relay's word proves nothing.
    fn writers_in(
        &self,
        g: &GroupRecord,
        messages: Vec<kith_protocol::Message>,
    ) -> Result<std::collections::BTreeSet<crate::identity::IdentityKey>> {
        use openmls::prelude::tls_codec::Deserialize as _;
        use openmls::prelude::*;
        // Nothing of ours may be pending: the roll-back below drops all that is.
        self.db().commit()?;
        let mut writers = std::collections::BTreeSet::new();
        let mut m = self.mls_group(g)?;
        let epoch = m.epoch().as_u64();
        for msg in messages {
            if msg.epoch != epoch || msg.kind != kith_protocol::MessageKind::Application {
                continue;
            }
            let Some(pm) = kith_protocol::padding::unpad(&msg.payload)
                .ok()
                .and_then(|b| MlsMessageIn::tls_deserialize_exact(b).ok())
                .and_then(|m| m.try_into_protocol_message().ok())
            else {
                continue;
            };
            let Ok(processed) = m.process_message(&self.provider, pm) else {
                continue;
            };
            if let (Sender::Member(i), ProcessedMessageContent::ApplicationMessage(_)) =
                (processed.sender().clone(), processed.into_content())
                && let Some(who) = m.member_at(i).and_then(|x| {
                    crate::identity::identity_of(
                        x.credential.serialized_content(),
                        &x.signature_key,
                    )
                })
                && who != self.identity()
            {
                writers.insert(who);
            }
        }
        drop(m);
        self.db().rollback();
        Ok(writers)
    }
}
