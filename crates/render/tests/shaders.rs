//! The WGSL in `shaders/` parses and validates with naga (the compiler wgpu
//! uses), with every capability off: what any backend accepts.

fn validate(name: &str, source: &str) {
    let module = match naga::front::wgsl::parse_str(source) {
        Ok(m) => m,
        Err(e) => panic!("{name}: {}", e.emit_to_string(source)),
    };
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    );
    if let Err(e) = validator.validate(&module) {
        panic!("{name}: {}", e.emit_to_string(source));
    }
}

#[test]
fn tile_shader_validates() {
    validate("tile.wgsl", kh_render::renderer::TILE_SHADER);
}

#[test]
fn mip_shader_validates() {
    validate("mip.wgsl", kh_render::renderer::MIP_SHADER);
}

#[test]
fn video_shader_validates() {
    validate("video.wgsl", kh_render::video::VIDEO_SHADER);
}

#[test]
fn overlay_shader_validates() {
    validate("overlay.wgsl", kh_render::overlay::OVERLAY_SHADER);
}

#[test]
fn a_broken_shader_is_caught() {
    let broken = kh_render::renderer::TILE_SHADER.replace("fn srgb_encode", "fn srgb_encode_");
    let result = std::panic::catch_unwind(|| validate("broken", &broken));
    assert!(
        result.is_err(),
        "validation must reject a call to a missing function"
    );
}
