//! The console-viewer frame decoder on arbitrary bytes, split at an
//! arbitrary point, decoding both directions' messages.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for direction in 0..2 {
        let mut decoder = kh_ipc::FrameDecoder::new();
        decoder.feed(&data[..split]);
        decoder.feed(&data[split..]);
        loop {
            let more = if direction == 0 {
                decoder.next_message::<kh_ipc::ToViewer>().map(|m| m.is_some())
            } else {
                decoder.next_message::<kh_ipc::FromViewer>().map(|m| m.is_some())
            };
            if !matches!(more, Ok(true)) {
                break;
            }
        }
    }
});
