//! Operations on binary masks that the analyses share: Otsu's threshold,
//! 3 × 3 closing and opening, dropping specks and filling small holes, the
//! Euclidean distance transform, and a watershed that splits touching
//! objects where they narrow.

use crate::contour::Mask;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Otsu's threshold of values in [`lo`, `hi`] (256 bins; values outside
/// count at the ends). `None` when there are no values.
pub fn otsu(values: impl Iterator<Item = f32>, lo: f32, hi: f32) -> Option<f32> {
    let scale = 255.0 / (hi - lo);
    let mut hist = [0u64; 256];
    let mut n = 0u64;
    for v in values {
        hist[((v - lo) * scale).clamp(0.0, 255.0) as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let total: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut at) = (0.0, 0.0, 0.0, 0usize);
    for (i, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = n as f64 - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += i as f64 * c as f64;
        let (m_b, m_f) = (sum_b / w_b, (total - sum_b) / w_f);
        let between = w_b * w_f * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            at = i;
        }
    }
    // The top of the background's last bin: what is above is foreground.
    Some(lo + (at as f32 + 1.0) / scale)
}

/// Sets every pixel next to (or at) one holding `value` to `value`: a
/// 3 × 3 dilation of `value` (an erosion of the other).
fn spread(mask: &mut Mask, value: bool) {
    let m = &*mask;
    let mut out = m.data.clone();
    for y in 0..m.height as isize {
        for x in 0..m.width as isize {
            let any = (-1..=1).any(|dy| (-1..=1).any(|dx| m.get(x + dx, y + dy) == value));
            if any {
                out[y as usize * m.width + x as usize] = value;
            }
        }
    }
    mask.data = out;
}

/// Morphological opening with a 3 × 3 square: one-pixel noise and
/// threads between pieces go.
pub fn open(mask: &mut Mask) {
    spread(mask, false);
    spread(mask, true);
}

/// Closing then opening with a 3 × 3 square: bridges one-pixel gaps,
/// then removes one-pixel noise.
pub fn close_then_open(mask: &mut Mask) {
    spread(mask, true);
    spread(mask, false);
    open(mask);
}

/// Connected pieces (4-connected) of `value` smaller than `min` pixels
/// flipped: specks dropped (`value` true), or small holes filled (`value`
/// false). Pieces of background that touch the border are never holes.
pub fn drop_small(mask: &mut Mask, min: usize, value: bool) {
    let (w, h) = (mask.width, mask.height);
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut piece = Vec::new();
    for start in 0..w * h {
        if seen[start] || mask.data[start] != value {
            continue;
        }
        piece.clear();
        stack.push(start);
        seen[start] = true;
        let mut touches_border = false;
        while let Some(k) = stack.pop() {
            piece.push(k);
            let (x, y) = (k % w, k / w);
            touches_border |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
            for n in neighbours4(k, w, h) {
                if !seen[n] && mask.data[n] == value {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
        let keep = piece.len() >= min || (!value && touches_border);
        if !keep {
            for &k in &piece {
                mask.data[k] = !value;
            }
        }
    }
}

/// The 4-neighbours of pixel `k` in a `w` × `h` image.
fn neighbours4(k: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (k % w, k / w);
    [
        (x > 0).then(|| k - 1),
        (x + 1 < w).then(|| k + 1),
        (y > 0).then(|| k - w),
        (y + 1 < h).then(|| k + w),
    ]
    .into_iter()
    .flatten()
}

/// The Euclidean distance from each foreground pixel's centre to the
/// nearest background pixel's centre (0 on background; outside the image
/// counts as background). Felzenszwalb and Huttenlocher's exact two-pass
/// transform: columns, then rows, each a lower envelope of parabolas.
pub fn distance_transform(mask: &Mask) -> Vec<f32> {
    const FAR: f64 = 1e20;
    let (w, h) = (mask.width, mask.height);
    let mut squared: Vec<f64> = mask
        .data
        .iter()
        .map(|&m| if m { FAR } else { 0.0 })
        .collect();
    let mut line = Vec::new();
    let mut out = Vec::new();
    let mut scratch = Envelope::default();
    for x in 0..w {
        line.clear();
        line.extend((0..h).map(|y| squared[y * w + x]));
        scratch.transform(&line, &mut out);
        for y in 0..h {
            squared[y * w + x] = out[y];
        }
    }
    for y in 0..h {
        line.clear();
        line.extend_from_slice(&squared[y * w..(y + 1) * w]);
        scratch.transform(&line, &mut out);
        squared[y * w..(y + 1) * w].copy_from_slice(&out);
    }
    squared.iter().map(|&d| d.sqrt() as f32).collect()
}

/// Buffers of the one-dimensional transform, kept between lines.
#[derive(Default)]
struct Envelope {
    samples: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
    d: Vec<f64>,
}

impl Envelope {
    /// The squared-distance transform of one line, with a background
    /// sample just outside each end.
    fn transform(&mut self, f: &[f64], out: &mut Vec<f64>) {
        self.samples.clear();
        self.samples.push(0.0);
        self.samples.extend_from_slice(f);
        self.samples.push(0.0);
        let s = &self.samples;
        let n = s.len();
        self.v.clear();
        self.v.resize(n, 0);
        self.z.clear();
        self.z.resize(n + 1, 0.0);
        let (v, z) = (&mut self.v, &mut self.z);
        let mut k = 0usize;
        z[0] = f64::NEG_INFINITY;
        z[1] = f64::INFINITY;
        for q in 1..n {
            let fq = s[q] + (q * q) as f64;
            let meets = |p: usize| (fq - (s[p] + (p * p) as f64)) / (2.0 * (q - p) as f64);
            // z[0] is −∞: the loop stops at the first parabola at the latest.
            let mut at = meets(v[k]);
            while at <= z[k] {
                k -= 1;
                at = meets(v[k]);
            }
            k += 1;
            v[k] = q;
            z[k] = at;
            z[k + 1] = f64::INFINITY;
        }
        self.d.clear();
        let mut k = 0usize;
        for q in 0..n {
            while z[k + 1] < q as f64 {
                k += 1;
            }
            let p = v[k];
            let dq = q as f64 - p as f64;
            self.d.push(dq * dq + s[p]);
        }
        out.clear();
        out.extend_from_slice(&self.d[1..n - 1]);
    }
}

/// The largest value within `radius` (a square window) of each pixel:
/// separable, rows then columns.
fn max_filter(values: &[f32], w: usize, h: usize, radius: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        let row = &values[y * w..(y + 1) * w];
        for x in 0..w {
            let (a, b) = (x.saturating_sub(radius), (x + radius + 1).min(w));
            rows[y * w + x] = row[a..b].iter().copied().fold(f32::MIN, f32::max);
        }
    }
    let mut out = vec![0f32; w * h];
    for x in 0..w {
        for y in 0..h {
            let (a, b) = (y.saturating_sub(radius), (y + radius + 1).min(h));
            out[y * w + x] = (a..b).map(|yy| rows[yy * w + x]).fold(f32::MIN, f32::max);
        }
    }
    out
}

/// Labels of a mask's objects, touching objects split where they narrow.
///
/// Markers are the distance transform's peaks (a pixel at least as far
/// from the background as any within `radius`; a plateau is one marker);
/// each grows over the mask in order of decreasing distance, so fronts
/// meet at the necks. Two neighbours are then merged again when the neck
/// between them is not clearly narrower than the smaller of them (its
/// distance within `depth` of that one's peak): bumps along an elongated
/// nucleus are not separate nuclei. Returns a label per pixel (0 =
/// background) and how many labels there are.
pub fn watershed(mask: &Mask, distance: &[f32], radius: usize, depth: f32) -> (Vec<u32>, u32) {
    let (w, h) = (mask.width, mask.height);
    let peaks = max_filter(distance, w, h, radius);
    let mut label = vec![0u32; w * h];
    let mut peak_of: Vec<f32> = vec![0.0];
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut stack = Vec::new();
    // Markers: plateaus of peak pixels, 8-connected.
    let is_peak = |k: usize| mask.data[k] && distance[k] >= 1.0 && distance[k] >= peaks[k];
    for start in 0..w * h {
        if label[start] != 0 || !is_peak(start) {
            continue;
        }
        let id = peak_of.len() as u32;
        peak_of.push(distance[start]);
        label[start] = id;
        stack.push(start);
        while let Some(k) = stack.pop() {
            heap.push((distance[k].to_bits(), Reverse(seq), k));
            seq += 1;
            let (x, y) = ((k % w) as isize, (k / w) as isize);
            for (dx, dy) in NEIGHBOURS8 {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                    continue;
                }
                let n = ny as usize * w + nx as usize;
                if label[n] == 0 && is_peak(n) && distance[n] == distance[start] {
                    label[n] = id;
                    stack.push(n);
                }
            }
        }
    }
    // Flooding, highest distance first; the highest saddle between two
    // labels is where their fronts first meet.
    let mut saddle: HashMap<(u32, u32), f32> = HashMap::new();
    while let Some((_, _, k)) = heap.pop() {
        let l = label[k];
        for n in neighbours4(k, w, h) {
            if !mask.data[n] {
                continue;
            }
            match label[n] {
                0 => {
                    label[n] = l;
                    heap.push((distance[n].to_bits(), Reverse(seq), n));
                    seq += 1;
                }
                other if other != l => {
                    let key = (l.min(other), l.max(other));
                    let s = distance[k].min(distance[n]);
                    let e = saddle.entry(key).or_insert(0.0);
                    *e = e.max(s);
                }
                _ => {}
            }
        }
    }
    // Pieces no marker reached (their peak lost to a higher one nearby in
    // another piece): a label each.
    for start in 0..w * h {
        if label[start] != 0 || !mask.data[start] {
            continue;
        }
        let id = peak_of.len() as u32;
        peak_of.push(distance[start]);
        label[start] = id;
        stack.push(start);
        while let Some(k) = stack.pop() {
            for n in neighbours4(k, w, h) {
                if mask.data[n] && label[n] == 0 {
                    label[n] = id;
                    stack.push(n);
                }
            }
        }
    }
    // Merge across shallow necks (union-find), then number the labels
    // 1..=count in order of first appearance.
    let mut parent: Vec<u32> = (0..peak_of.len() as u32).collect();
    fn root(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            parent[a as usize] = parent[parent[a as usize] as usize];
            a = parent[a as usize];
        }
        a
    }
    let mut necks: Vec<((u32, u32), f32)> = saddle.into_iter().collect();
    necks.sort_by_key(|n| n.0);
    for ((a, b), s) in necks {
        let smaller = peak_of[a as usize].min(peak_of[b as usize]);
        if s >= smaller - depth {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb) as usize] = ra.min(rb);
            }
        }
    }
    let mut renumber = vec![0u32; peak_of.len()];
    let mut count = 0u32;
    for l in label.iter_mut() {
        if *l == 0 {
            continue;
        }
        let r = root(&mut parent, *l) as usize;
        if renumber[r] == 0 {
            count += 1;
            renumber[r] = count;
        }
        *l = renumber[r];
    }
    (label, count)
}

const NEIGHBOURS8: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn disc_mask(w: usize, h: usize, discs: &[(f64, f64, f64)]) -> Mask {
        let data = (0..w * h)
            .map(|k| {
                let (x, y) = ((k % w) as f64 + 0.5, (k / w) as f64 + 0.5);
                discs
                    .iter()
                    .any(|&(cx, cy, r)| (x - cx).powi(2) + (y - cy).powi(2) <= r * r)
            })
            .collect();
        Mask {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn otsu_splits_two_populations() {
        let values = std::iter::repeat_n(0.02f32, 1000).chain(std::iter::repeat_n(0.6f32, 300));
        let t = otsu(values, 0.0, 1.0).unwrap();
        assert!(t > 0.02 && t < 0.6, "{t}");
        let t = otsu([0.1f32, 0.1, 1.4, 1.5].into_iter(), 0.0, 2.0).unwrap();
        assert!(t > 0.1 && t < 1.4, "{t}");
        assert_eq!(otsu(std::iter::empty(), 0.0, 1.0), None);
    }

    #[test]
    fn specks_go_and_small_holes_fill() {
        let (w, h) = (30, 30);
        let mut data = vec![false; w * h];
        for y in 5..25 {
            for x in 5..25 {
                data[y * w + x] = true;
            }
        }
        data[15 * w + 15] = false; // a pinhole
        data[2 * w + 2] = true; // a speck
        let mut m = Mask {
            width: w,
            height: h,
            data,
        };
        drop_small(&mut m, 5, true);
        drop_small(&mut m, 5, false);
        assert!(!m.get(2, 2));
        assert!(m.get(15, 15));
        assert!(!m.get(0, 0));
    }

    #[test]
    fn distances_are_euclidean_by_brute_force() {
        let m = disc_mask(40, 30, &[(12.0, 14.0, 9.0), (28.0, 10.0, 6.5)]);
        let d = distance_transform(&m);
        for (k, &dk) in d.iter().enumerate() {
            let (x, y) = ((k % 40) as f64, (k / 40) as f64);
            let mut best = f64::INFINITY;
            // Background includes a ring of pixels just outside the image.
            for yy in -1..=30i32 {
                for xx in -1..=40i32 {
                    if !m.get(xx as isize, yy as isize) {
                        best = best.min(
                            ((x - f64::from(xx)).powi(2) + (y - f64::from(yy)).powi(2)).sqrt(),
                        );
                    }
                }
            }
            assert!(
                (f64::from(dk) - best).abs() < 1e-4,
                "pixel {k}: {} vs {best}",
                dk
            );
        }
    }

    #[test]
    fn touching_discs_split_and_a_single_disc_stays_whole() {
        // Two discs of radius 8 whose centres are 14 apart (a narrow neck),
        // and one disc alone.
        let m = disc_mask(
            80,
            40,
            &[(12.0, 20.0, 8.0), (26.0, 20.0, 8.0), (60.0, 20.0, 9.0)],
        );
        let d = distance_transform(&m);
        let (labels, count) = watershed(&m, &d, 3, 1.5);
        assert_eq!(count, 3);
        let at = |x: usize, y: usize| labels[y * 80 + x];
        assert_ne!(at(12, 20), at(26, 20));
        assert_ne!(at(12, 20), 0);
        assert_eq!(at(55, 20), at(65, 20));
        // Every foreground pixel is labelled.
        assert!(m.data.iter().zip(&labels).all(|(&f, &l)| f == (l != 0)));
    }

    #[test]
    fn an_elongated_object_is_not_cut_up() {
        // A 40 × 7 bar: a ridge of equal distances, many equal peaks.
        let (w, h) = (60, 20);
        let data = (0..w * h)
            .map(|k| (10..50).contains(&(k % w)) && (7..14).contains(&(k / w)))
            .collect();
        let m = Mask {
            width: w,
            height: h,
            data,
        };
        let d = distance_transform(&m);
        let (_, count) = watershed(&m, &d, 3, 1.5);
        assert_eq!(count, 1);
    }
}
