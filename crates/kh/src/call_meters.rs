//! What `kh call` measures of what arrives, at the call's edges: the
//! stamps in the pictures (order, gaps, glass-to-glass latency), the
//! recording of them (`--record`), and the sound heard (level and
//! dominant frequency, which tells each direction's tone apart).

use crate::call_sources::Echo;
use kh_media::VideoFrame;
use kh_media::edge::unix_ms;
use kh_media::edge::{AudioSink, PictureSink};
use kh_media::y4m::{Y4mHeader, Y4mWriter};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

/// What the stamps said.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StampReport {
    /// Decoded frames that carried a readable stamp.
    pub stamps_read: u64,
    /// Stamped frames whose counter was not above the previous one's.
    pub out_of_order: u64,
    /// Counters skipped between consecutive stamped frames (frames the
    /// sender made that never showed here).
    pub counter_gaps: u64,
    pub first_counter: Option<u32>,
    pub last_counter: Option<u32>,
    /// Capture (sender's clock) to decoded (ours), over stamped frames:
    /// meaningful when both clocks are one, as in loopback tests, or
    /// synchronised.
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_max: Option<f64>,
    /// Frames written by `--record`.
    pub recorded: u64,
}

#[derive(Default)]
struct Stamps {
    report: StampReport,
    latencies_ms: Vec<f64>,
}

/// Latency samples kept (the newest): an hour at 30 fps.
const MAX_LATENCIES: usize = 108_000;

/// Reads each decoded picture's stamp; records and echoes it when asked.
pub struct PictureMeter {
    stamps: Arc<Mutex<Stamps>>,
    recorder: Option<Recorder>,
    echo: Option<Echo>,
}

/// The meter's readings, kept by `kh call` while the meter itself goes
/// into the call.
#[derive(Clone)]
pub struct PictureReadings {
    stamps: Arc<Mutex<Stamps>>,
    recorder: Option<Recorder>,
}

impl PictureMeter {
    pub fn new(record: Option<Recorder>, echo: Option<Echo>) -> (PictureMeter, PictureReadings) {
        let stamps = Arc::new(Mutex::new(Stamps::default()));
        (
            PictureMeter {
                stamps: stamps.clone(),
                recorder: record.clone(),
                echo,
            },
            PictureReadings {
                stamps,
                recorder: record,
            },
        )
    }
}

impl PictureSink for PictureMeter {
    fn picture(&mut self, picture: &VideoFrame) {
        let now_ms = unix_ms();
        if let Some(stamp) = kh_media::stamp::read(picture) {
            let mut stamps = self.stamps.lock();
            let Stamps {
                report,
                latencies_ms,
            } = &mut *stamps;
            report.stamps_read += 1;
            report.first_counter.get_or_insert(stamp.counter);
            match report.last_counter {
                Some(previous) if stamp.counter <= previous => report.out_of_order += 1,
                Some(previous) => report.counter_gaps += u64::from(stamp.counter - previous - 1),
                None => {}
            }
            report.last_counter = Some(stamp.counter);
            if latencies_ms.len() == MAX_LATENCIES {
                latencies_ms.remove(0);
            }
            latencies_ms.push(now_ms as f64 - stamp.captured_ms as f64);
        }
        if let Some(recorder) = &self.recorder
            && recorder.write(picture)
        {
            self.stamps.lock().report.recorded += 1;
        }
        if let Some(echo) = &self.echo {
            echo.seen(picture);
        }
    }
}

impl PictureReadings {
    pub fn report(&self) -> StampReport {
        let (mut report, mut latencies) = {
            let stamps = self.stamps.lock();
            (stamps.report.clone(), stamps.latencies_ms.clone())
        };
        if !latencies.is_empty() {
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
            report.latency_ms_p50 = Some(at(0.5));
            report.latency_ms_p95 = Some(at(0.95));
            report.latency_ms_max = latencies.last().copied();
        }
        report
    }

    /// Close the recording: everything recorded so far is on disk whole,
    /// and nothing more is written.
    pub fn finish(&self) {
        if let Some(recorder) = &self.recorder {
            recorder.finish();
        }
    }
}

/// Received pictures as `DIR/received-WxH.y4m` (the first picture's size;
/// pictures of another size later are left out).
#[derive(Clone)]
pub struct Recorder {
    dir: PathBuf,
    fps: u32,
    writer: Arc<Mutex<RecorderState>>,
}

enum RecorderState {
    NotStarted,
    Writing(Y4mWriter<BufWriter<std::fs::File>>, PathBuf),
    Finished,
}

impl Recorder {
    pub fn new(dir: PathBuf, fps: u32) -> Recorder {
        Recorder {
            dir,
            fps: fps.max(1),
            writer: Arc::new(Mutex::new(RecorderState::NotStarted)),
        }
    }

    /// Whether `picture` was written.
    fn write(&self, picture: &VideoFrame) -> bool {
        let mut state = self.writer.lock();
        if matches!(*state, RecorderState::NotStarted) {
            let path = self
                .dir
                .join(format!("received-{}x{}.y4m", picture.width, picture.height));
            let opened = std::fs::create_dir_all(&self.dir)
                .and_then(|_| std::fs::File::create(&path))
                .and_then(|file| {
                    Y4mWriter::new(
                        BufWriter::new(file),
                        Y4mHeader {
                            width: picture.width,
                            height: picture.height,
                            fps_num: self.fps,
                            fps_den: 1,
                            colour: picture.colour,
                        },
                    )
                });
            match opened {
                Ok(writer) => *state = RecorderState::Writing(writer, path),
                Err(e) => {
                    tracing::error!("recording to {}: {e}", path.display());
                    *state = RecorderState::Finished;
                    return false;
                }
            }
        }
        match &mut *state {
            RecorderState::Writing(writer, path) => match writer.write(picture) {
                Ok(()) => true,
                Err(e) => {
                    // A size change mid-call: the recording keeps the first.
                    tracing::debug!("recording to {}: {e}", path.display());
                    false
                }
            },
            _ => false,
        }
    }

    fn finish(&self) {
        let mut state = self.writer.lock();
        if let RecorderState::Writing(writer, path) =
            std::mem::replace(&mut *state, RecorderState::Finished)
            && let Err(e) = writer.finish()
        {
            tracing::error!("finishing the recording {}: {e}", path.display());
        }
    }
}

/// The last second of sound heard; played on to the speakers and echoed
/// when asked.
pub struct SoundMeter {
    heard: Arc<Mutex<VecDeque<i16>>>,
    speaker: Option<Box<dyn AudioSink>>,
    echo: Option<Echo>,
}

/// What the sound meter heard.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SoundReport {
    /// The strongest frequency in the last second heard, in Hz.
    pub dominant_hz: Option<f64>,
    pub rms: Option<f64>,
}

#[derive(Clone)]
pub struct SoundReadings {
    heard: Arc<Mutex<VecDeque<i16>>>,
}

impl SoundMeter {
    pub fn new(
        speaker: Option<Box<dyn AudioSink>>,
        echo: Option<Echo>,
    ) -> (SoundMeter, SoundReadings) {
        let heard = Arc::new(Mutex::new(VecDeque::new()));
        (
            SoundMeter {
                heard: heard.clone(),
                speaker,
                echo,
            },
            SoundReadings { heard },
        )
    }
}

impl AudioSink for SoundMeter {
    fn play(&mut self, pcm: &[i16]) {
        if let Some(speaker) = &mut self.speaker {
            speaker.play(pcm);
        }
        {
            let mut heard = self.heard.lock();
            heard.extend(pcm);
            let excess = heard
                .len()
                .saturating_sub(kh_media::audio::SAMPLE_RATE as usize);
            heard.drain(..excess);
        }
        if let Some(echo) = &self.echo {
            echo.heard(pcm);
        }
    }
}

impl SoundReadings {
    /// Level and dominant frequency of the last second; the spectrum is
    /// computed on a copy, outside the meter's lock.
    pub fn report(&self) -> SoundReport {
        let heard: Vec<i16> = self.heard.lock().iter().copied().collect();
        if heard.is_empty() {
            return SoundReport::default();
        }
        SoundReport {
            dominant_hz: Some(kh_media::audio::dominant_frequency(&heard)),
            rms: Some(kh_media::audio::rms(&heard)),
        }
    }
}
