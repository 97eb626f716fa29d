//! Generic tiled TIFF and BigTIFF pyramids (libvips, tifffile, bfconvert...),
//! with OpenSlide's level rule: the first directory and every reduced-image
//! directory that is tiled, largest first. A TIFF with no tiled directory
//! (a small stripped image) opens as a one-level slide.

use super::tiff_image::{TiffImage, mpp_from_resolution, tiff_properties};
use crate::error::{Fault, FaultResult};
use crate::source::SharedSource;
use crate::tiff::{Tiff, tag};
use crate::{LevelSource, Opened};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn open(src: SharedSource, tiff: Arc<Tiff>) -> FaultResult<Opened> {
    let s = src.as_ref();
    let mut images = Vec::new();
    for (i, ifd) in tiff.ifds.iter().enumerate() {
        let tiled = ifd.has(tag::TILE_WIDTH) && ifd.has(tag::TILE_LENGTH);
        if !tiled {
            continue;
        }
        if i != 0 {
            let subfile = tiff.uint(s, ifd, tag::NEW_SUBFILE_TYPE)?.unwrap_or(0);
            if subfile & 1 == 0 {
                continue;
            }
        }
        images.push(TiffImage::new(src.clone(), tiff.clone(), ifd)?);
    }
    if images.is_empty() {
        // Not a pyramid: a plain stripped TIFF opens as a single level.
        let first = tiff
            .ifds
            .first()
            .ok_or_else(|| Fault::corrupt("TIFF", "no directories"))?;
        images.push(TiffImage::new(src.clone(), tiff.clone(), first)?);
    }
    // Stable sort keeps file order among equal widths, as OpenSlide's does.
    images.sort_by_key(|im| std::cmp::Reverse(im.grid().width));
    let mut properties = BTreeMap::new();
    tiff_properties(s, &tiff, &tiff.ifds[0], &mut properties);
    mpp_from_resolution(&mut properties);
    Ok(Opened {
        vendor: "generic-tiff".into(),
        levels: images
            .into_iter()
            .map(|im| Box::new(im) as Box<dyn LevelSource>)
            .collect(),
        downsamples: None,
        properties,
        associated: BTreeMap::new(),
    })
}
