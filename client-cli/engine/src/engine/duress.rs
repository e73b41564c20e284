//! A duress unlock that tells the groups (`kith passphrase --duress --notify`; SECURITY.md,
//! "A duress passphrase"): before the profile is destroyed, the old store is opened once
//! more with the data key the duress slot keeps, and in every group the member is
//! active in, the client sends [`Body::DuressNotice`] and then leaves as `kith leave`
//! does. All of it within [`DURESS_NOTIFY_BUDGET`]; whatever fails or runs out of time
//! is dropped without a word, and the destruction goes on as without notify: nothing of
//! this may show in what the unlock prints.

use super::*;
use crate::store::DuressUnlock;
use std::time::Duration;

/// How long telling the groups may take, every group together: a relay that is down
/// fails at once, but one that is blocked (packets dropped) would hold the unlock for
/// each connection's own timeouts.
pub const DURESS_NOTIFY_BUDGET: Duration = Duration::from_secs(10);

impl Client {
    /// Unlocks the profile in `home`, as [`Client::open`] does, for a face: on a duress
    /// unlock whose member chose to notify, first tells the groups and leaves them
    /// (module doc), reaching relays with `connect` (the member's proxy: a duress unlock
    /// must not go around Tor), and then destroys the profile exactly as without.
    pub async fn unlock(home: &Path, passphrase: &[u8], connect: ConnectOptions) -> Result<Self> {
        match Store::open(home, passphrase) {
            Err(StoreError::Duress(unlock)) => {
                if unlock.notifies() {
                    farewell(home, &unlock, connect).await;
                }
                Self::after_duress(home, *unlock)
            }
            other => Self::from_store(home, other?),
        }
    }

    /// In every group this profile is active in: the duress notice, then the leave.
    /// Each group's failure is its own; the caller bounds the time.
    async fn tell_and_leave(&mut self) {
        let Ok(groups) = self.groups_raw() else {
            return;
        };
        for g in groups {
            if g.status != GroupStatus::Active {
                continue;
            }
            let group = g.relay_group;
            // Told first: if the leave fails (the only admin may not leave), the others
            // still know.
            let _ = self.send_body(&group, Body::DuressNotice).await;
            let _ = self.leave(&group).await;
        }
    }
}

/// Opens the old profile with the slot's data key, tells its groups and leaves them,
/// within [`DURESS_NOTIFY_BUDGET`] in all. Says nothing, fails silently.
async fn farewell(home: &Path, unlock: &DuressUnlock, connect: ConnectOptions) {
    let Ok(Some(store)) = Store::open_before_duress(home, unlock) else {
        return;
    };
    let Ok(mut client) = Client::from_store(home, store) else {
        return;
    };
    client.connect_options = connect;
    let _ = tokio::time::timeout(DURESS_NOTIFY_BUDGET, async {
        client.tell_and_leave().await;
        client.close().await;
    })
    .await;
    // Dropped here: the old store is closed before `Store::duress_reset` deletes it.
    drop(client);
}
