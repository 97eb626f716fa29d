//! What a file or a hostile peer controls in kh-media: the bytes of a Y4M
//! or IVF file (a `kh call --send` source), compressed frames of every video codec
//! (the first byte picks which; VP8/VP9 headers are read for the picture
//! size they declare before libvpx sees them) and Opus packets arriving over RTP, and the
//! pixels a stamp is read from.
#![no_main]
use kh_media::audio::OpusDecoder;
use kh_media::stamp;
use kh_media::{VideoCodec, VideoDecoder};
use kh_media::ivf::IvfReader;
use kh_media::y4m::Y4mReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = Y4mReader::new(data) {
        for _ in 0..4 {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let _ = stamp::read(&frame);
                }
                _ => break,
            }
        }
    }
    if let Ok(mut reader) = IvfReader::new(data) {
        for _ in 0..4 {
            if !matches!(reader.next_frame(), Ok(Some(_))) {
                break;
            }
        }
    }
    if let Some((&pick, frame)) = data.split_first() {
        let codec = VideoCodec::ALL[usize::from(pick) % VideoCodec::ALL.len()];
        if let Ok(mut decoder) = VideoDecoder::new(codec, 1) {
            let _ = decoder.decode(frame);
        }
    }
    if let Ok(mut decoder) = OpusDecoder::new(false) {
        let _ = decoder.decode(data);
    }
});
