//! From component planes to pixels: libjpeg-turbo's upsampling
//! (`jdsample.c`, with `do_fancy_upsampling` on, its default) and colour
//! conversion (`jdcolor.c`), as PIL asks for them (`JCS_RGB` for three
//! components, `JCS_GRAYSCALE` for one, `JCS_CMYK` for four), then PIL's
//! unpacking (`CMYK;I`: four-component pixels inverted).
//!
//! `jinit_upsampler` picks, per component, from the ratio of the largest
//! sampling factors to the component's: 1x1 full size; 2x1 "fancy"
//! (triangle filter) when the component is more than 2 samples wide, else
//! box; 1x2 fancy (libjpeg-turbo 2.1+ `h1v2_fancy_upsample`); 2x2 fancy
//! when more than 2 samples wide, else box; any other integral ratio box
//! (`int_upsample`). The merged upsampler (`jdmerge.c`) is used only
//! without fancy upsampling, so never here. The fancy filters take the
//! rows above and below a component's first and last rows to be those rows
//! themselves (`jdmainct.c`'s context rows), and its columns likewise.

use super::JpegError;

/// How one component is brought to full size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Upsample {
    /// Already full size.
    Full,
    /// `h2v1_fancy_upsample`.
    H2V1Fancy,
    /// `h1v2_fancy_upsample`.
    H1V2Fancy,
    /// `h2v2_fancy_upsample`.
    H2V2Fancy,
    /// Box filter (`h2v1_upsample`, `h2v2_upsample`, `int_upsample`):
    /// each sample repeated `h` times across and `v` times down.
    Box { h: usize, v: usize },
}

impl Upsample {
    /// `jinit_upsampler`'s choice for a component of sampling factors
    /// `h`x`v` and `dw` samples across, the largest factors being
    /// `max_h`x`max_v`; an error for a ratio that is not whole.
    pub fn choose(
        h: usize,
        v: usize,
        max_h: usize,
        max_v: usize,
        dw: usize,
    ) -> Result<Self, JpegError> {
        Ok(if h == max_h && v == max_v {
            Upsample::Full
        } else if h * 2 == max_h && v == max_v {
            if dw > 2 {
                Upsample::H2V1Fancy
            } else {
                Upsample::Box { h: 2, v: 1 }
            }
        } else if h == max_h && v * 2 == max_v {
            Upsample::H1V2Fancy
        } else if h * 2 == max_h && v * 2 == max_v {
            if dw > 2 {
                Upsample::H2V2Fancy
            } else {
                Upsample::Box { h: 2, v: 2 }
            }
        } else if max_h.is_multiple_of(h) && max_v.is_multiple_of(v) {
            Upsample::Box {
                h: max_h / h,
                v: max_v / v,
            }
        } else {
            return Err(JpegError::Unsupported(format!(
                "sampling factors {h}x{v} against the largest {max_h}x{max_v}: a ratio that is not whole, which libjpeg does not decode (\"fractional sampling not implemented yet\")"
            )));
        })
    }
}

/// One decoded component: its samples and how to upsample them.
pub(super) struct Plane {
    pub samples: Vec<u8>,
    pub stride: usize,
    /// `downsampled_width` and `downsampled_height`: the samples that hold
    /// image data.
    pub dw: usize,
    pub dh: usize,
    pub up: Upsample,
}

impl Plane {
    fn row(&self, y: usize) -> &[u8] {
        &self.samples[y * self.stride..y * self.stride + self.dw]
    }

    /// Output row `y` of this component at full size, `width` samples,
    /// into `out` (or borrowed from the plane when already full size).
    fn upsample<'s>(&'s self, y: usize, width: usize, out: &'s mut [u8]) -> &'s [u8] {
        let dw = self.dw;
        match self.up {
            Upsample::Full => return &self.row(y)[..width],
            Upsample::H2V1Fancy => {
                let r = self.row(y);
                for i in 0..dw {
                    let cur = 3 * u32::from(r[i]);
                    let left = u32::from(r[i.saturating_sub(1)]);
                    let right = u32::from(r[(i + 1).min(dw - 1)]);
                    out[2 * i] = ((cur + left + 1) >> 2) as u8;
                    out[2 * i + 1] = ((cur + right + 2) >> 2) as u8;
                }
            }
            Upsample::H1V2Fancy => {
                let (near, far, bias) = self.vertical(y);
                for x in 0..width {
                    out[x] = ((3 * u32::from(near[x]) + u32::from(far[x]) + bias) >> 2) as u8;
                }
            }
            Upsample::H2V2Fancy => {
                let (near, far, _) = self.vertical(y);
                let sum = |(&n, &f): (&u8, &u8)| 3 * u32::from(n) + u32::from(f);
                let mut sums = near.iter().zip(far).map(sum);
                let mut this = sums.next().unwrap_or(0);
                let mut last = this;
                for pair in out[..2 * dw].chunks_exact_mut(2) {
                    let next = sums.next().unwrap_or(this);
                    pair[0] = ((3 * this + last + 8) >> 4) as u8;
                    pair[1] = ((3 * this + next + 7) >> 4) as u8;
                    last = this;
                    this = next;
                }
            }
            Upsample::Box { h, v } => {
                let r = self.row(y / v);
                for (x, o) in out[..width].iter_mut().enumerate() {
                    *o = r[x / h];
                }
            }
        }
        &out[..width]
    }

    /// For output row `y` of a 2:1 vertical filter: the nearer input row,
    /// the next nearer (above for even `y`, below for odd, the edge rows
    /// standing in for rows past the edges), and the rounding bias of the
    /// 1x2 filter.
    fn vertical(&self, y: usize) -> (&[u8], &[u8], u32) {
        let r = y / 2;
        if y.is_multiple_of(2) {
            (self.row(r), self.row(r.saturating_sub(1)), 1)
        } else {
            (self.row(r), self.row((r + 1).min(self.dh - 1)), 2)
        }
    }
}

/// The colour transform of the file's components (libjpeg's
/// `jpeg_color_space`, from `default_decompress_parms`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Color {
    Grey,
    YCbCr,
    Rgb,
    Cmyk,
    Ycck,
}

/// `build_ycc_rgb_table`: Cr to R, Cb to B (rounded), and Cr, Cb to G
/// (scaled by 2^16, Cb's with the rounding half).
struct Tables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

impl Tables {
    fn new() -> Self {
        const SCALEBITS: u32 = 16;
        const ONE_HALF: i64 = 1 << (SCALEBITS - 1);
        let fix = |x: f64| (x * f64::from(1u32 << SCALEBITS) + 0.5) as i64;
        let mut t = Tables {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256 {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        }
        t
    }

    /// `ycc_rgb_convert` of one sample: R, G, B before the range limit.
    #[inline(always)]
    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [i32; 3] {
        let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
        [
            y + self.cr_r[cr],
            y + ((self.cb_g[cb] + self.cr_g[cr]) >> 16) as i32,
            y + self.cb_b[cb],
        ]
    }
}

/// [`Tables::rgb`] computed instead of looked up (the tables hold these
/// very values: `FIX(1.40200) = 91881`, `FIX(1.77200) = 116130`,
/// `FIX(0.71414) = 46802`, `FIX(0.34414) = 22554`), which vectorizes.
#[inline(always)]
fn ycc_rgb(y: u8, cb: u8, cr: u8) -> [i32; 3] {
    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
    [
        y + ((91881 * cr + 32768) >> 16),
        y + ((-22554 * cb - 46802 * cr + 32768) >> 16),
        y + ((116130 * cb + 32768) >> 16),
    ]
}

/// `range_limit` of a colour-converted value.
#[inline(always)]
fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// The pixels PIL gives for these `planes` (in component order) of an
/// image `width`x`height` in colour space `color`: grey, RGB, or CMYK
/// inverted (PIL's `CMYK;I`).
pub(super) fn pixels(planes: &[Plane], color: Color, width: usize, height: usize) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { pixels_avx2(planes, color, width, height) };
    }
    pixels_body(planes, color, width, height)
}

/// [`pixels`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pixels_avx2(planes: &[Plane], color: Color, width: usize, height: usize) -> Vec<u8> {
    pixels_body(planes, color, width, height)
}

#[inline(always)]
fn pixels_body(planes: &[Plane], color: Color, width: usize, height: usize) -> Vec<u8> {
    let nc = planes.len();
    let mut out = vec![0u8; width * height * nc];
    let tables = (color == Color::Ycck).then(Tables::new);
    // Room for one upsampled row per component (fancy filters write
    // 2 * dw samples, which may exceed the width by one).
    let mut bufs: Vec<Vec<u8>> = planes
        .iter()
        .map(|p| vec![0u8; (width + 8).max(2 * p.dw + 2)])
        .collect();
    for y in 0..height {
        let mut rows: [&[u8]; 4] = [&[]; 4];
        for ((p, buf), row) in planes.iter().zip(bufs.iter_mut()).zip(rows.iter_mut()) {
            *row = p.upsample(y, width, buf);
        }
        let o = &mut out[y * width * nc..(y + 1) * width * nc];
        match (color, &tables) {
            (Color::YCbCr, _) => {
                let ycc = rows[0].iter().zip(rows[1]).zip(rows[2]);
                for (px, ((&y, &cb), &cr)) in o.chunks_exact_mut(3).zip(ycc) {
                    let [r, g, b] = ycc_rgb(y, cb, cr);
                    px[0] = clamp(r);
                    px[1] = clamp(g);
                    px[2] = clamp(b);
                }
            }
            (Color::Ycck, Some(t)) => {
                for (x, px) in o.chunks_exact_mut(4).enumerate() {
                    let [r, g, b] = t.rgb(rows[0][x], rows[1][x], rows[2][x]);
                    // ycck_cmyk_convert: 255 - each, then PIL's inversion.
                    px[0] = !clamp(255 - r);
                    px[1] = !clamp(255 - g);
                    px[2] = !clamp(255 - b);
                    px[3] = !rows[3][x];
                }
            }
            (Color::Cmyk, _) => {
                for (x, px) in o.chunks_exact_mut(4).enumerate() {
                    for (c, v) in px.iter_mut().enumerate() {
                        *v = !rows[c][x];
                    }
                }
            }
            _ => {
                for (x, px) in o.chunks_exact_mut(nc).enumerate() {
                    for (c, v) in px.iter_mut().enumerate() {
                        *v = rows[c][x];
                    }
                }
            }
        }
    }
    out
}

/// PIL's `convert("RGB")` of CMYK pixels (`cmyk2rgb` in `Convert.c`):
/// `nk = 255 - K`, each of R, G, B `nk - C * nk / 255` (rounded as
/// `MULDIV255`).
pub(super) fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let nk = 255 - i32::from(px[3]);
        for &c in &px[..3] {
            out.push((nk - muldiv255(i32::from(c), nk)).clamp(0, 255) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ycc_tables_are_libjpegs() {
        let t = Tables::new();
        // FIX(1.402) = 91881, FIX(1.772) = 116130, FIX(0.71414) = 46802,
        // FIX(0.34414) = 22554.
        assert_eq!(t.cr_r[255], (91881 * 127 + 32768) >> 16);
        assert_eq!(t.cb_b[0], (-116130 * 128 + 32768) >> 16);
        assert_eq!(t.cr_g[0], 46802 * 128);
        assert_eq!(t.cb_g[255], -22554 * 127 + 32768);
        assert_eq!(t.rgb(128, 128, 128), [128, 128, 128]);
        for y in [0, 77, 255] {
            for cb in 0..=255 {
                for cr in 0..=255 {
                    assert_eq!(ycc_rgb(y, cb, cr), t.rgb(y, cb, cr), "{y} {cb} {cr}");
                }
            }
        }
    }

    #[test]
    fn fancy_upsampling_rounds_as_libjpeg() {
        let plane = Plane {
            samples: vec![10, 20, 40, 0, 0, 0, 0, 0, 30, 30, 30, 0, 0, 0, 0, 0],
            stride: 8,
            dw: 3,
            dh: 2,
            up: Upsample::H2V1Fancy,
        };
        let mut buf = [0u8; 8];
        // 10 | (30+20+2)/4=13 | (60+10+1)/4=17 | (60+40+2)/4=25 | (120+20+1)/4=35 | 40
        assert_eq!(plane.upsample(0, 6, &mut buf), &[10, 13, 17, 25, 35, 40]);
        let plane = Plane {
            up: Upsample::H2V2Fancy,
            ..plane
        };
        // Row 0: the row above is row 0 itself: column sums 40, 80, 160.
        // (4*40+8)/16=10, (120+80+7)/16=12, (240+40+8)/16=18, (240+160+7)/16=25, ...
        assert_eq!(plane.upsample(0, 6, &mut buf), &[10, 12, 18, 25, 35, 40]);
        assert_eq!(
            Upsample::choose(1, 1, 2, 2, 2).unwrap(),
            Upsample::Box { h: 2, v: 2 }
        );
        assert_eq!(
            Upsample::choose(1, 1, 1, 2, 1).unwrap(),
            Upsample::H1V2Fancy
        );
        assert!(Upsample::choose(2, 1, 3, 1, 9).is_err());
    }

    #[test]
    fn cmyk_converts_as_pils_cmyk2rgb() {
        // nk = 255 - 55 = 200; 200 - (100 * 200 + 128) / 255 (~78) = 122.
        assert_eq!(cmyk_to_rgb(&[100, 0, 255, 55]), vec![122, 200, 0]);
    }
}
