//! Block smoothing of progressive JPEGs: libjpeg-turbo's
//! `decompress_smooth_data` (`jdcoefct.c`), on by default
//! (`do_block_smoothing`). Where the scans left some of the first nine AC
//! coefficients of a component inexact (`coef_bits` not 0: never sent, or
//! sent without their last bits), it estimates those still zero from the
//! DC values of the 5x5 neighbouring blocks before the IDCT. A progressive
//! file whose scans refine every coefficient to the last bit, as encoders
//! write them, is left as it is (libjpeg's `smoothing_ok` says no).
//!
//! The port keeps libjpeg's quirks: the row arithmetic of the last iMCU
//! row (`image_block_row` computed with that row's shorter block count),
//! the DC values of the dummy blocks padding the last MCU row, and the
//! coefficient state of the scan before the last for the iMCU rows after
//! the last one the last scan decoded with data.

use super::idct::idct_islow;

/// The coefficient state `smoothing_ok` latches for one component: for
/// coefficients 0..10 the number of low bits still unknown (0: exact, -1:
/// never sent), now and before the last scan.
pub(super) struct Latch {
    pub now: [i32; 10],
    pub before: [i32; 10],
}

/// One component's blocks and geometry.
pub(super) struct Blocks<'a> {
    /// The coefficients, `bw` blocks a row, rows padded to whole MCUs.
    pub coefs: &'a [[i16; 64]],
    pub bw: usize,
    /// The blocks of the image (without the padding).
    pub wib: usize,
    pub hib: usize,
    /// The vertical sampling factor (block rows per iMCU row).
    pub v: usize,
}

/// The prediction `pred` of one coefficient from `num`, its quantizer `q`
/// and its unknown bits `al`, as libjpeg rounds and clamps it.
#[inline]
fn predict(num: i64, q: i64, al: i32) -> i16 {
    let clamp = |p: i32| {
        if al > 0 && p >= 1 << al {
            (1 << al) - 1
        } else {
            p
        }
    };
    let pred = if num >= 0 {
        clamp((((q << 7) + num) / (q << 8)) as i32)
    } else {
        clamp((((q << 7) - num) / (q << 8)) as i32).wrapping_neg()
    };
    pred as i16
}

/// Writes the samples of component `b` into `plane` (rows `stride` apart),
/// smoothing as `decompress_smooth_data` does with the quantizers `q`, the
/// coefficient state `latch`, `total_imcu_rows` iMCU rows and the last
/// iMCU row the last scan decoded with data, `last_good`.
pub(super) fn idct_smoothed(
    b: &Blocks,
    q: &[u16; 64],
    latch: &Latch,
    total_imcu_rows: usize,
    last_good: usize,
    plane: &mut [u8],
    stride: usize,
) {
    let qv = |i: usize| i64::from(q[i]);
    let (q00, q01, q10, q20, q11, q02) = (qv(0), qv(1), qv(8), qv(16), qv(9), qv(2));
    let (q03, q12, q21, q30) = (qv(3), qv(10), qv(17), qv(24));
    let last_imcu_row = total_imcu_rows - 1;
    let dc = |row: usize, col: usize| i32::from(b.coefs[row * b.bw + col][0]);
    for imcu_row in 0..total_imcu_rows {
        let block_rows = if imcu_row < last_imcu_row {
            b.v
        } else {
            match b.hib % b.v {
                0 => b.v,
                n => n,
            }
        };
        let bits = if imcu_row > last_good {
            &latch.before
        } else {
            &latch.now
        };
        let change_dc = bits[1..10].iter().all(|&x| x == -1);
        let image_block_rows = (block_rows * total_imcu_rows) as isize;
        for block_row in 0..block_rows {
            let row = imcu_row * b.v + block_row;
            let image_block_row = (imcu_row * block_rows + block_row) as isize;
            let prev = if image_block_row > 0 { row - 1 } else { row };
            let prev_prev = if image_block_row > 1 { row - 2 } else { prev };
            let next = if image_block_row < image_block_rows - 1 {
                row + 1
            } else {
                row
            };
            let next_next = if image_block_row < image_block_rows - 2 {
                row + 2
            } else {
                next
            };
            let rows = [prev_prev, prev, row, next, next_next];
            // DC[r][c]: the 5x5 window, r = row above-above .. below-below,
            // c = column -2 ..= +2 (libjpeg's DC01..DC25, row-major).
            let mut d = [[0i32; 5]; 5];
            for (r, &src) in rows.iter().enumerate() {
                d[r] = [dc(src, 0); 5];
            }
            let last_block_column = b.wib as isize - 1;
            for block_num in 0..b.wib {
                let mut ws = b.coefs[row * b.bw + block_num];
                let bn = block_num as isize;
                if block_num == 0 && bn < last_block_column {
                    for (r, &src) in rows.iter().enumerate() {
                        d[r][3] = dc(src, 1);
                        d[r][4] = dc(src, 1);
                    }
                }
                if bn + 1 < last_block_column {
                    for (r, &src) in rows.iter().enumerate() {
                        d[r][4] = dc(src, block_num + 2);
                    }
                }
                smooth_block(
                    &mut ws,
                    &d,
                    bits,
                    change_dc,
                    [q00, q01, q10, q20, q11, q02, q03, q12, q21, q30],
                );
                idct_islow(&ws, q, plane, row * 8 * stride + block_num * 8, stride);
                for r in &mut d {
                    r.copy_within(1..5, 0);
                }
            }
        }
    }
}

/// The estimates of one block `ws` from the DC window `d` (`d[r][c]` is
/// libjpeg's `DC(5r + c + 1)`), the unknown bits `bits`, and the
/// quantizers Q00, Q01, Q10, Q20, Q11, Q02, Q03, Q12, Q21, Q30.
fn smooth_block(
    ws: &mut [i16; 64],
    d: &[[i32; 5]; 5],
    bits: &[i32; 10],
    change_dc: bool,
    q: [i64; 10],
) {
    let [q00, q01, q10, q20, q11, q02, q03, q12, q21, q30] = q;
    let dc = |n: usize| i64::from(d[(n - 1) / 5][(n - 1) % 5]);
    let (dc01, dc02, dc03, dc04, dc05) = (dc(1), dc(2), dc(3), dc(4), dc(5));
    let (dc06, dc07, dc08, dc09, dc10) = (dc(6), dc(7), dc(8), dc(9), dc(10));
    let (dc11, dc12, dc13, dc14, dc15) = (dc(11), dc(12), dc(13), dc(14), dc(15));
    let (dc16, dc17, dc18, dc19, dc20) = (dc(16), dc(17), dc(18), dc(19), dc(20));
    let (dc21, dc22, dc23, dc24, dc25) = (dc(21), dc(22), dc(23), dc(24), dc(25));
    // AC01
    if bits[1] != 0 && ws[1] == 0 {
        let num = q00
            * if change_dc {
                -dc01 - dc02 + dc04 + dc05 - 3 * dc06 + 13 * dc07 - 13 * dc09 + 3 * dc10 - 3 * dc11
                    + 38 * dc12
                    - 38 * dc14
                    + 3 * dc15
                    - 3 * dc16
                    + 13 * dc17
                    - 13 * dc19
                    + 3 * dc20
                    - dc21
                    - dc22
                    + dc24
                    + dc25
            } else {
                -7 * dc11 + 50 * dc12 - 50 * dc14 + 7 * dc15
            };
        ws[1] = predict(num, q01, bits[1]);
    }
    // AC10
    if bits[2] != 0 && ws[8] == 0 {
        let num = q00
            * if change_dc {
                -dc01 - 3 * dc02 - 3 * dc03 - 3 * dc04 - dc05 - dc06
                    + 13 * dc07
                    + 38 * dc08
                    + 13 * dc09
                    - dc10
                    + dc16
                    - 13 * dc17
                    - 38 * dc18
                    - 13 * dc19
                    + dc20
                    + dc21
                    + 3 * dc22
                    + 3 * dc23
                    + 3 * dc24
                    + dc25
            } else {
                -7 * dc03 + 50 * dc08 - 50 * dc18 + 7 * dc23
            };
        ws[8] = predict(num, q10, bits[2]);
    }
    // AC20
    if bits[3] != 0 && ws[16] == 0 {
        let num = q00
            * if change_dc {
                dc03 + 2 * dc07 + 7 * dc08 + 2 * dc09 - 5 * dc12 - 14 * dc13 - 5 * dc14
                    + 2 * dc17
                    + 7 * dc18
                    + 2 * dc19
                    + dc23
            } else {
                -dc03 + 13 * dc08 - 24 * dc13 + 13 * dc18 - dc23
            };
        ws[16] = predict(num, q20, bits[3]);
    }
    // AC11
    if bits[4] != 0 && ws[9] == 0 {
        let num = q00
            * if change_dc {
                -dc01 + dc05 + 9 * dc07 - 9 * dc09 - 9 * dc17 + 9 * dc19 + dc21 - dc25
            } else {
                dc10 + dc16 - 10 * dc17 + 10 * dc19 - dc02 - dc20 + dc22 - dc24 + dc04 - dc06
                    + 10 * dc07
                    - 10 * dc09
            };
        ws[9] = predict(num, q11, bits[4]);
    }
    // AC02
    if bits[5] != 0 && ws[2] == 0 {
        let num = q00
            * if change_dc {
                2 * dc07 - 5 * dc08 + 2 * dc09 + dc11 + 7 * dc12 - 14 * dc13
                    + 7 * dc14
                    + dc15
                    + 2 * dc17
                    - 5 * dc18
                    + 2 * dc19
            } else {
                -dc11 + 13 * dc12 - 24 * dc13 + 13 * dc14 - dc15
            };
        ws[2] = predict(num, q02, bits[5]);
    }
    if change_dc {
        // AC03
        if bits[6] != 0 && ws[3] == 0 {
            let num = q00 * (dc07 - dc09 + 2 * dc12 - 2 * dc14 + dc17 - dc19);
            ws[3] = predict(num, q03, bits[6]);
        }
        // AC12
        if bits[7] != 0 && ws[10] == 0 {
            let num = q00 * (dc07 - 3 * dc08 + dc09 - dc17 + 3 * dc18 - dc19);
            ws[10] = predict(num, q12, bits[7]);
        }
        // AC21
        if bits[8] != 0 && ws[17] == 0 {
            let num = q00 * (dc07 - dc09 - 3 * dc12 + 3 * dc14 + dc17 - dc19);
            ws[17] = predict(num, q21, bits[8]);
        }
        // AC30
        if bits[9] != 0 && ws[24] == 0 {
            let num = q00 * (dc07 + 2 * dc08 + dc09 - dc17 - 2 * dc18 - dc19);
            ws[24] = predict(num, q30, bits[9]);
        }
        // The DC itself, from the Gaussian-like kernel (never clamped).
        let num = q00
            * (-2 * dc01 - 6 * dc02 - 8 * dc03 - 6 * dc04 - 2 * dc05 - 6 * dc06
                + 6 * dc07
                + 42 * dc08
                + 6 * dc09
                - 6 * dc10
                - 8 * dc11
                + 42 * dc12
                + 152 * dc13
                + 42 * dc14
                - 8 * dc15
                - 6 * dc16
                + 6 * dc17
                + 42 * dc18
                + 6 * dc19
                - 6 * dc20
                - 2 * dc21
                - 6 * dc22
                - 8 * dc23
                - 6 * dc24
                - 2 * dc25);
        ws[0] = predict(num, q00, 0);
    }
}
