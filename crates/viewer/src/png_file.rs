//! PNG output (screenshots, `kh` images), written to a temporary file and
//! moved into place so a failed or interrupted write never leaves a
//! half-written image. Screenshots never replace a file already there
//! ([`write_rgba_new`]); `kh`'s outputs, named on its command line, do.

use anyhow::{Context, Result};
use std::io::BufWriter;
use std::path::Path;

/// Writes `path`, replacing what is there.
pub fn write_rgba(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<()> {
    write(path, width, height, rgba, true)
}

/// Writes `path`, which must not exist yet.
pub fn write_rgba_new(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<()> {
    write(path, width, height, rgba, false)
}

fn write(path: &Path, width: u32, height: u32, rgba: &[u8], replace: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let mut encoder = png::Encoder::new(BufWriter::new(tmp.as_file()), width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder
            .write_header()
            .with_context(|| format!("writing {}", path.display()))?;
        writer
            .write_image_data(rgba)
            .with_context(|| format!("writing {}", path.display()))?;
        writer
            .finish()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let placed = if replace {
        tmp.persist(path).map(drop)
    } else {
        tmp.persist_noclobber(path).map(drop)
    };
    placed.with_context(|| format!("moving the image into place at {}", path.display()))?;
    Ok(())
}
