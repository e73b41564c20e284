//! Padding of every blob the relay stores to one of a few sizes, so that the relay and
//! the network learn only a coarse size class, not the length of a message or a name.
//!
//! Layout of a padded blob: the data's length as a big-endian `u32`, the data, then zero
//! bytes up to the smallest bucket that holds it. The relay checks only that a blob's
//! length is a bucket ([`is_bucket`]); the receiving client checks the rest ([`unpad`]).

use crate::limits::MAX_PAYLOAD;

/// The padded sizes: 256 B, then ×4 up to [`MAX_PAYLOAD`] (1 MiB). Seven classes.
pub const BUCKETS: [usize; 7] = [256, 1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20];

const HEADER: usize = 4;

/// The most data bytes that fit in the largest bucket.
pub const MAX_UNPADDED: usize = MAX_PAYLOAD - HEADER;

/// Why padding or unpadding failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaddingError {
    /// The data does not fit in the largest bucket.
    #[error("{0} bytes do not fit in the largest padding bucket")]
    TooLong(usize),
    /// The blob is not a well-formed padded blob.
    #[error("malformed padding")]
    Malformed,
}

/// Whether `len` is one of the bucket sizes.
pub fn is_bucket(len: usize) -> bool {
    BUCKETS.contains(&len)
}

/// The bucket a blob holding `data_len` bytes of data is padded to.
pub fn bucket_for(data_len: usize) -> Option<usize> {
    BUCKETS.iter().copied().find(|&b| b >= data_len + HEADER)
}

/// Pads `data` to its bucket.
pub fn pad(data: &[u8]) -> Result<Vec<u8>, PaddingError> {
    let size = bucket_for(data.len()).ok_or(PaddingError::TooLong(data.len()))?;
    let mut out = Vec::with_capacity(size);
    // Fits: data.len() <= MAX_UNPADDED < u32::MAX.
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out.resize(size, 0);
    Ok(out)
}

/// Returns the data inside a padded blob. Refuses a blob whose length is not a bucket,
/// whose length field points past its end, or whose padding is not all zero (so that the
/// padding cannot carry a covert payload past the receiver).
pub fn unpad(padded: &[u8]) -> Result<&[u8], PaddingError> {
    if !is_bucket(padded.len()) {
        return Err(PaddingError::Malformed);
    }
    let (header, rest) = padded.split_at(HEADER);
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > rest.len() {
        return Err(PaddingError::Malformed);
    }
    let (data, zeros) = rest.split_at(len);
    if zeros.iter().any(|&b| b != 0) {
        return Err(PaddingError::Malformed);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_land_in_buckets() {
        assert_eq!(pad(b"").unwrap().len(), 256);
        assert_eq!(pad(&[1; 252]).unwrap().len(), 256);
        assert_eq!(pad(&[1; 253]).unwrap().len(), 1024);
        assert_eq!(pad(&[1; MAX_UNPADDED]).unwrap().len(), MAX_PAYLOAD);
        assert_eq!(
            pad(&vec![1; MAX_UNPADDED + 1]),
            Err(PaddingError::TooLong(MAX_UNPADDED + 1))
        );
    }

    #[test]
    fn tampered_padding_is_refused() {
        let mut p = pad(b"hello").unwrap();
        p[200] = 1;
        assert_eq!(unpad(&p), Err(PaddingError::Malformed));
        let mut p = pad(b"hello").unwrap();
        p[3] = 255;
        assert_eq!(unpad(&p), Err(PaddingError::Malformed));
        assert_eq!(unpad(&[0; 255]), Err(PaddingError::Malformed));
    }

    proptest! {
        #[test]
        fn pad_unpad_round_trips(data in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let p = pad(&data).unwrap();
            prop_assert!(is_bucket(p.len()));
            prop_assert_eq!(unpad(&p).unwrap(), &data[..]);
        }

        #[test]
        fn unpad_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = unpad(&data);
        }
    }
}
