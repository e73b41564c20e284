//! Making our commits: planned against the group as it is after catching up, posted
//! with the next epoch's access key, merged only once the relay accepted them (and met
//! again in the log), planned again when another commit won the epoch.

use super::records::*;
use super::*;

impl Client {
    /// Makes and posts one commit: `plan` looks at the group as it is now (after
    /// catching up) and says what to add, remove and make the new state — or `None`
    /// when there is nothing (left) to do. When another commit wins the epoch, we catch
    /// up and plan again. Returns whether a commit of ours was accepted.
    pub(crate) async fn commit_change<F>(&mut self, group: &GroupId, plan: F) -> Result<bool>
    where
        F: FnMut(&Self, &GroupRecord, &MlsGroup, &GroupState) -> Result<Option<Change>>,
    {
        self.commit_change_inner(group, false, plan).await
    }

    /// [`Self::commit_change`], also while the group is tainted when `repair` (the
    /// commit that undoes a change that broke the rules).
    pub(crate) async fn commit_change_inner<F>(
        &mut self,
        group: &GroupId,
        repair: bool,
        mut plan: F,
    ) -> Result<bool>
    where
        F: FnMut(&Self, &GroupRecord, &MlsGroup, &GroupState) -> Result<Option<Change>>,
    {
        for _ in 0..8 {
            self.sync_group_inner(group).await?;
            let g = self.load_group(group)?;
            if g.status != GroupStatus::Active {
                return Err(ClientError::NotMember(self.status_text(&g)));
            }
            if g.tainted && !repair {
                return Err(ClientError::Usage(self.taint_text(&g)));
            }
            let mut m = self.mls_group(&g)?;
            let state = g.state.clone();
            let Some(mut change) = plan(self, &g, &m, &state)? else {
                return Ok(false);
            };
            // Whatever the plan: the state we commit names no admin who will not be a
            // member once the commit is merged (else every other client would refuse it,
            // and a hold nobody lifts would follow).
            let mut members_after = member_ids(&m);
            let mut removed = BTreeSet::new();
            for r in &change.removes {
                if let Some(x) = m.member_at(*r)
                    && let Some(id) =
                        identity::identity_of(x.credential.serialized_content(), &x.signature_key)
                {
                    members_after.remove(&id);
                    removed.insert(id);
                }
            }
            for kp in &change.adds {
                let leaf = kp.leaf_node();
                if let Some(id) = identity::identity_of(
                    leaf.credential().serialized_content(),
                    leaf.signature_key().as_slice(),
                ) {
                    members_after.insert(id);
                }
            }
            let base = change.state.clone().unwrap_or_else(|| state.clone());
            let mut next = base.normalised(&members_after);
            // A removal, a leave, a demotion or a repair closes every open invite: whoever
            // goes keeps the secrets of the codes they could read (see SECURITY.md).
            let mut doomed = Vec::new();
            // (A member let back in with a fresh leaf goes nowhere.)
            let someone_goes = removed.iter().any(|id| !members_after.contains(id));
            if someone_goes && next.copy_key.is_some() {
                // Whoever goes knows the ids of the fallbacks' copies to come: new ones.
                next.copy_key = Some(rand::random());
            }
            if (repair || state.closes_invites(&next, someone_goes)) && !next.invites.is_empty() {
                for (slot, open) in std::mem::take(&mut next.invites) {
                    doomed.push((slot, self.invite_secret(&g, &slot, &open)));
                }
            }
            if next != GroupState::of(&m) || change.state.is_some() {
                change.state = Some(next);
            }
            let admin_side_before = (state.relay_admin_keys(), state.disappear_secs);
            let admin_side_after = change
                .state
                .as_ref()
                .map(|n| (n.relay_admin_keys(), n.disappear_secs));
            let mut builder = m
                .commit_builder()
                .propose_adds(change.adds)
                .propose_removals(change.removes);
            if let Some(next) = &change.state {
                builder = builder
                    .propose_group_context_extensions(
                        next.extensions().map_err(ClientError::Usage)?,
                    )
                    .map_err(mls)?;
            }
            let bundle = builder
                .load_psks(self.provider.storage())
                .map_err(mls)?
                .build(
                    self.provider.rand(),
                    self.provider.crypto(),
                    &self.signer,
                    |_| true,
                )
                .map_err(mls)?
                .stage_commit(&self.provider)
                .map_err(mls)?;
            let welcome = bundle.to_welcome_msg();
            let (commit, _, _) = bundle.into_contents();
            if self
                .post_commit(group, m, commit, welcome, change.purpose)
                .await?
            {
                // The relay forgets the closed codes' slots (best effort: the invites are
                // closed in the state for every member already, and slots expire).
                if !doomed.is_empty() {
                    let conn = self.conn(&g.relay).await?;
                    for (slot, secret) in doomed {
                        if let Some(secret) = secret {
                            let _ = conn
                                .request(kith_protocol::Request::DeleteInvite {
                                    slot: kith_protocol::SlotId(slot),
                                    manage_token: secret.manage_token,
                                })
                                .await;
                        }
                    }
                }
                if admin_side_after.is_some_and(|a| a != admin_side_before) {
                    // The relay learns the new admins and retention now, not at the next
                    // sync: a removed admin's key must stop working at once.
                    Box::pin(self.sync_relay_admin(group, true)).await?;
                }
                return Ok(true);
            }
        }
        Err(ClientError::Relay(RelayError::Relay(ErrorCode::StaleEpoch)))
    }

    /// Stages `commit` (already made on `m`), posts it, and merges it once the relay
    /// accepts it. Returns false if another commit won the epoch (ours was dropped; the
    /// caller catches up and tries again).
    pub(crate) async fn post_commit(
        &mut self,
        group: &GroupId,
        m: MlsGroup,
        commit: MlsMessageOut,
        welcome: Option<MlsMessageOut>,
        purpose: CommitPurpose,
    ) -> Result<bool> {
        let mut g = self.load_group(group)?;
        let epoch = m.epoch().as_u64();
        let staged = m
            .pending_commit()
            .ok_or_else(|| ClientError::Mls("no pending commit".into()))?;
        let next_secret = staged
            .export_secret(
                self.provider.crypto(),
                ACCESS_EXPORTER_LABEL,
                b"",
                ACCESS_EXPORTER_LEN,
            )
            .map_err(mls)?;
        let next_key = AccessKey::from_exporter_secret(&next_secret);
        let payload = pad(&commit.to_bytes().map_err(mls)?)
            .map_err(|_| ClientError::Mls(kith_i18n::t!("engine-commit-too-large")))?;
        let welcome = welcome.map(|w| w.to_bytes()).transpose().map_err(mls)?;
        g.pending = Some(PendingCommit {
            epoch,
            payload: payload.clone(),
            welcome,
            purpose,
        });
        self.save_group(&g)?;
        self.db().commit()?;
        let conn = self.conn(&g.relay).await?;
        let kind = PostKind::Commit {
            next_access_key: next_key.public(),
        };
        let mut posted = conn.post(g.place.id, epoch, kind, payload.clone()).await;
        if matches!(posted, Err(RelayError::Relay(ErrorCode::CommitLocked))) && self.relay_admin(&g)
        {
            // Locked after a repair: an admin proves their admin key and commits.
            conn.admin_auth(g.place.id, &self.admin_key(&g.mls_group_id))
                .await?;
            posted = conn.post(g.place.id, epoch, kind, payload).await;
        }
        match posted {
            Ok(seq) => {
                // Others may have posted in this epoch after our last fetch; those come
                // before our commit in the log and must be read under this epoch's
                // keys. Catch up in log order: the sync meets our commit at `seq`,
                // recognises its bytes and merges it.
                self.sync_group_inner(group).await?;
                let g = self.load_group(group)?;
                if g.pending.as_ref().is_some_and(|p| p.epoch == epoch) {
                    return Err(ClientError::Hostile(kith_i18n::t!(
                        "engine-commit-not-served",
                        seq = seq.to_string()
                    )));
                }
                Ok(true)
            }
            Err(RelayError::Relay(code @ (ErrorCode::StaleEpoch | ErrorCode::CommitLocked))) => {
                let mut m = self.mls_group(&g)?;
                m.clear_pending_commit(self.provider.storage())
                    .map_err(mls)?;
                let mut g = self.load_group(group)?;
                g.pending = None;
                self.save_group(&g)?;
                self.db().commit()?;
                if code == ErrorCode::CommitLocked {
                    return Err(ClientError::CommitLocked);
                }
                Ok(false)
            }
            // Unknown outcome: keep the pending commit; the next sync recognises it in
            // the log (merge) or sees another commit won (drop).
            Err(e) => Err(e.into()),
        }
    }
}
