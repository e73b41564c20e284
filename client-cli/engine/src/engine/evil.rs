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
                    g.place.id,
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
                    g.place.id,
                    epoch,
                    PostKind::Commit {
                        next_access_key: wrong_key,
                    },
                    payload,
                )
                .await
                .map(|seq| format!("posted as {seq}"))
            }
            // Removes a member (named by `KITH_TEST_EVIL_WHO`) with a commit that leaves
            // the group state as it was: the removed member stays an admin in it.
            "remove-keep-state" => {
                let who = std::env::var("KITH_TEST_EVIL_WHO").unwrap_or_default();
                let id = self.find_member(group, &who)?;
                let index = super::member_index(&m, &id)
                    .ok_or_else(|| ClientError::NoMember(who.clone()))?;
                let bundle = m
                    .commit_builder()
                    .propose_removals([index])
                    .load_psks(self.provider.storage())
                    .map_err(super::mls)?
                    .build(
                        self.provider.rand(),
                        self.provider.crypto(),
                        &self.signer,
                        |_| true,
                    )
                    .map_err(super::mls)?
                    .stage_commit(&self.provider)
                    .map_err(super::mls)?;
                let (commit, _, _) = bundle.into_contents();
                self.post_commit(
                    group,
                    m,
                    commit,
                    None,
                    super::records::CommitPurpose::Remove {
                        identities: vec![id],
                    },
                )
                .await
                .map(|ok| format!("posted: {ok}"))
                .map_err(|e| crate::relay::RelayError::Closed(e.to_string()))
            }
            // Opens the answer of every open invite with what this client holds.
            "read-answers" => {
                let mut opened = Vec::new();
                for (slot, open) in &g.state.invites {
                    let Some(secret) = self.invite_secret(&g, slot, open) else {
                        continue;
                    };
                    if let Ok(kith_protocol::Response::Answer {
                        answer: Some(blob), ..
                    }) = conn
                        .request(kith_protocol::Request::GetAnswer {
                            slot: kith_protocol::SlotId(*slot),
                            manage_token: secret.manage_token,
                        })
                        .await
                        && let Ok(req) = self.open_answer(&secret, &blob)
                    {
                        opened.push(req.name);
                    }
                }
                Ok(format!(
                    "opened {} answer(s): {}",
                    opened.len(),
                    opened.join(", ")
                ))
            }
            // Admits a stranger (a fresh identity nobody invited) claiming the first open
            // approval-free invite, without anyone having answered it.
            "admit-fake" => {
                use openmls_basic_credential::SignatureKeyPair;
                let Some((slot, _)) = g
                    .state
                    .invites
                    .iter()
                    .find(|(_, i)| !i.needs_approval)
                    .map(|(k, i)| (*k, i.clone()))
                else {
                    return Err(ClientError::Usage("no open approval-free invite".into()));
                };
                let stranger = SignatureKeyPair::new(super::CIPHERSUITE.signature_algorithm())
                    .map_err(super::mls)?;
                let credential = CredentialWithKey {
                    credential: BasicCredential::new(stranger.public().to_vec()).into(),
                    signature_key: stranger.public().into(),
                };
                let kp = KeyPackage::builder()
                    .leaf_node_capabilities(super::state::capabilities())
                    .build(super::CIPHERSUITE, &self.provider, &stranger, credential)
                    .map_err(super::mls)?
                    .key_package()
                    .clone();
                self.commit_change(group, |_, _, _, state| {
                    let mut next = state.clone();
                    next.invites.remove(&slot);
                    Ok(Some(super::Change {
                        adds: vec![kp.clone()],
                        state: Some(next),
                        ..super::Change::default()
                    }))
                })
                .await
                .map(|ok| format!("posted: {ok}"))
                .map_err(|e| crate::relay::RelayError::Closed(e.to_string()))
            }
            // Takes, with keys nobody else has, the ids of the fallbacks' copies for this
            // epoch and the `arg` after it: what a member about to be removed would do to
            // block the group's way out.
            "squat-fallbacks" => {
                let key = g
                    .state
                    .copy_key
                    .ok_or_else(|| ClientError::Usage("no fallbacks".into()))?;
                let mut taken = 0;
                for url in &g.state.fallbacks {
                    let there = self.conn(url).await?;
                    for e in epoch..=epoch + arg {
                        let id = super::place::copy_id(&key, url, e);
                        let junk = kith_protocol::access::AccessKey::random().public();
                        if there
                            .create_group_at(id, e, 1, junk, &self.creation_secret, &[], 0)
                            .await
                            .is_ok()
                        {
                            taken += 1;
                        }
                    }
                }
                Ok(format!("took {taken} id(s)"))
            }
            "set-retention" => conn
                .set_retention(g.place.id, arg)
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
