//! Annotations drawn over the slide: fills in the class colour at an
//! opacity, outlines a set number of screen pixels wide, and markers for
//! points and for objects too small to show their shape
//! (`shaders/overlay.wgsl`).
//!
//! The geometry ([`mesh::OverlayMesh`]) is uploaded once per annotation
//! set; what changes with the user's choices — class visibility and
//! colour, a measurement threshold — is one colour word per object
//! ([`object_colours`]), re-uploaded alone. A frame's CPU work is the
//! mesh's draw list (a walk over a few thousand groups) and one uniform.

pub mod mesh;

use crate::RenderError;
use crate::view::{View, Viewport};
use kh_annotations::{Annotations, Colour};
use mesh::{DrawList, OverlayMesh};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use wgpu::util::DeviceExt;

/// The overlay pass: `shaders/common.wgsl` + `shaders/overlay.wgsl`.
pub const OVERLAY_SHADER: &str = concat!(
    include_str!("../../../../shaders/common.wgsl"),
    include_str!("../../../../shaders/overlay.wgsl")
);

/// How annotations look; the same for `kh render` and the viewer.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayStyle {
    /// Fill opacity, 0 (outline only) to 1 (the interior is exactly the
    /// object's colour).
    pub fill_opacity: f32,
    /// Outline width in screen pixels (0: none).
    pub outline_px: f32,
    /// Marker diameter in screen pixels (points, and objects drawn as
    /// markers when small).
    pub marker_px: f32,
    /// Classes not drawn, by name.
    pub hidden_classes: HashSet<String>,
    /// Colours that replace a class's own.
    pub class_colours: HashMap<String, Colour>,
    /// Only objects whose measurement (by name) is at least this value; an
    /// object without it is not drawn.
    pub threshold: Option<(String, f64)>,
    /// A heatmap: objects coloured by a measurement instead of their class
    /// ([`heat_colour`] of where the value lies between `low` and `high`);
    /// objects without it are not drawn.
    pub colour_by: Option<ColourBy>,
}

/// Which measurement colours a heatmap, and the values at its two ends.
#[derive(Debug, Clone, PartialEq)]
pub struct ColourBy {
    pub measurement: String,
    pub low: f64,
    pub high: f64,
}

/// The heatmap's colour map: viridis (perceptually uniform, readable by
/// the colour-blind and in grey) as five anchors, at 0, ¼, ½, ¾ and 1,
/// between which red, green and blue run linearly; rounded to the
/// nearest integer.
pub const HEAT_ANCHORS: [[u8; 3]; 5] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
];

/// The heatmap colour of `t` (clamped to 0–1; NaN is 0).
pub fn heat_colour(t: f64) -> Colour {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let at = t * 4.0;
    let i = (at.floor() as usize).min(3);
    let f = at - i as f64;
    let (a, b) = (HEAT_ANCHORS[i], HEAT_ANCHORS[i + 1]);
    let mix =
        |k: usize| (f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * f + 0.5).floor() as u8;
    Colour::rgb(mix(0), mix(1), mix(2))
}

impl Default for OverlayStyle {
    fn default() -> Self {
        OverlayStyle {
            fill_opacity: 0.25,
            outline_px: 1.5,
            marker_px: 5.0,
            hidden_classes: HashSet::new(),
            class_colours: HashMap::new(),
            threshold: None,
            colour_by: None,
        }
    }
}

/// GPU memory all annotation layers may hold together unless told: 1 GiB,
/// four million detections' meshes (a million octagons with their
/// outlines take 248 MB), beside the slide's tiles (512 MiB at most) and
/// 8K video planes on an 8 GB card.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Whether a layer of `adding` bytes fits beside `used` in `budget`; else
/// the reason, in words for the user.
pub fn fits_budget(used: u64, adding: u64, budget: u64) -> Result<(), String> {
    let mib = |b: u64| b.div_ceil(1 << 20);
    if used
        .checked_add(adding)
        .is_some_and(|total| total <= budget)
    {
        return Ok(());
    }
    Err(format!(
        "its overlay needs {} MiB of GPU memory and the annotation layers' budget of {} MiB has {} MiB left: \
         close a layer, or raise the budget (--overlay-budget-mib)",
        mib(adding),
        mib(budget),
        mib(budget.saturating_sub(used))
    ))
}

/// One colour word per object (RGBA8, red in the low byte; alpha 0 hides
/// the object), as the shader reads them.
pub fn object_colours(a: &Annotations, style: &OverlayStyle) -> Vec<u32> {
    let classes: Vec<Option<Colour>> = a.classes().iter().map(|c| class_colour(c, style)).collect();
    a.objects
        .iter()
        .map(|o| match colour_of(a, o, style, |c| classes[c as usize]) {
            Some(colour) => u32::from_le_bytes([colour.r, colour.g, colour.b, 255]),
            None => 0,
        })
        .collect()
}

/// Whether the style draws an object (its class shown, its threshold
/// met, its heatmap value there): what the viewer's hover and click can
/// find.
pub fn is_drawn(a: &Annotations, o: &kh_annotations::Object, style: &OverlayStyle) -> bool {
    colour_of(a, o, style, |c| class_colour(a.class(c), style)).is_some()
}

/// A class's colour under the style; `None` when the style hides it.
fn class_colour(class: &kh_annotations::Class, style: &OverlayStyle) -> Option<Colour> {
    if style.hidden_classes.contains(&class.name) {
        return None;
    }
    Some(
        style
            .class_colours
            .get(&class.name)
            .copied()
            .or(class.colour)
            // A class without a colour takes QuPath's default red.
            .unwrap_or(Colour::rgb(255, 0, 0)),
    )
}

/// The colour an object is drawn in, `None` when it is not drawn;
/// `class_colour` answers for its class (looked up or precomputed).
fn colour_of(
    a: &Annotations,
    o: &kh_annotations::Object,
    style: &OverlayStyle,
    class_colour: impl Fn(kh_annotations::ClassId) -> Option<Colour>,
) -> Option<Colour> {
    if let Some((name, min)) = &style.threshold
        && !a.measurement(o, name).is_some_and(|v| v >= *min)
    {
        return None;
    }
    let own = match o.class {
        Some(c) => class_colour(c)?,
        None => a.colour_of(o),
    };
    match &style.colour_by {
        None => Some(own),
        Some(by) => {
            let v = a.measurement(o, &by.measurement).filter(|v| !v.is_nan())?;
            let span = by.high - by.low;
            Some(heat_colour(if span > 0.0 {
                (v - by.low) / span
            } else {
                1.0
            }))
        }
    }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OverlayUniform {
    /// Screen pixels from slide pixels relative to `origin`:
    /// px = (m00·dx + m01·dy + tx, m10·dx + m11·dy + ty).
    row0: [f32; 4],
    row1: [f32; 4],
    /// Width, height, fill opacity, half the outline width.
    viewport: [f32; 4],
    /// Marker radius, origin x, origin y, unused.
    extra: [f32; 4],
}

/// An annotation set on the GPU, drawn in a render pass after the slide.
pub struct AnnotationOverlay {
    mesh: OverlayMesh,
    positions: wgpu::Buffer,
    vertex_objects: wgpu::Buffer,
    fill_indices: wgpu::Buffer,
    colours: wgpu::Buffer,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    layout: wgpu::BindGroupLayout,
    shader: wgpu::ShaderModule,
    pipelines: HashMap<wgpu::TextureFormat, [wgpu::RenderPipeline; 3]>,
    /// Where point markers start in the marker buffer (after the objects').
    point_marker_base: u32,
    style: OverlayStyle,
    list: DrawList,
    bytes: u64,
    /// Hidden as a whole (a layer switched off).
    pub visible: bool,
}

impl AnnotationOverlay {
    pub fn new(
        device: &wgpu::Device,
        a: &Annotations,
        style: OverlayStyle,
    ) -> Result<AnnotationOverlay, RenderError> {
        Self::from_mesh(device, OverlayMesh::from_annotations(a), a, style)
    }

    /// Upload a mesh built beforehand (on a worker thread: building one
    /// for a million objects takes the better part of a second).
    pub fn from_mesh(
        device: &wgpu::Device,
        mesh: OverlayMesh,
        a: &Annotations,
        style: OverlayStyle,
    ) -> Result<AnnotationOverlay, RenderError> {
        let colours = object_colours(a, &style);
        let limits = device.limits();
        let mut markers: Vec<u32> =
            Vec::with_capacity((mesh.markers.len() + mesh.point_markers.len()) * 3);
        for m in mesh.markers.iter().chain(&mesh.point_markers) {
            markers.extend([m.position[0].to_bits(), m.position[1].to_bits(), m.object]);
        }
        let check = |what: &str, bytes: usize| -> Result<(), RenderError> {
            let max = limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size as _) as usize;
            if bytes > max {
                return Err(RenderError::Limit(format!(
                    "the annotations' {what} take {} MiB, more than this GPU binds at once ({} MiB)",
                    bytes >> 20,
                    max >> 20
                )));
            }
            Ok(())
        };
        check("vertices", mesh.positions.len() * 8)?;
        check("outline segments", mesh.segments.len() * 8)?;
        check("markers", markers.len() * 4)?;
        check("colours", colours.len() * 4)?;
        let buffer = |label: &str, bytes: &[u8], usage: wgpu::BufferUsages| {
            // wgpu refuses empty bindings: an empty set still gets a word.
            let padded: &[u8] = if bytes.is_empty() { &[0u8; 16] } else { bytes };
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: padded,
                usage,
            })
        };
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let positions = buffer(
            "overlay positions",
            bytemuck::cast_slice(&mesh.positions),
            storage | wgpu::BufferUsages::VERTEX,
        );
        let vertex_objects = buffer(
            "overlay vertex objects",
            bytemuck::cast_slice(&mesh.vertex_objects),
            storage | wgpu::BufferUsages::VERTEX,
        );
        let fill_indices = buffer(
            "overlay fill indices",
            bytemuck::cast_slice(&mesh.fill_indices),
            wgpu::BufferUsages::INDEX,
        );
        let segments = buffer(
            "overlay segments",
            bytemuck::cast_slice(&mesh.segments),
            storage,
        );
        let markers_buffer = buffer("overlay markers", bytemuck::cast_slice(&markers), storage);
        let colours_buffer = buffer("overlay colours", bytemuck::cast_slice(&colours), storage);
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("overlay uniform"),
            size: std::mem::size_of::<OverlayUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let read_only = wgpu::BufferBindingType::Storage { read_only: true };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("overlay"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform),
                entry(1, read_only),
                entry(2, read_only),
                entry(3, read_only),
                entry(4, read_only),
                entry(5, read_only),
            ],
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("overlay"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: colours_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: positions.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: segments.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: markers_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: vertex_objects.as_entire_binding(),
                },
            ],
        });
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("overlay.wgsl"),
            source: wgpu::ShaderSource::Wgsl(OVERLAY_SHADER.into()),
        });
        let bytes = mesh.gpu_bytes() + colours.len() as u64 * 4;
        Ok(AnnotationOverlay {
            point_marker_base: mesh.markers.len() as u32,
            mesh,
            positions,
            vertex_objects,
            fill_indices,
            colours: colours_buffer,
            uniform,
            bind_group,
            layout,
            shader,
            pipelines: HashMap::new(),
            style,
            list: DrawList::default(),
            bytes,
            visible: true,
        })
    }

    /// GPU memory the overlay holds, in bytes.
    pub fn gpu_bytes(&self) -> u64 {
        self.bytes
    }

    pub fn style(&self) -> &OverlayStyle {
        &self.style
    }

    /// Change how the set looks: colours and visibility are re-uploaded
    /// (one word per object); the geometry stays.
    pub fn set_style(&mut self, queue: &wgpu::Queue, a: &Annotations, style: OverlayStyle) {
        let colours = object_colours(a, &style);
        if !colours.is_empty() {
            queue.write_buffer(&self.colours, 0, bytemuck::cast_slice(&colours));
        }
        self.style = style;
    }

    /// Work out what this frame draws and upload the view.
    pub fn prepare(&mut self, queue: &wgpu::Queue, view: &View, viewport: Viewport) {
        let (min, max) = view.visible_slide_rect(viewport);
        let margin_px = f64::from(self.style.outline_px.max(self.style.marker_px)) + 2.0;
        self.list = self
            .mesh
            .draw_list([min.x, min.y, max.x, max.y], view.zoom, margin_px);
        let screen_from_slide = view.screen_from_slide(viewport);
        let origin = glam::DVec2::from(view.center_slide);
        // Screen position of the origin; the matrix acts on slide − origin.
        let t = screen_from_slide.transform_point2(origin);
        let m = screen_from_slide.matrix2;
        let uniform = OverlayUniform {
            row0: [m.x_axis.x as f32, m.y_axis.x as f32, t.x as f32, 0.0],
            row1: [m.x_axis.y as f32, m.y_axis.y as f32, t.y as f32, 0.0],
            viewport: [
                viewport.width as f32,
                viewport.height as f32,
                self.style.fill_opacity.clamp(0.0, 1.0),
                self.style.outline_px.max(0.0) / 2.0,
            ],
            extra: [
                self.style.marker_px.max(0.0) / 2.0,
                origin.x as f32,
                origin.y as f32,
                0.0,
            ],
        };
        queue.write_buffer(&self.uniform, 0, bytemuck::bytes_of(&uniform));
    }

    /// Draw calls this frame issues (for the benchmark's CPU accounting).
    pub fn draw_calls(&self) -> usize {
        self.list.fill_indices.len()
            + self.list.segments.len()
            + self.list.markers.len()
            + self.list.point_markers.len()
    }

    /// Make sure pipelines exist for drawing into `format`.
    pub fn prepare_target(&mut self, device: &wgpu::Device, format: wgpu::TextureFormat) {
        if self.pipelines.contains_key(&format) {
            return;
        }
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("overlay"),
            bind_group_layouts: &[Some(&self.layout)],
            immediate_size: 0,
        });
        let constants = [("TARGET_IS_SRGB", if format.is_srgb() { 1.0 } else { 0.0 })];
        // Premultiplied colour over the slide.
        let blend = wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING;
        let fill_buffers = [
            Some(wgpu::VertexBufferLayout {
                array_stride: 8,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![0 => Float32x2],
            }),
            Some(wgpu::VertexBufferLayout {
                array_stride: 4,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![1 => Uint32],
            }),
        ];
        let make = |label: &str, entry: &str, buffers: &[Option<wgpu::VertexBufferLayout>]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &self.shader,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &self.shader,
                    entry_point: Some("fs_overlay"),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        ..Default::default()
                    },
                    targets: &[Some(wgpu::ColorTargetState {
                        format,
                        blend: Some(blend),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let pipelines = [
            make("overlay fills", "vs_fill", &fill_buffers),
            make("overlay outlines", "vs_outline", &[]),
            make("overlay markers", "vs_marker", &[]),
        ];
        self.pipelines.insert(format, pipelines);
    }

    /// Draw into a pass (after the slide) of a format given to
    /// [`Self::prepare_target`].
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, format: wgpu::TextureFormat) {
        if !self.visible {
            return;
        }
        let Some([fill, outline, marker]) = self.pipelines.get(&format) else {
            tracing::error!("no overlay pipeline for {format:?}: prepare_target was not called");
            return;
        };
        pass.set_bind_group(0, &self.bind_group, &[]);
        if self.style.fill_opacity > 0.0 && !self.list.fill_indices.is_empty() {
            pass.set_pipeline(fill);
            pass.set_vertex_buffer(0, self.positions.slice(..));
            pass.set_vertex_buffer(1, self.vertex_objects.slice(..));
            pass.set_index_buffer(self.fill_indices.slice(..), wgpu::IndexFormat::Uint32);
            for r in &self.list.fill_indices {
                pass.draw_indexed(r.clone(), 0, 0..1);
            }
        }
        if self.style.outline_px > 0.0 {
            pass.set_pipeline(outline);
            for r in &self.list.segments {
                pass.draw(0..6, r.clone());
            }
        }
        pass.set_pipeline(marker);
        for r in &self.list.markers {
            pass.draw(0..6, r.clone());
        }
        let base = self.point_marker_base;
        for r in &self.list.point_markers {
            pass.draw(0..6, shifted(r, base));
        }
    }
}

fn shifted(r: &Range<u32>, by: u32) -> Range<u32> {
    r.start + by..r.end + by
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_annotations::{Geometry, Kind, Object, Point};

    #[test]
    fn layers_fit_the_budget_or_say_how_far_over() {
        assert_eq!(fits_budget(0, DEFAULT_BUDGET, DEFAULT_BUDGET), Ok(()));
        let e = fits_budget(900 << 20, 200 << 20, 1 << 30).unwrap_err();
        assert!(
            e.contains("needs 200 MiB") && e.contains("has 124 MiB left"),
            "{e}"
        );
        assert!(fits_budget(u64::MAX, 1, u64::MAX).is_err());
    }

    #[test]
    fn the_heat_colours_run_through_viridis_anchors() {
        assert_eq!(heat_colour(0.0), Colour::rgb(68, 1, 84));
        assert_eq!(heat_colour(0.5), Colour::rgb(33, 145, 140));
        assert_eq!(heat_colour(1.0), Colour::rgb(253, 231, 37));
        // Half way from ¾ to 1: (94 + 253) / 2 = 173.5, rounded up.
        assert_eq!(heat_colour(0.875), Colour::rgb(174, 216, 68));
        assert_eq!(heat_colour(-3.0), heat_colour(0.0));
        assert_eq!(heat_colour(7.0), heat_colour(1.0));
        assert_eq!(heat_colour(f64::NAN), heat_colour(0.0));
    }

    #[test]
    fn a_heatmap_colours_by_value_and_hides_objects_without_one() {
        let mut a = Annotations::default();
        let score = a.measurement_id("score");
        let class = a.class_id("Tile", Some(Colour::rgb(1, 2, 3)));
        for v in [Some(10.0), Some(30.0), None, Some(f64::NAN)] {
            let mut o = Object::new(Kind::Tile, Geometry::Point(Point::new(0.0, 0.0)));
            o.class = Some(class);
            o.measurements = v.map(|v| vec![(score, v)]).unwrap_or_default();
            a.objects.push(o);
        }
        assert_eq!(a.measurement_range("score"), Some((10.0, 30.0)));
        let style = OverlayStyle {
            colour_by: Some(ColourBy {
                measurement: "score".into(),
                low: 10.0,
                high: 30.0,
            }),
            ..OverlayStyle::default()
        };
        let word = |c: Colour| u32::from_le_bytes([c.r, c.g, c.b, 255]);
        assert_eq!(
            object_colours(&a, &style),
            vec![word(heat_colour(0.0)), word(heat_colour(1.0)), 0, 0]
        );
        // What hover and click can find is what is drawn.
        let drawn: Vec<bool> = a.objects.iter().map(|o| is_drawn(&a, o, &style)).collect();
        assert_eq!(drawn, [true, true, false, false]);
        // Without the heatmap, the class colour for all four.
        let plain = object_colours(&a, &OverlayStyle::default());
        assert!(plain.iter().all(|&w| w == word(Colour::rgb(1, 2, 3))));
    }
}
