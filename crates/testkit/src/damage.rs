//! Slides that fail part-way, as a failed copy or a bad disk leaves them.

use kh_slide::tiff::Tiff;

/// `bytes` (a tiled TIFF) with the stored data of the tiles of directory
/// `ifd` from tile index `first` on overwritten from each tile's middle to
/// its end. The directories stay intact, so the slide still opens and its
/// other tiles read; these fail to decode.
pub fn damage_tiles_from(mut bytes: Vec<u8>, ifd: usize, first: usize) -> Vec<u8> {
    let tiff = match Tiff::parse(&bytes) {
        Ok(t) => t,
        Err(e) => panic!("not a TIFF: {e:?}"),
    };
    let (Ok(offsets), Ok(counts)) = (
        tiff.uints(&bytes, &tiff.ifds[ifd], 324),
        tiff.uints(&bytes, &tiff.ifds[ifd], 325),
    ) else {
        panic!("directory {ifd} has no tile offsets and byte counts");
    };
    for (&o, &c) in offsets.iter().zip(&counts).skip(first) {
        let (o, c) = (o as usize, c as usize);
        bytes[o + c / 2..o + c].fill(0x5A);
    }
    bytes
}
