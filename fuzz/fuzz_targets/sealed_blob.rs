//! Opening sealed invitations, answers and welcomes from the relay: never panics, and
//! nothing opens without the key.
#![no_main]
use kith::seal::{WelcomeKey, open_answer, open_invitation, open_welcome};
use kith_protocol::SlotId;
use kith_protocol::invite::SlotKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let slot = SlotId([7; 32]);
    let key = SlotKey([9; 32]);
    let eph = x25519_dalek::StaticSecret::from([3u8; 32]);
    assert!(open_invitation(&slot, &key, data).is_err());
    assert!(open_answer(&slot, &key, &eph, data).is_err());
    assert!(open_welcome(&slot, &WelcomeKey([5; 32]), data).is_err());
});

