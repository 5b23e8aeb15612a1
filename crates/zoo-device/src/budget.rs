//! The largest tensor the zoo will ask a device for, checked before the
//! allocation: a size that comes from outside (a flag, a case's params, a
//! config) and would need more memory than a machine has is refused with the
//! size it would need, instead of aborting the process with `memory
//! allocation of N bytes failed` (an abort cannot be caught).

use std::fmt;

/// Elements one tensor may hold: 2^31 (8 GiB of f32), far above anything the
/// course's models and batches need (a batch of 256 RGB images at 224x224 is
/// 2^25.2 elements) and below what a workstation can hold.
pub const MAX_ELEMENTS: u128 = 1 << 31;

/// A tensor that would be larger than [`MAX_ELEMENTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// What would have been made.
    pub what: String,
    /// Its shape.
    pub dims: Vec<u128>,
}

impl TooLarge {
    /// Elements the tensor would hold.
    pub fn elements(&self) -> u128 {
        self.dims
            .iter()
            .try_fold(1u128, |a, &d| a.checked_mul(d))
            .unwrap_or(u128::MAX)
    }
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elements = self.elements();
        let bytes = elements.saturating_mul(4) as f64;
        write!(
            f,
            "{} of shape {:?} would hold {elements} elements ({bytes:.3e} bytes as f32), more than the {} a tensor may hold",
            self.what, self.dims, MAX_ELEMENTS
        )
    }
}

impl std::error::Error for TooLarge {}

/// Checks that a tensor of shape `dims` (any integer type, so that sizes
/// computed in `u64` or from a sum that overflowed `usize` can be checked)
/// fits the budget; its element count when it does.
///
/// ```
/// assert_eq!(zoo_device::budget::check("image", &[2usize, 3, 4, 4]).unwrap(), 96);
/// let e = zoo_device::budget::check("padded image", &[1u64, 3, 2_000_000_008, 2_000_000_008]).unwrap_err();
/// assert!(e.to_string().contains("padded image of shape [1, 3, 2000000008, 2000000008]"));
/// ```
pub fn check<T: Copy + TryInto<u128>>(what: &str, dims: &[T]) -> Result<usize, TooLarge> {
    let dims: Vec<u128> = dims
        .iter()
        .map(|&d| d.try_into().unwrap_or(u128::MAX))
        .collect();
    let shape = TooLarge {
        what: what.to_string(),
        dims,
    };
    // `elements` saturates at u128::MAX on overflow, past the budget too.
    let elements = shape.elements();
    if elements > MAX_ELEMENTS {
        return Err(shape);
    }
    Ok(elements as usize)
}
