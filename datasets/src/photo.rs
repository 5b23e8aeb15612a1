//! A user's photo decoded as PIL decodes it: `Image.open(path).convert("RGB")`,
//! the first step of torchvision's `weights.transforms()` pipelines, within
//! a decode budget.
//!
//! [`to_rgb`] converts whatever the `image` crate decodes as PIL's
//! `convert("RGB")` converts what PIL opens from the same file, byte for
//! byte for PNG (every colour type and bit depth, palettes with and without
//! transparency, 16-bit samples):
//!
//! | decoded as | PIL opens | `convert("RGB")` |
//! |---|---|---|
//! | `L8` (grey of 1 to 8 bits, scaled to 8) | `1` / `L` | the grey replicated |
//! | `La8` (grey + alpha, or grey with a transparent value) | `LA` / `L` | the grey replicated, alpha dropped (no compositing) |
//! | `Rgb8`, `Rgba8` (also expanded palettes) | `RGB` / `RGBA` / `P` | the colour, alpha dropped |
//! | `L16` (16-bit grey PNG) | `I;16` | the value clamped to 0..=255 (not scaled: 256 and above are white) |
//! | `La16` from 16-bit grey + alpha | `RGBA` (`LA;16B`) | the high byte of the grey |
//! | `La16` from 16-bit grey with a transparent value ([`decode_rgb`] reads the PNG header) | `I;16` | the grey clamped to 0..=255 |
//! | `Rgb16`, `Rgba16` | `RGB` / `RGBA` (`RGB;16B`) | the high byte of each channel (truncated, not rounded) |
//! | `Rgb32F`, `Rgba32F` (no PIL mode) | - | `v * 255` as PIL's float-to-`L` conversion: clamped, truncated |
//!
//! JPEG files (starting with the marker `FF D8`) are decoded by
//! [`crate::jpeg`], bit-exact to the libjpeg-turbo PIL bundles (`ISLOW`
//! IDCT, "fancy" upsampling, its YCbCr tables, progressive files with its
//! block smoothing): the pixels are PIL's, grey as `L`, colour as `RGB`;
//! CMYK ones (no `image` colour type holds them) come out as PIL's
//! `convert("RGB")` gives them, an `Rgb8` image. Arithmetic-coded,
//! lossless and 12-bit JPEGs are refused (the first two PIL decodes).
//! PNG decoding is exact.
//!
//! Neither PIL nor this module applies the EXIF orientation. A truncated
//! JPEG, which PIL refuses ("image file is truncated"), is decoded as PIL
//! decodes it with `ImageFile.LOAD_TRUNCATED_IMAGES = True` (the missing
//! part grey, or black where libjpeg gave out nothing) and a warning on
//! stderr, as the image folders do. A 1x1 image is a valid image and
//! decodes.

use std::path::Path;

use image::{DynamicImage, RgbImage};

use crate::DataError;

/// The widest and tallest image [`decode`] accepts, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// The most pixels an image [`decode`] accepts may hold: 2^26, an
/// 8192x8192 image (67 megapixels; as an RGB float tensor 768 MiB).
pub const MAX_IMAGE_PIXELS: u64 = 1 << 26;

/// The most bytes the decoder may allocate at once (the largest image of
/// [`MAX_IMAGE_PIXELS`] with four 16-bit channels is 512 MiB).
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

/// The budget for decoding a user's image, as browsers' image decoders
/// have one: a small file may declare a huge image (a "decompression
/// bomb": 400 KB of PNG for 20,000 x 20,000 pixels) that would exhaust the
/// memory. [`MAX_IMAGE_SIDE`] a side and [`MAX_DECODE_BYTES`] for the
/// decoder; [`decode`] checks [`MAX_IMAGE_PIXELS`] from the header first.
pub fn image_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// The error for an image of `w x h` pixels beyond the budget, naming `path`.
fn too_large(path: &Path, w: u64, h: u64) -> DataError {
    DataError::Image {
        path: path.to_path_buf(),
        reason: format!(
            "an image of {w}x{h} pixels ({}) is larger than an input image may be: at most {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS} pixels (8192x8192)",
            w * h
        ),
    }
}

/// The error for bytes that are not a PNG or JPEG image the decoder reads.
fn unreadable(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Image {
        path: path.to_path_buf(),
        reason: format!("cannot read it as a PNG or JPEG file ({e})"),
    }
}

/// Decodes `bytes` (read from `path`, PNG or JPEG) within the budget of
/// [`image_limits`] and [`MAX_IMAGE_PIXELS`]: the size declared in the
/// header is checked before any pixel is decoded. Errors name `path` and
/// say what was expected; a truncated JPEG is decoded with a warning.
pub fn decode(bytes: &[u8], path: &Path) -> Result<DynamicImage, DataError> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return decode_jpeg(bytes, path);
    }
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| unreadable(path, e))
    };
    // The header alone, its side unchecked here so that the error can say
    // how large the image is (the decoder's memory bounded all the same).
    let mut probe = reader()?;
    let mut header_limits = image_limits();
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    probe.limits(header_limits);
    let (w, h) = probe.into_dimensions().map_err(|e| unreadable(path, e))?;
    let (w, h) = (u64::from(w), u64::from(h));
    if w > u64::from(MAX_IMAGE_SIDE) || h > u64::from(MAX_IMAGE_SIDE) || w * h > MAX_IMAGE_PIXELS {
        return Err(too_large(path, w, h));
    }
    let mut reader = reader()?;
    reader.limits(image_limits());
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(path, w, h),
        e => unreadable(path, e),
    })?;
    crate::folder::warn_if_truncated_jpeg(bytes, path);
    Ok(img)
}

/// [`decode`] of a JPEG file by [`crate::jpeg`]: the header's size checked
/// against the budget first, a truncated file decoded as PIL's
/// `LOAD_TRUNCATED_IMAGES` decodes it (with a warning), CMYK converted to
/// RGB as PIL's `convert("RGB")`.
fn decode_jpeg(bytes: &[u8], path: &Path) -> Result<DynamicImage, DataError> {
    use crate::jpeg::{self, JpegError, Options};
    let failed = |e: JpegError| DataError::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let info = jpeg::read_info(bytes).map_err(failed)?;
    let (w, h) = (u64::from(info.width), u64::from(info.height));
    if w > u64::from(MAX_IMAGE_SIDE) || h > u64::from(MAX_IMAGE_SIDE) || w * h > MAX_IMAGE_PIXELS {
        return Err(too_large(path, w, h));
    }
    let mut options = Options {
        max_decode_bytes: MAX_DECODE_BYTES,
        load_truncated: false,
    };
    let img = match jpeg::decode_with(bytes, &options) {
        Err(JpegError::Truncated { .. }) => {
            eprintln!(
                "warning: {} is a truncated JPEG; decoded as PIL decodes it with LOAD_TRUNCATED_IMAGES (the missing part grey)",
                path.display()
            );
            options.load_truncated = true;
            jpeg::decode_with(bytes, &options)
        }
        r => r,
    };
    let img = img.map_err(|e| match e {
        JpegError::TooLarge { .. } => too_large(path, w, h),
        e => failed(e),
    })?;
    let (width, height) = (img.width, img.height);
    let image = match img.components {
        1 => image::GrayImage::from_raw(width, height, img.pixels).map(DynamicImage::ImageLuma8),
        3 => RgbImage::from_raw(width, height, img.pixels).map(DynamicImage::ImageRgb8),
        _ => RgbImage::from_raw(width, height, img.to_rgb()).map(DynamicImage::ImageRgb8),
    };
    Ok(image.expect("the decoder gives width * height * components bytes"))
}

/// Whether `bytes` are a PNG of 16-bit grey without an alpha channel
/// (colour type 0, bit depth 16): PIL opens it as `I;16` also when it has
/// a transparent value, which the `image` crate decodes as grey + alpha.
fn is_grey16_png(bytes: &[u8]) -> bool {
    // Signature (8), IHDR length and type (8), width, height (8), then
    // bit depth and colour type.
    bytes.len() > 25 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes[24] == 16 && bytes[25] == 0
}

/// `bytes` (a PNG or JPEG file read from `path`) decoded within the budget
/// of [`decode`] and converted to RGB as PIL's
/// `Image.open(path).convert("RGB")` (the table of the module docs).
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    let img = decode(bytes, path)?;
    Ok(convert(img, is_grey16_png(bytes)))
}

/// Reads the PNG or JPEG file `path` as PIL's
/// `Image.open(path).convert("RGB")` does, within the budget of [`decode`]:
/// errors name the file and what was expected.
pub fn open_rgb(path: &Path) -> Result<RgbImage, DataError> {
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    decode_rgb(&bytes, path)
}

/// `img` as PIL's `convert("RGB")` converts what PIL opens from the same
/// file (the table of the module docs): alpha dropped without compositing,
/// grey replicated, 16-bit colour by its high byte, 16-bit grey clamped.
/// A `La16` image is taken for 16-bit grey + alpha ([`decode_rgb`] tells a
/// 16-bit grey PNG with a transparent value apart by its header).
pub fn to_rgb(img: DynamicImage) -> RgbImage {
    convert(img, false)
}

/// [`to_rgb`], with `grey16` when `img` comes from a 16-bit grey PNG
/// (PIL's `I;16`: a grey + alpha image is its transparent value made alpha).
fn convert(img: DynamicImage, grey16: bool) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let from = |grey: &dyn Fn(usize) -> [u8; 3]| {
        let mut out = RgbImage::new(w, h);
        for (i, px) in out.pixels_mut().enumerate() {
            px.0 = grey(i);
        }
        out
    };
    // PIL's `I;16` -> `RGB`: the value, 255 from 256 on.
    let clamp16 = |v: u16| v.min(255) as u8;
    // PIL's `RGB;16B` / `LA;16B` unpackers: the most significant byte.
    let high = |v: u16| (v >> 8) as u8;
    // PIL's `F` -> `L` (f2l): 0 at or below 0, 255 at or above 255, else truncated.
    let float = |v: f32| {
        let v = v * 255.0;
        if v <= 0.0 {
            0
        } else if v >= 255.0 {
            255
        } else {
            v as u8
        }
    };
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(g) => {
            let g = g.as_raw();
            from(&|i| [g[i]; 3])
        }
        DynamicImage::ImageLumaA8(g) => {
            let g = g.as_raw();
            from(&|i| [g[2 * i]; 3])
        }
        DynamicImage::ImageRgba8(c) => {
            let c = c.as_raw();
            from(&|i| [c[4 * i], c[4 * i + 1], c[4 * i + 2]])
        }
        DynamicImage::ImageLuma16(g) => {
            let g = g.as_raw();
            from(&|i| [clamp16(g[i]); 3])
        }
        DynamicImage::ImageLumaA16(g) => {
            let g = g.as_raw();
            if grey16 {
                from(&|i| [clamp16(g[2 * i]); 3])
            } else {
                from(&|i| [high(g[2 * i]); 3])
            }
        }
        DynamicImage::ImageRgb16(c) => {
            let c = c.as_raw();
            from(&|i| [high(c[3 * i]), high(c[3 * i + 1]), high(c[3 * i + 2])])
        }
        DynamicImage::ImageRgba16(c) => {
            let c = c.as_raw();
            from(&|i| [high(c[4 * i]), high(c[4 * i + 1]), high(c[4 * i + 2])])
        }
        DynamicImage::ImageRgb32F(c) => {
            let c = c.as_raw();
            from(&|i| [float(c[3 * i]), float(c[3 * i + 1]), float(c[3 * i + 2])])
        }
        DynamicImage::ImageRgba32F(c) => {
            let c = c.as_raw();
            from(&|i| [float(c[4 * i]), float(c[4 * i + 1]), float(c[4 * i + 2])])
        }
        // A colour type added to `image` after 0.25: its own conversion.
        other => other.to_rgb8(),
    }
}

#[cfg(test)]
mod tests {
    //! The expected pixels are PIL 13.0's, from this script (the PNGs are
    //! written byte by byte, so the same files are built here):
    //!
    //! ```python
    //! import io, struct, zlib, numpy as np
    //! from PIL import Image
    //! def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    //! def png(w, h, depth, ctype, rows, extra=b''):
    //!     raw = b''.join(b'\x00' + r for r in rows)
    //!     return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, 0))
    //!             + extra + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    //! rgb = lambda b: np.array(Image.open(io.BytesIO(b)).convert('RGB'))[0].tolist()
    //! g = [0, 255, 256, 4660, 65535]
    //! print(rgb(png(5, 1, 16, 0, [struct.pack('>5H', *g)])))
    //! # [[0, 0, 0], [255, 255, 255], [255, 255, 255], [255, 255, 255], [255, 255, 255]]
    //! print(rgb(png(5, 1, 16, 0, [struct.pack('>5H', *g)], chunk(b'tRNS', struct.pack('>H', 255)))))
    //! # the same
    //! print(rgb(png(2, 1, 16, 4, [struct.pack('>4H', 0x12ff, 9, 0x0280, 65535)])))
    //! # [[18, 18, 18], [2, 2, 2]]
    //! print(rgb(png(2, 1, 16, 2, [struct.pack('>6H', 0x12ff, 0x1280, 0x00ff, 65535, 256, 255)])))
    //! # [[18, 18, 0], [255, 1, 0]]
    //! print(rgb(png(2, 1, 8, 4, [bytes([10, 0, 200, 255])])))
    //! # [[10, 10, 10], [200, 200, 200]]
    //! print(rgb(png(2, 1, 8, 6, [bytes([1, 2, 3, 0, 250, 251, 252, 7])])))
    //! # [[1, 2, 3], [250, 251, 252]]
    //! print(rgb(png(4, 1, 2, 0, [bytes([0b00011011])])))
    //! # [[0, 0, 0], [85, 85, 85], [170, 170, 170], [255, 255, 255]]
    //! plte = chunk(b'PLTE', bytes([9, 8, 7, 200, 100, 50]))
    //! print(rgb(png(3, 1, 8, 3, [bytes([1, 0, 1])], plte + chunk(b'tRNS', bytes([0, 128])))))
    //! # [[200, 100, 50], [9, 8, 7], [200, 100, 50]]
    //! f = np.array([[-0.5, 0, 0.5, 1, 2, 0.999]], np.float32) * np.float32(255)
    //! print(np.array(Image.fromarray(f).convert('L')))  # PIL's F -> L
    //! # [[  0   0 127 255 255 254]]
    //! ```
    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    fn chunk(png: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    /// A PNG of one row, uncompressed (zlib stored block), with `extra`
    /// chunks (PLTE, tRNS) before the data.
    fn png(w: u32, depth: u8, colour: u8, row: &[u8], extra: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&1u32.to_be_bytes());
        ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        for (kind, data) in extra {
            chunk(&mut png, kind, data);
        }
        let raw = [&[0u8][..], row].concat();
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
        z.extend_from_slice(&raw);
        z.extend_from_slice(&((b << 16) | a).to_be_bytes());
        chunk(&mut png, b"IDAT", &z);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    fn be16(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    fn rgb(bytes: &[u8]) -> Vec<[u8; 3]> {
        decode_rgb(bytes, Path::new("test.png"))
            .unwrap()
            .pixels()
            .map(|p| p.0)
            .collect()
    }

    #[test]
    fn sixteen_bit_grey_is_clamped_as_pils_i16() {
        let g = be16(&[0, 255, 256, 4660, 65535]);
        let want = [[0; 3], [255; 3], [255; 3], [255; 3], [255; 3]];
        assert_eq!(rgb(&png(5, 16, 0, &g, &[])), want);
        // A transparent value: decoded as grey + alpha, still PIL's I;16.
        let trns: &[(&[u8], Vec<u8>)] = &[(b"tRNS", be16(&[255]))];
        let img = decode(&png(5, 16, 0, &g, trns), Path::new("t.png")).unwrap();
        assert!(matches!(img, DynamicImage::ImageLumaA16(_)));
        assert_eq!(rgb(&png(5, 16, 0, &g, trns)), want);
    }

    #[test]
    fn sixteen_bit_colour_keeps_the_high_byte() {
        let la = be16(&[0x12ff, 9, 0x0280, 65535]);
        assert_eq!(rgb(&png(2, 16, 4, &la, &[])), [[18; 3], [2; 3]]);
        let c = be16(&[0x12ff, 0x1280, 0x00ff, 65535, 256, 255]);
        assert_eq!(rgb(&png(2, 16, 2, &c, &[])), [[18, 18, 0], [255, 1, 0]]);
    }

    #[test]
    fn alpha_is_dropped_and_grey_replicated() {
        let la = [10, 0, 200, 255];
        assert_eq!(rgb(&png(2, 8, 4, &la, &[])), [[10; 3], [200; 3]]);
        let rgba = [1, 2, 3, 0, 250, 251, 252, 7];
        assert_eq!(rgb(&png(2, 8, 6, &rgba, &[])), [[1, 2, 3], [250, 251, 252]]);
        assert_eq!(
            rgb(&png(4, 2, 0, &[0b0001_1011], &[])),
            [[0; 3], [85; 3], [170; 3], [255; 3]]
        );
        let palette: &[(&[u8], Vec<u8>)] = &[
            (b"PLTE", vec![9, 8, 7, 200, 100, 50]),
            (b"tRNS", vec![0, 128]),
        ];
        assert_eq!(
            rgb(&png(3, 8, 3, &[1, 0, 1], palette)),
            [[200, 100, 50], [9, 8, 7], [200, 100, 50]]
        );
    }

    #[test]
    fn float_images_are_scaled_clamped_and_truncated() {
        let img =
            image::Rgb32FImage::from_raw(2, 1, vec![-0.5, 0.0, 0.5, 1.0, 2.0, 0.999]).unwrap();
        let out = to_rgb(DynamicImage::ImageRgb32F(img));
        // 0.5 * 255 = 127.5 -> 127; 0.999 * 255 = 254.745 -> 254.
        assert_eq!(out.as_raw(), &[0, 0, 127, 255, 255, 254]);
    }

    #[test]
    fn a_one_pixel_image_decodes() {
        assert_eq!(rgb(&png(1, 8, 0, &[77], &[])), [[77; 3]]);
    }

    #[test]
    fn errors_name_the_file_and_what_was_expected() {
        let err = decode_rgb(b"hello", Path::new("/tmp/notes.png"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/tmp/notes.png") && err.contains("cannot read it as a PNG or JPEG"),
            "{err}"
        );
        let err = open_rgb(Path::new("/nonexistent/cat.jpg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/cat.jpg"), "{err}");
        // A header declaring 20,000 x 20,000 pixels is refused before decoding.
        let mut big = png(1, 8, 0, &[0], &[]);
        big[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        big[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&big[12..29]);
        big[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_rgb(&big, Path::new("bomb.png"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb.png") && err.contains("20000x20000") && err.contains("16384"),
            "{err}"
        );
    }
}
