//! Receiving: repairs of packets that are already here go no further.
//!
//! A sender fills bandwidth probes with RTX copies of packets it sent
//! before (libwebrtc does, and so does our `sender`), and a NACK answered
//! twice brings a second copy. webrtc-rs hands each RTX packet on to the
//! track as the packet it repairs, into the track's 256-packet queue: a
//! probe at 100 Mbit/s put ~150 duplicates there at once, the queue
//! overflowed, real packets were dropped, and a frame was lost on a
//! loopback call that lost nothing. This interceptor sits after the
//! transport-wide feedback recorder (which must count every arrival, or
//! the probe reads as loss) and drops an RTX packet whose original, or an
//! earlier copy, already came.

use super::rtx::RtxMap;
use super::watching::PacketWatcher;
use rtc::interceptor::{Packet, StreamInfo, TaggedPacket};
use std::collections::HashMap;

/// Packets remembered per stream.
const WINDOW: usize = 4096;

/// Which of the last [`WINDOW`] sequence numbers of a stream came.
struct Seen {
    /// Indexed by sequence number modulo the window: the number stored
    /// there, when it came.
    slots: Vec<Option<u16>>,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            slots: vec![None; WINDOW],
        }
    }

    /// Note `sequence`; whether it had come before.
    fn came(&mut self, sequence: u16) -> bool {
        let slot = &mut self.slots[usize::from(sequence) % WINDOW];
        let before = *slot == Some(sequence);
        *slot = Some(sequence);
        before
    }
}

#[derive(Default)]
pub struct RepairFilter {
    /// Media SSRC → what came.
    streams: HashMap<u32, Seen>,
    rtx: RtxMap,
    /// Duplicates dropped.
    pub dropped: u64,
}

/// After the TWCC recorder (`Slot::TwccReceiver`, 8000), before the
/// application.
pub const SLOT: usize = 13_500;

impl RepairFilter {
    /// Whether `packet` brings nothing new.
    fn is_duplicate(&mut self, packet: &rtc::rtp::Packet) -> bool {
        let is_repair = self.rtx.media_of(packet.header.ssrc).is_some();
        // A repair without an original sequence number is padding only:
        // webrtc-rs drops it itself.
        let Some((media, sequence)) = self.rtx.media_sequence(packet) else {
            return false;
        };
        let came_before = self
            .streams
            .get_mut(&media)
            .is_some_and(|seen| seen.came(sequence));
        is_repair && came_before
    }
}

impl PacketWatcher for RepairFilter {
    fn on_read(&mut self, packet: &mut TaggedPacket) -> bool {
        if let Packet::Rtp(rtp) = &packet.message.packet
            && self.is_duplicate(rtp)
        {
            self.dropped += 1;
            return false;
        }
        true
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if info.ssrc_rtx.is_some() {
            self.streams.insert(info.ssrc, Seen::new());
            self.rtx.bind(info);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
        self.rtx.unbind(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::shared::TransportContext;
    use std::time::Instant;

    fn rtp(ssrc: u32, sequence: u16, payload: &[u8]) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = sequence;
        packet.payload = bytes::Bytes::copy_from_slice(payload);
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    #[test]
    fn a_repair_passes_once_and_copies_of_what_came_do_not() {
        let mut filter = RepairFilter::default();
        filter.bind_remote_stream(&StreamInfo {
            ssrc: 7,
            ssrc_rtx: Some(8),
            ..Default::default()
        });
        let mut passed = Vec::new();
        let mut filter = super::super::watching::Watching::new(filter);
        for packet in [
            rtp(7, 1, &[1]),
            rtp(7, 3, &[3]),
            // 2 was lost: its repair passes, a second copy does not.
            rtp(8, 100, &[0, 2, 9]),
            rtp(8, 101, &[0, 2, 9]),
            // Probe padding: copies of 3, already here.
            rtp(8, 102, &[0, 3, 9]),
            rtp(8, 103, &[0, 3, 9]),
            // Padding without an original sequence number: left alone.
            rtp(8, 104, &[]),
            rtp(7, 4, &[4]),
        ] {
            rtc::sansio::Protocol::handle_read(&mut filter, packet).expect("read");
            while let Some(out) = rtc::sansio::Protocol::poll_read(&mut filter) {
                if let Packet::Rtp(p) = out.message.packet {
                    passed.push((p.header.ssrc, p.header.sequence_number));
                }
            }
        }
        assert_eq!(passed, vec![(7, 1), (7, 3), (8, 100), (8, 104), (7, 4)]);
        assert_eq!(filter.watcher.dropped, 3);
    }
}
