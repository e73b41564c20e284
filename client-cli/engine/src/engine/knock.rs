//! Coming back after being away too long: the knock.
//!
//! A member away longer than the group keeps messages finds that the relay no longer
//! lets their copy in: the relay forgot the access key of the epoch the copy is at, and
//! what was sent meanwhile is gone. The copy cannot catch up, but the member's identity
//! is still in the group's tree, and those who verified it still trust it. So the
//! client knocks: it leaves in the group's knock box at the relay (`Knock`, see
//! `server/src/relay/knock.rs`) a fresh KeyPackage of the same identity, sealed so that
//! only the group's admins can read it. An admin's client sees it on its next sync and
//! asks the admin (`kith requests`, `kith approve`, `kith deny`), or lets the member
//! back in at once where the group's settings say so; letting back in is one commit
//! that removes the old leaf and adds the fresh KeyPackage ([`Client::let_back_in`]).
//! The welcome goes into the knock's slot, and the member's next sync joins from it.
//!
//! The sealed knock ([`KnockBody`] inside [`SealedKnock`]): a random body key, sealed
//! with HPKE to each admin's seal key as the member's copy of the group state last knew
//! them (seal keys are derived per admin and group, so they outlive epochs), and the body
//! under it with XChaCha20-Poly1305. The body names the group, its slot and the epoch
//! the copy is stuck at, carries the time it was made, and is signed by the identity
//! key, which must be the KeyPackage's. An admin's client refuses (and removes from the
//! box) a knock it can open but that fails a check: not signed by a member still in the
//! tree, for another group or slot, too old, from a copy not behind, or answered
//! before. Knocks it cannot open it leaves to other admins (or to expire).
//!
//! What this does not stop: whoever holds a member's device (and so their identity key
//! and copy of the group) can knock as them. That is why letting back in is asked of an
//! admin unless the group chose otherwise, and the admin is told to check with the
//! person first.

use super::records::*;
use super::state::SealedSecret;
use super::{Change, Client, ClientError, Result, clean_name, member_index, mls, now_secs};
use crate::identity::{self, fingerprint};
use crate::payload::{InviteSecret, MAX_NAME_CHARS};
use crate::relay::RelayError;
use crate::seal::{self, Invitation, WelcomeKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use kith_i18n::t;
use kith_protocol::access::{manage_hash, slot_key};
use kith_protocol::limits::{KNOCK_TTL_SECS, MAX_INVITE_BLOB};
use kith_protocol::padding::{pad, unpad};
use kith_protocol::{ErrorCode, GroupId, KnockEntry, Request, Response, SlotId};
use openmls::prelude::tls_codec::Serialize as _;
use openmls::prelude::*;
use openmls_traits::signatures::Signer as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// HPKE info for a knock's body key.
const KNOCK_INFO: &[u8] = b"kith knock key v1";
/// The most admins one knock is sealed to (the knock must fit an answer's size).
pub const MAX_KNOCK_ADMINS: usize = 16;
/// How far ahead of our clock a knock's time may be (clocks differ).
const CLOCK_SLACK_SECS: u64 = 24 * 3600;

/// Namespace of our own knocks, by relay group id.
pub const NS_KNOCKS_OUT: &str = "knocks-out";

/// The namespace of the knocks an admin's client saw for a group, by slot id (the
/// request itself is a [`JoinRequest`] under the same slot in `requests/`).
pub fn ns_knocks(group: &GroupId) -> String {
    format!("knocks/{}", group.to_hex())
}

/// A knock of ours waiting for an admin.
#[derive(Clone, Serialize, Deserialize)]
pub struct OwnKnock {
    /// The knock's slot.
    pub slot: [u8; 32],
    /// The slot's management token (to remove it once answered).
    pub manage_token: [u8; 32],
    /// The key the welcome will be sealed under.
    pub welcome_key: WelcomeKey,
    /// When the relay drops it, Unix seconds.
    pub expires_at: u64,
    /// It left the box before it expired, unanswered: an admin refused it (or found it
    /// bad). Kept so that the client does not knock again by itself.
    pub refused: bool,
}

/// What an admin's client keeps of a knock beside its [`JoinRequest`].
#[derive(Clone, Serialize, Deserialize)]
pub struct SeenKnock {
    /// The relay's name for it (`DeleteKnock`).
    pub key: [u8; 32],
    /// The slot's management token, from the sealed body (`PutWelcome`).
    pub manage_token: [u8; 32],
    /// When the relay drops it.
    pub expires_at: u64,
    /// Whether it was decided (let back in or refused): kept until it leaves the box, so
    /// that the relay cannot have it decided twice.
    pub decided: bool,
}

/// The sealed knock as it travels (postcard, then padded).
#[derive(Serialize, Deserialize)]
struct SealedKnock {
    /// The body key, sealed to each admin's seal key.
    to: Vec<SealedSecret>,
    /// The body's nonce.
    nonce: [u8; 24],
    /// The body, encrypted under the body key.
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// What a knock says, signed by the knocker's identity key.
#[derive(Clone, Serialize, Deserialize)]
struct KnockBody {
    relay_group: GroupId,
    #[serde(with = "serde_bytes")]
    mls_group_id: Vec<u8>,
    slot: [u8; 32],
    /// The epoch the knocker's copy is stuck at.
    epoch: u64,
    /// When it was made, Unix seconds (the knocker's clock).
    made_at: u64,
    #[serde(with = "serde_bytes")]
    key_package: Vec<u8>,
    display_name: String,
    manage_token: [u8; 32],
    welcome_key: WelcomeKey,
    #[serde(with = "serde_bytes")]
    signature: Vec<u8>,
}

impl KnockBody {
    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = KnockBody {
            signature: Vec::new(),
            ..self.clone()
        };
        let mut out = b"kith knock v1\0".to_vec();
        out.extend(postcard::to_stdvec(&unsigned).unwrap_or_default());
        out
    }
}

fn body_aad(group: &GroupId) -> Vec<u8> {
    [b"kith knock body v1\0".as_slice(), &group.0].concat()
}

/// What became of a knock an admin's client looked at.
enum Opened {
    /// Not sealed to us (or not a knock at all): another admin's business.
    NotOurs,
    /// Sealed to us but refused; the text is the alert that says why.
    Refused(String),
    /// Good: the joiner and the slot's token.
    Good(Box<JoinRequest>, [u8; 32]),
}

impl Client {
    /// Asks the group's admins to let this profile's dead copy of `g` back in, unless a
    /// knock of ours already waits. Returns what to tell the member.
    pub(crate) async fn knock(&mut self, g: &GroupRecord, m: &MlsGroup) -> Result<String> {
        let group = g.relay_group;
        if let Some(k) = self.get::<OwnKnock>(NS_KNOCKS_OUT, &group.0)? {
            if k.refused {
                return Ok(t!("engine-knock-refused"));
            }
            if k.expires_at > now_secs() {
                return Ok(t!("engine-knock-waiting"));
            }
        }
        let seal_keys: Vec<[u8; 32]> = g
            .state
            .admin_keys
            .values()
            .map(|k| k.seal)
            .take(MAX_KNOCK_ADMINS)
            .collect();
        if seal_keys.is_empty() {
            return Ok(t!("engine-knock-no-admin"));
        }
        let kp = KeyPackage::builder()
            .leaf_node_capabilities(super::state::capabilities())
            .build(
                super::CIPHERSUITE,
                &self.provider,
                &self.signer,
                self.credential(),
            )
            .map_err(mls)?;
        let slot: [u8; 32] = rand::random();
        let manage_token: [u8; 32] = rand::random();
        let mut welcome_key = WelcomeKey([0; 32]);
        rand::rngs::OsRng.fill_bytes(&mut welcome_key.0);
        let mut body = KnockBody {
            // Where the knock box is: the group's id at our place.
            relay_group: g.place.id,
            mls_group_id: g.mls_group_id.clone(),
            slot,
            epoch: m.epoch().as_u64(),
            made_at: now_secs(),
            key_package: kp.key_package().tls_serialize_detached().map_err(mls)?,
            display_name: self.name().to_owned(),
            manage_token,
            welcome_key: welcome_key.clone(),
            signature: Vec::new(),
        };
        body.signature = self.signer.sign(&body.signed_bytes()).map_err(mls)?;
        let blob = self.seal_knock(&g.place.id, &seal_keys, &body)?;
        let own = OwnKnock {
            slot,
            manage_token,
            welcome_key,
            expires_at: now_secs() + KNOCK_TTL_SECS,
            refused: false,
        };
        // Kept before knocking: once the knock is stored, its welcome may come.
        self.put(NS_KNOCKS_OUT, &group.0, &own)?;
        self.db().commit()?;
        let conn = self.conn(&g.relay).await?;
        let asked = conn
            .request(Request::Knock {
                group: g.place.id,
                slot: SlotId(slot),
                manage_hash: manage_hash(&manage_token),
                knock: blob,
            })
            .await;
        match asked {
            Ok(_) => Ok(t!("engine-knock-asked")),
            Err(e) => {
                self.db().delete(NS_KNOCKS_OUT, &group.0)?;
                self.db().commit()?;
                let why = match e {
                    RelayError::Relay(ErrorCode::KnocksFull) => t!("engine-knock-box-full"),
                    e => e.to_string(),
                };
                Ok(t!("engine-knock-failed", why = why))
            }
        }
    }

    fn seal_knock(
        &self,
        group: &GroupId,
        seal_keys: &[[u8; 32]],
        body: &KnockBody,
    ) -> Result<Vec<u8>> {
        let key = Zeroizing::new(rand::random::<[u8; 32]>());
        let mut to = Vec::new();
        for pk in seal_keys {
            let ct = self
                .provider
                .crypto()
                .hpke_seal(
                    super::invite::hpke_config(),
                    pk,
                    KNOCK_INFO,
                    &group.0,
                    &key[..],
                )
                .map_err(mls)?;
            to.push(SealedSecret {
                kem: ct.kem_output.as_slice().to_vec(),
                ct: ct.ciphertext.as_slice().to_vec(),
            });
        }
        let nonce: [u8; 24] = rand::random();
        let plain =
            Zeroizing::new(postcard::to_stdvec(body).map_err(|e| ClientError::Mls(e.to_string()))?);
        let sealed = XChaCha20Poly1305::new((&*key).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &body_aad(group),
                },
            )
            .map_err(|_| ClientError::Mls("knock too large".into()))?;
        let out = postcard::to_stdvec(&SealedKnock {
            to,
            nonce,
            body: sealed,
        })
        .map_err(|e| ClientError::Mls(e.to_string()))?;
        let padded = pad(&out).map_err(|_| ClientError::Mls("knock too large".into()))?;
        if padded.len() > MAX_INVITE_BLOB {
            return Err(ClientError::Mls("knock too large".into()));
        }
        Ok(padded)
    }

    /// Opens and checks one knock of `g`'s box, as this admin.
    fn open_knock(&self, g: &GroupRecord, m: &MlsGroup, entry: &KnockEntry) -> Opened {
        let Ok(inner) = unpad(&entry.knock) else {
            return Opened::NotOurs;
        };
        let Ok((sealed, [])) = postcard::take_from_bytes::<SealedKnock>(inner) else {
            return Opened::NotOurs;
        };
        let Ok(pair) = self.admin_seal_pair(&g.mls_group_id) else {
            return Opened::NotOurs;
        };
        let key = sealed.to.iter().take(MAX_KNOCK_ADMINS).find_map(|s| {
            let input = openmls_traits::types::HpkeCiphertext {
                kem_output: s.kem.clone().into(),
                ciphertext: s.ct.clone().into(),
            };
            let k = self
                .provider
                .crypto()
                .hpke_open(
                    super::invite::hpke_config(),
                    &input,
                    &pair.private,
                    KNOCK_INFO,
                    &g.place.id.0,
                )
                .ok()?;
            <[u8; 32]>::try_from(k.as_slice()).ok().map(Zeroizing::new)
        });
        let Some(key) = key else {
            return Opened::NotOurs;
        };
        let refused = Opened::Refused;
        let Ok(plain) = XChaCha20Poly1305::new((&*key).into()).decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.body,
                aad: &body_aad(&g.place.id),
            },
        ) else {
            return refused(t!("engine-knock-bad-unopened"));
        };
        let plain = Zeroizing::new(plain);
        let Ok((body, [])) = postcard::take_from_bytes::<KnockBody>(&plain) else {
            return refused(t!("engine-knock-bad-malformed"));
        };
        if body.relay_group != g.place.id
            || body.mls_group_id != g.mls_group_id
            || slot_key(&SlotId(body.slot)) != entry.key
        {
            return refused(t!("engine-knock-bad-place"));
        }
        let Some(kp) = self.validate_key_package(&body.key_package) else {
            return refused(t!("engine-knock-bad-key-package"));
        };
        let leaf = kp.leaf_node();
        let Some(who) = identity::identity_of(
            leaf.credential().serialized_content(),
            leaf.signature_key().as_slice(),
        ) else {
            return refused(t!("engine-knock-bad-credential"));
        };
        let signed = VerifyingKey::from_bytes(&who).ok().is_some_and(|vk| {
            Signature::from_slice(&body.signature)
                .is_ok_and(|sig| vk.verify(&body.signed_bytes(), &sig).is_ok())
        });
        if !signed {
            return refused(t!("engine-knock-bad-signature"));
        }
        let name = clean_name(&body.display_name, MAX_NAME_CHARS);
        let tag = format!("{name} [{}]", &fingerprint(&who)[..9]);
        if member_index(m, &who).is_none() {
            return refused(t!("engine-knock-bad-not-member", who = &tag));
        }
        let now = now_secs();
        if body.made_at.saturating_add(KNOCK_TTL_SECS) < now
            || body.made_at > now + CLOCK_SLACK_SECS
        {
            return refused(t!("engine-knock-bad-old", who = &tag));
        }
        if body.epoch >= m.epoch().as_u64() {
            return refused(t!("engine-knock-bad-not-behind", who = &tag));
        }
        Opened::Good(
            Box::new(JoinRequest {
                slot: body.slot,
                identity: who,
                name,
                key_package: body.key_package.clone(),
                welcome_key: body.welcome_key.clone(),
                seen_at: now,
            }),
            body.manage_token,
        )
    }

    /// Reads the group's knock box (admins): records new requests to come back and says
    /// so, refuses and removes the bad ones, forgets those that left the box, and lets
    /// members back in at once where the group allows it.
    pub(crate) async fn answer_knocks(
        &mut self,
        group: &GroupId,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active || g.tainted || !g.state.is_admin(&self.identity()) {
            return Ok(());
        }
        let m = self.mls_group(&g)?;
        let conn = self.ensure_auth(&g, &m).await?;
        let knocks = match conn.request(Request::GetKnocks { group: g.place.id }).await {
            Ok(Response::Knocks { knocks }) => knocks,
            Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
            // Moved on meanwhile: the next sync looks.
            Err(RelayError::Relay(ErrorCode::StaleEpoch)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let ns = ns_knocks(group);
        // Knocks that left the box were answered, refused or expired: forget them.
        let listed: std::collections::BTreeSet<[u8; 32]> = knocks.iter().map(|k| k.key).collect();
        for (slot, seen) in self.scan::<SeenKnock>(&ns)? {
            if !listed.contains(&seen.key) {
                self.db().delete(&ns, &slot)?;
                self.db().delete(&ns_requests(group), &slot)?;
            }
        }
        self.db().commit()?;
        let known: std::collections::BTreeSet<[u8; 32]> = self
            .scan::<SeenKnock>(&ns)?
            .into_iter()
            .map(|(_, s)| s.key)
            .collect();
        for entry in knocks.iter().filter(|k| !known.contains(&k.key)) {
            match self.open_knock(&g, &m, entry) {
                Opened::NotOurs => {}
                Opened::Refused(why) => {
                    // Best effort: it expires anyway.
                    let _ = conn
                        .request(Request::DeleteKnock {
                            group: g.place.id,
                            key: entry.key,
                        })
                        .await;
                    self.alert_now(group, why, report)?;
                }
                Opened::Good(req, manage_token) => {
                    let seen = SeenKnock {
                        key: entry.key,
                        manage_token,
                        expires_at: entry.expires_at,
                        decided: false,
                    };
                    self.put(&ns, &req.slot, &seen)?;
                    self.put(&ns_requests(group), &req.slot, &*req)?;
                    self.db().commit()?;
                    if g.state.let_back {
                        // The group chose so; the commit tells everyone who came back.
                        match self.let_back_in(group, &req).await {
                            Ok(_) | Err(ClientError::CommitLocked) => {}
                            Err(e) => return Err(e),
                        }
                        continue;
                    }
                    let tag = format!("{} [{}]", req.name, &fingerprint(&req.identity)[..9]);
                    self.alert_now(
                        group,
                        t!("engine-knock-asks", who = &tag, group = &g.name),
                        report,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Members were added (by anyone's commit): a request of theirs to come back is
    /// over, so that nobody lets them "back" in a second time with an older KeyPackage
    /// (which would cut them off again). Uncommitted: the commit's processing carries it.
    pub(crate) fn forget_knocks_of(
        &self,
        g: &GroupRecord,
        added: &[crate::identity::IdentityKey],
    ) -> Result<()> {
        let group = &g.relay_group;
        for (slot, req) in self.scan::<JoinRequest>(&ns_requests(group))? {
            if !added.contains(&req.identity) {
                continue;
            }
            if let Some(mut seen) = self.get::<SeenKnock>(&ns_knocks(group), &slot)? {
                seen.decided = true;
                self.put(&ns_knocks(group), &slot, &seen)?;
                self.db().delete(&ns_requests(group), &slot)?;
            }
        }
        Ok(())
    }

    /// The knock an admin's client saw for this request's slot, if it is one.
    pub(crate) fn seen_knock(&self, group: &GroupId, slot: &[u8; 32]) -> Result<Option<SeenKnock>> {
        self.get(&ns_knocks(group), slot)
    }

    /// Lets a member whose copy of the group died back in, for their knock: one commit
    /// that removes their old leaf and adds their fresh KeyPackage, then the welcome in
    /// the knock's slot (admins only). False if there was nothing left to do.
    pub(crate) async fn let_back_in(&mut self, group: &GroupId, req: &JoinRequest) -> Result<bool> {
        let Some(mut seen) = self.seen_knock(group, &req.slot)? else {
            return Ok(false);
        };
        if seen.decided {
            return Ok(false);
        }
        let kp = self
            .validate_key_package(&req.key_package)
            .ok_or_else(|| ClientError::Hostile(t!("engine-knock-key-package")))?;
        let fresh_leaf = kp.leaf_node().encryption_key().clone();
        let ns = ns_invites(group);
        let inv = AdminInvite {
            secret: InviteSecret {
                slot: req.slot,
                slot_key: [0; 32],
                eph_secret: [0; 32],
                manage_token: seen.manage_token,
                expires_at: seen.expires_at,
                needs_approval: true,
            },
            welcome_key: Some(req.welcome_key.clone()),
            welcome_blob: None,
        };
        self.put(&ns, &req.slot, &inv)?;
        self.db().commit()?;
        let me = self.identity();
        let (who, name, slot) = (req.identity, req.name.clone(), req.slot);
        let committed = self
            .commit_change(group, |_, _, m, state| {
                if !state.is_admin(&me) {
                    return Ok(None);
                }
                let Some(old) = member_index(m, &who) else {
                    return Ok(None); // removed meanwhile
                };
                // Another admin let them back in with this very KeyPackage already.
                if m.members()
                    .any(|x| x.index == old && fresh_leaf == x.encryption_key.into())
                {
                    return Ok(None);
                }
                Ok(Some(Change {
                    removes: vec![old],
                    adds: vec![kp.clone()],
                    state: None,
                    purpose: CommitPurpose::Add {
                        slot,
                        identity: who,
                        name: name.clone(),
                    },
                }))
            })
            .await?;
        seen.decided = true;
        self.put(&ns_knocks(group), &req.slot, &seen)?;
        self.db().delete(&ns_requests(group), &req.slot)?;
        self.db().commit()?;
        if !committed {
            self.db().delete(&ns, &req.slot)?;
            self.db().commit()?;
            return Ok(false);
        }
        if let Some(inv) = self.get::<AdminInvite>(&ns, &req.slot)?
            && let Some(blob) = inv.welcome_blob.clone()
        {
            let g = self.load_group(group)?;
            let conn = self.conn(&g.relay).await?;
            self.deliver_welcome(group, &conn, &inv, blob).await?;
        }
        self.send_history(group, &who).await?;
        Ok(true)
    }

    /// Refuses a knock: removes it from the box, so that nobody lets them back in by it.
    pub(crate) async fn refuse_knock(&mut self, group: &GroupId, slot: &[u8; 32]) -> Result<()> {
        let Some(mut seen) = self.seen_knock(group, slot)? else {
            return Ok(());
        };
        seen.decided = true;
        self.put(&ns_knocks(group), slot, &seen)?;
        self.db().delete(&ns_requests(group), slot)?;
        self.db().commit()?;
        let g = self.load_group(group)?;
        let m = self.mls_group(&g)?;
        let conn = self.ensure_auth(&g, &m).await?;
        match conn
            .request(Request::DeleteKnock {
                group: g.place.id,
                key: seen.key,
            })
            .await
        {
            Ok(_) | Err(RelayError::Relay(ErrorCode::NoSuchInvite)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Looks for the welcome of our knock for `group`; joins from it if it came. True
    /// if this profile is back in.
    pub(crate) async fn try_come_back(&mut self, group: &GroupId) -> Result<bool> {
        let Some(mut own) = self
            .get::<OwnKnock>(NS_KNOCKS_OUT, &group.0)?
            .filter(|k| !k.refused)
        else {
            return Ok(false);
        };
        let g = self.load_group(group)?;
        let slot = SlotId(own.slot);
        let conn = self.conn(&g.relay).await?;
        let blob = match conn.request(Request::GetWelcome { slot }).await {
            Ok(Response::Welcome { welcome: Some(w) }) => w,
            Ok(Response::Welcome { welcome: None }) => return Ok(false),
            Ok(_) => return Err(ClientError::Hostile(t!("engine-unexpected-answer"))),
            // Expired: the next failed sync knocks again. Gone before that: refused.
            Err(RelayError::Relay(ErrorCode::InviteExpired | ErrorCode::NoSuchInvite)) => {
                if own.expires_at <= now_secs() {
                    self.db().delete(NS_KNOCKS_OUT, &group.0)?;
                } else {
                    own.refused = true;
                    self.put(NS_KNOCKS_OUT, &group.0, &own)?;
                }
                self.db().commit()?;
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let Ok(bundle) = seal::open_welcome(&slot, &own.welcome_key, &blob) else {
            return Err(ClientError::Hostile(t!("engine-knock-answer-damaged")));
        };
        // What the welcome is checked against: the group as our copy knew it, and an
        // admin as the one who let us in (whoever it was).
        let join = PendingJoin {
            relay: g.relay.clone(),
            slot: own.slot,
            invitation: Invitation {
                group_name: g.name.clone(),
                inviter_name: String::new(),
                inviter_key: [0; 32],
                inviter_eph: [0; 32],
                mls_group_id: g.mls_group_id.clone(),
                relay_group: g.place.id,
                expires_at: own.expires_at,
                needs_approval: true,
                signature: Vec::new(),
            },
            welcome_key: own.welcome_key.clone(),
            answered_at: 0,
        };
        match self.join_from_welcome(&join, bundle, false) {
            Ok(_) => {}
            Err(ClientError::Hostile(why)) => {
                // A slot takes one welcome: this knock can never complete.
                self.db().delete(NS_KNOCKS_OUT, &group.0)?;
                self.db().commit()?;
                return Err(ClientError::Hostile(t!(
                    "engine-knock-answer-unusable",
                    why = why
                )));
            }
            Err(e) => return Err(e),
        }
        self.db().delete(NS_KNOCKS_OUT, &group.0)?;
        self.db().commit()?;
        // Best effort: the slot expires anyway.
        let _ = conn
            .request(Request::DeleteInvite {
                slot,
                manage_token: own.manage_token,
            })
            .await;
        self.after_join(group).await?;
        Ok(true)
    }
}
