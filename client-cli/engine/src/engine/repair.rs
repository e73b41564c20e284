//! What an admin's client does, on its own, when one member's commit would otherwise end
//! the group, and how every client keeps the relay's view of the group's admins and
//! retention equal to the MLS-agreed state.
//!
//! * A commit that no client can process (garbage posted as a commit, or a commit that
//!   does not decrypt or verify) leaves every honest client at its epoch while the relay
//!   moved on. Each client remembers the refused commit; an admin's client asks the relay
//!   to void it (`VoidFrom`) and everything after it, which puts the group back in its
//!   epoch. Nothing honest is lost: nobody but the attacker could post in the epoch the
//!   garbage started. Such a commit names nobody: the alert says so.
//! * A well-formed commit that gave the relay a wrong key for the epoch it starts (every
//!   client processed it, then none can prove access) is signed: its committer is named.
//!   An admin's client gives the relay the right key (`ResetAccessKey`).
//! * Either repair locks commits to admins for a while (an hour; a week if the group was
//!   repaired in the last day), so the attacker cannot do it again at once, while members
//!   go on sending messages.
//! * Admins' keys and the retention: the relay takes them only from an admin key, and
//!   every admin's client compares what the relay holds with the accepted state on each
//!   sync and puts it right, with an alert when something else had changed it.

use super::records::*;
use super::{Change, Client, ClientError, Result, now_secs};
use crate::identity::{IdentityKey, fingerprint};
use crate::relay::RelayError;
use kith_i18n::t;
use kith_protocol::padding::unpad;
use kith_protocol::{ErrorCode, GroupId, Message, RepairRecord, Seq};
use serde::{Deserialize, Serialize};

/// How long commits stay locked to admins after a repair.
const LOCK_SECS: u64 = 3600;
/// After a second repair within this time, they stay locked for a week.
const REPEAT_WINDOW_SECS: u64 = 24 * 3600;

/// What this client remembers of a group's recent commits, for repairs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct CommitMemory {
    /// A commit for our current epoch that we could not process: `(epoch, seq)`.
    pub refused: Option<(u64, Seq)>,
    /// The last commit we merged: its sequence number, committer and the epoch it began.
    pub last: Option<(Seq, IdentityKey, u64)>,
    /// When the group was last repaired, Unix seconds (ours or another admin's).
    pub repaired_at: u64,
    /// The relay's retention we last warned about (so that a warning is said once).
    pub retention_warned: u64,
    /// A relay retention that differs from the agreed one, and since when we see it.
    pub retention_differs: Option<(u64, u64)>,
}

/// How long a relay retention must differ from the agreed one before a member's client
/// warns: an admin's client sets it right after its timer commit, and a member who proved
/// access in between must not cry wolf.
const RETENTION_GRACE_SECS: u64 = 600;

const MEMORY_KEY: &[u8] = b"commits";

fn ns_memory(group: &GroupId) -> String {
    format!("commit-memory/{}", group.to_hex())
}

impl Client {
    pub(crate) fn commit_memory(&self, group: &GroupId) -> Result<CommitMemory> {
        Ok(self.get(&ns_memory(group), MEMORY_KEY)?.unwrap_or_default())
    }

    pub(crate) fn save_commit_memory(&self, group: &GroupId, m: &CommitMemory) -> Result<()> {
        self.put(&ns_memory(group), MEMORY_KEY, m)
    }

    pub(crate) fn forget_commit_memory(&self, group: &GroupId) -> Result<()> {
        self.db().delete_namespace(&ns_memory(group))?;
        Ok(())
    }

    /// Whether this client may use the group's admin requests at the relay.
    pub(crate) fn relay_admin(&self, g: &GroupRecord) -> bool {
        let me = self.identity();
        g.status == GroupStatus::Active
            && g.state.is_admin(&me)
            && g.state.admin_keys.get(&me).map(|k| k.relay)
                == Some(self.admin_key(&g.mls_group_id).public())
    }

    fn lock_secs(&self, group: &GroupId) -> Result<u64> {
        let mem = self.commit_memory(group)?;
        Ok(
            if now_secs().saturating_sub(mem.repaired_at) < REPEAT_WINDOW_SECS {
                kith_protocol::limits::MAX_COMMIT_LOCK_SECS
            } else {
                LOCK_SECS
            },
        )
    }

    /// The log continues in an epoch we never reached: if we refused the commit that
    /// started it and are an admin, void it. Returns whether we did (catch up again).
    pub(crate) async fn void_refused_commit(
        &mut self,
        group: &GroupId,
        epoch: u64,
    ) -> Result<bool> {
        let g = self.load_group(group)?;
        let mem = self.commit_memory(group)?;
        let Some((e, seq)) = mem.refused else {
            return Ok(false);
        };
        if e != epoch || !self.relay_admin(&g) {
            return Ok(false);
        }
        let lock = self.lock_secs(group)?;
        let key = self.admin_key(&g.mls_group_id);
        let conn = self.conn(&g.relay).await?;
        conn.admin_auth(g.place.id, &key).await?;
        conn.void_from(g.place.id, seq, lock).await?;
        // Our authorizations for the group are void too: prove access again.
        self.authed.retain(|(_, grp, _)| *grp != g.place.id);
        let mut mem = self.commit_memory(group)?;
        mem.refused = None;
        mem.repaired_at = now_secs();
        self.save_commit_memory(group, &mem)?;
        self.db().commit()?;
        Ok(true)
    }

    /// The relay refuses our (correct) key for the current epoch. If we are an admin,
    /// give it the right one. Returns whether we did (prove access again).
    pub(crate) async fn reset_wrong_key(&mut self, group: &GroupId) -> Result<bool> {
        let g = self.load_group(group)?;
        if !self.relay_admin(&g) {
            return Ok(false);
        }
        let m = self.mls_group(&g)?;
        let epoch = m.epoch().as_u64();
        let access = self.access_key(&m)?.public();
        let lock = self.lock_secs(group)?;
        let key = self.admin_key(&g.mls_group_id);
        let conn = self.conn(&g.relay).await?;
        conn.admin_auth(g.place.id, &key).await?;
        match conn.reset_access_key(g.place.id, epoch, access, lock).await {
            Ok(_) => {}
            // The relay is at another epoch: not a key we can put right.
            Err(RelayError::Relay(ErrorCode::StaleEpoch)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.authed.retain(|(_, grp, _)| *grp != g.place.id);
        let mut mem = self.commit_memory(group)?;
        mem.repaired_at = now_secs();
        self.save_commit_memory(group, &mem)?;
        self.db().commit()?;
        Ok(true)
    }

    /// Words for who made the last commit we merged, if it began `epoch`.
    pub(crate) fn last_committer(&self, g: &GroupRecord, epoch: u64) -> Option<String> {
        let mem = self.commit_memory(&g.relay_group).ok()?;
        match mem.last {
            Some((_, who, e)) if e == epoch => Some(format!(
                "{} [{}]",
                self.display_name(&g.relay_group, &who),
                &fingerprint(&who)[..9]
            )),
            _ => None,
        }
    }

    /// A repair record from the log: says what an admin did, in plain words.
    pub(crate) fn on_repair_record(
        &mut self,
        g: &GroupRecord,
        msg: &Message,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let record = unpad(&msg.payload)
            .ok()
            .and_then(|b| RepairRecord::decode(b).ok());
        let Some(record) = record else {
            let text = t!("engine-repair-unreadable");
            return self.alert_at(g, msg.seq, 0, text, report).map(drop);
        };
        self.authed.retain(|(_, grp, _)| *grp != g.place.id);
        let by = |k: &[u8; 32]| match g.state.admin_with_key(k) {
            Some(a) => self.display_name(&g.relay_group, &a),
            None => t!("engine-repair-an-admin"),
        };
        let mut mem = self.commit_memory(&g.relay_group)?;
        mem.repaired_at = now_secs();
        mem.refused = None;
        self.save_commit_memory(&g.relay_group, &mem)?;
        let epoch = self.mls_group(g)?.epoch().as_u64();
        let text = match record {
            RepairRecord::Voided { from, by: key } if epoch == msg.epoch => t!(
                "engine-repair-voided",
                by = by(&key),
                from = from.to_string()
            ),
            RepairRecord::Voided { from, by: key } => t!(
                "engine-repair-voided-followed",
                by = by(&key),
                from = from.to_string()
            ),
            RepairRecord::KeyReset { by: key } => match self.last_committer(g, msg.epoch) {
                Some(who) => t!("engine-repair-key-reset-after", by = by(&key), who = who),
                None => t!("engine-repair-key-reset", by = by(&key)),
            },
        };
        self.alert_at(g, msg.seq, 0, text, report).map(drop)
    }

    /// Every member: compares how long the relay keeps the group's messages (as it said
    /// when we proved access) with the disappearing timer the group agreed, and says so
    /// once when they differ: shorter, offline members lose messages; longer, the relay
    /// keeps ciphertext the group wanted gone. Only an admin's client can set it back
    /// (it does, on its sync).
    pub(crate) fn check_relay_retention(
        &self,
        group: &GroupId,
        report: &mut super::SyncReport,
    ) -> Result<()> {
        let g = self.load_group(group)?;
        let agreed = g.state.disappear_secs;
        let Some(held) = self.relay_retention(group) else {
            return Ok(());
        };
        let floor = kith_protocol::limits::MIN_RETENTION_SECS;
        // With a timer the relay should keep exactly max(timer, floor) (less only if its
        // operator's limit is lower: that is said too, once).
        let mut mem = self.commit_memory(group)?;
        if agreed == 0 || held == agreed.max(floor) || held == agreed {
            if mem.retention_differs.take().is_some() {
                self.save_commit_memory(group, &mem)?;
                self.db().commit()?;
            }
            return Ok(());
        }
        let now = now_secs();
        match mem.retention_differs {
            Some((h, since)) if h == held => {
                if now.saturating_sub(since) < RETENTION_GRACE_SECS || mem.retention_warned == held
                {
                    return Ok(());
                }
            }
            _ => {
                mem.retention_differs = Some((held, now));
                self.save_commit_memory(group, &mem)?;
                self.db().commit()?;
                return Ok(());
            }
        }
        mem.retention_warned = held;
        self.save_commit_memory(group, &mem)?;
        let (held, agreed, shorter) = (
            kith_i18n::duration(held),
            kith_i18n::duration(agreed),
            held < agreed,
        );
        let text = if shorter {
            t!(
                "engine-repair-retention-shorter",
                held = held,
                agreed = agreed
            )
        } else {
            t!(
                "engine-repair-retention-longer",
                held = held,
                agreed = agreed
            )
        };
        self.alert_at(&g, g.cursor.saturating_sub(1), 800, text, report)?;
        self.db().commit()?;
        Ok(())
    }

    /// As an admin: makes the relay's admin keys and retention those of the accepted
    /// state, and adds our own admin key to the state if it is missing (just promoted,
    /// or a group from before admin keys). `after_own_change`: we just committed the
    /// change ourselves, so a difference is expected and not worth an alert.
    pub(crate) async fn sync_relay_admin(
        &mut self,
        group: &GroupId,
        after_own_change: bool,
    ) -> Result<()> {
        let me = self.identity();
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active || g.tainted || !g.state.is_admin(&me) {
            return Ok(());
        }
        let key = self.admin_key(&g.mls_group_id);
        let ours = self.admin_keys_of(&g.mls_group_id)?;
        if g.state.admin_keys.get(&me) != Some(&ours) {
            let committed = Box::pin(self.commit_change(group, move |_, _, _, state| {
                if !state.is_admin(&me) || state.admin_keys.get(&me) == Some(&ours) {
                    return Ok(None);
                }
                let mut next = state.clone();
                next.admin_keys.insert(me, ours);
                Ok(Some(Change {
                    state: Some(next),
                    ..Change::default()
                }))
            }))
            .await;
            match committed {
                Ok(_) | Err(ClientError::CommitLocked) => {}
                Err(e) => return Err(e),
            }
            return Ok(()); // the next sync (ours or another admin's) registers it
        }
        let conn = self.conn(&g.relay).await?;
        let want = g.state.relay_admin_keys();
        let info = match conn.admin_auth(g.place.id, &key).await {
            Ok(info) => info,
            Err(RelayError::Relay(ErrorCode::Forbidden)) => {
                // Not (yet) a key the relay knows. A group from before admin keys has
                // none at the relay: any member of the current epoch may give the first.
                let m = self.mls_group(&g)?;
                self.ensure_auth(&g, &m).await?;
                match conn.set_admins(g.place.id, want).await {
                    Ok(()) | Err(RelayError::Relay(ErrorCode::Forbidden)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let mut held = info.keys.clone();
        held.sort_unstable();
        if held != want {
            conn.set_admins(g.place.id, want).await?;
        }
        let agreed = g.state.disappear_secs;
        if info.retention_asked != agreed {
            let secs = conn.set_retention(g.place.id, agreed).await?;
            self.note_relay_retention(group, secs);
            if !after_own_change {
                self.alert_now(
                    group,
                    t!(
                        "engine-repair-retention-reset",
                        asked = describe_retention(info.retention_asked),
                        agreed = describe_retention(agreed)
                    ),
                    &mut super::SyncReport::default(),
                )?;
            }
        }
        Ok(())
    }
}

fn describe_retention(secs: u64) -> String {
    match secs {
        0 => t!("engine-repair-retention-default"),
        s => kith_i18n::duration(s),
    }
}
