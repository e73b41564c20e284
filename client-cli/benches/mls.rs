//! What MLS costs a Kith client, by group size: encrypting and decrypting one message,
//! committing the addition or removal of one member, processing that commit, and
//! joining from a Welcome — right after bulk creation and in steady state.
//!
//! Run: `cargo bench -p kith --bench mls` (add `-- steady/1000` to pick). Not part of
//! the tests. The MLS state lives in OpenMLS's in-memory provider
//! (`openmls_rust_crypto::OpenMlsRustCrypto`), so what is measured is MLS itself, not
//! Kith's encrypted store (which adds a sealed sled write per commit of the store).
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
use kith::engine::{CIPHERSUITE, join_config};
use kith::payload::{AppMessage, Body};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use std::time::{Duration, Instant};

type Provider = OpenMlsRustCrypto;

struct Member {
    provider: Provider,
    signer: SignatureKeyPair,
    group: MlsGroup,
}

fn identity(provider: &Provider) -> (SignatureKeyPair, CredentialWithKey) {
    let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).unwrap();
    signer.store(provider.storage()).unwrap();
    let cwk = CredentialWithKey {
        credential: BasicCredential::new(signer.public().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    (signer, cwk)
}

fn key_package(provider: &Provider) -> (SignatureKeyPair, KeyPackage) {
    let (signer, cwk) = identity(provider);
    let kp = KeyPackage::builder()
        .build(CIPHERSUITE, provider, &signer, cwk)
        .unwrap();
    (signer, kp.key_package().clone())
}

/// Kith's group settings (client-cli/src/engine/mod.rs).
fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .max_past_epochs(0)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(5, 1000))
        .padding_size(0)
        .use_ratchet_tree_extension(true)
        .build()
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

fn join(provider: Provider, signer: SignatureKeyPair, welcome: &[u8]) -> Member {
    let MlsMessageBodyIn::Welcome(welcome) = MlsMessageIn::tls_deserialize_exact(welcome)
        .unwrap()
        .extract()
    else {
        panic!("expected a Welcome");
    };
    let group = StagedWelcome::new_from_welcome(&provider, &join_config(), welcome, None)
        .unwrap()
        .into_group(&provider)
        .unwrap();
    Member {
        provider,
        signer,
        group,
    }
}

/// Processes and merges a commit.
fn apply(m: &mut Member, commit: &[u8]) {
    let processed = m
        .group
        .process_message(&m.provider, protocol(commit))
        .unwrap();
    let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
        panic!("expected a commit");
    };
    m.group.merge_staged_commit(&m.provider, *staged).unwrap();
}

fn creator() -> Member {
    let provider = Provider::default();
    let (signer, cwk) = identity(&provider);
    let group = MlsGroup::new(&provider, &signer, &create_config(), cwk).unwrap();
    Member {
        provider,
        signer,
        group,
    }
}

/// A (the creator) and B of an `n`-member group where A added everyone at once.
fn fresh(n: usize) -> (Member, Member) {
    let mut a = creator();
    // The other members' private keys live in one provider: they never act.
    let crowd = Provider::default();
    let b_provider = Provider::default();
    let (b_signer, b_kp) = key_package(&b_provider);
    let mut kps = vec![b_kp];
    kps.extend((2..n).map(|_| key_package(&crowd).1));
    let (_, welcome, _) = a.group.add_members(&a.provider, &a.signer, &kps).unwrap();
    a.group.merge_pending_commit(&a.provider).unwrap();
    let b = join(b_provider, b_signer, &wire(&welcome));
    (a, b)
}

/// A and B of an `n`-member group where every member updated its own leaf.
fn steady(n: usize) -> (Member, Member) {
    let mut a = creator();
    let b_provider = Provider::default();
    let (b_signer, b_kp) = key_package(&b_provider);
    let (_, welcome, _) = a
        .group
        .add_members(&a.provider, &a.signer, &[b_kp])
        .unwrap();
    a.group.merge_pending_commit(&a.provider).unwrap();
    let mut b = join(b_provider, b_signer, &wire(&welcome));
    let update = |m: &mut Member| {
        let (commit, _, _) = m
            .group
            .self_update(&m.provider, &m.signer, LeafNodeParameters::default())
            .unwrap()
            .into_contents();
        m.group.merge_pending_commit(&m.provider).unwrap();
        wire(&commit)
    };
    let commit = update(&mut b);
    apply(&mut a, &commit);
    for _ in 2..n {
        // Add one member; it joins and updates its leaf at once, then never acts again.
        let provider = Provider::default();
        let (signer, kp) = key_package(&provider);
        let (commit, welcome, _) = a.group.add_members(&a.provider, &a.signer, &[kp]).unwrap();
        a.group.merge_pending_commit(&a.provider).unwrap();
        apply(&mut b, &wire(&commit));
        let mut c = join(provider, signer, &wire(&welcome));
        let commit = update(&mut c);
        apply(&mut a, &commit);
        apply(&mut b, &commit);
    }
    // And A updates last, so that its own path is as fresh as everyone's.
    let commit = update(&mut a);
    apply(&mut b, &commit);
    assert_eq!(a.group.members().count(), n);
    (a, b)
}

/// B processes A's pending commit (timed), then both drop it.
fn b_processes(a: &mut Member, b: &mut Member, commit: &[u8]) -> Duration {
    let t = Instant::now();
    let processed = b
        .group
        .process_message(&b.provider, protocol(commit))
        .unwrap();
    let took = t.elapsed();
    assert!(matches!(
        processed.into_content(),
        ProcessedMessageContent::StagedCommitMessage(_)
    ));
    a.group.clear_pending_commit(a.provider.storage()).unwrap();
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
    // The last member's leaf, for the removal.
    let victim = a.group.members().last().unwrap().index;

    g.bench_with_input(BenchmarkId::new("encrypt", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let out = a
                    .group
                    .create_message(&a.provider, &a.signer, &text)
                    .unwrap();
                took += t.elapsed();
                b.group
                    .process_message(&b.provider, protocol(&wire(&out)))
                    .unwrap();
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("decrypt", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let out = wire(
                    &a.group
                        .create_message(&a.provider, &a.signer, &text)
                        .unwrap(),
                );
                let t = Instant::now();
                b.group
                    .process_message(&b.provider, protocol(&out))
                    .unwrap();
                took += t.elapsed();
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("commit_add", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let kp = key_package(&Provider::default()).1;
                let t = Instant::now();
                let (commit, _, _) = a.group.add_members(&a.provider, &a.signer, &[kp]).unwrap();
                took += t.elapsed();
                b_processes(a, b, &wire(&commit));
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("process_add", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let kp = key_package(&Provider::default()).1;
                let (commit, _, _) = a.group.add_members(&a.provider, &a.signer, &[kp]).unwrap();
                took += b_processes(a, b, &wire(&commit));
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("commit_remove", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let (commit, _, _) = a
                    .group
                    .remove_members(&a.provider, &a.signer, &[victim])
                    .unwrap();
                took += t.elapsed();
                b_processes(a, b, &wire(&commit));
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("process_remove", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let (commit, _, _) = a
                    .group
                    .remove_members(&a.provider, &a.signer, &[victim])
                    .unwrap();
                took += b_processes(a, b, &wire(&commit));
            }
            took
        })
    });
    g.bench_with_input(BenchmarkId::new("join", n), &n, |bench, _| {
        bench.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let provider = Provider::default();
                let (signer, kp) = key_package(&provider);
                let (commit, welcome, _) =
                    a.group.add_members(&a.provider, &a.signer, &[kp]).unwrap();
                let welcome = wire(&welcome);
                let t = Instant::now();
                let joined = join(provider, signer, &welcome);
                took += t.elapsed();
                assert_eq!(joined.group.members().count(), n + 1);
                b_processes(a, b, &wire(&commit));
            }
            took
        })
    });
    g.finish();
}

fn sizes() -> Vec<usize> {
    // `KITH_BENCH_MLS_SIZES=10,100` to skip the slow setup of the 1000-member group.
    std::env::var("KITH_BENCH_MLS_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000])
}

fn mls(c: &mut Criterion) {
    for n in sizes() {
        let t = Instant::now();
        let (mut a, mut b) = fresh(n);
        eprintln!(
            "fresh group of {n}: set up in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        bench_group(c, "fresh", n, &mut a, &mut b);
        let t = Instant::now();
        let (mut a, mut b) = steady(n);
        eprintln!(
            "steady group of {n}: set up in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        bench_group(c, "steady", n, &mut a, &mut b);
    }
}

criterion_group!(benches, mls);
criterion_main!(benches);
