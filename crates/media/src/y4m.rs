//! YUV4MPEG2 (`.y4m`) files: raw 4:2:0 frames behind a one-line header.
//! FFmpeg, GStreamer and libvpx's tools all read and write them, so a
//! recording can be inspected with any of them, and any video can become a
//! source (`ffmpeg -i in.mp4 -pix_fmt yuv420p out.y4m`).

use crate::frame::{ColourInfo, ColourRange, PixelLayout, VideoFrame};
use std::io::{self, BufRead, Read, Write};

/// The largest frame accepted from a file: 8K UHD. A header claiming more
/// is refused before anything is allocated.
const MAX_SIDE: u32 = 7680 * 2;
const MAX_HEADER: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum Y4mError {
    #[error("reading: {0}")]
    Io(#[from] io::Error),
    #[error("not a YUV4MPEG2 file: {0}")]
    Format(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Y4mHeader {
    pub width: u32,
    pub height: u32,
    pub fps_num: u32,
    pub fps_den: u32,
    pub colour: ColourInfo,
}

pub struct Y4mWriter<W: Write> {
    out: W,
    header: Y4mHeader,
}

impl<W: Write> Y4mWriter<W> {
    pub fn new(mut out: W, header: Y4mHeader) -> io::Result<Y4mWriter<W>> {
        let range = match header.colour.range {
            ColourRange::Limited => "LIMITED",
            ColourRange::Full => "FULL",
        };
        writeln!(
            out,
            "YUV4MPEG2 W{} H{} F{}:{} Ip A1:1 C420jpeg XCOLORRANGE={range}",
            header.width, header.height, header.fps_num, header.fps_den
        )?;
        Ok(Y4mWriter { out, header })
    }

    /// Append a frame; frames of another size are refused (a file has one).
    pub fn write(&mut self, frame: &VideoFrame) -> io::Result<()> {
        if (frame.width, frame.height) != (self.header.width, self.header.height) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame {}x{} in a {}x{} file",
                    frame.width, frame.height, self.header.width, self.header.height
                ),
            ));
        }
        let i420;
        let data = if frame.layout == PixelLayout::I420 {
            &frame.data
        } else {
            i420 = i420_from_nv12(frame);
            &i420
        };
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(data)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn i420_from_nv12(frame: &VideoFrame) -> Vec<u8> {
    let luma = (frame.width * frame.height) as usize;
    let mut data = frame.data[..luma].to_vec();
    let uv = &frame.data[luma..];
    data.extend(uv.iter().step_by(2));
    data.extend(uv.iter().skip(1).step_by(2));
    data
}

pub struct Y4mReader<R: BufRead> {
    input: R,
    pub header: Y4mHeader,
}

impl<R: BufRead> Y4mReader<R> {
    pub fn new(mut input: R) -> Result<Y4mReader<R>, Y4mError> {
        let line = read_line(&mut input)?.ok_or_else(|| Y4mError::Format("empty file".into()))?;
        let mut fields = line.split(' ');
        if fields.next() != Some("YUV4MPEG2") {
            return Err(Y4mError::Format("no YUV4MPEG2 signature".into()));
        }
        let (mut width, mut height, mut fps) = (0u32, 0u32, (30u32, 1u32));
        let mut range = ColourRange::Limited;
        for field in fields.filter(|f| !f.is_empty()) {
            // The tag is one character, not one byte (found by fuzzing).
            let Some(tag) = field.chars().next() else {
                continue;
            };
            let value = &field[tag.len_utf8()..];
            match tag {
                'W' => width = number(value, "width")?,
                'H' => height = number(value, "height")?,
                'F' => {
                    let (n, d) = value
                        .split_once(':')
                        .ok_or_else(|| Y4mError::Format(format!("frame rate {value:?}")))?;
                    fps = (number(n, "frame rate")?, number(d, "frame rate")?);
                }
                'C' if !value.starts_with("420") => {
                    return Err(Y4mError::Format(format!(
                        "chroma {value:?}: only 4:2:0 8-bit is read"
                    )));
                }
                'I' if value != "p" && value != "?" => {
                    return Err(Y4mError::Format("interlaced video is not read".into()));
                }
                'X' if value == "COLORRANGE=FULL" => range = ColourRange::Full,
                _ => {}
            }
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Y4mError::Format(format!(
                "frame size {width}x{height} (1 to {MAX_SIDE} each way)"
            )));
        }
        if fps.0 == 0 || fps.1 == 0 {
            return Err(Y4mError::Format("frame rate of zero".into()));
        }
        Ok(Y4mReader {
            input,
            header: Y4mHeader {
                width,
                height,
                fps_num: fps.0,
                fps_den: fps.1,
                colour: ColourInfo {
                    range,
                    ..ColourInfo::BT709_LIMITED
                },
            },
        })
    }

    /// The next frame, or `None` at the end of the file. A file cut short
    /// mid-frame is an error.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>, Y4mError> {
        let Some(line) = read_line(&mut self.input)? else {
            return Ok(None);
        };
        if !line.starts_with("FRAME") {
            return Err(Y4mError::Format(format!(
                "expected FRAME, found {:?}",
                crate::y4m::prefix(&line)
            )));
        }
        let (w, h) = (self.header.width, self.header.height);
        let mut data = vec![0u8; VideoFrame::byte_len(w, h)];
        self.input.read_exact(&mut data).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                Y4mError::Format("the file ends inside a frame".into())
            } else {
                Y4mError::Io(e)
            }
        })?;
        Ok(Some(VideoFrame {
            width: w,
            height: h,
            layout: PixelLayout::I420,
            colour: self.header.colour,
            data,
        }))
    }
}

fn prefix(text: &str) -> String {
    text.chars().take(16).collect()
}

fn number(value: &str, what: &str) -> Result<u32, Y4mError> {
    value
        .parse()
        .map_err(|_| Y4mError::Format(format!("{what} {:?}", prefix(value))))
}

/// One header line, bounded: a file without newlines is refused rather
/// than read whole into memory.
fn read_line<R: BufRead>(input: &mut R) -> Result<Option<String>, Y4mError> {
    let mut line = Vec::new();
    let n = input
        .by_ref()
        .take(MAX_HEADER as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(Y4mError::Format(if n > MAX_HEADER {
            format!("a header line over {MAX_HEADER} bytes")
        } else {
            "the file ends inside a header".into()
        }));
    }
    line.pop();
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| Y4mError::Format("a header that is not text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::TestPattern;

    #[test]
    fn frames_round_trip_and_bad_files_are_named() {
        let mut pattern = TestPattern::new(64, 48);
        let header = Y4mHeader {
            width: 64,
            height: 48,
            fps_num: 25,
            fps_den: 1,
            colour: ColourInfo::BT709_LIMITED,
        };
        let mut writer = Y4mWriter::new(Vec::new(), header).expect("header");
        let frames: Vec<VideoFrame> = (0..3).map(|i| pattern.next_frame(i)).collect();
        for f in &frames {
            writer.write(f).expect("write");
        }
        writer.write(&frames[0].nv12_from_i420()).expect("nv12");
        let bytes = writer.finish().expect("finish");
        let mut reader = Y4mReader::new(&bytes[..]).expect("read header");
        assert_eq!(reader.header, header);
        for f in &frames {
            assert_eq!(reader.next_frame().expect("frame").as_ref(), Some(f));
        }
        assert_eq!(
            reader.next_frame().expect("nv12 back").as_ref(),
            Some(&frames[0])
        );
        assert!(reader.next_frame().expect("end").is_none());

        let cut = &bytes[..bytes.len() - 10];
        let mut reader = Y4mReader::new(cut).expect("header");
        for _ in 0..3 {
            reader.next_frame().expect("whole frames");
        }
        let err = reader.next_frame().expect_err("cut");
        assert!(err.to_string().contains("ends inside a frame"), "{err}");
        for (bad, says) in [
            (&b"RIFF....\n"[..], "signature"),
            (b"YUV4MPEG2 W0 H10\n", "frame size"),
            (b"YUV4MPEG2 W99999 H10\n", "frame size"),
            (b"YUV4MPEG2 W10 H10 C444\n", "4:2:0"),
            (b"YUV4MPEG2 W10 Hx\n", "height"),
            ("YUV4MPEG2 \u{1b2}8 W10\n".as_bytes(), "frame size"),
        ] {
            let err = Y4mReader::new(bad).err().map(|e| e.to_string());
            assert!(err.as_deref().is_some_and(|e| e.contains(says)), "{err:?}");
        }
        let long = vec![b'Y'; 10_000];
        assert!(Y4mReader::new(&long[..]).is_err());
    }
}
