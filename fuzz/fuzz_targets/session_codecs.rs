//! A remote description from a hostile peer: parsed as webrtc-rs does and
//! read for the payload types of every codec we send and receive
//! (`SessionCodecs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kh_call::fuzzing::session_codecs(data);
});
