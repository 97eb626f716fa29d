//! The workstation's microphone and speakers, through cpal, as the call
//! wants them: 48 kHz mono 16-bit PCM in 20 ms frames.
//!
//! cpal calls back on its own audio thread; the callbacks only move samples
//! through a bounded buffer (oldest dropped when full), so a stalled call
//! never blocks the audio thread and a stalled device never grows memory.
//! cpal streams are not `Send` on every platform, so each lives on a thread
//! of its own until the handle is dropped.
//!
//! On Linux cpal speaks ALSA; PulseAudio and PipeWire are reached through
//! their ALSA plugins (device `pulse`, or `default` where they are the
//! default).

pub mod camera;
pub mod echo;
pub mod edges;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc;

/// The call's audio rate (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no {kind} device named {name:?}; this machine has: {available}")]
    NotFound {
        kind: &'static str,
        name: String,
        available: String,
    },
    #[error("no default {0} device (is a sound server or card present?)")]
    NoDefault(&'static str),
    #[error("{kind} device {name:?} offers no 48 kHz 16-bit or float format ({offered})")]
    NoFormat {
        kind: &'static str,
        name: String,
        offered: String,
    },
    #[error("{kind} device {name:?}: {reason}")]
    Stream {
        kind: &'static str,
        name: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

impl Direction {
    fn noun(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// An audio device as `kh doctor` and device pickers list it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub name: String,
    pub input: bool,
    pub output: bool,
}

/// The host's audio devices.
pub fn devices() -> Vec<DeviceInfo> {
    let host = cpal::default_host();
    let mut out: Vec<DeviceInfo> = Vec::new();
    for (direction, list) in [
        (Direction::Input, host.input_devices().ok()),
        (Direction::Output, host.output_devices().ok()),
    ] {
        for device in list.into_iter().flatten() {
            let Ok(name) = device.name() else { continue };
            let entry = match out.iter_mut().position(|d| d.name == name) {
                Some(i) => &mut out[i],
                None => {
                    out.push(DeviceInfo {
                        name,
                        input: false,
                        output: false,
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            match direction {
                Direction::Input => entry.input = true,
                Direction::Output => entry.output = true,
            }
        }
    }
    out
}

fn find(direction: Direction, name: &str) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    if name == "default" {
        return match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        }
        .ok_or(DeviceError::NoDefault(direction.noun()));
    }
    let list = match direction {
        Direction::Input => host.input_devices(),
        Direction::Output => host.output_devices(),
    };
    let mut names = Vec::new();
    for device in list.into_iter().flatten() {
        match device.name() {
            Ok(n) if n == name => return Ok(device),
            Ok(n) => names.push(n),
            Err(_) => {}
        }
    }
    Err(DeviceError::NotFound {
        kind: direction.noun(),
        name: name.to_owned(),
        available: if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        },
    })
}

/// A 48 kHz configuration in i16 or f32, fewest channels first.
fn config_for(
    device: &cpal::Device,
    direction: Direction,
    name: &str,
) -> Result<(StreamConfig, SampleFormat), DeviceError> {
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match direction {
        Direction::Input => device.supported_input_configs().map(|c| c.collect()),
        Direction::Output => device.supported_output_configs().map(|c| c.collect()),
    }
    .map_err(|e| DeviceError::Stream {
        kind: direction.noun(),
        name: name.to_owned(),
        reason: e.to_string(),
    })?;
    let rate = cpal::SampleRate(SAMPLE_RATE);
    let mut usable: Vec<_> = ranges
        .iter()
        .filter(|r| {
            matches!(r.sample_format(), SampleFormat::I16 | SampleFormat::F32)
                && r.min_sample_rate() <= rate
                && rate <= r.max_sample_rate()
        })
        .collect();
    usable.sort_by_key(|r| (r.channels(), r.sample_format() != SampleFormat::I16));
    let Some(range) = usable.first() else {
        let offered = ranges
            .iter()
            .map(|r| {
                format!(
                    "{}ch {:?} {}-{} Hz",
                    r.channels(),
                    r.sample_format(),
                    r.min_sample_rate().0,
                    r.max_sample_rate().0
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(DeviceError::NoFormat {
            kind: direction.noun(),
            name: name.to_owned(),
            offered,
        });
    };
    let supported = range.with_sample_rate(rate);
    Ok((supported.config(), supported.sample_format()))
}

/// Samples between a device callback and the call, bounded.
struct Pcm {
    samples: Mutex<VecDeque<i16>>,
    capacity: usize,
}

impl Pcm {
    fn new(capacity: usize) -> Arc<Pcm> {
        Arc::new(Pcm {
            samples: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        })
    }

    fn push(&self, samples: impl IntoIterator<Item = i16>) {
        let mut buffer = self.samples.lock();
        buffer.extend(samples);
        let excess = buffer.len().saturating_sub(self.capacity);
        buffer.drain(..excess);
    }
}

/// Keeps a cpal stream alive on its own thread until dropped.
struct StreamThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StreamThread {
    fn start(
        direction: Direction,
        name: &str,
        build: impl FnOnce() -> Result<cpal::Stream, String> + Send + 'static,
    ) -> Result<StreamThread, DeviceError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (stop, stopped) = mpsc::channel::<()>();
        let failure = |reason: String| DeviceError::Stream {
            kind: direction.noun(),
            name: name.to_owned(),
            reason,
        };
        let thread = std::thread::Builder::new()
            .name(format!("kh-audio-{}", direction.noun()))
            .spawn(move || {
                let stream = match build().and_then(|s| {
                    s.play().map_err(|e| e.to_string())?;
                    Ok(s)
                }) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                // Until the handle drops (or its sender does).
                let _ = stopped.recv();
                drop(stream);
            })
            .map_err(|e| failure(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(StreamThread {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(failure(e))
            }
            Err(_) => Err(failure("the audio thread ended".into())),
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A microphone delivering 48 kHz mono: the first 500 ms not taken are
/// kept, older samples dropped.
pub struct Microphone {
    name: String,
    pcm: Arc<Pcm>,
    _stream: StreamThread,
}

impl Microphone {
    /// `name` as [`devices`] lists it, or `default`.
    pub fn open(name: &str) -> Result<Microphone, DeviceError> {
        let device = find(Direction::Input, name)?;
        let (config, format) = config_for(&device, Direction::Input, name)?;
        let pcm = Pcm::new(SAMPLE_RATE as usize / 2);
        let sink = pcm.clone();
        let stream = StreamThread::start(Direction::Input, name, move || {
            build_input(&device, &config, format, sink)
        })?;
        tracing::info!(device = name, "microphone open");
        Ok(Microphone {
            name: name.to_owned(),
            pcm,
            _stream: stream,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `samples` samples if that many have arrived. A backlog beyond four
    /// such frames is cut to two: a device clock running ahead of the
    /// call's would otherwise build up delay.
    pub fn take(&self, samples: usize) -> Option<Vec<i16>> {
        let mut buffer = self.pcm.samples.lock();
        if buffer.len() > samples * 4 {
            let excess = buffer.len() - samples * 2;
            buffer.drain(..excess);
        }
        (buffer.len() >= samples).then(|| buffer.drain(..samples).collect())
    }
}

fn build_input(
    device: &cpal::Device,
    config: &StreamConfig,
    format: SampleFormat,
    pcm: Arc<Pcm>,
) -> Result<cpal::Stream, String> {
    fn typed<T: SizedSample>(
        device: &cpal::Device,
        config: &StreamConfig,
        pcm: Arc<Pcm>,
    ) -> Result<cpal::Stream, String>
    where
        i16: FromSample<T>,
    {
        let channels = usize::from(config.channels.max(1));
        device
            .build_input_stream(
                config,
                move |data: &[T], _| {
                    // Mono: the mean of the channels.
                    pcm.push(data.chunks_exact(channels).map(|frame| {
                        let sum: i32 = frame.iter().map(|s| i32::from(s.to_sample::<i16>())).sum();
                        (sum / channels as i32) as i16
                    }));
                },
                |e| tracing::warn!("microphone: {e}"),
                None,
            )
            .map_err(|e| e.to_string())
    }
    match format {
        SampleFormat::I16 => typed::<i16>(device, config, pcm),
        _ => typed::<f32>(device, config, pcm),
    }
}

/// Speakers playing 48 kHz mono: at most 200 ms queued (a late packet
/// burst is cut rather than delaying everything after it); silence when
/// nothing is queued.
pub struct Speaker {
    name: String,
    pcm: Arc<Pcm>,
    _stream: StreamThread,
}

impl Speaker {
    /// `name` as [`devices`] lists it, or `default`.
    pub fn open(name: &str) -> Result<Speaker, DeviceError> {
        let device = find(Direction::Output, name)?;
        let (config, format) = config_for(&device, Direction::Output, name)?;
        let pcm = Pcm::new(SAMPLE_RATE as usize / 5);
        let source = pcm.clone();
        let stream = StreamThread::start(Direction::Output, name, move || {
            build_output(&device, &config, format, source)
        })?;
        tracing::info!(device = name, "speaker open");
        Ok(Speaker {
            name: name.to_owned(),
            pcm,
            _stream: stream,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queue decoded samples for playing.
    pub fn play(&self, samples: &[i16]) {
        self.pcm.push(samples.iter().copied());
    }
}

fn build_output(
    device: &cpal::Device,
    config: &StreamConfig,
    format: SampleFormat,
    pcm: Arc<Pcm>,
) -> Result<cpal::Stream, String> {
    fn typed<T: SizedSample + FromSample<i16>>(
        device: &cpal::Device,
        config: &StreamConfig,
        pcm: Arc<Pcm>,
    ) -> Result<cpal::Stream, String> {
        let channels = usize::from(config.channels.max(1));
        device
            .build_output_stream(
                config,
                move |out: &mut [T], _| {
                    let mut queued = pcm.samples.lock();
                    for frame in out.chunks_exact_mut(channels) {
                        let sample = T::from_sample(queued.pop_front().unwrap_or(0));
                        frame.fill(sample);
                    }
                },
                |e| tracing::warn!("speaker: {e}"),
                None,
            )
            .map_err(|e| e.to_string())
    }
    match format {
        SampleFormat::I16 => typed::<i16>(device, config, pcm),
        _ => typed::<f32>(device, config, pcm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_the_newest_samples_within_its_bound() {
        let pcm = Pcm::new(4);
        pcm.push([1, 2, 3]);
        pcm.push([4, 5, 6]);
        assert_eq!(
            pcm.samples.lock().iter().copied().collect::<Vec<_>>(),
            [3, 4, 5, 6]
        );
    }

    #[test]
    fn an_unknown_device_is_named_with_what_there_is() {
        let error = Microphone::open("no such microphone")
            .err()
            .expect("refused");
        let text = error.to_string();
        assert!(text.contains("no such microphone"), "{text}");
    }
}
