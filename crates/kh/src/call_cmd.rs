//! `kh call`: a headless call peer for automated tests and IT's test calls.
//! Sends the stamped test pattern (or a video file, a recording, the
//! camera) and a tone (or the microphone), moves a pointer at 30 Hz, and
//! reports what it measured as JSON. Everything it sends and measures
//! plugs into the call's edges (`call_sources`, `call_meters`), as a
//! console's devices do; the call pings on `control` by itself.

use crate::call_meters::{PictureMeter, Recorder, SoundMeter};
use crate::call_sources::{Echo, FileSource, RecordingSource};
use anyhow::{Context, Result, bail};
use kh_call::channels::{BulkChunk, ControlMessage, PointerMessage, channel};
use kh_call::media::{AudioSink, AudioSource, CallMedia, Discard, VideoReceive, VideoSend};
use kh_call::{Call, CallEvent, CallOptions, CallState};
use kh_i18n::tr;
use kh_media::VideoCodec;
use kh_media::pattern::TestPattern;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct CallArgs {
    #[arg(long)]
    server: String,
    #[arg(long)]
    room: String,
    #[arg(long)]
    token: String,
    #[arg(long, default_value = "testsrc")]
    send: String,
    #[arg(long, default_value = "default")]
    camera: String,
    #[arg(long, default_value = "640x360")]
    size: String,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 0)]
    grain: u8,
    #[arg(long, default_value = "vp8")]
    codec: String,
    #[arg(long, default_value_t = 1500)]
    bitrate: u32,
    #[arg(long, default_value_t = 100_000)]
    max_bitrate: u32,
    #[arg(long, alias = "library-defaults")]
    no_congestion_control: bool,
    #[arg(long)]
    stats_every: Option<f64>,
    #[arg(long, default_value_t = 440.0)]
    tone: f64,
    #[arg(long, value_name = "DEVICE")]
    audio_in: Option<String>,
    #[arg(long, value_name = "DEVICE")]
    audio_out: Option<String>,
    #[arg(long)]
    no_echo_cancellation: bool,
    #[arg(long)]
    record: Option<PathBuf>,
    #[arg(long)]
    echo: bool,
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long)]
    stats_json: Option<PathBuf>,
    #[arg(long, default_value = "0.0.0.0")]
    bind: String,
    #[arg(long)]
    relay_only: bool,
    #[arg(long)]
    software_codecs: bool,
    #[arg(long)]
    no_decode: bool,
    #[arg(long, default_value_t = kh_call::ICE_FAILED_AFTER.as_secs_f64())]
    ice_failed_after: f64,
    #[arg(long)]
    bulk: bool,
    #[arg(long, default_value = "kh call")]
    name: String,
}

pub fn run(args: CallArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .with_context(|| tr!("cli-starting-runtime"))?;
    runtime.block_on(call(args))
}

/// What `--send` asks for.
enum Sending {
    Pattern { width: u32, height: u32 },
    File(PathBuf),
    Recording(PathBuf),
    Camera { width: u32, height: u32 },
    None,
}

fn sending(args: &CallArgs) -> Result<Sending> {
    Ok(match args.send.as_str() {
        "testsrc" => {
            let (width, height) = crate::parse_size("--size", &args.size)?;
            Sending::Pattern { width, height }
        }
        "none" => Sending::None,
        "camera" => {
            let (width, height) = crate::parse_size("--size", &args.size)?;
            // Named before joining: a call that cannot send what was asked
            // should not start.
            kh_devices::camera::find(&args.camera).context("--send camera")?;
            Sending::Camera { width, height }
        }
        file => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                bail!(tr!("cli-send-not-readable", file = file));
            }
            let mut prefix = [0u8; 4];
            let is_recording = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut prefix))
                .is_ok()
                && kh_media::ivf::is_ivf(&prefix);
            if is_recording {
                Sending::Recording(path)
            } else {
                Sending::File(path)
            }
        }
    })
}

/// The readings `kh call` takes besides the call's own statistics.
struct Readings {
    pictures: Option<crate::call_meters::PictureReadings>,
    sound: crate::call_meters::SoundReadings,
}

impl Readings {
    /// The call's statistics with what the meters read, in the shape the
    /// tests and IT read (`video_in.stamps_read`, `audio.dominant_hz`…).
    /// The readings are computed on a blocking thread: a spectrum of a
    /// second of sound takes tens of milliseconds, and on a runtime worker
    /// it delays the packets arriving meanwhile — whose arrival times are
    /// the congestion feedback the far side's estimate is made from.
    async fn merged(&self, stats: &kh_call::CallStats) -> serde_json::Value {
        let mut value = serde_json::to_value(stats).unwrap_or_default();
        let (pictures, sound) = (self.pictures.clone(), self.sound.clone());
        let (stamps, heard) = tokio::task::spawn_blocking(move || {
            (
                pictures.map(|p| p.report()).unwrap_or_default(),
                sound.report(),
            )
        })
        .await
        .unwrap_or_default();
        merge(&mut value["video_in"], serde_json::to_value(stamps));
        merge(&mut value["audio"], serde_json::to_value(heard));
        value
    }
}

fn merge(into: &mut serde_json::Value, from: serde_json::Result<serde_json::Value>) {
    if let (Some(into), Ok(serde_json::Value::Object(from))) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

async fn call(args: CallArgs) -> Result<()> {
    let mut options = CallOptions::new(&args.server, &args.token);
    options.name = args.name.clone();
    let send = sending(&args)?;
    options.codec = match VideoCodec::from_name(&args.codec) {
        Some(codec) if codec.can_encode() => codec,
        Some(_) => bail!(tr!("cli-codec-receive-only", codec = args.codec.as_str())),
        None => bail!(tr!("cli-codec-unknown", codec = args.codec.as_str())),
    };
    if args.fps == 0 || args.fps > 120 {
        bail!(tr!("cli-fps-range", fps = args.fps.to_string()));
    }
    options.fps = args.fps;
    options.bitrate_kbps = args.bitrate;
    options.max_bitrate_kbps = args.max_bitrate.max(args.bitrate);
    options.congestion_control = !args.no_congestion_control;
    options.udp_addrs = vec![format!("{}:0", args.bind)];
    options.relay_only = args.relay_only;
    options.hardware_codecs = !args.software_codecs;
    options.ice_failed_after = std::time::Duration::try_from_secs_f64(args.ice_failed_after)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| tr!("cli-ice-failed-after"))?;

    // The edges: what goes out, where what arrives goes.
    let echo = args.echo.then(Echo::default);
    let video_send = match (&echo, send) {
        (Some(echo), _) => VideoSend::Pictures(Box::new(echo.clone())),
        (None, Sending::None) => VideoSend::None,
        (None, Sending::Pattern { width, height }) => VideoSend::Pictures(Box::new(
            TestPattern::new(width, height).with_grain(args.grain),
        )),
        (None, Sending::File(path)) => VideoSend::Pictures(Box::new(
            FileSource::open(&path).map_err(anyhow::Error::msg)?,
        )),
        (None, Sending::Recording(path)) => VideoSend::Coded(Box::new(
            RecordingSource::open(&path).map_err(anyhow::Error::msg)?,
        )),
        (None, Sending::Camera { width, height }) => VideoSend::Pictures(Box::new(
            kh_devices::camera::LiveCamera::open(
                &args.camera,
                kh_devices::camera::CameraRequest {
                    width,
                    height,
                    fps: args.fps,
                },
            )
            .context("--send camera")?,
        )),
    };
    // Devices first: a missing microphone is an error before anyone is
    // called, not a silent call.
    let microphone = args
        .audio_in
        .as_deref()
        .map(kh_devices::Microphone::open)
        .transpose()
        .context("--audio-in")?;
    let speaker = args
        .audio_out
        .as_deref()
        .map(kh_devices::Speaker::open)
        .transpose()
        .context("--audio-out")?;
    let (audio_in, speaker): (Box<dyn AudioSource>, Option<Box<dyn AudioSink>>) =
        match (echo.clone(), microphone, speaker) {
            (Some(echo), _, speaker) => (Box::new(echo), speaker.map(boxed_sink)),
            (None, Some(microphone), Some(speaker)) if !args.no_echo_cancellation => {
                let (microphone, speaker) = kh_devices::edges::echo_cancelled(microphone, speaker)
                    .with_context(|| tr!("cli-echo-cancellation"))?;
                (Box::new(microphone), Some(Box::new(speaker)))
            }
            (None, Some(microphone), speaker) => (Box::new(microphone), speaker.map(boxed_sink)),
            (None, None, speaker) if args.tone > 0.0 => (
                Box::new(kh_media::audio::Tone::new(args.tone)),
                speaker.map(boxed_sink),
            ),
            (None, None, speaker) => (Box::new(kh_call::media::Silence), speaker.map(boxed_sink)),
        };
    let (sound_meter, sound) = SoundMeter::new(speaker, echo.clone());
    let (video_receive, pictures) = if args.no_decode {
        (VideoReceive::Forward(Box::new(Discard)), None)
    } else {
        let record = args.record.clone().map(|dir| Recorder::new(dir, args.fps));
        let (meter, readings) = PictureMeter::new(record, echo);
        (VideoReceive::Decode(Box::new(meter)), Some(readings))
    };
    let readings = Readings { pictures, sound };
    let (mut control, control_binding) = channel::<ControlMessage>(64);
    let (pointer, pointer_binding) = channel::<PointerMessage>(8);
    let (mut bulk, bulk_binding) = channel::<BulkChunk>(16);
    let media = CallMedia {
        video_send,
        video_receive,
        audio_in,
        audio_out: Box::new(sound_meter),
        channels: vec![control_binding, pointer_binding, bulk_binding],
    };

    let mut call = Call::start(options, media)
        .await
        .with_context(|| tr!("cli-joining-call"))?;
    let welcome_room = call.room().to_owned();
    if welcome_room != args.room {
        bail!(tr!(
            "cli-wrong-room",
            room = args.room.as_str(),
            token_room = welcome_room
        ));
    }
    println!(
        "{}",
        serde_json::json!({"event": "joined", "room": welcome_room})
    );
    if args.bulk {
        // As fast as the channel drains: `send` waits while it is full.
        let bulk_out = std::mem::replace(&mut bulk, channel::<BulkChunk>(1).0);
        tokio::spawn(async move {
            let block = BulkChunk(bytes::Bytes::from(vec![0x5a_u8; 64 * 1024]));
            while bulk_out.send(&block).await.is_ok() {}
        });
    }
    let started = Instant::now();
    let deadline = args
        .duration
        .map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let mut pointer_tick = tokio::time::interval(Duration::from_millis(33));
    let mut report = tokio::time::interval(Duration::from_secs_f64(
        args.stats_every.unwrap_or(3600.0).max(0.1),
    ));
    report.tick().await;
    let mut seq = 0u64;
    let mut was_connected = false;
    let mut failure: Option<String> = None;
    // One Ctrl-C listener for the whole call, not one per loop turn.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let until_deadline = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        if deadline.is_some() && until_deadline.is_zero() {
            break;
        }
        tokio::select! {
            event = call.events.recv() => {
                let Some(event) = event else { break };
                match event {
                    CallEvent::State(state) => {
                        println!("{}", serde_json::json!({"event": "state", "state": state.as_str()}));
                        match state {
                            CallState::Connected => was_connected = true,
                            CallState::Failed => {
                                failure = Some("the connection failed".into());
                                break;
                            }
                            CallState::Closed if was_connected && deadline.is_none() => break,
                            _ => {}
                        }
                    }
                    CallEvent::PeerJoined { peer_id, .. } => {
                        println!("{}", serde_json::json!({"event": "peer_joined", "peer_id": peer_id}));
                    }
                    CallEvent::PeerLeft { peer_id } => {
                        println!("{}", serde_json::json!({"event": "peer_left", "peer_id": peer_id}));
                        if deadline.is_none() {
                            break;
                        }
                    }
                    CallEvent::Chat { from, text } => {
                        println!("{}", serde_json::json!({"event": "chat", "from": from, "text": text}));
                    }
                }
            }
            Some(message) = control.recv() => {
                println!("{}", serde_json::json!({"event": "control", "message": message}));
            }
            // Received bulk data is counted by the call; taken and dropped.
            Some(_) = bulk.recv() => {}
            _ = pointer_tick.tick() => {
                if pointer.is_open() {
                    // A slow circle, as a specialist's pointer might move.
                    let t = started.elapsed().as_secs_f64();
                    let position = PointerMessage { x: 0.5 + 0.3 * t.cos(), y: 0.5 + 0.3 * t.sin(), seq };
                    if pointer.offer(&position).unwrap_or(false) {
                        seq += 1;
                    }
                }
            }
            _ = report.tick(), if args.stats_every.is_some() => {
                let stats = readings.merged(&call.stats().await).await;
                let t = started.elapsed().as_secs_f64();
                println!("{}", serde_json::json!({"event": "stats", "t": t, "stats": stats}));
            }
            _ = tokio::time::sleep(until_deadline) => break,
            _ = &mut ctrl_c => break,
        }
    }
    let stats = call.hang_up().await;
    if let Some(pictures) = &readings.pictures {
        pictures.finish();
    }
    let stats = readings.merged(&stats).await;
    let json = serde_json::to_string_pretty(&stats)?;
    println!("{}", serde_json::json!({"event": "ended", "stats": stats}));
    if let Some(path) = &args.stats_json {
        write_atomically(path, json.as_bytes())
            .with_context(|| tr!("cli-writing", path = path.display().to_string()))?;
    }
    if let Some(why) = failure {
        bail!("{why}");
    }
    Ok(())
}

fn boxed_sink(speaker: kh_devices::Speaker) -> Box<dyn AudioSink> {
    Box::new(speaker)
}

/// Write to a temporary file beside `path`, then rename: a reader never
/// sees half a file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
