//! One direction of one recurrent layer over a whole sequence, forward and
//! backward through time, as `torch.nn.RNN` / `GRU` / `LSTM` compute it
//! (gate orders GRU r, z, n and LSTM i, f, g, o): the input projections
//! `gi = x W_ih^T + b_ih` come precomputed (one large product outside), so
//! each step is one `[N, H] x [H, G*H]` product and the gate arithmetic in
//! one pass; the backward pass walks the steps in reverse with one product
//! per step and the weight gradient as one product over all steps.

use super::elementwise::exp;
use super::packed::{self, Packed};
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

/// The gate arithmetic of one step for every sequence, for the hidden units
/// `u0..u0 + w`: from the input and hidden projections to the next hidden
/// (and cell) state, keeping the gate values. `gi` is the step's full
/// `[N, G*H]`, `gh` this range's `[N, G*w]` (gate-major within a row),
/// `h_prev` / `c_prev` full `[N, H]`; `h_next`, `c_next` (`[N, H]`) and
/// `act` (`[N, 4H]`) are written at this range's units only, so threads
/// that own other ranges may write theirs at the same time. Written over
/// whole row ranges so that the compiler vectorises it.
///
/// # Safety
/// The three outputs must hold their full layouts (`c_next` only for an
/// LSTM) and no other thread may touch this range of units in them.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn gates_body(
    cell: Cell,
    d: Dims,
    (u0, w): (usize, usize),
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    c_prev: &[f32],
    h_next: *mut f32,
    c_next: *mut f32,
    act: *mut f32,
) {
    let hh = d.h;
    let g = cell.gates();
    let gw = g * hh;
    // SAFETY (every slice below): row i's range of units in an output of
    // the layout the caller guarantees.
    let out = |p: *mut f32, at: usize| unsafe { std::slice::from_raw_parts_mut(p.add(at), w) };
    for i in 0..d.n {
        let gi = &gi[i * gw..(i + 1) * gw];
        let gh = &gh[i * g * w..(i + 1) * g * w];
        let at = |gate: usize| &gi[gate * hh + u0..gate * hh + u0 + w];
        let hg = |gate: usize| &gh[gate * w..(gate + 1) * w];
        let hn = out(h_next, i * hh + u0);
        match cell {
            Cell::Tanh => {
                for ((o, &x), &y) in hn.iter_mut().zip(at(0)).zip(hg(0)) {
                    *o = tanh(x + y);
                }
            }
            Cell::Relu => {
                for ((o, &x), &y) in hn.iter_mut().zip(at(0)).zip(hg(0)) {
                    *o = (x + y).max(0.0);
                }
            }
            Cell::Gru => {
                let row = i * 4 * hh + u0;
                let (ar, az) = (out(act, row), out(act, row + hh));
                let (an, ahn) = (out(act, row + 2 * hh), out(act, row + 3 * hh));
                for ((o, &x), &y) in ar.iter_mut().zip(at(0)).zip(hg(0)) {
                    *o = sig(x + y);
                }
                for ((o, &x), &y) in az.iter_mut().zip(at(1)).zip(hg(1)) {
                    *o = sig(x + y);
                }
                ahn.copy_from_slice(hg(2));
                for (((o, &x), &y), &r) in an.iter_mut().zip(at(2)).zip(hg(2)).zip(ar.iter()) {
                    *o = tanh(x + r * y);
                }
                let hp = &h_prev[i * hh + u0..i * hh + u0 + w];
                for (((o, &nv), &z), &p) in hn.iter_mut().zip(an.iter()).zip(az.iter()).zip(hp) {
                    *o = nv + z * (p - nv);
                }
            }
            Cell::Lstm => {
                let row = i * gw + u0;
                let (ai, af) = (out(act, row), out(act, row + hh));
                let (ag, ao) = (out(act, row + 2 * hh), out(act, row + 3 * hh));
                for ((o, &x), &y) in ai.iter_mut().zip(at(0)).zip(hg(0)) {
                    *o = sig(x + y);
                }
                for ((o, &x), &y) in af.iter_mut().zip(at(1)).zip(hg(1)) {
                    *o = sig(x + y);
                }
                for ((o, &x), &y) in ag.iter_mut().zip(at(2)).zip(hg(2)) {
                    *o = tanh(x + y);
                }
                for ((o, &x), &y) in ao.iter_mut().zip(at(3)).zip(hg(3)) {
                    *o = sig(x + y);
                }
                let cp = &c_prev[i * hh + u0..i * hh + u0 + w];
                let cn = out(c_next, i * hh + u0);
                for ((((c, &p), &ig), &fg), &gg) in cn
                    .iter_mut()
                    .zip(cp)
                    .zip(ai.iter())
                    .zip(af.iter())
                    .zip(ag.iter())
                {
                    *c = fg * p + ig * gg;
                }
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
    units: (usize, usize),
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    c_prev: &[f32],
    h_next: *mut f32,
    c_next: *mut f32,
    act: *mut f32,
) {
    // SAFETY: forwarded contract.
    unsafe { gates_body(cell, d, units, gi, gh, h_prev, c_prev, h_next, c_next, act) }
}

/// [`gates_body`], with AVX2 where the CPU has it.
///
/// # Safety
/// As [`gates_body`].
#[allow(clippy::too_many_arguments)]
unsafe fn gates(
    cell: Cell,
    d: Dims,
    units: (usize, usize),
    gi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    c_prev: &[f32],
    h_next: *mut f32,
    c_next: *mut f32,
    act: *mut f32,
) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above); the rest
        // is the caller's contract.
        return unsafe { gates_avx2(cell, d, units, gi, gh, h_prev, c_prev, h_next, c_next, act) };
    }
    // SAFETY: forwarded contract.
    unsafe { gates_body(cell, d, units, gi, gh, h_prev, c_prev, h_next, c_next, act) }
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
/// strides, a row-major copy `[H, G*H]`, or packed for the AVX-512 kernel
/// (either made once per sequence: the product reads them far faster,
/// which pays off from a few steps on).
enum Wt<'a> {
    Swapped(&'a [f32]),
    RowMajor(Vec<f32>),
    Packed(Packed),
}

/// Steps from which a sequence packs (or transposes) its weight once.
const PACK_FROM_STEPS: usize = 4;

/// `gh = h W^T + b` for `h [N, H]`, into `gh [N, cols]` (`cols` the rows of
/// the `W` that `wt` holds); `parallel` lets the product use two threads.
fn hidden_product(
    d: Dims,
    cols: usize,
    h_prev: &[f32],
    wt: &Wt,
    b: &[f32],
    gh: &mut [f32],
    parallel: bool,
) {
    for row in gh.chunks_mut(cols) {
        row.copy_from_slice(b);
    }
    match wt {
        Wt::Packed(p) => packed::product(d.n, h_prev, d.h, p, gh, cols, true, parallel),
        // SAFETY: gh is [N, cols], h_prev [N, H], W^T [H, cols]; the
        // extents are asserted by the caller.
        Wt::RowMajor(t) => unsafe {
            product(
                d.n,
                cols,
                d.h,
                gh.as_mut_ptr(),
                cols,
                true,
                h_prev.as_ptr(),
                d.h,
                t.as_ptr(),
                cols,
            )
        },
        // SAFETY: the same, W^T read from W with swapped strides.
        Wt::Swapped(w) => unsafe {
            sgemm(
                d.n,
                cols,
                d.h,
                gh.as_mut_ptr(),
                cols,
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

/// `W^T` of `w [rows, cols]`, row-major `[cols, rows]`, in 32 x 32 tiles:
/// element by element, the strided writes missed the cache and the TLB at
/// every step (a `[1024, 256]` weight took milliseconds).
fn transposed(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut t = vec![0.0; w.len()];
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for r in r0..r1 {
                let src = &w[r * cols + c0..r * cols + c1];
                for (c, &v) in (c0..c1).zip(src) {
                    t[c * rows + r] = v;
                }
            }
        }
    }
    t
}

/// Into how many ranges of hidden units one direction is split, each run
/// by its own thread for the whole sequence (with a spin barrier between
/// steps): waking a pool thread for each step's product cost more than
/// the product itself. One where the CPU lacks the packed kernel, the
/// pool has one thread, or the steps are small.
fn parts(cell: Cell, d: Dims) -> usize {
    let macs = d.n * cell.gates() * d.h * d.h;
    if d.t < PACK_FROM_STEPS || macs < (1 << 19) || !packed::available() {
        return 1;
    }
    super::threads().min(d.h / 32).clamp(1, 8)
}

/// Hidden units `[u0, u1)` of part `q` of `parts` (bounds on multiples of
/// 16 where the layer is wide enough, for whole vectors).
fn unit_range(h: usize, q: usize, parts: usize) -> (usize, usize) {
    let bound = |q: usize| {
        if q == parts {
            h
        } else if h >= 16 * parts {
            h * q / parts / 16 * 16
        } else {
            h * q / parts
        }
    };
    (bound(q), bound(q + 1))
}

/// Runs `run(q)` for `q < parts`, part 0 on this thread and the others on
/// threads of their own (scoped: they end before this returns).
fn run_parts(parts: usize, run: impl Fn(usize) + Sync) {
    if parts == 1 {
        return run(0);
    }
    std::thread::scope(|scope| {
        let run = &run;
        for q in 1..parts {
            scope.spawn(move || run(q));
        }
        run(0);
    });
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
    forward_in_parts(cell, d, gi, w, b, h0, c0, reverse, parts(cell, d))
}

/// [`forward`] with the hidden units split into `parts` ranges.
#[allow(clippy::too_many_arguments)]
fn forward_in_parts(
    cell: Cell,
    d: Dims,
    gi: &[f32],
    w: &[f32],
    b: &[f32],
    h0: &[f32],
    c0: &[f32],
    reverse: bool,
    parts: usize,
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
    let barrier = super::SpinBarrier::new(parts);
    let (hs_p, cs_p, acts_p) = (
        super::SendPtr(hs.as_mut_ptr()),
        super::SendPtr(cs.as_mut_ptr()),
        super::SendPtr(acts.as_mut_ptr()),
    );
    run_parts(parts, |q| {
        let (u0, u1) = unit_range(d.h, q, parts);
        let cols = g * (u1 - u0);
        // This part's rows of W and b, gate by gate.
        let gather = |src: &[f32], stride: usize| -> Vec<f32> {
            (0..g)
                .flat_map(|gate| src[(gate * d.h + u0) * stride..(gate * d.h + u1) * stride].iter())
                .copied()
                .collect()
        };
        let (wq, bq) = if parts == 1 {
            (Vec::new(), Vec::new())
        } else {
            (gather(w, d.h), gather(b, 1))
        };
        let (wq, bq) = if parts == 1 {
            (w, b)
        } else {
            (&wq[..], &bq[..])
        };
        let wt = if d.t >= PACK_FROM_STEPS && packed::available() {
            // W^T [H, cols] read from W [cols, H].
            Wt::Packed(Packed::new(wq, d.h, cols, 1, d.h))
        } else if d.t >= PACK_FROM_STEPS {
            Wt::RowMajor(transposed(wq, cols, d.h))
        } else {
            Wt::Swapped(wq)
        };
        let mut gh = vec![0.0; d.n * cols];
        for s in 0..d.t {
            if s > 0 {
                barrier.wait();
            }
            let tau = if reverse { d.t - 1 - s } else { s };
            // SAFETY: slot s of hs (and cs) was completed before the
            // barrier and no part writes it any more; slot s + 1 and the
            // step's gate values are written at this part's units only.
            unsafe {
                let h_prev = std::slice::from_raw_parts(hs_p.get().add(s * nh), nh);
                let (c_prev, c_next): (&[f32], *mut f32) = if lstm {
                    (
                        std::slice::from_raw_parts(cs_p.get().add(s * nh), nh),
                        cs_p.get().add((s + 1) * nh),
                    )
                } else {
                    (&[], std::ptr::null_mut())
                };
                hidden_product(d, cols, h_prev, &wt, bq, &mut gh, parts == 1);
                gates(
                    cell,
                    d,
                    (u0, u1 - u0),
                    &gi[tau * d.n * gw..(tau + 1) * d.n * gw],
                    &gh,
                    h_prev,
                    c_prev,
                    hs_p.get().add((s + 1) * nh),
                    c_next,
                    acts_p.get().add(s * d.n * a),
                );
            }
        }
    });
    let mut y = vec![0.0; (d.t + usize::from(lstm)) * nh];
    for s in 0..d.t {
        let tau = if reverse { d.t - 1 - s } else { s };
        y[tau * nh..(tau + 1) * nh].copy_from_slice(&hs[(s + 1) * nh..(s + 2) * nh]);
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

/// The gate gradients of one row's range of units at one step: from
/// `dh = dy + dh_next` (and the LSTM's `dc_next`) to `dgi` and `dgh` (one
/// slice pair per gate, equal but for GRU's `n`, whose hidden side is
/// scaled by `r`), and the next `dh_next` (GRU's direct `z dh`; the other
/// cells' is all through `W_hh`, so it is left to the product) and
/// `dc_next`. Written as zipped passes so that the compiler vectorises it.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
#[inline(always)]
fn backward_row<'a>(
    cell: Cell,
    gates: [(&mut [f32], &mut [f32]); 4],
    dh_next: &mut [f32],
    dy: &[f32],
    h_prev: &[f32],
    h_cur: &[f32],
    act: impl Fn(usize) -> &'a [f32],
    lstm: Option<(&[f32], &[f32], &mut [f32])>,
) {
    let [(gi0, gh0), (gi1, gh1), (gi2, gh2), (gi3, gh3)] = gates;
    match cell {
        Cell::Tanh => {
            for ((((a, b), &y), &dy), &dn) in gi0
                .iter_mut()
                .zip(gh0.iter_mut())
                .zip(h_cur)
                .zip(dy)
                .zip(dh_next.iter())
            {
                let v = (dy + dn) * (1.0 - y * y);
                *a = v;
                *b = v;
            }
        }
        Cell::Relu => {
            for ((((a, b), &y), &dy), &dn) in gi0
                .iter_mut()
                .zip(gh0.iter_mut())
                .zip(h_cur)
                .zip(dy)
                .zip(dh_next.iter())
            {
                let v = if y > 0.0 { dy + dn } else { 0.0 };
                *a = v;
                *b = v;
            }
        }
        Cell::Gru => {
            let (r, z, n, hn) = (act(0), act(1), act(2), act(3));
            for j in 0..dy.len() {
                let dhk = dy[j] + dh_next[j];
                let (r, z, nv, hn) = (r[j], z[j], n[j], hn[j]);
                let dn = dhk * (1.0 - z) * (1.0 - nv * nv);
                let dz = dhk * (h_prev[j] - nv) * z * (1.0 - z);
                let dr = dn * hn * r * (1.0 - r);
                (gi0[j], gh0[j]) = (dr, dr);
                (gi1[j], gh1[j]) = (dz, dz);
                (gi2[j], gh2[j]) = (dn, dn * r);
                dh_next[j] = dhk * z;
            }
        }
        Cell::Lstm => {
            let (ig, fg, gg, og) = (act(0), act(1), act(2), act(3));
            let (c_prev, c_cur, dc_next) = lstm.expect("an LSTM has cell states");
            for j in 0..dy.len() {
                let dhk = dy[j] + dh_next[j];
                let (i, f, g, o) = (ig[j], fg[j], gg[j], og[j]);
                let tc = tanh(c_cur[j]);
                let dc = dc_next[j] + dhk * o * (1.0 - tc * tc);
                let v = [
                    dc * g * i * (1.0 - i),
                    dc * c_prev[j] * f * (1.0 - f),
                    dc * i * (1.0 - g * g),
                    dhk * tc * o * (1.0 - o),
                ];
                (gi0[j], gh0[j]) = (v[0], v[0]);
                (gi1[j], gh1[j]) = (v[1], v[1]);
                (gi2[j], gh2[j]) = (v[2], v[2]);
                (gi3[j], gh3[j]) = (v[3], v[3]);
                dc_next[j] = dc * f;
            }
        }
    }
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
    backward_in_parts(cell, d, w, saved, dy, reverse, parts(cell, d))
}

/// [`backward`] with the hidden units split into `parts` ranges: each part
/// computes its units' gate gradients, then (after a barrier, since every
/// unit's `dh_prev` reads all of them) its units' columns of `dgh W_hh`.
fn backward_in_parts(
    cell: Cell,
    d: Dims,
    w: &[f32],
    saved: &Forward,
    dy: &[f32],
    reverse: bool,
    parts: usize,
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
    let mut dh_next = vec![0.0; nh];
    let mut dc_next = if lstm {
        dy[d.t * nh..].to_vec()
    } else {
        Vec::new()
    };
    let mut dw = vec![0.0; gw * d.h];
    let mut db = vec![0.0; gw];
    let (dw_p, db_p) = (
        super::SendPtr(dw.as_mut_ptr()),
        super::SendPtr(db.as_mut_ptr()),
    );
    let barrier = super::SpinBarrier::new(parts);
    // The hidden-side gate gradients of every step (processing order),
    // every value written before it is read: this thread's scratch, so
    // that megabytes of fresh pages are not faulted in at every call.
    super::with_scratch(d.t * d.n * gw, |dgh_all| {
        let ptrs = (
            super::SendPtr(dgi.as_mut_ptr()),
            super::SendPtr(dgh_all.as_mut_ptr()),
            super::SendPtr(dh_next.as_mut_ptr()),
            super::SendPtr(dc_next.as_mut_ptr()),
        );
        run_parts(parts, |q| {
            let (dgi_p, dgh_p, dhn_p, dcn_p) = ptrs;
            let (u0, u1) = unit_range(d.h, q, parts);
            let wd = u1 - u0;
            // W's columns of this part: B [G*H, wd] with B[kk, j] = W[kk, u0 + j].
            let w_packed = (d.t >= PACK_FROM_STEPS && packed::available())
                .then(|| Packed::new(&w[u0..], gw, wd, d.h, 1));
            for s in (0..d.t).rev() {
                let tau = if reverse { d.t - 1 - s } else { s };
                let h_prev = &saved.hs[s * nh..(s + 1) * nh];
                let h_cur = &saved.hs[(s + 1) * nh..(s + 2) * nh];
                let act = &saved.acts[s * d.n * a..(s + 1) * d.n * a];
                let dy_t = &dy[tau * nh..(tau + 1) * nh];
                // SAFETY: every part writes its own units of dgi, dgh, dh_next
                // and dc_next; dgh of step s is read by all only after the
                // barrier, and dh_next / dc_next of a unit only by its part.
                let (dgi_t, dgh, dh_next, dc_next) = unsafe {
                    (
                        dgi_p.get().add(tau * d.n * gw),
                        dgh_p.get().add(s * d.n * gw),
                        dhn_p.get(),
                        dcn_p.get(),
                    )
                };
                // The part of dh_prev that does not go through W_hh (GRU's z h).
                let direct = cell == Cell::Gru;
                for i in 0..d.n {
                    let (row, k0) = (i * gw, i * d.h + u0);
                    // SAFETY: row i's units u0..u1 of each buffer, this part's
                    // alone (see above); the slices do not overlap.
                    let (dhn, gate_slices) = unsafe {
                        let part =
                            |p: *mut f32, at: usize| std::slice::from_raw_parts_mut(p.add(at), wd);
                        let mut gs: [(&mut [f32], &mut [f32]); 4] = Default::default();
                        for (q, slot) in gs.iter_mut().enumerate().take(g) {
                            *slot = (
                                part(dgi_t, row + q * d.h + u0),
                                part(dgh, row + q * d.h + u0),
                            );
                        }
                        (part(dh_next, k0), gs)
                    };
                    let dy_r = &dy_t[k0..k0 + wd];
                    let hp = &h_prev[k0..k0 + wd];
                    let hc = &h_cur[k0..k0 + wd];
                    let act_at = |q: usize| &act[i * a + q * d.h + u0..i * a + q * d.h + u0 + wd];
                    backward_row(
                        cell,
                        gate_slices,
                        dhn,
                        dy_r,
                        hp,
                        hc,
                        act_at,
                        // SAFETY: as above; only an LSTM has cell states.
                        lstm.then(|| unsafe {
                            (
                                &saved.cs[s * nh + k0..s * nh + k0 + wd],
                                &saved.cs[(s + 1) * nh + k0..(s + 1) * nh + k0 + wd],
                                std::slice::from_raw_parts_mut(dc_next.add(k0), wd),
                            )
                        }),
                    );
                }
                barrier.wait();
                // dh_prev (+)= dgh W_hh, this part's columns: [N, G*H] x [G*H, wd].
                // SAFETY: dgh of step s is complete (the barrier) and nobody
                // writes it any more; the columns u0..u1 of dh_next are this
                // part's alone.
                unsafe {
                    let dgh = std::slice::from_raw_parts(dgh as *const f32, d.n * gw);
                    match &w_packed {
                        Some(p) => packed::product_into(
                            d.n,
                            dgh,
                            gw,
                            p,
                            dh_next.add(u0),
                            d.h,
                            direct,
                            parts == 1,
                        ),
                        None => product(
                            d.n,
                            wd,
                            gw,
                            dh_next.add(u0),
                            d.h,
                            direct,
                            dgh.as_ptr(),
                            gw,
                            w.as_ptr().add(u0),
                            d.h,
                        ),
                    }
                }
            }
            // This part's rows of dW_hh = sum over steps of dgh^T h_prev, gate
            // by gate ([wd, T*N] x [T*N, H], dgh read transposed), and of db.
            let m = d.t * d.n;
            for gate in 0..g {
                let c0 = gate * d.h + u0;
                // SAFETY: dgh's columns c0..c0 + wd are this part's, complete;
                // dW's rows c0..c0 + wd are this part's alone; hs[..T*N*H] is
                // [T*N, H].
                unsafe {
                    sgemm(
                        wd,
                        d.h,
                        m,
                        dw_p.get().add(c0 * d.h),
                        d.h,
                        1,
                        false,
                        dgh_p.get().add(c0),
                        1,
                        gw,
                        saved.hs.as_ptr(),
                        d.h,
                        1,
                        parts == 1,
                    );
                    let db = std::slice::from_raw_parts_mut(db_p.get().add(c0), wd);
                    for r in 0..m {
                        let src = std::slice::from_raw_parts(dgh_p.get().add(r * gw + c0), wd);
                        for (o, &v) in db.iter_mut().zip(src) {
                            *o += v;
                        }
                    }
                }
            }
        });
    });
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

    /// Splitting the hidden units over threads changes nothing: every
    /// output and gradient of 2 and 3 parts equals the single part's (whose
    /// gradients the central differences check), for ragged ranges too.
    #[test]
    fn parts_compute_what_one_part_does() {
        let d = Dims { t: 5, n: 3, h: 37 };
        for cell in [Cell::Tanh, Cell::Relu, Cell::Gru, Cell::Lstm] {
            for rev in [false, true] {
                let gw = cell.gates() * d.h;
                let gi = values(d.t * d.n * gw, 1);
                let w = values(gw * d.h, 2);
                let b = values(gw, 3);
                let h0 = values(d.n * d.h, 4);
                let c0 = values(d.n * d.h, 5);
                let one = forward_in_parts(cell, d, &gi, &w, &b, &h0, &c0, rev, 1);
                let m = values(one.y.len(), 6);
                let g1 = backward_in_parts(cell, d, &w, &one, &m, rev, 1);
                for parts in [2, 3] {
                    let f = forward_in_parts(cell, d, &gi, &w, &b, &h0, &c0, rev, parts);
                    let g = backward_in_parts(cell, d, &w, &f, &m, rev, parts);
                    let pairs = [
                        ("y", &one.y, &f.y),
                        ("acts", &one.acts, &f.acts),
                        ("dgi", &g1.dgi, &g.dgi),
                        ("dw", &g1.dw, &g.dw),
                        ("db", &g1.db, &g.db),
                        ("dh0", &g1.dh0, &g.dh0),
                        ("dc0", &g1.dc0, &g.dc0),
                    ];
                    for (what, x, y) in pairs {
                        assert_eq!(x.len(), y.len(), "{what}");
                        for (k, (a, b)) in x.iter().zip(y.iter()).enumerate() {
                            assert!(
                                (a - b).abs() <= 1e-6 * (1.0 + a.abs()),
                                "{cell:?} rev {rev} {parts} parts: {what}[{k}] {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}
