//! Rendering without a window: the same renderer into a texture, read back.

use crate::RenderError;
use crate::gpu::{Gpu, read_texture};
use crate::overlay::AnnotationOverlay;
use crate::renderer::SlideRenderer;
use crate::view::{Adjustments, View, Viewport};
use std::time::Duration;

/// Offscreen targets are sRGB, like the window surfaces the viewer prefers.
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// Longest wait for one tile before a headless render gives up.
pub const TILE_TIMEOUT: Duration = Duration::from_secs(120);

/// A texture to draw into and read back.
pub struct Target {
    pub texture: wgpu::Texture,
    pub viewport: Viewport,
}

impl Target {
    pub fn new(gpu: &Gpu, viewport: Viewport) -> Result<Target, RenderError> {
        let max = gpu.device.limits().max_texture_dimension_2d;
        if viewport.width == 0
            || viewport.height == 0
            || viewport.width > max
            || viewport.height > max
        {
            return Err(RenderError::Limit(format!(
                "a {}x{} target is outside what this GPU draws (1..={max} per side)",
                viewport.width, viewport.height
            )));
        }
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen"),
            size: wgpu::Extent3d {
                width: viewport.width,
                height: viewport.height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        Ok(Target { texture, viewport })
    }

    /// Draw one frame (uploading whatever tiles have arrived).
    pub fn draw(
        &self,
        gpu: &Gpu,
        renderer: &mut SlideRenderer,
        view: &View,
        adjustments: &Adjustments,
    ) {
        self.draw_with(gpu, renderer, &mut [], view, adjustments);
    }

    /// Draw one frame with annotation overlays over the slide, in order.
    pub fn draw_with(
        &self,
        gpu: &Gpu,
        renderer: &mut SlideRenderer,
        overlays: &mut [AnnotationOverlay],
        view: &View,
        adjustments: &Adjustments,
    ) {
        renderer.prepare_target(&gpu.device, FORMAT);
        for o in overlays.iter_mut() {
            o.prepare_target(&gpu.device, FORMAT);
            o.prepare(&gpu.queue, view, self.viewport);
        }
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        renderer.prepare(&gpu.queue, &mut encoder, view, self.viewport, adjustments);
        let target_view = self.texture.create_view(&Default::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("slide"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            renderer.draw(&mut pass, FORMAT);
            for o in overlays.iter() {
                o.draw(&mut pass, FORMAT);
            }
        }
        gpu.queue.submit([encoder.finish()]);
    }

    /// Draw frames until every visible tile of the drawn level is in, then
    /// read the result: exactly what a window showing `view` ends up with.
    pub fn render_complete(
        &self,
        gpu: &Gpu,
        renderer: &mut SlideRenderer,
        view: &View,
        adjustments: &Adjustments,
    ) -> Result<Vec<u8>, RenderError> {
        self.render_complete_with(gpu, renderer, &mut [], view, adjustments)
    }

    /// [`Self::render_complete`] with annotation overlays drawn over it.
    pub fn render_complete_with(
        &self,
        gpu: &Gpu,
        renderer: &mut SlideRenderer,
        overlays: &mut [AnnotationOverlay],
        view: &View,
        adjustments: &Adjustments,
    ) -> Result<Vec<u8>, RenderError> {
        loop {
            self.draw_with(gpu, renderer, overlays, view, adjustments);
            if renderer.is_complete() {
                break;
            }
            if !renderer.wait_for_tile(TILE_TIMEOUT) {
                let stats = renderer.stats();
                return Err(RenderError::Incomplete(format!(
                    "{} of {} visible tiles arrived, and no more are coming within {} s",
                    stats.visible_resident,
                    stats.visible_tiles,
                    TILE_TIMEOUT.as_secs()
                )));
            }
        }
        self.read(gpu)
    }

    pub fn read(&self, gpu: &Gpu) -> Result<Vec<u8>, RenderError> {
        read_texture(gpu, &self.texture)
    }
}
