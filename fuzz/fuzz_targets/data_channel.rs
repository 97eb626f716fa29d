//! What a hostile peer sends on the data channels: control messages,
//! pings and pongs, pointer positions, bulk chunks, with time from the
//! input. Input format: `kh_call::fuzzing::data_channel`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kh_call::fuzzing::data_channel(data);
});
