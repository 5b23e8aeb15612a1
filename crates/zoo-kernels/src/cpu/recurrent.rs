//! One direction of one recurrent layer over a whole sequence, forward and
//! backward through time, as `torch.nn.RNN` / `GRU` / `LSTM` compute it
//! (gate orders GRU r, z, n and LSTM i, f, g, o): the input projections
//! `gi = x W_ih^T + b_ih` come precomputed (one large product outside), so
//! each step is one `[N, H] x [H, G*H]` product and the gate arithmetic in
//! one pass; the backward pass walks the steps in reverse with one product
//! per step and the weight gradient as one product over all steps.

use super::elementwise::exp;
use super::sgemm;

/// The recurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `tanh(gi + gh)`.
    Tanh,
    /// `relu(gi + gh)`.
    Relu,
    /// GRU.
    Gru,
    /// LSTM.
    Lstm,
}

impl Cell {
    /// Gates stacked in the weights.
    pub fn gates(self) -> usize {
        match self {
            Cell::Tanh | Cell::Relu => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }

    /// Values kept per step and unit for the backward pass.
    fn saved(self) -> usize {
        match self {
            Cell::Tanh | Cell::Relu => 0,
            // r, z, n and W_hn h + b_hn.
            Cell::Gru | Cell::Lstm => 4,
        }
    }

    /// From the code the extension passes (0 tanh, 1 relu, 2 GRU, 3 LSTM).
    pub fn from_code(code: usize) -> Cell {
        match code {
            0 => Cell::Tanh,
            1 => Cell::Relu,
            2 => Cell::Gru,
            3 => Cell::Lstm,
            other => panic!("zoo-kernels: unknown recurrence code {other}"),
        }
    }
}

#[inline(always)]
fn sig(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    // 1 - 2 / (exp(2x) + 1): exact at the saturated ends.
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// Sizes of one direction: `t` steps of `n` sequences, `h` hidden units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Steps.
    pub t: usize,
    /// Sequences.
    pub n: usize,
    /// Hidden units.
    pub h: usize,
}

/// What the forward pass returns: the outputs `[T, N, H]` in time order
/// (for an LSTM one more row, the last cell state), and what the backward
/// pass needs.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Outputs (and the LSTM's final cell state as row `T`); the backward
    /// pass does not read them, so a caller may move them out.
    pub y: Vec<f32>,
    /// The hidden state before each step, in processing order, and the final one: `[T + 1, N, H]`.
    pub hs: Vec<f32>,
    /// The LSTM's cell states likewise (empty otherwise).
    pub cs: Vec<f32>,
    /// Gate values per step (processing order): `[T, N, 4H]` for GRU and LSTM.
    pub acts: Vec<f32>,
}

/// The gate arithmetic of one step for every sequence: from the input and
/// hidden projections to the next hidden (and cell) state, keeping the gate
/// values. Written over whole rows so that the compiler vectorises it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gates_body(
    cell: Cell,
    d: Dims,
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    h_next: &mut [f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    act: &mut [f32],
) {
    let hh = d.h;
    let gw = cell.gates() * hh;
    match cell {
        Cell::Tanh => {
            for ((o, &x), &y) in h_next.iter_mut().zip(gi).zip(gh) {
                *o = tanh(x + y);
            }
        }
        Cell::Relu => {
            for ((o, &x), &y) in h_next.iter_mut().zip(gi).zip(gh) {
                *o = (x + y).max(0.0);
            }
        }
        Cell::Gru => {
            for i in 0..d.n {
                let (gi, gh) = (&gi[i * gw..(i + 1) * gw], &gh[i * gw..(i + 1) * gw]);
                let act = &mut act[i * 4 * hh..(i + 1) * 4 * hh];
                let (ar, rest) = act.split_at_mut(hh);
                let (az, rest) = rest.split_at_mut(hh);
                let (an, ahn) = rest.split_at_mut(hh);
                for ((o, &x), &y) in ar.iter_mut().zip(&gi[..hh]).zip(&gh[..hh]) {
                    *o = sig(x + y);
                }
                for ((o, &x), &y) in az.iter_mut().zip(&gi[hh..2 * hh]).zip(&gh[hh..2 * hh]) {
                    *o = sig(x + y);
                }
                ahn.copy_from_slice(&gh[2 * hh..]);
                for (((o, &x), &y), &r) in an
                    .iter_mut()
                    .zip(&gi[2 * hh..])
                    .zip(&gh[2 * hh..])
                    .zip(ar.iter())
                {
                    *o = tanh(x + r * y);
                }
                let hp = &h_prev[i * hh..(i + 1) * hh];
                let hn = &mut h_next[i * hh..(i + 1) * hh];
                for (((o, &nv), &z), &p) in hn.iter_mut().zip(an.iter()).zip(az.iter()).zip(hp) {
                    *o = nv + z * (p - nv);
                }
            }
        }
        Cell::Lstm => {
            for i in 0..d.n {
                let (gi, gh) = (&gi[i * gw..(i + 1) * gw], &gh[i * gw..(i + 1) * gw]);
                let act = &mut act[i * gw..(i + 1) * gw];
                for ((o, &x), &y) in act.iter_mut().zip(gi).zip(gh) {
                    *o = x + y;
                }
                let (ai, rest) = act.split_at_mut(hh);
                let (af, rest) = rest.split_at_mut(hh);
                let (ag, ao) = rest.split_at_mut(hh);
                for v in ai.iter_mut() {
                    *v = sig(*v);
                }
                for v in af.iter_mut() {
                    *v = sig(*v);
                }
                for v in ao.iter_mut() {
                    *v = sig(*v);
                }
                for v in ag.iter_mut() {
                    *v = tanh(*v);
                }
                let cp = &c_prev[i * hh..(i + 1) * hh];
                let cn = &mut c_next[i * hh..(i + 1) * hh];
                for ((((c, &p), &ig), &fg), &gg) in cn
                    .iter_mut()
                    .zip(cp)
                    .zip(ai.iter())
                    .zip(af.iter())
                    .zip(ag.iter())
                {
                    *c = fg * p + ig * gg;
                }
                let hn = &mut h_next[i * hh..(i + 1) * hh];
                for ((o, &c), &og) in hn.iter_mut().zip(cn.iter()).zip(ao.iter()) {
                    *o = og * tanh(c);
                }
            }
        }
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn gates_avx2(
    cell: Cell,
    d: Dims,
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    h_next: &mut [f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    act: &mut [f32],
) {
    gates_body(cell, d, gi, gh, h_prev, h_next, c_prev, c_next, act)
}

#[allow(clippy::too_many_arguments)]
fn gates(
    cell: Cell,
    d: Dims,
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    h_next: &mut [f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    act: &mut [f32],
) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { gates_avx2(cell, d, gi, gh, h_prev, h_next, c_prev, c_next, act) };
    }
    gates_body(cell, d, gi, gh, h_prev, h_next, c_prev, c_next, act)
}

/// Multiply-adds from which a step's product is split across threads.
const PARALLEL_MACS: usize = 1 << 22;

/// `dst [m, n] (+)= a [m, k] x b [k, n]`, all row-major (row strides
/// `dst_rs`, `a_rs`, `b_rs`), as two column halves on two threads when the
/// product is large: the gemm crate's own split of these flat products
/// (m = the batch) gains little, two independent halves about 1.6x.
///
/// # Safety
/// The extents described must be inside the three buffers, and `dst` must
/// not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: usize,
    b: *const f32,
    b_rs: usize,
) {
    if m * n * k < PARALLEL_MACS || n < 64 || super::threads() < 2 {
        // SAFETY: forwarded contract.
        unsafe {
            sgemm(
                m, n, k, dst, dst_rs, 1, accumulate, a, a_rs, 1, b, b_rs, 1, false,
            )
        };
        return;
    }
    let half = n / 2;
    let out = super::SendPtr(dst);
    let (a, b) = (a as usize, b as usize);
    rayon::join(
        // SAFETY: the first `half` columns of dst, read from the first of b.
        || unsafe {
            sgemm(
                m,
                half,
                k,
                out.get(),
                dst_rs,
                1,
                accumulate,
                a as *const f32,
                a_rs,
                1,
                b as *const f32,
                b_rs,
                1,
                false,
            )
        },
        // SAFETY: the other columns, disjoint from the first task's.
        || unsafe {
            sgemm(
                m,
                n - half,
                k,
                out.get().add(half),
                dst_rs,
                1,
                accumulate,
                a as *const f32,
                a_rs,
                1,
                (b as *const f32).add(half),
                b_rs,
                1,
                false,
            )
        },
    );
}

/// How the hidden product reads `W^T`: `W [G*H, H]` itself with swapped
/// strides, or a row-major copy `[H, G*H]` (made once per sequence: the
/// product reads it far faster, which pays off from a few steps on).
enum Wt<'a> {
    Swapped(&'a [f32]),
    RowMajor(Vec<f32>),
}

/// `gh = h W^T + b` for `h [N, H]`.
fn hidden_product(d: Dims, g: usize, h_prev: &[f32], wt: &Wt, b: &[f32], gh: &mut [f32]) {
    let gh_w = g * d.h;
    for row in gh.chunks_mut(gh_w) {
        row.copy_from_slice(b);
    }
    match wt {
        // SAFETY: gh is [N, G*H], h_prev [N, H], W^T [H, G*H]; the extents
        // are asserted by the caller.
        Wt::RowMajor(t) => unsafe {
            product(
                d.n,
                gh_w,
                d.h,
                gh.as_mut_ptr(),
                gh_w,
                true,
                h_prev.as_ptr(),
                d.h,
                t.as_ptr(),
                gh_w,
            )
        },
        // SAFETY: the same, W^T read from W with swapped strides.
        Wt::Swapped(w) => unsafe {
            sgemm(
                d.n,
                gh_w,
                d.h,
                gh.as_mut_ptr(),
                gh_w,
                1,
                true,
                h_prev.as_ptr(),
                d.h,
                1,
                w.as_ptr(),
                1,
                d.h,
                false,
            )
        },
    }
}

/// `W^T` of `w [rows, cols]`, row-major `[cols, rows]`.
fn transposed(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for (c, &v) in w[r * cols..(r + 1) * cols].iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// The forward pass of one direction. `gi [T, N, G*H]` (time order), `w
/// [G*H, H]`, `b [G*H]`, `h0 [N, H]`, `c0 [N, H]` (LSTM; ignored
/// otherwise); `reverse` processes time backwards.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    cell: Cell,
    d: Dims,
    gi: &[f32],
    w: &[f32],
    b: &[f32],
    h0: &[f32],
    c0: &[f32],
    reverse: bool,
) -> Forward {
    let g = cell.gates();
    let (gw, nh) = (g * d.h, d.n * d.h);
    assert_eq!(gi.len(), d.t * d.n * gw, "gi is [T, N, G*H]");
    assert_eq!(w.len(), gw * d.h, "w_hh is [G*H, H]");
    assert_eq!(b.len(), gw, "b_hh is [G*H]");
    assert_eq!(h0.len(), nh, "h0 is [N, H]");
    let lstm = cell == Cell::Lstm;
    if lstm {
        assert_eq!(c0.len(), nh, "c0 is [N, H]");
    }
    let mut y = vec![0.0; (d.t + usize::from(lstm)) * nh];
    let mut hs = vec![0.0; (d.t + 1) * nh];
    hs[..nh].copy_from_slice(h0);
    let mut cs = if lstm {
        vec![0.0; (d.t + 1) * nh]
    } else {
        Vec::new()
    };
    if lstm {
        cs[..nh].copy_from_slice(c0);
    }
    let a = cell.saved() * d.h;
    let mut acts = vec![0.0; d.t * d.n * a];
    let mut gh = vec![0.0; d.n * gw];
    let wt = if d.t >= 4 {
        Wt::RowMajor(transposed(w, gw, d.h))
    } else {
        Wt::Swapped(w)
    };
    for s in 0..d.t {
        let tau = if reverse { d.t - 1 - s } else { s };
        let (done, rest) = hs.split_at_mut((s + 1) * nh);
        let h_prev = &done[s * nh..];
        let h_next = &mut rest[..nh];
        hidden_product(d, g, h_prev, &wt, b, &mut gh);
        let gi_t = &gi[tau * d.n * gw..(tau + 1) * d.n * gw];
        let act = &mut acts[s * d.n * a..(s + 1) * d.n * a];
        let (c_prev, c_next): (&[f32], &mut [f32]) = if lstm {
            let (cdone, crest) = cs.split_at_mut((s + 1) * nh);
            (&cdone[s * nh..], &mut crest[..nh])
        } else {
            (&[], &mut [])
        };
        gates(cell, d, gi_t, &gh, h_prev, h_next, c_prev, c_next, act);
        y[tau * nh..(tau + 1) * nh].copy_from_slice(h_next);
    }
    if lstm {
        y[d.t * nh..].copy_from_slice(&cs[d.t * nh..]);
    }
    Forward { y, hs, cs, acts }
}

/// Gradients of one direction.
#[derive(Clone, Debug)]
pub struct Backward {
    /// Of `gi`, `[T, N, G*H]` (time order).
    pub dgi: Vec<f32>,
    /// Of `w_hh`, `[G*H, H]`.
    pub dw: Vec<f32>,
    /// Of `b_hh`, `[G*H]`.
    pub db: Vec<f32>,
    /// Of `h0`, `[N, H]`.
    pub dh0: Vec<f32>,
    /// Of `c0`, `[N, H]` (LSTM; empty otherwise).
    pub dc0: Vec<f32>,
}

/// The backward pass of [`forward`] from the gradient of its `y` (the same
/// layout: an LSTM's row `T` is the final cell state's gradient).
pub fn backward(
    cell: Cell,
    d: Dims,
    w: &[f32],
    saved: &Forward,
    dy: &[f32],
    reverse: bool,
) -> Backward {
    let g = cell.gates();
    let (gw, nh) = (g * d.h, d.n * d.h);
    let lstm = cell == Cell::Lstm;
    assert_eq!(
        dy.len(),
        (d.t + usize::from(lstm)) * nh,
        "dy has y's layout"
    );
    let a = cell.saved() * d.h;
    let mut dgi = vec![0.0; d.t * d.n * gw];
    // The hidden-side gate gradients of every step (processing order).
    let mut dgh_all = vec![0.0; d.t * d.n * gw];
    let mut dh_next = vec![0.0; nh];
    let mut dc_next = if lstm {
        dy[d.t * nh..].to_vec()
    } else {
        Vec::new()
    };
    let mut dh = vec![0.0; nh];
    for s in (0..d.t).rev() {
        let tau = if reverse { d.t - 1 - s } else { s };
        for ((o, &a1), &a2) in dh
            .iter_mut()
            .zip(&dy[tau * nh..(tau + 1) * nh])
            .zip(&dh_next)
        {
            *o = a1 + a2;
        }
        let h_prev = &saved.hs[s * nh..(s + 1) * nh];
        let h_cur = &saved.hs[(s + 1) * nh..(s + 2) * nh];
        let act = &saved.acts[s * d.n * a..(s + 1) * d.n * a];
        let dgi_t = &mut dgi[tau * d.n * gw..(tau + 1) * d.n * gw];
        let dgh = &mut dgh_all[s * d.n * gw..(s + 1) * d.n * gw];
        // The part of dh_prev that does not go through W_hh (GRU's z h).
        let mut direct = false;
        match cell {
            Cell::Tanh | Cell::Relu => {
                for k in 0..nh {
                    let y = h_cur[k];
                    let dpre = if cell == Cell::Tanh {
                        dh[k] * (1.0 - y * y)
                    } else if y > 0.0 {
                        dh[k]
                    } else {
                        0.0
                    };
                    dgi_t[k] = dpre;
                    dgh[k] = dpre;
                }
            }
            Cell::Gru => {
                direct = true;
                for i in 0..d.n {
                    let base = i * a;
                    for j in 0..d.h {
                        let (r, z) = (act[base + j], act[base + d.h + j]);
                        let (nv, hn) = (act[base + 2 * d.h + j], act[base + 3 * d.h + j]);
                        let k = i * d.h + j;
                        let dhk = dh[k];
                        let dn = dhk * (1.0 - z) * (1.0 - nv * nv);
                        let dz = dhk * (h_prev[k] - nv) * z * (1.0 - z);
                        let dr = dn * hn * r * (1.0 - r);
                        let row = i * gw;
                        dgi_t[row + j] = dr;
                        dgi_t[row + d.h + j] = dz;
                        dgi_t[row + 2 * d.h + j] = dn;
                        dgh[row + j] = dr;
                        dgh[row + d.h + j] = dz;
                        dgh[row + 2 * d.h + j] = dn * r;
                        dh_next[k] = dhk * z;
                    }
                }
            }
            Cell::Lstm => {
                let c_prev = &saved.cs[s * nh..(s + 1) * nh];
                let c_cur = &saved.cs[(s + 1) * nh..(s + 2) * nh];
                for i in 0..d.n {
                    let base = i * a;
                    for j in 0..d.h {
                        let (ig, fg) = (act[base + j], act[base + d.h + j]);
                        let (gg, og) = (act[base + 2 * d.h + j], act[base + 3 * d.h + j]);
                        let k = i * d.h + j;
                        let tc = tanh(c_cur[k]);
                        let dhk = dh[k];
                        let dc = dc_next[k] + dhk * og * (1.0 - tc * tc);
                        let row = i * gw;
                        let vals = [
                            dc * gg * ig * (1.0 - ig),
                            dc * c_prev[k] * fg * (1.0 - fg),
                            dc * ig * (1.0 - gg * gg),
                            dhk * tc * og * (1.0 - og),
                        ];
                        for (q, v) in vals.into_iter().enumerate() {
                            dgi_t[row + q * d.h + j] = v;
                            dgh[row + q * d.h + j] = v;
                        }
                        dc_next[k] = dc * fg;
                    }
                }
            }
        }
        // dh_prev (+)= dgh W_hh: [N, G*H] x [G*H, H].
        // SAFETY: extents as laid out above.
        unsafe {
            product(
                d.n,
                d.h,
                gw,
                dh_next.as_mut_ptr(),
                d.h,
                direct,
                dgh.as_ptr(),
                gw,
                w.as_ptr(),
                d.h,
            );
        }
    }
    // dW_hh = sum over steps of dgh^T h_prev, computed transposed as one
    // [H, T*N] x [T*N, G*H] product (dgh read row-major) and turned.
    let m = d.t * d.n;
    let mut dwt = vec![0.0; d.h * gw];
    // SAFETY: hs[..T*N*H] is [T*N, H] (read transposed), dgh_all [T*N, G*H].
    unsafe {
        sgemm(
            d.h,
            gw,
            m,
            dwt.as_mut_ptr(),
            gw,
            1,
            false,
            saved.hs.as_ptr(),
            1,
            d.h,
            dgh_all.as_ptr(),
            gw,
            1,
            true,
        );
    }
    let dw = transposed(&dwt, d.h, gw);
    let mut db = vec![0.0; gw];
    for row in dgh_all.chunks(gw) {
        for (o, &v) in db.iter_mut().zip(row) {
            *o += v;
        }
    }
    Backward {
        dgi,
        dw,
        db,
        dh0: dh_next,
        dc0: dc_next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss `sum(y * m)` of a forward pass, in f64 from f32 outputs.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        cell: Cell,
        d: Dims,
        gi: &[f32],
        w: &[f32],
        b: &[f32],
        h0: &[f32],
        c0: &[f32],
        m: &[f32],
        rev: bool,
    ) -> f64 {
        let f = forward(cell, d, gi, w, b, h0, c0, rev);
        f.y.iter().zip(m).map(|(&y, &m)| y as f64 * m as f64).sum()
    }

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1.6
            })
            .collect()
    }

    #[test]
    fn split_products_equal_the_whole_product() {
        let (m, n, k) = (32, 1024, 256);
        let a = values(m * k, 11);
        let b = values(k * n, 12);
        let base = values(m * n, 13);
        for accumulate in [false, true] {
            let mut whole = base.clone();
            let mut split = base.clone();
            // SAFETY: the buffers have exactly these extents.
            unsafe {
                sgemm(
                    m,
                    n,
                    k,
                    whole.as_mut_ptr(),
                    n,
                    1,
                    accumulate,
                    a.as_ptr(),
                    k,
                    1,
                    b.as_ptr(),
                    n,
                    1,
                    false,
                );
                product(
                    m,
                    n,
                    k,
                    split.as_mut_ptr(),
                    n,
                    accumulate,
                    a.as_ptr(),
                    k,
                    b.as_ptr(),
                    n,
                );
            }
            assert_eq!(whole, split);
        }
    }

    #[test]
    fn gradients_match_central_differences() {
        let d = Dims { t: 4, n: 2, h: 3 };
        for cell in [Cell::Tanh, Cell::Relu, Cell::Gru, Cell::Lstm] {
            for rev in [false, true] {
                let gw = cell.gates() * d.h;
                let gi = values(d.t * d.n * gw, 1);
                let w = values(gw * d.h, 2);
                let b = values(gw, 3);
                let h0 = values(d.n * d.h, 4);
                let c0 = values(d.n * d.h, 5);
                let f = forward(cell, d, &gi, &w, &b, &h0, &c0, rev);
                let m = values(f.y.len(), 6);
                let g = backward(cell, d, &w, &f, &m, rev);
                let eps = 1e-2f32;
                let check = |what: &str, x: &[f32], grad: &[f32], set: &dyn Fn(Vec<f32>) -> f64| {
                    for k in (0..x.len()).step_by(5) {
                        let mut up = x.to_vec();
                        up[k] += eps;
                        let mut down = x.to_vec();
                        down[k] -= eps;
                        let fd = (set(up) - set(down)) / (2.0 * eps as f64);
                        assert!(
                            (grad[k] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()),
                            "{cell:?} rev {rev} d{what}[{k}]: {} vs {fd}",
                            grad[k]
                        );
                    }
                };
                check("gi", &gi, &g.dgi, &|x| {
                    loss(cell, d, &x, &w, &b, &h0, &c0, &m, rev)
                });
                check("w", &w, &g.dw, &|x| {
                    loss(cell, d, &gi, &x, &b, &h0, &c0, &m, rev)
                });
                check("b", &b, &g.db, &|x| {
                    loss(cell, d, &gi, &w, &x, &h0, &c0, &m, rev)
                });
                check("h0", &h0, &g.dh0, &|x| {
                    loss(cell, d, &gi, &w, &b, &x, &c0, &m, rev)
                });
                if cell == Cell::Lstm {
                    check("c0", &c0, &g.dc0, &|x| {
                        loss(cell, d, &gi, &w, &b, &h0, &x, &m, rev)
                    });
                }
            }
        }
    }
}
