//! Test hooks (cargo feature `test-hooks`, never in a release build): what a member with
//! a modified client could send, so that the end-to-end tests can show that every other
//! client survives it. Each uses only this member's own authorized connection.

use super::{Client, ClientError, Result};
use kith_protocol::padding::pad;
use kith_protocol::{GroupId, PostKind};
use openmls::prelude::*;

impl Client {
    /// Does one hostile thing to `group`; returns what the relay answered, in words.
    pub async fn test_evil(&mut self, group: &GroupId, what: &str, arg: u64) -> Result<String> {
        self.sync_group_inner(group).await?;
        let g = self.load_group(group)?;
        let mut m = self.mls_group(&g)?;
        let epoch = m.epoch().as_u64();
        let conn = self.ensure_auth(&g, &m).await?;
        let wrong_key = kith_protocol::access::AccessKey::random().public();
        let answer = match what {
            // Bytes that are no MLS message, posted as the epoch's commit.
            "garbage-commit" => {
                let junk: Vec<u8> = (0..200).map(|_| rand::random::<u8>()).collect();
                conn.post(
                    g.relay_group,
                    epoch,
                    PostKind::Commit {
                        next_access_key: wrong_key,
                    },
                    pad(&junk).map_err(|_| ClientError::Usage("pad".into()))?,
                )
                .await
                .map(|seq| format!("posted as {seq}"))
            }
            // A real, signed commit (an update of our leaf) with a wrong key for the
            // epoch it starts. Not merged here: this client stays behind, as an attacker
            // who does not care would.
            "wrong-key-commit" => {
                let (commit, _, _) = m
                    .self_update(&self.provider, &self.signer, LeafNodeParameters::default())
                    .map_err(super::mls)?
                    .into_contents();
                let payload = pad(&commit.to_bytes().map_err(super::mls)?)
                    .map_err(|_| ClientError::Usage("pad".into()))?;
                m.clear_pending_commit(self.provider.storage())
                    .map_err(super::mls)?;
                self.db().rollback();
                conn.post(
                    g.relay_group,
                    epoch,
                    PostKind::Commit {
                        next_access_key: wrong_key,
                    },
                    payload,
                )
                .await
                .map(|seq| format!("posted as {seq}"))
            }
            "set-retention" => conn
                .set_retention(g.relay_group, arg)
                .await
                .map(|secs| format!("retention set to {secs}")),
            _ => return Err(ClientError::Usage(format!("no such test hook: {what}"))),
        };
        Ok(match answer {
            Ok(s) => s,
            Err(e) => format!("refused: {e}"),
        })
    }
}
