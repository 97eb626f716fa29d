// Draws a slide's tile pyramid in one full-screen pass.
//
// Every resident tile sits in one layer ("slot") of a texture array, with a
// mip chain. A page table maps (level, tile column, tile row) to its slot.
// Each screen pixel finds its position in the chosen level, filters there
// (four bilinear taps over its footprint at the right mip) across tile borders (the four texels of a bilinear tap may lie in four
// different tiles, so there are no seams), and falls back to coarser levels
// where a tile is not resident yet, so nothing is ever blank once the
// coarsest level is in.
//
// Positions are split into an integer texel and a fraction so that slides of
// a million pixels keep sub-texel precision in f32.

struct ViewUniform {
    // Linear RGB shown outside the slide and under transparent pixels.
    background: vec4<f32>,
    // First level to try (finest wanted) and how many levels there are.
    level: u32,
    level_count: u32,
    // log2 of (zoom / downsample of `level`): mip level to sample there.
    lod: f32,
    adjust: u32,
    brightness: f32,
    contrast: f32,
    inv_gamma: f32,
    _pad: u32,
}

struct Level {
    // Level position of screen pixel (0, 0)'s corner = origin_int + origin_frac;
    // a screen step of +x moves by axis_x, +y by axis_y (level pixels).
    origin_int: vec2<i32>,
    origin_frac: vec2<f32>,
    axis_x: vec2<f32>,
    axis_y: vec2<f32>,
    size: vec2<i32>,
    tile: vec2<i32>,
    tiles_across: u32,
    page_offset: u32,
    mips: u32,
    // log2 of this level's downsample relative to the level in `view.level`.
    lod_offset: f32,
}

@group(0) @binding(0) var<uniform> view: ViewUniform;
@group(0) @binding(1) var<storage, read> levels: array<Level>;
// Slot index + 1 per tile, 0 where the tile is not resident.
@group(0) @binding(2) var<storage, read> pages: array<u32>;
// sRGB view: loads return linear values.
@group(0) @binding(3) var slots: texture_2d_array<f32>;

// Set per pipeline: true when the render target stores sRGB itself.
override TARGET_IS_SRGB: bool = true;

fn premultiply(c: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(c.rgb * c.a, c.a);
}

// A premultiplied linear colour, or ok = false when a tile is missing.
struct Tap {
    color: vec4<f32>,
    ok: bool,
}

// Bilinear filter at mip `mip` of level `lv` around level position
// `texel + frac` (frac in [0, 1)).
fn bilinear(lv: Level, texel: vec2<i32>, frac: vec2<f32>, mip: u32) -> Tap {
    let step = 1 << mip;
    let high = texel >> vec2<u32>(mip);
    let low = texel & vec2<i32>(step - 1);
    // Texel-centre coordinates at this mip.
    let f = (vec2<f32>(low) + frac) / f32(step) - 0.5;
    let fl = floor(f);
    let base = high + vec2<i32>(fl);
    let t = f - fl;
    let texels_at_mip = (lv.size + vec2<i32>(step - 1)) >> vec2<u32>(mip);
    let tile_at_mip = lv.tile >> vec2<u32>(mip);
    let last = texels_at_mip - vec2<i32>(1);
    let p0 = clamp(base, vec2<i32>(0), last);
    let p1 = clamp(base + vec2<i32>(1), vec2<i32>(0), last);
    let tile0 = p0 / tile_at_mip;
    if all(tile0 == p1 / tile_at_mip) {
        // All four texels in one tile (nearly every pixel): one page lookup.
        let slot = pages[lv.page_offset + u32(tile0.y) * lv.tiles_across + u32(tile0.x)];
        if slot == 0u {
            return Tap(vec4<f32>(0.0), false);
        }
        let layer = i32(slot - 1u);
        let origin = tile0 * tile_at_mip;
        let c00 = textureLoad(slots, p0 - origin, layer, i32(mip));
        let c10 = textureLoad(slots, vec2<i32>(p1.x, p0.y) - origin, layer, i32(mip));
        let c01 = textureLoad(slots, vec2<i32>(p0.x, p1.y) - origin, layer, i32(mip));
        let c11 = textureLoad(slots, p1 - origin, layer, i32(mip));
        let top = mix(premultiply(c00), premultiply(c10), t.x);
        let bottom = mix(premultiply(c01), premultiply(c11), t.x);
        return Tap(mix(top, bottom, t.y), true);
    }
    var sum = vec4<f32>(0.0);
    for (var corner = 0u; corner < 4u; corner++) {
        let offset = vec2<i32>(i32(corner & 1u), i32(corner >> 1u));
        let p = clamp(base + offset, vec2<i32>(0), texels_at_mip - vec2<i32>(1));
        let tile = p / tile_at_mip;
        let slot = pages[lv.page_offset + u32(tile.y) * lv.tiles_across + u32(tile.x)];
        if slot == 0u {
            return Tap(vec4<f32>(0.0), false);
        }
        let texel_color = textureLoad(slots, p - tile * tile_at_mip, i32(slot - 1u), i32(mip));
        let wx = select(1.0 - t.x, t.x, offset.x == 1);
        let wy = select(1.0 - t.y, t.y, offset.y == 1);
        sum += wx * wy * vec4<f32>(texel_color.rgb * texel_color.a, texel_color.a);
    }
    return Tap(sum, true);
}

// Minifying filter at a level. `lod` is log2 of level pixels per screen
// pixel. Above 0, it picks the mip m = floor(lod) and averages four bilinear
// taps spread over the pixel's footprint there: close to the exact area
// average (sharper than trilinear blending of two mips, and as free of
// shimmer). At or below 0 (magnified) it is plain bilinear.
fn filtered(lv: Level, texel: vec2<i32>, frac: vec2<f32>, lod: f32) -> Tap {
    if lod <= 0.0 {
        return bilinear(lv, texel, frac, 0u);
    }
    let mip = min(u32(floor(lod)), lv.mips - 1u);
    // A quarter of the footprint, in level pixels.
    let quarter = exp2(lod) * 0.25;
    var sum = vec4<f32>(0.0);
    for (var tap = 0u; tap < 4u; tap++) {
        let sign = vec2<f32>(f32(tap & 1u) * 2.0 - 1.0, f32(tap >> 1u) * 2.0 - 1.0);
        let shifted = frac + sign * quarter;
        let whole = floor(shifted);
        let t = bilinear(lv, texel + vec2<i32>(whole), shifted - whole, mip);
        if !t.ok {
            return t;
        }
        sum += t.color;
    }
    return Tap(sum * 0.25, true);
}

fn finish(premultiplied: vec4<f32>) -> vec4<f32> {
    var rgb = premultiplied.rgb + view.background.rgb * (1.0 - premultiplied.a);
    if view.adjust != 0u {
        var v = srgb_encode(rgb);
        v = clamp((v - 0.5) * view.contrast + 0.5 + view.brightness, vec3<f32>(0.0), vec3<f32>(1.0));
        v = pow(v, vec3<f32>(view.inv_gamma));
        rgb = srgb_decode(v);
    }
    if TARGET_IS_SRGB {
        return vec4<f32>(rgb, 1.0);
    }
    return vec4<f32>(srgb_encode(rgb), 1.0);
}

@fragment
fn fs_tiles(in: VertexOut) -> @location(0) vec4<f32> {
    // in.position.xy is the pixel centre (x + 0.5, y + 0.5).
    let screen = in.position.xy;
    for (var index = view.level; index < view.level_count; index++) {
        let lv = levels[index];
        let offset = lv.origin_frac + lv.axis_x * screen.x + lv.axis_y * screen.y;
        let whole = floor(offset);
        let texel = lv.origin_int + vec2<i32>(whole);
        let frac = offset - whole;
        if any(texel < vec2<i32>(0)) || any(texel >= lv.size) {
            return finish(vec4<f32>(0.0));
        }
        let tap = filtered(lv, texel, frac, view.lod - lv.lod_offset);
        if tap.ok {
            return finish(tap.color);
        }
    }
    return finish(vec4<f32>(0.0));
}
