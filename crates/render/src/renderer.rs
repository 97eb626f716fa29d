//! The slide renderer: GPU tile cache, uploads, mip building and the
//! one-pass pyramid draw. The same object draws into a window's surface or an
//! offscreen texture; it never touches windows or files.

use crate::RenderError;
use crate::loader::{LoadedTile, Loader, Notify};
use crate::pyramid::{self, RenderLevel, TileKey};
use crate::residency::Residency;
use crate::view::{Adjustments, View, Viewport};
use bytemuck::{Pod, Zeroable};
use kh_slide::Slide;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The pyramid pass: `shaders/common.wgsl` + `shaders/tile.wgsl`.
pub const TILE_SHADER: &str = concat!(
    include_str!("../../../shaders/common.wgsl"),
    include_str!("../../../shaders/tile.wgsl")
);
pub const MIP_SHADER: &str = include_str!("../../../shaders/mip.wgsl");

/// Largest default budget: what a workstation GPU can spare beside 8K
/// video planes and the desktop.
pub const DEFAULT_BUDGET_CAP: u64 = 512 << 20;
/// Tiles uploaded per frame at most, so a flood of arrivals never stalls a
/// frame (64 tiles of 256² is 16 MiB of copies).
pub const MAX_UPLOADS_PER_FRAME: usize = 64;
/// The base level (kept whole beneath everything) has at most this many
/// tiles.
pub const BASE_LEVEL_TILES: u64 = 16;
/// Shown outside the slide and under transparent pixels: a light grey, so
/// the slide's edge shows against white glass.
pub const BACKGROUND: [u8; 3] = [245, 245, 245];
/// Levels beyond this many are not drawn (no real pyramid has them).
pub const MAX_LEVELS: usize = 32;

#[derive(Debug, Clone)]
pub struct RendererOptions {
    /// GPU bytes the renderer may hold for tiles and tables; `None` sizes
    /// it from the adapter's limits (up to [`DEFAULT_BUDGET_CAP`]).
    pub budget_bytes: Option<u64>,
    /// Tile decoding threads; `None` uses one per core.
    pub threads: Option<usize>,
    /// Shown outside the slide and under transparent pixels (sRGB).
    pub background: [u8; 3],
}

impl Default for RendererOptions {
    fn default() -> Self {
        RendererOptions {
            budget_bytes: None,
            threads: None,
            background: BACKGROUND,
        }
    }
}

/// What the last `prepare` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct FrameStats {
    /// Level drawn (finest tried).
    pub level: usize,
    pub visible_tiles: usize,
    pub visible_resident: usize,
    pub uploaded: usize,
    /// Tiles queued or decoding.
    pub loading: usize,
    /// Bytes of tile slots holding a tile.
    pub resident_bytes: u64,
    /// GPU bytes the renderer holds (slot array and tables).
    pub gpu_bytes: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct ViewUniform {
    background: [f32; 4],
    level: u32,
    level_count: u32,
    lod: f32,
    adjust: u32,
    brightness: f32,
    contrast: f32,
    inv_gamma: f32,
    _pad: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct LevelGpu {
    origin_int: [i32; 2],
    origin_frac: [f32; 2],
    axis_x: [f32; 2],
    axis_y: [f32; 2],
    size: [i32; 2],
    tile: [i32; 2],
    tiles_across: u32,
    page_offset: u32,
    mips: u32,
    lod_offset: f32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct MipJob {
    layer: u32,
    width: u32,
    height: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct MipParams {
    mip: u32,
    job_count: u32,
    _pad: [u32; 2],
}

/// Bind groups that build mip `m` from mip `m - 1`.
struct MipStage {
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

pub struct SlideRenderer {
    slide: Arc<Slide>,
    levels: Vec<RenderLevel>,
    base: Option<usize>,
    residency: Residency,
    loader: Loader,
    /// Tiles that failed to read, and why (not asked for again).
    failed: HashMap<TileKey, String>,
    /// Errors not yet collected by the application.
    new_errors: Vec<String>,
    slot_size: (u32, u32),
    slot_bytes: u64,
    gpu_bytes: u64,
    slots: wgpu::Texture,
    view_buffer: wgpu::Buffer,
    levels_buffer: wgpu::Buffer,
    pages_buffer: wgpu::Buffer,
    draw_layout: wgpu::BindGroupLayout,
    draw_bind_group: wgpu::BindGroup,
    pipelines: HashMap<wgpu::TextureFormat, wgpu::RenderPipeline>,
    shader: wgpu::ShaderModule,
    mip_pipeline: wgpu::ComputePipeline,
    mip_jobs: wgpu::Buffer,
    mip_stages: Vec<MipStage>,
    background: [f32; 3],
    /// Tiles taken from the loader but not uploaded yet.
    arrived: Vec<LoadedTile>,
    /// Visible tiles of the drawn level in the last prepared frame.
    visible: Vec<TileKey>,
    stats: FrameStats,
}

impl SlideRenderer {
    pub fn new(
        device: &wgpu::Device,
        slide: Arc<Slide>,
        options: &RendererOptions,
        notify: Notify,
    ) -> Result<SlideRenderer, RenderError> {
        let levels: Vec<RenderLevel> = slide
            .levels()
            .iter()
            .take(MAX_LEVELS)
            .map(RenderLevel::from_slide_level)
            .collect();
        if levels.is_empty() {
            return Err(RenderError::Slide("the slide has no levels".into()));
        }
        let slot_size = (
            levels.iter().map(|l| l.tile_width).max().unwrap_or(1),
            levels.iter().map(|l| l.tile_height).max().unwrap_or(1),
        );
        let mips = levels.iter().map(|l| l.mips).max().unwrap_or(1);
        let slot_bytes: u64 = (0..mips)
            .map(|m| {
                u64::from((slot_size.0 >> m).max(1)) * u64::from((slot_size.1 >> m).max(1)) * 4
            })
            .sum();
        let limits = device.limits();
        let page_bytes = Residency::page_count(&levels) * 4;
        if page_bytes > limits.max_storage_buffer_binding_size {
            return Err(RenderError::Limit(format!(
                "the slide's page table ({page_bytes} bytes) exceeds the GPU's storage buffer limit"
            )));
        }
        let table_bytes = page_bytes
            + (levels.len() * std::mem::size_of::<LevelGpu>()) as u64
            + (MAX_UPLOADS_PER_FRAME * std::mem::size_of::<MipJob>()) as u64
            + 256 * (1 + u64::from(mips));
        let budget = options.budget_bytes.unwrap_or_else(|| {
            (u64::from(limits.max_texture_array_layers) * slot_bytes + table_bytes)
                .min(DEFAULT_BUDGET_CAP)
        });
        let layers = (budget.saturating_sub(table_bytes) / slot_bytes)
            .min(u64::from(limits.max_texture_array_layers)) as u32;
        let base = pyramid::base_level(&levels, BASE_LEVEL_TILES.min(u64::from(layers) / 4));
        // The base level plus some tiles of the view must fit.
        let base_tiles = base.map_or(0, |b| levels[b].tile_count());
        if u64::from(layers) < base_tiles + 16 {
            return Err(RenderError::Limit(format!(
                "a GPU budget of {budget} bytes holds {layers} tiles of {}x{}: too few to draw this slide",
                slot_size.0, slot_size.1
            )));
        }
        let slots = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("tile slots"),
            size: wgpu::Extent3d {
                width: slot_size.0,
                height: slot_size.1,
                depth_or_array_layers: layers,
            },
            mip_level_count: mips,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            // Stored as plain unorm so the mip builder can write it; sampled
            // through an sRGB view so loads decode to linear light.
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::STORAGE_BINDING,
            view_formats: &[wgpu::TextureFormat::Rgba8UnormSrgb],
        });
        let srgb_view = |base_mip: u32, count: u32| {
            slots.create_view(&wgpu::TextureViewDescriptor {
                label: Some("tile slots (sRGB)"),
                format: Some(wgpu::TextureFormat::Rgba8UnormSrgb),
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                usage: Some(wgpu::TextureUsages::TEXTURE_BINDING),
                base_mip_level: base_mip,
                mip_level_count: Some(count),
                ..Default::default()
            })
        };
        let view_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("view"),
            size: std::mem::size_of::<ViewUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let levels_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("levels"),
            size: (levels.len() * std::mem::size_of::<LevelGpu>()) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pages_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pages"),
            size: page_bytes.max(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let entry = |binding: u32, visibility, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility,
            ty,
            count: None,
        };
        let storage = |read_only| wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let uniform = wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let sampled = wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2Array,
            multisampled: false,
        };
        let fragment = wgpu::ShaderStages::FRAGMENT;
        let draw_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tiles"),
            entries: &[
                entry(0, fragment, uniform),
                entry(1, fragment, storage(true)),
                entry(2, fragment, storage(true)),
                entry(3, fragment, sampled),
            ],
        });
        let draw_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tiles"),
            layout: &draw_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: view_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: levels_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: pages_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&srgb_view(0, mips)),
                },
            ],
        });
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tile.wgsl"),
            source: wgpu::ShaderSource::Wgsl(TILE_SHADER.into()),
        });

        let compute = wgpu::ShaderStages::COMPUTE;
        let mip_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mips"),
            entries: &[
                entry(0, compute, uniform),
                entry(1, compute, storage(true)),
                entry(2, compute, sampled),
                entry(
                    3,
                    compute,
                    wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::WriteOnly,
                        format: wgpu::TextureFormat::Rgba8Unorm,
                        view_dimension: wgpu::TextureViewDimension::D2Array,
                    },
                ),
            ],
        });
        let mip_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("mip.wgsl"),
            source: wgpu::ShaderSource::Wgsl(MIP_SHADER.into()),
        });
        let mip_pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("mips"),
            layout: Some(
                &device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("mips"),
                    bind_group_layouts: &[Some(&mip_layout)],
                    immediate_size: 0,
                }),
            ),
            module: &mip_module,
            entry_point: Some("build_mip"),
            compilation_options: Default::default(),
            cache: None,
        });
        let mip_jobs = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mip jobs"),
            size: (MAX_UPLOADS_PER_FRAME * std::mem::size_of::<MipJob>()) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mip_stages = (1..mips)
            .map(|m| {
                let params = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("mip params"),
                    size: std::mem::size_of::<MipParams>() as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                let target = slots.create_view(&wgpu::TextureViewDescriptor {
                    label: Some("mip target"),
                    format: Some(wgpu::TextureFormat::Rgba8Unorm),
                    dimension: Some(wgpu::TextureViewDimension::D2Array),
                    usage: Some(wgpu::TextureUsages::STORAGE_BINDING),
                    base_mip_level: m,
                    mip_level_count: Some(1),
                    ..Default::default()
                });
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("mip stage"),
                    layout: &mip_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: params.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: mip_jobs.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::TextureView(&srgb_view(m - 1, 1)),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: wgpu::BindingResource::TextureView(&target),
                        },
                    ],
                });
                MipStage { params, bind_group }
            })
            .collect();

        let gpu_bytes = u64::from(layers) * slot_bytes + table_bytes;
        let threads = options
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let loader = Loader::new(slide.clone(), levels.clone(), threads, notify);
        let background = options.background.map(|c| srgb_to_linear(c as f32 / 255.0));
        let residency = Residency::new(&levels, layers);
        let mut renderer = SlideRenderer {
            slide,
            base,
            residency,
            loader,
            failed: HashMap::new(),
            new_errors: Vec::new(),
            slot_size,
            slot_bytes,
            gpu_bytes,
            slots,
            view_buffer,
            levels_buffer,
            pages_buffer,
            draw_layout,
            draw_bind_group,
            pipelines: HashMap::new(),
            shader,
            mip_pipeline,
            mip_jobs,
            mip_stages,
            background,
            arrived: Vec::new(),
            visible: Vec::new(),
            stats: FrameStats::default(),
            levels,
        };
        renderer.stats.gpu_bytes = gpu_bytes;
        Ok(renderer)
    }

    pub fn slide(&self) -> &Arc<Slide> {
        &self.slide
    }

    /// GPU bytes held: the whole slot array (allocated up front) and the
    /// tables. Never more than the budget.
    pub fn gpu_bytes(&self) -> u64 {
        self.gpu_bytes
    }

    /// Tiles the slot array holds at most, and their size.
    pub fn slot_capacity(&self) -> (usize, (u32, u32)) {
        (self.residency.capacity(), self.slot_size)
    }

    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Tile errors since the last call (each tile reported once).
    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new_errors)
    }

    /// Whether every visible tile of the drawn level is on the GPU (or
    /// failed): the view is at full detail.
    pub fn is_complete(&self) -> bool {
        self.visible
            .iter()
            .all(|k| self.residency.is_resident(*k) || self.failed.contains_key(k))
            && self
                .fallbacks()
                .iter()
                .all(|k| self.residency.is_resident(*k))
    }

    /// Where visible tiles failed, the coarser tiles drawn instead (walking
    /// up past tiles that failed too). Waited for like visible tiles, so a
    /// complete view is the best the slide can give, whatever the timing.
    fn fallbacks(&self) -> Vec<TileKey> {
        let mut out = Vec::new();
        if self.failed.is_empty() {
            // The usual case, every frame: nothing to walk.
            return out;
        }
        let mut failed: Vec<TileKey> = self
            .visible
            .iter()
            .filter(|k| self.failed.contains_key(k))
            .copied()
            .collect();
        let mut seen = HashSet::new();
        while let Some(key) = failed.pop() {
            let Some(coarser) = pyramid::coarser_level(&self.levels, key.level as usize) else {
                continue;
            };
            for under in pyramid::tiles_under(&self.levels, key, coarser) {
                if !seen.insert(under) {
                    continue;
                }
                if self.failed.contains_key(&under) {
                    failed.push(under);
                } else {
                    out.push(under);
                }
            }
        }
        out
    }

    /// Wait up to `timeout` for the next decoded tile; it is uploaded by the
    /// next `prepare`. For headless rendering, which has no event loop.
    /// False at once when nothing is loading (no tile can come).
    pub fn wait_for_tile(&mut self, timeout: std::time::Duration) -> bool {
        // A decoded tile counts as busy until received: nothing busy means
        // nothing can come.
        let next = match self.loader.try_next() {
            Some(tile) => Some(tile),
            None if self.loader.busy() == 0 => None,
            None => self.loader.next_timeout(timeout),
        };
        match next {
            Some(tile) => {
                self.arrived.push(tile);
                true
            }
            None => false,
        }
    }

    /// Ready a frame: take decoded tiles onto the GPU (recording their mip
    /// builds into `encoder`), ask the loader for what the view wants, and
    /// write the view's uniforms. Call before the pass that calls
    /// [`Self::draw`].
    pub fn prepare(
        &mut self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &View,
        viewport: Viewport,
        adjustments: &Adjustments,
    ) -> FrameStats {
        self.residency.begin_frame();
        let plan = pyramid::plan_view(
            &self.levels,
            self.base,
            view,
            viewport,
            self.residency.capacity(),
        );
        let (level, wanted) = (plan.level, plan.wanted);
        self.visible = plan.visible;
        let mut missing = Vec::new();
        for w in &wanted {
            if !self.residency.touch(w.key) && !self.failed.contains_key(&w.key) {
                missing.push(w.key);
            }
        }
        let uploaded = self.upload_arrivals(queue, encoder);
        // Stand-ins for failed visible tiles (known once arrivals are in)
        // go first: they complete the view.
        let mut stand_ins = Vec::new();
        for key in self.fallbacks() {
            if !self.residency.touch(key) {
                stand_ins.push(key);
            }
        }
        // Tiles that arrived just now, in a slot or failed, are not wanted.
        let wanted_now = stand_ins
            .into_iter()
            .chain(missing)
            .filter(|k| !self.residency.is_resident(*k) && !self.failed.contains_key(k));
        self.loader.want(wanted_now);
        if let Some((first, entries)) = self.residency.take_dirty() {
            queue.write_buffer(
                &self.pages_buffer,
                (first * 4) as u64,
                bytemuck::cast_slice(entries),
            );
        }
        self.write_view(queue, level, view, viewport, adjustments);
        self.stats = FrameStats {
            level,
            visible_tiles: self.visible.len(),
            visible_resident: self
                .visible
                .iter()
                .filter(|k| self.residency.is_resident(**k))
                .count(),
            uploaded,
            loading: self.loader.busy(),
            resident_bytes: self.residency.occupied() as u64 * self.slot_bytes,
            gpu_bytes: self.gpu_bytes,
        };
        self.stats
    }

    /// Tiles decoded since the last frame: into slots, with their mips.
    fn upload_arrivals(
        &mut self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
    ) -> usize {
        while self.arrived.len() < MAX_UPLOADS_PER_FRAME {
            match self.loader.try_next() {
                Some(tile) => self.arrived.push(tile),
                None => break,
            }
        }
        let mut jobs = Vec::new();
        for tile in std::mem::take(&mut self.arrived) {
            let key = tile.key;
            let pixels = match tile.pixels {
                Ok(p) => p,
                Err(e) => {
                    let message = e.to_string();
                    tracing::warn!("{message}");
                    self.new_errors.push(message.clone());
                    self.failed.insert(key, message);
                    continue;
                }
            };
            // The base level is wanted whole, always: pin it.
            let pinned = Some(key.level as usize) == self.base;
            let Some(layer) = self.residency.insert(key, pinned) else {
                // Every slot is on screen: drop it; it is asked for again
                // when there is room.
                continue;
            };
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &self.slots,
                    mip_level: 0,
                    origin: wgpu::Origin3d {
                        x: 0,
                        y: 0,
                        z: layer,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                &pixels,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(tile.width * 4),
                    rows_per_image: Some(tile.height),
                },
                wgpu::Extent3d {
                    width: tile.width,
                    height: tile.height,
                    depth_or_array_layers: 1,
                },
            );
            jobs.push(MipJob {
                layer,
                width: tile.width,
                height: tile.height,
                _pad: 0,
            });
        }
        if !jobs.is_empty() && !self.mip_stages.is_empty() {
            queue.write_buffer(&self.mip_jobs, 0, bytemuck::cast_slice(&jobs));
            for (index, stage) in self.mip_stages.iter().enumerate() {
                let mip = index as u32 + 1;
                queue.write_buffer(
                    &stage.params,
                    0,
                    bytemuck::bytes_of(&MipParams {
                        mip,
                        job_count: jobs.len() as u32,
                        _pad: [0; 2],
                    }),
                );
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("mips"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.mip_pipeline);
                pass.set_bind_group(0, &stage.bind_group, &[]);
                pass.dispatch_workgroups(
                    (self.slot_size.0 >> mip).max(1).div_ceil(8),
                    (self.slot_size.1 >> mip).max(1).div_ceil(8),
                    jobs.len() as u32,
                );
            }
        }
        jobs.len()
    }

    fn write_view(
        &self,
        queue: &wgpu::Queue,
        level: usize,
        view: &View,
        viewport: Viewport,
        adjustments: &Adjustments,
    ) {
        let slide_from_screen = view.slide_from_screen(viewport);
        let drawn_downsample = self.levels[level].downsample;
        let gpu_levels: Vec<LevelGpu> = self
            .levels
            .iter()
            .enumerate()
            .map(|(index, lv)| {
                let scale = 1.0 / lv.downsample;
                let origin = slide_from_screen.translation * scale;
                let whole = origin.floor();
                let axis_x = slide_from_screen.matrix2.x_axis * scale;
                let axis_y = slide_from_screen.matrix2.y_axis * scale;
                LevelGpu {
                    origin_int: [clamp_i32(whole.x), clamp_i32(whole.y)],
                    origin_frac: (origin - whole).as_vec2().to_array(),
                    axis_x: axis_x.as_vec2().to_array(),
                    axis_y: axis_y.as_vec2().to_array(),
                    size: [clamp_i32(lv.width as f64), clamp_i32(lv.height as f64)],
                    tile: [lv.tile_width as i32, lv.tile_height as i32],
                    tiles_across: lv.tiles_across(),
                    page_offset: self.residency.page_offset(index),
                    mips: lv.mips,
                    lod_offset: (lv.downsample / drawn_downsample).log2() as f32,
                }
            })
            .collect();
        queue.write_buffer(&self.levels_buffer, 0, bytemuck::cast_slice(&gpu_levels));
        // Levels after `level` in the shader's loop must be coarser: order
        // is by index, and slides list levels finest first.
        let uniform = ViewUniform {
            background: [
                self.background[0],
                self.background[1],
                self.background[2],
                1.0,
            ],
            level: level as u32,
            level_count: self.levels.len() as u32,
            lod: (view.zoom / drawn_downsample).log2() as f32,
            adjust: u32::from(!adjustments.is_identity()),
            brightness: adjustments.brightness,
            contrast: adjustments.contrast,
            inv_gamma: 1.0 / adjustments.gamma.max(0.01),
            _pad: 0,
        };
        queue.write_buffer(&self.view_buffer, 0, bytemuck::bytes_of(&uniform));
    }

    /// Make sure a pipeline exists for drawing into `format`.
    pub fn prepare_target(&mut self, device: &wgpu::Device, format: wgpu::TextureFormat) {
        if self.pipelines.contains_key(&format) {
            return;
        }
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tiles"),
            bind_group_layouts: &[Some(&self.draw_layout)],
            immediate_size: 0,
        });
        let constants = [("TARGET_IS_SRGB", if format.is_srgb() { 1.0 } else { 0.0 })];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("tiles"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &self.shader,
                entry_point: Some("vs_fullscreen"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &self.shader,
                entry_point: Some("fs_tiles"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        self.pipelines.insert(format, pipeline);
    }

    /// Draw the slide over the whole pass target (of a format given to
    /// [`Self::prepare_target`] before).
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, format: wgpu::TextureFormat) {
        let Some(pipeline) = self.pipelines.get(&format) else {
            tracing::error!("no pipeline for {format:?}: prepare_target was not called");
            return;
        };
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.draw_bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

fn clamp_i32(v: f64) -> i32 {
    v.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}
