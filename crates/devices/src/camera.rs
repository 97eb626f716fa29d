//! The workstation's camera, through V4L2 on Linux (the `v4l` crate: the
//! kernel's capture API with memory-mapped buffers), as I420 frames for
//! calls.
//!
//! A camera is opened at the mode nearest what the call asks for: the
//! smallest size that covers the request (or the largest there is), then
//! the frame rate, then the layout cheapest to convert (4:2:0, packed
//! 4:2:2, MJPEG, RGB). Pictures are converted on the camera's own thread
//! and only the newest is kept: a slow encoder skips frames, it never
//! queues them, and a camera that stops delivering never grows memory.
//!
//! Other platforms list no cameras and refuse to open one by name (their
//! capture APIs are not wired yet).

use kh_media::VideoFrame;
use kh_media::raw::{RawError, RawFormat};
use parking_lot::{Condvar, Mutex};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A camera the machine has, with what it can deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraInfo {
    /// `/dev/videoN`.
    pub path: PathBuf,
    /// What the driver calls it (the USB product name for UVC cameras).
    pub name: String,
    pub driver: String,
    /// Where it hangs (`usb-0000:00:14.0-1`, `platform:vivid-000`).
    pub bus: String,
    pub modes: Vec<CameraMode>,
}

/// One layout, size and rate a camera offers.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraMode {
    /// The V4L2 four-character code (`YUYV`, `MJPG`, …).
    pub fourcc: String,
    /// How we read it; `None` for layouts we do not convert.
    pub format: Option<RawFormat>,
    pub width: u32,
    pub height: u32,
    /// The highest rate at this size; 0 when the driver does not say.
    pub fps: f64,
}

impl std::fmt::Display for CameraMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{}", self.fourcc, self.width, self.height)?;
        if self.fps > 0.0 {
            write!(f, " @ {:.4} fps", self.fps)?;
        }
        Ok(())
    }
}

/// What a call wants from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraRequest {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("no camera named {name:?}; this machine has: {available}")]
    NotFound { name: String, available: String },
    #[error("no camera found (no /dev/video* that can capture)")]
    NoCamera,
    #[error("camera {path}: {what}: {source}")]
    Device {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("camera {path} offers no layout Kakehashi reads (it has {offered})")]
    NoUsableMode { path: String, offered: String },
    #[error("camera {path} was asked for {asked} and set {got}")]
    ModeRefused {
        path: String,
        asked: String,
        got: String,
    },
    #[error("camera {path}: {source}")]
    Picture {
        path: String,
        #[source]
        source: RawError,
    },
    #[error("camera {path}: the V4L2 library failed on what the driver reported ({what})")]
    Library { path: String, what: String },
    #[error("camera {path} stopped: {why}")]
    Stopped { path: String, why: String },
    #[error("camera capture is built for Linux (V4L2) only so far")]
    Unsupported,
}

/// The mode to open for `want`: the smallest size covering the request
/// (else the largest offered), then the rate (the request met, else the
/// fastest), then the cheapest layout to convert. Modes we cannot read are
/// never chosen.
pub fn choose_mode(offered: &[CameraMode], want: CameraRequest) -> Option<CameraMode> {
    let covers = |m: &CameraMode| m.width >= want.width && m.height >= want.height;
    let area = |m: &CameraMode| u64::from(m.width) * u64::from(m.height);
    // Unknown rates are taken at their word: the driver will say on open.
    let meets_rate = |m: &CameraMode| m.fps == 0.0 || m.fps + 0.5 >= f64::from(want.fps);
    offered
        .iter()
        .filter(|m| m.format.is_some())
        .min_by(|a, b| {
            let size_rank = |m: &CameraMode| {
                if covers(m) {
                    (0, area(m) as i128)
                } else {
                    (1, -(area(m) as i128))
                }
            };
            // Past the request a faster mode is no better; short of it,
            // the faster the better.
            let rate_rank = |m: &CameraMode| {
                if meets_rate(m) {
                    (false, 0)
                } else {
                    (true, -(m.fps * 1000.0) as i64)
                }
            };
            let format_rank = |m: &CameraMode| m.format.map_or(u8::MAX, RawFormat::preference);
            (size_rank(a), rate_rank(a), format_rank(a)).cmp(&(
                size_rank(b),
                rate_rank(b),
                format_rank(b),
            ))
        })
        .cloned()
}

/// The cameras this machine has, by path (capture nodes only: a UVC
/// camera's metadata node is skipped).
pub fn cameras() -> Vec<CameraInfo> {
    #[cfg(target_os = "linux")]
    {
        v4l2::cameras()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// The newest converted picture, handed from the capture thread.
#[derive(Default)]
struct Latest {
    frame: Option<VideoFrame>,
    /// Pictures converted since the camera opened.
    captured: u64,
    /// Pictures replaced before anyone took them.
    overwritten: u64,
    /// Why capture stopped, if it did.
    error: Option<String>,
}

/// What the capture thread hands over: the newest picture (older ones are
/// dropped), a wake-up for the reader, and the stop flag.
struct NewestPicture {
    latest: Mutex<Latest>,
    fresh: Condvar,
    stop: AtomicBool,
}

/// An open camera: capture runs on its own thread until this is dropped.
pub struct Camera {
    info: CameraInfo,
    mode: CameraMode,
    shared: Arc<NewestPicture>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the camera has done since it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CameraCounters {
    pub captured: u64,
    pub overwritten: u64,
}

impl Camera {
    /// Opens `device` (`default`: the first camera; a `/dev/video*` path;
    /// or a camera's name as [`cameras`] gives it) at the mode nearest
    /// `want`, and starts capturing.
    pub fn open(device: &str, want: CameraRequest) -> Result<Camera, CameraError> {
        #[cfg(target_os = "linux")]
        {
            let info = find(device)?;
            v4l2::open(info, want)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (device, want);
            Err(CameraError::Unsupported)
        }
    }

    pub fn info(&self) -> &CameraInfo {
        &self.info
    }

    /// The mode the driver set.
    pub fn mode(&self) -> &CameraMode {
        &self.mode
    }

    pub fn counters(&self) -> CameraCounters {
        let latest = self.shared.latest.lock();
        CameraCounters {
            captured: latest.captured,
            overwritten: latest.overwritten,
        }
    }

    /// The newest picture not yet taken, waiting up to `timeout` for one;
    /// `Ok(None)` when none came in time. Capture that stopped (the camera
    /// unplugged, a driver error) is an error naming why.
    pub fn next_frame(&self, timeout: Duration) -> Result<Option<VideoFrame>, CameraError> {
        let deadline = Instant::now() + timeout;
        let mut latest = self.shared.latest.lock();
        loop {
            if let Some(frame) = latest.frame.take() {
                return Ok(Some(frame));
            }
            if let Some(why) = &latest.error {
                return Err(CameraError::Stopped {
                    path: self.info.path.display().to_string(),
                    why: why.clone(),
                });
            }
            if self
                .shared
                .fresh
                .wait_until(&mut latest, deadline)
                .timed_out()
            {
                return Ok(latest.frame.take());
            }
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A camera kept for a call: when capture stops (the camera unplugged, a
/// driver error) the call goes on with black pictures of the same size,
/// says why, and the camera is opened again every [`LiveCamera::RETRY`]
/// — by what the call asked for, then by the camera's name, since a USB
/// camera plugged back in may come back as another `/dev/videoN`.
pub struct LiveCamera {
    device: String,
    want: CameraRequest,
    camera: Option<Camera>,
    name: String,
    /// The size of the last picture, for the black ones.
    size: Option<(u32, u32)>,
    /// Why capture stopped, and when it was last tried again.
    lost: Option<(String, Instant)>,
    reopened: u64,
}

impl LiveCamera {
    /// How often a lost camera is looked for again.
    pub const RETRY: Duration = Duration::from_secs(2);

    /// Opens the camera; a camera that cannot be opened at the start is
    /// the caller's error to report.
    pub fn open(device: &str, want: CameraRequest) -> Result<LiveCamera, CameraError> {
        let camera = Camera::open(device, want)?;
        Ok(LiveCamera {
            device: device.to_string(),
            want,
            name: camera.info().name.clone(),
            camera: Some(camera),
            size: None,
            lost: None,
            reopened: 0,
        })
    }

    /// The camera, its path and its mode, or what was lost.
    pub fn describe(&self) -> String {
        match &self.camera {
            Some(camera) => format!(
                "camera {} ({}) {}",
                camera.info().name,
                camera.info().path.display(),
                camera.mode()
            ),
            None => format!("camera {} (lost)", self.name),
        }
    }

    /// Why the camera gives no pictures now; `None` while it does.
    pub fn problem(&self) -> Option<&str> {
        self.lost.as_ref().map(|(why, _)| why.as_str())
    }

    /// Times the camera was opened again after it was lost.
    pub fn reopened(&self) -> u64 {
        self.reopened
    }

    /// The newest picture, as [`Camera::next_frame`]; while the camera is
    /// lost, a black picture at once (the caller keeps the pace).
    pub fn next_frame(&mut self, timeout: Duration) -> Option<VideoFrame> {
        if self.camera.is_none() {
            self.retry();
        }
        let Some(camera) = &self.camera else {
            return self
                .size
                .map(|(width, height)| VideoFrame::filled(width, height, 16, 128, 128));
        };
        match camera.next_frame(timeout) {
            Ok(frame) => {
                if let Some(frame) = &frame {
                    self.size = Some((frame.width, frame.height));
                }
                frame
            }
            Err(e) => {
                tracing::warn!("{e}; trying again every {} s", Self::RETRY.as_secs());
                // Closing it now frees the device for the next open.
                self.camera = None;
                self.lost = Some((e.to_string(), Instant::now()));
                self.next_frame(Duration::ZERO)
            }
        }
    }

    fn retry(&mut self) {
        let Some((why, tried)) = &self.lost else {
            return;
        };
        if tried.elapsed() < Self::RETRY {
            return;
        }
        let again =
            Camera::open(&self.device, self.want).or_else(|_| Camera::open(&self.name, self.want));
        match again {
            Ok(camera) => {
                tracing::info!(
                    "camera {} is back at {} after: {why}",
                    self.name,
                    camera.info().path.display()
                );
                self.camera = Some(camera);
                self.lost = None;
                self.reopened += 1;
            }
            Err(e) => {
                tracing::debug!("camera {}: not back yet: {e}", self.name);
                self.lost = Some((why.clone(), Instant::now()));
            }
        }
    }
}

/// The camera `device` names (`default`, a path, or a name) among those
/// the machine has.
pub fn find(device: &str) -> Result<CameraInfo, CameraError> {
    let all = cameras();
    let found = if device.is_empty() || device == "default" {
        all.first().cloned()
    } else {
        all.iter()
            .find(|c| c.path == std::path::Path::new(device))
            .or_else(|| all.iter().find(|c| c.name.eq_ignore_ascii_case(device)))
            .cloned()
    };
    match found {
        Some(info) => Ok(info),
        None if all.is_empty() && (device.is_empty() || device == "default") => {
            Err(CameraError::NoCamera)
        }
        None => Err(CameraError::NotFound {
            name: device.to_string(),
            available: if all.is_empty() {
                "none".into()
            } else {
                all.iter()
                    .map(|c| format!("{} ({})", c.name, c.path.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

#[cfg(target_os = "linux")]
mod v4l2 {
    use super::*;
    use kh_media::raw::RawConverter;
    use kh_media::{ColourInfo, ColourMatrix, ColourRange};
    use v4l::buffer::Type;
    use v4l::capability::Flags;
    use v4l::format::{Colorspace, Quantization};
    use v4l::frameinterval::FrameIntervalEnum;
    use v4l::framesize::FrameSizeEnum;
    use v4l::io::traits::CaptureStream;
    use v4l::video::Capture;
    use v4l::video::capture::Parameters;
    use v4l::{Device, Format, FourCC};

    /// Buffers the driver fills in turn: enough that a slow conversion
    /// does not make it drop, few enough to keep the newest picture new.
    const BUFFERS: u32 = 4;
    /// How long one wait for a picture lasts before the thread looks at
    /// its stop flag again.
    const POLL: Duration = Duration::from_millis(250);
    /// A driver that delivers nothing for this long has stalled.
    const STALLED: Duration = Duration::from_secs(5);

    /// The v4l crate turns some driver strings and enum values into panics
    /// (`unwrap` on UTF-8, `expect` on unknown colorspaces); a camera with
    /// an odd name must not take the process down, so each call into it
    /// that reads driver data is caught and named.
    fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|_| format!("{what} panicked in the v4l crate"))
    }

    pub(super) fn cameras() -> Vec<CameraInfo> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir("/dev")
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("video"))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        // video2 before video10.
        paths.sort_by_key(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            (name.len(), name.into_owned())
        });
        paths
            .into_iter()
            .filter_map(|path| match guarded("probing", || probe(&path)) {
                Ok(Ok(Some(info))) => Some(info),
                Ok(Ok(None)) => None,
                Ok(Err(e)) => {
                    tracing::debug!("camera {}: {e}", path.display());
                    None
                }
                Err(e) => {
                    tracing::warn!("camera {}: {e}", path.display());
                    None
                }
            })
            .collect()
    }

    fn probe(path: &std::path::Path) -> std::io::Result<Option<CameraInfo>> {
        let device = Device::with_path(path)?;
        let caps = device.query_caps()?;
        if !caps.capabilities.contains(Flags::VIDEO_CAPTURE)
            || !caps.capabilities.contains(Flags::STREAMING)
        {
            return Ok(None);
        }
        Ok(Some(CameraInfo {
            path: path.to_path_buf(),
            name: caps.card,
            driver: caps.driver,
            bus: caps.bus,
            modes: modes(&device, None),
        }))
    }

    /// Every layout, size and best rate the device offers. Stepwise sizes
    /// give their largest, and `want`'s size fitted to their steps.
    fn modes(device: &Device, want: Option<CameraRequest>) -> Vec<CameraMode> {
        let mut out = Vec::new();
        for description in device.enum_formats().unwrap_or_default() {
            let fourcc = description.fourcc;
            let format = RawFormat::from_fourcc(&fourcc.repr);
            let name = String::from_utf8_lossy(&fourcc.repr).into_owned();
            let mut sizes = Vec::new();
            for size in device.enum_framesizes(fourcc).unwrap_or_default() {
                match size.size {
                    FrameSizeEnum::Discrete(d) => sizes.push((d.width, d.height)),
                    FrameSizeEnum::Stepwise(s) => {
                        sizes.push((s.max_width, s.max_height));
                        if let Some(want) = want {
                            let fit = |v: u32, min: u32, max: u32, step: u32| {
                                let v = v.clamp(min, max);
                                min + (v - min) / step.max(1) * step.max(1)
                            };
                            sizes.push((
                                fit(want.width, s.min_width, s.max_width, s.step_width),
                                fit(want.height, s.min_height, s.max_height, s.step_height),
                            ));
                        }
                    }
                }
            }
            for (width, height) in sizes {
                let fps = device
                    .enum_frameintervals(fourcc, width, height)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| match i.interval {
                        FrameIntervalEnum::Discrete(f) => rate(f.numerator, f.denominator),
                        FrameIntervalEnum::Stepwise(s) => rate(s.min.numerator, s.min.denominator),
                    })
                    .fold(0.0, f64::max);
                out.push(CameraMode {
                    fourcc: name.clone(),
                    format,
                    width,
                    height,
                    fps,
                });
            }
        }
        out
    }

    /// Frames per second of an interval of `numerator`/`denominator` s.
    fn rate(numerator: u32, denominator: u32) -> f64 {
        if numerator == 0 {
            0.0
        } else {
            f64::from(denominator) / f64::from(numerator)
        }
    }

    fn colour_of(format: &Format) -> ColourInfo {
        let matrix = match format.colorspace {
            Colorspace::Rec709 => ColourMatrix::Bt709,
            Colorspace::Rec2020 => ColourMatrix::Bt2020,
            // sRGB, JPEG, SMPTE 170M and the defaults all imply BT.601
            // Y'CbCr in V4L2.
            _ => ColourMatrix::Bt601,
        };
        let range = match (format.quantization, format.colorspace) {
            (Quantization::FullRange, _) | (Quantization::Default, Colorspace::JPEG) => {
                ColourRange::Full
            }
            _ => ColourRange::Limited,
        };
        ColourInfo { matrix, range }
    }

    pub(super) fn open(info: CameraInfo, want: CameraRequest) -> Result<Camera, CameraError> {
        let path = info.path.display().to_string();
        let device_error = |what: &'static str| {
            let path = path.clone();
            move |source| CameraError::Device { path, what, source }
        };
        let library = |what: String| CameraError::Library {
            path: path.clone(),
            what,
        };
        let device = Device::with_path(&info.path).map_err(device_error("opening"))?;
        let offered = guarded("listing modes", || modes(&device, Some(want))).map_err(library)?;
        let Some(chosen) = choose_mode(&offered, want) else {
            let mut fourccs: Vec<&str> = offered.iter().map(|m| m.fourcc.as_str()).collect();
            fourccs.dedup();
            return Err(CameraError::NoUsableMode {
                path,
                offered: if fourccs.is_empty() {
                    "nothing".into()
                } else {
                    fourccs.join(", ")
                },
            });
        };
        let mut repr = [0u8; 4];
        repr.copy_from_slice(&chosen.fourcc.as_bytes()[..4]);
        let asked = Format::new(chosen.width, chosen.height, FourCC::new(&repr));
        let set = guarded("setting the format", || device.set_format(&asked))
            .map_err(library)?
            .map_err(device_error("setting the format"))?;
        if set.fourcc != asked.fourcc || (set.width, set.height) != (chosen.width, chosen.height) {
            return Err(CameraError::ModeRefused {
                path,
                asked: chosen.to_string(),
                got: format!("{} {}x{}", set.fourcc, set.width, set.height),
            });
        }
        // The rate is a wish: some drivers have no rate control at all.
        let fps = match guarded("setting the rate", || {
            device.set_params(&Parameters::with_fps(want.fps.max(1)))
        }) {
            Ok(Ok(params)) => rate(params.interval.numerator, params.interval.denominator),
            _ => chosen.fps,
        };
        let mode = CameraMode { fps, ..chosen };
        let shared = Arc::new(NewestPicture {
            latest: Mutex::new(Latest::default()),
            fresh: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let format = mode.format.ok_or(CameraError::Unsupported)?;
        let colour = colour_of(&set);
        let geometry = (set.width, set.height, set.stride as usize);
        let capture = shared.clone();
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("kh-camera".into())
            .spawn(move || {
                let outcome = guarded("capturing", || {
                    capture_loop(&device, &capture, format, geometry, colour, &thread_path)
                });
                let error = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(e) => Some(e),
                };
                if let Some(error) = error {
                    tracing::warn!("camera {thread_path}: {error}");
                    capture.latest.lock().error = Some(error);
                    capture.fresh.notify_all();
                }
            })
            .map_err(device_error("starting the capture thread"))?;
        tracing::info!(camera = %info.name, %mode, "camera open");
        Ok(Camera {
            info,
            mode,
            shared,
            thread: Some(thread),
        })
    }

    fn capture_loop(
        device: &Device,
        shared: &NewestPicture,
        format: RawFormat,
        (width, height, stride): (u32, u32, usize),
        colour: ColourInfo,
        path: &str,
    ) -> Result<(), String> {
        let mut stream = v4l::io::mmap::Stream::with_buffers(device, Type::VideoCapture, BUFFERS)
            .map_err(|e| format!("mapping capture buffers: {e}"))?;
        stream.set_timeout(POLL);
        let mut converter = RawConverter::default();
        let mut last_picture = Instant::now();
        while !shared.stop.load(Ordering::Relaxed) {
            let (bytes, meta) = match stream.next() {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    if last_picture.elapsed() > STALLED {
                        return Err(format!(
                            "no picture for {} s: the camera stalled",
                            STALLED.as_secs()
                        ));
                    }
                    continue;
                }
                Err(e) => return Err(format!("capturing: {e}")),
            };
            last_picture = Instant::now();
            // Drivers report how much of the buffer holds the picture;
            // some leave it 0 for fixed-size layouts.
            let used = match meta.bytesused as usize {
                0 => bytes.len(),
                n => n.min(bytes.len()),
            };
            if meta.flags.contains(v4l::buffer::Flags::ERROR) {
                tracing::debug!("camera {path}: a picture flagged corrupt was skipped");
                continue;
            }
            let frame =
                match converter.convert(format, width, height, stride, &bytes[..used], colour) {
                    Ok(frame) => frame,
                    Err(e) => {
                        // One torn MJPEG picture is not the end of the call.
                        tracing::debug!("camera {path}: {e}");
                        continue;
                    }
                };
            let mut latest = shared.latest.lock();
            if latest.frame.replace(frame).is_some() {
                latest.overwritten += 1;
            }
            latest.captured += 1;
            drop(latest);
            shared.fresh.notify_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(fourcc: &str, width: u32, height: u32, fps: f64) -> CameraMode {
        CameraMode {
            fourcc: fourcc.into(),
            format: RawFormat::from_fourcc(fourcc.as_bytes().try_into().expect("4 bytes")),
            width,
            height,
            fps,
        }
    }

    /// What a typical USB camera offers: uncompressed only at small sizes
    /// or low rates, MJPEG up to 1080p30.
    fn usb_camera() -> Vec<CameraMode> {
        vec![
            mode("YUYV", 640, 480, 30.0),
            mode("YUYV", 1280, 720, 10.0),
            mode("YUYV", 1920, 1080, 5.0),
            mode("MJPG", 640, 480, 30.0),
            mode("MJPG", 1280, 720, 30.0),
            mode("MJPG", 1920, 1080, 30.0),
            mode("H264", 1920, 1080, 30.0),
        ]
    }

    fn want(width: u32, height: u32, fps: u32) -> CameraRequest {
        CameraRequest { width, height, fps }
    }

    #[test]
    fn the_rate_outranks_the_layout_and_the_size_outranks_both() {
        let modes = usb_camera();
        // 720p30: only MJPEG has the rate.
        assert_eq!(
            choose_mode(&modes, want(1280, 720, 30)),
            Some(mode("MJPG", 1280, 720, 30.0))
        );
        // 720p at 10 fps: uncompressed has it, and is cheaper.
        assert_eq!(
            choose_mode(&modes, want(1280, 720, 10)),
            Some(mode("YUYV", 1280, 720, 10.0))
        );
        // 640x360 is covered best by 640x480.
        assert_eq!(
            choose_mode(&modes, want(640, 360, 30)),
            Some(mode("YUYV", 640, 480, 30.0))
        );
        // 4K: nothing covers it, so the largest; H.264 is never chosen.
        assert_eq!(
            choose_mode(&modes, want(3840, 2160, 30)),
            Some(mode("MJPG", 1920, 1080, 30.0))
        );
    }

    #[test]
    fn a_camera_with_nothing_we_read_has_no_mode() {
        assert_eq!(
            choose_mode(&[mode("H264", 1920, 1080, 30.0)], want(1920, 1080, 30)),
            None
        );
        assert_eq!(choose_mode(&[], want(640, 480, 30)), None);
    }

    #[test]
    fn a_camera_that_is_not_there_is_named_with_those_that_are() {
        match Camera::open("/dev/no-such-camera", want(640, 480, 30)) {
            Err(CameraError::NotFound { name, .. }) => assert_eq!(name, "/dev/no-such-camera"),
            Err(CameraError::Unsupported) => {}
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("opened a camera that does not exist"),
        }
    }
}
