// Builds one mip level of freshly uploaded tile slots from the level above.
//
// Averages 2x2 texels in linear light, weighted by alpha (so transparent
// padding does not darken edges), and averages only texels inside the tile's
// valid area: an edge tile's slot holds stale pixels beyond it.

struct MipJob {
    layer: u32,
    // Valid width and height of the tile at mip 0.
    width: u32,
    height: u32,
    _pad: u32,
}

struct MipParams {
    // The mip level being written (>= 1).
    mip: u32,
    job_count: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: MipParams;
@group(0) @binding(1) var<storage, read> jobs: array<MipJob>;
// sRGB view of mip `params.mip - 1`: loads return linear values.
@group(0) @binding(2) var source: texture_2d_array<f32>;
// Plain (unorm) view of mip `params.mip`: the shader encodes sRGB itself,
// because sRGB formats cannot be storage textures.
@group(0) @binding(3) var destination: texture_storage_2d_array<rgba8unorm, write>;

fn srgb_encode(linear: vec3<f32>) -> vec3<f32> {
    let c = clamp(linear, vec3<f32>(0.0), vec3<f32>(1.0));
    let low = c * 12.92;
    let high = 1.055 * pow(c, vec3<f32>(1.0 / 2.4)) - 0.055;
    return select(high, low, c <= vec3<f32>(0.0031308));
}

@compute @workgroup_size(8, 8, 1)
fn build_mip(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.z >= params.job_count {
        return;
    }
    let job = jobs[id.z];
    let above = params.mip - 1u;
    let src_size = vec2<u32>(
        (job.width + (1u << above) - 1u) >> above,
        (job.height + (1u << above) - 1u) >> above,
    );
    let dst_size = (src_size + vec2<u32>(1u)) / 2u;
    if id.x >= dst_size.x || id.y >= dst_size.y {
        return;
    }
    var sum = vec4<f32>(0.0);
    var count = 0.0;
    for (var dy = 0u; dy < 2u; dy++) {
        for (var dx = 0u; dx < 2u; dx++) {
            let p = id.xy * 2u + vec2<u32>(dx, dy);
            if p.x < src_size.x && p.y < src_size.y {
                let c = textureLoad(source, vec2<i32>(p), i32(job.layer), 0);
                sum += vec4<f32>(c.rgb * c.a, c.a);
                count += 1.0;
            }
        }
    }
    let alpha = sum.a / count;
    var rgb = vec3<f32>(0.0);
    if sum.a > 0.0 {
        rgb = sum.rgb / sum.a;
    }
    textureStore(destination, vec2<i32>(id.xy), i32(job.layer), vec4<f32>(srgb_encode(rgb), alpha));
}
