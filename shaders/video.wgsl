// A decoded 4:2:0 video picture — NV12 (a luma plane and a half-size
// plane of interleaved chroma) or I420 (luma, then U and V planes), as the
// decoder made it — converted to RGB on the GPU, into a texture the
// viewer's interface draws. The upload is 1.5 bytes per pixel instead of
// 4, and no CPU touches each pixel: what an 8K stream needs.

struct Params {
    // Kr, Kb of the picture's matrix (BT.601, BT.709, BT.2020).
    kr: f32,
    kb: f32,
    // Luma offset and scales to full range (limited: 16, 255/219, 255/224).
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    // 1: chroma in two planes (`chroma` holds U, `chroma_v` V); 0: one
    // plane of (U, V) pairs in `chroma`.
    planar: u32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var luma: texture_2d<f32>;
@group(0) @binding(1) var chroma: texture_2d<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var chroma_v: texture_2d<f32>;

@fragment
fn fs_convert(in: VertexOut) -> @location(0) vec4<f32> {
    // One output pixel per luma sample; chroma from the sample covering it,
    // as the CPU conversion (`VideoFrame::rgba`) does.
    let p = vec2<i32>(in.position.xy);
    let y = (textureLoad(luma, p, 0).r * 255.0 - params.y_offset) * params.y_scale;
    var uv = textureLoad(chroma, p / 2, 0).rg;
    if params.planar == 1u {
        uv = vec2<f32>(uv.r, textureLoad(chroma_v, p / 2, 0).r);
    }
    uv = uv * 255.0 - vec2<f32>(128.0);
    let pb = uv.x * params.c_scale;
    let pr = uv.y * params.c_scale;
    let r = y + 2.0 * (1.0 - params.kr) * pr;
    let b = y + 2.0 * (1.0 - params.kb) * pb;
    let g = (y - params.kr * r - params.kb * b) / (1.0 - params.kr - params.kb);
    // The target is sRGB: it stores these gamma-encoded values as they are.
    return vec4<f32>(srgb_decode(vec3<f32>(r, g, b) / 255.0), 1.0);
}
