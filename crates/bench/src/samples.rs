//! Summaries of timing samples for the benchmark commands.

/// The median (upper middle for an even count); `None` for no samples.
pub fn median(samples: &mut [f64]) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}

/// The `q` quantile (nearest rank) of samples already sorted.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied()
}
