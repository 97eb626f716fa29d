//! Recommended Display CIELab Value ↔ sRGB, with the constants PixelMed
//! and highdicom use (sRGB primaries, D65 white), so a colour written here
//! reads back in those tools as the same colour and theirs read here.

use crate::model::Colour;

/// The DICOM triplet (L*, a*, b* scaled to 0..=65535) of an sRGB colour.
pub fn dicom_lab_from_colour(c: Colour) -> [u16; 3] {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        100.0
            * if v > 0.04045 {
                ((v + 0.055) / 1.055).powf(2.4)
            } else {
                v / 12.92
            }
    };
    let (r, g, b) = (lin(c.r), lin(c.g), lin(c.b));
    let x = r * 0.4124 + g * 0.3576 + b * 0.1805;
    let y = r * 0.2126 + g * 0.7152 + b * 0.0722;
    let z = r * 0.0193 + g * 0.1192 + b * 0.9505;
    let f = |t: f64| {
        if t >= 8.856_451_679_035_631e-3 {
            t.cbrt()
        } else {
            (841.0 / 108.0) * t + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 95.047), f(y / 100.0), f(z / 108.883));
    let l = 116.0 * fy - 16.0;
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    let scale =
        |v: f64, lo: f64, span: f64| ((v - lo) / span * 65535.0).round().clamp(0.0, 65535.0) as u16;
    [
        scale(l, 0.0, 100.0),
        scale(a, -128.0, 255.0),
        scale(bb, -128.0, 255.0),
    ]
}

/// The sRGB colour of a DICOM CIELab triplet (clipped to the gamut).
pub fn colour_from_dicom_lab(v: [u16; 3]) -> Colour {
    let l = f64::from(v[0]) * 100.0 / 65535.0;
    let a = f64::from(v[1]) * 255.0 / 65535.0 - 128.0;
    let b = f64::from(v[2]) * 255.0 / 65535.0 - 128.0;
    let fy = (l + 16.0) / 116.0;
    let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
    let inv = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            (t - 4.0 / 29.0) * 108.0 / 841.0
        }
    };
    let (x, y, z) = (inv(fx) * 0.95047, inv(fy), inv(fz) * 1.08883);
    let r = x * 3.2406 + y * -1.5372 + z * -0.4986;
    let g = x * -0.9689 + y * 1.8758 + z * 0.0415;
    let bl = x * 0.0557 + y * -0.2040 + z * 1.0570;
    let gamma = |c: f64| {
        let c = if c > 0.003_130_8 {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        } else {
            12.92 * c
        };
        (c * 255.0).round().clamp(0.0, 255.0) as u8
    };
    Colour::rgb(gamma(r), gamma(g), gamma(bl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_survive_the_round_trip() {
        // highdicom's CIELabColor.from_rgb(0, 255, 0).value
        assert_eq!(
            dicom_lab_from_colour(Colour::rgb(0, 255, 0)),
            [57_498, 10_747, 54_274]
        );
        for c in [
            Colour::rgb(0, 0, 0),
            Colour::rgb(255, 255, 255),
            Colour::rgb(200, 0, 0),
            Colour::rgb(12, 120, 240),
            Colour::rgb(127, 220, 58),
        ] {
            assert_eq!(colour_from_dicom_lab(dicom_lab_from_colour(c)), c, "{c:?}");
        }
    }
}
