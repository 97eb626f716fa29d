//! A hostile peer's RTCP (any compound packet: NACKs for anything,
//! reports, PLIs) into the repair sender holding our video, and its RTP
//! sequence numbers into the NACK generator. Input format:
//! `kh_call::fuzzing::rtcp_feedback`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kh_call::fuzzing::rtcp_feedback(data);
});
