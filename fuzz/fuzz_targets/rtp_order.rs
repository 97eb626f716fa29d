//! A hostile peer's RTP order: sequence jumps that wrap and go backwards,
//! repeats, timestamps and arrival times of its choosing, through the
//! frame buffer of any codec (reordering, wrap, eviction of frames that
//! never complete). Input format: `kh_call::fuzzing::rtp_order`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Library depacketizers' panics are caught by kh-call (see rtp_video).
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    // One line per panic, no backtrace: the caught ones are expected, and
    // capturing a backtrace for each cost most of the run's time.
    DEFAULT_HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
    kh_call::fuzzing::rtp_order(data);
});
