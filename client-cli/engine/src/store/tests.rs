//! Tests of the encrypted store: persistence, transactions, passphrases, locking, what
//! reaches the disk, and wiping.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::*;

pub(super) const PASS: &[u8] = b"correct horse battery staple";

pub(super) fn create(dir: &Path) -> Store {
    Store::create_with_params(dir, PASS, KdfParams::insecure_fast()).unwrap()
}

pub(super) fn profile_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    (tmp, dir)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Contact {
    name: String,
    phone: String,
}

fn contact(name: &str) -> Contact {
    Contact {
        name: name.into(),
        phone: "+000 555 0100".into(),
    }
}

/// Every file under `dir` with its bytes.
pub(super) fn all_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn store_put_commit_reopen_get() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    assert!(Store::profile_exists(&dir));
    store.put("contacts", b"lawyer", &contact("Anna")).unwrap();
    store.put("contacts", b"doctor", &contact("Boris")).unwrap();
    store.put("cursor", b"g1", &42u64).unwrap();
    // Reads see pending changes.
    assert_eq!(
        store.get::<Contact>("contacts", b"lawyer").unwrap(),
        Some(contact("Anna"))
    );
    assert!(store.has_pending());
    store.commit().unwrap();
    assert!(!store.has_pending());
    drop(store);

    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(
        store.get::<Contact>("contacts", b"lawyer").unwrap(),
        Some(contact("Anna"))
    );
    assert_eq!(store.get::<u64>("cursor", b"g1").unwrap(), Some(42));
    assert_eq!(store.get::<u64>("cursor", b"g2").unwrap(), None);
    // Same key, other namespace: absent.
    assert_eq!(store.get::<u64>("cursor", b"lawyer").unwrap(), None);
    // Scan returns original keys, sorted, only from its namespace.
    let all: Vec<(Vec<u8>, Contact)> = store.scan("contacts").unwrap();
    assert_eq!(
        all,
        vec![
            (b"doctor".to_vec(), contact("Boris")),
            (b"lawyer".to_vec(), contact("Anna")),
        ]
    );

    store.delete("contacts", b"doctor").unwrap();
    store.commit().unwrap();
    drop(store);
    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(store.get::<Contact>("contacts", b"doctor").unwrap(), None);
    assert_eq!(store.scan::<Contact>("contacts").unwrap().len(), 1);
}

#[test]
fn store_rollback_and_drop_discard_pending() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"kept", &"committed").unwrap();
    store.commit().unwrap();

    store.put("ns", b"new", &"pending").unwrap();
    store.put("ns", b"kept", &"overwritten").unwrap();
    store.delete("ns", b"kept").unwrap();
    assert_eq!(store.get::<String>("ns", b"kept").unwrap(), None);
    store.rollback();
    assert!(!store.has_pending());
    assert_eq!(store.get::<String>("ns", b"new").unwrap(), None);
    assert_eq!(
        store.get::<String>("ns", b"kept").unwrap().as_deref(),
        Some("committed")
    );

    // Dropping without commit is a rollback.
    store.put("ns", b"new", &"pending").unwrap();
    store.delete("ns", b"kept").unwrap();
    drop(store);
    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(store.get::<String>("ns", b"new").unwrap(), None);
    assert_eq!(
        store.get::<String>("ns", b"kept").unwrap().as_deref(),
        Some("committed")
    );
}

#[test]
fn store_scan_merges_pending_changes() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    for i in 0u64..5 {
        store.put("msgs", &i.to_be_bytes(), &i).unwrap();
    }
    store.put("other", b"x", &99u64).unwrap();
    store.commit().unwrap();
    store.delete("msgs", &1u64.to_be_bytes()).unwrap();
    store.put("msgs", &2u64.to_be_bytes(), &20u64).unwrap();
    store.put("msgs", &300u64.to_be_bytes(), &300u64).unwrap();
    let values: Vec<u64> = store
        .scan::<u64>("msgs")
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, vec![0, 20, 3, 4, 300]);

    assert_eq!(store.delete_namespace("msgs").unwrap(), 5);
    assert!(store.scan::<u64>("msgs").unwrap().is_empty());
    store.commit().unwrap();
    assert!(store.scan::<u64>("msgs").unwrap().is_empty());
    assert_eq!(store.get::<u64>("other", b"x").unwrap(), Some(99));
}

#[test]
fn store_wrong_passphrase_changes_nothing() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"k", &"v").unwrap();
    store.commit().unwrap();
    drop(store);

    let before = all_files(&dir);
    assert!(matches!(
        Store::open(&dir, b"wrong passphrase"),
        Err(StoreError::WrongPassphrase)
    ));
    assert!(matches!(
        Store::open(&dir, b""),
        Err(StoreError::WrongPassphrase)
    ));
    assert_eq!(all_files(&dir), before, "a failed open must not write");

    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(
        store.get::<String>("ns", b"k").unwrap().as_deref(),
        Some("v")
    );
}

#[test]
fn store_missing_and_existing_profiles() {
    let (_tmp, dir) = profile_dir();
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::NoProfile)
    ));
    assert!(!Store::profile_exists(&dir));
    let store = create(&dir);
    drop(store);
    assert!(matches!(
        Store::create_with_params(&dir, PASS, KdfParams::insecure_fast()),
        Err(StoreError::ProfileExists)
    ));
    // The existing profile is intact.
    Store::open(&dir, PASS).unwrap();
}

#[test]
fn store_second_open_is_in_use() {
    let (_tmp, dir) = profile_dir();
    let first = create(&dir);
    let err = Store::open(&dir, PASS).unwrap_err();
    assert!(matches!(err, StoreError::InUse), "got {err:?}");
    assert!(err.to_string().contains("already open"));
    drop(first);
    Store::open(&dir, PASS).unwrap();
}

#[test]
fn store_nothing_readable_reaches_disk() {
    const VALUE_MARKER: &str = "LEGAL-AID-MARKER";
    const NAME_MARKER: &str = "GROUP-NAME-MARKER";
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let ns = format!("group/{NAME_MARKER}");
    for i in 0..50u32 {
        let key = format!("{NAME_MARKER}-{i}");
        let value = format!("call {VALUE_MARKER} at +000 555 01{i:02}");
        store.put(&ns, key.as_bytes(), &value).unwrap();
        store
            .put_raw(NAME_MARKER, key.as_bytes(), value.as_bytes())
            .unwrap();
    }
    store.commit().unwrap();
    // Overwrite and delete some, so old versions would linger in a log if unsealed.
    for i in 0..10u32 {
        let key = format!("{NAME_MARKER}-{i}");
        store
            .put(&ns, key.as_bytes(), &format!("{VALUE_MARKER} v2"))
            .unwrap();
        store.delete(NAME_MARKER, key.as_bytes()).unwrap();
    }
    store.commit().unwrap();
    drop(store);

    let files = all_files(&dir);
    assert!(files.len() >= 2, "expected profile.key and sled files");
    let total: usize = files.values().map(Vec::len).sum();
    assert!(total > 50 * 64, "the values must be on disk somewhere");
    for (path, bytes) in &files {
        for marker in [VALUE_MARKER, NAME_MARKER, "+000 555"] {
            assert!(
                !contains(bytes, marker.as_bytes()),
                "{marker} found in {}",
                path.display()
            );
        }
    }
    // And the data is still there.
    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(store.scan::<String>(&ns).unwrap().len(), 50);
    assert_eq!(store.scan_raw(NAME_MARKER).unwrap().len(), 40);
}

#[test]
fn store_value_moved_to_another_key_is_rejected() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"a", &"for a").unwrap();
    store.put("ns", b"b", &"for b").unwrap();
    store.commit().unwrap();
    // An attacker with the disk swaps the two ciphertexts.
    let keys = &store.inner.keys;
    let (ka, kb) = (keys.sled_key("ns", b"a"), keys.sled_key("ns", b"b"));
    let db = &store.inner.db;
    let (va, vb) = (db.get(ka).unwrap().unwrap(), db.get(kb).unwrap().unwrap());
    db.insert(ka, vb).unwrap();
    db.insert(kb, va).unwrap();
    assert!(matches!(
        store.get::<String>("ns", b"a"),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.scan::<String>("ns"),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn store_change_passphrase() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"k", &1u8).unwrap();
    store.commit().unwrap();
    store
        .change_passphrase(b"new passphrase", KdfParams::insecure_fast())
        .unwrap();
    drop(store);
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));
    let store = Store::open(&dir, b"new passphrase").unwrap();
    assert_eq!(store.get::<u8>("ns", b"k").unwrap(), Some(1));
    assert!(!dir.join(keyfile::PROFILE_KEY_TMP).exists());
}

#[test]
fn store_debug_shows_no_secrets() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store
        .put("secret-ns", b"secret-key", &"secret-value")
        .unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains("pending_changes"));
    assert!(!debug.contains("secret"));
}

#[test]
fn store_wipe_destroys_profile() {
    let (tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"k", &"v").unwrap();
    store.commit().unwrap();
    drop(store);

    wipe(&dir).unwrap();
    assert!(!dir.exists());
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::NoProfile)
    ));
    assert!(matches!(wipe(&dir), Err(StoreError::NoProfile)));
    // A fresh profile can be made in the same place.
    create(&dir);

    // A directory that is not a profile is refused and left alone.
    let other = tmp.path().join("not-a-profile");
    fs::create_dir_all(other.join("sub")).unwrap();
    fs::write(other.join("sub/letter.txt"), b"keep me").unwrap();
    assert!(matches!(wipe(&other), Err(StoreError::NoProfile)));
    assert_eq!(fs::read(other.join("sub/letter.txt")).unwrap(), b"keep me");
}

#[test]
fn store_interrupted_wipe_leaves_nothing_readable() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("ns", b"k", &"v").unwrap();
    store.commit().unwrap();
    drop(store);
    // Simulate a wipe that died right after destroying the key.
    fs::remove_file(dir.join(PROFILE_KEY_FILE)).unwrap();
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::NoProfile)
    ));
    // A new profile in the same place does not see (or keep) the old data.
    let store = create(&dir);
    assert_eq!(store.get::<String>("ns", b"k").unwrap(), None);
    drop(store);
    // Finishing the wipe works too.
    wipe(&dir).unwrap();
    assert!(!dir.exists());
}

#[cfg(unix)]
#[test]
fn store_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = profile_dir();
    drop(create(&dir));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(PROFILE_KEY_FILE)), 0o600);
}

#[test]
fn store_and_provider_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    check::<KithProvider>();
    check::<StoreError>();
}

/// The duress passphrase destroys the store's keys and leaves a fresh, empty store that
/// it opens from then on; the real passphrase opens nothing any more, and the old
/// database files are gone.
#[test]
fn store_duress_unlock_leaves_a_fresh_store_and_nothing_of_the_old() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("contacts", b"olena", &contact("Olena")).unwrap();
    store.commit().unwrap();
    store
        .set_duress(PASS, b"forced to open", "Olena", false)
        .unwrap();
    // The real passphrase still opens the real store.
    drop(store);
    let store = Store::open(&dir, PASS).unwrap();
    assert!(
        store
            .get::<Contact>("contacts", b"olena")
            .unwrap()
            .is_some()
    );
    drop(store);
    // Each old database file gets a second name outside the profile, which keeps its
    // inode alive (so that a new file cannot get the same number).
    use std::os::unix::fs::MetadataExt;
    let keep = dir.parent().unwrap().join("kept");
    fs::create_dir(&keep).unwrap();
    let old_db: Vec<(PathBuf, PathBuf)> = fs::read_dir(dir.join(DB_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let kept = keep.join(p.file_name().unwrap());
            fs::hard_link(&p, &kept).unwrap();
            (p, kept)
        })
        .collect();
    assert!(!old_db.is_empty());
    let unlock = match Store::open(&dir, b"forced to open") {
        Err(StoreError::Duress(u)) => u,
        other => panic!("the duress passphrase gave {:?}", other.map(|_| ())),
    };
    assert_eq!(unlock.name, "Olena");
    // Notify is off: the old store is not opened again.
    assert!(Store::open_before_duress(&dir, &unlock).unwrap().is_none());
    reset_leaves_a_fresh_store(&dir, *unlock);
    // Every file of the old database left the profile (a file of the same name is the
    // new database's: another inode than the kept one).
    for (f, kept) in old_db {
        if let Ok(meta) = fs::metadata(&f) {
            let old = fs::metadata(&kept).unwrap().ino();
            assert_ne!(meta.ino(), old, "{} survived", f.display());
        }
    }
}

/// Changing the passphrase keeps the duress passphrase working.
#[test]
fn store_changing_the_passphrase_keeps_the_duress_slot() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store
        .set_duress(PASS, b"forced to open", "Iryna", false)
        .unwrap();
    store
        .change_passphrase(b"a new passphrase", store.kdf_params().unwrap())
        .unwrap();
    drop(store);
    Store::open(&dir, b"a new passphrase").unwrap();
    assert!(matches!(
        Store::open(&dir, b"forced to open"),
        Err(StoreError::Duress(_))
    ));
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));
}

/// With notify on, a duress unlock opens the old store once more (what telling the
/// groups reads), and the reset after it destroys it as without notify.
#[test]
fn store_duress_unlock_with_notify_opens_the_old_store_before_the_reset() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    store.put("contacts", b"olena", &contact("Olena")).unwrap();
    store.commit().unwrap();
    store
        .set_duress(PASS, b"forced to open", "Olena", true)
        .unwrap();
    drop(store);
    let unlock = match Store::open(&dir, b"forced to open") {
        Err(StoreError::Duress(u)) => u,
        other => panic!("the duress passphrase gave {:?}", other.map(|_| ())),
    };
    assert!(unlock.notifies());
    let old = Store::open_before_duress(&dir, &unlock)
        .unwrap()
        .expect("notify is on");
    assert!(old.get::<Contact>("contacts", b"olena").unwrap().is_some());
    drop(old);
    reset_leaves_a_fresh_store(&dir, *unlock);
}

/// A duress reset of the profile in `dir`: a fresh store without the old records, which
/// the real passphrase no longer opens and the duress passphrase opens as its own (its
/// slot is random: no second reset).
fn reset_leaves_a_fresh_store(dir: &Path, unlock: crate::store::DuressUnlock) {
    let fresh = Store::duress_reset(dir, unlock).unwrap();
    assert!(
        fresh
            .get::<Contact>("contacts", b"olena")
            .unwrap()
            .is_none()
    );
    drop(fresh);
    assert!(matches!(
        Store::open(dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));
    let again = Store::open(dir, b"forced to open").unwrap();
    assert!(
        again
            .get::<Contact>("contacts", b"olena")
            .unwrap()
            .is_none()
    );
}
