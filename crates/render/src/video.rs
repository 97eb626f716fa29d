//! Video pictures on the GPU: a 4:2:0 frame is uploaded plane by plane as
//! the decoder made it — NV12 (luma, one half-size plane of interleaved
//! chroma: hardware decoders) or I420 (luma, then U and V planes: libvpx,
//! FFmpeg's software decoders) — and converted to RGB by
//! `shaders/video.wgsl` into an sRGB texture that the viewer's interface
//! (or any pass) draws. 1.5 bytes per pixel cross the bus instead of 4, and
//! the CPU never touches a pixel, not even to interleave chroma: an 8K
//! frame is 50 MB as RGBA, and its chroma alone 16.6 MB.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// `shaders/common.wgsl` + `shaders/video.wgsl`.
pub const VIDEO_SHADER: &str = concat!(
    include_str!("../../../shaders/common.wgsl"),
    include_str!("../../../shaders/video.wgsl")
);

/// The texture format of [`VideoPlane::output`].
pub const VIDEO_OUTPUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// How a picture's chroma is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChromaLayout {
    /// NV12: one plane of (U, V) pairs.
    Interleaved,
    /// I420: a U plane, then a V plane.
    Planar,
}

/// A picture's chroma planes, `ceil(width/2) * ceil(height/2)` samples each.
#[derive(Debug, Clone, Copy)]
pub enum Chroma<'a> {
    /// (U, V) pairs.
    Interleaved(&'a [u8]),
    Planar {
        u: &'a [u8],
        v: &'a [u8],
    },
}

impl Chroma<'_> {
    pub fn layout(&self) -> ChromaLayout {
        match self {
            Chroma::Interleaved(_) => ChromaLayout::Interleaved,
            Chroma::Planar { .. } => ChromaLayout::Planar,
        }
    }
}

/// One 8-bit 4:2:0 picture and how to turn it into RGB.
#[derive(Debug, Clone, Copy)]
pub struct Picture<'a> {
    pub width: u32,
    pub height: u32,
    /// `width * height` luma samples.
    pub luma: &'a [u8],
    pub chroma: Chroma<'a>,
    /// Kr and Kb of the colour matrix (BT.709: 0.2126, 0.0722).
    pub kr: f32,
    pub kb: f32,
    /// Luma 16–235 and chroma 16–240 (most video), or full 0–255.
    pub limited_range: bool,
}

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Params {
    kr: f32,
    kb: f32,
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    /// 1 for planar chroma (I420), 0 for interleaved (NV12).
    planar: u32,
    _pad: [f32; 2],
}

/// The textures and pass for pictures of one size and chroma layout.
pub struct VideoPlane {
    width: u32,
    height: u32,
    layout: ChromaLayout,
    luma: wgpu::Texture,
    /// Interleaved (U, V) pairs, or the U plane.
    chroma: wgpu::Texture,
    /// The V plane (1×1 and unused for interleaved chroma).
    chroma_v: wgpu::Texture,
    output: wgpu::Texture,
    output_view: wgpu::TextureView,
    params: wgpu::Buffer,
    pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("a {width}x{height} picture is larger than this GPU's {max}-pixel textures")]
    TooLarge { width: u32, height: u32, max: u32 },
    #[error("a picture with {got:?} chroma for a plane made for {want:?} chroma")]
    WrongLayout {
        got: ChromaLayout,
        want: ChromaLayout,
    },
    #[error("the {what} plane has {got} bytes; a {width}x{height} picture needs {want}")]
    WrongPlane {
        what: &'static str,
        got: usize,
        want: usize,
        width: u32,
        height: u32,
    },
}

impl VideoPlane {
    pub fn new(
        device: &wgpu::Device,
        width: u32,
        height: u32,
        chroma_layout: ChromaLayout,
    ) -> Result<VideoPlane, VideoError> {
        let max = device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(VideoError::TooLarge { width, height, max });
        }
        let texture = |label, size: (u32, u32), format, usage| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: size.0,
                    height: size.1,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        let sampled = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
        let luma = texture(
            "video luma",
            (width, height),
            wgpu::TextureFormat::R8Unorm,
            sampled,
        );
        let chroma_size = (width.div_ceil(2), height.div_ceil(2));
        let (chroma, chroma_v) = match chroma_layout {
            ChromaLayout::Interleaved => (
                texture(
                    "video chroma",
                    chroma_size,
                    wgpu::TextureFormat::Rg8Unorm,
                    sampled,
                ),
                texture(
                    "video V (unused)",
                    (1, 1),
                    wgpu::TextureFormat::R8Unorm,
                    sampled,
                ),
            ),
            ChromaLayout::Planar => (
                texture(
                    "video U",
                    chroma_size,
                    wgpu::TextureFormat::R8Unorm,
                    sampled,
                ),
                texture(
                    "video V",
                    chroma_size,
                    wgpu::TextureFormat::R8Unorm,
                    sampled,
                ),
            ),
        };
        let output = texture(
            "video picture",
            (width, height),
            VIDEO_OUTPUT_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
        );
        let output_view = output.create_view(&Default::default());
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("video params"),
            contents: bytemuck::bytes_of(&Params::zeroed()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("video.wgsl"),
            source: wgpu::ShaderSource::Wgsl(VIDEO_SHADER.into()),
        });
        let plane_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("video"),
            entries: &[
                plane_entry(0),
                plane_entry(1),
                plane_entry(3),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let luma_view = luma.create_view(&Default::default());
        let chroma_view = chroma.create_view(&Default::default());
        let chroma_v_view = chroma_v.create_view(&Default::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("video"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&luma_view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&chroma_view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&chroma_v_view),
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("video"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("video"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_fullscreen"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_convert"),
                compilation_options: Default::default(),
                targets: &[Some(VIDEO_OUTPUT_FORMAT.into())],
            }),
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            multiview_mask: None,
            cache: None,
        });
        Ok(VideoPlane {
            width,
            height,
            layout: chroma_layout,
            luma,
            chroma,
            chroma_v,
            output,
            output_view,
            params,
            pipeline,
            bind_group,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn layout(&self) -> ChromaLayout {
        self.layout
    }

    /// The converted picture (sRGB, `width x height`).
    pub fn output(&self) -> &wgpu::TextureView {
        &self.output_view
    }

    pub fn output_texture(&self) -> &wgpu::Texture {
        &self.output
    }

    /// Uploads `picture` and records its conversion into `encoder`.
    pub fn convert(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        picture: &Picture<'_>,
    ) -> Result<(), VideoError> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let chroma_len = (cw * ch) as usize;
        let luma = (
            "luma",
            picture.luma.len(),
            (self.width * self.height) as usize,
        );
        let planes = match picture.chroma {
            Chroma::Interleaved(uv) => vec![luma, ("chroma", uv.len(), 2 * chroma_len)],
            Chroma::Planar { u, v } => {
                vec![luma, ("U", u.len(), chroma_len), ("V", v.len(), chroma_len)]
            }
        };
        if picture.chroma.layout() != self.layout {
            return Err(VideoError::WrongLayout {
                got: picture.chroma.layout(),
                want: self.layout,
            });
        }
        for (what, got, want) in planes {
            if got != want || (picture.width, picture.height) != (self.width, self.height) {
                return Err(VideoError::WrongPlane {
                    what,
                    got,
                    want,
                    width: self.width,
                    height: self.height,
                });
            }
        }
        let write = |texture: &wgpu::Texture, data: &[u8], size: (u32, u32), bytes_per_texel| {
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                data,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(size.0 * bytes_per_texel),
                    rows_per_image: Some(size.1),
                },
                wgpu::Extent3d {
                    width: size.0,
                    height: size.1,
                    depth_or_array_layers: 1,
                },
            );
        };
        write(&self.luma, picture.luma, (self.width, self.height), 1);
        match picture.chroma {
            Chroma::Interleaved(uv) => write(&self.chroma, uv, (cw, ch), 2),
            Chroma::Planar { u, v } => {
                write(&self.chroma, u, (cw, ch), 1);
                write(&self.chroma_v, v, (cw, ch), 1);
            }
        }
        let (y_offset, y_scale, c_scale) = if picture.limited_range {
            (16.0, 255.0 / 219.0, 255.0 / 224.0)
        } else {
            (0.0, 1.0, 1.0)
        };
        queue.write_buffer(
            &self.params,
            0,
            bytemuck::bytes_of(&Params {
                kr: picture.kr,
                kb: picture.kb,
                y_offset,
                y_scale,
                c_scale,
                planar: u32::from(self.layout == ChromaLayout::Planar),
                _pad: [0.0; 2],
            }),
        );
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("video conversion"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &self.output_view,
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
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.draw(0..3, 0..1);
        Ok(())
    }
}
