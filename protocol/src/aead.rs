//! Sealing helpers both sides use, as plain functions: the file chunk format of clients
//! (ChaCha20-Poly1305) and XChaCha20-Poly1305 (the relay's sealing at rest), and SHA-256.
//!
//! They are here, non-generic, so that the cipher code is instantiated in this crate:
//! the workspace compiles this crate optimized even in debug builds (`Cargo.toml`), and
//! unoptimized, ChaCha20's SIMD backend runs ~10× slower (a 25 MiB file then took
//! ~16 s each way in the tests).
//!
//! **File chunks.** A file is cut into chunks of equal length (the last one padded with
//! zeros by the sender), and chunk `index` of `count` is sealed with ChaCha20-Poly1305
//! under the file's key, with the 96-bit big-endian nonce `index` and the associated data
//! `"kith file chunk v1\0" || index (u32 BE) || count (u32 BE)`. A nonce that is only the
//! index is safe because every file has a fresh random key that seals each index once.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The bytes an AEAD adds (the Poly1305 tag).
pub const TAG_LEN: usize = 16;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn chunk_nonce(index: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&index.to_be_bytes());
    n
}

fn chunk_aad(index: u32, count: u32) -> [u8; 27] {
    let mut a = [0u8; 27];
    a[..19].copy_from_slice(b"kith file chunk v1\0");
    a[19..23].copy_from_slice(&index.to_be_bytes());
    a[23..].copy_from_slice(&count.to_be_bytes());
    a
}

/// Seals chunk `index` of a file of `count` chunks under the file's `key`.
pub fn seal_chunk(key: &[u8; 32], index: u32, count: u32, plain: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(key.into())
        .encrypt(
            Nonce::from_slice(&chunk_nonce(index)),
            Payload {
                msg: plain,
                aad: &chunk_aad(index, count),
            },
        )
        // Only fails for inputs over 256 GiB.
        .expect("a chunk is far below the ChaCha20-Poly1305 limit")
}

/// Opens chunk `index` of `count`; `None` if it was altered (or is another chunk, or of
/// another file).
pub fn open_chunk(key: &[u8; 32], index: u32, count: u32, sealed: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(key.into())
        .decrypt(
            Nonce::from_slice(&chunk_nonce(index)),
            Payload {
                msg: sealed,
                aad: &chunk_aad(index, count),
            },
        )
        .ok()
}

/// XChaCha20-Poly1305 sealing.
pub fn xseal(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(nonce), Payload { msg: plain, aad })
        .expect("a record is far below the XChaCha20-Poly1305 limit")
}

/// XChaCha20-Poly1305 opening; `None` if the tag does not verify.
pub fn xopen(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_open_only_in_their_place() {
        let key = [9u8; 32];
        let a = seal_chunk(&key, 0, 2, b"first");
        let b = seal_chunk(&key, 1, 2, b"secnd");
        assert_eq!(a.len(), 5 + TAG_LEN);
        assert_eq!(open_chunk(&key, 0, 2, &a).unwrap(), b"first");
        assert_eq!(open_chunk(&key, 1, 2, &b).unwrap(), b"secnd");
        // Swapped, moved to another count, another key, or a flipped bit: refused.
        assert_eq!(open_chunk(&key, 0, 2, &b), None);
        assert_eq!(open_chunk(&key, 0, 3, &a), None);
        assert_eq!(open_chunk(&[8; 32], 0, 2, &a), None);
        let mut bad = a.clone();
        bad[2] ^= 1;
        assert_eq!(open_chunk(&key, 0, 2, &bad), None);
    }

    #[test]
    fn xchacha_round_trips_and_binds_its_data() {
        let (key, nonce) = ([1u8; 32], [2u8; 24]);
        let s = xseal(&key, &nonce, b"aad", b"payload");
        assert_eq!(xopen(&key, &nonce, b"aad", &s).unwrap(), b"payload");
        assert_eq!(xopen(&key, &nonce, b"other", &s), None);
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
