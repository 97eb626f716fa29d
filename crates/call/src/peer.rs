//! The peer connection as this engine builds it: codecs, the interceptor
//! chain, ICE settings, the UDP runtime — and an event handler that only
//! forwards what happens to the session, which owns the call's state.

use crate::codecs;
use crate::congestion::EstimateCell;
use crate::interceptors::paced_sender::SenderCounters;
use crate::options::CallOptions;
use crate::session::PeerEvent;
use crate::state::CallError;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, SettingEngineBuilder,
};

/// Unacknowledged bytes a data channel may hold before `send` waits: four
/// times the 1 MiB SCTP receive window of a browser peer, so the window
/// stays full.
const DATA_CHANNEL_SEND_BUFFER: usize = 4 << 20;

/// The Opus format both sides use.
pub(crate) fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Forwards the peer connection's events to the session.
struct Forwarder {
    to: mpsc::UnboundedSender<PeerEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forwarder {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.to.send(PeerEvent::LocalCandidate(init));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.to.send(PeerEvent::ConnectionState(state));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.to.send(PeerEvent::DataChannel(channel));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.to.send(PeerEvent::Track(track));
    }
}

/// The peer connection; its events go to `events`. `estimate` is where
/// congestion control publishes (none: the library's defaults), and
/// `udp_receive_buffer` learns what the kernel granted.
pub(crate) async fn connect(
    options: &CallOptions,
    ice: &[kh_signal_protocol::IceServer],
    estimate: Option<(Arc<EstimateCell>, Arc<SenderCounters>)>,
    udp_receive_buffer: Arc<AtomicUsize>,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> Result<Arc<dyn PeerConnection>, CallError> {
    let mut media = MediaEngine::default();
    for codec in codecs::video_preferences(options.codec) {
        media.register_codec(codec, RtpCodecKind::Video)?;
    }
    media.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    let congestion = estimate.map(|(cell, counters)| {
        (
            f64::from(options.bitrate_kbps) * 1e3,
            f64::from(options.max_bitrate_kbps) * 1e3,
            cell,
            counters,
        )
    });
    let registry = crate::congestion::interceptors(&mut media, congestion)?;
    // Keyframe requests (PLI/FIR) reach the video sender through this.
    let registry = registry.with(
        Slot::from(crate::interceptors::keyframe_requests::SLOT),
        crate::interceptors::keyframe_requests::keyframe_requests(),
    );
    let ice_servers = ice_servers(ice, &options.site_ice_urls);
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
    if options.relay_only {
        config = config.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }
    // ICE pacing as RFC 8445 suggests (Ta = 50 ms, not webrtc-rs's 200 ms)
    // with as many tries as before (~1.4 s per pair), and peer-reflexive
    // pairs accepted at once: with trickled candidates the first check
    // often arrives before the candidate it comes from, and webrtc-rs's
    // default waits a second before nominating such a pair. An 8 MiB SCTP
    // receive window (1 MiB by default) keeps a bulk transfer from being
    // window-bound on a long link: 100 Mbit/s over a 300 ms satellite
    // round trip is 3.75 MB in flight.
    let mut settings = SettingEngineBuilder::default()
        .with_ice_connection_attempts(Some(Duration::from_millis(50)), Some(28))
        .with_sctp_max_receive_buffer_size(8 << 20)
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        // webrtc-rs retransmits a NACKed packet under its own SSRC and
        // sequence number (no RTX stream), so SRTP's replay window decides
        // how old a retransmission may be: at the default 64 packets, a
        // repair more than 64 packets late was dropped as a replay (at
        // 5 Mbit/s that is 150 ms; at 40, 20 ms), counted as loss by TWCC
        // and never completed its frame. 4096 matches what the NACK
        // responder keeps.
        .with_srtp_replay_protection_window(4096)
        .with_include_loopback_candidate(true)
        .with_ice_timeouts(None, Some(options.ice_failed_after), None)
        // An ICE restart binds its sockets and gathers candidates afresh:
        // after a network change the old ones name addresses that are gone
        // and miss the new interface.
        .with_discard_local_candidates_during_ice_restart(true)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
    if options.relay_only {
        // Relays are all there is: waiting 2 s for something better (the
        // webrtc-rs default) only delays the call.
        settings = settings.with_relay_acceptance_min_wait(Some(Duration::ZERO));
    }
    let settings = settings.build();
    let runtime = webrtc::runtime::default_runtime().ok_or(CallError::NoRuntime)?;
    let runtime: Arc<dyn webrtc::runtime::Runtime> = if options.congestion_control {
        Arc::new(crate::udp_buffers::LargeBuffers::new(
            runtime,
            udp_receive_buffer,
        ))
    } else {
        runtime
    };
    let pc = PeerConnectionBuilder::new()
        .with_runtime(runtime)
        .with_configuration(config.build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        // A channel's send waits once 4 MiB is unacknowledged: without a
        // limit webrtc-rs queues whatever is sent (the bulk test reached
        // 3.4 GB in 6 s) and a stalled peer grows our memory without bound.
        .with_data_channel_send_buffer_limit(DATA_CHANNEL_SEND_BUFFER)
        .with_handler(Arc::new(Forwarder { to: events }))
        .with_udp_addrs(options.udp_addrs.clone())
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// The ICE servers of a call: those the signalling server handed out
/// (TURN with this call's credentials), then the site's own. A site's
/// `stun:` server needs nothing; its `turn:`/`turns:` relays take the
/// credentials of the server's TURN entry (coturn's shared secret is the
/// site's), and are left out, with a log line, when there are none.
pub fn ice_servers(
    from_server: &[kh_signal_protocol::IceServer],
    site_urls: &[String],
) -> Vec<RTCIceServer> {
    let mut servers: Vec<RTCIceServer> = from_server
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    let credentials = from_server
        .iter()
        .find_map(|s| Some((s.username.clone()?, s.credential.clone()?)));
    for url in site_urls {
        let known = servers.iter().any(|s| s.urls.contains(url));
        if known {
            continue;
        }
        if url.starts_with("stun:") {
            servers.push(RTCIceServer {
                urls: vec![url.clone()],
                ..RTCIceServer::default()
            });
        } else if let Some((username, credential)) = &credentials {
            servers.push(RTCIceServer {
                urls: vec![url.clone()],
                username: username.clone(),
                credential: credential.clone(),
            });
        } else {
            tracing::warn!(
                "turn.urls: {url} left out: the signalling server gave no TURN credentials for this call"
            );
        }
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_signal_protocol::IceServer;

    #[test]
    fn the_sites_ice_urls_join_the_servers_with_its_turn_credentials() {
        let from_server = vec![
            IceServer {
                urls: vec!["stun:signal.example:3478".into()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: vec!["turn:relay.example:3478?transport=udp".into()],
                username: Some("1700000000:case-1".into()),
                credential: Some("hmac".into()),
            },
        ];
        let site = vec![
            "stun:stun.hospital.example:3478".to_owned(),
            "turns:relay2.hospital.example:5349".to_owned(),
            "stun:signal.example:3478".to_owned(),
        ];
        let servers = ice_servers(&from_server, &site);
        let urls: Vec<&str> = servers.iter().map(|s| s.urls[0].as_str()).collect();
        assert_eq!(
            urls,
            [
                "stun:signal.example:3478",
                "turn:relay.example:3478?transport=udp",
                "stun:stun.hospital.example:3478",
                "turns:relay2.hospital.example:5349",
            ]
        );
        assert_eq!(servers[3].username, "1700000000:case-1");
        assert_eq!(servers[3].credential, "hmac");
        assert!(servers[2].username.is_empty());
        // Without credentials from the server a site relay cannot be used.
        let servers = ice_servers(&from_server[..1], &site);
        assert_eq!(servers.len(), 2);
    }
}
