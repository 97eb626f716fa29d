//! What `kh call` sends, at the call's edges, besides the stamped test
//! pattern and the tone (`kh_media::edge`): a video file, a recording sent
//! as coded — and, for `--echo`, what arrived, sent back. The call engine
//! cannot tell these from a camera and a microphone.

use kh_media::VideoCodec;
use kh_media::VideoFrame;
use kh_media::edge::{
    AudioSink, AudioSource, CodedFrame, CodedVideoSource, PictureSink, VideoSource,
};
use kh_media::ivf::IvfReader;
use kh_media::y4m::Y4mReader;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A video file, looped: Y4M read exactly by our own reader, anything
/// else through FFmpeg (MP4, MKV, WebM, MOV… in any codec it decodes).
/// Read on a thread of its own (FFmpeg's reader stays on the thread that
/// made it), two pictures ahead of the call.
pub struct FileSource {
    pictures: std::sync::mpsc::Receiver<Result<VideoFrame, String>>,
}

enum VideoFile {
    Y4m(Y4mReader<std::io::BufReader<std::fs::File>>),
    Ffmpeg(Box<kh_media::ffmpeg::VideoFileReader>),
}

impl FileSource {
    /// The file is opened here, so a file that cannot be read is an error
    /// before the call starts.
    pub fn open(path: &Path) -> Result<FileSource, String> {
        let (opened_tx, opened) = std::sync::mpsc::sync_channel(1);
        let (pictures_tx, pictures) = std::sync::mpsc::sync_channel(2);
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("kh-video-file".into())
            .spawn(move || {
                let mut file = match VideoFile::open(&path) {
                    Ok(file) => {
                        let _ = opened_tx.send(Ok(()));
                        file
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let picture = match file.next_frame() {
                        Ok(Some(frame)) => Ok(frame),
                        // The end: again from the start.
                        Ok(None) => match VideoFile::open(&path) {
                            Ok(again) => {
                                file = again;
                                continue;
                            }
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    };
                    let failed = picture.is_err();
                    if pictures_tx.send(picture).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| format!("starting the file's reader: {e}"))?;
        opened
            .recv()
            .map_err(|_| "the file's reader stopped".to_owned())??;
        Ok(FileSource { pictures })
    }
}

impl VideoFile {
    fn open(path: &Path) -> Result<VideoFile, String> {
        let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let is_y4m = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        if is_y4m {
            let file = std::fs::File::open(path).map_err(|e| named(&e))?;
            let reader = Y4mReader::new(std::io::BufReader::new(file)).map_err(|e| named(&e))?;
            Ok(VideoFile::Y4m(reader))
        } else {
            let reader = kh_media::ffmpeg::VideoFileReader::open(path).map_err(|e| named(&e))?;
            Ok(VideoFile::Ffmpeg(Box::new(reader)))
        }
    }

    fn next_frame(&mut self) -> Result<Option<VideoFrame>, String> {
        match self {
            VideoFile::Y4m(r) => r.next_frame().map_err(|e| e.to_string()),
            VideoFile::Ffmpeg(r) => r.next_frame().map_err(|e| e.to_string()),
        }
    }
}

impl VideoSource for FileSource {
    fn next_picture(&mut self, wait: Duration) -> Result<Option<VideoFrame>, String> {
        match self.pictures.recv_timeout(wait) {
            Ok(picture) => picture.map(Some),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err("the file's reader stopped".into())
            }
        }
    }
}

/// A recording (IVF: VP8, VP9 or AV1) sent as it was coded, at its own
/// frame rate, looped.
pub struct RecordingSource {
    path: PathBuf,
    reader: IvfReader<std::io::BufReader<std::fs::File>>,
    /// One timestamp unit.
    tick: Duration,
    started: Option<Instant>,
    /// Where the current pass over the file starts, in ticks since
    /// `started`.
    pass_start: u64,
    last: u64,
    previous_at: Option<Instant>,
}

impl RecordingSource {
    pub fn open(path: &Path) -> Result<RecordingSource, String> {
        let reader = open_ivf(path)?;
        let header = reader.header();
        if header.timebase_den == 0 || header.timebase_num == 0 {
            return Err(format!("{}: a time base of zero", path.display()));
        }
        Ok(RecordingSource {
            path: path.to_owned(),
            reader,
            tick: Duration::from_secs_f64(
                f64::from(header.timebase_num) / f64::from(header.timebase_den),
            ),
            started: None,
            pass_start: 0,
            last: 0,
            previous_at: None,
        })
    }
}

fn open_ivf(path: &Path) -> Result<IvfReader<std::io::BufReader<std::fs::File>>, String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| named(&e))?;
    IvfReader::new(std::io::BufReader::new(file)).map_err(|e| named(&e))
}

impl CodedVideoSource for RecordingSource {
    fn codec(&self) -> VideoCodec {
        self.reader.header().codec
    }

    fn size(&self) -> (u32, u32) {
        let header = self.reader.header();
        (u32::from(header.width), u32::from(header.height))
    }

    fn next_coded(&mut self) -> Result<Option<CodedFrame>, String> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let frame = loop {
            match self
                .reader
                .next_frame()
                .map_err(|e| format!("{}: {e}", self.path.display()))?
            {
                Some(frame) => break frame,
                None => {
                    self.pass_start += self.last + 1;
                    self.last = 0;
                    self.reader = open_ivf(&self.path)?;
                }
            }
        };
        self.last = frame.timestamp;
        let ticks = u32::try_from(self.pass_start + frame.timestamp).unwrap_or(u32::MAX);
        let due = started + self.tick.saturating_mul(ticks);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let at = Instant::now();
        let duration = self
            .previous_at
            .map_or(self.tick, |previous| at.duration_since(previous));
        self.previous_at = Some(at);
        Ok(Some(CodedFrame {
            data: frame.data,
            duration,
        }))
    }
}

/// What arrived, sent back (`--echo`): the newest picture, and the sound
/// at most 200 ms behind.
#[derive(Clone, Default)]
pub struct Echo {
    picture: Arc<Mutex<Option<VideoFrame>>>,
    sound: Arc<Mutex<VecDeque<i16>>>,
}

/// Sound kept for echoing, at most (200 ms at 48 kHz).
const ECHO_SAMPLES: usize = 9600;

impl Echo {
    pub fn heard(&self, pcm: &[i16]) {
        let mut sound = self.sound.lock();
        sound.extend(pcm);
        let excess = sound.len().saturating_sub(ECHO_SAMPLES);
        sound.drain(..excess);
    }

    pub fn seen(&self, picture: &VideoFrame) {
        *self.picture.lock() = Some(picture.clone());
    }
}

impl VideoSource for Echo {
    fn next_picture(&mut self, _wait: Duration) -> Result<Option<VideoFrame>, String> {
        Ok(self.picture.lock().take())
    }
}

impl AudioSource for Echo {
    fn take(&mut self, samples: usize) -> Vec<i16> {
        let mut sound = self.sound.lock();
        if sound.len() < samples {
            vec![0; samples]
        } else {
            sound.drain(..samples).collect()
        }
    }
}

impl PictureSink for Echo {
    fn picture(&mut self, picture: &VideoFrame) {
        self.seen(picture);
    }
}

impl AudioSink for Echo {
    fn play(&mut self, pcm: &[i16]) {
        self.heard(pcm);
    }
}
