//! Philips TIFF (IntelliSite): tiled levels in directory order, each after
//! the first a reduced-resolution image; the XML ImageDescription of the
//! first directory (a `DataObject` of type `DPUfsImport`) gives each
//! level's pixel spacing, from which OpenSlide derives integral downsamples
//! and clips the levels' padding, as done here. Label and macro come from
//! stripped directories or from base64 JPEGs inside the XML. Sparse slides
//! (several scanned regions) have zero-length tiles: missing.

use super::tiff_image::{TiffImage, tiff_properties};
use super::whole_jpeg::WholeJpeg;
use crate::error::{Fault, FaultResult};
use crate::source::SharedSource;
use crate::tiff::{Tiff, tag};
use crate::{AssociatedSource, LevelSource, Opened};
use base64::Engine;
use std::collections::BTreeMap;
use std::sync::Arc;

const SCANNED_IMAGES: &str = "PIM_DP_SCANNED_IMAGES";
const REPRESENTATIONS: &str = "PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE";

fn attr_name<'a>(n: &roxmltree::Node<'a, '_>) -> Option<&'a str> {
    n.attribute("Name")
}

/// The `DataObject` children of an attribute's `Array`.
fn array_objects<'a, 'i>(
    attr: roxmltree::Node<'a, 'i>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    attr.children()
        .filter(|n| n.has_tag_name("Array"))
        .flat_map(|a| a.children().filter(|n| n.has_tag_name("DataObject")))
}

fn attributes<'a, 'i>(
    obj: roxmltree::Node<'a, 'i>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    obj.children().filter(|n| n.has_tag_name("Attribute"))
}

fn image_type<'a>(obj: roxmltree::Node<'a, '_>) -> Option<&'a str> {
    attributes(obj)
        .find(|a| attr_name(a) == Some("PIM_DP_IMAGE_TYPE"))
        .and_then(|a| a.text())
}

/// Scanned images of a given type, in document order.
fn scanned_images<'a, 'i>(
    root: roxmltree::Node<'a, 'i>,
    kind: &'a str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    attributes(root)
        .filter(|a| attr_name(a) == Some(SCANNED_IMAGES))
        .flat_map(array_objects)
        .filter(|o| image_type(*o) == Some(kind))
        .collect()
}

/// Properties as OpenSlide names them: `philips.<Name>` for leaf
/// attributes, the first WSI image's attributes flattened in, and each
/// pixel-data representation as `philips.PIIM_..._SEQUENCE[i].<Name>`.
fn add_properties(
    obj: roxmltree::Node<'_, '_>,
    prefix: &str,
    props: &mut BTreeMap<String, String>,
    root: bool,
) {
    for a in attributes(obj) {
        let Some(name) = attr_name(&a) else { continue };
        if root && name == SCANNED_IMAGES {
            if let Some(wsi) = array_objects(a).find(|o| image_type(*o) == Some("WSI")) {
                add_properties(wsi, prefix, props, false);
            }
        } else if name == REPRESENTATIONS {
            for (i, rep) in array_objects(a).enumerate() {
                add_properties(rep, &format!("{prefix}.{name}[{i}]"), props, false);
            }
        } else if !a.children().any(|c| c.is_element()) {
            let value: String = a.children().filter_map(|c| c.text()).collect();
            props.insert(format!("{prefix}.{name}"), value);
        }
    }
}

/// "\"0.000227\" \"0.000227\"" (row spacing, column spacing, in mm) as
/// (width, height) spacing.
fn parse_spacing(text: &str) -> Option<(f64, f64)> {
    let parts: Vec<f64> = text
        .split(' ')
        .map(|p| p.trim().trim_matches('"').trim())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == 2).then(|| (parts[1], parts[0]))
}

pub(crate) fn open(src: SharedSource, tiff: Arc<Tiff>) -> FaultResult<Opened> {
    let s = src.as_ref();
    let xml = tiff
        .ascii(s, &tiff.ifds[0], tag::IMAGE_DESCRIPTION)?
        .unwrap_or_default();
    let doc = roxmltree::Document::parse(&xml)
        .map_err(|e| Fault::corrupt("Philips XML", e.to_string()))?;
    let root = doc.root_element();
    if !root.has_tag_name("DataObject") || root.attribute("ObjectType") != Some("DPUfsImport") {
        return Err(Fault::corrupt(
            "Philips XML",
            "root is not a DPUfsImport DataObject",
        ));
    }
    let wsi = scanned_images(root, "WSI");
    if wsi.len() != 1 {
        return Err(Fault::corrupt(
            "Philips XML",
            format!("{} WSI images, expected one", wsi.len()),
        ));
    }
    let mut levels: Vec<TiffImage> = Vec::new();
    let mut associated: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    for ifd in &tiff.ifds {
        let description = tiff
            .ascii(s, ifd, tag::IMAGE_DESCRIPTION)?
            .unwrap_or_default();
        if ifd.has(tag::TILE_WIDTH) && ifd.has(tag::TILE_LENGTH) {
            if !levels.is_empty() && tiff.uint(s, ifd, tag::NEW_SUBFILE_TYPE)?.unwrap_or(0) & 1 == 0
            {
                return Err(Fault::corrupt(
                    &ifd.name,
                    "a tiled directory that is not reduced-resolution",
                ));
            }
            let level = TiffImage::new(src.clone(), tiff.clone(), ifd)?;
            if let Some(prev) = levels.last() {
                let (p, g) = (prev.grid(), level.grid());
                if g.width > p.width || g.height > p.height {
                    return Err(Fault::corrupt(
                        &ifd.name,
                        "a level larger than the one before it",
                    ));
                }
            }
            levels.push(level);
        } else if description.starts_with("Label") {
            associated.insert(
                "label".into(),
                Box::new(TiffImage::new(src.clone(), tiff.clone(), ifd)?),
            );
        } else if description.starts_with("Macro") {
            associated.insert(
                "macro".into(),
                Box::new(TiffImage::new(src.clone(), tiff.clone(), ifd)?),
            );
        }
    }
    if levels.is_empty() {
        return Err(Fault::corrupt("Philips TIFF", "no tiled levels"));
    }
    // Level geometry from the XML pixel spacings.
    let spacings: Vec<(f64, f64)> = attributes(wsi[0])
        .filter(|a| attr_name(a) == Some(REPRESENTATIONS))
        .flat_map(array_objects)
        .filter(|o| o.attribute("ObjectType") == Some("PixelDataRepresentation"))
        .filter_map(|o| {
            attributes(o)
                .find(|a| attr_name(a) == Some("DICOM_PIXEL_SPACING"))
                .and_then(|a| a.text())
                .map(parse_spacing)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| Fault::corrupt("Philips XML", "unreadable level pixel spacing"))?;
    if spacings.len() != levels.len() {
        return Err(Fault::corrupt(
            "Philips XML",
            format!(
                "{} level pixel spacings for {} levels",
                spacings.len(),
                levels.len()
            ),
        ));
    }
    let (w0, h0) = spacings[0];
    let base = levels[0].grid();
    let mut downsamples = vec![1.0];
    for (level, &(w, h)) in levels.iter_mut().zip(&spacings).skip(1) {
        // Integral, as OpenSlide assumes, against floating-point noise.
        let ds = ((w / w0 + h / h0) / 2.0).round().max(1.0);
        level.clip(
            (base.width as f64 / ds) as u64,
            (base.height as f64 / ds) as u64,
        );
        downsamples.push(ds);
    }
    for (name, kind) in [("label", "LABELIMAGE"), ("macro", "MACROIMAGE")] {
        if associated.contains_key(name) {
            continue;
        }
        let data = scanned_images(root, kind).first().and_then(|o| {
            attributes(*o)
                .find(|a| attr_name(a) == Some("PIM_DP_IMAGE_DATA"))
                .and_then(|a| a.text())
                .map(str::to_string)
        });
        // Errors here are not fatal (OpenSlide's rule): skip the image.
        if let Some(b64) = data {
            let cleaned: String = b64.split_whitespace().collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cleaned)
                && let Ok(image) = WholeJpeg::in_memory(bytes, format!("XML {name} JPEG"))
            {
                associated.insert(name.into(), Box::new(image));
            }
        }
    }
    let mut properties = BTreeMap::new();
    tiff_properties(s, &tiff, &tiff.ifds[0], &mut properties);
    properties.remove("openslide.comment");
    properties.remove("tiff.ImageDescription");
    add_properties(root, "philips", &mut properties, true);
    if let Some((w, h)) = properties
        .get("philips.DICOM_PIXEL_SPACING")
        .and_then(|v| parse_spacing(v))
    {
        properties.insert("openslide.mpp-x".into(), crate::format_double(1e3 * w));
        properties.insert("openslide.mpp-y".into(), crate::format_double(1e3 * h));
    }
    if let Some(power) = properties
        .get("philips.DICOM_DERIVATION_DESCRIPTION")
        .and_then(|d| objective_power(d))
    {
        properties.insert("openslide.objective-power".into(), power.to_string());
    }
    if let Some(barcode) = properties.get("philips.PIM_DP_UFS_BARCODE")
        && let Ok(b) = base64::engine::general_purpose::STANDARD.decode(barcode.trim())
    {
        properties.insert(
            "openslide.barcode".into(),
            String::from_utf8_lossy(&b).into_owned(),
        );
    }
    Ok(Opened {
        vendor: "philips".into(),
        levels: levels
            .into_iter()
            .map(|l| Box::new(l) as Box<dyn LevelSource>)
            .collect(),
        downsamples: Some(downsamples),
        properties,
        associated,
    })
}

/// The objective power in a derivation description's `levels=` item, when
/// its first entry looks like one (1..=200).
fn objective_power(derivation: &str) -> Option<u64> {
    for item in derivation.split('-') {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        if k == "sourceFilename" {
            return None;
        }
        if k == "levels" {
            let first: u64 = v.split(',').next()?.parse().ok()?;
            return (1..=200).contains(&first).then_some(first);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_and_objective() {
        assert_eq!(
            parse_spacing("\"0.000227\" \"0.000454\""),
            Some((0.000454, 0.000227))
        );
        assert_eq!(parse_spacing("garbage"), None);
        assert_eq!(
            objective_power("tiff-useBigTIFF=1-levels=40,10002-q80"),
            Some(40)
        );
        assert_eq!(objective_power("levels=20002,10002"), None);
    }
}
