use super::*;

fn exp() -> Expiry {
    Expiry::after(1, 3600)
}

fn msg(seq: Seq, epoch: Epoch) -> Message {
    Message {
        seq,
        epoch,
        kind: MessageKind::Application,
        stored_at: 1,
        payload: vec![seq as u8; 256],
    }
}

#[test]
fn append_scan_trim_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([3; 16]);
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        assert!(s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        assert!(!s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        for seq in 1..=5 {
            meta.next_seq = seq + 1;
            meta.messages += 1;
            let next = (seq == 3).then_some(&[2u8; 32]);
            if next.is_some() {
                meta.epoch = 1;
            }
            s.append(&g, &meta, &msg(seq, meta.epoch), exp(), next, 0..0)
                .unwrap();
        }
        s.sync().unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    let meta = s.group(&g).unwrap().unwrap();
    assert_eq!(meta.next_seq, 6);
    assert_eq!(s.access_key(&g, 1).unwrap(), Some([2; 32]));
    let mut seen = vec![];
    s.scan(&g, 2, &mut |m| {
        seen.push(m.seq);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, vec![2, 3, 4, 5]);

    let mut trimmed = meta.clone();
    trimmed.first_seq = 4;
    s.trim(&g, &trimmed, 1..4, 1).unwrap();
    assert_eq!(s.message(&g, 3).unwrap(), None);
    assert!(s.message(&g, 4).unwrap().is_some());
    assert_eq!(s.access_key(&g, 0).unwrap(), None);
    assert_eq!(s.access_key(&g, 1).unwrap(), Some([2; 32]));
    assert_eq!(s.groups().unwrap().len(), 1);
}

#[test]
fn writes_are_visible_before_sync_and_durable_after() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([4; 16]);
    let seqs = |s: &SledStore| {
        let mut seen = vec![];
        s.scan(&g, 1, &mut |m| {
            seen.push(m.seq);
            ControlFlow::Continue(())
        })
        .unwrap();
        seen
    };
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        assert!(s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        for seq in 1..=4 {
            meta.next_seq = seq + 1;
            s.append(&g, &meta, &msg(seq, 0), exp(), None, 0..0)
                .unwrap();
        }
        s.sync().unwrap();
        // Unsynced: two more, one of them removing the oldest (a synced record) and
        // the next removing one that is itself not synced yet.
        meta.next_seq = 6;
        s.append(&g, &meta, &msg(5, 0), exp(), None, 1..2).unwrap();
        meta.next_seq = 7;
        s.append(&g, &meta, &msg(6, 0), exp(), None, 5..6).unwrap();
        assert_eq!(s.group(&g).unwrap().unwrap().next_seq, 7);
        assert_eq!(s.message(&g, 1).unwrap(), None);
        assert_eq!(s.message(&g, 5).unwrap(), None);
        assert_eq!(s.message(&g, 6).unwrap().unwrap().seq, 6);
        assert_eq!(seqs(&s), vec![2, 3, 4, 6]);
        s.sync().unwrap();
        assert_eq!(seqs(&s), vec![2, 3, 4, 6]);
        // Not synced, but applied when the store is dropped (as sled does).
        meta.next_seq = 8;
        s.append(&g, &meta, &msg(7, 0), exp(), None, 0..0).unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.group(&g).unwrap().unwrap().next_seq, 8);
    assert_eq!(seqs(&s), vec![2, 3, 4, 6, 7]);
}

#[test]
fn synced_writes_survive_a_crash_whether_or_not_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([5; 16]);
    let slot: SlotKey = [9; 32];
    let slot_v = Slot {
        expires_at: 99,
        manage_hash: [1; 32],
        invitation: vec![2; 40],
        answer: None,
        welcome: None,
    };
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        assert!(s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        assert!(!s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        for seq in 1..=3 {
            meta.next_seq = seq + 1;
            s.append(&g, &meta, &msg(seq, 0), exp(), None, 0..0)
                .unwrap();
        }
        s.sync().unwrap();
        // Into sled, and the segment retired.
        s.checkpoint().unwrap();
        assert!(s.overlay().durable.is_empty());
        assert!(s.overlay().checkpointing.is_none());
        // Then more, in the log only: a removal of a checkpointed record among them.
        meta.next_seq = 5;
        s.append(&g, &meta, &msg(4, 0), exp(), None, 1..2).unwrap();
        assert!(s.swap_slot(&slot, None, Some(&slot_v)).unwrap());
        assert!(!s.swap_slot(&slot, None, Some(&slot_v)).unwrap());
        s.sync().unwrap();
        assert!(!s.overlay().durable.is_empty());
        // Never synced: may be lost, as it was never acknowledged.
        meta.next_seq = 6;
        s.append(&g, &meta, &msg(5, 0), exp(), None, 0..0).unwrap();
        s.crash_on_drop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let s = SledStore::open(dir.path()).unwrap();
    let mut seen = vec![];
    s.scan(&g, 1, &mut |m| {
        seen.push(m.seq);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, vec![2, 3, 4]);
    assert_eq!(s.group(&g).unwrap().unwrap().next_seq, 5);
    assert_eq!(s.slot(&slot).unwrap(), Some(slot_v));
    assert_eq!(s.access_key(&g, 0).unwrap(), Some([1; 32]));
    // Replayed into sled and the log emptied at open: only markers are left to read.
    for name in super::super::wal::SEGMENTS {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        let records = super::super::wal::decode_all(&bytes);
        assert!(records.iter().all(|(_, c)| c.is_empty()), "{name}");
    }
}

/// Issue 21, item 1: a crash inside the reset at open left the older segment with
/// its records while sled had everything; the next open replayed them over newer
/// values (epochs went back, sequence numbers were given out again).
#[test]
fn records_sled_already_has_are_never_replayed_over_newer_values() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([8; 16]);
    let wal1 = dir.path().join(super::super::wal::SEGMENTS[1]);
    let epoch_of = |s: &SledStore| s.group(&g).unwrap().unwrap().epoch;
    let older_wal1;
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap();
        s.sync().unwrap();
        s.checkpoint().unwrap(); // syncs now go to wal-1
        meta.epoch = 5;
        s.set_meta(&g, &meta).unwrap();
        s.sync().unwrap();
        // wal-1 as it was before its checkpoint emptied it: the epoch-5 record.
        older_wal1 = std::fs::read(&wal1).unwrap();
        s.checkpoint().unwrap(); // into sled; syncs go to wal-0
        meta.epoch = 6;
        s.set_meta(&g, &meta).unwrap();
        s.sync().unwrap();
        s.crash_on_drop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // Killed during the checkpoint of wal-1: it still holds the older record, wal-0
    // the newer one. Open replays both, in order.
    std::fs::write(&wal1, &older_wal1).unwrap();
    {
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(epoch_of(&s), 6);
    }
    // And crashed between emptying wal-0 and wal-1 at that open: only the older
    // segment is left, and sled has everything.
    std::fs::write(&wal1, &older_wal1).unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        epoch_of(&s),
        6,
        "an older log record was replayed over sled"
    );
}

/// Large values live in files of their own, synced before sled refers to them; a
/// replaced one's file goes a checkpoint later, and an orphan at the next open.
#[test]
fn large_values_live_in_their_own_files_and_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([9; 16]);
    let files = || {
        std::fs::read_dir(dir.path().join(values::DIR))
            .unwrap()
            .count()
    };
    let big = |seq: Seq| Message {
        payload: vec![seq as u8; 200_000],
        ..msg(seq, 0)
    };
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap();
        for seq in 1..=3 {
            meta.next_seq = seq + 1;
            s.append(&g, &meta, &big(seq), exp(), None, 0..0).unwrap();
        }
        s.sync().unwrap();
        s.checkpoint().unwrap();
        assert_eq!(files(), 3);
        // Sled holds references, not the values.
        let raw = s.db.get(numbered_key(MESSAGE, &g, 2)).unwrap().unwrap();
        assert!(raw.len() < 200 && values::reference(&raw).is_some());
        assert_eq!(s.message(&g, 2).unwrap().unwrap().payload, big(2).payload);
        // Message 1 removed: its file goes one checkpoint later.
        meta.next_seq = 5;
        s.append(&g, &meta, &msg(4, 0), exp(), None, 1..2).unwrap();
        s.sync().unwrap();
        s.checkpoint().unwrap();
        assert_eq!(files(), 3);
        s.set_meta(&g, &meta).unwrap();
        s.sync().unwrap();
        s.checkpoint().unwrap();
        assert_eq!(files(), 2);
        let mut seen = vec![];
        s.scan(&g, 1, &mut |m| {
            seen.push((m.seq, m.payload.len()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, vec![(2, 200_000), (3, 200_000), (4, 256)]);
    }
    // An orphan (a checkpoint that wrote its files and crashed before sled heard).
    std::fs::write(dir.path().join(values::DIR).join("4d00.1"), b"x").unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(files(), 2);
    assert_eq!(s.message(&g, 3).unwrap().unwrap().payload, big(3).payload);
}

#[test]
fn reads_see_every_layer_while_a_checkpoint_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([6; 16]);
    let s = SledStore::open(dir.path()).unwrap();
    let mut meta = GroupMeta::new();
    s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap();
    for seq in 1..=6 {
        meta.next_seq = seq + 1;
        s.append(&g, &meta, &msg(seq, 0), exp(), None, 0..0)
            .unwrap();
        // Layers: 1-2 in sled, 3-4 in the log, 5-6 only recorded.
        match seq {
            2 => {
                s.sync().unwrap();
                s.checkpoint().unwrap();
            }
            4 => s.sync().unwrap(),
            _ => {}
        }
    }
    let mut seen = vec![];
    s.scan(&g, 1, &mut |m| {
        seen.push(m.seq);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(s.message(&g, 1).unwrap().unwrap().seq, 1);
    assert_eq!(s.message(&g, 3).unwrap().unwrap().seq, 3);
    // Two seconds of synced writes, or 8 MiB, call for a checkpoint; not these.
    assert!(!s.wants_checkpoint());
}

#[test]
fn blobs_are_sealed_listed_removed_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([5; 16]);
    let now = 1_000_000;
    let data = vec![0x5A; 1024];
    let id = kith_protocol::frame::blob_id(&data);
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut meta = GroupMeta::new();
        assert!(s.create_group(&g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        meta.blobs = 1;
        meta.blob_bytes = 1024;
        s.put_blob(&g, &meta, &id, &data, now, Expiry::after(now, 100))
            .unwrap();
        // Visible before the sync, durable after it.
        assert_eq!(s.blob(&g, &id).unwrap().unwrap(), data);
        s.sync().unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.group(&g).unwrap().unwrap().blob_bytes, 1024);
    assert_eq!(s.blob(&g, &id).unwrap().unwrap(), data);
    let info = BlobInfo {
        id,
        stored_at: now,
        expires_at: now + 100,
        len: 1024,
    };
    assert_eq!(s.blob_info(&g, &id).unwrap(), Some(info));
    assert_eq!(s.blob_infos(&g).unwrap(), vec![info]);
    assert_eq!(s.blob_infos(&GroupId([6; 16])).unwrap(), vec![]);
    // No plaintext on disk.
    s.sync().unwrap();
    let db = std::fs::read(dir.path().join("db")).unwrap_or_default();
    assert!(!db.windows(64).any(|w| w == &data[..64]));
    // Shredded a period after expiry: still listed (for retention), unreadable.
    assert_eq!(s.next_shred(u64::MAX).unwrap(), Some(now + 104));
    assert_eq!(s.shred(now + 103, u64::MAX).unwrap(), 0);
    assert_eq!(s.shred(now + 104, u64::MAX).unwrap(), 1);
    assert_eq!(s.blob(&g, &id).unwrap(), None);
    assert_eq!(s.blob_infos(&g).unwrap(), vec![info]);
    let mut meta = s.group(&g).unwrap().unwrap();
    meta.blobs = 0;
    meta.blob_bytes = 0;
    s.remove_blobs(&g, &meta, &[info]).unwrap();
    assert_eq!(s.blob_info(&g, &id).unwrap(), None);
    assert_eq!(s.blob_infos(&g).unwrap(), vec![]);
}

#[test]
fn records_of_the_first_format_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([7; 16]);
    // A group record of five fields, a legacy key file and a legacy message.
    #[derive(Serialize)]
    struct V0(u64, u64, u64, u64, u64);
    let key = [3u8; 32];
    let mut file = b"KITHSK1\0".to_vec();
    file.extend_from_slice(&0u64.to_be_bytes());
    file.extend_from_slice(&u64::MAX.to_be_bytes());
    file.extend_from_slice(&key);
    std::fs::write(dir.path().join("shred-keys"), &file).unwrap();
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(&g.0);
    nonce[16..].copy_from_slice(&1u64.to_be_bytes());
    let sealed = kith_protocol::aead::xseal(&key, &nonce, &nonce, &[9u8; 256]);
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(group_key(&g), encode(&V0(2, 2, 1, 1, 256)))
            .unwrap();
        let m = Message {
            seq: 1,
            epoch: 2,
            kind: MessageKind::Application,
            stored_at: 50,
            payload: sealed,
        };
        db.insert(numbered_key(MESSAGE, &g, 1), encode(&m)).unwrap();
        db.flush().unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    let meta = s.group(&g).unwrap().unwrap();
    assert_eq!((meta.epoch, meta.next_seq, meta.bytes), (2, 2, 256));
    assert_eq!((meta.retention_secs, meta.blobs), (0, 0));
    assert_eq!(s.message(&g, 1).unwrap().unwrap().payload, vec![9u8; 256]);
    let mut infos = vec![];
    s.scan_info(&g, 1, &mut |i| {
        infos.push(i);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        infos,
        vec![RecordInfo {
            seq: 1,
            epoch: 2,
            stored_at: 50,
            expires_at: None,
            len: 256
        }]
    );
}

#[test]
fn slot_swap_is_compare_and_swap() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let key = [9u8; 32];
    let open = Slot {
        expires_at: 10,
        manage_hash: [0; 32],
        invitation: vec![1; 256],
        answer: None,
        welcome: None,
    };
    assert!(s.swap_slot(&key, None, Some(&open)).unwrap());
    assert!(!s.swap_slot(&key, None, Some(&open)).unwrap());
    let answered = Slot {
        answer: Some(vec![2; 256]),
        ..open.clone()
    };
    assert!(s.swap_slot(&key, Some(&open), Some(&answered)).unwrap());
    assert!(!s.swap_slot(&key, Some(&open), Some(&answered)).unwrap());
    assert_eq!(s.slot(&key).unwrap(), Some(answered.clone()));
    assert_eq!(s.slot_expiries().unwrap(), vec![(key, 10)]);
    assert!(s.swap_slot(&key, Some(&answered), None).unwrap());
    assert_eq!(s.slot(&key).unwrap(), None);
}

/// A group's deletion is one atomic write: everything of the group (in sled and in the
/// log alike), and of the given slots only its own knocks, go; another group and other
/// slots stay; a synced deletion survives a crash (replayed), an unsynced one is gone
/// whole; the id can be created again.
#[test]
fn a_group_is_deleted_whole_and_the_deletion_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (g, other) = (GroupId([7; 16]), GroupId([8; 16]));
    let knock = |group: &GroupId, n: u8| Slot {
        expires_at: 99,
        manage_hash: [n; 32],
        invitation: Slot::knock_mark(group),
        answer: Some(vec![n; 256]),
        welcome: None,
    };
    let invite = Slot {
        invitation: vec![3; 256],
        answer: None,
        ..knock(&g, 3)
    };
    let (ours, theirs, plain) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let data = vec![0x5A; 8192];
    let id = kith_protocol::frame::blob_id(&data);
    let fill = |s: &SledStore, group: &GroupId| {
        let mut meta = GroupMeta {
            epoch: 4,
            next_seq: 10,
            first_seq: 10,
            ..GroupMeta::new()
        };
        assert!(s.create_group(group, &meta, &[1; 32], &[[2; 32]]).unwrap());
        for seq in 10..16 {
            meta.next_seq = seq + 1;
            meta.messages += 1;
            let next = (seq == 12).then_some(&[5u8; 32]);
            if next.is_some() {
                meta.epoch = 5;
            }
            let mut m = msg(seq, meta.epoch);
            if seq == 11 {
                m.payload = vec![1; 200_000];
            }
            s.append(group, &meta, &m, exp(), next, 0..0).unwrap();
        }
        meta.blobs = 1;
        meta.blob_bytes = data.len() as u64;
        s.put_blob(group, &meta, &id, &data, 1, exp()).unwrap();
        meta
    };
    let whole = |s: &SledStore, group: &GroupId| {
        let mut n = 0;
        s.scan_info(group, 0, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        (
            s.group(group).unwrap().is_some(),
            n,
            s.access_key(group, 5).unwrap().is_some(),
            s.blob_infos(group).unwrap().len(),
            s.admin_keys(group).unwrap().len(),
        )
    };
    let everything = (true, 6, true, 1, 1);
    let nothing = (false, 0, false, 0, 0);
    {
        let s = SledStore::open(dir.path()).unwrap();
        let meta = fill(&s, &g);
        fill(&s, &other);
        assert!(s.swap_slot(&ours, None, Some(&knock(&g, 1))).unwrap());
        assert!(s.swap_slot(&theirs, None, Some(&knock(&other, 2))).unwrap());
        assert!(s.swap_slot(&plain, None, Some(&invite)).unwrap());
        s.sync().unwrap();
        // Half of it in sled, half in the log.
        s.checkpoint().unwrap();
        let mut meta2 = meta.clone();
        meta2.next_seq = 17;
        s.append(&g, &meta2, &msg(16, 5), exp(), None, 0..0)
            .unwrap();
        s.sync().unwrap();

        // Not synced: a crash takes the deletion back, whole.
        let freed = s.delete_group(&g, &meta2, &[ours, theirs, plain]).unwrap();
        assert_eq!(freed, knock(&g, 1).stored_bytes());
        assert_eq!(whole(&s, &g), nothing);
        assert_eq!(s.slot(&ours).unwrap(), None);
        s.crash_on_drop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    {
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(whole(&s, &g), (true, 7, true, 1, 1));
        assert!(s.slot(&ours).unwrap().is_some());
        let meta = s.group(&g).unwrap().unwrap();
        // Only slots that are still this group's knocks: not the other group's, not an
        // invite, not one that is gone.
        let freed = s
            .delete_group(&g, &meta, &[ours, theirs, plain, [4; 32]])
            .unwrap();
        assert_eq!(freed, knock(&g, 1).stored_bytes());
        s.sync().unwrap();
        s.crash_on_drop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(whole(&s, &g), nothing, "replayed after a crash");
    assert_eq!(whole(&s, &other), everything);
    assert_eq!(s.slot(&ours).unwrap(), None);
    assert_eq!(s.slot(&theirs).unwrap(), Some(knock(&other, 2)));
    assert_eq!(s.slot(&plain).unwrap(), Some(invite));
    assert_eq!(s.groups().unwrap().len(), 1);
    // The files of its large values (a message, the blob) went with it (the open's
    // sweep); the other group's stay.
    let files: Vec<String> = std::fs::read_dir(dir.path().join(values::DIR))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for kind in [MESSAGE, BLOB] {
        let ours = hex(&numbered_key(kind, &g, 0)[..17]);
        assert!(files.iter().all(|f| !f.starts_with(&ours)), "{files:?}");
    }
    assert_eq!(files.len(), 2, "{files:?}");
    // The id is free again.
    assert!(
        s.create_group(&g, &GroupMeta::new(), &[1; 32], &[[2; 32]])
            .unwrap()
    );
    assert_eq!(whole(&s, &g), (true, 0, false, 0, 1));
}

fn seqs_of(s: &SledStore, g: &GroupId) -> Vec<Seq> {
    let mut seen = vec![];
    s.scan(g, 0, &mut |m| {
        assert_eq!(m.payload[0], m.seq as u8, "seq {}", m.seq);
        seen.push(m.seq);
        ControlFlow::Continue(())
    })
    .unwrap();
    seen
}

fn fill_group(s: &SledStore, g: &GroupId, seqs: std::ops::RangeInclusive<Seq>) -> GroupMeta {
    let mut meta = s.group(g).unwrap().unwrap_or_else(|| {
        let meta = GroupMeta::new();
        assert!(s.create_group(g, &meta, &[1; 32], &[[2; 32]]).unwrap());
        meta
    });
    for seq in seqs {
        meta.next_seq = seq + 1;
        meta.messages += 1;
        s.append(g, &meta, &msg(seq, 0), exp(), None, 0..0).unwrap();
    }
    s.sync().unwrap();
    meta
}

fn pack_ids(dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir.join(super::super::packs::DIR))
        .unwrap()
        .flatten()
        .map(|e| u64::from_str_radix(e.file_name().to_str().unwrap(), 16).unwrap())
        .collect();
    ids.sort();
    ids
}

#[test]
fn messages_live_in_packs_and_sled_keeps_only_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([8; 16]);
    let all: Vec<Seq> = (1..=301).collect();
    {
        let s = SledStore::open(dir.path()).unwrap();
        let meta = fill_group(&s, &g, 1..=300);
        let mut big = msg(301, 0);
        big.payload = vec![301u16 as u8; 10_000];
        s.append(&g, &meta, &big, exp(), None, 0..0).unwrap();
        s.sync().unwrap();
        s.checkpoint().unwrap();
        // Only the large record has an `M` key (a value file's reference); the others
        // are three index keys and one pack.
        assert_eq!(s.db.scan_prefix([MESSAGE]).count(), 1);
        assert_eq!(s.db.scan_prefix([index::INDEX]).count(), 3);
        assert_eq!(pack_ids(dir.path()).len(), 1);
        s.verify_counts().unwrap();
        assert_eq!(seqs_of(&s, &g), all);
        assert_eq!(s.message(&g, 200).unwrap().unwrap().payload, vec![200; 256]);
        assert_eq!(s.message(&g, 301).unwrap().unwrap().payload.len(), 10_000);
    }
    let pack = pack_ids(dir.path());
    {
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(seqs_of(&s, &g), all);
        // Retention takes all but the last: nothing points into the pack any more.
        let mut meta = s.group(&g).unwrap().unwrap();
        meta.first_seq = 301;
        s.trim(&g, &meta, 1..301, 0).unwrap();
        s.sync().unwrap();
        s.checkpoint().unwrap();
        s.verify_counts().unwrap();
        assert_eq!(seqs_of(&s, &g), vec![301]);
        assert_eq!(s.db.scan_prefix([index::INDEX]).count(), 0);
        assert!(s.live.lock().unwrap().is_empty());
    }
    // Deleted at the end of a later checkpoint, or (here) by the next open.
    let s = SledStore::open(dir.path()).unwrap();
    assert!(pack_ids(dir.path()).iter().all(|id| !pack.contains(id)));
    assert_eq!(seqs_of(&s, &g), vec![301]);
}

#[test]
fn a_mostly_dead_pack_is_copied_forward_and_freed() {
    let dir = tempfile::tempdir().unwrap();
    let (busy, quiet) = (GroupId([9; 16]), GroupId([10; 16]));
    {
        let s = SledStore::open(dir.path()).unwrap();
        fill_group(&s, &busy, 1..=200);
        fill_group(&s, &quiet, 1..=10);
        s.checkpoint().unwrap();
    }
    let old = pack_ids(dir.path());
    assert_eq!(old.len(), 1);
    let s = SledStore::open(dir.path()).unwrap();
    // The busy group's retention takes all of its messages: a twentieth of the pack is
    // still live, the quiet group's.
    let mut meta = s.group(&busy).unwrap().unwrap();
    meta.first_seq = 201;
    s.trim(&busy, &meta, 1..201, 0).unwrap();
    s.sync().unwrap();
    s.checkpoint().unwrap();
    s.verify_counts().unwrap();
    assert!(!s.live.lock().unwrap().contains_key(&old[0]));
    assert_eq!(seqs_of(&s, &quiet), (1..=10).collect::<Vec<_>>());
    // Deleted at the end of the next checkpoint.
    fill_group(&s, &quiet, 11..=11);
    s.checkpoint().unwrap();
    let now = pack_ids(dir.path());
    assert!(!now.contains(&old[0]), "{now:?}");
    assert_eq!(seqs_of(&s, &quiet), (1..=11).collect::<Vec<_>>());
    drop(s);
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(seqs_of(&s, &quiet), (1..=11).collect::<Vec<_>>());
    assert!(seqs_of(&s, &busy).is_empty());
}

#[test]
fn a_pack_sled_never_heard_of_is_removed_and_replay_counts_right() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId([11; 16]);
    {
        let s = SledStore::open(dir.path()).unwrap();
        fill_group(&s, &g, 1..=50);
        s.checkpoint().unwrap();
        // Synced, not checkpointed, then a crash: the replay packs these.
        fill_group(&s, &g, 51..=60);
        let mut meta = s.group(&g).unwrap().unwrap();
        meta.first_seq = 21;
        s.trim(&g, &meta, 1..21, 0).unwrap();
        s.sync().unwrap();
        s.crash_on_drop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // A checkpoint that wrote its pack and crashed before sled heard of it.
    let orphan = dir
        .path()
        .join(super::super::packs::DIR)
        .join("00000000000000aa");
    std::fs::write(&orphan, [7u8; 100]).unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    assert!(!orphan.exists());
    s.verify_counts().unwrap();
    assert_eq!(seqs_of(&s, &g), (21..=60).collect::<Vec<_>>());
}
