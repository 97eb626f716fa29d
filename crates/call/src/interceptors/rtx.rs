//! Repair streams (RTX, RFC 4588): which SSRC repairs which media stream,
//! and the original sequence number a repair carries in front of its
//! payload.

use std::collections::HashMap;

/// RTX SSRC → the media SSRC it repairs, for the streams bound so far.
#[derive(Debug, Default)]
pub struct RtxMap {
    repaired_by: HashMap<u32, u32>,
}

impl RtxMap {
    /// Note the repair stream of a bound stream, if it has one.
    pub fn bind(&mut self, info: &rtc::interceptor::StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.repaired_by.insert(rtx, info.ssrc);
        }
    }

    pub fn unbind(&mut self, info: &rtc::interceptor::StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.repaired_by.remove(&rtx);
        }
    }

    /// The media stream `ssrc` repairs, when it is a repair stream.
    pub fn media_of(&self, ssrc: u32) -> Option<u32> {
        self.repaired_by.get(&ssrc).copied()
    }

    /// The media stream and sequence number `packet` brings: its own, or
    /// for a repair, the original's. `None` for a repair without one
    /// (padding).
    pub fn media_sequence(&self, packet: &rtc::rtp::Packet) -> Option<(u32, u16)> {
        match self.media_of(packet.header.ssrc) {
            Some(media) => {
                let osn = packet.payload.get(..2)?;
                Some((media, u16::from_be_bytes([osn[0], osn[1]])))
            }
            None => Some((packet.header.ssrc, packet.header.sequence_number)),
        }
    }
}
