//! Staging a join from a Welcome with the tree's signatures checked on every core.
//!
//! A joiner checks one Ed25519 signature per member (each leaf of the ratchet tree) plus
//! the GroupInfo's. OpenMLS does it one after another on one core; at 1000 members that
//! was about 70 % of the join (BENCHMARKS.md). [`stage_welcome`] lets OpenMLS stage the
//! join with a crypto provider that *records* every signature it is asked to check and
//! answers "valid", then checks every recorded signature with the real provider's own
//! `verify_signature` — the same function OpenMLS would have called — on all cores, and
//! refuses the join if any fails.
//!
//! Why that accepts exactly what OpenMLS's own order accepts, and no more:
//! - every check OpenMLS asks for is recorded, and the staged join is returned only if
//!   every recorded check passes with the real provider;
//! - while staging a join, OpenMLS treats a failed check as fatal: answering "valid" early
//!   can only let staging go further than it would have; it cannot change what a join
//!   that passes every check ends as;
//! - nothing staged is used before the checks: the recording provider is used for
//!   [`StagedWelcome::new_from_welcome`] only, and a refused join returns no group.
//!   (What staging wrote to the store — it deletes the KeyPackage it used — is what a
//!   Welcome refused by OpenMLS itself leaves too.)
//!
//! No signature scheme or verification of our own: the checks are the provider's.

use openmls::prelude::tls_codec::SecretVLBytes;
use openmls::prelude::*;
use openmls_traits::OpenMlsProvider;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::storage::StorageProvider;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeCiphertext, HpkeConfig,
    HpkeKeyPair, KemOutput, SignatureScheme,
};
use std::sync::Mutex;

/// Why a join was refused.
#[derive(Debug)]
pub enum JoinError<E> {
    /// OpenMLS refused the Welcome (or the tree beside it).
    Welcome(WelcomeError<E>),
    /// A signature in the tree or on the GroupInfo does not verify.
    BadSignature,
}

impl<E: std::fmt::Debug + std::fmt::Display> std::fmt::Display for JoinError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Welcome(e) => write!(f, "{e}"),
            JoinError::BadSignature => f.write_str(&kith_i18n::t!("engine-join-bad-signature")),
        }
    }
}

/// The error of a provider's storage.
type StorageError<P> = <<P as OpenMlsProvider>::StorageProvider as StorageProvider<
    { openmls_traits::storage::CURRENT_VERSION },
>>::Error;

/// [`StagedWelcome::new_from_welcome`], with the signature checks done on all cores (see
/// the module doc).
pub fn stage_welcome<P: OpenMlsProvider>(
    provider: &P,
    config: &MlsGroupJoinConfig,
    welcome: Welcome,
    tree: Option<RatchetTreeIn>,
) -> Result<StagedWelcome, JoinError<StorageError<P>>> {
    let staging = Staging {
        inner: provider,
        crypto: Recording {
            inner: provider.crypto(),
            calls: Mutex::new(Vec::new()),
        },
    };
    // A copy of the group we still hold does not stop the staging: whether it may go
    // is the caller's decision, made after its own checks of the welcome.
    let mut builder =
        StagedWelcome::build_from_welcome(&staging, config, welcome).map_err(JoinError::Welcome)?;
    if let Some(tree) = tree {
        builder = builder.with_ratchet_tree(tree);
    }
    let staged = builder
        .replace_old_group()
        .build()
        .map_err(JoinError::Welcome)?;
    let calls = staging
        .crypto
        .calls
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if !verify_all(provider.crypto(), &calls) {
        return Err(JoinError::BadSignature);
    }
    Ok(staged)
}

/// One signature check OpenMLS asked for.
struct Call {
    alg: SignatureScheme,
    data: Vec<u8>,
    pk: Vec<u8>,
    signature: Vec<u8>,
}

/// Runs every check with `crypto`, split over the cores; true if all pass.
fn verify_all<C: OpenMlsCrypto>(crypto: &C, calls: &[Call]) -> bool {
    let check = |c: &Call| {
        crypto
            .verify_signature(c.alg, &c.data, &c.pk, &c.signature)
            .is_ok()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    // Below a few dozen checks a thread costs more than it saves.
    if threads == 1 || calls.len() < 32 {
        return calls.iter().all(check);
    }
    let chunk = calls.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = calls
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().all(check)))
            .collect();
        // A panicked part counts as failed; the scope waits for any part not joined here.
        parts.into_iter().all(|p| p.join().unwrap_or(false))
    })
}

/// The provider OpenMLS stages the join with: the real one's storage and randomness, and
/// a crypto provider that records signature checks.
struct Staging<'a, P: OpenMlsProvider> {
    inner: &'a P,
    crypto: Recording<'a, P::CryptoProvider>,
}

impl<'a, P: OpenMlsProvider> OpenMlsProvider for Staging<'a, P> {
    type CryptoProvider = Recording<'a, P::CryptoProvider>;
    type RandProvider = P::RandProvider;
    type StorageProvider = P::StorageProvider;

    fn storage(&self) -> &Self::StorageProvider {
        self.inner.storage()
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        &self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        self.inner.rand()
    }
}

/// The real crypto provider, except that `verify_signature` records the check and
/// answers `Ok` (checked later by [`verify_all`]).
struct Recording<'a, C> {
    inner: &'a C,
    calls: Mutex<Vec<Call>>,
}

impl<C: OpenMlsCrypto> OpenMlsCrypto for Recording<'_, C> {
    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Call {
                alg,
                data: data.to_vec(),
                pk: pk.to_vec(),
                signature: signature.to_vec(),
            });
        Ok(())
    }

    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        self.inner.supports(ciphersuite)
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        self.inner.supported_ciphersuites()
    }

    fn hkdf_extract(
        &self,
        hash_type: HashType,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        self.inner.hkdf_extract(hash_type, salt, ikm)
    }

    fn hmac(
        &self,
        hash_type: HashType,
        key: &[u8],
        message: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        self.inner.hmac(hash_type, key, message)
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        self.inner.hkdf_expand(hash_type, prk, info, okm_len)
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.inner.hash(hash_type, data)
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_encrypt(alg, key, data, nonce, aad)
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_decrypt(alg, key, ct_tag, nonce, aad)
    }

    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        self.inner.signature_key_gen(alg)
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.inner.sign(alg, data, key)
    }

    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        self.inner.hpke_seal(config, pk_r, info, aad, ptxt)
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.hpke_open(config, input, sk_r, info, aad)
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        self.inner.hpke_setup_sender_and_export(
            config,
            pk_r,
            info,
            exporter_context,
            exporter_length,
        )
    }

    fn hpke_setup_receiver_and_export(
        &self,
        config: HpkeConfig,
        enc: &[u8],
        sk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<ExporterSecret, CryptoError> {
        self.inner.hpke_setup_receiver_and_export(
            config,
            enc,
            sk_r,
            info,
            exporter_context,
            exporter_length,
        )
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        self.inner.derive_hpke_keypair(config, ikm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmls_rust_crypto::OpenMlsRustCrypto;

    fn signed(crypto: &impl OpenMlsCrypto, data: &[u8]) -> Call {
        let (sk, pk) = crypto.signature_key_gen(SignatureScheme::ED25519).unwrap();
        let signature = crypto.sign(SignatureScheme::ED25519, data, &sk).unwrap();
        Call {
            alg: SignatureScheme::ED25519,
            data: data.to_vec(),
            pk,
            signature,
        }
    }

    #[test]
    fn one_bad_signature_anywhere_fails_the_whole_check() {
        let provider = OpenMlsRustCrypto::default();
        let crypto = provider.crypto();
        let mut calls: Vec<Call> = (0..64u32)
            .map(|i| signed(crypto, &i.to_be_bytes()))
            .collect();
        assert!(verify_all(crypto, &calls));
        assert!(verify_all(crypto, &calls[..5]), "the single-thread path");
        for i in [0, 40, 63] {
            calls[i].data.push(0);
            assert!(!verify_all(crypto, &calls), "tampered message at {i}");
            assert!(!verify_all(crypto, &calls[i.saturating_sub(2)..=i]));
            calls[i].data.pop();
            calls[i].signature[0] ^= 1;
            assert!(!verify_all(crypto, &calls), "tampered signature at {i}");
            calls[i].signature[0] ^= 1;
        }
        assert!(verify_all(crypto, &calls));
    }
}
