//! The GPU's NV12 → RGB conversion (`shaders/video.wgsl`) on lavapipe,
//! against the colours ITU-R BT.709 defines: limited-range blue, red, green,
//! black and white patches come out as those colours; a picture of the
//! wrong size is refused by name.

mod common;

use kh_render::gpu::read_texture;
use kh_render::video::{Nv12, VideoError, VideoPlane};

/// (Y, U, V) in BT.709 limited range and the RGB each must become.
const PATCHES: [([u8; 3], [u8; 3]); 5] = [
    ([32, 240, 118], [0, 0, 255]),
    ([63, 102, 240], [255, 0, 0]),
    ([173, 42, 26], [0, 255, 0]),
    ([16, 128, 128], [0, 0, 0]),
    ([235, 128, 128], [255, 255, 255]),
];

#[test]
fn nv12_pictures_convert_to_the_colours_bt709_defines() {
    let gpu = common::gpu();
    // Five 16-pixel-wide vertical stripes, 8 rows.
    let (w, h) = (80u32, 8u32);
    let mut luma = vec![0u8; (w * h) as usize];
    let mut chroma = vec![0u8; (w / 2 * h / 2 * 2) as usize];
    for y in 0..h {
        for x in 0..w {
            let ([yy, u, v], _) = PATCHES[(x / 16) as usize];
            luma[(y * w + x) as usize] = yy;
            let c = ((y / 2) * (w / 2) + x / 2) as usize * 2;
            chroma[c] = u;
            chroma[c + 1] = v;
        }
    }
    let plane = VideoPlane::new(&gpu.device, w, h).expect("plane");
    let picture = Nv12 {
        width: w,
        height: h,
        luma: &luma,
        chroma: &chroma,
        kr: 0.2126,
        kb: 0.0722,
        limited_range: true,
    };
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    plane
        .convert(&gpu.queue, &mut encoder, &picture)
        .expect("convert");
    gpu.queue.submit([encoder.finish()]);
    let rgba = read_texture(gpu, plane.output_texture()).expect("read back");
    for (index, (_, want)) in PATCHES.iter().enumerate() {
        let x = index as u32 * 16 + 8;
        let i = ((4 * w + x) * 4) as usize;
        let got = [rgba[i], rgba[i + 1], rgba[i + 2]];
        assert!(
            got.iter().zip(want).all(|(a, b)| a.abs_diff(*b) <= 2),
            "patch {index}: {got:?}, want {want:?}"
        );
    }

    // The plane is for one size.
    let small = Nv12 {
        width: 2,
        height: 2,
        luma: &[16; 4],
        chroma: &[128; 2],
        ..picture
    };
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    assert!(matches!(
        plane.convert(&gpu.queue, &mut encoder, &small),
        Err(VideoError::WrongPlane { .. })
    ));
    assert!(matches!(
        VideoPlane::new(&gpu.device, 0, 10),
        Err(VideoError::TooLarge { .. })
    ));
}
