//! A pool of real, padded MLS application ciphertexts to post.
//!
//! Two members (in-memory OpenMLS providers, Kith's ciphersuite and group settings) make a
//! group; one encrypts short text messages exactly as `kith send` does (a versioned
//! [`AppMessage`] padded inside the encryption, the MLS `PrivateMessage` padded to a relay
//! bucket); the other decrypts one to prove they are real. The load generator replays
//! the pool: the relay stores and forwards opaque bytes and cannot tell a replayed
//! ciphertext from a fresh one (receivers would, by the ratchet generation; the
//! benchmark's receivers do not decrypt).

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use kith::engine::{CIPHERSUITE, create_config_builder, join_config};
use kith::payload::{AppMessage, Body};
use kith_protocol::padding;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

fn identity(provider: &OpenMlsRustCrypto) -> Result<(SignatureKeyPair, CredentialWithKey)> {
    let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm())?;
    signer.store(provider.storage())?;
    let cwk = CredentialWithKey {
        credential: BasicCredential::new(signer.public().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    Ok((signer, cwk))
}

/// `n` padded ciphertexts of short text messages (one relay bucket: 1 KiB).
pub fn mls_pool(n: usize) -> Result<Vec<Bytes>> {
    let alice = OpenMlsRustCrypto::default();
    let bob = OpenMlsRustCrypto::default();
    let (alice_signer, alice_cred) = identity(&alice)?;
    let (bob_signer, bob_cred) = identity(&bob)?;
    // The settings of `kith group create` (client-cli/engine/src/engine/mod.rs).
    let config = create_config_builder().build();
    let mut group = MlsGroup::new(&alice, &alice_signer, &config, alice_cred)?;
    let kp = KeyPackage::builder().build(CIPHERSUITE, &bob, &bob_signer, bob_cred)?;
    let (_commit, welcome, _) =
        group.add_members(&alice, &alice_signer, &[kp.key_package().clone()])?;
    group.merge_pending_commit(&alice)?;
    // The tree travels beside the Welcome, as in Kith's Welcome bundle.
    let tree = group.export_ratchet_tree().into();
    let welcome = MlsMessageIn::tls_deserialize_exact(welcome.tls_serialize_detached()?)?;
    let MlsMessageBodyIn::Welcome(welcome) = welcome.extract() else {
        return Err(anyhow!("expected a Welcome"));
    };
    let mut bob_group = StagedWelcome::new_from_welcome(&bob, &join_config(), welcome, Some(tree))?
        .into_group(&bob)?;

    let mut pool = Vec::with_capacity(n);
    for i in 0..n {
        let text = format!(
            "Lawyer Petrenko takes appeals on Thursdays; bring the papers from the \
             enlistment office (note {i})"
        );
        let padded = AppMessage::V1(Body::Text { text, sent_at: 0 })
            .to_padded()
            .map_err(|e| anyhow!("{e}"))?;
        let out = group.create_message(&alice, &alice_signer, &padded)?;
        let wire = out.tls_serialize_detached()?;
        if i == 0 {
            let msg = MlsMessageIn::tls_deserialize_exact(&wire)?.try_into_protocol_message()?;
            let processed = bob_group.process_message(&bob, msg)?;
            let ProcessedMessageContent::ApplicationMessage(app) = processed.into_content() else {
                return Err(anyhow!("expected an application message"));
            };
            anyhow::ensure!(app.into_bytes() == padded, "the pool does not decrypt");
        }
        let payload = padding::pad(&wire).context("pad")?;
        pool.push(Bytes::from(payload));
    }
    Ok(pool)
}
