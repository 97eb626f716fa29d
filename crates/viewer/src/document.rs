//! An open slide and the pictures around it (minimap, label, macro,
//! thumbnail), loaded off the UI thread.

use crate::app::UserEvent;
use kh_slide::{RgbaImage, Slide};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use winit::event_loop::EventLoopProxy;

/// Longest side of the minimap image.
pub const MINIMAP_SIDE: u32 = 240;

/// Open a slide on a thread (its decoded-tile cache `cache_bytes`, else
/// the library's default); the result comes back as `UserEvent::Opened`.
pub fn open_in_background(
    path: PathBuf,
    cache_bytes: Option<u64>,
    proxy: EventLoopProxy<UserEvent>,
) {
    let mut options = kh_slide::OpenOptions::default();
    if let Some(bytes) = cache_bytes {
        options.cache_bytes = bytes;
    }
    let spawned = std::thread::Builder::new()
        .name("kh-open".into())
        .spawn(move || {
            let result = Slide::open_with(&path, &options).map(Arc::new);
            let _ = proxy.send_event(UserEvent::Opened(path, result));
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the open thread: {e}");
    }
}

/// Read the minimap and associated images on a thread.
pub fn load_pictures(slide: Arc<Slide>, proxy: EventLoopProxy<UserEvent>) {
    let spawned = std::thread::Builder::new()
        .name("kh-pictures".into())
        .spawn(move || {
            let minimap = minimap(&slide);
            let _ = proxy.send_event(UserEvent::Minimap(slide.path().to_path_buf(), minimap));
            let mut pictures = Vec::new();
            for name in slide.associated_images().keys() {
                match slide.read_associated(name) {
                    Ok(image) => pictures.push((name.clone(), image)),
                    Err(e) => tracing::warn!("{name}: {e}"),
                }
            }
            let _ = proxy.send_event(UserEvent::Pictures(slide.path().to_path_buf(), pictures));
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the picture thread: {e}");
    }
}

/// The whole slide, small: the finest level no larger than 2048 px a side,
/// box-reduced to [`MINIMAP_SIDE`]; else the thumbnail image.
fn minimap(slide: &Slide) -> Option<RgbaImage> {
    let small = slide
        .levels()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.width.max(l.height) <= 2048)
        .min_by(|a, b| a.1.downsample.total_cmp(&b.1.downsample));
    let image = match small {
        Some((index, level)) => slide
            .read_region(0, 0, index, level.width as u32, level.height as u32)
            .map_err(|e| tracing::warn!("minimap: {e}"))
            .ok()?,
        None => slide
            .read_associated("thumbnail")
            .map_err(|e| tracing::warn!("minimap: {e}"))
            .ok()?,
    };
    Some(shrink(&image, MINIMAP_SIDE))
}

/// Box-reduce so the longer side is at most `side`.
pub fn shrink(image: &RgbaImage, side: u32) -> RgbaImage {
    let factor = image.width.max(image.height).div_ceil(side).max(1);
    if factor == 1 {
        return image.clone();
    }
    let (w, h) = (image.width / factor, image.height / factor);
    let mut pixels = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let mut sum = [0u32; 4];
            for dy in 0..factor {
                for dx in 0..factor {
                    let i = (((y * factor + dy) * image.width + x * factor + dx) * 4) as usize;
                    for (total, value) in sum.iter_mut().zip(&image.pixels[i..i + 4]) {
                        *total += u32::from(*value);
                    }
                }
            }
            let n = factor * factor;
            pixels.extend(sum.map(|s| (s / n) as u8));
        }
    }
    RgbaImage {
        width: w,
        height: h,
        pixels,
    }
}

/// A file name for display (never the full path: it may carry a patient
/// identifier in a folder name).
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
