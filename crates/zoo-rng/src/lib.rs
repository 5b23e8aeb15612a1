//! The zoo's seeded random draws: one small generator (SplitMix64) that
//! every crate shares, so a seed replays the same samples on every device
//! and in every crate (augmentation's draws, generated data sets, the
//! language model's samplers and generation).
//!
//! ```
//! use zoo_rng::Rng;
//! let mut a = Rng::new(7);
//! let mut b = Rng::new(7);
//! assert_eq!(a.next_u64(), b.next_u64());
//! let p = a.permutation(5);
//! let mut sorted = p.clone();
//! sorted.sort();
//! assert_eq!(sorted, [0, 1, 2, 3, 4]);
//! assert!(a.unit() < 1.0);
//! ```

/// A small seeded generator (SplitMix64) for the random draws, so the same
/// seed replays the same samples on every device.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of one batch's draws: `seed` (the epoch's) mixed with
    /// the index of the batch's first item, so a batch draws the same
    /// numbers whatever the order batches are made in (a resumed run, a
    /// loader's worker).
    pub fn for_batch(seed: u64, first_index: usize) -> Self {
        Self::new(seed ^ (first_index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, hi]` (Python's `random.randint(0, hi)`).
    pub fn int_inclusive(&mut self, hi: usize) -> usize {
        self.below(hi + 1)
    }

    /// A uniform permutation of `0..n` (Fisher-Yates from the top).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.int_inclusive(i);
            v.swap(i, j);
        }
        v
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Two independent standard normal draws (Box-Muller, both values).
    pub fn normal_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * (1.0 - self.unit_f64()).ln()).sqrt();
        let t = std::f64::consts::TAU * self.unit_f64();
        (r * t.cos(), r * t.sin())
    }

    /// A standard normal draw (the first of [`normal_pair`](Self::normal_pair)).
    pub fn normal(&mut self) -> f64 {
        self.normal_pair().0
    }

    /// A Gamma(shape, 1) draw (Marsaglia and Tsang; shape below one boosted
    /// by `U^(1/shape)`).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.unit_f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.unit_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// A Beta(a, b) draw, as `X / (X + Y)` of two Gamma draws.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y == 0.0 { 0.5 } else { x / (x + y) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // SplitMix64 from seed 0 (Vigna's reference implementation).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn draws_have_their_distributions() {
        let mut r = Rng::new(42);
        let n = 20_000;
        let mean = (0..n).map(|_| r.unit_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let normals: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = normals.iter().sum::<f64>() / n as f64;
        let v = normals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
        let b = (0..n).map(|_| r.beta(2.0, 6.0)).sum::<f64>() / n as f64;
        assert!((b - 0.25).abs() < 0.01, "{b}");
        assert!((0..1000).all(|_| r.int_inclusive(3) <= 3));
    }
}
