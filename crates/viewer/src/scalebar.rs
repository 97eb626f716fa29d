//! Scale bars: a round length near a target width, and burning one into a
//! screenshot (a tiny bitmap font, so no font rasteriser is needed).

/// A bar of a round length (1, 2 or 5 x 10^k µm) close to `target_px`
/// screen pixels, given micrometres per screen pixel: (length in µm, pixels).
pub fn nice_bar(um_per_px: f64, target_px: f64) -> (f64, f64) {
    let raw = um_per_px * target_px;
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let mantissa = raw / base;
    let step = if mantissa >= 5.0 {
        5.0
    } else if mantissa >= 2.0 {
        2.0
    } else {
        1.0
    };
    let um = step * base;
    (um, um / um_per_px)
}

/// "500 µm", "2 mm", "0.5 µm".
pub fn label(um: f64) -> String {
    if um >= 1000.0 {
        format!("{} mm", trim(um / 1000.0))
    } else {
        format!("{} µm", trim(um))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// 5x7 glyphs, one row per byte (low 5 bits, leftmost pixel highest).
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [30, 1, 1, 14, 1, 1, 30],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        'm' => [0, 0, 26, 21, 21, 21, 21],
        'µ' => [0, 17, 17, 17, 19, 29, 16],
        _ => [0; 7],
    }
}

/// Draw the bar and its label into RGBA pixels (bottom-right, white box,
/// black bar), scaled up for legibility on large images.
pub fn burn_in(rgba: &mut [u8], width: u32, height: u32, um_per_px: f64) {
    let (um, px) = nice_bar(um_per_px, f64::from(width) / 6.0);
    let text = label(um);
    let scale = (width / 640).clamp(1, 4);
    let (w, h) = (width as i64, height as i64);
    let bar_w = px.round() as i64;
    let text_w = text.chars().count() as i64 * 6 * i64::from(scale);
    let box_w = bar_w.max(text_w) + 16;
    let box_h = 7 * i64::from(scale) + 24;
    let (x0, y0) = (w - box_w - 12, h - box_h - 12);
    let mut fill = |x: i64, y: i64, rw: i64, rh: i64, v: u8| {
        for yy in y.max(0)..(y + rh).min(h) {
            for xx in x.max(0)..(x + rw).min(w) {
                let i = ((yy * w + xx) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&[v, v, v, 255]);
            }
        }
    };
    fill(x0, y0, box_w, box_h, 255);
    fill(x0 + 8, y0 + box_h - 12, bar_w, 4, 0);
    let s = i64::from(scale);
    for (n, c) in text.chars().enumerate() {
        let rows = glyph(c);
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..5 {
                if bits & (16 >> rx) != 0 {
                    fill(
                        x0 + 8 + n as i64 * 6 * s + rx * s,
                        y0 + 6 + ry as i64 * s,
                        s,
                        s,
                        0,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_round_and_near_the_target() {
        assert_eq!(nice_bar(0.25, 200.0), (50.0, 200.0));
        let (um, px) = nice_bar(0.499, 150.0);
        assert_eq!(um, 50.0);
        assert!((px - 100.2).abs() < 0.1);
        assert_eq!(label(2000.0), "2 mm");
        assert_eq!(label(0.5), "0.5 µm");
    }

    #[test]
    fn burned_bar_is_black_on_white_in_the_corner() {
        let (w, h) = (640u32, 480u32);
        let mut rgba = vec![128u8; (w * h * 4) as usize];
        burn_in(&mut rgba, w, h, 1.0);
        let dark = rgba.chunks_exact(4).filter(|p| p[0] == 0).count();
        let white = rgba.chunks_exact(4).filter(|p| p[0] == 255).count();
        assert!(dark > 100 && white > 1000);
        // The top-left is untouched.
        assert_eq!(&rgba[..4], &[128, 128, 128, 128]);
    }
}
