//! Video frames as planar YUV 4:2:0 with their colour description.
//!
//! I420 (three planes) is what libvpx reads and writes; NV12 (luma plus
//! interleaved chroma) is what hardware decoders and the GPU upload path
//! prefer. Both carry the matrix and range the renderer needs to convert to
//! RGB correctly: a frame without them is ambiguous.

/// The YUV→RGB matrix of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourMatrix {
    Bt601,
    Bt709,
    Bt2020,
}

/// Whether luma spans 16–235 (limited, "TV") or 0–255 (full, "PC").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourRange {
    Limited,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColourInfo {
    pub matrix: ColourMatrix,
    pub range: ColourRange,
}

impl ColourInfo {
    /// HD video as cameras and WebRTC peers send it.
    pub const BT709_LIMITED: ColourInfo = ColourInfo {
        matrix: ColourMatrix::Bt709,
        range: ColourRange::Limited,
    };
}

/// How the chroma samples are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// Y plane, then U, then V, each chroma plane half size both ways.
    I420,
    /// Y plane, then one plane of interleaved U,V pairs.
    Nv12,
}

/// One 8-bit 4:2:0 frame, tightly packed (stride = width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    pub layout: PixelLayout,
    pub colour: ColourInfo,
    /// Y, then chroma as `layout` says.
    pub data: Vec<u8>,
}

impl VideoFrame {
    /// A frame of one colour.
    pub fn filled(width: u32, height: u32, y: u8, u: u8, v: u8) -> VideoFrame {
        let (cw, ch) = chroma_size(width, height);
        let luma = (width * height) as usize;
        let chroma = (cw * ch) as usize;
        let mut data = vec![y; luma + 2 * chroma];
        data[luma..luma + chroma].fill(u);
        data[luma + chroma..].fill(v);
        VideoFrame {
            width,
            height,
            layout: PixelLayout::I420,
            colour: ColourInfo::BT709_LIMITED,
            data,
        }
    }

    /// Bytes a 4:2:0 frame of this size takes.
    pub fn byte_len(width: u32, height: u32) -> usize {
        let (cw, ch) = chroma_size(width, height);
        (width * height + 2 * cw * ch) as usize
    }

    pub fn luma(&self) -> &[u8] {
        &self.data[..(self.width * self.height) as usize]
    }

    pub fn luma_mut(&mut self) -> &mut [u8] {
        let n = (self.width * self.height) as usize;
        &mut self.data[..n]
    }

    /// The U and V planes of an I420 frame.
    pub fn chroma_planes_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        let luma = (self.width * self.height) as usize;
        let (cw, ch) = chroma_size(self.width, self.height);
        let chroma = (cw * ch) as usize;
        let (u, v) = self.data[luma..].split_at_mut(chroma);
        (u, &mut v[..chroma])
    }

    /// The same picture as NV12 (chroma interleaved).
    pub fn nv12_from_i420(&self) -> VideoFrame {
        if self.layout == PixelLayout::Nv12 {
            return self.clone();
        }
        let luma = (self.width * self.height) as usize;
        let (cw, ch) = chroma_size(self.width, self.height);
        let chroma = (cw * ch) as usize;
        let mut data = Vec::with_capacity(self.data.len());
        data.extend_from_slice(&self.data[..luma]);
        let (u, v) = self.data[luma..].split_at(chroma);
        for (u, v) in u.iter().zip(v) {
            data.push(*u);
            data.push(*v);
        }
        VideoFrame {
            layout: PixelLayout::Nv12,
            data,
            ..*self
        }
    }
}

/// Chroma plane size of a 4:2:0 frame (odd sizes round up).
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}
