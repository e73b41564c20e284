//! A planned move (`kith group move`): an admin's commit names a new home, every member
//! follows (`place.rs`: `follow_home`), and the files the history still names go along.

use super::place::first_seq_after;
use super::state::{self, RelayPlace};
use super::{Change, Client, ClientError, Result};
use crate::relay::RelayError;
use kith_i18n::t;
use kith_protocol::access::AccessKey;
use kith_protocol::{ErrorCode, GroupId};

/// What a move did, for the one who made it.
#[derive(Debug, Default, serde::Serialize)]
pub struct MoveReport {
    /// The new home.
    pub to: String,
    /// The old one.
    pub from: String,
    /// Files' chunks copied to the new home.
    pub chunks_copied: usize,
    /// Chunks the old relay no longer had (expired): those files cannot be downloaded.
    pub chunks_missing: usize,
}

impl Client {
    /// Moves the group to the relay `to` (admins). First checks that `to` answers and
    /// lets this client set groups up there; then one commit names it the group's home
    /// (closing open invites, whose slots stay behind); this client follows at once and
    /// sets the group up there, and copies the chunks of the files the history names.
    /// Every other member follows on its next sync; the old copy is deleted by an
    /// admin's client once all were seen at the new home (`place.rs`: `after_move`).
    pub async fn move_group(&mut self, group: &GroupId, to: &str) -> Result<MoveReport> {
        let url = state::relay_url(to)
            .ok_or_else(|| ClientError::Usage(t!("engine-move-not-an-address", address = to)))?;
        self.sync_group_inner(group).await?;
        let g = self.load_group(group)?;
        let me = self.identity();
        if !g.state.is_admin(&me) && super::own_role_checks() {
            return Err(ClientError::Usage(t!("engine-move-admins-only")));
        }
        let from = self.home_place(&g);
        if from.url == url {
            return Err(ClientError::Usage(t!(
                "engine-move-already-home",
                relay = &url
            )));
        }
        let secret = match self.relay_takes_groups(&url, &g.mls_group_id).await {
            Err(ClientError::Relay(e)) => {
                return Err(ClientError::Usage(t!(
                    "engine-move-unreachable",
                    relay = &url,
                    error = e.to_string()
                )));
            }
            other => other?,
        };
        let id = GroupId::random();
        let target = url.clone();
        let moved = self
            .commit_change(group, move |_, g, m, state| {
                if !state.is_admin(&me) && super::own_role_checks() {
                    return Err(ClientError::Usage(t!("engine-move-admins-only")));
                }
                let mut next = state.clone();
                next.home = Some(RelayPlace {
                    url: target.clone(),
                    id,
                    // Above every number the old home gave, whatever it gives before
                    // this commit is in.
                    first_seq: first_seq_after(g.cursor, m.epoch().as_u64() + 1),
                });
                next.fallbacks.retain(|u| *u != target);
                next.copy_key.get_or_insert_with(rand::random);
                // The old home's secret (if any) is of no use any more; the new one's is,
                // to whoever sets the group up there first.
                next.creation_secrets
                    .retain(|u, _| next.fallbacks.contains(u));
                if let Some(secret) = &secret {
                    next.creation_secrets
                        .insert(target.clone(), state::CreationSecret(secret.clone()));
                }
                Ok(Some(Change {
                    state: Some(next),
                    ..Change::default()
                }))
            })
            .await?;
        if !moved {
            return Err(ClientError::Usage(t!("engine-move-nothing")));
        }
        let g = self.load_group(group)?;
        if g.relay != url {
            // The commit is in; going there failed (the sync says why). The next sync
            // goes on from here.
            return Err(ClientError::Relay(RelayError::Closed(t!(
                "engine-move-committed-unreachable",
                relay = &url
            ))));
        }
        let (chunks_copied, chunks_missing) = self.copy_blobs(group, &from).await?;
        Ok(MoveReport {
            to: url,
            from: from.url,
            chunks_copied,
            chunks_missing,
        })
    }

    /// Whether the relay at `url` answers and lets this client set a group up there (and
    /// take it away again): a throwaway group, made and deleted, first without a creation
    /// secret and, where the relay asks for one, with the profile's (KITH_CREATION_SECRET).
    /// Returns the secret the group's members will need there (`None`: the relay needs
    /// none, and the profile's secret, meant for other relays maybe, is not handed on).
    /// A relay that cannot be reached is a `Relay` error; one that refuses, `Usage`.
    pub(crate) async fn relay_takes_groups(
        &mut self,
        url: &str,
        mls_group_id: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let conn = self.conn(url).await?;
        let admin = self.admin_key(mls_group_id);
        let refused = ClientError::Usage;
        match throwaway(&conn, &admin, &[]).await {
            Ok(()) => return Ok(None),
            Err(RelayError::Relay(ErrorCode::CreationForbidden)) => {}
            Err(RelayError::Relay(ErrorCode::BadFrame)) => {
                return Err(ClientError::Usage(t!(
                    "engine-move-relay-too-old",
                    relay = url
                )));
            }
            Err(e) => return Err(e.into()),
        }
        if self.creation_secret.is_empty() {
            return Err(refused(t!("engine-move-needs-secret", relay = url)));
        }
        match throwaway(&conn, &admin, &self.creation_secret).await {
            Ok(()) => Ok(Some(self.creation_secret.clone())),
            Err(RelayError::Relay(ErrorCode::CreationForbidden)) => {
                Err(refused(t!("engine-move-wrong-secret", relay = url)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Copies the chunks of every file in the group's history from the old home to the
    /// new one (this client's place now), where `kith get` will look. Returns how many
    /// were copied and how many the old relay no longer had.
    async fn copy_blobs(&mut self, group: &GroupId, from: &RelayPlace) -> Result<(usize, usize)> {
        let g = self.load_group(group)?;
        let m = self.mls_group(&g)?;
        let files = self.file_records(group)?;
        if files.is_empty() {
            return Ok((0, 0));
        }
        let access: AccessKey = self.access_key(&m)?;
        let src = self.conn(&from.url).await?;
        src.auth(from.id, m.epoch().as_u64(), &access).await?;
        let dst = self.ensure_auth(&g, &m).await?;
        let (mut copied, mut missing) = (0, 0);
        for (_, file) in files {
            for chunk in &file.chunks {
                match src.get_blob(from.id, *chunk).await {
                    Ok(data) => {
                        dst.put_blob(g.place.id, data).await?;
                        copied += 1;
                    }
                    Err(RelayError::Relay(ErrorCode::NoSuchBlob)) => missing += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok((copied, missing))
    }
}

/// Makes a throwaway group at the relay (under a random id, with a key nobody has) and
/// deletes it. A relay that cannot delete a group could not take a moved group's old copy
/// away either; the throwaway itself is harmless (nobody can enter it).
async fn throwaway(
    conn: &crate::relay::RelayConnection,
    admin: &kith_protocol::access::AdminKey,
    secret: &[u8],
) -> std::result::Result<(), RelayError> {
    let id = GroupId::random();
    let key = AccessKey::random().public();
    conn.create_group_at(id, 0, 1, key, secret, &[admin.public()], 0)
        .await?;
    if let Err(e) = async {
        conn.admin_auth(id, admin).await?;
        conn.delete_group(id).await
    }
    .await
    {
        tracing::debug!(error = %e, "deleting the throwaway group failed");
    }
    Ok(())
}
