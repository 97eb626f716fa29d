//! Inbound keyframe requests (PLI, FIR) marked for the application: by
//! default inbound RTCP stops inside the interceptor chain, and the video
//! sender would never hear that a receiver lost its picture.

use super::watching::{PacketWatcher, Watching};
use rtc::interceptor::{Attribute, Packet, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

/// Application-ward of every other interceptor.
pub const SLOT: usize = 14_000;

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

pub struct KeyframeRequests;

impl PacketWatcher for KeyframeRequests {
    fn on_read(&mut self, packet: &mut TaggedPacket) -> bool {
        if let Packet::Rtcp(packets) = &packet.message.packet
            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        {
            packet.message.add(Attribute::DeliverToApplication);
        }
        true
    }
}

pub fn keyframe_requests() -> Watching<KeyframeRequests> {
    Watching::new(KeyframeRequests)
}
