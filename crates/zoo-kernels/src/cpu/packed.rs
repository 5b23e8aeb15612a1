//! Products `dst [m, n] (+)= a [m, k] x B [k, n]` with a small `m` (a
//! batch of sequences) against a `B` packed once and read many times: a
//! recurrent layer multiplies its state by the same `W_hh` at every step,
//! and a general gemm re-packs that weight (1 MB for an LSTM of 256 units)
//! at each of them. `B` is stored in panels of [`NR`] columns, each panel
//! `[k, NR]` contiguous, so the AVX-512 micro-kernel streams it while
//! `MR x NR` sums stay in registers (oneDNN's fused RNN does the same).
//!
//! Only with AVX-512 ([`available`]); elsewhere callers use the gemm crate.

/// Columns per panel (two AVX-512 vectors).
pub const NR: usize = 32;
/// Rows per micro-kernel call.
const MR: usize = 8;
/// Multiply-adds from which a product is split over two threads.
const PARALLEL_MACS: usize = 1 << 22;

/// Whether this CPU runs the packed kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `B [k, n]` in panels of [`NR`] columns (the last one zero-padded).
#[derive(Clone, Debug)]
pub struct Packed {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs `B[kk, j] = b[kk * rs + j * cs]` for `kk < k`, `j < n`: a
    /// row-major `B` has `(rs, cs) = (n, 1)`, the transpose of a row-major
    /// `W [n, k]` has `(1, k)`.
    ///
    /// # Panics
    /// If the extents described reach past `b`.
    pub fn new(b: &[f32], k: usize, n: usize, rs: usize, cs: usize) -> Packed {
        if k > 0 && n > 0 {
            assert!(
                (k - 1) * rs + (n - 1) * cs < b.len(),
                "packed: B [{k}, {n}] with strides ({rs}, {cs}) reaches past {} values",
                b.len()
            );
        }
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0; panels * k * NR];
        for (p, panel) in data.chunks_mut(k * NR).enumerate() {
            let cols = NR.min(n - p * NR);
            if cs == 1 {
                for (kk, row) in panel.chunks_mut(NR).enumerate() {
                    let src = kk * rs + p * NR;
                    row[..cols].copy_from_slice(&b[src..src + cols]);
                }
            } else {
                // Column by column: each one is contiguous in a transposed
                // row-major source (rs = 1).
                for c in 0..cols {
                    let base = (p * NR + c) * cs;
                    for kk in 0..k {
                        panel[kk * NR + c] = b[base + kk * rs];
                    }
                }
            }
        }
        Packed { k, n, data }
    }

    /// Rows of `B`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of `B`.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// `dst [m, n] (+)= a [m, k] x B`: `a` and `dst` row-major with row strides
/// `a_rs` and `dst_rs`; over two threads (halves of the panels) when
/// `parallel` and the product is large.
///
/// # Panics
/// If the CPU lacks AVX-512 (see [`available`]) or a buffer is too short.
#[allow(clippy::too_many_arguments)]
pub fn product(
    m: usize,
    a: &[f32],
    a_rs: usize,
    b: &Packed,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    parallel: bool,
) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(
        dst_rs >= b.n && dst.len() >= (m - 1) * dst_rs + b.n,
        "packed: dst is too short"
    );
    // SAFETY: dst's extent was asserted just above, and `&mut` is exclusive.
    unsafe {
        product_into(
            m,
            a,
            a_rs,
            b,
            dst.as_mut_ptr(),
            dst_rs,
            accumulate,
            parallel,
        )
    }
}

/// [`product`] into a raw `dst`, for callers whose threads write disjoint
/// columns of one buffer.
///
/// # Safety
/// `dst` rows `0..m` (stride `dst_rs`) must each have `B`'s `n` writable
/// values that no other thread reads or writes meanwhile.
///
/// # Panics
/// If the CPU lacks AVX-512 or `a` is too short.
#[allow(clippy::too_many_arguments)]
pub unsafe fn product_into(
    m: usize,
    a: &[f32],
    a_rs: usize,
    b: &Packed,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    parallel: bool,
) {
    assert!(available(), "packed::product needs AVX-512");
    let (k, n) = (b.k, b.n);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        a_rs >= k && a.len() >= (m - 1) * a_rs + k,
        "packed: a is too short"
    );
    let panels = n.div_ceil(NR);
    let out = super::SendPtr(dst);
    let run = |p0: usize, p1: usize| {
        for p in p0..p1 {
            let cols = NR.min(n - p * NR);
            let panel = &b.data[p * k * NR..(p + 1) * k * NR];
            // SAFETY: panels p0..p1 write only their own columns of dst
            // (the caller's contract); AVX-512 was checked.
            unsafe {
                panel_product(
                    m,
                    k,
                    a,
                    a_rs,
                    panel,
                    out.get().add(p * NR),
                    dst_rs,
                    cols,
                    accumulate,
                )
            };
        }
    };
    if parallel && m * n * k >= PARALLEL_MACS && panels >= 2 && super::threads() >= 2 {
        let half = panels / 2;
        rayon::join(|| run(0, half), || run(half, panels));
    } else {
        run(0, panels);
    }
}

/// All rows of `a` times one panel, into `cols` columns from `dst`.
///
/// # Safety
/// `dst` rows `0..m` (stride `dst_rs`) must have `cols` writable values
/// that no other thread touches; AVX-512 must be present.
#[allow(clippy::too_many_arguments)]
unsafe fn panel_product(
    m: usize,
    k: usize,
    a: &[f32],
    a_rs: usize,
    panel: &[f32],
    dst: *mut f32,
    dst_rs: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut r = 0;
    while r < m {
        let rows = MR.min(m - r);
        let (ap, dp) = (a[r * a_rs..].as_ptr(), unsafe { dst.add(r * dst_rs) });
        // SAFETY: forwarded; `rows` rows of a from r exist (asserted by
        // the caller) and the panel holds k * NR values.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            match rows {
                8 => kernel::<8>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                7 => kernel::<7>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                6 => kernel::<6>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                5 => kernel::<5>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                4 => kernel::<4>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                3 => kernel::<3>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                2 => kernel::<2>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
                _ => kernel::<1>(k, ap, a_rs, panel.as_ptr(), dp, dst_rs, cols, accumulate),
            }
        }
        r += rows;
    }
}

/// `R x NR` sums over `k` in registers, then stored (or added) into the
/// first `cols` columns of `R` rows of `dst`.
///
/// # Safety
/// `a` has `R` rows of `k` values (stride `a_rs`), `panel` `k * NR`
/// values, `dst` `R` rows of `cols` writable values; AVX-512 present.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel<const R: usize>(
    k: usize,
    a: *const f32,
    a_rs: usize,
    panel: *const f32,
    dst: *mut f32,
    dst_rs: usize,
    cols: usize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for kk in 0..k {
        // SAFETY: kk < k, inside the panel and every row of a.
        unsafe {
            let b0 = _mm512_loadu_ps(panel.add(kk * NR));
            let b1 = _mm512_loadu_ps(panel.add(kk * NR + 16));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * a_rs + kk));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    let mask = |from: usize| -> __mmask16 {
        let c = cols.saturating_sub(from).min(16);
        ((1u32 << c) - 1) as __mmask16
    };
    let (m0, m1) = (mask(0), mask(16));
    for (r, acc) in acc.iter().enumerate() {
        // SAFETY: row r of dst has `cols` values; the masks cover no more.
        unsafe {
            let d = dst.add(r * dst_rs);
            let (mut v0, mut v1) = (acc[0], acc[1]);
            if accumulate {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, d));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, d.add(16)));
            }
            _mm512_mask_storeu_ps(d, m0, v0);
            _mm512_mask_storeu_ps(d.add(16), m1, v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0
            })
            .collect()
    }

    /// Against the product summed in f64, for ragged sizes (tails of rows
    /// and columns), both layouts of B, with and without accumulation.
    #[test]
    fn products_equal_the_sums_in_f64() {
        if !available() {
            return;
        }
        for &(m, k, n) in &[
            (1, 1, 1),
            (32, 256, 1024),
            (7, 13, 45),
            (9, 40, 32),
            (17, 5, 33),
        ] {
            let a_rs = k + 3;
            let a = values(m * a_rs, 1);
            let b = values(k * n, 2);
            let base = values(m * (n + 2), 3);
            for transposed in [false, true] {
                // Row-major B [k, n], or the transpose of W [n, k].
                let (packed, at): (Packed, Box<dyn Fn(usize, usize) -> f32>) = if transposed {
                    (
                        Packed::new(&b, k, n, 1, k),
                        Box::new(|kk: usize, j: usize| b[j * k + kk]),
                    )
                } else {
                    (
                        Packed::new(&b, k, n, n, 1),
                        Box::new(|kk: usize, j: usize| b[kk * n + j]),
                    )
                };
                for accumulate in [false, true] {
                    let mut dst = base.clone();
                    product(m, &a, a_rs, &packed, &mut dst, n + 2, accumulate, true);
                    for i in 0..m {
                        for j in 0..n + 2 {
                            let got = dst[i * (n + 2) + j];
                            if j >= n {
                                assert_eq!(got, base[i * (n + 2) + j], "column {j} is outside");
                                continue;
                            }
                            let mut want: f64 = (0..k)
                                .map(|kk| a[i * a_rs + kk] as f64 * at(kk, j) as f64)
                                .sum();
                            if accumulate {
                                want += base[i * (n + 2) + j] as f64;
                            }
                            assert!(
                                (got as f64 - want).abs()
                                    <= 1e-5 * (1.0 + want.abs()) * (k as f64).sqrt(),
                                "[{m}, {k}] x [{k}, {n}] at ({i}, {j}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
