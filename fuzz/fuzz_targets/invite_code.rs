//! Parsing invite codes, invite strings and relay URLs typed or pasted by a person.
#![no_main]
use kith_protocol::invite::{Invite, InviteCode, RelayAddr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = s.parse::<InviteCode>() {
        // A code that parses prints to a string that parses to the same code.
        let again: InviteCode = code.to_string().parse().expect("round trip");
        assert_eq!(again.derive().0, code.derive().0);
    }
    let _ = s.parse::<Invite>();
    let _ = s.parse::<RelayAddr>();
});
