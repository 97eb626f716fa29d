//! A message from a hostile signalling server (or one in its path), as the
//! call's client parses it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kh_call::fuzzing::server_message(data);
});
