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

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

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
    /// RTX SSRC → the media SSRC it repairs.
    repaired_by: HashMap<u32, u32>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
    /// Duplicates dropped.
    pub dropped: u64,
}

/// After the TWCC recorder (`Slot::TwccReceiver`, 8000), before the
/// application.
pub const SLOT: usize = 13_500;

impl RepairFilter {
    /// Whether `packet` brings nothing new.
    fn is_duplicate(&mut self, packet: &rtc::rtp::Packet) -> bool {
        let ssrc = packet.header.ssrc;
        if let Some(&media) = self.repaired_by.get(&ssrc) {
            let Some(osn) = packet.payload.get(..2) else {
                // Padding only: webrtc-rs drops it itself.
                return false;
            };
            let original = u16::from_be_bytes([osn[0], osn[1]]);
            return self
                .streams
                .get_mut(&media)
                .is_some_and(|seen| seen.came(original));
        }
        if let Some(seen) = self.streams.get_mut(&ssrc) {
            seen.came(packet.header.sequence_number);
        }
        false
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RepairFilter {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &msg.message.packet
            && self.is_duplicate(packet)
        {
            self.dropped += 1;
            return Ok(());
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for RepairFilter {
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.streams.insert(info.ssrc, Seen::new());
            self.repaired_by.insert(rtx, info.ssrc);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
        if let Some(rtx) = info.ssrc_rtx {
            self.repaired_by.remove(&rtx);
        }
    }

    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::shared::TransportContext;

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
            filter.handle_read(packet).expect("read");
            while let Some(out) = filter.poll_read() {
                if let Packet::Rtp(p) = out.message.packet {
                    passed.push((p.header.ssrc, p.header.sequence_number));
                }
            }
        }
        assert_eq!(passed, vec![(7, 1), (7, 3), (8, 100), (8, 104), (7, 4)]);
        assert_eq!(filter.dropped, 3);
    }
}
