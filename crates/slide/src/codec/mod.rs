//! Tile codecs. A tile travels as an [`EncodedTile`]: its stored bytes plus
//! everything needed to decode them, so it can be streamed to another machine
//! and decoded there without re-encoding.

pub mod j2k;
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

    /// Whether decoding a part costs less than decoding the whole.
    pub fn partial_decode_is_cheaper(&self) -> bool {
        matches!(self.codec, TileCodec::Jpeg { .. })
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
