//! VA-API — the video engines of Intel and AMD GPUs on Linux — through
//! FFmpeg's hardware contexts: a device opened on a DRM render node, a pool
//! of GPU surfaces that pictures are uploaded into for the encoder, and the
//! decoders' VA-API path with pictures copied back to system memory.
//!
//! `ffmpeg-next` has no safe wrapper for hardware contexts, so this module
//! holds the crate's FFmpeg `unsafe`: each block says what it relies on.
//! Every reference taken here is released in a `Drop`.

use ff::ffi;
use ffmpeg_next as ff;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr;

/// Where IT can name the render node to use when a machine has several
/// GPUs (the first that opens is used otherwise).
pub const DEVICE_VARIABLE: &str = "KH_VAAPI_DEVICE";

/// A VA-API device: FFmpeg's device context on one render node.
pub struct VaapiDevice {
    /// Owned reference to the `AVHWDeviceContext` buffer.
    device: *mut ffi::AVBufferRef,
    path: PathBuf,
}

// SAFETY: the device context is reference counted with atomics and FFmpeg
// allows its use from any thread; this handle is owned, never shared.
unsafe impl Send for VaapiDevice {}

impl VaapiDevice {
    /// The device `KH_VAAPI_DEVICE` names, else the first render node that
    /// opens; the error says, node by node, why none did.
    pub fn open_default() -> Result<VaapiDevice, String> {
        let nodes = match std::env::var_os(DEVICE_VARIABLE) {
            Some(path) => vec![PathBuf::from(path)],
            None => render_nodes(Path::new("/dev/dri")),
        };
        if nodes.is_empty() {
            return Err("no GPU render node in /dev/dri (no GPU driver loaded)".to_owned());
        }
        let mut reasons = Vec::new();
        for node in nodes {
            match VaapiDevice::open(&node) {
                Ok(device) => return Ok(device),
                Err(e) => reasons.push(e),
            }
        }
        Err(reasons.join("; "))
    }

    /// VA-API on the render node at `path` (libva picks the driver).
    pub fn open(path: &Path) -> Result<VaapiDevice, String> {
        crate::ffmpeg::init();
        let name = path.display();
        if !path.exists() {
            return Err(format!("{name}: no such device"));
        }
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("{name}: a path with a NUL byte"))?;
        let mut device = ptr::null_mut();
        // SAFETY: `device` is an out-parameter FFmpeg sets only on success;
        // the path outlives the call; no options are passed.
        let status = unsafe {
            ffi::av_hwdevice_ctx_create(
                &mut device,
                ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI,
                c_path.as_ptr(),
                ptr::null_mut(),
                0,
            )
        };
        if status < 0 || device.is_null() {
            return Err(format!(
                "{name}: VA-API did not start ({}; no VA-API driver for this GPU, or no access to it)",
                ff::Error::from(status)
            ));
        }
        Ok(VaapiDevice {
            device,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new reference to the device context, for a codec context to own
    /// (FFmpeg releases it with the codec context).
    pub(crate) fn new_reference(&self) -> Result<*mut ffi::AVBufferRef, String> {
        // SAFETY: `self.device` is a live buffer reference.
        unsafe { new_buffer_reference(self.device, "the VA-API device") }
    }
}

impl Drop for VaapiDevice {
    fn drop(&mut self) {
        // SAFETY: owned reference, released once.
        unsafe { ffi::av_buffer_unref(&mut self.device) };
    }
}

/// The DRM render nodes under `dri`, in number order (`renderD128` is the
/// first GPU).
pub fn render_nodes(dri: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir(dri)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("renderD"))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.trim_start_matches("renderD").parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    nodes
}

/// A pool of NV12 GPU surfaces of one size on a device, and the upload of
/// system-memory pictures into them: what a VA-API encoder reads.
pub(crate) struct SurfacePool {
    /// Owned reference to the `AVHWFramesContext` buffer.
    frames: *mut ffi::AVBufferRef,
    /// The picture in system memory, NV12 (what every VA-API driver can
    /// upload; I420 is not).
    staging: ff::frame::Video,
}

// SAFETY: as for the device: atomically counted, owned, not shared.
unsafe impl Send for SurfacePool {}

/// Surfaces in the pool: the encoder holds its references and a few in
/// flight (FFmpeg's VA-API encoder needs a fixed pool).
const POOL_SURFACES: i32 = 16;

impl SurfacePool {
    pub(crate) fn new(
        device: &VaapiDevice,
        width: u32,
        height: u32,
    ) -> Result<SurfacePool, String> {
        // SAFETY: `device.device` is live; the frames context's fields are
        // set before `av_hwframe_ctx_init`, as FFmpeg requires, and the
        // buffer is released if initialisation fails.
        let frames = unsafe {
            let mut frames = ffi::av_hwframe_ctx_alloc(device.device);
            if frames.is_null() {
                return Err("VA-API: no memory for a surface pool".to_owned());
            }
            let context = (*frames).data as *mut ffi::AVHWFramesContext;
            (*context).format = ffi::AVPixelFormat::AV_PIX_FMT_VAAPI;
            (*context).sw_format = ffi::AVPixelFormat::AV_PIX_FMT_NV12;
            (*context).width = width as i32;
            (*context).height = height as i32;
            (*context).initial_pool_size = POOL_SURFACES;
            let status = ffi::av_hwframe_ctx_init(frames);
            if status < 0 {
                ffi::av_buffer_unref(&mut frames);
                return Err(format!(
                    "VA-API: no {width}x{height} NV12 surfaces on {} ({})",
                    device.path.display(),
                    ff::Error::from(status)
                ));
            }
            frames
        };
        Ok(SurfacePool {
            frames,
            staging: ff::frame::Video::new(ff::format::Pixel::NV12, width, height),
        })
    }

    /// A new reference to the pool, for an encoder context to own.
    pub(crate) fn new_reference(&self) -> Result<*mut ffi::AVBufferRef, String> {
        // SAFETY: `self.frames` is a live buffer reference.
        unsafe { new_buffer_reference(self.frames, "the VA-API surfaces") }
    }

    /// The NV12 staging picture, to be filled before [`SurfacePool::upload`].
    pub(crate) fn staging(&mut self) -> &mut ff::frame::Video {
        &mut self.staging
    }

    /// The staging picture copied into a free surface, returned as a
    /// frame the encoder takes.
    pub(crate) fn upload(&mut self) -> Result<ff::frame::Video, ff::Error> {
        let mut surface = ff::frame::Video::empty();
        // SAFETY: `surface` is an empty frame FFmpeg fills with a pooled
        // surface; the staging picture is allocated at the pool's size and
        // format, which is what the transfer reads.
        unsafe {
            let status = ffi::av_hwframe_get_buffer(self.frames, surface.as_mut_ptr(), 0);
            if status < 0 {
                return Err(ff::Error::from(status));
            }
            let status =
                ffi::av_hwframe_transfer_data(surface.as_mut_ptr(), self.staging.as_ptr(), 0);
            if status < 0 {
                return Err(ff::Error::from(status));
            }
        }
        Ok(surface)
    }
}

impl Drop for SurfacePool {
    fn drop(&mut self) {
        // SAFETY: owned reference, released once.
        unsafe { ffi::av_buffer_unref(&mut self.frames) };
    }
}

/// Whether FFmpeg's `decoder` can decode on a VA-API device.
pub(crate) fn decoder_has_vaapi(decoder: &ff::Codec) -> bool {
    (0..)
        .map_while(|index| {
            // SAFETY: FFmpeg returns null past the last configuration; the
            // codec pointer is a static descriptor.
            let config = unsafe { ffi::avcodec_get_hw_config(decoder.as_ptr(), index) };
            // SAFETY: non-null configurations are static.
            (!config.is_null()).then(|| unsafe { &*config })
        })
        .any(|config| {
            config.device_type == ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI
                && config.methods & ffi::AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX as i32 != 0
        })
}

/// Sets a decoder context up to decode on `device`: the context takes a
/// reference to the device, and only VA-API surfaces are accepted as output
/// (a decoder that cannot use them fails its frames instead of falling back
/// to software unseen; the caller then changes to its software decoder).
pub(crate) fn attach_decoder(
    context: &mut ff::codec::Context,
    device: &VaapiDevice,
) -> Result<(), String> {
    let reference = device.new_reference()?;
    // SAFETY: the context is not yet open; it takes ownership of the
    // reference (released by avcodec_free_context).
    unsafe {
        let raw = context.as_mut_ptr();
        (*raw).hw_device_ctx = reference;
        (*raw).get_format = Some(vaapi_surfaces_only);
    }
    Ok(())
}

/// Sets an encoder context, not yet open, to read frames from `pool`.
pub(crate) fn attach_encoder(
    encoder: &mut ff::codec::encoder::video::Video,
    pool: &SurfacePool,
) -> Result<(), String> {
    let reference = pool.new_reference()?;
    // SAFETY: the context is not yet open; it takes ownership of the
    // reference (released by avcodec_free_context).
    unsafe { (*encoder.as_mut_ptr()).hw_frames_ctx = reference };
    Ok(())
}

/// A decoder's `get_format`: VA-API surfaces when offered, else none.
unsafe extern "C" fn vaapi_surfaces_only(
    _context: *mut ffi::AVCodecContext,
    formats: *const ffi::AVPixelFormat,
) -> ffi::AVPixelFormat {
    let mut format = formats;
    // SAFETY: FFmpeg passes a list terminated by AV_PIX_FMT_NONE.
    unsafe {
        while *format != ffi::AVPixelFormat::AV_PIX_FMT_NONE {
            if *format == ffi::AVPixelFormat::AV_PIX_FMT_VAAPI {
                return *format;
            }
            format = format.add(1);
        }
    }
    ffi::AVPixelFormat::AV_PIX_FMT_NONE
}

/// A decoded picture in a GPU surface copied into system memory (NV12 as
/// the driver gives it), with its colour description and timing.
pub(crate) fn download(
    surface: &ff::frame::Video,
    into: &mut ff::frame::Video,
) -> Result<(), ff::Error> {
    // SAFETY: `into` is emptied first, so FFmpeg allocates it in the
    // surface's software format; both frames are live.
    unsafe {
        ffi::av_frame_unref(into.as_mut_ptr());
        let status = ffi::av_hwframe_transfer_data(into.as_mut_ptr(), surface.as_ptr(), 0);
        if status < 0 {
            return Err(ff::Error::from(status));
        }
        let status = ffi::av_frame_copy_props(into.as_mut_ptr(), surface.as_ptr());
        if status < 0 {
            return Err(ff::Error::from(status));
        }
    }
    Ok(())
}

/// One more reference to an FFmpeg buffer (`what` names it in the error).
///
/// # Safety
/// `buffer` must be a live buffer reference.
unsafe fn new_buffer_reference(
    buffer: *mut ffi::AVBufferRef,
    what: &str,
) -> Result<*mut ffi::AVBufferRef, String> {
    // SAFETY: the caller's promise.
    let reference = unsafe { ffi::av_buffer_ref(buffer) };
    if reference.is_null() {
        Err(format!("out of memory referencing {what}"))
    } else {
        Ok(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_nodes_are_found_in_number_order() {
        let dir = tempfile::tempdir().expect("tmp");
        for name in ["card0", "renderD129", "renderD128", "renderD200", "by-path"] {
            std::fs::write(dir.path().join(name), b"").expect("node");
        }
        let names: Vec<String> = render_nodes(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["renderD128", "renderD129", "renderD200"]);
        assert!(render_nodes(&dir.path().join("absent")).is_empty());
    }

    /// What is not a GPU is refused by libva through FFmpeg, with the
    /// device named and the reason — never a crash.
    #[test]
    fn a_device_that_is_not_a_gpu_is_refused_with_its_name() {
        let absent = VaapiDevice::open(Path::new("/dev/dri/renderD999")).err();
        let absent = absent.expect("no such node");
        assert!(
            absent.contains("/dev/dri/renderD999: no such device"),
            "{absent}"
        );

        for not_a_gpu in [Path::new("/dev/null"), Path::new("/dev/zero")] {
            let error = VaapiDevice::open(not_a_gpu).err().expect("refused");
            assert!(
                error.starts_with(&format!("{}: VA-API did not start", not_a_gpu.display())),
                "{error}"
            );
        }
    }

    #[test]
    fn decoders_with_a_vaapi_path_are_known() {
        crate::ffmpeg::init();
        for id in [ff::codec::Id::H264, ff::codec::Id::HEVC, ff::codec::Id::VP9] {
            let decoder = ff::decoder::find(id).expect("FFmpeg's decoder");
            assert!(decoder_has_vaapi(&decoder), "{id:?}");
        }
        let dav1d = ff::decoder::find_by_name("libdav1d").expect("dav1d");
        assert!(!decoder_has_vaapi(&dav1d), "dav1d is software only");
    }

    #[test]
    fn only_vaapi_surfaces_are_chosen() {
        use ffi::AVPixelFormat::*;
        let offered = [AV_PIX_FMT_YUV420P, AV_PIX_FMT_VAAPI, AV_PIX_FMT_NONE];
        let without = [AV_PIX_FMT_YUV420P, AV_PIX_FMT_NV12, AV_PIX_FMT_NONE];
        // SAFETY: NONE-terminated lists, as FFmpeg passes them.
        unsafe {
            assert_eq!(
                vaapi_surfaces_only(ptr::null_mut(), offered.as_ptr()),
                AV_PIX_FMT_VAAPI
            );
            assert_eq!(
                vaapi_surfaces_only(ptr::null_mut(), without.as_ptr()),
                AV_PIX_FMT_NONE
            );
        }
    }
}
