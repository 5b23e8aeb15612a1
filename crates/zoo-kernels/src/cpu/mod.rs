//! The kernels on plain `f32` slices in NCHW order: no burn types here, so
//! each one can be read (and tested) against its formula alone.

pub mod color;
pub mod conv;
pub mod elementwise;
pub mod norm;
pub mod packed;
pub mod pool;
pub mod recurrent;
pub mod resample;

use std::cell::RefCell;

/// A raw pointer that may cross rayon's threads: every task writes a region
/// of the output no other task touches (each use says which).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut f32);
// SAFETY: the pointee outlives the parallel region and tasks write disjoint regions.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole `SendPtr`).
    #[inline(always)]
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// A barrier for a fixed number of threads that spins (then yields)
/// instead of sleeping: for the steps of a recurrent layer, a few
/// microseconds apart, where a futex wake-up would cost more than the step.
pub(crate) struct SpinBarrier {
    parties: usize,
    arrived: std::sync::atomic::AtomicUsize,
    generation: std::sync::atomic::AtomicUsize,
}

impl SpinBarrier {
    /// A barrier for `parties` threads.
    pub(crate) fn new(parties: usize) -> SpinBarrier {
        SpinBarrier {
            parties,
            arrived: std::sync::atomic::AtomicUsize::new(0),
            generation: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Returns once all parties have called `wait` this round.
    pub(crate) fn wait(&self) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
        if self.parties <= 1 {
            return;
        }
        let generation = self.generation.load(Acquire);
        if self.arrived.fetch_add(1, AcqRel) + 1 == self.parties {
            self.arrived.store(0, Relaxed);
            self.generation.fetch_add(1, Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Acquire) == generation {
            if spins < 1 << 16 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Threads of rayon's pool (what one level of parallelism can use).
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

thread_local! {
    /// Each thread's scratch buffers (im2col columns, gathered rows), grown
    /// once and reused.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static SCRATCH2: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PLANE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer for one padded plane (of at least
/// `len` values, contents unspecified), apart from [`with_scratch2`]'s two.
pub(crate) fn with_plane<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    PLANE.with(|s| match s.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Runs `f` with this thread's scratch buffer of at least `len` values
/// (contents unspecified: callers write before they read).
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        // A re-entrant call (a kernel inside a kernel) gets its own buffer.
        match s.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.len() < len {
                    buf.resize(len, 0.0);
                }
                f(&mut buf[..len])
            }
            Err(_) => f(&mut vec![0.0; len]),
        }
    })
}

/// [`with_scratch`] with a second buffer of at least `len2` values.
pub(crate) fn with_scratch2<R>(
    len: usize,
    len2: usize,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    with_scratch(len, |a| {
        SCRATCH2.with(|s| match s.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.len() < len2 {
                    buf.resize(len2, 0.0);
                }
                f(a, &mut buf[..len2])
            }
            Err(_) => f(a, &mut vec![0.0; len2]),
        })
    })
}

/// `dst = (accumulate ? dst : 0) + a @ b` with `a` m x k and `b` k x n, each
/// given by its row and column strides (in elements).
///
/// # Safety
/// The pointers must cover the strided extents, `dst` not aliasing `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    b_cs: usize,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: inside dst's extent by the caller's contract.
                    unsafe { *dst.add(i * dst_rs + j * dst_cs) = 0.0 };
                }
            }
        }
        return;
    }
    let par = if parallel && threads() > 1 {
        gemm::Parallelism::Rayon(threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            a,
            a_cs as isize,
            a_rs as isize,
            b,
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}
