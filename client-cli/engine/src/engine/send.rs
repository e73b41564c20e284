//! Sending: our application messages encrypted, posted and recorded as ours, with the
//! care that a lost answer or a crash never shows a message twice or loses it
//! ([`Unconfirmed`]); and what a message of ours does to our own view ([`OwnEffect`]).

use super::records::*;
use super::*;

impl Client {
    /// Sends a text message; returns its sequence number.
    pub async fn send_text(&mut self, group: &GroupId, text: &str) -> Result<Seq> {
        let body = super::outbox::text_body(text)?;
        self.send_body(group, body).await
    }

    /// Does to our own view what a message of ours does once the relay stored it as
    /// `seq` ([`OwnEffect`]), and forgets its [`Unconfirmed`] entry `key`: from the
    /// relay's answer, or from the echo when the answer was lost. Not committed here:
    /// the caller commits it with whatever goes with it.
    pub(crate) fn apply_own(
        &self,
        g: &GroupRecord,
        seq: Seq,
        effect: OwnEffect,
        key: &[u8; 32],
        report: &mut SyncReport,
    ) -> Result<()> {
        self.record_own(g, seq, effect, report)?;
        self.db().delete(&ns_unconfirmed(&g.relay_group), key)?;
        self.settle_attempt(key)?;
        Ok(())
    }

    /// Does what a message of ours does to our own view, at `seq`.
    fn record_own(
        &self,
        g: &GroupRecord,
        seq: Seq,
        effect: OwnEffect,
        report: &mut SyncReport,
    ) -> Result<()> {
        let me = self.profile.identity;
        match effect {
            OwnEffect::Record { time, kind } => {
                let r = MessageRecord {
                    shared_by: None,
                    expires: 0,
                    seq,
                    sub: 0,
                    time,
                    sender: Some(me),
                    own: true,
                    kind,
                };
                self.add_record(g, r.clone())?;
                report.new.push(r);
            }
            OwnEffect::Delete { seq: target } => {
                if self.mark_deleted(g, target, &me)? {
                    report.new.retain(|r| r.seq != target);
                }
            }
            OwnEffect::HideFrom { member } => {
                self.hide_messages_of(g, &member, &me)?;
                report.new.retain(|r| r.sender != Some(member));
            }
        }
        Ok(())
    }

    /// Notes (uncommitted) that a message of ours with this effect is about to be
    /// posted as `payload`; see [`Unconfirmed`].
    fn note_unconfirmed(&self, g: &GroupRecord, payload: &[u8], effect: &OwnEffect) -> Result<()> {
        let now = now_secs();
        let entry = Unconfirmed {
            created: now,
            effect: effect.clone(),
        };
        let ns = ns_unconfirmed(&g.relay_group);
        let key = unconfirmed_key(payload);
        // It holds the plaintext, so it goes when the message would have.
        let disappear = g.state.disappear_secs;
        if disappear == 0 {
            return self.put(&ns, &key, &entry);
        }
        let bytes =
            postcard::to_stdvec(&entry).map_err(|_| StoreError::Corrupt("unencodable record"))?;
        self.db()
            .put_raw_expiring(&ns, &key, &bytes, now.saturating_add(disappear))?;
        Ok(())
    }

    /// Drops the [`Unconfirmed`] entries older than [`UNCONFIRMED_KEEP_SECS`]. Only
    /// right just after a catch-up that read the log to its end: by then every message
    /// the relay stored from those posts was met, and its entry consumed.
    pub(crate) fn drop_stale_unconfirmed(&self, group: &GroupId) -> Result<()> {
        let ns = ns_unconfirmed(group);
        let now = now_secs();
        let mut dropped = false;
        for (key, entry) in self.scan::<Unconfirmed>(&ns)? {
            if now.saturating_sub(entry.created) > UNCONFIRMED_KEEP_SECS {
                self.db().delete(&ns, &key)?;
                if let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) {
                    // Never stored: an outbox entry it was sent for may go again.
                    self.forget_attempt(&key)?;
                }
                dropped = true;
            }
        }
        if dropped {
            self.db().commit()?;
        }
        Ok(())
    }

    /// Encrypts and posts an application message, catching up and re-encrypting if the
    /// group moved to a new epoch meanwhile, and does to our own view what the message
    /// does ([`OwnEffect`]: records a text or file, marks a deletion…) at the sequence
    /// number the relay gave it.
    ///
    /// Each attempt's [`Unconfirmed`] entry is saved in the commit of its ratchet step,
    /// before its bytes leave: if the relay stores them and the answer is lost, the next
    /// sync still shows the message as ours. An attempt the relay refused (a stale
    /// epoch, or any error code: it stored nothing) loses its entry; one whose answer
    /// never came keeps it and fails with [`ClientError::Unconfirmed`]. So at most one
    /// attempt per call may be stored, and each copy the relay stored (a user who sends
    /// again after a lost answer makes a second one) shows once, as for every member.
    pub(crate) async fn send_body(&mut self, group: &GroupId, body: Body) -> Result<Seq> {
        self.send_body_from(group, body, None).await
    }

    /// [`Client::send_body`] for the outbox's entry `outbox`, which leaves the outbox
    /// in the commit that shows the message as ours (see `engine/outbox.rs`).
    pub(crate) async fn send_body_from(
        &mut self,
        group: &GroupId,
        body: Body,
        outbox: Option<u64>,
    ) -> Result<Seq> {
        let effect = OwnEffect::of(&body);
        // Sized with the longest counter and view, so that the real ones cannot make it
        // too large.
        (AppMessage::V3 {
            counter: u64::MAX,
            view: Some(crate::payload::LogView {
                epoch: u64::MAX,
                seen: u32::MAX,
                hash: [0xff; 16],
            }),
            body: body.clone(),
        })
        .to_padded()
        .map_err(|e| ClientError::Usage(e.to_string()))?;
        for _ in 0..8 {
            self.sync_group_inner(group).await?;
            let g = self.load_group(group)?;
            self.may_send(&g)?;
            let counter = self.next_own_counter(&g)?;
            let mut m = self.mls_group(&g)?;
            let epoch = m.epoch().as_u64();
            let padded = (AppMessage::V3 {
                counter,
                view: self.own_view(&g, epoch)?,
                body: body.clone(),
            })
            .to_padded()
            .map_err(|e| ClientError::Usage(e.to_string()))?;
            let payload = self.encrypt_app(&mut m, &padded)?;
            let key = unconfirmed_key(&payload);
            if let Some(effect) = &effect {
                self.note_unconfirmed(&g, &payload, effect)?;
            }
            self.note_counted(&g, &key, counter)?;
            if let Some(id) = outbox {
                self.note_attempt(&key, id)?;
            }
            // Persist the ratchet step first: a crash after posting must not let us
            // encrypt again under the same key.
            self.db().commit()?;
            crash_point("after-encrypt");
            let conn = match self.conn(&g.relay).await {
                Ok(conn) => conn,
                Err(e) => {
                    // No connection: the bytes never left.
                    self.db().delete(&ns_unconfirmed(group), &key)?;
                    self.forget_attempt(&key)?;
                    self.drop_counted(&g, &key)?;
                    self.db().commit()?;
                    return Err(e);
                }
            };
            match conn
                .post(g.place.id, epoch, PostKind::Application, payload)
                .await
            {
                Ok(seq) => {
                    crash_point("after-post");
                    let g = self.load_group(group)?;
                    self.confirm_counted(&g, &key)?;
                    self.note_sent(&g, counter, &body)?;
                    // The relay's number is shown for now, never trusted: the entry stays
                    // until the message is met in the log, which puts it where it is. A
                    // number below our cursor, where what we received lies, is not used.
                    if let Some(effect) = effect {
                        if seq >= g.cursor {
                            self.record_own(&g, seq, effect, &mut SyncReport::default())?;
                        }
                        self.put(&ns_claimed(group), &key, &seq)?;
                    }
                    self.settle_attempt(&key)?;
                    self.db().commit()?;
                    return Ok(seq);
                }
                Err(e) if never_stored(&e) => {
                    self.db().delete(&ns_unconfirmed(group), &key)?;
                    self.forget_attempt(&key)?;
                    self.drop_counted(&g, &key)?;
                    if matches!(e, RelayError::Relay(ErrorCode::StaleEpoch)) {
                        // The drop is committed with the catch-up or the next attempt.
                        continue;
                    }
                    self.db().commit()?;
                    return Err(e.into());
                }
                Err(e) => return Err(ClientError::Unconfirmed(e)),
            }
        }
        self.db().commit()?;
        Err(ClientError::Relay(RelayError::Relay(ErrorCode::StaleEpoch)))
    }

    /// Whether this client may send to the group now: a member, and not on hold (see
    /// `tainted`); the error says why not.
    pub(crate) fn may_send(&self, g: &GroupRecord) -> Result<()> {
        if g.status != GroupStatus::Active {
            return Err(ClientError::NotMember(self.status_text(g)));
        }
        if g.tainted {
            return Err(ClientError::Usage(self.taint_text(g)));
        }
        Ok(())
    }

    /// Encrypts a padded application payload in `m`'s epoch, with the epoch tag as its
    /// authenticated data, and pads the MLS message to a relay bucket.
    pub(crate) fn encrypt_app(&self, m: &mut MlsGroup, padded: &[u8]) -> Result<Vec<u8>> {
        m.set_aad(fork_tag(m));
        let out = m
            .create_message(&self.provider, &self.signer, padded)
            .map_err(mls)?;
        pad(&out.to_bytes().map_err(mls)?)
            .map_err(|_| ClientError::Usage(kith_i18n::t!("engine-send-too-large")))
    }
}
