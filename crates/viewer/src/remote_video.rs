//! The call's remote video in the viewer: encoded frames arrive from the
//! console over IPC, a decoder thread turns them into pictures (I420 or
//! NV12, as the decoder makes them), the GPU converts the latest to RGB
//! (kh-render's `VideoPlane`) and the window
//! shows it. Raw pictures never cross the link (an 8K
//! frame is 50 MB; its encoded form a few hundred kB).

use crate::app::UserEvent;
use kh_media::{VideoCodec, VideoDecoder};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use winit::event_loop::EventLoopProxy;

/// Encoded frames waiting for the decoder: a decoder that falls behind
/// drops frames and asks for a keyframe rather than showing stale ones.
const QUEUE: usize = 4;

/// A decoded picture for the window, its planes as the decoder made them
/// (I420 from libvpx and FFmpeg's software decoders, NV12 from hardware):
/// the GPU takes either, so the CPU neither converts nor interleaves.
pub struct RemotePicture {
    pub width: u32,
    pub height: u32,
    layout: kh_media::frame::PixelLayout,
    /// Luma, then the chroma as `layout` says.
    data: Vec<u8>,
    pub kr: f32,
    pub kb: f32,
    pub limited_range: bool,
}

impl RemotePicture {
    fn from_frame(frame: kh_media::VideoFrame) -> RemotePicture {
        let (kr, kb) = frame.colour.matrix.kr_kb();
        RemotePicture {
            width: frame.width,
            height: frame.height,
            layout: frame.layout,
            kr,
            kb,
            limited_range: frame.colour.range == kh_media::ColourRange::Limited,
            data: frame.data,
        }
    }

    /// The picture's planes for kh-render's video pass.
    pub fn planes(&self) -> kh_render::video::Picture<'_> {
        let luma_len = (self.width as usize) * (self.height as usize);
        let (luma, chroma) = self.data.split_at(luma_len.min(self.data.len()));
        let chroma = match self.layout {
            kh_media::frame::PixelLayout::Nv12 => kh_render::video::Chroma::Interleaved(chroma),
            kh_media::frame::PixelLayout::I420 => {
                let (u, v) = chroma.split_at(chroma.len() / 2);
                kh_render::video::Chroma::Planar { u, v }
            }
        };
        kh_render::video::Picture {
            width: self.width,
            height: self.height,
            luma,
            chroma,
            kr: self.kr,
            kb: self.kb,
            limited_range: self.limited_range,
        }
    }
}

/// What the decoder thread tells the window.
pub enum RemoteVideoEvent {
    Picture(RemotePicture),
    /// A frame could not be decoded (corrupt, or its reference was lost).
    Undecodable(String),
}

pub struct RemoteVideo {
    frames: SyncSender<(VideoCodec, Vec<u8>)>,
    /// The converted picture as egui knows it.
    pub texture: Option<egui::TextureId>,
    /// The size of the latest decoded picture.
    pub size: Option<[u32; 2]>,
    /// The latest decoded picture, not yet on the GPU.
    pub pending: Option<RemotePicture>,
    /// Coded frames handed to the decoder.
    pub received: u64,
    /// Pictures out of the decoder.
    pub decoded: u64,
    /// Pictures drawn.
    pub shown: u64,
    /// Pictures a newer one replaced before they were drawn.
    pub late: u64,
    /// Frames that could not be shown: undecodable, or the decoder behind.
    pub dropped: u64,
    pub problem: Option<String>,
}

impl RemoteVideo {
    /// The decoder thread, refusing pictures over `limit`.
    pub fn start(
        proxy: EventLoopProxy<UserEvent>,
        limit: kh_media::PictureLimit,
    ) -> std::io::Result<RemoteVideo> {
        let (frames, queue) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("kh-remote-video".into())
            .spawn(move || decode_loop(&queue, limit, &proxy))?;
        Ok(RemoteVideo {
            frames,
            texture: None,
            size: None,
            pending: None,
            received: 0,
            decoded: 0,
            shown: 0,
            late: 0,
            dropped: 0,
            problem: None,
        })
    }

    /// Queues an encoded frame; `false` when it was dropped (the decoder is
    /// behind, or `codec` is not one we decode).
    pub fn push(&mut self, codec: &str, data: Vec<u8>) -> bool {
        let Some(codec) = VideoCodec::from_mime(codec) else {
            self.dropped += 1;
            self.problem = Some(format!(
                "remote video in {codec}, which this viewer cannot decode"
            ));
            return false;
        };
        match self.frames.try_send((codec, data)) {
            Ok(()) => {
                self.received += 1;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped += 1;
                false
            }
        }
    }
}

fn decode_loop(
    queue: &Receiver<(VideoCodec, Vec<u8>)>,
    limit: kh_media::PictureLimit,
    proxy: &EventLoopProxy<UserEvent>,
) {
    let mut decoder: Option<VideoDecoder> = None;
    // Ends when the window drops its `RemoteVideo`.
    while let Ok((codec, data)) = queue.recv() {
        if decoder.as_ref().is_none_or(|d| d.codec() != codec) {
            decoder = match VideoDecoder::preferring_hardware_with_limit(codec, 2, limit) {
                Ok(d) => Some(d),
                Err(e) => {
                    let _ = proxy.send_event(UserEvent::RemoteVideo(
                        RemoteVideoEvent::Undecodable(format!("{}: {e}", codec.mime())),
                    ));
                    continue;
                }
            };
        }
        let Some(d) = decoder.as_mut() else {
            continue;
        };
        let event = match d.decode(&data) {
            // The latest picture only: the window shows one at a time.
            Ok(frames) => match frames.into_iter().last() {
                Some(frame) => RemoteVideoEvent::Picture(RemotePicture::from_frame(frame)),
                None => continue,
            },
            Err(e) => RemoteVideoEvent::Undecodable(e.to_string()),
        };
        if proxy.send_event(UserEvent::RemoteVideo(event)).is_err() {
            return;
        }
    }
}
