//! VP8 and VP9 through libvpx (the WebRTC reference implementation), set up for real-time calls: one-pass CBR,
//! no lookahead, error-resilient, keyframes on request.
//!
//! All `unsafe` in the crate is here, against libvpx's documented contract:
//! a context is initialised once, used from one thread at a time (the types
//! are `Send`, not `Sync`), and destroyed once on drop; images are wrapped
//! around memory that outlives the call that reads them.

use crate::codec::{EncodedFrame, EncoderConfig, FrameMismatch, VideoCodec, check_frame};
use crate::frame::{ColourInfo, ColourMatrix, ColourRange, PixelLayout, VideoFrame, chroma_size};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::c_int;
use vpx_sys as ffi;

#[derive(Debug, thiserror::Error)]
pub enum VpxError {
    #[error("libvpx {what}: {message}")]
    Call { what: &'static str, message: String },
    #[error(transparent)]
    Frame(#[from] FrameMismatch),
    #[error("{} is not a libvpx codec", .0.mime())]
    NotVpx(VideoCodec),
}

fn check(
    what: &'static str,
    ctx: *mut ffi::vpx_codec_ctx_t,
    err: ffi::vpx_codec_err_t,
) -> Result<(), VpxError> {
    if err == ffi::vpx_codec_err_t::VPX_CODEC_OK {
        return Ok(());
    }
    // SAFETY: both return static or context-owned NUL-terminated strings.
    let message = unsafe {
        let text = if ctx.is_null() {
            ffi::vpx_codec_err_to_string(err)
        } else {
            ffi::vpx_codec_error(ctx)
        };
        let mut message = CStr::from_ptr(text).to_string_lossy().into_owned();
        if !ctx.is_null() {
            let detail = ffi::vpx_codec_error_detail(ctx);
            if !detail.is_null() {
                message.push_str(": ");
                message.push_str(&CStr::from_ptr(detail).to_string_lossy());
            }
        }
        message
    };
    Err(VpxError::Call { what, message })
}

pub struct VpxEncoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    cfg: Box<ffi::vpx_codec_enc_cfg_t>,
    config: EncoderConfig,
    pts: i64,
    force_keyframe: bool,
}

// SAFETY: the context is only touched through &mut self.
unsafe impl Send for VpxEncoder {}

impl VpxEncoder {
    pub fn new(config: EncoderConfig) -> Result<VpxEncoder, VpxError> {
        // SAFETY: the interface functions return static descriptors.
        let iface = unsafe {
            match config.codec {
                VideoCodec::Vp8 => ffi::vpx_codec_vp8_cx(),
                VideoCodec::Vp9 => ffi::vpx_codec_vp9_cx(),
                other => return Err(VpxError::NotVpx(other)),
            }
        };
        // SAFETY: vpx_codec_enc_config_default fills the whole struct.
        let mut cfg: Box<ffi::vpx_codec_enc_cfg_t> = unsafe {
            let mut cfg = Box::new(MaybeUninit::<ffi::vpx_codec_enc_cfg_t>::zeroed());
            check(
                "default encoder config",
                std::ptr::null_mut(),
                ffi::vpx_codec_enc_config_default(iface, cfg.as_mut_ptr(), 0),
            )?;
            Box::from_raw(Box::into_raw(cfg).cast())
        };
        cfg.g_w = config.width;
        cfg.g_h = config.height;
        cfg.g_timebase = ffi::vpx_rational {
            num: 1,
            den: config.fps.max(1) as c_int,
        };
        cfg.g_threads = config.threads.max(1);
        cfg.g_lag_in_frames = 0;
        cfg.g_error_resilient = 1;
        cfg.g_pass = ffi::vpx_enc_pass::VPX_RC_ONE_PASS;
        cfg.rc_end_usage = ffi::vpx_rc_mode::VPX_CBR;
        cfg.rc_target_bitrate = config.bitrate_kbps.max(50);
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_undershoot_pct = 50;
        cfg.rc_overshoot_pct = 50;
        cfg.rc_buf_sz = 1000;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        // Dropping frames under pressure beats a growing queue in a call.
        cfg.rc_dropframe_thresh = 30;
        cfg.kf_mode = ffi::vpx_kf_mode::VPX_KF_AUTO;
        cfg.kf_max_dist = config.fps.max(1) * 4;
        // SAFETY: ctx is zeroed storage that vpx_codec_enc_init_ver
        // initialises; cfg outlives the call (libvpx copies it).
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = unsafe { Box::new(std::mem::zeroed()) };
        // SAFETY: as above: ctx and cfg are valid for the call.
        let err = unsafe {
            ffi::vpx_codec_enc_init_ver(
                &mut *ctx,
                iface,
                &*cfg,
                0,
                ffi::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        check("encoder init", std::ptr::null_mut(), err)?;
        let mut encoder = VpxEncoder {
            ctx,
            cfg,
            config,
            pts: 0,
            force_keyframe: true,
        };
        // Real-time speed: -6 on VP8 and 7 on VP9 keep 1080p30 within one
        // core's budget.
        let cpu_used = if config.codec == VideoCodec::Vp8 {
            -6
        } else {
            7
        };
        encoder.control(
            ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED as c_int,
            cpu_used,
        )?;
        if config.codec == VideoCodec::Vp8 {
            encoder.control(
                ffi::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY as c_int,
                0,
            )?;
        } else {
            encoder.control(ffi::vp8e_enc_control_id::VP9E_SET_ROW_MT as c_int, 1)?;
            encoder.control(
                ffi::vp8e_enc_control_id::VP9E_SET_AQ_MODE as c_int,
                3, // cyclic refresh: the real-time mode
            )?;
        }
        Ok(encoder)
    }

    fn control(&mut self, id: c_int, value: c_int) -> Result<(), VpxError> {
        // SAFETY: every control used here takes one int.
        let err = unsafe { ffi::vpx_codec_control_(&mut *self.ctx, id, value) };
        check("encoder control", &mut *self.ctx, err)
    }

    pub fn config(&self) -> EncoderConfig {
        self.config
    }

    /// Change the target bitrate (what congestion control asks for).
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), VpxError> {
        self.cfg.rc_target_bitrate = kbps.max(50);
        self.config.bitrate_kbps = self.cfg.rc_target_bitrate;
        // SAFETY: cfg is the configuration this context was made with.
        let err = unsafe { ffi::vpx_codec_enc_config_set(&mut *self.ctx, &*self.cfg) };
        check("set bitrate", &mut *self.ctx, err)
    }

    /// Make the next frame a keyframe (a receiver lost its reference).
    pub fn request_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// Encode one I420 frame. Returns nothing when rate control dropped it.
    pub fn encode(&mut self, frame: &VideoFrame) -> Result<Vec<EncodedFrame>, VpxError> {
        check_frame(&self.config, frame)?;
        let mut image = MaybeUninit::<ffi::vpx_image_t>::zeroed();
        let flags = if std::mem::take(&mut self.force_keyframe) {
            ffi::VPX_EFLAG_FORCE_KF as ffi::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: vpx_img_wrap points the image at frame.data, which is a
        // whole I420 frame (checked above) and outlives vpx_codec_encode;
        // libvpx only reads it.
        let err = unsafe {
            let image = ffi::vpx_img_wrap(
                image.as_mut_ptr(),
                ffi::vpx_img_fmt::VPX_IMG_FMT_I420,
                frame.width,
                frame.height,
                1,
                frame.data.as_ptr().cast_mut(),
            );
            ffi::vpx_codec_encode(
                &mut *self.ctx,
                image,
                self.pts,
                1,
                flags,
                ffi::VPX_DL_REALTIME.into(),
            )
        };
        self.pts += 1;
        check("encode", &mut *self.ctx, err)?;
        let mut out = Vec::new();
        let mut iter: ffi::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: packets stay valid until the next encode call; their
            // bytes are copied out here.
            let packet = unsafe { ffi::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if packet.is_null() {
                break;
            }
            // SAFETY: non-null: a packet libvpx keeps valid until the next
            // encode call; a frame packet's buffer holds `sz` bytes, copied
            // out before then.
            unsafe {
                if (*packet).kind != ffi::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let f = (*packet).data.frame;
                let bytes = std::slice::from_raw_parts(f.buf.cast::<u8>(), f.sz as usize);
                out.push(EncodedFrame {
                    data: bytes.to_vec(),
                    keyframe: f.flags & ffi::VPX_FRAME_IS_KEY != 0,
                });
            }
        }
        Ok(out)
    }
}

impl Drop for VpxEncoder {
    fn drop(&mut self) {
        // SAFETY: initialised in new, destroyed once.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

pub struct VpxDecoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    codec: VideoCodec,
}

// SAFETY: the context is only touched through &mut self.
unsafe impl Send for VpxDecoder {}

impl VpxDecoder {
    pub fn new(codec: VideoCodec, threads: u32) -> Result<VpxDecoder, VpxError> {
        // SAFETY: static interface descriptors; ctx is zeroed storage that
        // init fills; cfg is copied.
        unsafe {
            let iface = match codec {
                VideoCodec::Vp8 => ffi::vpx_codec_vp8_dx(),
                VideoCodec::Vp9 => ffi::vpx_codec_vp9_dx(),
                other => return Err(VpxError::NotVpx(other)),
            };
            let cfg = ffi::vpx_codec_dec_cfg_t {
                threads: threads.max(1),
                w: 0,
                h: 0,
            };
            let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(std::mem::zeroed());
            let err = ffi::vpx_codec_dec_init_ver(
                &mut *ctx,
                iface,
                &cfg,
                0,
                ffi::VPX_DECODER_ABI_VERSION as c_int,
            );
            check("decoder init", std::ptr::null_mut(), err)?;
            Ok(VpxDecoder { ctx, codec })
        }
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Decode one compressed frame into zero or more pictures. Corrupt
    /// input is an error, never a crash: libvpx validates its input (the
    /// size a frame declares is checked before, by `VideoDecoder`).
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<VideoFrame>, VpxError> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let size = u32::try_from(data.len()).map_err(|_| VpxError::Call {
            what: "decode",
            message: "frame over 4 GiB".into(),
        })?;
        // SAFETY: data is valid for size bytes during the call.
        let err = unsafe {
            ffi::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), size, std::ptr::null_mut(), 0)
        };
        check("decode", &mut *self.ctx, err)?;
        let mut out = Vec::new();
        let mut iter: ffi::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the image is owned by the decoder until the next
            // decode call; it is copied out here.
            let image = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if image.is_null() {
                break;
            }
            // SAFETY: non-null, and valid until the next decode call.
            out.push(unsafe { frame_from_image(&*image) }?);
        }
        Ok(out)
    }
}

impl Drop for VpxDecoder {
    fn drop(&mut self) {
        // SAFETY: initialised in new, destroyed once.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// Copy a decoded 8-bit 4:2:0 image into a tightly packed I420 frame.
///
/// # Safety
/// `image` must be a valid image returned by libvpx.
unsafe fn frame_from_image(image: &ffi::vpx_image_t) -> Result<VideoFrame, VpxError> {
    if image.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(VpxError::Call {
            what: "decode",
            message: format!(
                "unsupported output format {:?} (only 8-bit 4:2:0)",
                image.fmt
            ),
        });
    }
    let (w, h) = (image.d_w, image.d_h);
    let (cw, ch) = chroma_size(w, h);
    let mut data = Vec::with_capacity(VideoFrame::byte_len(w, h));
    for (plane, (pw, ph)) in [(0, (w, h)), (1, (cw, ch)), (2, (cw, ch))] {
        let stride = image.stride[plane] as isize;
        for y in 0..ph as isize {
            // SAFETY: libvpx guarantees ph rows of stride bytes, each with
            // at least pw valid bytes.
            let row = unsafe {
                std::slice::from_raw_parts(image.planes[plane].offset(y * stride), pw as usize)
            };
            data.extend_from_slice(row);
        }
    }
    let range = if image.range == ffi::vpx_color_range::VPX_CR_FULL_RANGE {
        ColourRange::Full
    } else {
        ColourRange::Limited
    };
    let matrix = match image.cs {
        ffi::vpx_color_space::VPX_CS_BT_601 | ffi::vpx_color_space::VPX_CS_SMPTE_170 => {
            ColourMatrix::Bt601
        }
        ffi::vpx_color_space::VPX_CS_BT_2020 => ColourMatrix::Bt2020,
        _ => ColourMatrix::Bt709,
    };
    Ok(VideoFrame {
        width: w,
        height: h,
        layout: PixelLayout::I420,
        colour: ColourInfo { matrix, range },
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut decoder = VpxDecoder::new(VideoCodec::Vp8, 1).expect("decoder");
        let mut seed = 7u32;
        let junk: Vec<u8> = (0..5000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        // Either refused or decoded to something; never a crash.
        let _ = decoder.decode(&junk);
        let mut encoder = VpxEncoder::new(EncoderConfig {
            codec: VideoCodec::Vp8,
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 300,
            threads: 1,
        })
        .expect("encoder");
        assert!(matches!(
            encoder.encode(&VideoFrame::filled(640, 480, 0, 0, 0)),
            Err(VpxError::Frame(FrameMismatch::Size { .. }))
        ));
    }
}
