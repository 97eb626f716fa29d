//! Aperio SVS: tiled pyramid levels in file order; directory 1 (stripped) is
//! the thumbnail, later stripped directories are named by the first word of
//! their description's second line ("label", "macro"). Properties come from
//! the `|`-separated ImageDescription. JPEG tiles are RGB without saying so
//! (the TIFF photometric tag is the only clue); JPEG 2000 tiles use Aperio's
//! private compression codes 33003 (YCbCr) and 33005 (RGB).

use super::tiff_image::{TiffImage, tiff_properties};
use crate::error::FaultResult;
use crate::source::SharedSource;
use crate::tiff::{Tiff, tag};
use crate::{AssociatedSource, LevelSource, Opened};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

pub(crate) fn open(src: SharedSource, tiff: Arc<Tiff>) -> FaultResult<Opened> {
    let s = src.as_ref();
    let mut levels: Vec<TiffImage> = Vec::new();
    let mut associated: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    for (i, ifd) in tiff.ifds.iter().enumerate() {
        let tiled = ifd.has(tag::TILE_WIDTH) && ifd.has(tag::TILE_LENGTH);
        if tiled {
            levels.push(TiffImage::new(src.clone(), tiff.clone(), ifd)?);
            continue;
        }
        let name = if i == 1 {
            Some("thumbnail".to_string())
        } else {
            tiff.ascii(s, ifd, tag::IMAGE_DESCRIPTION)?.and_then(|d| {
                d.split(['\r', '\n'])
                    .filter(|l| !l.is_empty())
                    .nth(1)
                    .and_then(|l| l.split(' ').next())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
            })
        };
        if let Some(name) = name {
            let image = TiffImage::new(src.clone(), tiff.clone(), ifd)?;
            associated.insert(name, Box::new(image));
        }
    }
    // Aperio writes zero-length tiles after encoder failures, and the tile
    // of the next level that was computed from one is often corrupt too:
    // treat both as missing (OpenSlide's rule).
    for i in 0..levels.len().saturating_sub(1) {
        let missing = levels[i].zero_length_tiles()?;
        if missing.is_empty() {
            continue;
        }
        let (a, b) = (levels[i].grid(), levels[i + 1].grid());
        let concat_x = (f64::from(a.across()) / f64::from(b.across()))
            .round()
            .max(1.0) as u32;
        let concat_y = (f64::from(a.down()) / f64::from(b.down())).round().max(1.0) as u32;
        let next: HashSet<(u32, u32)> = missing
            .into_iter()
            .map(|(c, r)| (c / concat_x, r / concat_y))
            .collect();
        levels[i + 1].set_extra_missing(next);
    }
    let mut properties = BTreeMap::new();
    let description = tiff
        .ascii(s, &tiff.ifds[0], tag::IMAGE_DESCRIPTION)?
        .unwrap_or_default();
    for item in description.split('|').skip(1) {
        let mut kv = item.splitn(2, '=');
        let key = kv.next().unwrap_or("").trim();
        let value = kv.next().unwrap_or("").trim();
        if !key.is_empty() {
            properties.insert(format!("aperio.{key}"), value.to_string());
        }
    }
    if let Some(mag) = properties
        .get("aperio.AppMag")
        .and_then(|v| v.parse::<f64>().ok())
    {
        // OpenSlide keeps the integer part (duplicate_int_prop).
        properties.insert("openslide.objective-power".into(), (mag as i64).to_string());
    }
    if let Some(mpp) = properties
        .get("aperio.MPP")
        .and_then(|v| v.parse::<f64>().ok())
    {
        let v = crate::format_double(mpp);
        properties.insert("openslide.mpp-x".into(), v.clone());
        properties.insert("openslide.mpp-y".into(), v);
    }
    tiff_properties(s, &tiff, &tiff.ifds[0], &mut properties);
    Ok(Opened {
        vendor: "aperio".into(),
        levels: levels
            .into_iter()
            .map(|l| Box::new(l) as Box<dyn LevelSource>)
            .collect(),
        downsamples: None,
        properties,
        associated,
    })
}
