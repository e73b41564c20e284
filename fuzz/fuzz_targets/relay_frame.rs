//! The client's handling of what a (hostile) relay sends: the frame, then every layer of
//! a delivered payload — padding, the MLS framing, our application payload.
#![no_main]
use kith_protocol::{Push, RelayFrame, Response};
use libfuzzer_sys::fuzz_target;
use openmls::prelude::tls_codec::Deserialize;
use openmls::prelude::MlsMessageIn;

fn payload(p: &[u8]) {
    if let Ok(inner) = kith_protocol::padding::unpad(p) {
        if let Ok(m) = MlsMessageIn::tls_deserialize_exact(inner) {
            let _ = m.try_into_protocol_message();
        }
    }
    let _ = kith::payload::AppMessage::from_padded(p);
}

fuzz_target!(|data: &[u8]| {
    match kith_protocol::RelayFrame::decode(data) {
        Ok(RelayFrame::Push(Push::Message { message, .. })) => payload(&message.payload),
        Ok(RelayFrame::Response {
            body: Response::Messages { messages, .. },
            ..
        }) => messages.iter().for_each(|m| payload(&m.payload)),
        _ => {}
    }
    // The payload layers on their own too, for coverage without a valid frame around.
    payload(data);
});
