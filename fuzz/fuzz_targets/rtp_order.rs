//! A hostile peer's RTP order: sequence jumps that wrap and go backwards,
//! repeats, timestamps and arrival times of its choosing, through the
//! frame buffer of any codec (reordering, wrap, eviction of frames that
//! never complete). Input format: `kh_call::fuzzing::rtp_order`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Library depacketizers' panics are caught by kh-call (see rtp_video).
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    kh_call::fuzzing::rtp_order(data);
});
