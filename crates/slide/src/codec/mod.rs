//! Tile codecs. A tile travels as an [`EncodedTile`]: its stored bytes plus
//! everything needed to decode them, so it can be streamed to another machine
//! and decoded there without re-encoding.

pub mod j2k;
#[allow(unsafe_code, reason = "libjpeg-turbo (TJ3) is a C library")]
pub mod jpeg;
pub mod tiff_samples;

use crate::error::FaultResult;
pub use jpeg::Crop;
pub use tiff_samples::SampleLayout;

/// How an [`EncodedTile`]'s bytes are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "codec", rename_all = "kebab-case")]
pub enum TileCodec {
    /// A complete JPEG stream: tables included, an RGB colour space stated by
    /// an Adobe marker. Decoded at 1/`scale_denom` size (NDPI's reduced
    /// levels are DCT-scaled views of the full-resolution stream).
    Jpeg { scale_denom: u8 },
    /// A JPEG 2000 codestream; `ycbcr` when its components are YCbCr that the
    /// codestream itself does not transform (Aperio 33003).
    Jpeg2000 { ycbcr: bool },
    /// TIFF-coded 8-bit samples.
    TiffSamples(SampleLayout),
    /// Raw RGBA8, for tiles with no stored coded form (OpenSlide backend).
    Rgba,
}

/// A tile as stored in the slide.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncodedTile {
    /// Size of the decoded tile in pixels (a full tile; edge tiles carry
    /// padding beyond the image, which readers clip).
    pub width: u32,
    pub height: u32,
    #[serde(flatten)]
    pub codec: TileCodec,
    #[serde(with = "serde_bytes_as_vec")]
    pub bytes: Vec<u8>,
}

mod serde_bytes_as_vec {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        <Vec<u8> as serde::Deserialize>::deserialize(d)
    }
}

impl EncodedTile {
    /// Decode to RGBA8 (rows packed), optionally only `crop` of it.
    pub fn decode(&self, crop: Option<Crop>, part: &str) -> FaultResult<Vec<u8>> {
        if let Some(c) = crop
            && (c.width == 0
                || c.height == 0
                || u64::from(c.x) + u64::from(c.width) > u64::from(self.width)
                || u64::from(c.y) + u64::from(c.height) > u64::from(self.height))
        {
            return Err(crate::Fault::argument(
                part,
                format!("crop {c:?} outside a {}x{} tile", self.width, self.height),
            ));
        }
        match self.codec {
            TileCodec::Jpeg { scale_denom } => jpeg::decode_rgba(
                &self.bytes,
                u32::from(scale_denom.max(1)),
                (self.width, self.height),
                crop,
                part,
            ),
            TileCodec::Jpeg2000 { ycbcr } => {
                let full = j2k::decode_rgba(&self.bytes, (self.width, self.height), ycbcr, part)?;
                Ok(crop_rgba(full, self.width, crop))
            }
            TileCodec::TiffSamples(layout) => {
                let full =
                    tiff_samples::decode_rgba(&self.bytes, layout, self.width, self.height, part)?;
                Ok(crop_rgba(full, self.width, crop))
            }
            TileCodec::Rgba => {
                let need = self.width as usize * self.height as usize * 4;
                if self.bytes.len() != need {
                    return Err(crate::Fault::corrupt(
                        part,
                        format!("RGBA tile has {} bytes, {need} expected", self.bytes.len()),
                    ));
                }
                Ok(crop_rgba(self.bytes.clone(), self.width, crop))
            }
        }
    }

    /// Decode into a grid cell of `cell` pixels. A tile coded smaller than
    /// its cell (a TIFF's short last strip, some converters' DICOM edge
    /// frames) is placed top-left, transparent beyond; `crop` is in cell
    /// pixels.
    pub fn decode_in_cell(
        &self,
        cell: (u32, u32),
        crop: Option<Crop>,
        part: &str,
    ) -> FaultResult<Vec<u8>> {
        if (self.width, self.height) == cell {
            return self.decode(crop, part);
        }
        if self.width > cell.0 || self.height > cell.1 {
            return Err(crate::Fault::corrupt(
                part,
                format!(
                    "{}x{} tile in a {}x{} cell",
                    self.width, self.height, cell.0, cell.1
                ),
            ));
        }
        // A crop inside the coded part needs no padding (and stays partial).
        if let Some(c) = crop
            && c.x + c.width <= self.width
            && c.y + c.height <= self.height
        {
            return self.decode(crop, part);
        }
        let small = self.decode(None, part)?;
        let (cw, coded_row) = (cell.0 as usize * 4, self.width as usize * 4);
        let mut full = vec![0u8; cw * cell.1 as usize];
        for (y, line) in small.chunks_exact(coded_row).enumerate() {
            full[y * cw..y * cw + coded_row].copy_from_slice(line);
        }
        if let Some(c) = crop
            && (c.x + c.width > cell.0 || c.y + c.height > cell.1)
        {
            return Err(crate::Fault::argument(
                part,
                format!("crop {c:?} outside the cell"),
            ));
        }
        Ok(crop_rgba(full, cell.0, crop))
    }
}

fn crop_rgba(full: Vec<u8>, width: u32, crop: Option<Crop>) -> Vec<u8> {
    let Some(c) = crop else { return full };
    let stride = width as usize * 4;
    let row = c.width as usize * 4;
    let mut out = Vec::with_capacity(row * c.height as usize);
    for y in c.y..c.y + c.height {
        let start = y as usize * stride + c.x as usize * 4;
        out.extend_from_slice(&full[start..start + row]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgba_tile(w: u32, h: u32) -> EncodedTile {
        EncodedTile {
            width: w,
            height: h,
            codec: TileCodec::Rgba,
            bytes: (0..w * h * 4).map(|i| (i % 251) as u8).collect(),
        }
    }

    #[test]
    fn crop_outside_the_tile_is_an_error_for_every_codec() {
        let t = rgba_tile(4, 4);
        let outside = Crop {
            x: 3,
            y: 0,
            width: 2,
            height: 1,
        };
        assert!(t.decode(Some(outside), "t").is_err());
        let empty = Crop {
            x: 0,
            y: 0,
            width: 0,
            height: 1,
        };
        assert!(t.decode(Some(empty), "t").is_err());
        let inside = Crop {
            x: 1,
            y: 2,
            width: 3,
            height: 2,
        };
        assert_eq!(t.decode(Some(inside), "t").unwrap().len(), 3 * 2 * 4);
    }

    #[test]
    fn short_tile_is_padded_into_its_cell() {
        let t = rgba_tile(2, 3);
        let cell = t.decode_in_cell((4, 4), None, "t").unwrap();
        assert_eq!(cell.len(), 4 * 4 * 4);
        assert_eq!(&cell[..8], &t.bytes[..8]);
        assert_eq!(
            &cell[8..16],
            &[0; 8],
            "beyond the coded width is transparent"
        );
        assert_eq!(
            &cell[3 * 16..],
            &[0; 16],
            "beyond the coded height is transparent"
        );
        let crop = Crop {
            x: 1,
            y: 2,
            width: 3,
            height: 2,
        };
        assert_eq!(t.decode_in_cell((4, 4), Some(crop), "t").unwrap().len(), 24);
        assert!(
            t.decode_in_cell((1, 4), None, "t").is_err(),
            "a tile larger than its cell"
        );
    }
}
