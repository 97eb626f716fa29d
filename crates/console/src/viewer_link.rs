//! The console's way to the viewer process for whatever is not a request
//! of the page: the call's remote video, frame by frame as it arrives
//! (compressed: the viewer decodes and draws it), and word when it ends.
//! The viewer may be restarted or not started yet; what is sent meanwhile
//! is dropped, and a keyframe request follows when it is back.

use crate::supervisor::ViewerSupervisor;
use kh_ipc::ToViewer;
use kh_media::VideoCodec;
use kh_media::edge::CodedFrameSink;
use parking_lot::Mutex;
use std::sync::Arc;

/// Where the supervised viewer is, once it has started.
#[derive(Clone, Default)]
pub struct ViewerLink {
    viewer: Arc<Mutex<Option<ViewerSupervisor>>>,
}

impl ViewerLink {
    /// The viewer messages go to from now on (none: dropped).
    pub fn attach(&self, viewer: Option<ViewerSupervisor>) -> Option<ViewerSupervisor> {
        std::mem::replace(&mut *self.viewer.lock(), viewer)
    }

    /// The viewer, taken away (to shut it down).
    pub fn detach(&self) -> Option<ViewerSupervisor> {
        self.viewer.lock().take()
    }

    pub fn send(&self, message: &ToViewer) {
        if let Some(viewer) = self.viewer.lock().as_ref() {
            viewer.send(message);
        }
    }

    /// Whatever the page asks of the viewer, with it (or `None` when there
    /// is none).
    pub fn with<T>(&self, ask: impl FnOnce(&ViewerSupervisor) -> T) -> Option<T> {
        self.viewer.lock().as_ref().map(ask)
    }
}

/// A call's remote video, to the viewer.
pub struct ViewerVideo {
    link: ViewerLink,
}

impl ViewerVideo {
    pub fn new(link: ViewerLink) -> ViewerVideo {
        ViewerVideo { link }
    }
}

impl CodedFrameSink for ViewerVideo {
    fn frame(&mut self, codec: VideoCodec, data: &[u8]) {
        self.link.send(&ToViewer::RemoteVideo {
            codec: codec.mime().to_owned(),
            data: data.to_vec(),
        });
    }

    fn ended(&mut self) {
        self.link.send(&ToViewer::RemoteVideoEnded);
    }
}
