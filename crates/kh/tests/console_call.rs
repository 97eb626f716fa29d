//! The console's call (kh-console's `CallDesk`, what the call panel
//! drives) against a real signalling server on loopback and a `kh call`
//! peer that sends back what it receives: the case's room, participants,
//! the quality indicator from live statistics, mute (the echoed tone
//! falls silent), camera off (the far side records black), hang up (the
//! far side sees us leave and ends). A token for another case's room is
//! refused before anything is sent.

mod call_common;

use call_common::{finish_one, kh_call, server_with, token, ws_url};
use kakehashi_signal::Role;
use kh_call::CallOptions;
use kh_call::media::{AudioSink, CallMedia, CodedFrameSink, VideoReceive, VideoSend};
use kh_cases::CaseId;
use kh_console::{CallDesk, CallDeskError, CallStatus, JoinRequest, Labels, case_room};
use kh_media::y4m::Y4mReader;
use std::io::BufReader;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// Polls `what` until it holds, or fails naming `why` with the last value.
fn wait_until<T: std::fmt::Debug>(
    why: &str,
    mut what: impl FnMut() -> Option<T>,
    holds: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = what();
        if let Some(v) = value
            && holds(&v)
        {
            return v;
        }
        assert!(Instant::now() < deadline, "{why}: never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the console's call heard: the last second of it, at the call's
/// audio edge (where the speakers would be).
#[derive(Clone, Default)]
struct Heard(Arc<std::sync::Mutex<std::collections::VecDeque<i16>>>);

impl AudioSink for Heard {
    fn play(&mut self, pcm: &[i16]) {
        let mut heard = self.0.lock().expect("heard");
        heard.extend(pcm);
        let excess = heard.len().saturating_sub(48_000);
        heard.drain(..excess);
    }
}

impl Heard {
    /// Level and dominant frequency of the last second.
    fn level_and_pitch(&self) -> Option<(f64, f64)> {
        let pcm: Vec<i16> = self.0.lock().expect("heard").iter().copied().collect();
        (!pcm.is_empty()).then(|| {
            (
                kh_media::audio::rms(&pcm),
                kh_media::audio::dominant_frequency(&pcm),
            )
        })
    }
}

/// The remote video as the console hands it to the viewer: compressed
/// frames, then word that it ended.
struct ToTheViewer {
    forwarded: Arc<std::sync::atomic::AtomicU64>,
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl CodedFrameSink for ToTheViewer {
    fn frame(&mut self, codec: kh_media::VideoCodec, data: &[u8]) {
        assert_eq!(codec, kh_media::VideoCodec::Vp8);
        assert!(!data.is_empty());
        self.forwarded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn ended(&mut self) {
        self.ended.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_calls_the_case_room_mutes_turns_the_camera_off_and_hangs_up() {
    let server = server_with(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let case = CaseId::new_random();
    let room = case_room(case);
    let record = dir.path().join("rec");
    let far_stats = dir.path().join("far.json");
    let far = kh_call(
        &ws_url(&server),
        &room,
        Role::Specialist,
        &far_stats,
        &[
            "--echo",
            "--name",
            "Dr. Far",
            "--record",
            record.to_str().expect("utf-8"),
        ],
    );

    let ws = ws_url(&server);
    let outcome = tokio::task::spawn_blocking(move || {
        let statuses: Arc<std::sync::Mutex<Vec<CallStatus>>> = Arc::default();
        let seen = statuses.clone();
        let forwarded = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let video_ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let desk = CallDesk::new(
            Arc::new(move |s: &CallStatus| seen.lock().expect("statuses").push(s.clone())),
            None,
        )
        .expect("call desk");

        // A token for another case: refused, naming both rooms.
        let mut settings = kh_settings::Settings::default();
        settings.signalling.url = ws.clone();
        let other = JoinRequest {
            case,
            token: token("case-someone-else", Role::Presenter),
            microphone: Some("none".into()),
            speaker: Some("none".into()),
            camera: Some("none".into()),
        };
        match desk.join(&other, &settings) {
            Err(CallDeskError::WrongRoom {
                token_room,
                case_room,
            }) => {
                assert_eq!(token_room, "case-someone-else");
                assert_eq!(case_room, room);
            }
            other => panic!("a token for another room was not refused: {other:?}"),
        }

        // The case's own room, sending a 330 Hz tone and a small pattern,
        // its remote video going on compressed as it goes to the viewer.
        let mut options = CallOptions::new(&ws, &token(&room, Role::Presenter));
        options.name = "Island clinic".into();
        options.fps = 15;
        options.udp_addrs = vec!["127.0.0.1:0".into()];
        let heard = Heard::default();
        let media = CallMedia {
            video_send: VideoSend::Pictures(Box::new(kh_media::pattern::TestPattern::new(
                320, 240,
            ))),
            video_receive: VideoReceive::Forward(Box::new(ToTheViewer {
                forwarded: forwarded.clone(),
                ended: video_ended.clone(),
            })),
            audio_in: Box::new(kh_media::audio::Tone::new(330.0)),
            audio_out: Box::new(heard.clone()),
            channels: Vec::new(),
        };
        let joined = desk
            .join_with(case, options, media, Labels::default())
            .expect("join");
        assert_eq!(joined.room, room);
        assert!(matches!(
            desk.join_with(
                case,
                CallOptions::new(&ws, "x"),
                CallMedia::nothing(),
                Labels::default()
            ),
            Err(CallDeskError::Busy(_))
        ));

        let status = wait_until(
            "connected, with the far side listed and a quality reading",
            || desk.status(),
            |s| {
                s.state == "connected"
                    && s.participants.iter().any(|p| p.name == "Dr. Far")
                    && s.quality.is_some()
            },
        );
        let quality = status.quality.expect("quality");
        assert!(
            quality.rtt_ms.is_some_and(|rtt| rtt < 1000.0),
            "loopback has a round trip: {quality:?}"
        );

        // The far side sends our tone back: we hear 330 Hz...
        wait_until(
            "our tone echoed back",
            || heard.level_and_pitch(),
            |(rms, hz)| *rms > 300.0 && (hz - 330.0).abs() < 15.0,
        );
        // ...until we mute: then silence comes back.
        desk.set_muted(true).expect("mute");
        wait_until(
            "silence after mute",
            || heard.level_and_pitch(),
            |(rms, _)| *rms < 30.0,
        );
        assert!(desk.status().is_some_and(|s| s.muted));

        // Camera off: black frames from here on.
        desk.set_camera_on(false).expect("camera off");
        let sent_then = desk.stats().map_or(0, |s| s.video_out.frames_encoded);
        wait_until(
            "a second of frames after the camera went off",
            || desk.stats(),
            |s| s.video_out.frames_encoded >= sent_then + 20,
        );

        // The far side's video (our pattern, echoed) was handed on
        // compressed, never decoded here.
        let stats = desk.stats().expect("stats");
        assert!(
            forwarded.load(std::sync::atomic::Ordering::Relaxed) >= 15,
            "frames forwarded: {}",
            forwarded.load(std::sync::atomic::Ordering::Relaxed)
        );
        assert_eq!(stats.video_in.frames_decoded, 0, "decoded in the console");
        desk.request_keyframe().expect("keyframe request");

        let ended = desk.hang_up().expect("hang up");
        assert!(video_ended.load(std::sync::atomic::Ordering::Relaxed));
        assert_eq!(ended.state, "ended");
        assert!(matches!(desk.set_muted(false), Err(CallDeskError::NoCall)));
        let statuses = statuses.lock().expect("statuses");
        assert!(
            statuses.iter().any(|s| s.state == "connecting")
                && statuses.last().is_some_and(|s| s.state == "ended"),
            "every change reached the page: {:?}",
            statuses
                .iter()
                .map(|s| s.state.as_str())
                .collect::<Vec<_>>()
        );
    })
    .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }

    // The far side saw us leave and ended by itself.
    finish_one(far, &far_stats).await;
    // What it received: the pattern first, black at the end.
    let file = std::fs::File::open(record.join("received-320x240.y4m")).expect("recording");
    let mut reader = Y4mReader::new(BufReader::new(file)).expect("y4m");
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame().expect("frame") {
        frames.push(frame);
    }
    let black = |f: &kh_media::VideoFrame| f.luma().iter().all(|&y| y.abs_diff(16) <= 4);
    assert!(frames.len() > 30, "{} frames recorded", frames.len());
    assert!(!black(&frames[5]), "the pattern arrived first");
    assert!(
        black(frames.last().expect("a frame")),
        "the camera went off: black at the end"
    );
    server.shutdown().await;
}
