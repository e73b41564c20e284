//! What MLS costs a Kith client, by group size: encrypting and decrypting one message,
//! committing the addition or removal of one member, processing that commit, and
//! joining from a Welcome — right after bulk creation and in steady state.
//!
//! Run: `cargo bench -p kith --bench mls` (add `-- steady/1000` to pick). Not part of
//! the tests. The observed members — the committer A, the member B who processes, and
//! the joiner — keep their MLS state in Kith's own store (`KithProvider`: postcard
//! records sealed with XChaCha20-Poly1305 into the store's in-memory overlay), as a Kith
//! client does; the store's commit to disk (one sled batch and an fsync per processed
//! message) is not timed: it depends on the disk. Members who never act keep theirs in
//! OpenMLS's in-memory provider. `KITH_BENCH_MLS_PROVIDER=memory` puts A, B and the
//! joiner there too (OpenMLS's provider serializes the group state as JSON on each
//! write), to compare.
//!
//! - **fresh**: the creator added everyone in one commit. Only the creator's path in the
//!   ratchet tree has keys; every other parent node is blank, so a commit with a path
//!   encrypts its path secrets to nearly every leaf.
//! - **steady**: every member has committed an update of its own leaf (what Kith clients
//!   do after joining and periodically), so every parent node has a key and a commit
//!   encrypts to one node per level. Built by adding members one at a time, each joining
//!   and updating at once (the cost of the setup is a few seconds at 1000).
//!
//! "Process" is what every other member does with a commit before merging it:
//! decrypt, verify, decrypt its path secret, check the new tree (`process_message`).
//! Each iteration keeps the two observed members (the committer A and a member B) in
//! step: A's commit is processed by B, then discarded by both, so the group stays the
//! same size and in the same epoch.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kith_engine::engine::{CIPHERSUITE, join_config};
use kith_engine::payload::{AppMessage, Body};
use kith_engine::store::{KdfParams, KithProvider, Store};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use std::time::{Duration, Instant};

/// Where the observed members keep their MLS state.
enum Provider {
    /// The store and its directory (kept alive with it).
    Kith(KithProvider, #[allow(dead_code)] tempfile::TempDir),
    Memory(OpenMlsRustCrypto),
}

impl Provider {
    /// A provider for an observed member (see the module docs).
    fn observed() -> Self {
        if std::env::var_os("KITH_BENCH_MLS_PROVIDER").is_some_and(|v| v == "memory") {
            return Provider::Memory(OpenMlsRustCrypto::default());
        }
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create_with_params(dir.path(), b"bench", KdfParams::insecure_fast()).unwrap();
        Provider::Kith(KithProvider::new(store), dir)
    }

    /// A provider for a member who never acts.
    fn crowd() -> Self {
        Provider::Memory(OpenMlsRustCrypto::default())
    }
}

/// Calls `$body` with `$p` bound to the concrete provider inside.
macro_rules! with {
    ($provider:expr, |$p:ident| $body:expr) => {
        match $provider {
            Provider::Kith($p, _) => $body,
            Provider::Memory($p) => $body,
        }
    };
}

/// Set while `fresh`/`steady` build a group (see `Member::commit_store`).
static SETTING_UP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Member {
    provider: Provider,
    signer: SignatureKeyPair,
    group: MlsGroup,
}

fn identity(provider: &Provider) -> (SignatureKeyPair, CredentialWithKey) {
    let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).unwrap();
    with!(provider, |p| signer.store(p.storage()).unwrap());
    let cwk = CredentialWithKey {
        credential: BasicCredential::new(signer.public().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    (signer, cwk)
}

fn key_package(provider: &Provider) -> (SignatureKeyPair, KeyPackage) {
    let (signer, cwk) = identity(provider);
    let kp = with!(provider, |p| KeyPackage::builder()
        .leaf_node_capabilities(kith_engine::engine::state::capabilities())
        .build(CIPHERSUITE, p, &signer, cwk.clone())
        .unwrap());
    (signer, kp.key_package().clone())
}

/// Kith's group settings (client-cli/engine/src/engine/mod.rs), with the group state
/// extension a new group has.
fn create_config(creator: &SignatureKeyPair) -> MlsGroupCreateConfig {
    let identity: [u8; 32] = creator.public().try_into().unwrap();
    kith_engine::engine::create_config_builder()
        .with_group_context_extensions(
            kith_engine::engine::GroupState::new(identity)
                .extensions()
                .unwrap(),
        )
        .use_ratchet_tree_extension(tree_in_welcome())
        .build()
}

/// Set to measure the setting Kith had before: the ratchet tree in the Welcome's
/// GroupInfo extension (so in every commit's signed GroupInfo) instead of beside it.
static TREE_IN_WELCOME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn tree_in_welcome() -> bool {
    TREE_IN_WELCOME.load(std::sync::atomic::Ordering::Relaxed)
}

fn wire(msg: &MlsMessageOut) -> Vec<u8> {
    msg.tls_serialize_detached().unwrap()
}

fn protocol(bytes: &[u8]) -> ProtocolMessage {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .unwrap()
        .try_into_protocol_message()
        .unwrap()
}

/// Joins from a Welcome and the ratchet tree beside it, as a Kith client does with the
/// Welcome bundle (the tree is not in the Welcome: see `create_config_builder`).
fn join(provider: Provider, signer: SignatureKeyPair, added: &Added) -> Member {
    let MlsMessageBodyIn::Welcome(welcome) = MlsMessageIn::tls_deserialize_exact(&added.welcome)
        .unwrap()
        .extract()
    else {
        panic!("expected a Welcome");
    };
    let tree =
        (!tree_in_welcome()).then(|| RatchetTreeIn::tls_deserialize_exact(&added.tree).unwrap());
    let group = with!(
        &provider,
        |p| if JOIN_SERIAL.load(std::sync::atomic::Ordering::Relaxed) {
            StagedWelcome::new_from_welcome(p, &join_config(), welcome, tree)
                .unwrap()
                .into_group(p)
                .unwrap()
        } else {
            kith_engine::engine::join_verify::stage_welcome(p, &join_config(), welcome, tree)
                .unwrap()
                .into_group(p)
                .unwrap()
        }
    );
    Member {
        provider,
        signer,
        group,
    }
}

/// Set to join as OpenMLS does by itself, checking the tree's signatures on one core
/// (Kith's client checks them on all: `kith_engine::engine::join_verify`), for `compare`.
static JOIN_SERIAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What committing an addition produces (wire bytes).
struct Added {
    commit: Vec<u8>,
    welcome: Vec<u8>,
    /// The ratchet tree after the commit, for the joiner (empty when it is in the
    /// Welcome).
    tree: Vec<u8>,
}

/// Processes and merges a commit.
fn apply(m: &mut Member, commit: &[u8]) {
    with!(&m.provider, |p| {
        let processed = m.group.process_message(p, protocol(commit)).unwrap();
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            panic!("expected a commit");
        };
        m.group.merge_staged_commit(p, *staged).unwrap();
    });
    // A Kith client commits its store after every processed message.
    m.commit_store();
}

impl Member {
    /// Commits the addition of `kps` (the joiners' tree is left to the caller: see
    /// `tree` and `pending_tree`).
    fn add(&mut self, kps: &[KeyPackage]) -> Added {
        let (commit, welcome, _) = with!(&self.provider, |p| self
            .group
            .add_members(p, &self.signer, kps)
            .unwrap());
        Added {
            commit: wire(&commit),
            welcome: wire(&welcome),
            tree: Vec::new(),
        }
    }

    /// The current ratchet tree, TLS-encoded: what a Kith client exports after merging
    /// its add commit, for the joiner's Welcome bundle.
    fn tree(&self) -> Vec<u8> {
        self.group
            .export_ratchet_tree()
            .tls_serialize_detached()
            .unwrap()
    }

    /// The ratchet tree of the pending commit, TLS-encoded, for a joiner in a bench that
    /// then discards the commit. (OpenMLS rebuilds the old tree to apply the commit to it,
    /// so this costs several times what `tree` does; it is not timed.)
    fn pending_tree(&self) -> Vec<u8> {
        with!(&self.provider, |p| self
            .group
            .pending_commit()
            .unwrap()
            .export_ratchet_tree(p.crypto(), self.group.export_ratchet_tree())
            .unwrap()
            .unwrap())
        .tls_serialize_detached()
        .unwrap()
    }

    fn remove(&mut self, leaf: LeafNodeIndex) -> Vec<u8> {
        let (commit, _, _) = with!(&self.provider, |p| self
            .group
            .remove_members(p, &self.signer, &[leaf])
            .unwrap());
        wire(&commit)
    }

    fn update(&mut self) -> Vec<u8> {
        let (commit, _, _) = with!(&self.provider, |p| self
            .group
            .self_update(p, &self.signer, LeafNodeParameters::default())
            .unwrap()
            .into_contents());
        self.merge_pending();
        wire(&commit)
    }

    fn merge_pending(&mut self) {
        with!(&self.provider, |p| self
            .group
            .merge_pending_commit(p)
            .unwrap());
        self.commit_store();
    }

    fn clear_pending(&mut self) {
        with!(&self.provider, |p| self
            .group
            .clear_pending_commit(p.storage())
            .unwrap());
        self.commit_store();
    }

    fn encrypt(&mut self, text: &[u8]) -> Vec<u8> {
        let out = with!(&self.provider, |p| self
            .group
            .create_message(p, &self.signer, text)
            .unwrap());
        wire(&out)
    }

    /// Processes a message without merging; returns how long that took and whether it
    /// was a commit.
    fn process(&mut self, bytes: &[u8]) -> (Duration, bool) {
        let msg = protocol(bytes);
        let t = Instant::now();
        let processed = with!(&self.provider, |p| self
            .group
            .process_message(p, msg)
            .unwrap());
        let took = t.elapsed();
        let commit = matches!(
            processed.into_content(),
            ProcessedMessageContent::StagedCommitMessage(_)
        );
        (took, commit)
    }

    /// A Kith client commits its store after every change (not timed here). While a
    /// group is being built, only at the end: an fsync per step would make the setup of
    /// a 1000-member group take many minutes.
    fn commit_store(&self) {
        if SETTING_UP.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let Provider::Kith(p, _) = &self.provider {
            p.store().commit().unwrap();
        }
    }
}

fn creator() -> Member {
    let provider = Provider::observed();
    let (signer, cwk) = identity(&provider);
    let config = create_config(&signer);
    let group = with!(&provider, |p| MlsGroup::new(
        p,
        &signer,
        &config,
        cwk.clone()
    )
    .unwrap());
    let m = Member {
        provider,
        signer,
        group,
    };
    m.commit_store();
    m
}

/// A (the creator) and B of an `n`-member group where A added everyone at once.
fn fresh(n: usize) -> (Member, Member) {
    let mut a = creator();
    // The other members' private keys live in one provider: they never act.
    let crowd = Provider::crowd();
    let b_provider = Provider::observed();
    let (b_signer, b_kp) = key_package(&b_provider);
    let mut kps = vec![b_kp];
    kps.extend((2..n).map(|_| key_package(&crowd).1));
    let mut added = a.add(&kps);
    a.merge_pending();
    added.tree = a.tree();
    let b = join(b_provider, b_signer, &added);
    b.commit_store();
    (a, b)
}

/// A and B of an `n`-member group where every member updated its own leaf.
fn steady(n: usize) -> (Member, Member) {
    let mut a = creator();
    let b_provider = Provider::observed();
    let (b_signer, b_kp) = key_package(&b_provider);
    let mut added = a.add(&[b_kp]);
    a.merge_pending();
    added.tree = a.tree();
    let mut b = join(b_provider, b_signer, &added);
    let commit = b.update();
    apply(&mut a, &commit);
    for _ in 2..n {
        // Add one member; it joins and updates its leaf at once, then never acts again.
        let provider = Provider::crowd();
        let (signer, kp) = key_package(&provider);
        let mut added = a.add(&[kp]);
        a.merge_pending();
        added.tree = a.tree();
        apply(&mut b, &added.commit);
        let mut c = join(provider, signer, &added);
        let commit = c.update();
        apply(&mut a, &commit);
        apply(&mut b, &commit);
    }
    // And A updates last, so that its own path is as fresh as everyone's.
    let commit = a.update();
    apply(&mut b, &commit);
    assert_eq!(a.group.members().count(), n);
    (a, b)
}

/// B processes A's pending commit (timed), then both drop it.
fn b_processes(a: &mut Member, b: &mut Member, commit: &[u8]) -> Duration {
    let (took, is_commit) = b.process(commit);
    assert!(is_commit);
    a.clear_pending();
    b.commit_store();
    took
}

fn payload() -> Vec<u8> {
    AppMessage::V1(Body::Text {
        text: "Lawyer Petrenko takes appeals on Thursdays; bring the papers".into(),
        sent_at: 0,
    })
    .to_padded()
    .unwrap()
}

fn bench_group(c: &mut Criterion, state: &str, n: usize, a: &mut Member, b: &mut Member) {
    let mut g = c.benchmark_group(format!("mls/{state}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if n >= 1000 { 4 } else { 2 }));
    let text = payload();
    let crowd = Provider::crowd();

    g.bench_with_input(BenchmarkId::new("encrypt", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let out = a.encrypt(&text);
                took += t.elapsed();
                a.commit_store();
                b.process(&out);
                b.commit_store();
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("decrypt", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let out = a.encrypt(&text);
                a.commit_store();
                took += b.process(&out).0;
                b.commit_store();
            }
            took
        })
    });
    for op in OPS {
        g.bench_with_input(BenchmarkId::new(op, n), &n, |bench, _| {
            bench.iter_custom(|iters| (0..iters).map(|_| step(op, a, b, &crowd)).sum())
        });
    }
    g.finish();
}

fn sizes() -> Vec<usize> {
    // `KITH_BENCH_MLS_SIZES=10,100` to skip the slow setup of the 1000-member group.
    std::env::var("KITH_BENCH_MLS_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000])
}

/// Where the joiner's ratchet tree travels, from `KITH_BENCH_MLS_TREE`: `beside` (Kith's
/// setting, the default), `welcome` (the setting before it), or `both` (each, then the
/// steady groups of both side by side: `compare`).
fn tree_settings() -> Vec<bool> {
    match std::env::var("KITH_BENCH_MLS_TREE").as_deref() {
        Ok("welcome") => vec![true],
        Ok("both") => vec![false, true],
        _ => vec![false],
    }
}

/// Builds the group of a state ("fresh" or "steady") with the current tree setting.
fn setup(state: &str, n: usize) -> (Member, Member) {
    let t = Instant::now();
    SETTING_UP.store(true, std::sync::atomic::Ordering::Relaxed);
    let (a, b) = if state == "fresh" {
        fresh(n)
    } else {
        steady(n)
    };
    SETTING_UP.store(false, std::sync::atomic::Ordering::Relaxed);
    a.commit_store();
    b.commit_store();
    eprintln!(
        "{state} group of {n} (tree in the Welcome: {}): set up in {:.1} s",
        tree_in_welcome(),
        t.elapsed().as_secs_f64()
    );
    (a, b)
}

/// The operations timed besides encrypting and decrypting.
const OPS: [&str; 5] = [
    "commit_add",
    "process_add",
    "commit_remove",
    "process_remove",
    "join",
];

/// One timed operation on a group: the commit is then processed by B and dropped by
/// both, so the group stays as it was.
fn step(op: &str, a: &mut Member, b: &mut Member, crowd: &Provider) -> Duration {
    // The last member's leaf, for the removals.
    let victim = a.group.members().last().unwrap().index;
    match op {
        "commit_add" => {
            let kp = key_package(crowd).1;
            let t = Instant::now();
            let added = a.add(&[kp]);
            if !tree_in_welcome() {
                // The committer's share of the tree beside the Welcome: exporting it
                // (a tree of the same size; see `Member::tree`).
                std::hint::black_box(a.tree());
            }
            let took = t.elapsed();
            b_processes(a, b, &added.commit);
            took
        }
        "process_add" => {
            let added = a.add(&[key_package(crowd).1]);
            b_processes(a, b, &added.commit)
        }
        "commit_remove" => {
            let t = Instant::now();
            let commit = a.remove(victim);
            let took = t.elapsed();
            b_processes(a, b, &commit);
            took
        }
        "process_remove" => {
            let commit = a.remove(victim);
            b_processes(a, b, &commit)
        }
        "join" => {
            let provider = Provider::observed();
            let (signer, kp) = key_package(&provider);
            let mut added = a.add(&[kp]);
            if !tree_in_welcome() {
                added.tree = a.pending_tree();
            }
            let t = Instant::now();
            let joined = join(provider, signer, &added);
            let took = t.elapsed();
            assert_eq!(
                joined.group.members().count(),
                a.group.members().count() + 1
            );
            b_processes(a, b, &added.commit);
            took
        }
        _ => unreachable!("no operation {op}"),
    }
}

/// The two tree settings side by side on the same machine state: each operation on the
/// group with the tree beside the Welcome, then on the group with the tree in it, in
/// turn, `rounds` times; prints both medians and the median of the per-round ratios.
/// Criterion's blocks of seconds per benchmark would put minutes of a shared machine's
/// drift between the two settings.
fn compare(n: usize, beside: &mut (Member, Member), inside: &mut (Member, Member)) {
    let rounds = 30;
    let crowd = Provider::crowd();
    eprintln!(
        "\n{n} members, steady, tree beside / in the Welcome ({rounds} alternating rounds, medians):"
    );
    for op in ["commit_add", "commit_remove", "process_add", "join"] {
        let (mut x, mut y, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            TREE_IN_WELCOME.store(false, std::sync::atomic::Ordering::Relaxed);
            let tx = step(op, &mut beside.0, &mut beside.1, &crowd).as_secs_f64() * 1e3;
            TREE_IN_WELCOME.store(true, std::sync::atomic::Ordering::Relaxed);
            let ty = step(op, &mut inside.0, &mut inside.1, &crowd).as_secs_f64() * 1e3;
            x.push(tx);
            y.push(ty);
            r.push(tx / ty);
        }
        eprintln!(
            "  {op:>14}: {:7.2} ms / {:7.2} ms = {:.2}",
            median(&mut x),
            median(&mut y),
            median(&mut r)
        );
    }
    // And the join's signature checks on all cores against one, tree beside.
    TREE_IN_WELCOME.store(false, std::sync::atomic::Ordering::Relaxed);
    let (mut x, mut y, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let tx = step("join", &mut beside.0, &mut beside.1, &crowd).as_secs_f64() * 1e3;
        JOIN_SERIAL.store(true, std::sync::atomic::Ordering::Relaxed);
        let ty = step("join", &mut beside.0, &mut beside.1, &crowd).as_secs_f64() * 1e3;
        JOIN_SERIAL.store(false, std::sync::atomic::Ordering::Relaxed);
        x.push(tx);
        y.push(ty);
        r.push(tx / ty);
    }
    eprintln!(
        "  join, signatures on all {} cores / on one: {:7.2} ms / {:7.2} ms = {:.2}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        median(&mut x),
        median(&mut y),
        median(&mut r)
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mls(c: &mut Criterion) {
    let compare_settings = std::env::var("KITH_BENCH_MLS_TREE").as_deref() == Ok("both");
    for n in sizes() {
        let mut steady_groups = Vec::new();
        for in_welcome in tree_settings() {
            TREE_IN_WELCOME.store(in_welcome, std::sync::atomic::Ordering::Relaxed);
            let suffix = if in_welcome { "-tree-in-welcome" } else { "" };
            for state in ["fresh", "steady"] {
                let (mut a, mut b) = setup(state, n);
                bench_group(c, &format!("{state}{suffix}"), n, &mut a, &mut b);
                if state == "steady" && compare_settings {
                    steady_groups.push((a, b));
                }
            }
        }
        if let [beside, inside] = &mut steady_groups[..] {
            compare(n, beside, inside);
        }
    }
}

criterion_group!(benches, mls);
criterion_main!(benches);
