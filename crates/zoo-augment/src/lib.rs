//! Data augmentation with torchvision's semantics (`transforms.v2.functional`),
//! as tensor operations on any burn device.
//!
//! Images are float tensors in `[0, 1]`, `[N, C, H, W]` (a single `[C, H, W]`
//! image is a batch of one: `unsqueeze` it). Boxes are `[K, 4]` in
//! `(x1, y1, x2, y2)` continuous pixel coordinates, as torchvision's
//! `BoundingBoxes` in `XYXY` format.
//!
//! - [`functional`]: the deterministic ops — flips (with boxes), crop, pad,
//!   brightness, contrast, saturation, grayscale, normalize, erase, Gaussian noise.
//! - [`color`]: RGB <-> HSV / HSL, hue, Gaussian blur.
//! - [`resize`]: bilinear (antialiased on request) and nearest resizing, resized crop.
//! - [`smote`]: SMOTE with imbalanced-learn's neighbours, samples and sampling strategies.
//! - [`transforms`]: seeded random transforms with torchvision v2's draws, per sample, in one pass per batch: flips, RandomCrop, RandomResizedCrop (and the course's preset), ColorJitter, RandomErasing, RandomRotation, GaussianBlur, GaussianNoise, Normalize, Compose and the presets.
//! - [`geometry`]: rotation of images and boxes (`F.rotate`'s interpolation and fill semantics).
//! - [`stage`]: a transform as a stage after any burn `Batcher`.
//! - [`mix`]: the multi-sample ops — MixUp, CutMix (partner: the batch rolled
//!   by one, as `v2.MixUp` / `v2.CutMix`), SamplePairing (Inoue 2018).
//!
//! Bad arguments are [`AugmentError`]s naming the op and the values.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_augment::functional::hflip;
//! let device = zoo_device::from_name("flex").unwrap();
//! let x = Tensor::<4>::from_floats([[[[1.0, 2.0, 3.0]]]], &device);
//! let v: Vec<f32> = hflip(x).into_data().try_to_vec().unwrap();
//! assert_eq!(v, [3.0, 2.0, 1.0]);
//! ```

pub mod color;
pub mod functional;
pub mod geometry;
pub mod mix;
pub mod resize;
pub mod smote;
pub mod stage;
pub mod transforms;

/// Why an augmentation could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{op}: {reason}")]
pub struct AugmentError {
    /// The op.
    pub op: &'static str,
    /// What is wrong, with the values.
    pub reason: String,
}

impl AugmentError {
    pub(crate) fn new(op: &'static str, reason: impl Into<String>) -> Self {
        Self {
            op,
            reason: reason.into(),
        }
    }

    /// Refuses an output of shape `dims` larger than a tensor may be
    /// ([`zoo_device::budget`]) before it is allocated.
    pub(crate) fn check_size(op: &'static str, dims: &[u128]) -> Result<(), Self> {
        zoo_device::budget::check("the output", dims)
            .map(|_| ())
            .map_err(|e| Self::new(op, e.to_string()))
    }
}

/// A small seeded generator (SplitMix64) for the random draws, so the same
/// seed replays the same samples on every device.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
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
