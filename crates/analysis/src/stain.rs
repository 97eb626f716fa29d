//! Colour deconvolution (Ruifrok & Johnston, 2001): how much haematoxylin,
//! eosin and DAB a pixel holds, from its colour. Same stain vectors and the
//! same arithmetic as scikit-image's `rgb2hed` (its numbers are the test's
//! oracle), but in base-10 optical density, the unit pathologists' tools
//! (QuPath's "Hematoxylin OD") report: `rgb2hed` divides the natural log by
//! ln 10⁻⁶, so its values are these divided by 6.

/// Optical density of each stain in red, green and blue (rows: H, E, DAB),
/// Ruifrok & Johnston's vectors as scikit-image holds them.
pub const RGB_FROM_HED: [[f64; 3]; 3] =
    [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]];

/// The darkest a channel counts as (scikit-image's floor: 0 would be an
/// infinite density).
const FLOOR: f64 = 1e-6;

/// RGB → stain densities, with a table of each 8-bit value's density so a
/// pixel costs nine multiplications.
pub struct Deconvolution {
    hed_from_rgb: [[f64; 3]; 3],
    density: [f64; 256],
}

impl Deconvolution {
    /// Haematoxylin, eosin and DAB.
    pub fn hed() -> Self {
        Deconvolution {
            hed_from_rgb: inverse(&RGB_FROM_HED),
            density: std::array::from_fn(|v| -(v as f64 / 255.0).max(FLOOR).log10()),
        }
    }

    /// Densities of haematoxylin, eosin and DAB in a pixel (negative
    /// results, which a real stain cannot have, clipped to 0 as `rgb2hed`
    /// does).
    pub fn hed_of(&self, r: u8, g: u8, b: u8) -> [f32; 3] {
        let od = [
            self.density[usize::from(r)],
            self.density[usize::from(g)],
            self.density[usize::from(b)],
        ];
        let m = &self.hed_from_rgb;
        std::array::from_fn(|j| {
            (od[0] * m[0][j] + od[1] * m[1][j] + od[2] * m[2][j]).max(0.0) as f32
        })
    }

    /// The total density of a pixel (how far from white glass it is).
    pub fn total_of(&self, r: u8, g: u8, b: u8) -> f32 {
        (self.density[usize::from(r)] + self.density[usize::from(g)] + self.density[usize::from(b)])
            as f32
    }
}

/// The inverse of a 3 × 3 matrix (by cofactors; the stain matrix is well
/// conditioned).
fn inverse(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    // inverse[i][j] = cofactor(j, i) / det
    std::array::from_fn(|i| std::array::from_fn(|j| c(j, i) / det))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_undoes_the_matrix() {
        let inv = inverse(&RGB_FROM_HED);
        for (i, row) in RGB_FROM_HED.iter().enumerate() {
            for j in 0..3 {
                let v: f64 = row
                    .iter()
                    .zip(&inv)
                    .map(|(a, inv_row)| a * inv_row[j])
                    .sum();
                assert!(
                    (v - f64::from(u8::from(i == j))).abs() < 1e-12,
                    "{i} {j} {v}"
                );
            }
        }
    }

    #[test]
    fn pure_haematoxylin_is_found_as_haematoxylin() {
        let d = Deconvolution::hed();
        // A colour made of 0.5 OD of haematoxylin alone.
        let [r, g, b] = RGB_FROM_HED[0].map(|od| (255.0 * 10f64.powf(-0.5 * od)).round() as u8);
        let [h, e, dab] = d.hed_of(r, g, b);
        assert!((h - 0.5).abs() < 0.02, "{h}");
        assert!(e < 0.02 && dab < 0.02, "{e} {dab}");
        assert_eq!(d.hed_of(255, 255, 255), [0.0; 3]);
        assert!(d.total_of(0, 0, 0) > 17.9);
    }
}
