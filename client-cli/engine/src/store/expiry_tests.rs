//! Tests of expiring records: reading them, shredding them, what a seized profile still
//! holds afterwards (read as an adversary with the passphrase would), transactions,
//! restarts, crashes, `expiry-keys` itself, passphrase changes and wiping.

use std::fs;
use std::path::Path;

use super::expiry::{BucketId, EXPIRY_KEYS_TMP, KeyRing, unix_now};
use super::seal::{EXPIRING_HEADER_LEN, expiring_header, open_expiring};
use super::tests::{PASS, all_files, contains, create, profile_dir};
use super::*;

fn live_keys(store: &Store) -> Vec<(BucketId, [u8; 32])> {
    store.inner.ring.lock().unwrap().live_keys()
}

fn raw(store: &Store, ns: &str, key: &[u8]) -> Option<Vec<u8>> {
    store.get_raw(ns, key).unwrap().map(|v| v.to_vec())
}

/// The sled value under `(ns, key)` as it is on disk, if any.
fn on_disk(store: &Store, ns: &str, key: &[u8]) -> Option<sled::IVec> {
    store
        .inner
        .db
        .get(store.inner.keys.sled_key(ns, key))
        .unwrap()
}

/// How many index entries sled holds for `bucket`.
fn index_entries(store: &Store, bucket: BucketId) -> usize {
    let tag = store.inner.keys.ns_tag(&bucket.index_ns());
    store.inner.db.scan_prefix(tag).count()
}

/// The bucket keys that `dir/expiry-keys` gives to someone holding `data_key` (opened from
/// a copy, so the profile's file is not touched).
fn keys_on_disk(dir: &Path, data_key: &[u8; 32]) -> Vec<(BucketId, [u8; 32])> {
    let scratch = tempfile::tempdir().unwrap();
    fs::copy(
        dir.join(EXPIRY_KEYS_FILE),
        scratch.path().join(EXPIRY_KEYS_FILE),
    )
    .unwrap();
    KeyRing::open(scratch.path(), data_key).unwrap().live_keys()
}

#[test]
fn store_expiring_records_read_back_and_survive_a_restart() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    store
        .put_expiring("msgs", b"m1", &"meet at five", now + 3600)
        .unwrap();
    store
        .put_raw_expiring("msgs", b"m2", b"\"raw json\"", now + 7200)
        .unwrap();
    store.put("msgs", b"m0", &"plain").unwrap();
    // Pending: read through the overlay.
    assert_eq!(
        store.get::<String>("msgs", b"m1").unwrap().as_deref(),
        Some("meet at five")
    );
    assert_eq!(store.scan::<String>("msgs").unwrap().len(), 3);
    store.commit().unwrap();

    let check = |store: &Store| {
        assert_eq!(
            store.get::<String>("msgs", b"m1").unwrap().as_deref(),
            Some("meet at five")
        );
        assert_eq!(raw(store, "msgs", b"m2").unwrap(), b"\"raw json\"");
        let all: Vec<(Vec<u8>, String)> = store.scan("msgs").unwrap();
        assert_eq!(
            all,
            vec![
                (b"m0".to_vec(), "plain".to_string()),
                (b"m1".to_vec(), "meet at five".to_string()),
                (b"m2".to_vec(), "raw json".to_string()),
            ]
        );
        // Same key, other namespace: absent.
        assert_eq!(raw(store, "other", b"m1"), None);
    };
    check(&store);
    // On disk: the expiring format, naming a bucket whose key the ring holds, and indexed.
    let blob = on_disk(&store, "msgs", b"m1").unwrap();
    let bucket = BucketId::from_header(expiring_header(&blob).unwrap().unwrap()).unwrap();
    assert!(bucket.start <= now + 3600 && now + 3600 < bucket.end());
    assert!(bucket.end() - (now + 3600) <= 3600 / 8);
    assert!(live_keys(&store).iter().any(|(b, _)| *b == bucket));
    assert_eq!(index_entries(&store, bucket), 1);
    // The ordinary value is in the ordinary format.
    assert!(
        expiring_header(&on_disk(&store, "msgs", b"m0").unwrap())
            .unwrap()
            .is_none()
    );
    drop(store);

    let store = Store::open(&dir, PASS).unwrap();
    check(&store);
    // Overwriting with an ordinary value makes it ordinary, and shredding its old bucket
    // later leaves it alone.
    store.put("msgs", b"m1", &"kept").unwrap();
    store.commit().unwrap();
    assert_eq!(store.shred_expired(now + 100_000).unwrap(), 1); // m2 only
    assert_eq!(
        store.get::<String>("msgs", b"m1").unwrap().as_deref(),
        Some("kept")
    );
    assert_eq!(raw(&store, "msgs", b"m2"), None);
    assert_eq!(index_entries(&store, bucket), 0);
}

/// The promise, checked as a seizing adversary who has every file and the passphrase.
#[test]
fn store_shredded_records_are_gone_for_a_seizing_adversary_with_the_passphrase() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let key_file = dir.join(EXPIRY_KEYS_FILE);
    let now = unix_now();
    let soon = now + 100; // a bucket of at most 8 s
    let later = now + 100_000; // a bucket of 2^13 s, far after `shred_at`
    let shred_at = now + 1000;

    // Every version the key file goes through.
    let mut images = vec![fs::read(&key_file).unwrap()];
    let doomed: Vec<Vec<u8>> = (0..3u8).map(|i| vec![b'd', i]).collect();
    for (i, key) in doomed.iter().enumerate() {
        let value = format!("DISAPPEARING-MARKER-{i} meet at the old mill");
        store
            .put_raw_expiring("chat", key, value.as_bytes(), soon + i as u64)
            .unwrap();
        images.push(fs::read(&key_file).unwrap());
    }
    store
        .put_raw_expiring("chat", b"later", b"LATER-MARKER", later)
        .unwrap();
    images.push(fs::read(&key_file).unwrap());
    store.put_raw("chat", b"plain", b"PLAIN-MARKER").unwrap();
    store.commit().unwrap();

    let doomed_keys: Vec<(BucketId, [u8; 32])> = live_keys(&store)
        .into_iter()
        .filter(|(b, _)| b.end() <= shred_at)
        .collect();
    assert!(!doomed_keys.is_empty());
    let doomed_blobs: Vec<(SledKey, sled::IVec)> = doomed
        .iter()
        .map(|k| {
            let sled_key = store.inner.keys.sled_key("chat", k);
            (sled_key, store.inner.db.get(sled_key).unwrap().unwrap())
        })
        .collect();
    // Before: each sealed value opens with its bucket's key (so the failures below mean
    // something).
    for (sled_key, blob) in &doomed_blobs {
        let bucket = BucketId::from_header(expiring_header(blob).unwrap().unwrap()).unwrap();
        let (_, key) = doomed_keys.iter().find(|(b, _)| *b == bucket).unwrap();
        let (_, opened) = open_expiring(key, sled_key, blob).unwrap();
        assert!(contains(&opened.value, b"DISAPPEARING-MARKER"));
    }
    let inode = file_id(&key_file);

    assert_eq!(store.shred_expired(shred_at).unwrap(), 3);
    for key in &doomed {
        assert_eq!(raw(&store, "chat", key), None);
        assert_eq!(on_disk(&store, "chat", key), None);
    }
    for (bucket, _) in &doomed_keys {
        assert_eq!(index_entries(&store, *bucket), 0);
    }
    let names: Vec<Vec<u8>> = store
        .scan_raw("chat")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, vec![b"later".to_vec(), b"plain".to_vec()]);
    // A second run finds nothing more.
    assert_eq!(store.shred_expired(shred_at).unwrap(), 0);
    assert_eq!(file_id(&key_file), inode, "rewritten in place");
    drop(store);

    // Every file, byte for byte.
    let files = all_files(&dir);
    let mut in_log = 0;
    for (path, bytes) in &files {
        for (_, key) in &doomed_keys {
            assert!(
                !contains(bytes, key),
                "a destroyed key in {}",
                path.display()
            );
        }
        // No earlier version of the key file survives anywhere (each holds the destroyed
        // keys, sealed under a key the passphrase gives): not a 32-byte piece of one.
        for image in &images {
            for piece in image.chunks_exact(32) {
                assert!(
                    !contains(bytes, piece),
                    "an old key-file image in {}",
                    path.display()
                );
            }
        }
        for marker in ["DISAPPEARING-MARKER", "old mill", "LATER-MARKER"] {
            assert!(!contains(bytes, marker.as_bytes()));
        }
        for (_, blob) in &doomed_blobs {
            if contains(bytes, &blob[EXPIRING_HEADER_LEN..][..64]) {
                in_log += 1;
            }
        }
    }
    // What sled did with the deleted values' bytes (see the report): informative only.
    eprintln!(
        "{in_log} of {} shredded values still in sled's files",
        doomed_blobs.len()
    );

    // Open the profile with the passphrase.
    let store = Store::open(&dir, PASS).unwrap();
    for key in &doomed {
        assert_eq!(raw(&store, "chat", key), None);
    }
    assert_eq!(raw(&store, "chat", b"later").unwrap(), b"LATER-MARKER");
    assert_eq!(raw(&store, "chat", b"plain").unwrap(), b"PLAIN-MARKER");
    // The key file, opened with the data key, no longer has those buckets.
    let on_disk_keys = keys_on_disk(&dir, &store.inner.data_key);
    for (bucket, key) in &doomed_keys {
        assert!(on_disk_keys.iter().all(|(b, k)| b != bucket && k != key));
    }
    // A direct attempt on the sealed bytes, as recovered from the log, with every key the
    // profile still holds: the data key, its derived value key, every bucket key.
    let holdings = live_keys(&store);
    assert_eq!(holdings, on_disk_keys);
    for (sled_key, blob) in &doomed_blobs {
        assert!(store.inner.keys.open(sled_key, blob).is_err());
        assert!(open_expiring(&store.inner.data_key, sled_key, blob).is_err());
        for (_, key) in &holdings {
            assert!(open_expiring(key, sled_key, blob).is_err());
        }
        // Put back into sled, it reads as absent (and is deleted again), not as an error.
        store.inner.db.insert(sled_key, blob.clone()).unwrap();
        assert_eq!(raw(&store, "chat", &doomed[0]), None);
    }
    assert_eq!(
        store.scan_raw("chat").unwrap().len(),
        2,
        "restored values do not scan"
    );
    for (sled_key, _) in &doomed_blobs {
        assert!(store.inner.db.get(sled_key).unwrap().is_none());
    }
}

#[cfg(unix)]
fn file_id(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_path: &Path) -> (u64, u64) {
    (0, 0)
}

#[test]
fn store_rolled_back_expiring_put_leaves_nothing_readable() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    store
        .put_raw_expiring("chat", b"x", b"ROLLED-BACK", now + 50)
        .unwrap();
    assert_eq!(raw(&store, "chat", b"x").unwrap(), b"ROLLED-BACK");
    // The bucket key is on disk before any commit could use it.
    let added = live_keys(&store);
    assert_eq!(added.len(), 1);
    assert_eq!(keys_on_disk(&dir, &store.inner.data_key), added);
    store.rollback();
    assert_eq!(raw(&store, "chat", b"x"), None);
    assert_eq!(on_disk(&store, "chat", b"x"), None);
    assert_eq!(index_entries(&store, added[0].0), 0);

    // An overwrite or a delete of a committed expiring value, rolled back, leaves it.
    store
        .put_raw_expiring("chat", b"y", b"FIRST", now + 5000)
        .unwrap();
    store.commit().unwrap();
    store
        .put_raw_expiring("chat", b"y", b"SECOND", now + 9000)
        .unwrap();
    assert_eq!(raw(&store, "chat", b"y").unwrap(), b"SECOND");
    store.rollback();
    assert_eq!(raw(&store, "chat", b"y").unwrap(), b"FIRST");
    store.delete("chat", b"y").unwrap();
    store.rollback();
    assert_eq!(raw(&store, "chat", b"y").unwrap(), b"FIRST");
    // Dropping without commit is a rollback too.
    store
        .put_raw_expiring("chat", b"z", b"DROPPED", now + 50)
        .unwrap();
    drop(store);

    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(raw(&store, "chat", b"x"), None);
    assert_eq!(raw(&store, "chat", b"z"), None);
    assert_eq!(raw(&store, "chat", b"y").unwrap(), b"FIRST");
    // The key the rolled-back puts added sealed nothing: it simply goes when its bucket
    // ends, taking no record with it.
    assert!(live_keys(&store).iter().any(|k| *k == added[0]));
    assert_eq!(store.shred_expired(now + 1000).unwrap(), 0);
    assert!(live_keys(&store).iter().all(|(b, _)| *b != added[0].0));
    assert_eq!(raw(&store, "chat", b"y").unwrap(), b"FIRST");
}

#[test]
fn store_expiring_put_whose_bucket_is_shredded_before_commit_commits_as_delete() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    store.put_raw("chat", b"k", b"OLD").unwrap();
    store.commit().unwrap();
    store
        .put_raw_expiring("chat", b"k", b"NEW", now + 100)
        .unwrap();
    assert_eq!(store.shred_expired(now + 1000).unwrap(), 0);
    assert!(store.has_pending());
    assert_eq!(raw(&store, "chat", b"k"), None, "the put superseded OLD");
    store.commit().unwrap();
    assert_eq!(on_disk(&store, "chat", b"k"), None);
    // Expiring at or before the store's now stores nothing and deletes.
    store.put_raw("chat", b"j", b"OLD").unwrap();
    store.commit().unwrap();
    store
        .put_raw_expiring("chat", b"j", b"STALE", now.saturating_sub(5))
        .unwrap();
    assert_eq!(raw(&store, "chat", b"j"), None);
    store.commit().unwrap();
    assert_eq!(on_disk(&store, "chat", b"j"), None);
    assert!(live_keys(&store).is_empty(), "no key made for a stale put");
}

#[test]
fn store_expired_or_keyless_records_read_as_absent_and_are_deleted() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    let expires = now + 100;
    store.put_raw_expiring("chat", b"a", b"A", expires).unwrap();
    store.put_raw_expiring("chat", b"b", b"B", expires).unwrap();
    store.commit().unwrap();
    // Expired, bucket not yet ended (every bucket ends after its records expire): the
    // key stays, the records read as absent and are deleted as they are read.
    assert_eq!(store.shred_expired(expires).unwrap(), 0);
    assert_eq!(live_keys(&store).len(), 1);
    assert_eq!(raw(&store, "chat", b"a"), None);
    assert!(on_disk(&store, "chat", b"a").is_none());
    assert!(on_disk(&store, "chat", b"b").is_some());
    assert!(store.scan_raw("chat").unwrap().is_empty());
    assert!(on_disk(&store, "chat", b"b").is_none());

    // A crash between destroying a key and deleting its records: the records read as
    // absent, and the next open finishes the job.
    let later = now + 10_000;
    for k in [b"c", b"d"] {
        store.put_raw_expiring("chat", k, b"C/D", later).unwrap();
    }
    store.commit().unwrap();
    let (bucket, _) = live_keys(&store)
        .into_iter()
        .find(|(b, _)| b.end() > later)
        .unwrap();
    store
        .inner
        .ring
        .lock()
        .unwrap()
        .destroy_ended(later + 100_000)
        .unwrap();
    assert_eq!(raw(&store, "chat", b"c"), None);
    assert!(on_disk(&store, "chat", b"c").is_none());
    assert!(on_disk(&store, "chat", b"d").is_some(), "not yet read");
    assert_eq!(index_entries(&store, bucket), 2);
    drop(store);
    let store = Store::open(&dir, PASS).unwrap();
    assert!(on_disk(&store, "chat", b"d").is_none());
    assert_eq!(index_entries(&store, bucket), 0);
    assert!(live_keys(&store).is_empty());
}

#[test]
fn store_expiry_keys_stay_few_and_shredding_uses_the_index() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    // 1000 messages over ~17 minutes with a one-hour timer.
    for i in 0..1000u64 {
        store
            .put_raw_expiring("chat", &i.to_be_bytes(), b"m", now + 3600 + i)
            .unwrap();
    }
    store.put_raw("chat", b"plain", b"P").unwrap();
    store.commit().unwrap();
    let keys = live_keys(&store);
    assert!(keys.len() <= 6, "{} keys for a 1000 s span", keys.len());
    let len = fs::metadata(dir.join(EXPIRY_KEYS_FILE)).unwrap().len();
    assert!(len < 1024, "expiry-keys is {len} bytes");
    // Half way: only ended buckets go.
    let mid = now + 3600 + 500;
    let first = store.shred_expired(mid).unwrap();
    // A bucket that ended by `mid` holds only records expiring before it (i < 500); all
    // 500 of them when a bucket boundary falls exactly on `mid` (it depends on the clock).
    assert!(first <= 500, "{first}");
    // Expired by `mid`: i = 0..=500.
    assert_eq!(store.scan_raw("chat").unwrap().len(), 1000 - 501 + 1);
    let rest = store.shred_expired(now + 3600 + 1000 + 512).unwrap();
    // Those that expired before `mid` but whose bucket had not ended were read as absent
    // and deleted by the scan; the shreds deleted the others.
    assert_eq!(store.scan_raw("chat").unwrap().len(), 1);
    assert!(first + rest >= 499, "{first} + {rest}");
    assert!(live_keys(&store).is_empty());
    for (bucket, _) in keys {
        assert_eq!(index_entries(&store, bucket), 0);
    }
}

#[test]
fn store_expiry_keys_file_is_rewritten_in_place_and_bounded() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let path = dir.join(EXPIRY_KEYS_FILE);
    let id = file_id(&path);
    let now = unix_now();
    let mut max_len = 0;
    // 30 distinct buckets, then all shredded, then one more.
    for i in 1..=30u64 {
        store
            .put_raw_expiring("chat", &i.to_be_bytes(), b"v", now + i * 100_000)
            .unwrap();
        max_len = max_len.max(fs::metadata(&path).unwrap().len());
        assert_eq!(file_id(&path), id);
    }
    store.commit().unwrap();
    assert_eq!(live_keys(&store).len(), 30);
    // Two copies of 32 entries of 42 bytes plus 60 bytes each.
    assert_eq!(max_len, 2 * (60 + 42 * 32));
    assert_eq!(store.shred_expired(now + 31 * 100_000).unwrap(), 30);
    assert_eq!(file_id(&path), id);
    assert!(!dir.join(EXPIRY_KEYS_TMP).exists());
    store
        .put_raw_expiring("chat", b"again", b"v", now + 40 * 100_000)
        .unwrap();
    store.commit().unwrap();
    assert_eq!(file_id(&path), id);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        2 * (60 + 42 * 8),
        "shrunk"
    );
    drop(store);

    // A damaged copy (a crash mid-write) is repaired from the other on open.
    let mut bytes = fs::read(&path).unwrap();
    bytes[40] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(raw(&store, "chat", b"again").unwrap(), b"v");
    drop(store);
    let mut bytes = fs::read(&path).unwrap();
    let half = bytes.len() / 2;
    bytes[half + 40] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = Store::open(&dir, PASS).unwrap();
    assert_eq!(raw(&store, "chat", b"again").unwrap(), b"v");
    drop(store);
    // Both damaged: refused, like any other damaged part of the store.
    let mut bytes = fs::read(&path).unwrap();
    bytes[40] ^= 0xff;
    bytes[half + 40] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Store::open(&dir, PASS),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn store_change_passphrase_keeps_expiring_records() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    store
        .put_raw_expiring("chat", b"k", b"V", now + 100)
        .unwrap();
    store.commit().unwrap();
    let before = fs::read(dir.join(EXPIRY_KEYS_FILE)).unwrap();
    store
        .change_passphrase(b"new passphrase", KdfParams::insecure_fast())
        .unwrap();
    assert_eq!(fs::read(dir.join(EXPIRY_KEYS_FILE)).unwrap(), before);
    drop(store);
    let store = Store::open(&dir, b"new passphrase").unwrap();
    assert_eq!(raw(&store, "chat", b"k").unwrap(), b"V");
    assert_eq!(store.shred_expired(now + 1000).unwrap(), 1);
    assert_eq!(raw(&store, "chat", b"k"), None);
}

#[test]
fn store_wipe_destroys_expiry_keys() {
    let (_tmp, dir) = profile_dir();
    let store = create(&dir);
    let now = unix_now();
    store
        .put_raw_expiring("chat", b"k", b"V", now + 100)
        .unwrap();
    store.commit().unwrap();
    drop(store);
    wipe(&dir).unwrap();
    assert!(!dir.exists());

    // An interrupted wipe (profile.key gone, expiry-keys left) does not block a new
    // profile, whose data key cannot open the old file anyway.
    let store = create(&dir);
    store
        .put_raw_expiring("chat", b"k", b"V", now + 100)
        .unwrap();
    store.commit().unwrap();
    drop(store);
    fs::remove_file(dir.join(PROFILE_KEY_FILE)).unwrap();
    fs::write(dir.join(EXPIRY_KEYS_TMP), b"leftover").unwrap();
    let store = create(&dir);
    assert_eq!(raw(&store, "chat", b"k"), None);
    assert!(live_keys(&store).is_empty());
    assert!(!dir.join(EXPIRY_KEYS_TMP).exists());
    drop(store);
    // Only expiry-keys left: still recognised as a profile's remains, and destroyed.
    fs::remove_file(dir.join(PROFILE_KEY_FILE)).unwrap();
    wipe::shred_path(&dir.join(DB_DIR)).unwrap();
    wipe(&dir).unwrap();
    assert!(!dir.exists());
}

#[cfg(unix)]
#[test]
fn store_expiry_keys_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = profile_dir();
    drop(create(&dir));
    let mode = fs::metadata(dir.join(EXPIRY_KEYS_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
