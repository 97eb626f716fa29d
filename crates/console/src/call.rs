//! The console's call: one at a time, in the room of a case (`case-<id>`),
//! on the hospital's signalling server from the settings. The call runs on
//! its own tokio runtime; the page sees it as a [`CallStatus`] snapshot,
//! sent whenever something changes (state, participants, mute, camera) and
//! once a second with the network quality from the call's statistics.

use crate::viewer_link::{ViewerLink, ViewerVideo};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kh_call::media::{
    AudioSink, AudioSource, CallMedia, Discard, Silence, VideoReceive, VideoSend,
};
use kh_call::{Call, CallEvent, CallOptions, CallState, CallStats};
use kh_cases::CaseId;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the quality indicator is refreshed.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The room a case's consultation happens in.
pub fn case_room(case: CaseId) -> String {
    format!("case-{case}")
}

/// The call's options from the settings: the server, the name shown to
/// the room, and the site's own STUN/TURN servers (`turn.urls`).
fn call_options(settings: &kh_settings::Settings, request: &JoinRequest) -> CallOptions {
    let mut options = CallOptions::new(settings.signalling.url.trim(), request.token.trim());
    options.name = if settings.user.display_name.is_empty() {
        "Kakehashi".to_owned()
    } else {
        settings.user.display_name.clone()
    };
    options.site_ice_urls = settings.turn.urls.clone();
    options.picture_limit = kh_media::PictureLimit::from_sides(
        settings.video.max_picture_width,
        settings.video.max_picture_height,
    );
    options
}

/// The call's pictures for the camera choice `camera` at `fps`, and what
/// the panel calls them: `default` is the first camera the machine has,
/// or the test pattern where it has none (a call should still show
/// something).
fn video_send(camera: &str, fps: u32) -> Result<(VideoSend, String), CallDeskError> {
    // 720p: what a consultation camera sends by default; the sender's
    // ladder steps it down on a thin link.
    let (width, height) = (1280, 720);
    let pattern =
        || VideoSend::Pictures(Box::new(kh_media::pattern::TestPattern::new(width, height)));
    let open = |path: &std::path::Path| {
        kh_devices::camera::LiveCamera::open(
            &path.display().to_string(),
            kh_devices::camera::CameraRequest { width, height, fps },
        )
        .map(|camera| VideoSend::Pictures(Box::new(camera)))
        .map_err(|e| CallDeskError::Camera(e.to_string()))
    };
    match camera.trim() {
        "none" => Ok((VideoSend::None, "none".into())),
        "test-pattern" => Ok((pattern(), "test-pattern".into())),
        "" | "default" => match kh_devices::camera::find("default") {
            Ok(found) => Ok((open(&found.path)?, found.name)),
            Err(_) => Ok((pattern(), "test-pattern (no camera)".into())),
        },
        named => {
            let found = kh_devices::camera::find(named)
                .map_err(|e| CallDeskError::Camera(e.to_string()))?;
            Ok((open(&found.path)?, found.name))
        }
    }
}

/// The call's audio edges: what it sends, where what it hears goes.
type AudioEdges = (Box<dyn AudioSource>, Box<dyn AudioSink>);

/// The microphone and speakers by name (`none`: silence, nothing played),
/// through the echo canceller when both are used and it is on.
fn audio(
    microphone: &str,
    speaker: &str,
    echo_cancellation: bool,
) -> Result<AudioEdges, CallDeskError> {
    let microphone = device(microphone)
        .map(|name| kh_devices::Microphone::open(&name))
        .transpose()
        .map_err(|e| CallDeskError::Audio(e.to_string()))?;
    let speaker = device(speaker)
        .map(|name| kh_devices::Speaker::open(&name))
        .transpose()
        .map_err(|e| CallDeskError::Audio(e.to_string()))?;
    Ok(match (microphone, speaker) {
        (Some(microphone), Some(speaker)) if echo_cancellation => {
            let (microphone, speaker) = kh_devices::edges::echo_cancelled(microphone, speaker)
                .map_err(|e| CallDeskError::Audio(e.to_string()))?;
            (Box::new(microphone), Box::new(speaker))
        }
        (microphone, speaker) => (
            microphone.map_or_else(
                || Box::new(Silence) as Box<dyn AudioSource>,
                |m| Box::new(m) as Box<dyn AudioSource>,
            ),
            speaker.map_or_else(
                || Box::new(Discard) as Box<dyn AudioSink>,
                |s| Box::new(s) as Box<dyn AudioSink>,
            ),
        ),
    })
}

/// What the page asks for when it joins.
#[derive(Clone, Debug, Deserialize)]
pub struct JoinRequest {
    pub case: CaseId,
    /// The room token from the hospital (issued for `case-<id>`).
    pub token: String,
    /// Audio devices by name (`default`, a listed name, or `none`); absent
    /// means the settings' choice.
    pub microphone: Option<String>,
    pub speaker: Option<String>,
    /// `default` (the first camera, else the test pattern), a camera's
    /// name or `/dev/video*` path, `test-pattern`, or `none`; absent means
    /// the settings' choice.
    pub camera: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityLevel {
    Good,
    Fair,
    Poor,
}

/// The network-quality indicator and the figures behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    pub level: QualityLevel,
    pub rtt_ms: Option<f64>,
    /// Packets lost over the last interval, in percent of those sent to us.
    pub loss_percent: f64,
    pub jitter_ms: Option<f64>,
    pub bitrate_in_kbps: f64,
    pub bitrate_out_kbps: f64,
    pub video_in_fps: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Participant {
    pub peer_id: String,
    pub name: String,
}

/// Everything the call panel shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallStatus {
    pub case: CaseId,
    pub room: String,
    /// joining, waiting, connecting, connected, reconnecting, failed, ended
    pub state: String,
    pub participants: Vec<Participant>,
    pub muted: bool,
    pub camera_on: bool,
    pub microphone: String,
    pub speaker: String,
    pub camera: String,
    /// Why the camera gives no pictures now (unplugged, failing): the far
    /// side sees black while it is looked for again.
    pub camera_problem: Option<String>,
    pub quality: Option<Quality>,
    /// Why the call ended or could not start, in words.
    pub problem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallDeskError {
    #[error("no signalling server is set (Settings → signalling.url)")]
    NoServer,
    #[error("the room token is not one (expected v1.<claims>.<signature>)")]
    BadToken,
    #[error("this token is for room {token_room}, not this case's room {case_room}")]
    WrongRoom {
        token_room: String,
        case_room: String,
    },
    #[error("a call is already running (room {0}): hang up first")]
    Busy(String),
    #[error("camera: {0}")]
    Camera(String),
    #[error("audio: {0}")]
    Audio(String),
    #[error("no call is running")]
    NoCall,
    #[error("the call's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("joining {room}: {reason}")]
    Join { room: String, reason: String },
}

/// The network quality from two consecutive statistics (`previous` for
/// the loss over the interval; without it, over the whole call). Thresholds
/// as video-meeting tools use them: interactive speech suffers beyond
/// ~150 ms of round trip or a few percent of loss.
pub fn quality_from_stats(stats: &CallStats, previous: Option<&CallStats>) -> Quality {
    let t = &stats.transport;
    let (lost, received) = match previous {
        Some(p) => (
            (t.packets_lost - p.transport.packets_lost).max(0) as f64,
            t.packets_received
                .saturating_sub(p.transport.packets_received) as f64,
        ),
        None => (t.packets_lost.max(0) as f64, t.packets_received as f64),
    };
    let loss_percent = if lost + received > 0.0 {
        100.0 * lost / (lost + received)
    } else {
        0.0
    };
    let rtt = t.rtt_ms.unwrap_or(0.0);
    let jitter = t.jitter_ms.unwrap_or(0.0);
    let level = if rtt > 400.0 || loss_percent > 8.0 || jitter > 100.0 {
        QualityLevel::Poor
    } else if rtt > 150.0 || loss_percent > 2.0 || jitter > 30.0 {
        QualityLevel::Fair
    } else {
        QualityLevel::Good
    };
    Quality {
        level,
        rtt_ms: t.rtt_ms,
        loss_percent,
        jitter_ms: t.jitter_ms,
        bitrate_in_kbps: t.bitrate_in_kbps,
        bitrate_out_kbps: t.bitrate_out_kbps,
        video_in_fps: stats.video_in.fps,
    }
}

/// The room a token was issued for, read without verifying it (the server
/// verifies): so a token for another case is refused before joining.
pub fn token_room(token: &str) -> Result<String, CallDeskError> {
    let mut parts = token.trim().split('.');
    let (Some("v1"), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CallDeskError::BadToken);
    };
    let json = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| CallDeskError::BadToken)?;
    #[derive(Deserialize)]
    struct Claims {
        room: String,
    }
    serde_json::from_slice::<Claims>(&json)
        .map(|c| c.room)
        .map_err(|_| CallDeskError::BadToken)
}

enum Command {
    Mute(bool),
    Camera(bool),
    Keyframe,
    HangUp,
}

struct RunningCall {
    commands: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<CallStatus>>,
    stats: Arc<Mutex<Option<CallStats>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Called with every new status snapshot (the app emits it to the page).
pub type StatusSink = Arc<dyn Fn(&CallStatus) + Send + Sync>;

pub struct CallDesk {
    runtime: tokio::runtime::Runtime,
    current: Mutex<Option<RunningCall>>,
    sink: StatusSink,
    /// Where a call's remote video goes: compressed, to the viewer process,
    /// which decodes and draws it.
    viewer: Option<ViewerLink>,
}

impl CallDesk {
    pub fn new(sink: StatusSink, viewer: Option<ViewerLink>) -> Result<CallDesk, CallDeskError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kh-console-call")
            .enable_all()
            .build()
            .map_err(CallDeskError::Runtime)?;
        Ok(CallDesk {
            runtime,
            current: Mutex::new(None),
            sink,
            viewer,
        })
    }

    /// Joins the case's room with the settings' server and the request's
    /// devices. Returns once joined (the peer connection follows).
    pub fn join(
        &self,
        request: &JoinRequest,
        settings: &kh_settings::Settings,
    ) -> Result<CallStatus, CallDeskError> {
        if settings.signalling.url.trim().is_empty() {
            return Err(CallDeskError::NoServer);
        }
        let room = case_room(request.case);
        let token_room = token_room(&request.token)?;
        if token_room != room {
            return Err(CallDeskError::WrongRoom {
                token_room,
                case_room: room,
            });
        }
        let chosen = |asked: &Option<String>, setting: &str| {
            asked.clone().unwrap_or_else(|| setting.to_owned())
        };
        let microphone = chosen(&request.microphone, &settings.devices.audio_in);
        let speaker = chosen(&request.speaker, &settings.devices.audio_out);
        let camera = chosen(&request.camera, &settings.devices.camera);
        let options = call_options(settings, request);
        self.refuse_if_busy()?;
        let (video_send, camera) = video_send(&camera, options.fps)?;
        let (audio_in, audio_out) =
            audio(&microphone, &speaker, settings.devices.echo_cancellation)?;
        let video_receive = match &self.viewer {
            Some(viewer) => VideoReceive::Forward(Box::new(ViewerVideo::new(viewer.clone()))),
            None => VideoReceive::Forward(Box::new(Discard)),
        };
        let media = CallMedia {
            video_send,
            video_receive,
            audio_in,
            audio_out,
            channels: Vec::new(),
        };
        let labels = Labels {
            microphone,
            speaker,
            camera,
        };
        self.join_with(request.case, options, media, labels)
    }

    /// A call already running that has not ended.
    fn refuse_if_busy(&self) -> Result<(), CallDeskError> {
        match self.current.lock().as_ref() {
            Some(running) if !running.task.is_finished() => {
                Err(CallDeskError::Busy(running.status.lock().room.clone()))
            }
            _ => Ok(()),
        }
    }

    /// [`Self::join`] with the call's options and media given whole (a
    /// test pattern, a tone, loopback addresses, a sink that counts).
    pub fn join_with(
        &self,
        case: CaseId,
        options: CallOptions,
        media: CallMedia,
        labels: Labels,
    ) -> Result<CallStatus, CallDeskError> {
        let mut current = self.current.lock();
        if let Some(running) = current.as_ref()
            && !running.task.is_finished()
        {
            return Err(CallDeskError::Busy(running.status.lock().room.clone()));
        }
        let room = case_room(case);
        let camera_on = !media.video_send.is_none();
        let status = Arc::new(Mutex::new(CallStatus {
            case,
            room: room.clone(),
            state: "joining".into(),
            participants: Vec::new(),
            muted: false,
            camera_on,
            microphone: labels.microphone,
            speaker: labels.speaker,
            camera: labels.camera,
            camera_problem: None,
            quality: None,
            problem: None,
        }));
        let call = self
            .wait_on(Call::start(options, media))
            .ok_or_else(|| CallDeskError::Join {
                room: room.clone(),
                reason: kh_i18n::tr!("console-call-runtime-stopped"),
            })?
            .map_err(|e| CallDeskError::Join {
                room: room.clone(),
                reason: e.to_string(),
            })?;
        let (commands, inbox) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(None));
        let task = self.runtime.spawn(run_call(
            call,
            inbox,
            status.clone(),
            stats.clone(),
            self.sink.clone(),
        ));
        let snapshot = status.lock().clone();
        *current = Some(RunningCall {
            commands,
            status,
            stats,
            task,
        });
        Ok(snapshot)
    }

    pub fn status(&self) -> Option<CallStatus> {
        self.current
            .lock()
            .as_ref()
            .map(|r| r.status.lock().clone())
    }

    /// The latest statistics (once a second while connected).
    pub fn stats(&self) -> Option<CallStats> {
        self.current
            .lock()
            .as_ref()
            .and_then(|r| r.stats.lock().clone())
    }

    pub fn set_muted(&self, muted: bool) -> Result<(), CallDeskError> {
        self.command(Command::Mute(muted))
    }

    pub fn set_camera_on(&self, on: bool) -> Result<(), CallDeskError> {
        self.command(Command::Camera(on))
    }

    /// The viewer lost a frame of the remote video: ask for a keyframe.
    pub fn request_keyframe(&self) -> Result<(), CallDeskError> {
        self.command(Command::Keyframe)
    }

    /// Leaves the room; returns the final status once the call has closed.
    pub fn hang_up(&self) -> Result<CallStatus, CallDeskError> {
        let running = self.current.lock().take().ok_or(CallDeskError::NoCall)?;
        let _ = running.commands.send(Command::HangUp);
        let _ = self.wait_on(running.task);
        let status = running.status.lock().clone();
        Ok(status)
    }

    /// Runs `future` on the call's runtime and waits for it on this thread,
    /// whichever thread it is (Tauri's command threads included, where a
    /// nested `block_on` would panic).
    fn wait_on<F>(&self, future: F) -> Option<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (done, result) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = done.send(future.await);
        });
        result.recv().ok()
    }

    fn command(&self, command: Command) -> Result<(), CallDeskError> {
        let current = self.current.lock();
        let running = current.as_ref().ok_or(CallDeskError::NoCall)?;
        running
            .commands
            .send(command)
            .map_err(|_| CallDeskError::NoCall)
    }
}

impl Drop for CallDesk {
    fn drop(&mut self) {
        // Leave the room rather than vanish from it.
        let _ = self.hang_up();
    }
}

/// The device names shown in the panel.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub microphone: String,
    pub speaker: String,
    pub camera: String,
}

fn device(name: &str) -> Option<String> {
    match name.trim() {
        "" | "none" => None,
        name => Some(name.to_owned()),
    }
}

/// The call's task: events and commands as they come, statistics once a
/// second; every change goes to `sink`.
async fn run_call(
    mut call: Call,
    mut commands: mpsc::UnboundedReceiver<Command>,
    status: Arc<Mutex<CallStatus>>,
    latest: Arc<Mutex<Option<CallStats>>>,
    sink: StatusSink,
) {
    let publish = |change: &dyn Fn(&mut CallStatus)| {
        let snapshot = {
            let mut s = status.lock();
            change(&mut s);
            s.clone()
        };
        sink(&snapshot);
    };
    let mut ticks = tokio::time::interval(STATS_INTERVAL);
    let mut previous: Option<CallStats> = None;
    loop {
        tokio::select! {
            event = call.events.recv() => match event {
                Some(CallEvent::State(state)) => {
                    publish(&|s| s.state = state.as_str().to_owned());
                    if state == CallState::Failed {
                        publish(&|s| {
                            s.problem = Some(kh_i18n::tr!("console-call-connection-lost"))
                        });
                    }
                }
                Some(CallEvent::PeerJoined { peer_id, name }) => publish(&|s| {
                    if !s.participants.iter().any(|p| p.peer_id == peer_id) {
                        s.participants.push(Participant {
                            peer_id: peer_id.clone(),
                            name: name.clone(),
                        });
                    }
                }),
                Some(CallEvent::PeerLeft { peer_id }) => {
                    publish(&|s| s.participants.retain(|p| p.peer_id != peer_id))
                }
                Some(_) => {}
                None => break,
            },
            command = commands.recv() => match command {
                Some(Command::Mute(muted)) => {
                    call.set_microphone_muted(muted);
                    publish(&|s| s.muted = muted);
                }
                Some(Command::Camera(on)) => {
                    call.set_camera_off(!on);
                    publish(&|s| s.camera_on = on);
                }
                Some(Command::Keyframe) => call.request_keyframe(),
                Some(Command::HangUp) | None => break,
            },
            _ = ticks.tick() => {
                let stats = call.stats().await;
                if stats.connected_after_ms.is_some() {
                    let quality = quality_from_stats(&stats, previous.as_ref());
                    publish(&|s| s.quality = Some(quality.clone()));
                }
                let camera_problem = &stats.video_out.source_problem;
                if previous.as_ref().map(|p| &p.video_out.source_problem) != Some(camera_problem) {
                    publish(&|s| s.camera_problem = camera_problem.clone());
                }
                *latest.lock() = Some(stats.clone());
                previous = Some(stats);
            }
        }
    }
    // Hanging up closes the tracks: the remote video's sink hears that it
    // ended (the viewer clears its picture).
    let last = call.hang_up().await;
    *latest.lock() = Some(last);
    publish(&|s| s.state = "ended".into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_reach_the_calls_options() {
        let mut settings = kh_settings::Settings::default();
        settings.signalling.url = " wss://signal.hospital.example/ws ".into();
        settings.user.display_name = "Dr Sato".into();
        settings.turn.urls = vec!["turn:relay.hospital.example:3478".into()];
        let request = JoinRequest {
            case: CaseId::new_random(),
            token: " t ".into(),
            microphone: None,
            speaker: None,
            camera: None,
        };
        let options = call_options(&settings, &request);
        assert_eq!(options.server, "wss://signal.hospital.example/ws");
        assert_eq!(options.token, "t");
        assert_eq!(options.name, "Dr Sato");
        assert_eq!(options.site_ice_urls, settings.turn.urls);
        assert_eq!(options.picture_limit, kh_media::PictureLimit::EIGHT_K);
    }

    fn stats(rtt: f64, lost: i64, received: u64, jitter: f64) -> CallStats {
        let mut s = CallStats::default();
        s.transport.rtt_ms = Some(rtt);
        s.transport.packets_lost = lost;
        s.transport.packets_received = received;
        s.transport.jitter_ms = Some(jitter);
        s
    }

    #[test]
    fn quality_follows_round_trip_loss_and_jitter() {
        let level = |s: &CallStats| quality_from_stats(s, None).level;
        assert_eq!(level(&stats(20.0, 0, 1000, 3.0)), QualityLevel::Good);
        assert_eq!(level(&stats(200.0, 0, 1000, 3.0)), QualityLevel::Fair);
        assert_eq!(level(&stats(20.0, 50, 950, 3.0)), QualityLevel::Fair);
        assert_eq!(level(&stats(20.0, 0, 1000, 40.0)), QualityLevel::Fair);
        assert_eq!(level(&stats(500.0, 0, 1000, 3.0)), QualityLevel::Poor);
        assert_eq!(level(&stats(20.0, 100, 900, 3.0)), QualityLevel::Poor);
    }

    #[test]
    fn loss_is_over_the_last_interval_not_the_whole_call() {
        // 100 lost early on, none since: good now.
        let before = stats(20.0, 100, 1000, 3.0);
        let now = stats(20.0, 100, 2000, 3.0);
        let q = quality_from_stats(&now, Some(&before));
        assert_eq!(q.loss_percent, 0.0);
        assert_eq!(q.level, QualityLevel::Good);
        // 50 lost of the last 500: 10 %.
        let later = stats(20.0, 150, 2450, 3.0);
        let q = quality_from_stats(&later, Some(&now));
        assert!((q.loss_percent - 10.0).abs() < 1e-9, "{}", q.loss_percent);
        assert_eq!(q.level, QualityLevel::Poor);
    }

    #[test]
    fn a_token_names_its_room_and_junk_is_refused() {
        // v1.<base64url {"room":"case-1","role":"presenter"}>.sig
        let claims = "eyJyb29tIjoiY2FzZS0xIiwicm9sZSI6InByZXNlbnRlciJ9";
        assert_eq!(
            token_room(&format!("v1.{claims}.c2ln")).ok(),
            Some("case-1".into())
        );
        for junk in [
            "",
            "v1",
            "v1.abc",
            "v2.abc.def",
            "v1.!!!.sig",
            "v1.a.b.c",
            "v1.e30.sig",
        ] {
            assert!(
                matches!(token_room(junk), Err(CallDeskError::BadToken)),
                "{junk:?} was accepted"
            );
        }
    }
}
