//! The inverse DCT: libjpeg-turbo's `jpeg_idct_islow` (`jidctint.c`, the
//! default `JDCT_ISLOW`), integer arithmetic with `CONST_BITS` 13 and
//! `PASS1_BITS` 2, and its range-limiting table (`prepare_range_limit_table`
//! in `jdmaster.c`), both exactly as the C code computes them.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

/// `IDCT_range_limit` masked with `RANGE_MASK` (1023): the sample of an
/// IDCT output `x` (before the +128 level shift) for `x & 1023`: `x + 128`
/// for -128..=127, 255 up to 511, 0 from -512 to -129, wrapping beyond.
const RANGE_LIMIT: [u8; 1024] = {
    let mut t = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        t[i] = if i < 128 {
            (i + 128) as u8
        } else if i < 512 {
            255
        } else if i < 896 {
            0
        } else {
            (i - 896) as u8
        };
        i += 1;
    }
    t
};

/// `DESCALE`: `x / 2^n` rounded (half up), as an arithmetic shift.
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// The sample of a pass-2 result.
#[inline(always)]
fn limit(x: i64) -> u8 {
    RANGE_LIMIT[(descale(x, CONST_BITS + PASS1_BITS + 3) as i32 & 1023) as usize]
}

/// One block: the coefficients `coef` (natural order) dequantized by `q`
/// (the multipliers as libjpeg-turbo's SIMD builds hold them, 16-bit
/// signed), the 8x8 samples written to `out` from `offset`, rows `stride`
/// apart.
///
/// On a CPU with AVX2, blocks whose values stay small enough for 32-bit
/// arithmetic to compute exactly what libjpeg's 64-bit `JLONG` arithmetic
/// does (every block of a valid 8-bit file) take a vectorized path; the
/// others, and every block elsewhere, the line-by-line port.
pub(super) fn idct_islow(
    coef: &[i16; 64],
    q: &[u16; 64],
    out: &mut [u8],
    offset: usize,
    stride: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { idct_islow_avx2(coef, q, out, offset, stride) };
    }
    idct_islow_wide(coef, q, out, offset, stride)
}

/// [`idct_narrow`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn idct_islow_avx2(
    coef: &[i16; 64],
    q: &[u16; 64],
    out: &mut [u8],
    offset: usize,
    stride: usize,
) {
    idct_narrow(coef, q, out, offset, stride)
}

/// [`idct_islow`] in 32-bit lanes where that is exact, else
/// [`idct_islow_wide`].
#[inline(always)]
fn idct_narrow(coef: &[i16; 64], q: &[u16; 64], out: &mut [u8], offset: usize, stride: usize) {
    let mut dq = [0i32; 64];
    for ((d, &c), &q) in dq.iter_mut().zip(coef).zip(q) {
        *d = i32::from(c) * i32::from(q as i16);
    }
    // |x| < 2^13 before each pass bounds every sum below 2^31.
    let small = |v: &[i32; 64]| v.iter().map(|&x| (x + (1 << 13)) as u32).max() < Some(1 << 14);
    if !small(&dq) {
        return idct_islow_wide(coef, q, out, offset, stride);
    }
    let mut ws = [0i32; 64];
    columns(&dq, &mut ws, CONST_BITS - PASS1_BITS);
    if !small(&ws) {
        return idct_islow_wide(coef, q, out, offset, stride);
    }
    // Pass 2 is pass 1's arithmetic on the rows: transposed in and out.
    let mut wt = [0i32; 64];
    for r in 0..8 {
        for k in 0..8 {
            wt[8 * k + r] = ws[8 * r + k];
        }
    }
    let mut res = [0i32; 64];
    columns(&wt, &mut res, CONST_BITS + PASS1_BITS + 3);
    let mut samples = [0u8; 64];
    for (s, &v) in samples.iter_mut().zip(&res) {
        // RANGE_LIMIT[v & 1023] without the table.
        *s = ((((v + 512) & 1023) - 512) + 128).clamp(0, 255) as u8;
    }
    for r in 0..8 {
        let o = &mut out[offset + r * stride..offset + r * stride + 8];
        for (k, v) in o.iter_mut().enumerate() {
            *v = samples[8 * k + r];
        }
    }
}

/// The 1-D IDCT of the 8 columns of `x` (the even part and `odd`, as
/// `jpeg_idct_islow`'s passes compute them, without their shortcuts for
/// zero terms, which give the same values), each result descaled by
/// `shift` bits.
#[inline(always)]
fn columns(x: &[i32; 64], out: &mut [i32; 64], shift: u32) {
    let round = 1 << (shift - 1);
    for c in 0..8 {
        let z2 = x[16 + c];
        let z3 = x[48 + c];
        let z1 = (z2 + z3) * FIX_0_541196100 as i32;
        let tmp2 = z1 + z3 * -FIX_1_847759065 as i32;
        let tmp3 = z1 + z2 * FIX_0_765366865 as i32;
        let tmp0 = (x[c] + x[32 + c]) << CONST_BITS;
        let tmp1 = (x[c] - x[32 + c]) << CONST_BITS;
        let (tmp10, tmp13) = (tmp0 + tmp3, tmp0 - tmp3);
        let (tmp11, tmp12) = (tmp1 + tmp2, tmp1 - tmp2);
        let (t0, t1, t2, t3) = (x[56 + c], x[40 + c], x[24 + c], x[8 + c]);
        let z5 = (t0 + t1 + t2 + t3) * FIX_1_175875602 as i32;
        let z1 = (t0 + t3) * -FIX_0_899976223 as i32;
        let z2 = (t1 + t2) * -FIX_2_562915447 as i32;
        let z3 = (t0 + t2) * -FIX_1_961570560 as i32 + z5;
        let z4 = (t1 + t3) * -FIX_0_390180644 as i32 + z5;
        let o0 = t0 * FIX_0_298631336 as i32 + z1 + z3;
        let o1 = t1 * FIX_2_053119869 as i32 + z2 + z4;
        let o2 = t2 * FIX_3_072711026 as i32 + z2 + z3;
        let o3 = t3 * FIX_1_501321110 as i32 + z1 + z4;
        out[c] = (tmp10 + o3 + round) >> shift;
        out[56 + c] = (tmp10 - o3 + round) >> shift;
        out[8 + c] = (tmp11 + o2 + round) >> shift;
        out[48 + c] = (tmp11 - o2 + round) >> shift;
        out[16 + c] = (tmp12 + o1 + round) >> shift;
        out[40 + c] = (tmp12 - o1 + round) >> shift;
        out[24 + c] = (tmp13 + o0 + round) >> shift;
        out[32 + c] = (tmp13 - o0 + round) >> shift;
    }
}

/// [`idct_islow`] line by line as `jidctint.c` (64-bit), for any values.
fn idct_islow_wide(coef: &[i16; 64], q: &[u16; 64], out: &mut [u8], offset: usize, stride: usize) {
    let mut ws = [0i32; 64];
    let dq = |i: usize| i64::from(coef[i]) * i64::from(q[i] as i16);
    // Pass 1: columns into the work array, scaled up by 2^PASS1_BITS.
    for c in 0..8 {
        if (1..8).all(|r| coef[8 * r + c] == 0) {
            let dcval = (dq(c) << PASS1_BITS) as i32;
            for r in 0..8 {
                ws[8 * r + c] = dcval;
            }
            continue;
        }
        let z2 = dq(16 + c);
        let z3 = dq(48 + c);
        let z1 = (z2 + z3) * FIX_0_541196100;
        let tmp2 = z1 + z3 * -FIX_1_847759065;
        let tmp3 = z1 + z2 * FIX_0_765366865;
        let z2 = dq(c);
        let z3 = dq(32 + c);
        let tmp0 = (z2 + z3) << CONST_BITS;
        let tmp1 = (z2 - z3) << CONST_BITS;
        let tmp10 = tmp0 + tmp3;
        let tmp13 = tmp0 - tmp3;
        let tmp11 = tmp1 + tmp2;
        let tmp12 = tmp1 - tmp2;
        let (tmp0, tmp1, tmp2, tmp3) = odd(dq(56 + c), dq(40 + c), dq(24 + c), dq(8 + c));
        let n = CONST_BITS - PASS1_BITS;
        ws[c] = descale(tmp10 + tmp3, n) as i32;
        ws[56 + c] = descale(tmp10 - tmp3, n) as i32;
        ws[8 + c] = descale(tmp11 + tmp2, n) as i32;
        ws[48 + c] = descale(tmp11 - tmp2, n) as i32;
        ws[16 + c] = descale(tmp12 + tmp1, n) as i32;
        ws[40 + c] = descale(tmp12 - tmp1, n) as i32;
        ws[24 + c] = descale(tmp13 + tmp0, n) as i32;
        ws[32 + c] = descale(tmp13 - tmp0, n) as i32;
    }
    // Pass 2: rows into samples, descaled by 2^(PASS1_BITS + 3).
    for r in 0..8 {
        let w = &ws[8 * r..8 * r + 8];
        let o = &mut out[offset + r * stride..offset + r * stride + 8];
        if w[1..].iter().all(|&x| x == 0) {
            let v = RANGE_LIMIT[(descale(i64::from(w[0]), PASS1_BITS + 3) as i32 & 1023) as usize];
            o.fill(v);
            continue;
        }
        let z2 = i64::from(w[2]);
        let z3 = i64::from(w[6]);
        let z1 = (z2 + z3) * FIX_0_541196100;
        let tmp2 = z1 + z3 * -FIX_1_847759065;
        let tmp3 = z1 + z2 * FIX_0_765366865;
        let tmp0 = (i64::from(w[0]) + i64::from(w[4])) << CONST_BITS;
        let tmp1 = (i64::from(w[0]) - i64::from(w[4])) << CONST_BITS;
        let tmp10 = tmp0 + tmp3;
        let tmp13 = tmp0 - tmp3;
        let tmp11 = tmp1 + tmp2;
        let tmp12 = tmp1 - tmp2;
        let (tmp0, tmp1, tmp2, tmp3) = odd(
            i64::from(w[7]),
            i64::from(w[5]),
            i64::from(w[3]),
            i64::from(w[1]),
        );
        o[0] = limit(tmp10 + tmp3);
        o[7] = limit(tmp10 - tmp3);
        o[1] = limit(tmp11 + tmp2);
        o[6] = limit(tmp11 - tmp2);
        o[2] = limit(tmp12 + tmp1);
        o[5] = limit(tmp12 - tmp1);
        o[3] = limit(tmp13 + tmp0);
        o[4] = limit(tmp13 - tmp0);
    }
}

/// The odd part (figure 8 of the LL&M paper) of inputs 7, 5, 3, 1.
#[inline(always)]
fn odd(tmp0: i64, tmp1: i64, tmp2: i64, tmp3: i64) -> (i64, i64, i64, i64) {
    let z1 = tmp0 + tmp3;
    let z2 = tmp1 + tmp2;
    let z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    let tmp0 = tmp0 * FIX_0_298631336;
    let tmp1 = tmp1 * FIX_2_053119869;
    let tmp2 = tmp2 * FIX_3_072711026;
    let tmp3 = tmp3 * FIX_1_501321110;
    let z1 = z1 * -FIX_0_899976223;
    let z2 = z2 * -FIX_2_562915447;
    let z3 = z3 * -FIX_1_961570560 + z5;
    let z4 = z4 * -FIX_0_390180644 + z5;
    (
        tmp0 + z1 + z3,
        tmp1 + z2 + z4,
        tmp2 + z2 + z3,
        tmp3 + z1 + z4,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dc_only_block_is_flat_and_the_range_limit_wraps_as_libjpegs() {
        let q = [1u16; 64];
        let mut coef = [0i16; 64];
        let mut out = [0u8; 64];
        // DC 80: pass 1 gives 320, pass 2 (320 + 16) >> 5 = 10 -> 138.
        coef[0] = 80;
        idct_islow(&coef, &q, &mut out, 0, 8);
        assert!(out.iter().all(|&v| v == 138), "{out:?}");
        // Far out of range: 2000 -> (8000 + 16) >> 5 = 250 -> 255, and
        // -5000 wraps: -625 & 1023 = 399 -> 255 (libjpeg's table, not a clamp).
        coef[0] = 2000;
        idct_islow(&coef, &q, &mut out, 0, 8);
        assert_eq!(out[0], 255);
        coef[0] = -5000;
        idct_islow(&coef, &q, &mut out, 0, 8);
        assert_eq!(out[0], 255);
        assert_eq!(RANGE_LIMIT[0], 128);
        assert_eq!(RANGE_LIMIT[1023], 127);
        assert_eq!(RANGE_LIMIT[600], 0);
    }

    #[test]
    fn the_fast_path_computes_what_the_port_does() {
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for round in 0..4000 {
            let mut coef = [0i16; 64];
            let mut q = [0u16; 64];
            // Coefficients of a typical file, then ever wider ones.
            let range = [64, 512, 2048, 40000][round % 4];
            for i in 0..64 {
                if next() % 3 == 0 {
                    coef[i] = ((next() % range) as i64 - range as i64 / 2) as i16;
                }
                q[i] = (1 + next() % [8, 64, 255, 65535][round / 1000]) as u16;
            }
            let (mut fast, mut wide) = ([0u8; 80], [0u8; 80]);
            idct_narrow(&coef, &q, &mut fast, 1, 9);
            idct_islow_wide(&coef, &q, &mut wide, 1, 9);
            assert_eq!(fast, wide, "{coef:?} {q:?}");
        }
    }
}
