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

impl ColourMatrix {
    /// Kr and Kb, the luma weights of red and blue (ITU-R BT.601, BT.709,
    /// BT.2020); green's is what remains.
    pub fn kr_kb(self) -> (f32, f32) {
        match self {
            ColourMatrix::Bt601 => (0.299, 0.114),
            ColourMatrix::Bt709 => (0.2126, 0.0722),
            ColourMatrix::Bt2020 => (0.2627, 0.0593),
        }
    }
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

impl VideoFrame {
    /// RGBA, 8 bits per channel, rows packed: the frame converted with its
    /// own matrix and range (chroma taken from the sample covering each
    /// pixel): the reference for the GPU's conversion (kh-render's video
    /// plane), and for pictures saved to files.
    pub fn rgba(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = chroma_size(self.width, self.height);
        let (cw, ch) = (cw as usize, ch as usize);
        let (kr, kb) = self.colour.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_offset, y_scale, c_scale) = match self.colour.range {
            ColourRange::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
            ColourRange::Full => (0.0, 1.0, 1.0),
        };
        let luma = &self.data[..w * h];
        let chroma = &self.data[w * h..];
        let uv = |x: usize, y: usize| -> (f32, f32) {
            let (cx, cy) = (x / 2, y / 2);
            match self.layout {
                PixelLayout::I420 => (
                    f32::from(chroma[cy * cw + cx]),
                    f32::from(chroma[cw * ch + cy * cw + cx]),
                ),
                PixelLayout::Nv12 => (
                    f32::from(chroma[cy * cw * 2 + cx * 2]),
                    f32::from(chroma[cy * cw * 2 + cx * 2 + 1]),
                ),
            }
        };
        let mut out = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                let yy = (f32::from(luma[y * w + x]) - y_offset) * y_scale;
                let (u, v) = uv(x, y);
                let (pb, pr) = ((u - 128.0) * c_scale, (v - 128.0) * c_scale);
                let r = yy + 2.0 * (1.0 - kr) * pr;
                let b = yy + 2.0 * (1.0 - kb) * pb;
                let g = (yy - kr * r - kb * b) / kg;
                out.extend([r, g, b].map(|c| c.round().clamp(0.0, 255.0) as u8));
                out.push(255);
            }
        }
        out
    }
}

/// Chroma plane size of a 4:2:0 frame (odd sizes round up).
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgba_follows_the_matrix_and_range() {
        let pixel = |y, u, v, colour| {
            let mut f = VideoFrame::filled(2, 2, y, u, v);
            f.colour = colour;
            let rgba = f.rgba();
            [rgba[0], rgba[1], rgba[2]]
        };
        let hd = ColourInfo::BT709_LIMITED;
        assert_eq!(pixel(16, 128, 128, hd), [0, 0, 0]);
        assert_eq!(pixel(235, 128, 128, hd), [255, 255, 255]);
        // BT.709 limited-range red, green and blue (ITU-R BT.709 table).
        let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2);
        assert!(
            near(pixel(63, 102, 240, hd), [255, 0, 0]),
            "{:?}",
            pixel(63, 102, 240, hd)
        );
        assert!(
            near(pixel(173, 42, 26, hd), [0, 255, 0]),
            "{:?}",
            pixel(173, 42, 26, hd)
        );
        assert!(
            near(pixel(32, 240, 118, hd), [0, 0, 255]),
            "{:?}",
            pixel(32, 240, 118, hd)
        );
        let pc = ColourInfo {
            matrix: ColourMatrix::Bt601,
            range: ColourRange::Full,
        };
        assert_eq!(pixel(128, 128, 128, pc), [128, 128, 128]);
        // NV12 reads the same colours as I420.
        let mut f = VideoFrame::filled(4, 2, 63, 102, 240);
        let i420 = f.rgba();
        f = f.nv12_from_i420();
        assert_eq!(f.rgba(), i420);
    }
}
