//! The call: signalling, the peer connection, its state machine and the
//! tasks that move media and data.
//!
//! Who offers: the peer that joins second (it sees someone in the welcome's
//! participant list) sends the offer; the first waits. Both add their audio
//! and video tracks before negotiating, so one offer/answer carries
//! everything; the offerer creates the data channels.

use crate::codecs;
use crate::media_io::{self, Counters};
use crate::signalling::{self, SignalError};
use crate::stats::CallStats;
use kh_media::VideoCodec;
use kh_signal_protocol::{ClientMessage, ServerMessage};
use parking_lot::Mutex;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, RTCStatsReport,
    SettingEngineBuilder,
};

/// What to send as video.
#[derive(Debug, Clone)]
pub enum VideoSource {
    /// The moving, stamped test pattern.
    TestPattern { width: u32, height: u32 },
    /// A video file (Y4M, or any container and codec FFmpeg reads), looped.
    File(PathBuf),
    /// The workstation's camera (`default`, a `/dev/video*` path or a
    /// camera's name), opened at the mode nearest this size and the call's
    /// rate.
    Camera {
        device: String,
        width: u32,
        height: u32,
    },
    /// A recorded stream (IVF: VP8, VP9 or AV1), sent as it was coded at
    /// its own frame rate and looped: no encoder, so no adaptation to the
    /// estimate and no keyframe on request. For measuring transport at
    /// rates (8K) this machine cannot encode in real time.
    Recording(PathBuf),
    /// No video of our own.
    None,
}

/// Where received video goes when this process should not decode it: each
/// compressed frame as it was assembled (the console hands them to the
/// viewer process, which decodes and draws them).
#[derive(Clone)]
pub struct VideoForward(pub Arc<ForwardFrame>);

/// Takes one compressed frame and its codec.
pub type ForwardFrame = dyn Fn(VideoCodec, &[u8]) + Send + Sync;

impl std::fmt::Debug for VideoForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoForward")
    }
}

#[derive(Debug, Clone)]
pub struct CallOptions {
    /// `ws://` or `wss://` URL of the signalling server's `/ws`.
    pub server: String,
    pub token: String,
    /// Shown to the room (never logged by the server).
    pub name: String,
    pub video: VideoSource,
    /// Sensor-like noise on the test pattern, ± luma levels (0: clean).
    pub pattern_grain: u8,
    /// What we send; also what we ask the other side to send first.
    pub codec: VideoCodec,
    pub fps: u32,
    /// Where the bandwidth estimate (and the encoder) start, kbit/s.
    pub bitrate_kbps: u32,
    /// What the sender never exceeds, however high the estimate, kbit/s.
    pub max_bitrate_kbps: u32,
    /// GCC + TWCC + our paced sender driving the encoder, and UDP buffers
    /// sized for bursts (off: the encoder holds `bitrate_kbps` and
    /// webrtc-rs's defaults apply — no pacer, its NACK responder, the
    /// kernel's default socket buffers — for comparison).
    pub congestion_control: bool,
    /// A test tone to send, in Hz (none: silence), when no microphone is.
    pub tone_hz: Option<f64>,
    /// Capture from this audio device (`default` or a name `kh_devices`
    /// lists) instead of the tone.
    pub audio_in: Option<String>,
    /// Play what is heard on this audio device.
    pub audio_out: Option<String>,
    /// Cancel the speakers' echo in the microphone (when both are used).
    pub echo_cancellation: bool,
    /// Send back what arrives (video and audio) instead of our own.
    pub echo: bool,
    /// Write received frames as Y4M files here.
    pub record_dir: Option<PathBuf>,
    /// Local UDP addresses to gather host candidates on.
    pub udp_addrs: Vec<String>,
    /// Only relay (TURN) candidates: proves the relay path.
    pub relay_only: bool,
    /// Fill the `bulk` channel as fast as it drains (throughput tests).
    pub bulk_send: bool,
    /// Hand received video on compressed instead of decoding it here.
    pub forward_video: Option<VideoForward>,
    /// Use the platform's hardware encoder and decoder where it has them
    /// (FFmpeg's NVENC/NVDEC, VideoToolbox, Media Foundation), software
    /// otherwise.
    pub hardware_codecs: bool,
    /// How long ICE stays "disconnected" (no answer to its checks for 5 s)
    /// before it declares the path failed and the call restarts ICE.
    pub ice_failed_after: Duration,
}

impl CallOptions {
    pub fn new(server: &str, token: &str) -> CallOptions {
        CallOptions {
            server: server.to_owned(),
            token: token.to_owned(),
            name: "kh call".to_owned(),
            video: VideoSource::TestPattern {
                width: 640,
                height: 360,
            },
            pattern_grain: 0,
            codec: VideoCodec::Vp8,
            fps: 30,
            bitrate_kbps: 1500,
            max_bitrate_kbps: 100_000,
            congestion_control: true,
            tone_hz: Some(440.0),
            audio_in: None,
            audio_out: None,
            echo_cancellation: true,
            echo: false,
            record_dir: None,
            udp_addrs: vec!["0.0.0.0:0".to_owned()],
            relay_only: false,
            bulk_send: false,
            forward_video: None,
            ice_failed_after: ICE_FAILED_AFTER,
            hardware_codecs: true,
        }
    }
}

/// The call's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// In the room, no one to call yet.
    Waiting,
    /// Negotiating and checking connectivity.
    Connecting,
    Connected,
    /// The path broke; ICE is trying to restore it.
    Reconnecting,
    Failed,
    Closed,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::Failed => "failed",
            CallState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone)]
pub enum CallEvent {
    State(CallState),
    PeerJoined {
        peer_id: String,
        name: String,
    },
    PeerLeft {
        peer_id: String,
    },
    /// A message on the `control` channel that the engine does not handle
    /// itself.
    Control(String),
    Chat {
        from: String,
        text: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error("WebRTC: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("webrtc-rs was built without an async runtime")]
    NoRuntime,
    #[error("the data channel is not open (yet)")]
    NotOpen,
    #[error(transparent)]
    Device(#[from] kh_devices::DeviceError),
    #[error(transparent)]
    Echo(kh_devices::echo::EchoError),
    #[error("video source: {0}")]
    Source(String),
}

/// State shared by the engine's tasks and the WebRTC event handler.
pub(crate) struct Shared {
    pub started: Instant,
    pub counters: Mutex<Counters>,
    pub events: mpsc::UnboundedSender<CallEvent>,
    pub outbox: mpsc::UnboundedSender<ClientMessage>,
    pub remote: Mutex<Option<String>>,
    /// A watch, so tasks can wait for a state instead of polling.
    pub state: tokio::sync::watch::Sender<CallState>,
    pub control: Mutex<Option<Arc<dyn DataChannel>>>,
    pub pointer: Mutex<Option<Arc<dyn DataChannel>>>,
    pub bulk: Mutex<Option<Arc<dyn DataChannel>>>,
    pub options: CallOptions,
    /// Set by the video sender's RTCP reader, taken by the encoder.
    pub keyframe_wanted: std::sync::atomic::AtomicBool,
    /// What the remote description settled: payload types out and in.
    pub session_codecs: Mutex<codecs::SessionCodecs>,
    /// The workstation's microphone and speakers, when the call uses them.
    pub microphone: Option<kh_devices::Microphone>,
    pub speaker: Option<kh_devices::Speaker>,
    /// Removes the speakers' sound from the microphone's, when both are used.
    pub echo_canceller: Option<Mutex<kh_devices::echo::EchoCanceller>>,
    /// Muted: the microphone is still drained (so nothing stale is sent
    /// on unmute) but silence goes out.
    pub microphone_muted: std::sync::atomic::AtomicBool,
    /// Camera off: black frames go out (the stream stays negotiated, as a
    /// browser's disabled track does), so turning it on needs no
    /// renegotiation.
    pub camera_off: std::sync::atomic::AtomicBool,
    /// Ask the far end for a keyframe: whoever shows our forwarded video
    /// lost a frame, or the path came back after breaking.
    pub keyframe_for_forward: std::sync::atomic::AtomicBool,
    /// The latest decoded remote picture and PCM, for `echo`.
    pub echo_video: Mutex<Option<kh_media::VideoFrame>>,
    pub echo_audio: Mutex<std::collections::VecDeque<i16>>,
    /// The bandwidth estimate, when congestion control is on.
    pub estimate: Option<Arc<crate::congestion::EstimateCell>>,
    /// The UDP receive buffer the kernel granted.
    pub udp_receive_buffer: Arc<std::sync::atomic::AtomicUsize>,
    /// ICE declared the path failed: the negotiator restarts it.
    pub ice_failed: tokio::sync::Notify,
    /// The call was connected once: a later connecting is a reconnection.
    pub was_connected: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub fn set_state(&self, state: CallState) {
        let mut previous = state;
        if !self.state.send_if_modified(|current| {
            previous = *current;
            *current = state;
            previous != state
        }) {
            return;
        }
        tracing::info!(state = state.as_str(), "call state");
        if state == CallState::Connected {
            self.was_connected
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let mut c = self.counters.lock();
            if c.stats.connected_after_ms.is_none() {
                c.stats.connected_after_ms = Some(self.started.elapsed().as_secs_f64() * 1e3);
            }
            if previous == CallState::Reconnecting {
                // Back from a broken path: whatever was in flight is lost,
                // so each side starts the other from a keyframe at once
                // rather than waiting for its frame buffer to give up.
                c.stats.recoveries += 1;
                self.keyframe_wanted
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self.keyframe_for_forward
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _ = self.events.send(CallEvent::State(state));
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }
}

struct Handler {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else {
            return;
        };
        tracing::debug!(candidate = %init.candidate, "local candidate");
        let Some(to) = self.shared.remote.lock().clone() else {
            return;
        };
        let _ = self.shared.outbox.send(ClientMessage::Candidate {
            to,
            candidate: init.candidate,
            sdp_mid: init.sdp_mid,
            sdp_mline_index: init.sdp_mline_index,
        });
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let was_connected = self
            .shared
            .was_connected
            .load(std::sync::atomic::Ordering::Relaxed);
        let ours = match state {
            RTCPeerConnectionState::Connected => CallState::Connected,
            RTCPeerConnectionState::Disconnected => CallState::Reconnecting,
            // A path that failed after the call was up is restarted (the
            // negotiator gives up, and says so, only after a while).
            RTCPeerConnectionState::Failed if was_connected => {
                self.shared.ice_failed.notify_one();
                CallState::Reconnecting
            }
            RTCPeerConnectionState::Failed => CallState::Failed,
            RTCPeerConnectionState::Closed => CallState::Closed,
            // An ICE restart's checks, after the call was up.
            RTCPeerConnectionState::New | RTCPeerConnectionState::Connecting if was_connected => {
                CallState::Reconnecting
            }
            RTCPeerConnectionState::New | RTCPeerConnectionState::Connecting => {
                CallState::Connecting
            }
            _ => return,
        };
        self.shared.set_state(ours);
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        media_io::adopt_data_channel(self.shared.clone(), channel).await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        media_io::receive_track(self.shared.clone(), track);
    }
}

/// A running call.
pub struct Call {
    shared: Arc<Shared>,
    pc: Arc<dyn PeerConnection>,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    signalling: tokio::task::JoinHandle<()>,
    room: String,
    last_transport: Mutex<Option<(Instant, u64, u64)>>,
}

impl Call {
    /// Join the room and start calling whoever is, or comes, there.
    pub async fn start(options: CallOptions) -> Result<Call, CallError> {
        let started = Instant::now();
        // Devices first: a missing microphone is an error before anyone is
        // called, not a silent call.
        let microphone = options
            .audio_in
            .as_deref()
            .map(kh_devices::Microphone::open)
            .transpose()?;
        let speaker = options
            .audio_out
            .as_deref()
            .map(kh_devices::Speaker::open)
            .transpose()?;
        let echo_canceller = match (&microphone, &speaker) {
            (Some(_), Some(_)) if options.echo_cancellation => Some(Mutex::new(
                kh_devices::echo::EchoCanceller::new().map_err(CallError::Echo)?,
            )),
            _ => None,
        };
        // A recording is sent in its own codec.
        let mut options = options;
        if let VideoSource::Recording(path) = &options.video {
            options.codec = media_io::recording_codec(path).map_err(CallError::Source)?;
        }
        let connection = signalling::join(&options.server, &options.token, &options.name).await?;
        let welcome = connection.welcome.clone();
        tracing::info!(room = %welcome.room, peer = %welcome.peer_id, "joined");
        let (events_tx, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            started,
            counters: Mutex::new(Counters::default()),
            events: events_tx,
            outbox: connection.outbox.clone(),
            remote: Mutex::new(None),
            state: tokio::sync::watch::Sender::new(CallState::Waiting),
            control: Mutex::new(None),
            pointer: Mutex::new(None),
            bulk: Mutex::new(None),
            options: options.clone(),
            keyframe_wanted: std::sync::atomic::AtomicBool::new(true),
            session_codecs: Mutex::new(Default::default()),
            microphone,
            speaker,
            echo_canceller,
            microphone_muted: std::sync::atomic::AtomicBool::new(false),
            camera_off: std::sync::atomic::AtomicBool::new(false),
            keyframe_for_forward: std::sync::atomic::AtomicBool::new(false),
            echo_video: Mutex::new(None),
            echo_audio: Mutex::new(Default::default()),
            estimate: options.congestion_control.then(|| {
                Arc::new(crate::congestion::EstimateCell::starting_at(
                    f64::from(options.bitrate_kbps) * 1e3,
                ))
            }),
            udp_receive_buffer: Default::default(),
            ice_failed: tokio::sync::Notify::new(),
            was_connected: std::sync::atomic::AtomicBool::new(false),
        });
        let pc = build_peer_connection(&shared, &welcome.ice_servers).await?;
        media_io::start_senders(shared.clone(), &pc).await?;
        let _ = shared.events.send(CallEvent::State(CallState::Waiting));

        let first = welcome.participants.first().cloned();
        let negotiator = Negotiator {
            shared: shared.clone(),
            pc: pc.clone(),
            pending: Vec::new(),
            have_remote: false,
            offerer: first.is_some(),
            restart: None,
        };
        let signalling = tokio::spawn(negotiator.run(connection.inbox, first));
        Ok(Call {
            shared,
            pc,
            events,
            signalling,
            room: welcome.room.clone(),
            last_transport: Mutex::new(None),
        })
    }

    /// The room the token admitted us to.
    pub fn room(&self) -> &str {
        &self.room
    }

    pub fn state(&self) -> CallState {
        *self.shared.state.borrow()
    }

    /// Send a message on the reliable `control` channel.
    pub async fn send_control(&self, text: &str) -> Result<(), CallError> {
        media_io::send_on(&self.shared.control, text).await?;
        self.shared.counters.lock().stats.data.control_sent += 1;
        Ok(())
    }

    /// Send a pointer position (fractions of the shared view) on the
    /// unreliable `pointer` channel.
    pub async fn send_pointer(&self, x: f64, y: f64, seq: u64) -> Result<(), CallError> {
        let text = format!(r#"{{"x":{x:.5},"y":{y:.5},"seq":{seq}}}"#);
        media_io::send_on(&self.shared.pointer, &text).await?;
        self.shared.counters.lock().stats.data.pointer_sent += 1;
        Ok(())
    }

    /// Ping the far end over `control`; the answer's round trip goes into
    /// the stats.
    pub async fn ping(&self) -> Result<(), CallError> {
        let text = format!(r#"{{"type":"ping","t":{:.3}}}"#, self.shared.elapsed_ms());
        self.send_control(&text).await
    }

    /// Mute or unmute what we send as audio (microphone or tone).
    pub fn set_microphone_muted(&self, muted: bool) {
        self.shared
            .microphone_muted
            .store(muted, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(muted, "microphone");
    }

    /// Turn our video off (black frames) or on again.
    pub fn set_camera_off(&self, off: bool) {
        self.shared
            .camera_off
            .store(off, std::sync::atomic::Ordering::Relaxed);
        // The far side's decoder shows the change at the next keyframe.
        self.shared
            .keyframe_wanted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(off, "camera");
    }

    /// Ask the far end for a keyframe (the viewer showing forwarded video
    /// lost one).
    pub fn request_keyframe(&self) {
        self.shared
            .keyframe_for_forward
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether both data channels are open.
    pub fn data_ready(&self) -> bool {
        self.shared.control.lock().is_some() && self.shared.pointer.lock().is_some()
    }

    /// Everything measured so far, with fresh transport figures.
    pub async fn stats(&self) -> CallStats {
        let report = self
            .pc
            .get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None)
            .await;
        self.stats_with(report, self.state()).await
    }

    /// The statistics from the counters as they are now and a transport
    /// `report` taken earlier.
    async fn stats_with(&self, report: RTCStatsReport, state: CallState) -> CallStats {
        let raw = self.shared.counters.lock().snapshot();
        // The spectrum is work for a blocking thread, not for the runtime.
        let mut stats = tokio::task::spawn_blocking(move || raw.compute())
            .await
            .unwrap_or_default();
        stats.state = state.as_str().to_owned();
        stats.peak_memory_mib = crate::stats::peak_memory_mib();
        media_io::fill_transport(&mut stats.transport, &report);
        self.fill_congestion(&mut stats.congestion);
        let now = Instant::now();
        let mut last = self.last_transport.lock();
        // Over the interval since the last call, or since connecting.
        let since = (*last).or_else(|| {
            stats.connected_after_ms.map(|ms| {
                (
                    self.shared.started + Duration::from_secs_f64(ms / 1e3),
                    0,
                    0,
                )
            })
        });
        if let Some((at, sent, received)) = since {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                stats.transport.bitrate_out_kbps =
                    (stats.transport.bytes_sent.saturating_sub(sent)) as f64 * 8.0 / secs / 1e3;
                stats.transport.bitrate_in_kbps =
                    (stats.transport.bytes_received.saturating_sub(received)) as f64 * 8.0
                        / secs
                        / 1e3;
            }
        }
        *last = Some((
            now,
            stats.transport.bytes_sent,
            stats.transport.bytes_received,
        ));
        stats
    }

    fn fill_congestion(&self, out: &mut crate::stats::CongestionStats) {
        let granted = self
            .shared
            .udp_receive_buffer
            .load(std::sync::atomic::Ordering::Relaxed);
        out.udp_receive_buffer_bytes = (granted > 0).then_some(granted as u64);
        let Some(cell) = &self.shared.estimate else {
            return;
        };
        let estimate = cell.get();
        out.enabled = true;
        out.estimate_kbps = Some(estimate.target_bps / 1e3);
        out.delay_based_kbps = estimate.delay_based_bps.map(|b| b / 1e3);
        out.loss_based_kbps = estimate.loss_based_bps.map(|b| b / 1e3);
        out.loss_percent = estimate.loss.map(|l| l * 100.0);
        out.feedback_reports = estimate.reports;
        let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        out.pacer_dropped = load(&cell.sender.stale_dropped);
        out.repairs_sent = load(&cell.sender.repairs_sent);
        out.repairs_in_flight = load(&cell.sender.repairs_in_flight);
        out.repairs_refused = load(&cell.sender.repairs_refused);
        out.repairs_on_rtx = load(&cell.sender.rtx_streams) > 0;
        out.probes = estimate.probes;
        out.padding_sent = load(&cell.sender.padding_sent);
        out.feedback_rtt_ms = estimate.rtt.map(|rtt| rtt.as_secs_f64() * 1e3);
    }

    /// Leave the room and close the connection.
    pub async fn hang_up(self) -> CallStats {
        // The transport's figures while it is open; the counters once
        // everything has stopped, so what they say was sent is all that
        // was (a bulk transfer runs until the connection closes).
        let report = self
            .pc
            .get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None)
            .await;
        let state = self.state();
        self.signalling.abort();
        let _ = self.shared.outbox.send(ClientMessage::Leave);
        let _ = self.pc.close().await;
        self.shared.counters.lock().finish_recording();
        self.shared.set_state(CallState::Closed);
        self.stats_with(report, state).await
    }
}

/// Unacknowledged bytes a data channel may hold before `send` waits: four
/// times the 1 MiB SCTP receive window of a browser peer, so the window
/// stays full.
const DATA_CHANNEL_SEND_BUFFER: usize = 4 << 20;

async fn build_peer_connection(
    shared: &Arc<Shared>,
    ice: &[kh_signal_protocol::IceServer],
) -> Result<Arc<dyn PeerConnection>, CallError> {
    let mut media = MediaEngine::default();
    for codec in codecs::video_preferences(shared.options.codec) {
        media.register_codec(codec, RtpCodecKind::Video)?;
    }
    media.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    let congestion = shared.estimate.clone().map(|cell| {
        (
            f64::from(shared.options.bitrate_kbps) * 1e3,
            f64::from(shared.options.max_bitrate_kbps) * 1e3,
            cell,
        )
    });
    let registry = crate::congestion::interceptors(&mut media, congestion)?;
    // Keyframe requests (PLI/FIR) reach the video sender through this.
    let registry = registry.with(Slot::from(14_000), media_io::KeyframeRequests::default());
    let ice_servers = ice
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
    if shared.options.relay_only {
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
        .with_ice_timeouts(None, Some(shared.options.ice_failed_after), None)
        // An ICE restart binds its sockets and gathers candidates afresh:
        // after a network change the old ones name addresses that are gone
        // and miss the new interface.
        .with_discard_local_candidates_during_ice_restart(true)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
    if shared.options.relay_only {
        // Relays are all there is: waiting 2 s for something better (the
        // webrtc-rs default) only delays the call.
        settings = settings.with_relay_acceptance_min_wait(Some(Duration::ZERO));
    }
    let settings = settings.build();
    let runtime = webrtc::runtime::default_runtime().ok_or(CallError::NoRuntime)?;
    let runtime: Arc<dyn webrtc::runtime::Runtime> = if shared.options.congestion_control {
        Arc::new(crate::udp_buffers::LargeBuffers::new(
            runtime,
            shared.udp_receive_buffer.clone(),
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
        .with_handler(Arc::new(Handler {
            shared: shared.clone(),
        }))
        .with_udp_addrs(shared.options.udp_addrs.clone())
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// Reads the signalling connection and drives offer/answer.
struct Negotiator {
    shared: Arc<Shared>,
    pc: Arc<dyn PeerConnection>,
    /// Candidates that came before the remote description.
    pending: Vec<RTCIceCandidateInit>,
    have_remote: bool,
    /// We made the call's offer: ICE restarts are ours to offer (the other
    /// side asks for one with `ice_restart`).
    offerer: bool,
    /// Restarting ICE after a failure: attempts so far, the next one, and
    /// since when.
    restart: Option<Restart>,
}

/// ICE restarts after the path failed, with backoff.
#[derive(Debug, Clone, Copy)]
struct Restart {
    attempts: u32,
    next: tokio::time::Instant,
    since: tokio::time::Instant,
}

/// Between ICE restart attempts: doubling from the first, at most the last.
pub const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(16));
/// Restarts stop, and the call is failed, after this long without a path.
pub const RESTART_GIVE_UP: Duration = Duration::from_secs(180);
/// ICE's "failed" this long after "disconnected" (webrtc-rs: 25 s; a
/// restart is the better repair, so it comes sooner).
pub const ICE_FAILED_AFTER: Duration = Duration::from_secs(10);

impl Restart {
    fn backoff(attempts: u32) -> Duration {
        let (first, most) = RESTART_BACKOFF;
        first
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(most)
    }
}

impl Negotiator {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<ServerMessage>,
        first: Option<kh_signal_protocol::Participant>,
    ) {
        if let Some(peer) = first {
            let _ = self.shared.events.send(CallEvent::PeerJoined {
                peer_id: peer.peer_id.clone(),
                name: peer.name.clone(),
            });
            if let Err(e) = self.offer(&peer.peer_id, false).await {
                tracing::error!("making the offer: {e}");
                self.shared.set_state(CallState::Failed);
            }
        }
        let mut state = self.shared.state.subscribe();
        let mut addresses = local_addresses();
        let mut look = tokio::time::interval(NETWORK_CHECK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next_restart = self.restart.map(|r| r.next);
            tokio::select! {
                message = inbox.recv() => {
                    let Some(message) = message else { break };
                    if let Err(e) = self.handle(message).await {
                        tracing::warn!("signalling: {e}");
                    }
                }
                () = self.shared.ice_failed.notified() => {
                    if self.restart.is_none() {
                        tracing::warn!("the path failed: restarting ICE");
                        let now = tokio::time::Instant::now();
                        self.restart = Some(Restart { attempts: 0, next: now, since: now });
                    }
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    if *state.borrow_and_update() == CallState::Connected {
                        self.restart = None;
                    }
                }
                () = sleep_until(next_restart) => self.restart_ice().await,
                _ = look.tick() => {
                    let now = local_addresses();
                    if now != addresses {
                        // A network change (a new interface, an address
                        // gone): the path in use may be dead or a better
                        // one may exist, and ICE would take seconds to
                        // notice. Restart now, on the new addresses.
                        tracing::warn!(before = ?addresses, after = ?now, "the network changed: restarting ICE");
                        addresses = now;
                        if self.shared.was_connected.load(std::sync::atomic::Ordering::Relaxed) {
                            let at = tokio::time::Instant::now();
                            let since = self.restart.map_or(at, |r| r.since);
                            self.restart = Some(Restart { attempts: 0, next: at, since });
                        }
                    }
                }
            }
        }
        tracing::info!("signalling ended");
    }

    /// One ICE restart attempt, and when the next is due.
    async fn restart_ice(&mut self) {
        let Some(mut restart) = self.restart else {
            return;
        };
        let now = tokio::time::Instant::now();
        // An offer still waiting for its answer (the signalling path is as
        // slow as the media's) is not replaced: its answer would then
        // apply to the wrong one.
        let waiting = self.pc.pending_local_description().await.is_some();
        if restart.attempts > 0 && !waiting && *self.shared.state.borrow() == CallState::Connected {
            // Restarted and connected (a restart after a network change
            // may never have left "connected").
            self.restart = None;
            return;
        }
        if now.duration_since(restart.since) > RESTART_GIVE_UP {
            tracing::error!("no path for {RESTART_GIVE_UP:?}: the call has failed");
            self.restart = None;
            self.shared.set_state(CallState::Failed);
            return;
        }
        let Some(remote) = self.shared.remote.lock().clone() else {
            self.restart = None;
            return;
        };
        if !waiting {
            restart.attempts += 1;
            self.shared.counters.lock().stats.ice_restarts += 1;
            let asked = if self.offerer {
                self.offer(&remote, true).await
            } else {
                self.shared
                    .outbox
                    .send(ClientMessage::IceRestart { to: remote })
                    .map_err(|_| CallError::Signal(SignalError::Closed(String::new())))
            };
            if let Err(e) = asked {
                tracing::warn!("restarting ICE: {e}");
            }
        }
        restart.next = now + Restart::backoff(restart.attempts.max(1));
        self.restart = Some(restart);
    }

    async fn offer(&mut self, to: &str, ice_restart: bool) -> Result<(), CallError> {
        *self.shared.remote.lock() = Some(to.to_owned());
        if !ice_restart {
            self.shared.set_state(CallState::Connecting);
            media_io::create_data_channels(&self.shared, &self.pc).await?;
        } else {
            self.pc.restart_ice().await?;
        }
        let offer = self.pc.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.pc.set_local_description(offer).await?;
        let _ = self.shared.outbox.send(ClientMessage::Offer {
            to: to.to_owned(),
            sdp,
            ice_restart,
        });
        Ok(())
    }

    /// Whether `from` may negotiate with us: anyone until the call has a
    /// remote peer, then only that peer. Another participant's offer would
    /// otherwise be applied to the running call and take it over.
    fn speaks_for_our_call(&self, from: &str, what: &str) -> bool {
        let remote = self.shared.remote.lock();
        match remote.as_deref() {
            Some(current) if current != from => {
                // Peer ids are random room-local handles, not identities.
                tracing::warn!(from, current, "ignoring {what}: already in a call");
                false
            }
            _ => true,
        }
    }

    async fn handle(&mut self, message: ServerMessage) -> Result<(), CallError> {
        match message {
            ServerMessage::Offer { ref from, .. }
                if !self.speaks_for_our_call(from, "an offer") => {}
            ServerMessage::Answer { ref from, .. }
                if !self.speaks_for_our_call(from, "an answer") => {}
            ServerMessage::Candidate { ref from, .. }
                if !self.speaks_for_our_call(from, "a candidate") => {}
            ServerMessage::IceRestart { ref from }
                if !self.speaks_for_our_call(from, "an ICE restart") => {}
            ServerMessage::PeerJoined { participant } => {
                let _ = self.shared.events.send(CallEvent::PeerJoined {
                    peer_id: participant.peer_id,
                    name: participant.name,
                });
            }
            ServerMessage::PeerLeft { peer_id } => {
                if self.shared.remote.lock().as_deref() == Some(peer_id.as_str()) {
                    self.shared.set_state(CallState::Closed);
                }
                let _ = self.shared.events.send(CallEvent::PeerLeft { peer_id });
            }
            ServerMessage::Offer {
                from,
                sdp,
                ice_restart,
            } => {
                *self.shared.remote.lock() = Some(from.clone());
                if !ice_restart {
                    self.shared.set_state(CallState::Connecting);
                }
                self.pc
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                self.remote_description_set().await;
                let answer = self.pc.create_answer(None).await?;
                let sdp = answer.sdp.clone();
                self.pc.set_local_description(answer).await?;
                let _ = self
                    .shared
                    .outbox
                    .send(ClientMessage::Answer { to: from, sdp });
            }
            ServerMessage::Answer { sdp, .. } => {
                self.pc
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
                self.remote_description_set().await;
            }
            ServerMessage::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                ..
            } => {
                if candidate.is_empty() {
                    return Ok(());
                }
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..Default::default()
                };
                if self.have_remote {
                    self.pc.add_ice_candidate(init).await?;
                } else {
                    self.pending.push(init);
                }
            }
            ServerMessage::IceRestart { from } => {
                // One restart at a time: an offer still waiting for its
                // answer already restarts ICE.
                if self.pc.pending_local_description().await.is_none() {
                    self.shared.counters.lock().stats.ice_restarts += 1;
                    self.offer(&from, true).await?;
                }
            }
            ServerMessage::Chat { from, text, .. } => {
                let _ = self.shared.events.send(CallEvent::Chat { from, text });
            }
            ServerMessage::Error { code, message } => {
                tracing::warn!(?code, "signalling server: {message}");
                if code.is_fatal() {
                    self.shared.set_state(CallState::Failed);
                }
            }
            ServerMessage::Welcome { .. } | ServerMessage::Pong { .. } => {}
        }
        Ok(())
    }

    async fn remote_description_set(&mut self) {
        self.have_remote = true;
        // The payload types our senders use, and which codec each incoming
        // one carries (a peer may switch codecs in the middle of a call).
        match self.pc.remote_description().await.map(|d| d.unmarshal()) {
            Some(Ok(sdp)) => {
                *self.shared.session_codecs.lock() =
                    codecs::SessionCodecs::read(&sdp, self.shared.options.codec);
            }
            Some(Err(e)) => tracing::warn!("the other side's session description: {e}"),
            None => {}
        }
        for init in std::mem::take(&mut self.pending) {
            if let Err(e) = self.pc.add_ice_candidate(init).await {
                tracing::warn!("a remote candidate: {e}");
            }
        }
    }
}

/// How often the local addresses are looked at for a network change.
pub const NETWORK_CHECK: Duration = Duration::from_secs(1);

/// This machine's addresses that a call could use (not loopback or
/// link-local), sorted.
fn local_addresses() -> std::collections::BTreeSet<std::net::IpAddr> {
    rtc::shared::ifaces::ifaces()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|interface| interface.addr.map(|addr| addr.ip()))
        .filter(|ip| match ip {
            std::net::IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
            std::net::IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local(),
        })
        .collect()
}

/// Sleep until `at`, or forever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How long `kh call` and tests wait for a state before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
