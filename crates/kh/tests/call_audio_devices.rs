//! The workstation's audio path with real devices: a private PulseAudio
//! server (two null sinks, paced in real time like a sound card) stands in
//! for the microphone and the speakers. A tone played into the "mic" sink
//! is what `kh call --audio-in pulse` captures (through cpal, ALSA and
//! PulseAudio's ALSA plugin); what it plays on `--audio-out pulse` is
//! recorded from the "speaker" sink's monitor.

mod call_common;

use call_common::{f, finish_both, kh_call, kh_call_with_env, server_with, ws_url};
use kakehashi_signal::Role;
use kh_media::audio::{SAMPLE_RATE, dominant_frequency};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A PulseAudio daemon of the test's own, stopped on drop.
struct Pulse {
    env: Vec<(&'static str, PathBuf)>,
}

impl Pulse {
    fn start(dir: &Path) -> Pulse {
        let (run, home) = (dir.join("run"), dir.join("home"));
        std::fs::create_dir_all(&run).expect("run dir");
        std::fs::create_dir_all(&home).expect("home dir");
        let env = vec![("XDG_RUNTIME_DIR", run), ("HOME", home)];
        // --daemonize returns once the server is ready to take clients.
        let status = Command::new(kh_testkit::needs::program("pulseaudio", "pulseaudio"))
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .args([
                "-n",
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "--use-pid-file=yes",
            ])
            .args(["-L", "module-native-protocol-unix"])
            .args(["-L", "module-null-sink sink_name=mic rate=48000"])
            .args(["-L", "module-null-sink sink_name=speaker rate=48000"])
            .stderr(Stdio::null())
            .status()
            .expect("starting pulseaudio");
        assert!(status.success(), "pulseaudio did not start");
        Pulse { env }
    }

    /// A 330 Hz "talker" played into the mic sink for 30 s.
    fn talk_into_mic(&self, dir: &Path, amplitude: f64) -> Child {
        let tone = dir.join("talker-330.raw");
        tone_file(&tone, 330.0, amplitude, 30);
        self.command("pacat")
            .args(["-p", "-d", "mic"])
            .args(raw_format())
            .arg(&tone)
            .spawn()
            .expect("pacat")
    }

    /// What `kh call` needs to capture from the mic sink and play into the
    /// speaker sink of this server.
    fn device_env(&self) -> Vec<(&'static str, &Path)> {
        let mut env: Vec<(&str, &Path)> = self.env.iter().map(|(k, v)| (*k, v.as_path())).collect();
        env.push(("PULSE_SOURCE", Path::new("mic.monitor")));
        env.push(("PULSE_SINK", Path::new("speaker")));
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env.iter().map(|(k, v)| (*k, v)));
        command
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.command("pulseaudio").arg("--kill").status();
    }
}

fn tone_file(path: &Path, hz: f64, amplitude: f64, seconds: u32) {
    let samples = SAMPLE_RATE * seconds;
    let bytes: Vec<u8> = (0..samples)
        .flat_map(|i| {
            let t = f64::from(i) / f64::from(SAMPLE_RATE);
            ((amplitude * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16).to_le_bytes()
        })
        .collect();
    std::fs::write(path, bytes).expect("tone file");
}

fn raw_format() -> [&'static str; 3] {
    ["--format=s16le", "--rate=48000", "--channels=1"]
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_is_heard_and_the_far_side_plays_on_the_speakers() {
    let dir = tempfile::tempdir().expect("tmp");
    let pulse = Pulse::start(dir.path());
    let mic = pulse.talk_into_mic(dir.path(), 8000.0);
    let played = dir.path().join("speaker.raw");
    let speaker = pulse
        .command("parec")
        .args(["-d", "speaker.monitor"])
        .args(raw_format())
        .stdout(std::fs::File::create(&played).expect("recording"))
        .spawn()
        .expect("parec");

    let server = server_with(|_| {}).await;
    let ws = ws_url(&server);
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let env = pulse.device_env();
    let small = ["--size", "320x240", "--fps", "15"];
    let a = kh_call_with_env(
        &ws,
        "case-audio",
        Role::Presenter,
        &sa,
        &[
            &small[..],
            &[
                "--duration",
                "6",
                "--audio-in",
                "pulse",
                "--audio-out",
                "pulse",
            ],
        ]
        .concat(),
        &env,
    );
    let b = kh_call(
        &ws,
        "case-audio",
        Role::Specialist,
        &sb,
        &[&small[..], &["--duration", "5", "--tone", "660"]].concat(),
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    stop(speaker);
    stop(mic);
    server.shutdown().await;

    // The far side heard A's microphone, not a tone of kh's own.
    let heard = f(&b, "audio.dominant_hz");
    assert!((heard - 330.0).abs() < 10.0, "B heard {heard} Hz: {b}");
    // A's speakers played B's tone: the loudest second of the recording.
    let bytes = std::fs::read(&played).expect("recording");
    let pcm: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let second = SAMPLE_RATE as usize;
    let loudest = pcm
        .chunks(second)
        .max_by_key(|c| c.iter().map(|s| i64::from(*s).abs()).sum::<i64>())
        .expect("a recording");
    let played_hz = dominant_frequency(loudest);
    assert!(
        (played_hz - 660.0).abs() < 10.0,
        "A's speakers played {played_hz} Hz ({} s recorded); {a}",
        pcm.len() / second
    );
}

/// What A's speakers play leaks back into A's microphone (a PulseAudio
/// loopback from the speaker sink into the mic sink, as a room would), over
/// a quieter local talker. Without echo cancellation the far side hears
/// its own tone come back louder than A's talker; with it, A's talker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_side_does_not_hear_itself_through_our_microphone() {
    let dir = tempfile::tempdir().expect("tmp");
    let pulse = Pulse::start(dir.path());
    let looped = pulse
        .command("pactl")
        .args([
            "load-module",
            "module-loopback",
            "source=speaker.monitor",
            "sink=mic",
        ])
        .args(["latency_msec=30"])
        .status()
        .expect("pactl");
    assert!(looped.success(), "the room loopback");
    let mic = pulse.talk_into_mic(dir.path(), 2500.0);
    let server = server_with(|_| {}).await;
    let ws = ws_url(&server);
    let env = pulse.device_env();
    let mut heard = Vec::new();
    for (room, cancel) in [("case-echo-off", false), ("case-echo-on", true)] {
        let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
        let mut args = vec!["--size", "160x120", "--fps", "5", "--duration", "9"];
        args.extend(["--audio-in", "pulse", "--audio-out", "pulse"]);
        if !cancel {
            args.push("--no-echo-cancellation");
        }
        let a = kh_call_with_env(&ws, room, Role::Presenter, &sa, &args, &env);
        let b = kh_call(
            &ws,
            room,
            Role::Specialist,
            &sb,
            &[
                "--size",
                "160x120",
                "--fps",
                "5",
                "--duration",
                "8",
                "--tone",
                "660",
            ],
        );
        let (_, b) = finish_both(a, &sa, b, &sb).await;
        heard.push(f(&b, "audio.dominant_hz"));
    }
    stop(mic);
    server.shutdown().await;
    assert!(
        (heard[0] - 660.0).abs() < 10.0,
        "without cancellation the far side should hear its own 660 Hz come back: {heard:?}"
    );
    // With cancellation A's talker is the loudest thing the far side hears.
    assert!(
        (heard[1] - 330.0).abs() < 10.0,
        "with cancellation the far side still hears itself: {heard:?}"
    );
}
