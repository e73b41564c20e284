//! The relay's decoding of client frames: never panics, and what decodes re-encodes to
//! a frame that decodes to the same value. (Not to the same bytes: postcard accepts
//! non-minimal varints, which the fuzzer found at once. That is harmless here, since no
//! signature or hash covers frame bytes; every signed or sealed value is inside.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = kith_protocol::ClientFrame::decode(data) {
        let again = kith_protocol::ClientFrame::decode(&frame.encode()).expect("re-decodes");
        assert_eq!(again, frame);
    }
});
