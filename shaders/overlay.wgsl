// Annotations over the slide (kh-render's overlay): fills, outlines and
// markers, each object in its colour word (RGBA8, alpha 0 = hidden).
// Outlines and markers are quads expanded in screen pixels, so their width
// does not change with zoom.

// 1.0 when the target is an sRGB format (the hardware encodes what we
// write, so colours are decoded to linear first).
override TARGET_IS_SRGB: f32 = 1.0;

struct Overlay {
    row0: vec4<f32>,     // screen px from (slide − origin): m00, m01, tx
    row1: vec4<f32>,     // m10, m11, ty
    viewport: vec4<f32>, // width, height, fill opacity, half outline width
    extra: vec4<f32>,    // marker radius, origin x, origin y
}

@group(0) @binding(0) var<uniform> overlay: Overlay;
@group(0) @binding(1) var<storage, read> colours: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> segments: array<vec2<u32>>;
// Markers as three words each: x, y (f32 bits), object.
@group(0) @binding(4) var<storage, read> markers: array<u32>;
// The object of each vertex (the fill pass has it as an attribute).
@group(0) @binding(5) var<storage, read> vertex_objects: array<u32>;

struct OverlayOut {
    @builtin(position) position: vec4<f32>,
    @location(0) colour: vec4<f32>,
    // Position inside a marker's disc, in radii (0 elsewhere).
    @location(1) disc: vec2<f32>,
}

fn screen_px(slide: vec2<f32>) -> vec2<f32> {
    let d = slide - overlay.extra.yz;
    return vec2<f32>(
        overlay.row0.x * d.x + overlay.row0.y * d.y + overlay.row0.z,
        overlay.row1.x * d.x + overlay.row1.y * d.y + overlay.row1.z,
    );
}

fn clip_from_px(px: vec2<f32>) -> vec4<f32> {
    let size = overlay.viewport.xy;
    return vec4<f32>(px.x / size.x * 2.0 - 1.0, 1.0 - px.y / size.y * 2.0, 0.0, 1.0);
}

// A hidden object's vertices all land outside the clip volume.
const HIDDEN: vec4<f32> = vec4<f32>(0.0, 0.0, -2.0, 1.0);

fn colour_of(object: u32, alpha: f32) -> vec4<f32> {
    let c = unpack4x8unorm(colours[object]);
    return vec4<f32>(c.rgb, c.a * alpha);
}

@vertex
fn vs_fill(@location(0) slide: vec2<f32>, @location(1) object: u32) -> OverlayOut {
    var out: OverlayOut;
    out.colour = colour_of(object, overlay.viewport.z);
    out.disc = vec2<f32>(0.0);
    out.position = select(clip_from_px(screen_px(slide)), HIDDEN, out.colour.a <= 0.0);
    return out;
}

// One quad (two triangles) per segment, its ends squared off by half the
// width so that consecutive segments leave no gap at a corner.
@vertex
fn vs_outline(@builtin(vertex_index) corner: u32, @builtin(instance_index) segment: u32) -> OverlayOut {
    let ends = segments[segment];
    let a = screen_px(positions[ends.x]);
    let b = screen_px(positions[ends.y]);
    let along = b - a;
    let len = length(along);
    let dir = select(vec2<f32>(1.0, 0.0), along / len, len > 1e-6);
    let normal = vec2<f32>(-dir.y, dir.x);
    let half = overlay.viewport.w;
    // Corners 0..5: (start,-), (end,-), (start,+), (start,+), (end,-), (end,+).
    let at_end = corner == 1u || corner == 4u || corner == 5u;
    let side = select(-1.0, 1.0, corner == 2u || corner == 3u || corner == 5u);
    let base = select(a - dir * half, b + dir * half, at_end);
    var out: OverlayOut;
    out.colour = colour_of(vertex_objects[ends.x], 1.0);
    out.disc = vec2<f32>(0.0);
    out.position = select(clip_from_px(base + normal * side * half), HIDDEN, out.colour.a <= 0.0);
    return out;
}

@vertex
fn vs_marker(@builtin(vertex_index) corner: u32, @builtin(instance_index) marker: u32) -> OverlayOut {
    let slide = vec2<f32>(bitcast<f32>(markers[marker * 3u]), bitcast<f32>(markers[marker * 3u + 1u]));
    let object = markers[marker * 3u + 2u];
    let centre = screen_px(slide);
    let x = select(-1.0, 1.0, corner == 1u || corner == 4u || corner == 5u);
    let y = select(-1.0, 1.0, corner == 2u || corner == 3u || corner == 5u);
    let r = overlay.extra.x;
    var out: OverlayOut;
    out.colour = colour_of(object, 1.0);
    out.disc = vec2<f32>(x, y);
    out.position = select(clip_from_px(centre + vec2<f32>(x, y) * r), HIDDEN, out.colour.a <= 0.0);
    return out;
}

@fragment
fn fs_overlay(in: OverlayOut) -> @location(0) vec4<f32> {
    if dot(in.disc, in.disc) > 1.0 {
        discard;
    }
    var rgb = in.colour.rgb;
    if TARGET_IS_SRGB > 0.5 {
        rgb = srgb_decode(rgb);
    }
    // Premultiplied alpha.
    return vec4<f32>(rgb * in.colour.a, in.colour.a);
}
