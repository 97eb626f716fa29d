//! Hostile and broken input: every case must end in a clear error (or a
//! correct answer), never a panic or a hang, with memory bounded. Cases run
//! one after another under a counting allocator so each one's peak can be
//! measured.

mod support;

use kh_slide::tiff::Tiff;
use kh_slide::{BackendPolicy, ErrorKind, OpenOptions, Slide, exercise, exercise_slide};
use std::time::Duration;
use support::counting::{MEMORY_BOUND, Outcome, measured};

/// A case taking longer than this is treated as a hang (not a speed test).
const HANG: Duration = Duration::from_secs(60);

/// A little-endian classic TIFF with one tiled directory. `extra` entries
/// override or add tags: (tag, type, count, value bytes).
fn tiled_tiff(
    size: (u32, u32),
    tile: (u32, u32),
    compression: u16,
    photometric: u16,
    tiles: &[Vec<u8>],
    extra: &[(u16, u16, u32, Vec<u8>)],
) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut offsets = Vec::new();
    for t in tiles {
        offsets.push(out.len() as u32);
        out.extend_from_slice(t);
    }
    let le = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut entries: Vec<(u16, u16, u32, Vec<u8>)> = vec![
        (256, 4, 1, le(&[size.0])),
        (257, 4, 1, le(&[size.1])),
        (
            258,
            3,
            3,
            [8u16, 8, 8].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        (259, 3, 1, compression.to_le_bytes().to_vec()),
        (262, 3, 1, photometric.to_le_bytes().to_vec()),
        (277, 3, 1, 3u16.to_le_bytes().to_vec()),
        (322, 4, 1, le(&[tile.0])),
        (323, 4, 1, le(&[tile.1])),
        (324, 4, offsets.len() as u32, le(&offsets)),
        (
            325,
            4,
            tiles.len() as u32,
            le(&tiles.iter().map(|t| t.len() as u32).collect::<Vec<_>>()),
        ),
    ];
    for e in extra {
        entries.retain(|x| x.0 != e.0);
        entries.push(e.clone());
    }
    entries.sort_by_key(|e| e.0);
    let mut values = Vec::new();
    for e in &entries {
        if e.3.len() > 4 {
            values.push(out.len() as u32);
            out.extend_from_slice(&e.3);
        } else {
            values.push(0);
        }
    }
    let ifd = out.len() as u32;
    out[4..8].copy_from_slice(&ifd.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (e, at) in entries.iter().zip(values) {
        out.extend_from_slice(&e.0.to_le_bytes());
        out.extend_from_slice(&e.1.to_le_bytes());
        out.extend_from_slice(&e.2.to_le_bytes());
        if e.3.len() > 4 {
            out.extend_from_slice(&at.to_le_bytes());
        } else {
            let mut v = e.3.clone();
            v.resize(4, 0);
            out.extend_from_slice(&v);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, bytes).unwrap();
    z.finish().unwrap()
}

/// Cases: (name, bytes, what the error must mention, if it must fail).
fn crafted() -> Vec<(String, Vec<u8>, Option<&'static str>)> {
    let mut cases = Vec::new();
    let plain = vec![0x80u8; 16 * 16 * 3];
    let good = tiled_tiff((16, 16), (16, 16), 1, 2, std::slice::from_ref(&plain), &[]);
    assert!(
        Slide::from_bytes("good", good.clone()).is_ok(),
        "the crafted baseline must open"
    );
    // Random bytes behind a TIFF header.
    let mut seed = 0x1234_5678_u64;
    for i in 0..24 {
        let mut b = b"II*\0\x08\0\0\0".to_vec();
        for _ in 0..(64 + i * 97) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b.push((seed >> 33) as u8);
        }
        cases.push((format!("random-after-header-{i}"), b, None));
    }
    let mut looped = good.clone();
    let ifd = u32::from_le_bytes(looped[4..8].try_into().unwrap()) as usize;
    let n = u16::from_le_bytes([looped[ifd], looped[ifd + 1]]) as usize;
    let next = ifd + 2 + 12 * n;
    looped[next..next + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
    cases.push(("ifd-loop".into(), looped, Some("loop")));
    cases.push((
        "absurd-dimensions".into(),
        tiled_tiff(
            (u32::MAX, u32::MAX),
            (16, 16),
            1,
            2,
            std::slice::from_ref(&plain),
            &[],
        ),
        Some("tile offsets"),
    ));
    cases.push((
        "absurd-tile-size".into(),
        tiled_tiff(
            (70000, 70000),
            (65536, 65536),
            1,
            2,
            std::slice::from_ref(&plain),
            &[],
        ),
        Some("too large"),
    ));
    cases.push((
        "offset-past-end".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            1,
            2,
            std::slice::from_ref(&plain),
            &[(324, 4, 1, 0x7FFF_0000u32.to_le_bytes().to_vec())],
        ),
        Some("past the end"),
    ));
    cases.push((
        "byte-count-past-end".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            1,
            2,
            std::slice::from_ref(&plain),
            &[(325, 4, 1, 0xFFFF_FFF0u32.to_le_bytes().to_vec())],
        ),
        Some("bytes"),
    ));
    cases.push((
        "width-as-text".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            1,
            2,
            std::slice::from_ref(&plain),
            &[(256, 2, 4, b"big\0".to_vec())],
        ),
        Some("ImageWidth"),
    ));
    cases.push((
        "offsets-as-rational".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            1,
            2,
            std::slice::from_ref(&plain),
            &[(324, 5, 1, vec![1, 0, 0, 0, 1, 0, 0, 0])],
        ),
        Some("TileOffsets"),
    ));
    cases.push((
        "unknown-compression".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            52479,
            2,
            std::slice::from_ref(&plain),
            &[],
        ),
        Some("compression"),
    ));
    cases.push((
        "deflate-garbage".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            8,
            2,
            &[vec![0x78, 0x9c, 1, 2, 3, 4, 5, 6, 7]],
            &[],
        ),
        Some("Deflate"),
    ));
    cases.push((
        "deflate-short".into(),
        tiled_tiff((64, 64), (64, 64), 8, 2, &[zlib(&[7u8; 100])], &[]),
        Some("bytes"),
    ));
    // A 200-byte JPEG stream claiming 60000 x 60000 pixels.
    let mut fake_jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xEA, 0x60, 0xEA, 0x60, 3, 1, 0x22, 0, 2, 0x11, 0, 3,
        0x11, 0,
    ];
    fake_jpeg.resize(200, 0);
    cases.push((
        "jpeg-claims-huge".into(),
        tiled_tiff((60000, 60000), (60000, 60000), 7, 6, &[fake_jpeg], &[]),
        None,
    ));
    cases.push((
        "j2k-garbage".into(),
        tiled_tiff(
            (16, 16),
            (16, 16),
            33005,
            2,
            &[vec![0xFF, 0x4F, 0xFF, 0x51, 0, 0, 1, 2, 3]],
            &[],
        ),
        Some("JPEG 2000"),
    ));
    cases
}

fn check(problems: &mut Vec<String>, name: &str, outcome: &Outcome, must_mention: Option<&str>) {
    if outcome.peak > MEMORY_BOUND {
        problems.push(format!("{name}: allocated {} MiB", outcome.peak >> 20));
    }
    if outcome.took > HANG {
        problems.push(format!("{name}: took {:?}", outcome.took));
    }
    for e in &outcome.errors {
        let text = e.to_string();
        if e.part.is_empty() || e.reason.is_empty() || !text.contains(&e.path.display().to_string())
        {
            problems.push(format!(
                "{name}: error without file, part and reason: {text:?}"
            ));
        }
    }
    if let Some(word) = must_mention {
        let all: Vec<String> = outcome.errors.iter().map(|e| e.to_string()).collect();
        if !all
            .iter()
            .any(|t| t.to_lowercase().contains(&word.to_lowercase()))
        {
            problems.push(format!(
                "{name}: expected an error mentioning {word:?}, got {all:?}"
            ));
        }
    }
}

#[test]
fn hostile_inputs_fail_cleanly_with_bounded_memory() {
    let mut problems = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut biggest = (0usize, String::new());
    let mut note = |name: &str, o: &Outcome| {
        if o.took > slowest.0 {
            slowest = (o.took, name.to_string());
        }
        if o.peak > biggest.0 {
            biggest = (o.peak, name.to_string());
        }
    };
    for (name, bytes, mention) in crafted() {
        let o = measured(|| exercise(&name, bytes));
        note(&name, &o);
        check(&mut problems, &name, &o, mention);
    }
    // Real slides cut short anywhere.
    for f in support::fixtures() {
        if f.oracle.is_none() || f.path.is_dir() {
            continue;
        }
        let Ok(bytes) = std::fs::read(&f.path) else {
            continue;
        };
        if bytes.len() > 40 << 20 {
            continue;
        }
        let cuts = [
            8,
            200,
            bytes.len() / 10,
            bytes.len() / 2,
            bytes.len() * 9 / 10,
            bytes.len() - 1,
        ];
        for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
            let name = format!("{} cut at {cut}", f.name);
            let o = measured(|| exercise(&name, bytes[..cut].to_vec()));
            note(&name, &o);
            check(&mut problems, &name, &o, None);
        }
    }
    eprintln!(
        "slowest case: {} ({:?}); largest allocation peak: {} ({} KiB)",
        slowest.1,
        slowest.0,
        biggest.1,
        biggest.0 >> 10
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn zero_length_tiles_are_missing_not_errors() {
    let plain = vec![0x40u8; 16 * 16 * 3];
    let bytes = tiled_tiff((32, 16), (16, 16), 1, 2, &[plain, Vec::new()], &[]);
    let slide = Slide::from_bytes("sparse", bytes).unwrap();
    assert!(slide.read_tile(0, 1, 0).unwrap().is_none());
    let region = slide.read_region(0, 0, 0, 32, 16).unwrap();
    assert_eq!(&region.pixels[..4], &[0x40, 0x40, 0x40, 255]);
    assert_eq!(
        &region.pixels[16 * 4..16 * 4 + 4],
        &[0, 0, 0, 0],
        "missing tile is transparent"
    );
}

/// Corrupt one stored tile of a real slide: that tile's reads fail naming
/// it, the rest of the slide still reads.
#[test]
fn corrupt_tile_data_is_named_and_contained() {
    for name in [
        "vips/jpeg_q85_t256.tiff",
        "aperio/j2k_33005.svs",
        "vips/lzw_t256.tiff",
    ] {
        let f = support::fixtures()
            .into_iter()
            .find(|f| f.name == name)
            .unwrap();
        let mut bytes = std::fs::read(&f.path).unwrap();
        let tiff = Tiff::parse(&bytes).unwrap();
        let offsets = tiff.uints(&bytes, &tiff.ifds[0], 324).unwrap();
        let counts = tiff.uints(&bytes, &tiff.ifds[0], 325).unwrap();
        let (o, c) = (offsets[1] as usize, counts[1] as usize);
        if name.contains("j2k") {
            // JPEG 2000 has no markers inside packet data, so damage there
            // is undetectable by any decoder; a truncated codestream is.
            let first = bytes[offsets[0] as usize..(offsets[0] + counts[0]) as usize].to_vec();
            let cut = bytes[o..o + c / 2].to_vec();
            bytes = tiled_tiff((480, 240), (240, 240), 33005, 2, &[first, cut], &[]);
        } else {
            for b in &mut bytes[o + c / 4..o + c * 3 / 4] {
                *b = 0x5A;
            }
        }
        let slide = Slide::from_bytes(name, bytes).unwrap();
        let Err(err) = slide.read_tile(0, 1, 0) else {
            panic!("{name}: a corrupt tile decoded");
        };
        assert!(err.to_string().contains("tile (1, 0)"), "{name}: {err}");
        assert!(
            slide.read_tile(0, 0, 0).is_ok(),
            "{name}: the neighbour still reads"
        );
        let l = slide.levels()[0];
        let Err(region_err) = slide.read_region(0, 0, 0, l.tile_width * 2, l.tile_height) else {
            panic!("{name}: a region over the corrupt tile read without error");
        };
        assert!(
            region_err.to_string().contains("level 0 tile (1, 0)"),
            "{region_err}"
        );
    }
}

#[test]
fn openslides_own_bad_fixtures() {
    let fixtures = support::fixtures();
    let get = |n: &str| fixtures.iter().find(|f| f.name == n).unwrap().path.clone();
    let err = Slide::open(get("real/unopenable.tiff")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("compression"), "{err}");
    let slide = Slide::open(get("real/unreadable.svs")).unwrap();
    let errors = exercise_slide(&slide);
    assert!(
        errors.iter().any(|e| e.to_string().contains("JPEG")),
        "{errors:?}"
    );
}

/// Files of formats we do not read natively, with the OpenSlide backend
/// off: the error names the format they look like.
#[test]
fn other_formats_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let desc = b"<?xml version=\"1.0\"?><scn xmlns=\"http://www.leica-microsystems.com/scn/2010/10/01\"/>\0".to_vec();
    let leica = tiled_tiff(
        (16, 16),
        (16, 16),
        1,
        2,
        &[vec![0; 768]],
        &[(270, 2, desc.len() as u32, desc)],
    );
    let xmp = b"<x:xmpmeta><iScan Magnification=\"40\"/></x:xmpmeta>".to_vec();
    let ventana = tiled_tiff(
        (16, 16),
        (16, 16),
        1,
        2,
        &[vec![0; 768]],
        &[(700, 1, xmp.len() as u32, xmp)],
    );
    let sw = b"MedScan\0".to_vec();
    let trestle = tiled_tiff(
        (16, 16),
        (16, 16),
        1,
        2,
        &[vec![0; 768]],
        &[(305, 2, sw.len() as u32, sw)],
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a.czi", b"ZISRAWFILE\0\0\0\0\0\0padding".to_vec(), "Zeiss"),
        ("a.svslide", b"SQLite format 3\0 more".to_vec(), "Sakura"),
        (
            "a.vmu",
            b"[Uncompressed Virtual Microscope Specimen]\r\nNoLayers=1\r\n".to_vec(),
            "VMU",
        ),
        (
            "a.vms",
            b"[Virtual Microscope Specimen]\r\nNoLayers=1\r\n".to_vec(),
            "VMS",
        ),
        ("a.scn", leica, "Leica"),
        ("a.bif", ventana, "Ventana"),
        ("a.tif", trestle, "Trestle"),
        (
            "a.png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "PNG image",
        ),
        ("a.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16], "JPEG image"),
        ("a.zip", b"PK\x03\x04rest".to_vec(), "ZIP"),
        (
            "a.txt",
            b"hello, this is not a slide".to_vec(),
            "unrecognised",
        ),
        ("empty", Vec::new(), "empty"),
    ];
    let never = OpenOptions {
        backend: BackendPolicy::Never,
        ..OpenOptions::default()
    };
    for (name, bytes, word) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Slide::open_with(&path, &never).expect_err(name);
        assert!(err.to_string().contains(word), "{name}: {err}");
        assert!(
            err.to_string().contains(name),
            "{name}: error must name the file: {err}"
        );
    }
    // MIRAX: a .mrxs beside a folder holding Slidedat.ini.
    std::fs::create_dir(dir.path().join("case")).unwrap();
    std::fs::write(dir.path().join("case/Slidedat.ini"), "[GENERAL]\n").unwrap();
    std::fs::write(dir.path().join("case.mrxs"), [0xFF, 0xD8, 0xFF]).unwrap();
    let err = Slide::open_with(dir.path().join("case.mrxs"), &never).unwrap_err();
    assert!(err.to_string().contains("MIRAX"), "{err}");
    // A folder with no DICOM in it.
    let err = Slide::open(dir.path().join("case")).unwrap_err();
    assert!(err.to_string().contains("no DICOM"), "{err}");
}
