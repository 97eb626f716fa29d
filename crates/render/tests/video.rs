//! The GPU's 4:2:0 → RGB conversion (`shaders/video.wgsl`) on lavapipe, for
//! NV12 and I420 alike, against the colours ITU-R BT.709 defines:
//! limited-range blue, red, green, black and white patches come out as those
//! colours, the same from both layouts; a picture of the wrong size or
//! layout is refused by name.

mod common;

use kh_render::gpu::read_texture;
use kh_render::video::{Chroma, ChromaLayout, Picture, VideoError, VideoPlane};

/// (Y, U, V) in BT.709 limited range and the RGB each must become.
const PATCHES: [([u8; 3], [u8; 3]); 5] = [
    ([32, 240, 118], [0, 0, 255]),
    ([63, 102, 240], [255, 0, 0]),
    ([173, 42, 26], [0, 255, 0]),
    ([16, 128, 128], [0, 0, 0]),
    ([235, 128, 128], [255, 255, 255]),
];

/// Five 16-pixel-wide vertical stripes, 8 rows: the luma plane and the
/// chroma as NV12 pairs and as I420 planes.
fn stripes(w: u32, h: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut luma = vec![0u8; (w * h) as usize];
    let chroma_len = (w / 2 * h / 2) as usize;
    let (mut uv, mut u_plane, mut v_plane) = (
        vec![0u8; 2 * chroma_len],
        vec![0u8; chroma_len],
        vec![0u8; chroma_len],
    );
    for y in 0..h {
        for x in 0..w {
            let ([yy, u, v], _) = PATCHES[(x / 16) as usize];
            luma[(y * w + x) as usize] = yy;
            let c = ((y / 2) * (w / 2) + x / 2) as usize;
            (uv[2 * c], uv[2 * c + 1]) = (u, v);
            (u_plane[c], v_plane[c]) = (u, v);
        }
    }
    (luma, uv, u_plane, v_plane)
}

#[test]
fn nv12_and_i420_pictures_convert_to_the_colours_bt709_defines() {
    let gpu = common::gpu();
    let (w, h) = (80u32, 8u32);
    let (luma, uv, u, v) = stripes(w, h);
    let mut outputs = Vec::new();
    for chroma in [Chroma::Interleaved(&uv), Chroma::Planar { u: &u, v: &v }] {
        let plane = VideoPlane::new(&gpu.device, w, h, chroma.layout()).expect("plane");
        let picture = Picture {
            width: w,
            height: h,
            luma: &luma,
            chroma,
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
                "{:?} patch {index}: {got:?}, want {want:?}",
                chroma.layout()
            );
        }
        outputs.push(rgba);

        // The plane is for one size, and one layout.
        let small = Picture {
            width: 2,
            height: 2,
            luma: &[16; 4],
            chroma: Chroma::Interleaved(&[128; 2]),
            ..picture
        };
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let refused = plane.convert(&gpu.queue, &mut encoder, &small);
        assert!(
            matches!(
                refused,
                Err(VideoError::WrongPlane { .. } | VideoError::WrongLayout { .. })
            ),
            "{refused:?}"
        );
        let other = match chroma.layout() {
            ChromaLayout::Interleaved => Chroma::Planar { u: &u, v: &v },
            ChromaLayout::Planar => Chroma::Interleaved(&uv),
        };
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        assert!(matches!(
            plane.convert(
                &gpu.queue,
                &mut encoder,
                &Picture {
                    chroma: other,
                    ..picture
                }
            ),
            Err(VideoError::WrongLayout { .. })
        ));
    }
    // The same picture whichever way its chroma came.
    assert!(outputs[0] == outputs[1], "NV12 and I420 differ");
    assert!(matches!(
        VideoPlane::new(&gpu.device, 0, 10, ChromaLayout::Planar),
        Err(VideoError::TooLarge { .. })
    ));
}
