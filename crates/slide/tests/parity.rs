//! OpenSlide parity: for every fixture, `info` and pixels agree with an
//! independent reader (OpenSlide 4 from openslide-bin; tifffile where
//! OpenSlide does not read the file the way we do). One test per fixture.
//!
//! Regions are random but reproducible (seeded by the fixture name), at
//! every level, partly outside the image, at level-0 origins that map to
//! whole level pixels (OpenSlide resamples elsewhere; see docs/design.md §6).

mod support;

use kh_slide::Slide;
use libtest_mimic::{Arguments, Failed, Trial};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use std::collections::BTreeMap;
use support::{Fixture, ask_oracle};

fn main() {
    let args = Arguments::from_args();
    let trials = support::fixtures()
        .into_iter()
        .filter(|f| f.oracle.is_some())
        .map(|f| Trial::test(format!("parity::{}", f.name), move || check(&f)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

type Region = [i64; 5];

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Regions to compare: whole small levels, plus random ones that straddle
/// the edges.
fn plan(slide: &Slide, name: &str, level0_only: bool) -> Vec<Region> {
    let mut rng = StdRng::seed_from_u64(seed_of(name));
    let mut out = Vec::new();
    let levels = if level0_only {
        &slide.levels()[..1]
    } else {
        slide.levels()
    };
    for (i, l) in levels.iter().enumerate() {
        let (w, h) = (l.width as i64, l.height as i64);
        let ds = l.downsample;
        let integral = ds.fract() == 0.0;
        let to_slide = |v: i64| (v as f64 * ds).round() as i64;
        if w * h <= 1_500_000 {
            out.push([0, 0, i as i64, w, h]);
            out.push([to_slide(-7), to_slide(-5), i as i64, w.min(900), h.min(900)]);
        }
        for _ in 0..8 {
            let rw = rng.random_range(1..=512i64.min(w + 64));
            let rh = rng.random_range(1..=512i64.min(h + 64));
            let (mut lx, mut ly) = (
                rng.random_range(-48..w.max(1)),
                rng.random_range(-48..h.max(1)),
            );
            if !integral {
                // Only origins that map to whole level pixels.
                lx = lx.min(0);
                ly = ly.min(0);
            }
            out.push([to_slide(lx), to_slide(ly), i as i64, rw, rh]);
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Property values agree: equal text, or equal numbers.
fn same_value(a: &str, b: &str) -> bool {
    a == b
        || matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if close(x, y))
}

/// Properties we promise to report as OpenSlide does.
fn compared_property(key: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "dicom.",
        "aperio.",
        "hamamatsu.",
        "philips.",
        "tiff.",
        "openslide.associated.",
        "openslide.level[",
    ];
    const KEYS: [&str; 8] = [
        "openslide.vendor",
        "openslide.mpp-x",
        "openslide.mpp-y",
        "openslide.objective-power",
        "openslide.comment",
        "openslide.level-count",
        "openslide.icc-size",
        "openslide.barcode",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}

/// Values `k[0]`, `k[1]`... joined with backslashes.
fn joined(props: &BTreeMap<String, String>, k: &str) -> String {
    (0..)
        .map_while(|i| props.get(&format!("{k}[{i}]")).cloned())
        .collect::<Vec<_>>()
        .join("\\")
}

fn compare_pixels(
    what: &str,
    ours: &[u8],
    theirs: &[u8],
    width: usize,
    tolerance: u8,
    problems: &mut Vec<String>,
) {
    if ours.len() != theirs.len() {
        problems.push(format!(
            "{what}: {} bytes, oracle {}",
            ours.len(),
            theirs.len()
        ));
        return;
    }
    let mut bad = 0usize;
    let mut worst = 0u8;
    let mut first = None;
    for (i, (a, b)) in ours.chunks_exact(4).zip(theirs.chunks_exact(4)).enumerate() {
        let d = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        // Transparency must match exactly; colour within the tolerance.
        if d > tolerance || a[3] != b[3] {
            bad += 1;
            worst = worst.max(d);
            first.get_or_insert((i % width, i / width, a.to_vec(), b.to_vec()));
        }
    }
    if bad > 0 {
        let (x, y, a, b) = first.unwrap();
        problems.push(format!(
            "{what}: {bad} pixels differ (max {worst}); first at ({x}, {y}): ours {a:?}, oracle {b:?}"
        ));
    }
}

fn check(f: &Fixture) -> Result<(), Failed> {
    let slide = Slide::open(&f.path).map_err(|e| format!("kh-slide could not open it: {e}"))?;
    let regions = plan(&slide, &f.name, f.openslide_level0);
    let answer = ask_oracle(f, &regions)?;
    let mut problems = Vec::new();
    let info = &answer.info;

    // Levels.
    let theirs = info["levels"].as_array().unwrap();
    let ours = slide.levels();
    let level_count_checked = !f.openslide_level0;
    if level_count_checked && theirs.len() != ours.len() {
        problems.push(format!("{} levels, oracle {}", ours.len(), theirs.len()));
    }
    for (i, (l, t)) in ours.iter().zip(theirs).enumerate() {
        let tw = t["width"].as_u64().unwrap();
        let th = t["height"].as_u64().unwrap();
        if (l.width, l.height) != (tw, th) {
            problems.push(format!(
                "level {i}: {}x{}, oracle {tw}x{th}",
                l.width, l.height
            ));
        }
        if !close(l.downsample, t["downsample"].as_f64().unwrap()) {
            problems.push(format!(
                "level {i}: downsample {}, oracle {}",
                l.downsample, t["downsample"]
            ));
        }
        let (ttw, tth) = (
            t["tile_width"].as_u64().unwrap(),
            t["tile_height"].as_u64().unwrap(),
        );
        if ttw != 0 && (u64::from(l.tile_width), u64::from(l.tile_height)) != (ttw, tth) {
            problems.push(format!(
                "level {i}: tiles {}x{}, oracle {ttw}x{tth}",
                l.tile_width, l.tile_height
            ));
        }
    }

    // Vendor, resolution, properties.
    let props = slide.properties();
    let expected_vendor = f
        .vendor
        .clone()
        .or_else(|| info["vendor"].as_str().map(str::to_string));
    if let Some(v) = expected_vendor
        && slide.vendor() != v
    {
        problems.push(format!("vendor {:?}, expected {v:?}", slide.vendor()));
    }
    if let Some(mpp) = f.mpp {
        for (axis, got) in [("x", slide.mpp().0), ("y", slide.mpp().1)] {
            if !got.is_some_and(|g| close(g, mpp)) {
                problems.push(format!("mpp-{axis} {got:?}, expected {mpp}"));
            }
        }
    }
    if f.oracle.as_deref() == Some("openslide") {
        let theirs = info["properties"].as_object().unwrap();
        for (k, v) in theirs {
            if !compared_property(k) {
                continue;
            }
            let v = v.as_str().unwrap_or_default();
            match props.get(k) {
                // libdicom keeps some multi-valued strings as one
                // backslash-joined value; we list them as k[0], k[1]...
                None if v.contains('\\') && joined(props, k) == v => {}
                None => problems.push(format!("property {k} missing (oracle {v:?})")),
                Some(o) if !same_value(o, v) => {
                    problems.push(format!("property {k} = {o:?}, oracle {v:?}"))
                }
                _ => {}
            }
        }
        for k in props.keys().filter(|k| compared_property(k)) {
            let listed_whole = k
                .strip_suffix(']')
                .and_then(|k| k.rsplit_once('['))
                .is_some_and(|(base, _)| theirs.contains_key(base));
            if !theirs.contains_key(k.as_str()) && !listed_whole {
                problems.push(format!("property {k} is not reported by the oracle"));
            }
        }
    }

    // Associated images.
    let ours_assoc = slide.associated_images();
    let names: Vec<_> = ours_assoc.keys().cloned().collect();
    let their_names: Vec<_> = answer.associated.keys().cloned().collect();
    if f.oracle.as_deref() == Some("openslide") && names != their_names {
        problems.push(format!(
            "associated images {names:?}, oracle {their_names:?}"
        ));
    }
    let tolerance = f.tolerance;
    for (name, (w, h, pixels)) in &answer.associated {
        match slide.read_associated(name) {
            Ok(img) if (img.width, img.height) != (*w, *h) => problems.push(format!(
                "associated {name}: {}x{}, oracle {w}x{h}",
                img.width, img.height
            )),
            Ok(img) => compare_pixels(
                &format!("associated {name}"),
                &img.pixels,
                pixels,
                *w as usize,
                tolerance,
                &mut problems,
            ),
            Err(e) => problems.push(format!("associated {name}: {e}")),
        }
    }

    // Regions.
    for (r, theirs) in regions.iter().zip(&answer.regions) {
        let [x, y, level, w, h] = *r;
        if f.openslide_level0 && level > 0 {
            continue;
        }
        match slide.read_region(x, y, level as usize, w as u32, h as u32) {
            Ok(img) => compare_pixels(
                &format!("region x={x} y={y} level={level} {w}x{h}"),
                &img.pixels,
                theirs,
                w as usize,
                tolerance,
                &mut problems,
            ),
            Err(e) => problems.push(format!("region {r:?}: {e}")),
        }
    }
    if f.openslide_level0 {
        // Levels the oracle cannot read must still read here, whole.
        for (i, l) in slide.levels().iter().enumerate().skip(1) {
            if let Err(e) = slide.read_region(0, 0, i, l.width as u32, l.height as u32) {
                problems.push(format!("level {i}: {e}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let n = problems.len();
        problems.truncate(25);
        Err(format!(
            "{n} problems in {}:\n  {}",
            f.path.display(),
            problems.join("\n  ")
        )
        .into())
    }
}
