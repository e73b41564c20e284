//! OpenMLS storage over the encrypted store, and the provider the client uses.
//!
//! [`MlsStorage`] implements `openmls_traits::storage::StorageProvider<CURRENT_VERSION>`.
//! It mirrors `openmls_memory_storage` 0.6.0 (MIT, © OpenMLS Authors): every method is
//! written in terms of write / read / append / remove-item / delete of serde_json-encoded
//! keys and values, and the same labels. Differences: each label is its own store
//! namespace (`openmls/v1/<Label>`), so entries are encrypted, keyed-hashed and go through
//! the store's transaction overlay; missing or undecodable entries are errors, not panics;
//! and `clear_proposal_queue` deletes the queued proposals under their real keys.

use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;
use openmls_traits::storage::{CURRENT_VERSION, StorageProvider, traits};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::{Store, StoreError};

// The namespaces below embed the storage version. If OpenMLS moves to a new storage
// version, this fails to compile: add the new namespaces and a migration deliberately.
const _: () = assert!(CURRENT_VERSION == 1);

const KEY_PACKAGE: &str = "openmls/v1/KeyPackage";
const PSK: &str = "openmls/v1/Psk";
const ENCRYPTION_KEY_PAIR: &str = "openmls/v1/EncryptionKeyPair";
const SIGNATURE_KEY_PAIR: &str = "openmls/v1/SignatureKeyPair";
const EPOCH_KEY_PAIRS: &str = "openmls/v1/EpochKeyPairs";
const TREE: &str = "openmls/v1/Tree";
const GROUP_CONTEXT: &str = "openmls/v1/GroupContext";
const INTERIM_TRANSCRIPT_HASH: &str = "openmls/v1/InterimTranscriptHash";
const CONFIRMATION_TAG: &str = "openmls/v1/ConfirmationTag";
const JOIN_CONFIG: &str = "openmls/v1/MlsGroupJoinConfig";
const OWN_LEAF_NODES: &str = "openmls/v1/OwnLeafNodes";
const GROUP_STATE: &str = "openmls/v1/GroupState";
const QUEUED_PROPOSAL: &str = "openmls/v1/QueuedProposal";
const PROPOSAL_QUEUE_REFS: &str = "openmls/v1/ProposalQueueRefs";
const OWN_LEAF_NODE_INDEX: &str = "openmls/v1/OwnLeafNodeIndex";
const EPOCH_SECRETS: &str = "openmls/v1/EpochSecrets";
const RESUMPTION_PSK_STORE: &str = "openmls/v1/ResumptionPsk";
const MESSAGE_SECRETS: &str = "openmls/v1/MessageSecrets";

/// OpenMLS's storage provider over a [`Store`]: all MLS state (groups, key packages,
/// private keys) is sealed like any other value and committed with [`Store::commit`].
#[derive(Clone, Debug)]
pub struct MlsStorage {
    store: Store,
}

impl MlsStorage {
    /// Wraps `store`.
    pub fn new(store: Store) -> Self {
        MlsStorage { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn write<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        ns: &str,
        key: &K,
        value: &V,
    ) -> Result<(), StoreError> {
        self.store.put_raw(ns, &json(key)?, &json(value)?)
    }

    fn read<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        ns: &str,
        key: &K,
    ) -> Result<Option<V>, StoreError> {
        match self.store.get_raw(ns, &json(key)?)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn remove<K: Serialize + ?Sized>(&self, ns: &str, key: &K) -> Result<(), StoreError> {
        self.store.delete(ns, &json(key)?)
    }

    fn append<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        ns: &str,
        key: &K,
        value: &V,
    ) -> Result<(), StoreError> {
        let item = json(value)?;
        self.store.update_raw(ns, &json(key)?, |old| {
            let mut list: Vec<Vec<u8>> = match old {
                Some(bytes) => serde_json::from_slice(bytes)?,
                None => Vec::new(),
            };
            list.push(item.to_vec());
            Ok(serde_json::to_vec(&list)?)
        })
    }

    fn remove_item<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        ns: &str,
        key: &K,
        value: &V,
    ) -> Result<(), StoreError> {
        let item = json(value)?;
        self.store.update_raw(ns, &json(key)?, |old| {
            let mut list: Vec<Vec<u8>> = match old {
                Some(bytes) => serde_json::from_slice(bytes)?,
                None => Vec::new(),
            };
            if let Some(pos) = list.iter().position(|stored| stored[..] == item[..]) {
                list.remove(pos);
            }
            Ok(serde_json::to_vec(&list)?)
        })
    }

    fn read_list<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        ns: &str,
        key: &K,
    ) -> Result<Vec<V>, StoreError> {
        let Some(bytes) = self.store.get_raw(ns, &json(key)?)? else {
            return Ok(Vec::new());
        };
        let list: Vec<Vec<u8>> = serde_json::from_slice(&bytes)?;
        list.iter()
            .map(|item| Ok(serde_json::from_slice(item)?))
            .collect()
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    Ok(Zeroizing::new(serde_json::to_vec(value)?))
}

/// The key of an epoch's encryption key pairs.
fn epoch_key<GroupId: Serialize, EpochKey: Serialize>(
    group_id: &GroupId,
    epoch: &EpochKey,
    leaf_index: u32,
) -> impl Serialize {
    (group_id, epoch, leaf_index)
}

impl StorageProvider<CURRENT_VERSION> for MlsStorage {
    type Error = StoreError;

    // --- per-group state: one value per group id ---

    fn write_mls_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        config: &MlsGroupJoinConfig,
    ) -> Result<(), StoreError> {
        self.write(JOIN_CONFIG, group_id, config)
    }

    fn mls_group_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MlsGroupJoinConfig>, StoreError> {
        self.read(JOIN_CONFIG, group_id)
    }

    fn delete_group_config<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(JOIN_CONFIG, group_id)
    }

    fn write_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        tree: &TreeSync,
    ) -> Result<(), StoreError> {
        self.write(TREE, group_id, tree)
    }

    fn tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<TreeSync>, StoreError> {
        self.read(TREE, group_id)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(TREE, group_id)
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        interim_transcript_hash: &InterimTranscriptHash,
    ) -> Result<(), StoreError> {
        self.write(INTERIM_TRANSCRIPT_HASH, group_id, interim_transcript_hash)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<InterimTranscriptHash>, StoreError> {
        self.read(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn write_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_context: &GroupContext,
    ) -> Result<(), StoreError> {
        self.write(GROUP_CONTEXT, group_id, group_context)
    }

    fn group_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupContext>, StoreError> {
        self.read(GROUP_CONTEXT, group_id)
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(GROUP_CONTEXT, group_id)
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        confirmation_tag: &ConfirmationTag,
    ) -> Result<(), StoreError> {
        self.write(CONFIRMATION_TAG, group_id, confirmation_tag)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ConfirmationTag>, StoreError> {
        self.read(CONFIRMATION_TAG, group_id)
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(CONFIRMATION_TAG, group_id)
    }

    fn write_group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_state: &GroupState,
    ) -> Result<(), StoreError> {
        self.write(GROUP_STATE, group_id, group_state)
    }

    fn group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupState>, StoreError> {
        self.read(GROUP_STATE, group_id)
    }

    fn delete_group_state<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(GROUP_STATE, group_id)
    }

    fn write_message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        message_secrets: &MessageSecrets,
    ) -> Result<(), StoreError> {
        self.write(MESSAGE_SECRETS, group_id, message_secrets)
    }

    fn message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MessageSecrets>, StoreError> {
        self.read(MESSAGE_SECRETS, group_id)
    }

    fn delete_message_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(MESSAGE_SECRETS, group_id)
    }

    fn write_resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        resumption_psk_store: &ResumptionPskStore,
    ) -> Result<(), StoreError> {
        self.write(RESUMPTION_PSK_STORE, group_id, resumption_psk_store)
    }

    fn resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ResumptionPskStore>, StoreError> {
        self.read(RESUMPTION_PSK_STORE, group_id)
    }

    fn delete_all_resumption_psk_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(RESUMPTION_PSK_STORE, group_id)
    }

    fn write_own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        own_leaf_index: &LeafNodeIndex,
    ) -> Result<(), StoreError> {
        self.write(OWN_LEAF_NODE_INDEX, group_id, own_leaf_index)
    }

    fn own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<LeafNodeIndex>, StoreError> {
        self.read(OWN_LEAF_NODE_INDEX, group_id)
    }

    fn delete_own_leaf_index<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(OWN_LEAF_NODE_INDEX, group_id)
    }

    fn write_group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_epoch_secrets: &GroupEpochSecrets,
    ) -> Result<(), StoreError> {
        self.write(EPOCH_SECRETS, group_id, group_epoch_secrets)
    }

    fn group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupEpochSecrets>, StoreError> {
        self.read(EPOCH_SECRETS, group_id)
    }

    fn delete_group_epoch_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(EPOCH_SECRETS, group_id)
    }

    // --- per-group lists ---

    fn append_own_leaf_node<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        leaf_node: &LeafNode,
    ) -> Result<(), StoreError> {
        self.append(OWN_LEAF_NODES, group_id, leaf_node)
    }

    fn own_leaf_nodes<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<LeafNode>, StoreError> {
        self.read_list(OWN_LEAF_NODES, group_id)
    }

    fn delete_own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.remove(OWN_LEAF_NODES, group_id)
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> Result<(), StoreError> {
        self.write(QUEUED_PROPOSAL, &(group_id, proposal_ref), proposal)?;
        self.append(PROPOSAL_QUEUE_REFS, group_id, proposal_ref)
    }

    fn queued_proposal_refs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<ProposalRef>, StoreError> {
        self.read_list(PROPOSAL_QUEUE_REFS, group_id)
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<(ProposalRef, QueuedProposal)>, StoreError> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_QUEUE_REFS, group_id)?;
        refs.into_iter()
            .map(|proposal_ref| {
                let proposal = self
                    .read(QUEUED_PROPOSAL, &(group_id, &proposal_ref))?
                    .ok_or(StoreError::Corrupt("a queued proposal is missing"))?;
                Ok((proposal_ref, proposal))
            })
            .collect()
    }

    fn remove_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> Result<(), StoreError> {
        self.remove_item(PROPOSAL_QUEUE_REFS, group_id, proposal_ref)?;
        self.remove(QUEUED_PROPOSAL, &(group_id, proposal_ref))
    }

    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<(), StoreError> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_QUEUE_REFS, group_id)?;
        for proposal_ref in &refs {
            self.remove(QUEUED_PROPOSAL, &(group_id, proposal_ref))?;
        }
        self.remove(PROPOSAL_QUEUE_REFS, group_id)
    }

    // --- crypto objects ---

    fn write_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
        signature_key_pair: &SignatureKeyPair,
    ) -> Result<(), StoreError> {
        self.write(SIGNATURE_KEY_PAIR, public_key, signature_key_pair)
    }

    fn signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<Option<SignatureKeyPair>, StoreError> {
        self.read(SIGNATURE_KEY_PAIR, public_key)
    }

    fn delete_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<(), StoreError> {
        self.remove(SIGNATURE_KEY_PAIR, public_key)
    }

    fn write_encryption_key_pair<
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
        key_pair: &HpkeKeyPair,
    ) -> Result<(), StoreError> {
        self.write(ENCRYPTION_KEY_PAIR, public_key, key_pair)
    }

    fn encryption_key_pair<
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<Option<HpkeKeyPair>, StoreError> {
        self.read(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn delete_encryption_key_pair<EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>>(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<(), StoreError> {
        self.remove(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn write_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
        key_pairs: &[HpkeKeyPair],
    ) -> Result<(), StoreError> {
        self.write(
            EPOCH_KEY_PAIRS,
            &epoch_key(group_id, epoch, leaf_index),
            key_pairs,
        )
    }

    fn encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<Vec<HpkeKeyPair>, StoreError> {
        Ok(self
            .read(EPOCH_KEY_PAIRS, &epoch_key(group_id, epoch, leaf_index))?
            .unwrap_or_default())
    }

    fn delete_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<(), StoreError> {
        self.remove(EPOCH_KEY_PAIRS, &epoch_key(group_id, epoch, leaf_index))
    }

    fn write_key_package<
        HashReference: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &HashReference,
        key_package: &KeyPackage,
    ) -> Result<(), StoreError> {
        self.write(KEY_PACKAGE, hash_ref, key_package)
    }

    fn key_package<
        KeyPackageRef: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<Option<KeyPackage>, StoreError> {
        self.read(KEY_PACKAGE, hash_ref)
    }

    fn delete_key_package<KeyPackageRef: traits::HashReference<CURRENT_VERSION>>(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<(), StoreError> {
        self.remove(KEY_PACKAGE, hash_ref)
    }

    fn write_psk<
        PskId: traits::PskId<CURRENT_VERSION>,
        PskBundle: traits::PskBundle<CURRENT_VERSION>,
    >(
        &self,
        psk_id: &PskId,
        psk: &PskBundle,
    ) -> Result<(), StoreError> {
        self.write(PSK, psk_id, psk)
    }

    fn psk<PskBundle: traits::PskBundle<CURRENT_VERSION>, PskId: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
    ) -> Result<Option<PskBundle>, StoreError> {
        self.read(PSK, psk_id)
    }

    fn delete_psk<PskKey: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskKey,
    ) -> Result<(), StoreError> {
        self.remove(PSK, psk_id)
    }
}

/// The client's OpenMLS provider: RustCrypto for crypto and randomness, [`MlsStorage`]
/// over the encrypted store for state.
///
/// MLS operations write into the store's pending changes; call
/// [`Store::commit`] (via [`KithProvider::store`]) once the matching application data is
/// written too.
#[derive(Debug)]
pub struct KithProvider {
    crypto: RustCrypto,
    storage: MlsStorage,
}

impl KithProvider {
    /// A provider whose MLS state lives in `store`.
    pub fn new(store: Store) -> Self {
        KithProvider {
            crypto: RustCrypto::default(),
            storage: MlsStorage::new(store),
        }
    }

    /// The store behind the provider (for application data, commit and rollback).
    pub fn store(&self) -> &Store {
        self.storage.store()
    }
}

impl OpenMlsProvider for KithProvider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MlsStorage;

    fn storage(&self) -> &MlsStorage {
        &self.storage
    }

    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }

    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}
