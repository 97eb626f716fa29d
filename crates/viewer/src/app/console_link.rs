//! What the console asks of the viewer over its socket (open, view, video,
//! screenshots) and the screenshots themselves: the viewer's side of the
//! link, apart from drawing.

use super::*;

impl App {
    pub(super) fn on_ipc(&mut self, event_loop: &ActiveEventLoop, msg: ToViewer) {
        match msg {
            ToViewer::OpenSlide { path } => self.open(PathBuf::from(path)),
            ToViewer::SetView { view } => {
                let Some(rotation) = Rotation::from_degrees(i64::from(view.rotation_degrees))
                else {
                    self.report(tr!("viewer-bad-rotation", degrees = view.rotation_degrees));
                    return;
                };
                let valid = view.zoom.is_finite()
                    && view.zoom > 0.0
                    && view.center_slide.iter().all(|c| c.is_finite());
                if !valid {
                    self.report(tr!("viewer-bad-view"));
                    return;
                }
                if let Some(doc) = &mut self.doc {
                    doc.camera.set(View {
                        center_slide: view.center_slide,
                        zoom: view
                            .zoom
                            .clamp(kh_render::view::MIN_ZOOM, kh_render::view::MAX_ZOOM),
                        rotation,
                    });
                }
                self.request_redraw();
            }
            ToViewer::Pointer { p_slide, label } => {
                self.remote_pointer = p_slide.map(|p| (p, label));
                self.request_redraw();
            }
            ToViewer::Screenshot { name } => match &self.args.screenshots {
                // Only a plain file name, only in the folder we were given:
                // the console's link must not become a way to write files.
                Some(folder) if kh_ipc::is_screenshot_name(&name) => {
                    self.pending_screenshot = Some(folder.join(name));
                    self.request_redraw();
                }
                Some(_) => self.report(tr!(
                    "viewer-screenshot-bad-name",
                    name = format!("{name:?}")
                )),
                None => self.report(tr!("viewer-screenshot-no-folder")),
            },
            ToViewer::SetLanguage { language } => {
                match kh_i18n::Language::from_tag(&language) {
                    Some(language) => kh_i18n::set_language(language),
                    None => tracing::warn!("set_language: {language:?} is not ja or en"),
                }
                self.retitle();
                self.request_redraw();
            }
            ToViewer::Ping { seq } => {
                if let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::Pong { seq });
                }
            }
            ToViewer::RemoteVideo { codec, data } => {
                if self.remote_video.is_none() {
                    let limit = self.args.picture_limit.unwrap_or_default();
                    match RemoteVideo::start(self.proxy.clone(), limit) {
                        Ok(video) => self.remote_video = Some(video),
                        Err(e) => {
                            self.report(tr!("viewer-remote-decoder", problem = e.to_string()));
                            return;
                        }
                    }
                }
                let queued = self
                    .remote_video
                    .as_mut()
                    .is_some_and(|video| video.push(&codec, data));
                if !queued && let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::KeyframeWanted);
                }
            }
            ToViewer::RemoteVideoEnded => {
                if let Some(video) = self.remote_video.take()
                    && let Some(gfx) = &mut self.gfx
                {
                    if let Some(id) = video.texture {
                        gfx.egui_renderer.free_texture(&id);
                    }
                    gfx.video_plane = None;
                }
                self.request_redraw();
            }
            ToViewer::ShowAnnotations { path } => self.open_annotations(PathBuf::from(path)),
            ToViewer::OwnAnnotations { path, author } => {
                self.keep_own_annotations(PathBuf::from(path), author)
            }
            ToViewer::Quit => event_loop.exit(),
        }
    }

    /// A decoded remote picture (or a frame that failed) from the decoder.
    pub(super) fn on_remote_video(&mut self, event: RemoteVideoEvent) {
        let Some(video) = &mut self.remote_video else {
            return;
        };
        match event {
            RemoteVideoEvent::Picture(picture) => {
                video.decoded += 1;
                let size = [picture.width, picture.height];
                let resized = video.size.replace(size) != Some(size);
                // Only the latest waits for the GPU; one not yet drawn is
                // late, and skipped.
                if video.pending.replace(picture).is_some() {
                    video.late += 1;
                }
                video.problem = None;
                self.report_remote_video(resized);
            }
            RemoteVideoEvent::Undecodable(why) => {
                video.dropped += 1;
                video.problem = Some(why);
                if let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::KeyframeWanted);
                }
            }
        }
        self.request_redraw();
    }

    /// Tells the console what the remote video is showing: when its size
    /// changed, and every 30 pictures decoded.
    fn report_remote_video(&mut self, resized: bool) {
        let (Some(video), Some(link)) = (&self.remote_video, &mut self.ipc) else {
            return;
        };
        let Some(size) = video.size else {
            return;
        };
        if resized || video.decoded % 30 == 0 {
            link.send(&FromViewer::RemoteVideoShown {
                width: size[0],
                height: size[1],
                received: video.received,
                decoded: video.decoded,
                frames: video.shown,
                late: video.late,
                dropped: video.dropped,
            });
        }
    }

    /// Where S puts a screenshot: the screenshot folder, else the working
    /// directory, under a name from the time (to the millisecond: two
    /// presses in a second must not collide, and nothing is overwritten).
    pub(super) fn screenshot_path(&self) -> PathBuf {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let name = format!("kakehashi-view-{stamp}.png");
        match &self.args.screenshots {
            Some(folder) => folder.join(name),
            None => PathBuf::from(name),
        }
    }

    pub(super) fn take_screenshot(&mut self, path: PathBuf) {
        let viewport = self.viewport();
        let (Some(gfx), Some(doc)) = (&self.gfx, &mut self.doc) else {
            return;
        };
        let pixels = Target::new(&gfx.gpu, viewport).and_then(|target| {
            target.draw(
                &gfx.gpu,
                &mut doc.renderer,
                &doc.camera.view,
                &self.adjustments,
            );
            target.read(&gfx.gpu)
        });
        let mut pixels = match pixels {
            Ok(p) => p,
            Err(e) => {
                self.report(tr!("viewer-screenshot-error", problem = e.to_string()));
                return;
            }
        };
        // Burning in the bar and encoding the PNG happen off the UI thread;
        // the result comes back as `UserEvent::ScreenshotWritten`.
        let um_per_px = doc.mpp.map(|mpp| mpp * doc.camera.view.zoom);
        let proxy = self.proxy.clone();
        let spawned = std::thread::Builder::new()
            .name("kh-screenshot".into())
            .spawn(move || {
                if let Some(um_per_px) = um_per_px {
                    scalebar::burn_in(&mut pixels, viewport.width, viewport.height, um_per_px);
                }
                let written = crate::png_file::write_rgba_new(
                    &path,
                    viewport.width,
                    viewport.height,
                    &pixels,
                )
                .map_err(|e| format!("{e:#}"));
                let _ = proxy.send_event(UserEvent::ScreenshotWritten(path, written));
            });
        if let Err(e) = spawned {
            self.report(tr!("viewer-screenshot-error", problem = e.to_string()));
        }
    }

    pub(super) fn on_screenshot_written(&mut self, path: PathBuf, written: Result<(), String>) {
        match written {
            Ok(()) => {
                self.messages.push((
                    Instant::now(),
                    tr!("viewer-saved", path = path.display().to_string()),
                ));
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::ScreenshotSaved {
                        path: path.display().to_string(),
                    });
                }
                self.request_redraw();
            }
            Err(e) => self.report(tr!(
                "viewer-screenshot-failed",
                path = path.display().to_string(),
                problem = e
            )),
        }
    }
}

/// The latest remote picture onto the GPU: its planes uploaded as decoded and
/// converted by kh-render's video pass into the texture the "Remote camera"
/// window draws (made, or remade at a new size, as pictures need).
pub(super) fn show_remote_picture(
    gfx: &mut Graphics,
    video: &mut RemoteVideo,
    picture: &RemotePicture,
) {
    let device = &gfx.gpu.device;
    let size = (picture.width, picture.height);
    let planes = picture.planes();
    let layout = planes.chroma.layout();
    if gfx
        .video_plane
        .as_ref()
        .is_none_or(|p| p.size() != size || p.layout() != layout)
    {
        match kh_render::video::VideoPlane::new(device, size.0, size.1, layout) {
            Ok(plane) => {
                let view = plane.output();
                match video.texture {
                    Some(id) => gfx.egui_renderer.update_egui_texture_from_wgpu_texture(
                        device,
                        view,
                        wgpu::FilterMode::Linear,
                        id,
                    ),
                    None => {
                        let id = gfx.egui_renderer.register_native_texture(
                            device,
                            view,
                            wgpu::FilterMode::Linear,
                        );
                        video.texture = Some(id);
                    }
                }
                gfx.video_plane = Some(plane);
            }
            Err(e) => {
                video.problem = Some(e.to_string());
                return;
            }
        }
    }
    let Some(plane) = &gfx.video_plane else {
        return;
    };
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("remote video"),
    });
    match plane.convert(&gfx.gpu.queue, &mut encoder, &planes) {
        Ok(()) => {
            gfx.gpu.queue.submit([encoder.finish()]);
            video.shown += 1;
        }
        Err(e) => video.problem = Some(e.to_string()),
    }
}
