//! OME-TIFF: the OME-XML in the first ImageDescription describes images;
//! the first image's plane is a TIFF directory whose SubIFDs hold the
//! reduced-resolution levels (the OME 6 pyramid convention written by
//! bfconvert, tifffile, QuPath and vips). Physical pixel size comes from
//! `Pixels@PhysicalSizeX/Y` with their units; images named "label",
//! "macro" or "thumbnail" become associated images.
//!
//! OpenSlide reads such files as generic TIFF and sees only full-resolution
//! directories, so this reader is checked against tifffile instead.

use super::tiff_image::{TiffImage, tiff_properties};
use crate::error::{Fault, FaultResult};
use crate::source::SharedSource;
use crate::tiff::{Tiff, tag};
use crate::{AssociatedSource, LevelSource, Opened};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Micrometres in one `unit` (OME's UnitsLength symbols).
fn micrometres_per(unit: &str) -> Option<f64> {
    Some(match unit {
        "pm" => 1e-6,
        "nm" => 1e-3,
        "µm" | "um" | "μm" => 1.0,
        "mm" => 1e3,
        "cm" => 1e4,
        "m" => 1e6,
        _ => return None,
    })
}

struct OmeImage {
    name: String,
    ifd: usize,
    mpp: (Option<f64>, Option<f64>),
    objective: Option<f64>,
}

fn parse_xml(xml: &str) -> FaultResult<Vec<OmeImage>> {
    let doc =
        roxmltree::Document::parse(xml).map_err(|e| Fault::corrupt("OME-XML", e.to_string()))?;
    let root = doc.root_element();
    let objectives: BTreeMap<&str, f64> = root
        .descendants()
        .filter(|n| n.has_tag_name("Objective"))
        .filter_map(|n| {
            Some((
                n.attribute("ID")?,
                n.attribute("NominalMagnification")?.parse().ok()?,
            ))
        })
        .collect();
    let mut images = Vec::new();
    for image in root.children().filter(|n| n.has_tag_name("Image")) {
        let Some(pixels) = image.children().find(|n| n.has_tag_name("Pixels")) else {
            continue;
        };
        let size = |axis: &str| -> Option<f64> {
            let v: f64 = pixels
                .attribute(format!("PhysicalSize{axis}").as_str())?
                .parse()
                .ok()?;
            let unit = pixels
                .attribute(format!("PhysicalSize{axis}Unit").as_str())
                .unwrap_or("µm");
            Some(v * micrometres_per(unit)?).filter(|m| *m > 0.0 && m.is_finite())
        };
        let ifd = pixels
            .children()
            .find(|n| n.has_tag_name("TiffData"))
            .and_then(|t| t.attribute("IFD"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let objective = image
            .children()
            .find(|n| n.has_tag_name("ObjectiveSettings"))
            .and_then(|o| o.attribute("ID"))
            .and_then(|id| objectives.get(id).copied());
        images.push(OmeImage {
            name: image.attribute("Name").unwrap_or_default().to_string(),
            ifd,
            mpp: (size("X"), size("Y")),
            objective,
        });
    }
    if images.is_empty() {
        return Err(Fault::corrupt("OME-XML", "no Image with Pixels"));
    }
    Ok(images)
}

pub(crate) fn open(src: SharedSource, tiff: Arc<Tiff>) -> FaultResult<Opened> {
    let s = src.as_ref();
    let xml = tiff
        .ascii(s, &tiff.ifds[0], tag::IMAGE_DESCRIPTION)?
        .unwrap_or_default();
    let images = parse_xml(&xml)?;
    let associated_name = |name: &str| match name.to_ascii_lowercase().as_str() {
        "label" => Some("label"),
        "macro" | "overview" => Some("macro"),
        "thumbnail" => Some("thumbnail"),
        _ => None,
    };
    let main = images
        .iter()
        .find(|i| associated_name(&i.name).is_none())
        .ok_or_else(|| Fault::corrupt("OME-XML", "only label/macro images, no slide"))?;
    let ifd = tiff.ifds.get(main.ifd).ok_or_else(|| {
        Fault::corrupt(
            "OME-XML",
            format!("image points at missing IFD {}", main.ifd),
        )
    })?;
    let mut levels: Vec<Box<dyn LevelSource>> =
        vec![Box::new(TiffImage::new(src.clone(), tiff.clone(), ifd)?)];
    for sub in &ifd.sub_ifds {
        levels.push(Box::new(TiffImage::new(src.clone(), tiff.clone(), sub)?));
    }
    let mut associated: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    for image in &images {
        if let (Some(name), Some(ifd)) = (associated_name(&image.name), tiff.ifds.get(image.ifd)) {
            associated.insert(
                name.to_string(),
                Box::new(TiffImage::new(src.clone(), tiff.clone(), ifd)?),
            );
        }
    }
    let mut properties = BTreeMap::new();
    tiff_properties(s, &tiff, &tiff.ifds[0], &mut properties);
    // The whole OME-XML document is not a comment a viewer should show.
    properties.remove("openslide.comment");
    properties.remove("tiff.ImageDescription");
    if let (Some(x), Some(y)) = main.mpp {
        properties.insert("openslide.mpp-x".into(), crate::format_double(x));
        properties.insert("openslide.mpp-y".into(), crate::format_double(y));
    }
    if let Some(m) = main.objective {
        properties.insert("openslide.objective-power".into(), crate::format_double(m));
    }
    properties.insert("ome.Image.Name".into(), main.name.clone());
    properties.insert("ome.image-count".into(), images.len().to_string());
    Ok(Opened {
        vendor: "ome-tiff".into(),
        levels,
        downsamples: None,
        properties,
        associated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes_units_and_objective() {
        let xml = r#"<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
          <Instrument ID="Instrument:0"><Objective ID="Objective:0" NominalMagnification="40"/></Instrument>
          <Image ID="Image:0" Name="slide"><ObjectiveSettings ID="Objective:0"/>
            <Pixels PhysicalSizeX="250" PhysicalSizeXUnit="nm" PhysicalSizeY="0.25"><TiffData IFD="0"/></Pixels></Image>
          <Image ID="Image:1" Name="label"><Pixels><TiffData IFD="1"/></Pixels></Image>
        </OME>"#;
        let images = parse_xml(xml).unwrap();
        assert_eq!(images[0].mpp, (Some(0.25), Some(0.25)));
        assert_eq!(images[0].objective, Some(40.0));
        assert_eq!((images[1].name.as_str(), images[1].ifd), ("label", 1));
        assert!(parse_xml("<OME>").is_err());
    }
}
