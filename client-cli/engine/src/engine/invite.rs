//! One-time invites: making them (admins), answering them (joiners), and admitting the
//! joiner.
//!
//! The inviter's secrets for an approval-free code (slot key, ephemeral X25519 secret,
//! management token) enter the group's MLS-agreed state (engine/state.rs) by a commit, so
//! every member — including those who join later — holds them; an approval code's are
//! sealed to each admin (HPKE). Every client checks a member's admission against the
//! relay's answer for the code (`check_admissions`), and every removal, leave, demotion
//! or repair closes all open invites (`commit_change_inner`). For an invite without approval, any
//! online member's client admits the joiner, with one commit that adds them and closes
//! the invite; every client checks that the invite was open and made by an admin. For
//! an invite with approval, admins' clients only read the answer and show it as a join
//! request until an admin approves (the same commit) or denies (closing the invite).
//! Whoever loses a race sees the invite closed and steps back.

use super::Change;
use super::outcome::{Dead, SyncOutcome, dead_relay, note_dead};
use super::records::*;
use super::state::{self, GroupState, OpenInvite};
use super::{Client, ClientError, Result, clean_name, mls, now_secs};
use crate::identity::{self, fingerprint};
use crate::payload::{Body, InviteSecret, MAX_GROUP_NAME_CHARS, MAX_NAME_CHARS};
use crate::relay::{RelayConnection, RelayError};
use crate::seal::{self, Answer, Invitation};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use kith_i18n::t;
use kith_protocol::access::manage_hash;
use kith_protocol::invite::{Invite, InviteCode};
use kith_protocol::{ErrorCode, GroupId, Request, Response, SlotId};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_traits::signatures::Signer as _;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use x25519_dalek::{PublicKey, StaticSecret};

/// What a joiner is shown before answering an invite.
#[derive(Clone, Debug)]
pub struct InvitePreview {
    /// The group's name.
    pub group_name: String,
    /// The inviter's name.
    pub inviter_name: String,
    /// The inviter's fingerprint.
    pub inviter_fingerprint: String,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// The relay.
    pub relay: String,
    /// An admin must approve the joiner.
    pub needs_approval: bool,
}

/// HPKE for sealing approval-code secrets to admins: the suite's own primitives (X25519,
/// HKDF-SHA256, ChaCha20-Poly1305), through OpenMLS's crypto provider.
pub(crate) fn hpke_config() -> openmls_traits::types::HpkeConfig {
    use openmls_traits::types::{HpkeAeadType, HpkeConfig, HpkeKdfType, HpkeKemType};
    HpkeConfig(
        HpkeKemType::DhKem25519,
        HpkeKdfType::HkdfSha256,
        HpkeAeadType::ChaCha20Poly1305,
    )
}

const SEAL_INFO: &[u8] = b"kith invite secret v1";

/// The namespace of members' admissions still to be checked against the relay's answer.
pub(crate) fn ns_admission_checks(group: &GroupId) -> String {
    format!("admission-checks/{}", group.to_hex())
}

/// A member's admission to check ([`Client::check_admissions`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct AdmissionCheck {
    secret: InviteSecret,
    joiner: crate::identity::IdentityKey,
    by: crate::identity::IdentityKey,
    seq: u64,
}

/// The namespace of the invite codes this profile made (so that it can say which died).
pub(crate) fn ns_own_codes(group: &GroupId) -> String {
    format!("own-codes/{}", group.to_hex())
}

fn invite_error(e: RelayError) -> ClientError {
    match e {
        RelayError::Relay(ErrorCode::AlreadyUsed) => {
            ClientError::Invite(t!("engine-invite-already-used"))
        }
        RelayError::Relay(ErrorCode::InviteExpired) => {
            ClientError::Invite(t!("engine-invite-expired"))
        }
        RelayError::Relay(ErrorCode::NoSuchInvite) => {
            ClientError::Invite(t!("engine-invite-no-such"))
        }
        other => other.into(),
    }
}

impl Client {
    /// Seals an approval code's secret to one admin's seal key.
    fn seal_secret(&self, to: &[u8; 32], secret: &InviteSecret) -> Result<state::SealedSecret> {
        use openmls_traits::crypto::OpenMlsCrypto as _;
        let plain = zeroize::Zeroizing::new(
            postcard::to_stdvec(secret).map_err(|_| ClientError::Mls("encode".into()))?,
        );
        let ct = self
            .provider
            .crypto()
            .hpke_seal(hpke_config(), to, SEAL_INFO, &secret.slot, &plain)
            .map_err(mls)?;
        Ok(state::SealedSecret {
            kem: ct.kem_output.as_slice().to_vec(),
            ct: ct.ciphertext.as_slice().to_vec(),
        })
    }

    /// The secret of an open invite, if this profile may hold it: every member for an
    /// approval-free code, an admin it was sealed to for an approval code.
    pub(crate) fn invite_secret(
        &self,
        g: &GroupRecord,
        slot: &[u8; 32],
        open: &OpenInvite,
    ) -> Option<InviteSecret> {
        use openmls_traits::crypto::OpenMlsCrypto as _;
        if let Some(secret) = &open.secret {
            return Some(secret.clone());
        }
        let sealed = open.sealed.get(&self.identity())?;
        let pair = self.admin_seal_pair(&g.mls_group_id).ok()?;
        let input = openmls_traits::types::HpkeCiphertext {
            kem_output: sealed.kem.clone().into(),
            ciphertext: sealed.ct.clone().into(),
        };
        let plain = zeroize::Zeroizing::new(
            self.provider
                .crypto()
                .hpke_open(hpke_config(), &input, &pair.private, SEAL_INFO, slot)
                .ok()?,
        );
        let secret: InviteSecret = postcard::from_bytes(&plain).ok()?;
        (secret.slot == *slot && secret.needs_approval).then_some(secret)
    }

    /// Says which of this profile's invite codes a commit (at `seq`) closed, and forgets
    /// them. Nothing is committed here: the caller's commit of the store carries it.
    pub(crate) fn tell_closed_codes(
        &self,
        g: &GroupRecord,
        seq: u64,
        closed: &[[u8; 32]],
        report: &mut super::SyncReport,
    ) -> Result<Option<MessageRecord>> {
        let ns = ns_own_codes(&g.relay_group);
        let mut codes = Vec::new();
        for slot in closed {
            if let Some(code) = self.get::<String>(&ns, slot)? {
                codes.push(code);
                self.db().delete(&ns, slot)?;
            }
        }
        if codes.is_empty() {
            return Ok(None);
        }
        let text = t!("engine-invite-codes-closed", codes = codes.join(", "));
        self.alert_at(g, seq, 600, text, report).map(Some)
    }

    /// Remembers to check a member's admission against the relay's answer.
    pub(crate) fn note_admission_check(
        &self,
        g: &GroupRecord,
        slot: [u8; 32],
        secret: InviteSecret,
        joiner: crate::identity::IdentityKey,
        by: crate::identity::IdentityKey,
        seq: u64,
    ) -> Result<()> {
        let check = AdmissionCheck {
            secret,
            joiner,
            by,
            seq,
        };
        self.put(&ns_admission_checks(&g.relay_group), &slot, &check)
    }

    /// Checks every member's admission this client processed: the member added must be
    /// the one whose answer the relay holds for that code (the relay takes one answer per
    /// code). One who is not was let in by a modified client: an intruder, removed by the
    /// admins' repair like any other.
    pub(crate) async fn check_admissions(
        &mut self,
        group: &GroupId,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let ns = ns_admission_checks(group);
        let checks = self.scan::<AdmissionCheck>(&ns)?;
        if checks.is_empty() {
            return Ok(());
        }
        let g = self.load_group(group)?;
        let conn = self.conn(&g.relay).await?;
        for (slot, check) in checks {
            let answer = conn
                .request(Request::GetAnswer {
                    slot: SlotId(check.secret.slot),
                    manage_token: check.secret.manage_token,
                })
                .await;
            let joiner = match answer {
                Ok(Response::Answer {
                    answer: Some(blob), ..
                }) => self
                    .open_answer(&check.secret, &blob)
                    .ok()
                    .map(|r| r.identity),
                Ok(Response::Answer { answer: None, .. }) => None,
                Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
                // The slot is gone (closed, expired): nothing to check against, and no
                // evidence against anyone.
                Err(RelayError::Relay(_)) => {
                    self.db().delete(&ns, &slot)?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.db().delete(&ns, &slot)?;
            if joiner == Some(check.joiner) {
                continue;
            }
            let mut g = self.load_group(group)?;
            let by = self.display_name(group, &check.by);
            let added = &fingerprint(&check.joiner)[..9];
            let text = match joiner {
                Some(real) => t!(
                    "engine-invite-admitted-wrong-joiner",
                    by = &by,
                    joiner = added,
                    real = &fingerprint(&real)[..9]
                ),
                None => t!("engine-invite-admitted-nobody", by = &by, joiner = added),
            };
            let m = self.mls_group(&g)?;
            if super::member_ids(&m).contains(&check.joiner) {
                g.intruders.insert(check.joiner);
                g.offenders.insert(check.by);
                self.update_taint(&mut g, &m);
                self.save_group(&g)?;
            }
            self.alert_at(&g, check.seq, 650, text, report)?;
        }
        self.db().commit()?;
        Ok(())
    }

    /// Makes a one-time invite for `group`, valid for `ttl`. With `approval`, the joiner
    /// waits until an admin approves. Returns the invite string.
    pub async fn invite(
        &mut self,
        group: &GroupId,
        ttl: Duration,
        approval: bool,
    ) -> Result<String> {
        self.sync_group(group, false).await?;
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active {
            return Err(ClientError::NotMember(self.status_text(&g)));
        }
        if !g.state.is_admin(&self.identity()) && super::own_role_checks() {
            return Err(ClientError::Usage(t!("engine-invite-admins-only")));
        }
        let ttl_secs = ttl.as_secs();
        if ttl_secs == 0 || ttl_secs > kith_protocol::limits::MAX_INVITE_TTL_SECS {
            return Err(ClientError::Usage(t!("engine-invite-ttl")));
        }
        let code = InviteCode::generate();
        let (slot, slot_key) = code.derive();
        let eph = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let manage_token: [u8; 32] = rand::random();
        let expires_at = now_secs() + ttl_secs;
        let mut invitation = Invitation {
            group_name: g.name.clone(),
            inviter_name: self.name().to_owned(),
            inviter_key: self.identity(),
            inviter_eph: PublicKey::from(&eph).to_bytes(),
            mls_group_id: g.mls_group_id.clone(),
            // The group's id where the code is: our place, like the code's relay.
            relay_group: g.place.id,
            expires_at,
            needs_approval: approval,
            signature: Vec::new(),
        };
        invitation.signature = self
            .signer
            .sign(&invitation.signed_bytes(&slot))
            .map_err(mls)?;
        let blob = seal::seal_invitation(&slot, &slot_key, &invitation)
            .map_err(|e| ClientError::Mls(e.to_string()))?;
        let secret = InviteSecret {
            slot: slot.0,
            slot_key: slot_key.0,
            eph_secret: eph.to_bytes(),
            manage_token,
            expires_at,
            needs_approval: approval,
        };
        let code_text = Invite {
            relay: g
                .relay
                .parse()
                .map_err(|_| ClientError::Usage(t!("engine-invite-bad-relay")))?,
            code: code.clone(),
        }
        .to_string();
        // The slot first: an invite in the group state always has a slot (until expiry).
        let conn = self.conn(&g.relay).await?;
        conn.request(Request::PutInvite {
            slot,
            manage_hash: manage_hash(&manage_token),
            ttl_secs,
            invitation: blob,
        })
        .await?;
        let me = self.identity();
        let now = now_secs();
        self.commit_change(group, |c, _, _, state| {
            if !state.is_admin(&me) && super::own_role_checks() {
                return Err(ClientError::Usage(t!("engine-invite-admins-only")));
            }
            let mut next = state.clone();
            next.invites.retain(|_, i| i.expires_at > now);
            if next.invites.len() >= state::MAX_OPEN_INVITES {
                return Err(ClientError::Usage(t!(
                    "engine-invite-too-many",
                    n = next.invites.len()
                )));
            }
            // An approval code's secret is for admins only: sealed to each one's key.
            let mut sealed = BTreeMap::new();
            if approval {
                for (admin, keys) in &state.admin_keys {
                    sealed.insert(*admin, c.seal_secret(&keys.seal, &secret)?);
                }
            }
            next.invites.insert(
                secret.slot,
                OpenInvite {
                    by: me,
                    expires_at: secret.expires_at,
                    needs_approval: approval,
                    secret: (!approval).then(|| secret.clone()),
                    sealed,
                },
            );
            Ok(Some(Change {
                state: Some(next),
                ..Change::default()
            }))
        })
        .await?;
        self.put(&ns_own_codes(group), &secret.slot, &code_text)?;
        self.db().commit()?;
        Ok(code_text)
    }

    async fn read_invitation(&mut self, invite: &Invite) -> Result<(String, Invitation)> {
        let (slot, key) = invite.code.derive();
        let relay = invite.relay.ws_url();
        let conn = match self.conn(&relay).await {
            Ok(c) => c,
            Err(ClientError::Relay(
                e @ (RelayError::Connect(_) | RelayError::Timeout(_) | RelayError::Closed(_)),
            )) => {
                return Err(ClientError::Invite(t!(
                    "engine-invite-relay-unreachable",
                    relay = &invite.relay.authority,
                    error = e.to_string()
                )));
            }
            Err(e) => return Err(e),
        };
        let blob = match conn.request(Request::GetInvite { slot }).await {
            Ok(Response::Invite { invitation, .. }) => invitation,
            Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
            Err(e) => return Err(invite_error(e)),
        };
        let inv = seal::open_invitation(&slot, &key, &blob)
            .map_err(|_| ClientError::Hostile(t!("engine-invite-does-not-open")))?;
        let vk = VerifyingKey::from_bytes(&inv.inviter_key)
            .map_err(|_| ClientError::Hostile(t!("engine-invite-bad-key")))?;
        let sig = Signature::from_slice(&inv.signature)
            .map_err(|_| ClientError::Hostile(t!("engine-invite-bad-signature")))?;
        vk.verify(&inv.signed_bytes(&slot), &sig)
            .map_err(|_| ClientError::Hostile(t!("engine-invite-not-signed")))?;
        if inv.expires_at <= now_secs() {
            return Err(ClientError::Invite(t!("engine-invite-expired")));
        }
        Ok((relay, inv))
    }

    /// Reads an invite and says who invites to what, without answering it.
    pub async fn preview_invite(&mut self, invite: &str) -> Result<InvitePreview> {
        let invite: Invite = invite
            .parse()
            .map_err(|e: kith_protocol::invite::InviteError| ClientError::Invite(e.to_string()))?;
        let (relay, inv) = self.read_invitation(&invite).await?;
        Ok(InvitePreview {
            group_name: clean_name(&inv.group_name, MAX_GROUP_NAME_CHARS),
            inviter_name: clean_name(&inv.inviter_name, MAX_NAME_CHARS),
            inviter_fingerprint: fingerprint(&inv.inviter_key),
            expires_at: inv.expires_at,
            relay,
            needs_approval: inv.needs_approval,
        })
    }

    /// Answers an invite with a sealed join request. Returns the slot to wait on.
    pub async fn answer_invite(&mut self, invite: &str) -> Result<[u8; 32]> {
        let invite: Invite = invite
            .parse()
            .map_err(|e: kith_protocol::invite::InviteError| ClientError::Invite(e.to_string()))?;
        let (relay, inv) = self.read_invitation(&invite).await?;
        let (slot, slot_key) = invite.code.derive();
        let kp = KeyPackage::builder()
            .leaf_node_capabilities(state::capabilities())
            .build(
                super::CIPHERSUITE,
                &self.provider,
                &self.signer,
                self.credential(),
            )
            .map_err(mls)?;
        let answer = Answer {
            key_package: kp.key_package().tls_serialize_detached().map_err(mls)?,
            display_name: self.name().to_owned(),
        };
        let (blob, welcome_key) = seal::seal_answer(&slot, &slot_key, &inv.inviter_eph, &answer)
            .map_err(|e| ClientError::Invite(e.to_string()))?;
        let join = PendingJoin {
            relay: relay.clone(),
            slot: slot.0,
            invitation: inv,
            welcome_key,
            answered_at: now_secs(),
        };
        // The KeyPackage's private keys and the welcome key are kept before answering:
        // once the answer is stored, the code is spent.
        self.put(NS_JOINS, &slot.0, &join)?;
        self.db().commit()?;
        let conn = self.conn(&relay).await?;
        if let Err(e) = conn
            .request(Request::AnswerInvite { slot, answer: blob })
            .await
        {
            self.db().delete(NS_JOINS, &slot.0)?;
            self.db().commit()?;
            return Err(invite_error(e));
        }
        Ok(slot.0)
    }

    /// Checks every pending join for its welcome; joins the groups whose welcome came.
    pub async fn poll_joins(&mut self) -> Result<Vec<SyncOutcome>> {
        self.poll_joins_in(&mut Dead::new()).await
    }

    /// [`Client::poll_joins`], skipping relays already found unreachable in this pass:
    /// each join on its own, so that one that fails stops no other. Lists the joins that
    /// completed or failed (not those still waiting).
    pub(crate) async fn poll_joins_in(&mut self, dead: &mut Dead) -> Result<Vec<SyncOutcome>> {
        let joins = self.scan::<PendingJoin>(NS_JOINS)?;
        let mut out = Vec::new();
        for (_, join) in joins {
            let name = clean_name(&join.invitation.group_name, MAX_GROUP_NAME_CHARS);
            let result = match dead.get(&join.relay) {
                Some(why) => Err(dead_relay(why)),
                None => self.try_complete_join(&join).await,
            };
            note_dead(dead, &join.relay, &result);
            let outcome = match result {
                Ok(None) => continue,
                Ok(Some(group)) => SyncOutcome {
                    group: Some(group),
                    name,
                    result: Ok(super::SyncReport {
                        joined: true,
                        ..Default::default()
                    }),
                },
                Err(e) => SyncOutcome {
                    group: None,
                    name,
                    result: Err(e),
                },
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// Whether a join for `slot` is still waiting.
    pub fn join_pending(&self, slot: &[u8; 32]) -> Result<bool> {
        Ok(self.get::<PendingJoin>(NS_JOINS, slot)?.is_some())
    }

    /// Names of the groups we are waiting to be admitted to.
    pub fn pending_joins(&self) -> Result<Vec<String>> {
        Ok(self
            .scan::<PendingJoin>(NS_JOINS)?
            .into_iter()
            .map(|(_, j)| clean_name(&j.invitation.group_name, MAX_GROUP_NAME_CHARS))
            .collect())
    }

    /// Completes one join if its welcome is there. Returns the group joined.
    pub async fn try_complete_join_slot(&mut self, slot: &[u8; 32]) -> Result<Option<GroupId>> {
        match self.get::<PendingJoin>(NS_JOINS, slot)? {
            Some(join) => self.try_complete_join(&join).await,
            None => Ok(None),
        }
    }

    async fn try_complete_join(&mut self, join: &PendingJoin) -> Result<Option<GroupId>> {
        let slot = SlotId(join.slot);
        let conn = self.conn(&join.relay).await?;
        let blob = match conn.request(Request::GetWelcome { slot }).await {
            Ok(Response::Welcome { welcome: Some(w) }) => w,
            Ok(Response::Welcome { welcome: None }) => return Ok(None),
            Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
            Err(RelayError::Relay(ErrorCode::InviteExpired | ErrorCode::NoSuchInvite)) => {
                self.db().delete(NS_JOINS, &join.slot)?;
                self.db().commit()?;
                return Err(ClientError::Invite(t!("engine-invite-expired-waiting")));
            }
            Err(e) => return Err(e.into()),
        };
        let name = clean_name(&join.invitation.group_name, MAX_GROUP_NAME_CHARS);
        // Damaged on the way or by the relay: the welcome the admin sealed may still be
        // there, so the join stays and is tried again (until the invite expires).
        let Ok(bundle) = seal::open_welcome(&slot, &join.welcome_key, &blob) else {
            return Err(ClientError::Hostile(t!(
                "engine-invite-welcome-damaged",
                group = &name
            )));
        };
        let group = match self.join_from_welcome(join, bundle, true) {
            Ok(group) => group,
            // It opened, so it is the welcome an admitter sealed for us, and it is bad. A
            // slot takes one welcome: this join can never complete, so it goes rather
            // than fail every sync from now on.
            Err(ClientError::Hostile(why)) => {
                self.db().delete(NS_JOINS, &join.slot)?;
                self.db().commit()?;
                return Err(ClientError::Invite(t!(
                    "engine-invite-welcome-unusable",
                    group = &name,
                    why = why
                )));
            }
            Err(e) => return Err(e),
        };
        self.db().delete(NS_JOINS, &join.slot)?;
        self.db().commit()?;
        self.after_join(&group).await?;
        Ok(Some(group))
    }

    /// What follows a join (or a return): a word if someone here already goes by our
    /// name, and our name to the group.
    pub(crate) async fn after_join(&mut self, group: &GroupId) -> Result<()> {
        // Back in, however: a knock of an earlier copy is over.
        self.db().delete(super::knock::NS_KNOCKS_OUT, &group.0)?;
        self.db().commit()?;
        // Someone here already goes by our name (or one that looks the same): say so, so
        // that we know the others see us apart by a fingerprint.
        let g = self.load_group(group)?;
        let me = self.identity();
        let taken: Vec<String> = g
            .names
            .iter()
            .filter(|(id, n)| **id != me && super::names::collides(self.name(), n))
            .map(|(id, n)| super::names::tagged(n, id))
            .collect();
        if !taken.is_empty() {
            self.alert_now(
                group,
                t!(
                    "engine-invite-name-taken",
                    taken = taken.join(", "),
                    you = super::names::tagged(self.name(), &me)
                ),
                &mut super::SyncReport::default(),
            )?;
        }
        // Tell the group our name.
        let name = self.name().to_owned();
        self.send_body(group, Body::Profile { name }).await?;
        Ok(())
    }

    /// Joins from a welcome that opened, after checking it against what the invitation
    /// said. With `by_inviter` false (a return after a knock), whoever let us in must be
    /// an admin, and no one inviter is named.
    pub(crate) fn join_from_welcome(
        &mut self,
        join: &PendingJoin,
        bundle: seal::WelcomeBundle,
        by_inviter: bool,
    ) -> Result<GroupId> {
        let hostile = ClientError::Hostile;
        let inv = &join.invitation;
        let msg = MlsMessageIn::tls_deserialize_exact(bundle.welcome.as_slice())
            .map_err(|_| hostile(t!("engine-invite-welcome-not-mls")))?;
        let welcome = match msg.extract() {
            MlsMessageBodyIn::Welcome(w) => w,
            _ => return Err(hostile(t!("engine-invite-welcome-not-welcome"))),
        };
        let tree = RatchetTreeIn::tls_deserialize_exact(bundle.ratchet_tree.as_slice())
            .map_err(|_| hostile(t!("engine-invite-welcome-bad-tree")))?;
        let staged = super::join_verify::stage_welcome(
            &self.provider,
            &super::join_config(),
            welcome,
            Some(tree),
        )
        .map_err(|e| hostile(t!("engine-invite-welcome-refused", error = e.to_string())))?;
        // The Welcome must be for the group the invitation named, contain the inviter,
        // come from a member, and every member must carry a well-formed credential.
        if staged.group_context().group_id().as_slice() != inv.mls_group_id.as_slice() {
            return Err(hostile(t!("engine-invite-welcome-other-group")));
        }
        let mut members = BTreeSet::new();
        for mem in staged.members() {
            let id = identity::identity_of(mem.credential.serialized_content(), &mem.signature_key)
                .ok_or_else(|| hostile(t!("engine-invite-welcome-bad-member")))?;
            members.insert(id);
        }
        if by_inviter && !members.contains(&inv.inviter_key) {
            return Err(hostile(t!("engine-invite-welcome-no-inviter")));
        }
        let sender = staged.welcome_sender().map_err(mls)?;
        let sender_id = identity::identity_of(
            sender.credential().serialized_content(),
            sender.signature_key().as_slice(),
        )
        .ok_or_else(|| hostile(t!("engine-invite-welcome-bad-sender")))?;
        let state = GroupState::from_extensions(staged.group_context().extensions());
        if by_inviter && !state.is_admin(&inv.inviter_key) {
            return Err(hostile(t!("engine-invite-welcome-inviter-not-admin")));
        }
        if !members.contains(&sender_id) {
            return Err(hostile(t!("engine-invite-welcome-not-member")));
        }
        if inv.needs_approval && !state.is_admin(&sender_id) {
            return Err(hostile(t!("engine-invite-welcome-not-approved")));
        }
        if state.invites.contains_key(&join.slot) {
            return Err(hostile(t!("engine-invite-welcome-invite-open")));
        }
        // A copy of this group we still hold is dead: we were removed, or away longer
        // than the relay keeps the group's keys, and this welcome (checked above, for
        // the group the invitation named) is how we come back. The old copy goes, its
        // history stays.
        // Our record of the group, if we had one, keeps its id here (and its history),
        // wherever the group is now.
        let local = self
            .group_by_mls_id(staged.group_context().group_id().as_slice())?
            .unwrap_or(inv.relay_group);
        let back = self.drop_dead_copy(local, staged.group_context().group_id())?;
        let group = staged.into_group(&self.provider).map_err(mls)?;
        let mut names = BTreeMap::new();
        for (k, v) in bundle.names {
            if members.contains(&k) {
                names.insert(k, clean_name(&v, MAX_NAME_CHARS));
            }
        }
        names.insert(self.identity(), self.name().to_owned());
        let record = GroupRecord {
            name: clean_name(&inv.group_name, MAX_GROUP_NAME_CHARS),
            relay: join.relay.clone(),
            relay_group: local,
            mls_group_id: group.group_id().as_slice().to_vec(),
            cursor: bundle.start_seq,
            read_upto: bundle.start_seq,
            status: GroupStatus::Active,
            names,
            leaving: BTreeSet::new(),
            pending: None,
            // Update our leaf at the first sync: the KeyPackage's keys travelled
            // through the admitter's hands.
            last_update: 0,
            state: state.clone(),
            offenders: BTreeSet::new(),
            intruders: BTreeSet::new(),
            tainted: false,
            history_from: (state.history > 0).then_some(sender_id),
            history_next: 1,
            place: super::place::Placement::at(inv.relay_group),
        };
        self.save_group(&record)?;
        let inviter = record
            .names
            .get(&inv.inviter_key)
            .cloned()
            .unwrap_or_else(|| fingerprint(&inv.inviter_key));
        self.add_record(
            &record,
            MessageRecord {
                shared_by: None,
                expires: 0,
                seq: bundle.start_seq.saturating_sub(1),
                // After any history the admitter hands over (filed at this seq from 1).
                sub: u16::MAX,
                time: now_secs(),
                sender: Some(sender_id),
                own: false,
                kind: RecordKind::Notice({
                    let admitter = record
                        .names
                        .get(&sender_id)
                        .cloned()
                        .unwrap_or_else(|| fingerprint(&sender_id));
                    if back {
                        t!("engine-invite-back-in", admitter = admitter)
                    } else {
                        t!(
                            "engine-invite-joined",
                            inviter = &inviter,
                            admitter = admitter
                        )
                    }
                }),
            },
        )?;
        Ok(local)
    }

    /// Our id of the group whose MLS group id is `mls_id`, if we have a record of it.
    fn group_by_mls_id(&self, mls_id: &[u8]) -> Result<Option<GroupId>> {
        Ok(self
            .groups_raw()?
            .into_iter()
            .find(|g| g.mls_group_id == mls_id)
            .map(|g| g.relay_group))
    }

    /// Deletes the MLS state of a copy of `relay_group` (or of MLS group `mls_id`) this
    /// profile still holds, keeping its history. True if there was one.
    fn drop_dead_copy(
        &mut self,
        relay_group: GroupId,
        mls_id: &openmls::group::GroupId,
    ) -> Result<bool> {
        let storage = self.provider.storage();
        let had_mls = match MlsGroup::load(storage, mls_id).map_err(mls)? {
            Some(mut m) => {
                m.delete(storage).map_err(mls)?;
                true
            }
            None => false,
        };
        let Some(mut old) = self.get::<GroupRecord>(super::NS_GROUPS, &relay_group.0)? else {
            return Ok(had_mls);
        };
        self.forget_group_secrets(&mut old)?;
        Ok(true)
    }

    /// Works through the group's open invites: delivers welcomes we still owe, admits
    /// joiners of approval-free invites (any member), turns answers to approval invites
    /// into join requests (admins), and, as an admin, closes invites that expired or
    /// vanished from the relay.
    pub(crate) async fn admit_joiners(
        &mut self,
        group: &GroupId,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active {
            return Ok(());
        }
        let ns = ns_invites(group);
        // Welcomes owed from commits of ours that were accepted.
        for (_, inv) in self.scan::<AdminInvite>(&ns)? {
            if let Some(blob) = inv.welcome_blob.clone() {
                let conn = self.conn(&g.relay).await?;
                self.deliver_welcome(group, &conn, &inv, blob).await?;
            }
        }
        if g.tainted {
            return Ok(()); // no admissions until the group is repaired
        }
        let state = g.state.clone();
        let admin = state.is_admin(&self.identity());
        let mut stale = Vec::new();
        for (slot, open) in &state.invites {
            if open.expires_at <= now_secs() {
                stale.push(*slot);
                continue;
            }
            let Some(secret) = self.invite_secret(&g, slot, open) else {
                continue; // an approval code, and we are no admin it was sealed to
            };
            if open.needs_approval
                && (!admin
                    || self
                        .get::<JoinRequest>(&ns_requests(group), slot)?
                        .is_some())
            {
                continue;
            }
            let conn = self.conn(&g.relay).await?;
            let answer = match conn
                .request(Request::GetAnswer {
                    slot: SlotId(*slot),
                    manage_token: secret.manage_token,
                })
                .await
            {
                Ok(Response::Answer { answer, welcomed }) => {
                    if welcomed {
                        stale.push(*slot);
                        continue;
                    }
                    answer
                }
                Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
                Err(RelayError::Relay(
                    ErrorCode::InviteExpired | ErrorCode::NoSuchInvite | ErrorCode::Forbidden,
                )) => {
                    stale.push(*slot);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let Some(blob) = answer else { continue };
            match self.open_answer(&secret, &blob) {
                Err(why) => {
                    self.alert_now(group, why, report)?;
                    stale.push(*slot);
                }
                Ok(joiner) if open.needs_approval => {
                    let fp = fingerprint(&joiner.identity);
                    let lookalike: Vec<String> = g
                        .names
                        .iter()
                        .filter(|(id, n)| {
                            **id != joiner.identity && super::names::collides(&joiner.name, n)
                        })
                        .map(|(id, n)| super::names::tagged(n, id))
                        .collect();
                    let mut text = t!(
                        "engine-invite-asks-to-join",
                        name = &joiner.name,
                        fingerprint = &fp[..9],
                        inviter = self.display_name(group, &open.by),
                        group = &g.name
                    );
                    if !lookalike.is_empty() {
                        text.push(' ');
                        text.push_str(&t!(
                            "engine-invite-asks-careful",
                            list = lookalike.join(", ")
                        ));
                    }
                    self.put(&ns_requests(group), slot, &joiner)?;
                    self.alert_now(group, text, report)?;
                }
                Ok(joiner) => match self.admit(group, secret.clone(), joiner).await {
                    // Commits are an admin's for a while: an admin admits.
                    Ok(_) | Err(ClientError::CommitLocked) => {}
                    Err(e) => return Err(e),
                },
            }
        }
        if admin && !stale.is_empty() {
            // Close invites that can no longer be used (so that the state stays small
            // and nobody keeps polling their slots).
            self.commit_change(group, |c, _, _, state| {
                let mut next = state.clone();
                next.invites.retain(|k, _| !stale.contains(k));
                Ok(
                    (next != *state && state.is_admin(&c.identity())).then(|| Change {
                        state: Some(next),
                        ..Change::default()
                    }),
                )
            })
            .await?;
        }
        Ok(())
    }

    /// Records an alert at the end of a group's history, now.
    pub(crate) fn alert_now(
        &self,
        group: &GroupId,
        text: String,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        self.record_now(group, RecordKind::Alert(text), report)
    }

    /// Records a line (a notice or an alert) at the end of a group's history, now, and
    /// commits it.
    pub(crate) fn record_now(
        &self,
        group: &GroupId,
        kind: RecordKind,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let g = self.load_group(group)?;
        let r = MessageRecord {
            shared_by: None,
            expires: 0,
            seq: g.cursor.saturating_sub(1),
            sub: 700 + (now_secs() % 200) as u16,
            time: now_secs(),
            sender: None,
            own: false,
            kind,
        };
        self.add_record(&g, r.clone())?;
        self.db().commit()?;
        report.new.push(r);
        Ok(())
    }

    /// Opens and checks a joiner's answer. The error is the alert that says what was
    /// wrong with it.
    pub(crate) fn open_answer(
        &self,
        secret: &InviteSecret,
        blob: &[u8],
    ) -> std::result::Result<JoinRequest, String> {
        let slot = SlotId(secret.slot);
        let eph = StaticSecret::from(secret.eph_secret);
        let key = kith_protocol::invite::SlotKey(secret.slot_key);
        let (answer, welcome_key) = seal::open_answer(&slot, &key, &eph, blob)
            .map_err(|_| t!("engine-invite-answer-unopened"))?;
        let kp = self
            .validate_key_package(&answer.key_package)
            .ok_or_else(|| t!("engine-invite-answer-bad-key-package"))?;
        let leaf = kp.leaf_node();
        let identity = identity::identity_of(
            leaf.credential().serialized_content(),
            leaf.signature_key().as_slice(),
        )
        .ok_or_else(|| t!("engine-invite-answer-bad-credential"))?;
        Ok(JoinRequest {
            slot: secret.slot,
            identity,
            name: clean_name(&answer.display_name, MAX_NAME_CHARS),
            key_package: answer.key_package.clone(),
            welcome_key,
            seen_at: now_secs(),
        })
    }

    pub(crate) fn validate_key_package(&self, bytes: &[u8]) -> Option<KeyPackage> {
        let kp = KeyPackageIn::tls_deserialize_exact(bytes)
            .ok()?
            .validate(self.provider.crypto(), ProtocolVersion::Mls10)
            .ok()?;
        (kp.ciphersuite() == super::CIPHERSUITE).then_some(kp)
    }

    pub(crate) async fn deliver_welcome(
        &mut self,
        group: &GroupId,
        conn: &RelayConnection,
        inv: &AdminInvite,
        blob: Vec<u8>,
    ) -> Result<()> {
        let slot = SlotId(inv.secret.slot);
        match conn
            .request(Request::PutWelcome {
                slot,
                manage_token: inv.secret.manage_token,
                welcome: blob,
            })
            .await
        {
            Ok(_)
            | Err(RelayError::Relay(
                ErrorCode::AlreadyUsed | ErrorCode::InviteExpired | ErrorCode::NoSuchInvite,
            )) => {}
            Err(e) => return Err(e.into()),
        }
        self.db().delete(&ns_invites(group), &slot.0)?;
        self.db().commit()?;
        Ok(())
    }

    /// Admits a joiner: one commit that adds them and closes their invite, then the
    /// welcome, then (if the group shares history) the recent messages.
    pub(crate) async fn admit(
        &mut self,
        group: &GroupId,
        secret: InviteSecret,
        joiner: JoinRequest,
    ) -> Result<bool> {
        let slot = secret.slot;
        let ns = ns_invites(group);
        let kp = self
            .validate_key_package(&joiner.key_package)
            .ok_or_else(|| ClientError::Hostile(t!("engine-invite-joiner-key-package")))?;
        let inv = AdminInvite {
            secret,
            welcome_key: Some(joiner.welcome_key.clone()),
            welcome_blob: None,
        };
        self.put(&ns, &slot, &inv)?;
        self.db().commit()?;
        let me = self.identity();
        let who = joiner.identity;
        let name = joiner.name.clone();
        let committed = self
            .commit_change(group, |_, _, m, state| {
                let Some(open) = state.invites.get(&slot) else {
                    return Ok(None); // someone else admitted (or an admin closed it)
                };
                // Someone who is still a member asks in again: their copy of the group is
                // dead (they were away longer than the relay keeps the group's keys).
                // Their old leaf goes in the same commit, which only an admin may make.
                let old_leaf = super::member_index(m, &who);
                if (old_leaf.is_some() || open.needs_approval) && !state.is_admin(&me) {
                    return Ok(None);
                }
                let mut next = state.clone();
                next.invites.remove(&slot);
                Ok(Some(Change {
                    removes: old_leaf.into_iter().collect(),
                    adds: vec![kp.clone()],
                    state: Some(next),
                    purpose: CommitPurpose::Add {
                        slot,
                        identity: who,
                        name: name.clone(),
                    },
                }))
            })
            .await?;
        if !committed {
            self.db().delete(&ns, &slot)?;
            self.db().commit()?;
            return Ok(false);
        }
        let inv: AdminInvite = self
            .get(&ns, &slot)?
            .ok_or_else(|| ClientError::Mls("invite record vanished".into()))?;
        if let Some(blob) = inv.welcome_blob.clone() {
            let g = self.load_group(group)?;
            let conn = self.conn(&g.relay).await?;
            self.deliver_welcome(group, &conn, &inv, blob).await?;
        }
        self.send_history(group, &who).await?;
        Ok(true)
    }
}
