//! The client engine: one profile, its groups, and everything the `kith` commands (and
//! later the chat screen) do with them. The CLI is a thin face over [`Client`].
//!
//! Every operation follows one pattern for crash safety: MLS state changes and the
//! records that go with them are written to the store's pending overlay, and committed
//! together with [`Store::commit`] at a point where a crash would leave a consistent
//! state — never "MLS advanced but the message lost", never "message saved twice".
//! Commits of ours are staged (OpenMLS's pending commit, persisted) before they are
//! posted, and merged only once the relay accepted them; if the answer is lost we
//! recognise our own commit in the log by its bytes. Our application messages are
//! recognised the same way ([`records::Unconfirmed`]).

mod commit;
mod counters;
mod duress;
#[cfg(feature = "test-hooks")]
mod evil;
mod failover;
mod files;
mod fork;
mod group_admin;
mod invite;
pub mod join_verify;
mod knock;
mod moving;
pub mod names;
mod outbox;
mod outcome;
pub mod place;
pub mod records;
mod repair;
mod reposts;
mod send;
pub mod state;
mod sync;
mod views;

pub use duress::DURESS_NOTIFY_BUDGET;
pub use files::{CHUNK_SIZE, FileInfo, MAX_FILE_BYTES, SavedFile, clean_file_name};
pub use group_admin::RequestInfo;
pub use invite::InvitePreview;
pub use moving::MoveReport;
pub use outbox::{NotSent, Queued};
pub use outcome::SyncOutcome;
pub use state::{BoardEntry, GroupState};
pub use sync::SyncReport;

use crate::identity::{self, IdentityKey, fingerprint, safety_number};
use crate::payload::{AppMessage, Body, MAX_GROUP_NAME_CHARS, MAX_NAME_CHARS};
use crate::relay::{ConnectOptions, RelayConnection, RelayError};
use crate::store::{KithProvider, Store, StoreError};
use kith_i18n::t;
use kith_protocol::access::{ACCESS_EXPORTER_LABEL, ACCESS_EXPORTER_LEN, AccessKey, AdminKey};
use kith_protocol::invite::RelayAddr;
use kith_protocol::padding::pad;
use kith_protocol::{ErrorCode, GroupId, PostKind, Seq};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use records::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The one ciphersuite Kith uses: X25519, ChaCha20-Poly1305, SHA-256, Ed25519.
pub const CIPHERSUITE: Ciphersuite =
    Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;

/// How often a client commits an update of its own leaf (post-compromise security).
pub const SELF_UPDATE_EVERY_SECS: u64 = 7 * 24 * 3600;

/// Why an operation failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local store failed (wrong passphrase, in use, damaged…).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The relay could not be reached or refused.
    #[error("{0}")]
    Relay(#[from] RelayError),
    /// No such group, or the name is ambiguous.
    #[error("{0}")]
    NoGroup(String),
    /// No such member.
    #[error("{0}")]
    NoMember(String),
    /// An MLS operation failed.
    #[error("{}", mls_text(.0))]
    Mls(String),
    /// The invite could not be used.
    #[error("{0}")]
    Invite(String),
    /// Input the user gave is not acceptable.
    #[error("{0}")]
    Usage(String),
    /// The relay (or someone through it) sent something that fails our checks.
    #[error("{}", hostile_text(.0))]
    Hostile(String),
    /// The group is not usable by this profile any more.
    #[error("{0}")]
    NotMember(String),
    /// A message was encrypted and handed to the relay, but its answer never came (the
    /// connection failed, or timed out): the relay may have stored it. Not retried on
    /// its own, since a second try would be a second message if the first arrived; the
    /// next sync shows it as ours if it did (`records::Unconfirmed`).
    #[error("{}", unconfirmed_text(.0))]
    Unconfirmed(RelayError),
    /// An admin repaired the group a moment ago; for a while only admins may change it
    /// (messages still go through).
    #[error("{}", t!("engine-error-commit-locked"))]
    CommitLocked,
}

fn mls_text(why: &str) -> String {
    t!("engine-error-mls", why = why)
}

fn hostile_text(why: &str) -> String {
    t!("engine-error-hostile", why = why)
}

fn unconfirmed_text(e: &RelayError) -> String {
    t!("engine-error-unconfirmed", error = e.to_string())
}

impl ClientError {
    /// Whether the failure is a passing one of the network or the relay (cannot
    /// connect, connection lost, timeout, the relay busy or failing inside): worth
    /// trying again after a pause, unlike a refusal of the request itself.
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            ClientError::Relay(
                RelayError::Connect(_)
                    | RelayError::Closed(_)
                    | RelayError::Timeout(_)
                    | RelayError::PushOverflow
                    | RelayError::Relay(ErrorCode::Internal | ErrorCode::RateLimited)
            )
        )
    }
}

/// Results of engine calls.
pub type Result<T> = std::result::Result<T, ClientError>;

fn mls<E: std::fmt::Debug>(e: E) -> ClientError {
    ClientError::Mls(format!("{e:?}"))
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The MLS settings Kith uses; each is explained in SECURITY.md.
fn create_config() -> MlsGroupCreateConfig {
    create_config_builder().build()
}

/// Kith's group settings, before the group state extension a new group gets (public
/// for the MLS bench, which must measure exactly these).
pub fn create_config_builder() -> MlsGroupCreateConfigBuilder {
    MlsGroupCreateConfig::builder()
        // Every Kith leaf can carry the group state extension (engine/state.rs).
        .capabilities(state::capabilities())
        .ciphersuite(CIPHERSUITE)
        // Handshake messages too are PrivateMessages: the relay never sees who commits
        // what.
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        // The relay orders every message of an epoch before the commit that ends it,
        // and we process the log in order: no past epoch's keys are ever needed.
        .max_past_epochs(0)
        // Small out-of-order window, bounded forward distance: keeps few skipped keys.
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(5, 1000))
        // We pad application payloads ourselves to relay buckets (payload.rs).
        .padding_size(0)
        // The joiner gets the ratchet tree beside the Welcome, in the sealed Welcome
        // bundle (seal.rs), not in the GroupInfo's extension. In the extension every
        // commit — not only adds — signs a GroupInfo over the whole tree: at 1000 members
        // that was about half of what a commit cost (BENCHMARKS.md). OpenMLS checks a
        // tree given this way against the tree hash in the signed GroupContext.
        .use_ratchet_tree_extension(false)
}

/// The same settings, for joining from a Welcome.
pub fn join_config() -> MlsGroupJoinConfig {
    create_config().join_config().clone()
}

/// Test hook (only with the `test-hooks` feature): with `KITH_TEST_CRASH_AT=<point>` in
/// the environment, the process aborts at that point, as a power cut or `kill -9` would.
/// The end-to-end tests use it to prove that a crash between two steps neither loses,
/// repeats, nor reuses anything. Points: `after-decrypt` (a message processed, nothing
/// saved yet), `after-encrypt` (a message encrypted and its ratchet step saved, not yet
/// posted) and `after-post` (the relay stored the message and answered, nothing of the
/// answer saved yet).
#[cfg(feature = "test-hooks")]
pub(crate) fn crash_point(point: &str) {
    if std::env::var_os("KITH_TEST_CRASH_AT").is_some_and(|p| p == point) {
        std::process::abort();
    }
}

/// A crash point of the end-to-end tests; nothing in this build.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub(crate) fn crash_point(_point: &str) {}

/// Whether a post that failed with `e` certainly left nothing on the relay: the relay
/// answered with an error code (it stores nothing then), or the request was too large
/// to send. Any other failure came after the bytes may have reached it, with no answer.
fn never_stored(e: &RelayError) -> bool {
    matches!(e, RelayError::Relay(_) | RelayError::TooLarge(_))
}

/// Test hook (only with the `test-hooks` feature): with `KITH_TEST_IGNORE_OWN_ROLE` set,
/// this client skips the checks it makes on its *own* actions (only admins invite,
/// remove, promote, edit the board…), so that the end-to-end tests can play a member
/// running a modified client and show that every other client refuses what it does. It
/// never weakens the checks on anyone else's commits or messages; a hostile member could
/// patch their client just as well.
#[cfg(feature = "test-hooks")]
pub(crate) fn own_role_checks() -> bool {
    std::env::var_os("KITH_TEST_IGNORE_OWN_ROLE").is_none()
}

/// Whether this client checks its own actions against its role: always, in this build.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub(crate) fn own_role_checks() -> bool {
    true
}

/// A one-way tag of the epoch authenticator (16 bytes of SHA-256), carried in the
/// authenticated data of every application message we send. Members whose views of the
/// group diverged (a relay showing different commits to different members) cannot
/// decrypt each other, but can still read this tag and see that it differs from theirs:
/// that is how a fork is told apart from a corrupted message.
pub fn fork_tag(m: &MlsGroup) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(b"kith epoch check v1\0")
        .chain_update(m.epoch_authenticator().as_slice())
        .finalize()[..16]
        .to_vec()
}

/// Cleans a name received from the network or typed: no control characters (a name must
/// not be able to rewrite the terminal), trimmed, bounded.
pub fn clean_name(name: &str, max_chars: usize) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Cleans message text for display: keeps newlines and tabs, drops every other control
/// character (escape sequences from a hostile member must not reach the terminal).
pub fn clean_text(text: &str) -> String {
    text.chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect()
}

/// A member as `kith members` shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MemberInfo {
    /// Display name (or the fingerprint when none is known).
    pub name: String,
    /// Identity key, hex.
    pub identity: String,
    /// Short fingerprint.
    pub fingerprint: String,
    /// `admin` or `member`.
    pub role: String,
    /// The safety number was confirmed.
    pub verified: bool,
    /// This profile.
    pub you: bool,
    /// The name collides with another member's (the same after case folding, or
    /// confusable): the screen adds a fingerprint fragment (see `engine::names`).
    pub name_collides: bool,
}

/// A group as `kith groups` shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GroupSummary {
    /// Name.
    pub name: String,
    /// Relay-side id, hex (for naming the group on the command line).
    pub id: String,
    /// The relay URL.
    pub relay: String,
    /// Members.
    pub members: usize,
    /// Unread messages.
    pub unread: usize,
    /// Join requests waiting for an admin's approval (as this profile sees them).
    pub pending_joins: usize,
    /// `active`, `removed` or `left`.
    pub status: String,
    /// A member broke the rules and no admin's client has undone it yet: nothing is
    /// sent to the group until then.
    pub on_hold: bool,
}

/// One profile, unlocked.
pub struct Client {
    home: PathBuf,
    provider: KithProvider,
    signer: SignatureKeyPair,
    profile: ProfileRecord,
    conns: HashMap<String, Arc<RelayConnection>>,
    /// (relay, group, epoch) this process proved access to on the current connection.
    authed: HashSet<(String, GroupId, u64)>,
    /// How long each group's relay keeps its ciphertext, as last told, seconds.
    relay_retention: HashMap<GroupId, u64>,
    /// The creation secret to present when creating groups.
    pub creation_secret: Vec<u8>,
    /// How relay connections are opened (SOCKS5 proxy, extra CA, timeouts).
    pub connect_options: ConnectOptions,
    /// The secret our admin keys at relays are derived from (one per group).
    admin_seed: zeroize::Zeroizing<[u8; 32]>,
    /// How long a group's relay may fail to answer (or to know the group) before this
    /// client goes on at a fallback ([`place`]).
    pub failover_after: std::time::Duration,
}

/// How long a relay may fail before a client fails over, unless told otherwise: an hour
/// (long enough that a relay's restart or a short outage does not scatter the group,
/// short enough that a blocked relay does not silence it for a day).
pub const DEFAULT_FAILOVER_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

const PROFILE_KEY: &[u8] = b"me";
const ADMIN_SEED_KEY: &[u8] = b"admin-seed";

/// The profile's admin seed, made (and committed) the first time a profile is opened
/// without one: at open nothing else is pending.
fn admin_seed(store: &Store) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    if let Some(seed) = store.get_raw(NS_PROFILE, ADMIN_SEED_KEY)? {
        let seed: [u8; 32] = seed[..]
            .try_into()
            .map_err(|_| StoreError::Corrupt("admin seed"))?;
        return Ok(zeroize::Zeroizing::new(seed));
    }
    let seed = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
    store.put_raw(NS_PROFILE, ADMIN_SEED_KEY, &seed[..])?;
    store.commit()?;
    Ok(seed)
}

fn get_record<T: serde::de::DeserializeOwned>(
    store: &Store,
    ns: &str,
    key: &[u8],
) -> Result<Option<T>> {
    match store.get_raw(ns, key)? {
        None => Ok(None),
        Some(b) => Ok(Some(
            postcard::from_bytes(&b).map_err(|_| StoreError::Corrupt("undecodable record"))?,
        )),
    }
}

impl Client {
    /// Makes a new profile in `home` with display `name`.
    pub fn init(home: &Path, passphrase: &[u8], name: &str) -> Result<Self> {
        let name = clean_name(name, MAX_NAME_CHARS);
        if name.is_empty() {
            return Err(ClientError::Usage(t!("engine-client-name-needed")));
        }
        let store = Store::create(home, passphrase)?;
        Self::init_in(home, store, name)
    }

    /// A new profile on a fresh store.
    fn init_in(home: &Path, store: Store, name: String) -> Result<Self> {
        let admin_seed = admin_seed(&store)?;
        let provider = KithProvider::new(store);
        let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).map_err(mls)?;
        signer.store(provider.storage()).map_err(mls)?;
        let identity: IdentityKey = signer
            .public()
            .try_into()
            .map_err(|_| ClientError::Mls("identity key is not 32 bytes".into()))?;
        let profile = ProfileRecord {
            name,
            identity,
            created_at: now_secs(),
        };
        let client = Self::assemble(home, provider, signer, profile, admin_seed);
        client.put(NS_PROFILE, PROFILE_KEY, &client.profile)?;
        client.db().commit()?;
        Ok(client)
    }

    /// Unlocks the profile in `home`.
    ///
    /// With the duress passphrase (`kith passphrase --duress`), the profile is destroyed
    /// beyond recovery and a fresh, empty one of the same name opens in its place, as if
    /// the passphrase had always been that one's: what it prints and how long it takes
    /// are those of a new profile's unlock (SECURITY.md, "A duress passphrase"). This
    /// never tells the groups, even when the member chose it: the faces unlock with
    /// [`Client::unlock`], which does.
    pub fn open(home: &Path, passphrase: &[u8]) -> Result<Self> {
        match Store::open(home, passphrase) {
            Err(StoreError::Duress(unlock)) => Self::after_duress(home, *unlock),
            other => Self::from_store(home, other?),
        }
    }

    /// What a duress unlock leaves: the profile destroyed, and a fresh one of the same
    /// name in its place.
    fn after_duress(home: &Path, unlock: crate::store::DuressUnlock) -> Result<Self> {
        let name = clean_name(&unlock.name, MAX_NAME_CHARS);
        let store = Store::duress_reset(home, unlock)?;
        let name = if name.is_empty() {
            "Member".to_owned()
        } else {
            name
        };
        Self::init_in(home, store, name)
    }

    /// The profile of an open store.
    fn from_store(home: &Path, store: Store) -> Result<Self> {
        let profile: ProfileRecord = get_record(&store, NS_PROFILE, PROFILE_KEY)?
            .ok_or(StoreError::Corrupt("profile record missing"))?;
        let admin_seed = admin_seed(&store)?;
        let provider = KithProvider::new(store);
        let signer = SignatureKeyPair::read(
            provider.storage(),
            &profile.identity,
            CIPHERSUITE.signature_algorithm(),
        )
        .ok_or(StoreError::Corrupt("identity key missing"))?;
        Ok(Self::assemble(home, provider, signer, profile, admin_seed))
    }

    /// A client over an unlocked profile, with no connection yet and the default
    /// settings.
    fn assemble(
        home: &Path,
        provider: KithProvider,
        signer: SignatureKeyPair,
        profile: ProfileRecord,
        admin_seed: zeroize::Zeroizing<[u8; 32]>,
    ) -> Self {
        Self {
            home: home.to_owned(),
            provider,
            signer,
            profile,
            conns: HashMap::new(),
            authed: HashSet::new(),
            relay_retention: HashMap::new(),
            creation_secret: Vec::new(),
            connect_options: ConnectOptions::default(),
            admin_seed,
            failover_after: DEFAULT_FAILOVER_AFTER,
        }
    }

    /// Changes the profile's passphrase (the duress passphrase, if any, stays).
    pub fn change_passphrase(&self, new: &[u8]) -> Result<()> {
        // The profile's own parameters: the duress slot was derived with them.
        let params = self.db().kdf_params()?;
        Ok(self.db().change_passphrase(new, params)?)
    }

    /// Sets the duress passphrase (see [`Client::unlock`]); `current` is the profile's.
    /// With `notify`, a duress unlock first tells the groups and leaves them
    /// (`duress.rs`); without, it does not (setting it again without `notify` turns
    /// that off).
    pub fn set_duress(&self, current: &[u8], duress: &[u8], notify: bool) -> Result<()> {
        Ok(self
            .db()
            .set_duress(current, duress, &self.profile.name, notify)?)
    }

    /// How long the group's relay keeps its ciphertext, seconds, as it said when this
    /// process last proved access (`None` before that).
    pub fn relay_retention(&self, group: &GroupId) -> Option<u64> {
        self.relay_retention.get(group).copied()
    }

    pub(crate) fn note_relay_retention(&mut self, group: &GroupId, secs: u64) {
        self.relay_retention.insert(*group, secs);
    }

    /// The profile directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// Identity key.
    pub fn identity(&self) -> IdentityKey {
        self.profile.identity
    }

    /// Short fingerprint of the identity key.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.profile.identity)
    }

    fn db(&self) -> &Store {
        self.provider.store()
    }

    // Our records are postcard-encoded (compact, and maps with byte keys work), then
    // sealed by the store like everything else.
    fn put<T: serde::Serialize + ?Sized>(&self, ns: &str, key: &[u8], value: &T) -> Result<()> {
        let bytes =
            postcard::to_stdvec(value).map_err(|_| StoreError::Corrupt("unencodable record"))?;
        self.db().put_raw(ns, key, &bytes)?;
        Ok(())
    }

    fn get<T: serde::de::DeserializeOwned>(&self, ns: &str, key: &[u8]) -> Result<Option<T>> {
        get_record(self.db(), ns, key)
    }

    fn scan<T: serde::de::DeserializeOwned>(&self, ns: &str) -> Result<Vec<(Vec<u8>, T)>> {
        self.db()
            .scan_raw(ns)?
            .into_iter()
            .map(|(k, v)| {
                postcard::from_bytes(&v)
                    .map(|t| (k, t))
                    .map_err(|_| StoreError::Corrupt("undecodable record").into())
            })
            .collect()
    }

    fn credential(&self) -> CredentialWithKey {
        CredentialWithKey {
            credential: BasicCredential::new(self.profile.identity.to_vec()).into(),
            signature_key: self.signer.public().into(),
        }
    }

    async fn conn(&mut self, relay: &str) -> Result<Arc<RelayConnection>> {
        if let Some(c) = self.conns.get(relay)
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let c = Arc::new(RelayConnection::connect_with(relay, self.connect_options.clone()).await?);
        self.conns.insert(relay.to_owned(), c.clone());
        self.authed.retain(|(r, _, _)| r != relay);
        Ok(c)
    }

    /// Proves access to the group's current epoch on its relay connection (once per
    /// connection and epoch).
    pub(crate) async fn ensure_auth(
        &mut self,
        g: &GroupRecord,
        m: &MlsGroup,
    ) -> Result<Arc<RelayConnection>> {
        let conn = self.conn(&g.relay).await?;
        let epoch = m.epoch().as_u64();
        let key = (g.relay.clone(), g.place.id, epoch);
        if !self.authed.contains(&key) {
            match conn
                .auth_info(g.place.id, epoch, &self.access_key(m)?)
                .await
            {
                Ok(info) => self.note_authorized(key, &g.relay_group, info),
                Err(RelayError::Relay(ErrorCode::AuthFailed)) => {
                    // Our key is right (every member of the epoch derives it): the relay
                    // holds another. The usual cause is a member's commit that named a
                    // wrong one; an admin's client puts it right.
                    if Box::pin(self.reset_wrong_key(&g.relay_group)).await? {
                        let text = match self.last_committer(g, epoch) {
                            Some(who) => t!("engine-client-wrong-key-reset-by", who = who),
                            None => t!("engine-client-wrong-key-reset"),
                        };
                        self.alert_now(&g.relay_group, text, &mut SyncReport::default())?;
                        let conn = self.conn(&g.relay).await?;
                        let info = conn
                            .auth_info(g.place.id, epoch, &self.access_key(m)?)
                            .await?;
                        self.note_authorized(key, &g.relay_group, info);
                        return Ok(conn);
                    }
                    return Err(ClientError::Hostile(match self.last_committer(g, epoch) {
                        Some(who) => t!("engine-client-key-refused-by", group = &g.name, who = who),
                        None => t!("engine-client-key-refused", group = &g.name),
                    }));
                }
                Err(RelayError::Relay(ErrorCode::NoSuchGroup))
                    if Box::pin(self.set_up_home(g, m)).await? =>
                {
                    // The group's home was not set up there yet (a move's first member
                    // to arrive), or the relay lost it: it is now, at our epoch.
                    let info = conn
                        .auth_info(g.place.id, epoch, &self.access_key(m)?)
                        .await?;
                    self.note_authorized(key, &g.relay_group, info);
                }
                Err(RelayError::Relay(ErrorCode::Unauthorized)) => {
                    // The relay forgets an epoch's key with the epoch's last message, so
                    // this is what being away past the retention looks like; nothing here
                    // is evidence of anything worse.
                    let kept = match g.state.disappear_secs {
                        0 => t!("engine-client-kept-relay-limit"),
                        s => kith_i18n::duration(s),
                    };
                    let next = Box::pin(self.knock(g, m)).await?;
                    return Err(ClientError::NotMember(t!(
                        "engine-client-away-too-long",
                        group = &g.name,
                        epoch = epoch,
                        kept = kept,
                        next = next
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(conn)
    }

    /// Subscribes to live pushes of a group; returns the push channel.
    pub async fn subscribe(
        &mut self,
        group: &GroupId,
    ) -> Result<tokio::sync::mpsc::Receiver<kith_protocol::Push>> {
        let g = self.load_group(group)?;
        let m = self.mls_group(&g)?;
        let conn = self.ensure_auth(&g, &m).await?;
        conn.subscribe(g.place.id).await?;
        conn.take_pushes()
            .ok_or_else(|| ClientError::Relay(RelayError::Closed("pushes already taken".into())))
    }

    /// Subscribes to live pushes of several groups, each on its relay's connection.
    /// Returns the push channel of every connection whose channel was not handed out
    /// before (so: one per fresh connection); pushes of a group subscribed on a
    /// connection whose channel is already out arrive on that channel.
    pub async fn subscribe_groups(
        &mut self,
        groups: &[GroupId],
    ) -> Result<Vec<tokio::sync::mpsc::Receiver<kith_protocol::Push>>> {
        let mut out = Vec::new();
        for group in groups {
            let g = self.load_group(group)?;
            let m = self.mls_group(&g)?;
            let conn = self.ensure_auth(&g, &m).await?;
            conn.subscribe(g.place.id).await?;
            out.extend(conn.take_pushes());
        }
        Ok(out)
    }

    /// Closes the connection to one relay (the others stay).
    pub async fn close_relay(&mut self, relay: &str) {
        self.authed.retain(|(r, _, _)| r != relay);
        if let Some(c) = self.conns.remove(relay) {
            c.close().await;
        }
    }

    /// Whether this profile holds an open connection to `relay`.
    pub fn relay_open(&self, relay: &str) -> bool {
        self.conns.get(relay).is_some_and(|c| !c.is_closed())
    }

    /// The relay (URL) of a group: where this client reads and posts it now.
    pub fn group_relay(&self, group: &GroupId) -> Result<String> {
        Ok(self.load_group(group)?.relay)
    }

    /// The group's home relay (URL): where every member reads and posts while it
    /// answers. [`Client::group_relay`] differs while this client is on a fallback.
    pub fn group_home(&self, group: &GroupId) -> Result<String> {
        let g = self.load_group(group)?;
        Ok(self.home_place(&g).url)
    }

    /// Where this client reads and posts a group now: the relay (URL) and the group's id
    /// there, which pushes name.
    pub fn group_place(&self, group: &GroupId) -> Result<(String, GroupId)> {
        let g = self.load_group(group)?;
        Ok((g.relay, g.place.id))
    }

    /// Closes every relay connection.
    pub async fn close(&mut self) {
        self.authed.clear();
        for (_, c) in self.conns.drain() {
            c.close().await;
        }
    }

    // ---- groups ------------------------------------------------------------------

    fn groups_raw(&self) -> Result<Vec<GroupRecord>> {
        self.scan::<GroupRecord>(NS_GROUPS)?
            .into_iter()
            .map(|(_, g)| self.with_place(g))
            .collect()
    }

    /// Writes a group's record and its placement (not committed).
    fn save_group(&self, g: &GroupRecord) -> Result<()> {
        self.put(NS_GROUPS, &g.relay_group.0, g)?;
        self.put(place::NS_PLACES, &g.relay_group.0, &g.place)?;
        Ok(())
    }

    fn load_group(&self, id: &GroupId) -> Result<GroupRecord> {
        let g = self
            .get(NS_GROUPS, &id.0)?
            .ok_or_else(|| ClientError::NoGroup(t!("engine-client-no-such-group")))?;
        self.with_place(g)
    }

    /// Finds a group by exact name (ignoring case, Unicode's full case folding) or an
    /// unambiguous id prefix.
    pub fn find_group(&self, query: &str) -> Result<GroupId> {
        let groups = self.groups_raw()?;
        let by_name: Vec<_> = groups
            .iter()
            .filter(|g| names::same(&g.name, query.trim()))
            .collect();
        match by_name.len() {
            1 => return Ok(by_name[0].relay_group),
            n if n > 1 => {
                return Err(ClientError::NoGroup(t!(
                    "engine-client-group-ambiguous",
                    n = n,
                    query = query,
                    ids = by_name
                        .iter()
                        .map(|g| g.relay_group.to_hex()[..8].to_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            _ => {}
        }
        let q = query.trim().to_ascii_lowercase();
        if q.len() >= 4 && q.chars().all(|c| c.is_ascii_hexdigit()) {
            let by_id: Vec<_> = groups
                .iter()
                .filter(|g| g.relay_group.to_hex().starts_with(&q))
                .collect();
            match by_id.len() {
                1 => return Ok(by_id[0].relay_group),
                n if n > 1 => {
                    return Err(ClientError::NoGroup(t!(
                        "engine-client-group-id-ambiguous",
                        prefix = &q,
                        n = n
                    )));
                }
                _ => {}
            }
        }
        Err(ClientError::NoGroup(t!(
            "engine-client-no-group",
            query = query
        )))
    }

    fn mls_group(&self, g: &GroupRecord) -> Result<MlsGroup> {
        let mut group = MlsGroup::load(
            self.provider.storage(),
            &openmls::group::GroupId::from_slice(&g.mls_group_id),
        )
        .map_err(mls)?
        .ok_or_else(|| ClientError::NotMember(t!("engine-client-no-group-state")))?;
        // A group stored under older settings (such as the ratchet tree in the Welcome)
        // takes the current ones; saved with whatever this call leads to.
        let config = join_config();
        if group.configuration() != &config {
            group
                .set_configuration(self.provider.storage(), &config)
                .map_err(mls)?;
        }
        Ok(group)
    }

    /// Our admin key at the relay for the group with MLS id `mls_group_id`: derived from
    /// the profile's admin seed and the group, so that our keys in two groups cannot be
    /// linked, and nothing per group needs storing.
    pub(crate) fn admin_key(&self, mls_group_id: &[u8]) -> AdminKey {
        use hkdf::Hkdf;
        use sha2::Sha256;
        let hk = Hkdf::<Sha256>::new(Some(b"kith group admin v1"), &self.admin_seed[..]);
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        hk.expand(mls_group_id, seed.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        AdminKey::from_seed(&seed)
    }

    /// Our admin keys for the group with MLS id `mls_group_id`, as the state carries them.
    pub(crate) fn admin_keys_of(&self, mls_group_id: &[u8]) -> Result<state::AdminKeys> {
        Ok(state::AdminKeys {
            relay: self.admin_key(mls_group_id).public(),
            seal: self
                .admin_seal_pair(mls_group_id)?
                .public
                .as_slice()
                .try_into()
                .map_err(|_| ClientError::Mls("an X25519 key is 32 bytes".into()))?,
        })
    }

    /// Our HPKE key pair that approval-code secrets are sealed to, derived like the
    /// admin key (another HKDF label).
    pub(crate) fn admin_seal_pair(
        &self,
        mls_group_id: &[u8],
    ) -> Result<openmls_traits::types::HpkeKeyPair> {
        use hkdf::Hkdf;
        use openmls_traits::crypto::OpenMlsCrypto as _;
        use sha2::Sha256;
        let hk = Hkdf::<Sha256>::new(Some(b"kith group admin seal v1"), &self.admin_seed[..]);
        let mut ikm = zeroize::Zeroizing::new([0u8; 32]);
        hk.expand(mls_group_id, ikm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        self.provider
            .crypto()
            .derive_hpke_keypair(invite::hpke_config(), &ikm[..])
            .map_err(mls)
    }

    fn access_key(&self, group: &MlsGroup) -> Result<AccessKey> {
        let secret = group
            .export_secret(
                self.provider.crypto(),
                ACCESS_EXPORTER_LABEL,
                b"",
                ACCESS_EXPORTER_LEN,
            )
            .map_err(mls)?;
        Ok(AccessKey::from_exporter_secret(&secret))
    }

    /// Creates a group on `relay` (`ws://host:port` or `wss://host`).
    pub async fn create_group(&mut self, name: &str, relay: &str) -> Result<GroupId> {
        let name = clean_name(name, MAX_GROUP_NAME_CHARS);
        if name.is_empty() {
            return Err(ClientError::Usage(t!("engine-client-group-name-needed")));
        }
        let relay = relay
            .parse::<RelayAddr>()
            .map_err(|e| ClientError::Usage(e.to_string()))?
            .ws_url();
        let mls_id: [u8; 16] = rand::random();
        let keys = self.admin_keys_of(&mls_id)?;
        let admin_key = keys.relay;
        let mut state = GroupState::new(self.profile.identity);
        state.admin_keys.insert(self.profile.identity, keys);
        let extensions = state.extensions().map_err(ClientError::Mls)?;
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer,
            &create_config_builder()
                .with_group_context_extensions(extensions)
                .build(),
            openmls::group::GroupId::from_slice(&mls_id),
            self.credential(),
        )
        .map_err(mls)?;
        let key = self.access_key(&group)?;
        let conn = match self.conn(&relay).await {
            Ok(c) => c,
            Err(e) => {
                self.db().rollback();
                return Err(e);
            }
        };
        let relay_group = match conn
            .create_group(key.public(), &self.creation_secret, admin_key)
            .await
        {
            Ok(id) => id,
            Err(RelayError::Relay(ErrorCode::CreationForbidden)) => {
                self.db().rollback();
                // A secret that is wrong is not one that is missing: say which.
                return Err(ClientError::Usage(if self.creation_secret.is_empty() {
                    t!("engine-client-creation-forbidden")
                } else {
                    t!("engine-client-creation-secret-wrong")
                }));
            }
            Err(e) => {
                self.db().rollback();
                return Err(e.into());
            }
        };
        let record = GroupRecord {
            name,
            relay,
            relay_group,
            mls_group_id: mls_id.to_vec(),
            cursor: 1,
            read_upto: 1,
            status: GroupStatus::Active,
            names: BTreeMap::from([(self.profile.identity, self.profile.name.clone())]),
            leaving: BTreeSet::new(),
            pending: None,
            last_update: now_secs(),
            state,
            offenders: BTreeSet::new(),
            intruders: BTreeSet::new(),
            tainted: false,
            history_from: None,
            history_next: 1,
            place: place::Placement::at(relay_group),
        };
        self.save_group(&record)?;
        self.add_record(
            &record,
            MessageRecord {
                shared_by: None,
                expires: 0,
                seq: 0,
                sub: 0,
                time: now_secs(),
                sender: Some(self.profile.identity),
                own: true,
                kind: RecordKind::Notice(t!("engine-client-created")),
            },
        )?;
        self.db().commit()?;
        Ok(relay_group)
    }

    /// Records a line of history. Under a disappearing-messages timer every record —
    /// texts, files and notices alike — gets its expiry.
    fn add_record(&self, g: &GroupRecord, mut r: MessageRecord) -> Result<()> {
        if r.expires == 0 && g.state.disappear_secs > 0 {
            r.expires = r.time.saturating_add(g.state.disappear_secs);
        }
        self.put_record(&ns_msgs(&g.relay_group), &msg_key(r.seq, r.sub), &r)
    }

    /// Writes a history record; one with an expiry is sealed under a key of its expiry
    /// bucket, which the store destroys when the bucket ends (store/expiry.rs): after
    /// that, not even the passphrase opens what is left of it in sled's files.
    pub(crate) fn put_record(&self, ns: &str, key: &[u8], r: &MessageRecord) -> Result<()> {
        if r.expires == 0 {
            return self.put(ns, key, r);
        }
        let bytes =
            postcard::to_stdvec(r).map_err(|_| StoreError::Corrupt("unencodable record"))?;
        self.db().put_raw_expiring(ns, key, &bytes, r.expires)?;
        Ok(())
    }

    /// Destroys the keys of every expiry bucket that ended, and the records sealed
    /// under them (all groups). A record past its expiry already reads as absent (the
    /// store checks it on every read); this makes it unreadable on disk too.
    pub(crate) fn purge_expired(&self) -> Result<usize> {
        Ok(self.db().shred_expired(now_secs())?)
    }

    /// Every group with counts.
    pub fn groups(&self) -> Result<Vec<GroupSummary>> {
        let mut out = Vec::new();
        for g in self.groups_raw()? {
            let members = self.mls_group(&g).map(|m| m.members().count()).unwrap_or(0);
            let unread = self
                .messages(&g.relay_group)?
                .iter()
                .filter(|m| m.seq >= g.read_upto && !m.own)
                .count();
            let pending_joins = self
                .scan::<JoinRequest>(&ns_requests(&g.relay_group))?
                .len();
            out.push(GroupSummary {
                name: g.name.clone(),
                id: g.relay_group.to_hex(),
                relay: g.relay.clone(),
                members,
                unread,
                pending_joins,
                on_hold: g.tainted,
                status: match g.status {
                    GroupStatus::Active => "active".into(),
                    GroupStatus::Removed { .. } => "removed".into(),
                    GroupStatus::Left => "left".into(),
                },
            });
        }
        out.sort_by_key(|a| a.name.to_lowercase());
        Ok(out)
    }

    /// The stored history of a group, in order (without what has disappeared: the
    /// store does not return an expiring record past its expiry).
    pub fn messages(&self, group: &GroupId) -> Result<Vec<MessageRecord>> {
        let mut v: Vec<MessageRecord> = self
            .scan::<MessageRecord>(&ns_msgs(group))?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        v.sort_by_key(|m| (m.seq, m.sub));
        Ok(v)
    }

    /// Messages not shown yet (or all), and marks them shown.
    pub fn take_unread(&self, group: &GroupId, all: bool) -> Result<Vec<MessageRecord>> {
        let mut g = self.load_group(group)?;
        let msgs = self.messages(group)?;
        let out: Vec<_> = msgs
            .into_iter()
            .filter(|m| all || m.seq >= g.read_upto)
            .collect();
        g.read_upto = g.cursor.max(g.read_upto);
        self.save_group(&g)?;
        self.db().commit()?;
        Ok(out)
    }

    /// The display name for an identity in a group.
    pub fn display_name(&self, group: &GroupId, who: &IdentityKey) -> String {
        if *who == self.profile.identity {
            return self.profile.name.clone();
        }
        self.load_group(group)
            .ok()
            .and_then(|g| g.names.get(who).cloned())
            .unwrap_or_else(|| format!("[{}]", &fingerprint(who)[..9]))
    }

    /// The group's name.
    pub fn group_name(&self, group: &GroupId) -> Result<String> {
        Ok(self.load_group(group)?.name)
    }

    /// The members of a group.
    pub fn members(&self, group: &GroupId) -> Result<Vec<MemberInfo>> {
        let g = self.load_group(group)?;
        let m = self.mls_group(&g)?;
        let state = &g.state;
        let roster = self.roster_of(&g, &member_ids(&m))?;
        let mut out = Vec::new();
        for member in m.members() {
            let Some(id) = identity::identity_of(
                member.credential.serialized_content(),
                &member.signature_key,
            ) else {
                continue;
            };
            let contact: Contact = self.get(NS_CONTACTS, &id)?.unwrap_or_default();
            out.push(MemberInfo {
                name: self.display_name(group, &id),
                identity: kith_protocol::ids::hex(&id),
                fingerprint: fingerprint(&id),
                role: if state.is_admin(&id) {
                    "admin"
                } else {
                    "member"
                }
                .to_owned(),
                verified: contact.verified,
                you: id == self.profile.identity,
                name_collides: roster.collides(&id),
            });
        }
        Ok(out)
    }

    /// Finds a member of a group by name (ignoring case, Unicode's full case folding) or
    /// fingerprint/identity prefix.
    pub fn find_member(&self, group: &GroupId, query: &str) -> Result<IdentityKey> {
        let members = self.members(group)?;
        let q = query.trim();
        let qhex = q.replace(' ', "").to_ascii_lowercase();
        let hits: Vec<_> = members
            .iter()
            .filter(|m| {
                names::same(&m.name, q)
                    || (qhex.len() >= 4
                        && (m.fingerprint.replace(' ', "").starts_with(&qhex)
                            || m.identity.starts_with(&qhex)))
            })
            .collect();
        match hits.len() {
            1 => {
                let mut id = [0u8; 32];
                kith_protocol::ids::unhex(&hits[0].identity, &mut id);
                Ok(id)
            }
            0 => Err(ClientError::NoMember(t!(
                "engine-client-no-member",
                query = q
            ))),
            n => Err(ClientError::NoMember(t!(
                "engine-client-member-ambiguous",
                n = n,
                query = q
            ))),
        }
    }

    /// The safety number between this profile and `who`.
    pub fn safety_number(&self, who: &IdentityKey) -> String {
        safety_number(&self.profile.identity, who)
    }

    /// Marks `who` verified (the safety number was compared out of band).
    pub fn confirm_verified(&self, who: &IdentityKey, name: &str) -> Result<()> {
        let mut c: Contact = self.get(NS_CONTACTS, who)?.unwrap_or_default();
        c.verified = true;
        c.name = name.to_owned();
        self.put(NS_CONTACTS, who, &c)?;
        self.db().commit()?;
        Ok(())
    }

    /// Destroys what this profile kept of a group it is no longer in, except its
    /// history: the group state (with the secrets of open invites, which would let
    /// whoever holds this laptop answer them), admin work, commit memory.
    pub(crate) fn forget_group_secrets(&self, g: &mut GroupRecord) -> Result<()> {
        g.pending = None;
        g.state = GroupState::default();
        g.leaving.clear();
        g.offenders.clear();
        g.intruders.clear();
        g.tainted = false;
        self.db().delete_namespace(&ns_invites(&g.relay_group))?;
        self.db().delete_namespace(&ns_requests(&g.relay_group))?;
        self.db()
            .delete_namespace(&ns_unconfirmed(&g.relay_group))?;
        self.forget_commit_memory(&g.relay_group)?;
        self.db()
            .delete_namespace(&invite::ns_admission_checks(&g.relay_group))?;
        self.db()
            .delete_namespace(&invite::ns_own_codes(&g.relay_group))?;
        self.db()
            .delete_namespace(&fork::ns_foreign(&g.relay_group))?;
        self.db()
            .delete_namespace(&counters::ns_counters(&g.relay_group))?;
        self.db()
            .delete_namespace(&counters::ns_missing(&g.relay_group))?;
        self.db()
            .delete_namespace(&reposts::ns_sent(&g.relay_group))?;
        self.db()
            .delete_namespace(&counters::ns_counted(&g.relay_group))?;
        self.db().delete_namespace(&ns_claimed(&g.relay_group))?;
        Ok(())
    }

    /// Notes that this connection proved `key`'s (relay, group, epoch), and what the
    /// relay said of the group's retention.
    fn note_authorized(
        &mut self,
        key: (String, GroupId, u64),
        group: &GroupId,
        info: crate::relay::AuthInfo,
    ) {
        self.authed.insert(key);
        self.relay_retention.insert(*group, info.retention_secs);
    }

    pub(crate) fn taint_text(&self, g: &GroupRecord) -> String {
        let who: Vec<String> = g
            .offenders
            .iter()
            .map(|o| self.display_name(&g.relay_group, o))
            .collect();
        t!(
            "engine-client-on-hold",
            group = &g.name,
            who = who.join(", ")
        )
    }

    pub(crate) fn status_text(&self, g: &GroupRecord) -> String {
        match &g.status {
            GroupStatus::Active => "active".into(),
            GroupStatus::Removed { by: Some(by) } => t!(
                "engine-client-status-removed-by",
                group = &g.name,
                by = self.display_name(&g.relay_group, by)
            ),
            GroupStatus::Removed { by: None } => {
                t!("engine-client-status-removed", group = &g.name)
            }
            GroupStatus::Left => t!("engine-client-status-left", group = &g.name),
        }
    }

    // ---- membership --------------------------------------------------------------

    /// Removes a member (admins only). With `hide`, also hides every message the member
    /// sent, for everyone (moderation in one step).
    pub async fn remove_member(
        &mut self,
        group: &GroupId,
        who: &IdentityKey,
        hide: bool,
    ) -> Result<()> {
        if *who == self.profile.identity {
            return Err(ClientError::Usage(t!("engine-client-remove-yourself")));
        }
        let me = self.profile.identity;
        let who = *who;
        self.commit_change(group, |_, _, m, state| {
            if !state.is_admin(&me) && own_role_checks() {
                return Err(ClientError::Usage(t!("engine-client-remove-admins-only")));
            }
            let Some(index) = member_index(m, &who) else {
                return Err(ClientError::NoMember(t!("engine-client-not-a-member")));
            };
            let mut next = state.clone();
            next.admins.remove(&who);
            Ok(Some(Change {
                removes: vec![index],
                state: (next != *state).then_some(next),
                purpose: CommitPurpose::Remove {
                    identities: vec![who],
                },
                ..Change::default()
            }))
        })
        .await?;
        if hide {
            self.send_body(group, Body::HideFrom { member: who })
                .await?;
        }
        Ok(())
    }

    /// Leaves a group: asks the admins to commit our removal, then forgets the group's
    /// keys (we cannot read anything after this even before the removal is committed).
    pub async fn leave(&mut self, group: &GroupId) -> Result<()> {
        self.sync_group(group, false).await?;
        let mut g = self.load_group(group)?;
        if g.status == GroupStatus::Active {
            let m = self.mls_group(&g)?;
            let members = m.members().count();
            let state = &g.state;
            if members > 1 && state.admins.len() == 1 && state.is_admin(&self.profile.identity) {
                // Only an admin commits a leave; the last admin leaving would strand the
                // group with nobody able to invite or remove.
                return Err(ClientError::Usage(t!("engine-client-last-admin")));
            }
            self.send_body(group, Body::LeaveRequest).await?;
            let mut m = self.mls_group(&g)?;
            m.delete(self.provider.storage()).map_err(mls)?;
            g = self.load_group(group)?;
        }
        g.status = GroupStatus::Left;
        self.forget_group_secrets(&mut g)?;
        self.save_group(&g)?;
        self.add_record(
            &g,
            MessageRecord {
                shared_by: None,
                expires: 0,
                seq: g.cursor,
                sub: 900,
                time: now_secs(),
                sender: Some(self.profile.identity),
                own: true,
                kind: RecordKind::Notice(t!("engine-client-left")),
            },
        )?;
        self.db().commit()?;
        Ok(())
    }
}

/// What one commit of ours does; see [`Client::commit_change`].
#[derive(Default)]
pub(crate) struct Change {
    /// KeyPackages to add.
    pub adds: Vec<KeyPackage>,
    /// Leaves to remove.
    pub removes: Vec<LeafNodeIndex>,
    /// The new group state, if it changes.
    pub state: Option<GroupState>,
    /// What the commit is for (recorded with it, for crash recovery and the history).
    pub purpose: CommitPurpose,
}

/// The leaf index of the member with identity `who`.
pub(crate) fn member_index(m: &MlsGroup, who: &IdentityKey) -> Option<LeafNodeIndex> {
    m.members()
        .find(|x| {
            identity::identity_of(x.credential.serialized_content(), &x.signature_key) == Some(*who)
        })
        .map(|x| x.index)
}

/// The identities of the members of `m`.
pub(crate) fn member_ids(m: &MlsGroup) -> BTreeSet<IdentityKey> {
    m.members()
        .filter_map(|x| identity::identity_of(x.credential.serialized_content(), &x.signature_key))
        .collect()
}
