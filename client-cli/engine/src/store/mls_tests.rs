//! OpenMLS over the encrypted store: groups, key packages and private keys survive a
//! restart, two members joined through a Welcome exchange messages after reopening, and a
//! rolled-back `process_message` leaves the MLS state where it was.

use std::path::Path;

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;

use super::*;

const CS: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;
const PASS: &[u8] = b"mls test passphrase";
const MARKER: &str = "LEGAL-AID-MARKER";

fn create_provider(dir: &Path) -> KithProvider {
    KithProvider::new(Store::create_with_params(dir, PASS, KdfParams::insecure_fast()).unwrap())
}

fn open_provider(dir: &Path) -> KithProvider {
    KithProvider::new(Store::open(dir, PASS).unwrap())
}

/// A fresh signature key pair, stored in the provider; the credential carries the public key.
fn new_identity(provider: &KithProvider) -> (SignatureKeyPair, CredentialWithKey) {
    let signer = SignatureKeyPair::new(CS.signature_algorithm()).unwrap();
    signer.store(provider.storage()).unwrap();
    let credential = BasicCredential::new(signer.public().to_vec());
    let cwk = CredentialWithKey {
        credential: credential.into(),
        signature_key: signer.public().into(),
    };
    (signer, cwk)
}

fn load_signer(provider: &KithProvider, public: &[u8]) -> SignatureKeyPair {
    SignatureKeyPair::read(provider.storage(), public, CS.signature_algorithm())
        .expect("the signature key pair survives a restart")
}

fn load_group(provider: &KithProvider, group_id: &GroupId) -> MlsGroup {
    MlsGroup::load(provider.storage(), group_id)
        .unwrap()
        .expect("the group survives a restart")
}

/// Serializes as for the wire and parses back.
fn to_wire(msg: &MlsMessageOut) -> Vec<u8> {
    msg.tls_serialize_detached().unwrap()
}

fn from_wire(bytes: &[u8]) -> MlsMessageIn {
    MlsMessageIn::tls_deserialize_exact(bytes).unwrap()
}

fn receive(group: &mut MlsGroup, provider: &KithProvider, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let msg = from_wire(bytes).try_into_protocol_message().unwrap();
    let processed = group
        .process_message(provider, msg)
        .map_err(|e| e.to_string())?;
    match processed.into_content() {
        ProcessedMessageContent::ApplicationMessage(app) => Ok(app.into_bytes()),
        other => panic!("expected an application message, got {other:?}"),
    }
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CS)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

#[test]
fn store_mls_state_survives_restart_and_two_members_talk() {
    let tmp = tempfile::tempdir().unwrap();
    let alice_dir = tmp.path().join("alice");
    let bob_dir = tmp.path().join("bob");

    // Alice creates a group; MLS state and app data are committed together.
    let (alice_pub, group_id) = {
        let alice = create_provider(&alice_dir);
        let (signer, cwk) = new_identity(&alice);
        let group = MlsGroup::new(&alice, &signer, &create_config(), cwk).unwrap();
        alice
            .store()
            .put(
                "groups",
                group.group_id().as_slice(),
                &"Families of the 5th",
            )
            .unwrap();
        alice.store().commit().unwrap();
        assert_eq!(group.epoch(), GroupEpoch::from(0));
        (signer.public().to_vec(), group.group_id().clone())
    };

    // Restart: the group is there at the same epoch, the signer too.
    let alice = open_provider(&alice_dir);
    let mut alice_group = load_group(&alice, &group_id);
    assert_eq!(alice_group.epoch(), GroupEpoch::from(0));
    assert_eq!(alice_group.members().count(), 1);
    let alice_signer = load_signer(&alice, &alice_pub);

    // Bob makes a key package (its private keys go into his store) and restarts.
    let (bob_pub, key_package_bytes) = {
        let bob = create_provider(&bob_dir);
        let (signer, cwk) = new_identity(&bob);
        let bundle = KeyPackage::builder().build(CS, &bob, &signer, cwk).unwrap();
        bob.store().commit().unwrap();
        (
            signer.public().to_vec(),
            bundle.key_package().tls_serialize_detached().unwrap(),
        )
    };

    // Alice adds Bob.
    let key_package = KeyPackageIn::tls_deserialize_exact(&key_package_bytes)
        .unwrap()
        .validate(alice.crypto(), ProtocolVersion::Mls10)
        .unwrap();
    let (_commit, welcome, _group_info) = alice_group
        .add_members(&alice, &alice_signer, &[key_package])
        .unwrap();
    alice_group.merge_pending_commit(&alice).unwrap();
    alice.store().commit().unwrap();
    assert_eq!(alice_group.epoch(), GroupEpoch::from(1));
    let welcome_bytes = to_wire(&welcome);

    // Bob, after his restart, joins from the Welcome.
    {
        let bob = open_provider(&bob_dir);
        let MlsMessageBodyIn::Welcome(welcome) = from_wire(&welcome_bytes).extract() else {
            panic!("expected a Welcome");
        };
        let staged = StagedWelcome::new_from_welcome(&bob, &join_config(), welcome, None).unwrap();
        let bob_group = staged.into_group(&bob).unwrap();
        assert_eq!(bob_group.epoch(), GroupEpoch::from(1));
        bob.store().commit().unwrap();
    }
    drop(alice_group);
    drop(alice);

    // Both restart and talk.
    let alice = open_provider(&alice_dir);
    let bob = open_provider(&bob_dir);
    let mut alice_group = load_group(&alice, &group_id);
    let mut bob_group = load_group(&bob, &group_id);
    assert_eq!(alice_group.epoch(), GroupEpoch::from(1));
    assert_eq!(bob_group.epoch(), GroupEpoch::from(1));
    assert_eq!(alice_group.members().count(), 2);
    assert_eq!(bob_group.members().count(), 2);
    let alice_signer = load_signer(&alice, &alice_pub);
    let bob_signer = load_signer(&bob, &bob_pub);

    let text = format!("the lawyer is {MARKER}, call before Friday");
    let out = alice_group
        .create_message(&alice, &alice_signer, text.as_bytes())
        .unwrap();
    alice.store().commit().unwrap();
    let wire_msg = to_wire(&out);

    // Atomicity: process, then roll back instead of committing. After reloading, the
    // same message decrypts again, so the MLS state was not advanced.
    assert_eq!(
        receive(&mut bob_group, &bob, &wire_msg).unwrap(),
        text.as_bytes()
    );
    bob.store().rollback();
    let mut bob_group = load_group(&bob, &group_id);
    let plain = receive(&mut bob_group, &bob, &wire_msg).unwrap();
    assert_eq!(plain, text.as_bytes());
    // Now save the plaintext and the advanced MLS state together.
    bob.store()
        .put("messages", &1u64.to_be_bytes(), &text)
        .unwrap();
    bob.store().commit().unwrap();
    drop(bob_group);
    drop(bob);

    // After a restart the consumed message key stays consumed, and the message stays saved.
    let bob = open_provider(&bob_dir);
    let mut bob_group = load_group(&bob, &group_id);
    assert!(receive(&mut bob_group, &bob, &wire_msg).is_err());
    bob.store().rollback();
    let mut bob_group = load_group(&bob, &group_id);
    assert_eq!(
        bob.store()
            .get::<String>("messages", &1u64.to_be_bytes())
            .unwrap(),
        Some(text.clone())
    );

    // Bob answers.
    let reply = "thanks, noted";
    let out = bob_group
        .create_message(&bob, &bob_signer, reply.as_bytes())
        .unwrap();
    bob.store().commit().unwrap();
    assert_eq!(
        receive(&mut alice_group, &alice, &to_wire(&out)).unwrap(),
        reply.as_bytes()
    );
    alice.store().commit().unwrap();
    drop((alice_group, bob_group, alice, bob));

    // Nothing of it is readable on disk.
    for dir in [&alice_dir, &bob_dir] {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                for needle in [MARKER.as_bytes(), b"Families of the 5th", &alice_pub[..]] {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "plaintext found in {}",
                        path.display()
                    );
                }
            }
        }
    }
}

/// Kith's settings keep the ratchet tree out of the Welcome and out of every commit's
/// GroupInfo (what made commits in large groups slow); the joiner gets it beside the
/// Welcome, and OpenMLS holds it to the tree hash the Welcome signs: no tree, or the tree
/// of another epoch, and the join fails.
#[test]
fn with_kiths_settings_the_joiner_needs_the_right_tree_beside_the_welcome() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = create_provider(&tmp.path().join("alice"));
    let (signer, cwk) = new_identity(&alice);
    let config = crate::engine::create_config_builder().build();
    let mut group = MlsGroup::new(&alice, &signer, &config, cwk).unwrap();
    let key_package = |dir: &str| {
        let p = create_provider(&tmp.path().join(dir));
        let (s, c) = new_identity(&p);
        let kp = KeyPackage::builder()
            .leaf_node_capabilities(crate::engine::state::capabilities())
            .build(CS, &p, &s, c)
            .unwrap()
            .key_package()
            .clone();
        p.store().commit().unwrap();
        (p, kp)
    };

    let (_bob, bob_kp) = key_package("bob");
    let (_, _, group_info) = group.add_members(&alice, &signer, &[bob_kp]).unwrap();
    assert!(group_info.is_none(), "a commit signs no GroupInfo");
    group.merge_pending_commit(&alice).unwrap();
    let stale_tree = group.export_ratchet_tree();

    let (carol, carol_kp) = key_package("carol");
    let (_, welcome, group_info) = group.add_members(&alice, &signer, &[carol_kp]).unwrap();
    assert!(group_info.is_none(), "a commit signs no GroupInfo");
    group.merge_pending_commit(&alice).unwrap();
    let tree = group.export_ratchet_tree();
    let welcome_bytes = to_wire(&welcome);
    let join = |tree: Option<openmls::treesync::RatchetTree>| {
        let MlsMessageBodyIn::Welcome(w) = from_wire(&welcome_bytes).extract() else {
            panic!("expected a Welcome");
        };
        // Through the wire encoding, as the Welcome bundle carries it.
        let tree = tree.map(|t| {
            RatchetTreeIn::tls_deserialize_exact(t.tls_serialize_detached().unwrap()).unwrap()
        });
        // Through the client's own staging (signatures checked on every core).
        let joined = crate::engine::join_verify::stage_welcome(
            &carol,
            &crate::engine::join_config(),
            w,
            tree,
        )
        .map(|staged| staged.members().count());
        // As the client does when a join fails: nothing of it stays (OpenMLS has
        // already deleted the KeyPackage's keys).
        carol.store().rollback();
        joined
    };
    assert!(matches!(
        join(None),
        Err(crate::engine::join_verify::JoinError::Welcome(
            WelcomeError::MissingRatchetTree
        ))
    ));
    assert!(join(Some(stale_tree)).is_err(), "the tree of another epoch");
    assert_eq!(join(Some(tree)).unwrap(), 3);
}
