//! A JPEG decoder bit-exact to PIL's: `Image.open(f)` as PIL 13 decodes it
//! with the libjpeg-turbo it bundles (3.2.0) at its default settings, in
//! pure Rust.
//!
//! What PIL gives, byte for byte:
//!
//! - baseline and extended sequential Huffman files (8-bit), one
//!   interleaved scan or several, with restart intervals (`DRI` / `RSTn`);
//! - progressive Huffman files: spectral selection and successive
//!   approximation, DC and AC, first and refinement scans (`jdphuff.c`),
//!   with libjpeg's block smoothing (`decompress_smooth_data`, on by
//!   default), which changes the output only where the scans leave some of
//!   the first nine AC coefficients inexact: a file whose scan script
//!   stops early, never one that refines every coefficient to its last bit;
//! - the `ISLOW` integer IDCT (`jidctint.c`) and its range limiting;
//! - any sampling factors libjpeg accepts (1 to 4, whole ratios to the
//!   largest): "fancy" triangle upsampling for 2x1, 1x2 and 2x2 ratios,
//!   box filtering for the others and for components at most 2 samples
//!   wide (`jdsample.c`);
//! - the colour transform libjpeg infers (`default_decompress_parms`: JFIF
//!   or Adobe markers, then component ids) and its YCbCr -> RGB tables
//!   (`jdcolor.c`); YCCK -> CMYK;
//! - the mode PIL gives from the number of components: `L` (1), `RGB`
//!   (3), `CMYK` (4, PIL's `CMYK;I`: every value inverted, as Adobe files
//!   store it, with or without an Adobe marker); [`JpegImage::to_rgb`] is
//!   PIL's `convert("RGB")`;
//! - libjpeg's answer to corrupt data that it only warns about (PIL
//!   ignores the warnings): compressed data cut short by a marker reads as
//!   zero bits, and the rest of the restart interval as zero blocks;
//!   restart markers out of sequence are resynchronised as
//!   `jpeg_resync_to_restart` does; garbage between markers is skipped.
//!
//! Refused, each with an error that says why ([`JpegError`]):
//!
//! - a file that ends before its data does ([`JpegError::Truncated`]):
//!   PIL raises "image file is truncated". [`decode_with`] and
//!   [`Options::load_truncated`] give instead what PIL gives with
//!   `ImageFile.LOAD_TRUNCATED_IMAGES = True`, which appends an end marker
//!   (`FF D9`) to the data: the rest of the scan reads as zero bits, then
//!   grey; and which silences the errors met once the file is open: a
//!   multi-scan image whose data then breaks (cut inside a table between
//!   scans, say) comes out all zero, as the rows libjpeg never gave out.
//! - arithmetic-coded files (`SOF9`, `SOF10`; PIL's libjpeg-turbo decodes
//!   them, built with its default `WITH_ARITH_DEC`), lossless (`SOF3`) and
//!   hierarchical ones (`SOF5`-`SOF7`, `SOF13`-`SOF15`): not decoded here.
//! - samples of 12 or 16 bits (PIL: "cannot handle 12-bit layers"), 2 or
//!   more than 4 components (PIL: "cannot handle 2-layer images"), sides
//!   beyond 65,500 (libjpeg's limit), sampling ratios that are not whole
//!   (libjpeg: "fractional sampling not implemented yet"), and images
//!   whose decoding would allocate more than [`Options::max_decode_bytes`],
//!   checked from the header before anything is allocated.
//!
//! Where PIL may differ: on corrupt data that libjpeg's SIMD code computes
//! in 16 bits (coefficients times quantizers beyond 16 bits); on a
//! single-scan file that ends without an end marker, which libjpeg refuses
//! or not depending on where its input buffer stood (here: refused when
//! the decoder reads past the end, accepted when the scan's data is
//! complete); and, with `load_truncated`, on a file broken before its
//! first scan in a way PIL's own header parser lets through (refused
//! here; PIL may give an all-zero image).

mod entropy;
mod idct;
mod output;
mod smooth;

use entropy::{Derived, HuffTable, Input, NATURAL_ORDER, ScanState};
use output::{Color, Plane, Upsample};

/// A decoded JPEG image: the pixels PIL's `Image.open(f)` holds, row by
/// row, `components` bytes a pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JpegImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes a pixel: 1 (PIL mode `L`), 3 (`RGB`) or 4 (`CMYK`, inverted
    /// as PIL's `CMYK;I` unpacks it).
    pub components: u8,
    /// `width * height * components` bytes.
    pub pixels: Vec<u8>,
}

impl JpegImage {
    /// The pixels as PIL's `convert("RGB")` gives them: grey replicated,
    /// RGB as it is, CMYK by PIL's `cmyk2rgb` (`R = 255 - K - C * (255 - K)
    /// / 255`, rounded as PIL rounds).
    pub fn to_rgb(&self) -> Vec<u8> {
        match self.components {
            1 => self.pixels.iter().flat_map(|&g| [g; 3]).collect(),
            4 => output::cmyk_to_rgb(&self.pixels),
            _ => self.pixels.clone(),
        }
    }
}

/// What a JPEG header says ([`read_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JpegInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Number of components (1, 3 or 4).
    pub components: u8,
    /// Whether the frame is progressive (`SOF2`).
    pub progressive: bool,
    /// An upper bound of the bytes [`decode`] allocates for this image.
    pub decode_bytes: u64,
}

/// Why a JPEG file could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// The bytes do not start with a JPEG start-of-image marker.
    #[error("not a JPEG file: it does not start with the bytes FF D8 FF (a start-of-image marker)")]
    NotJpeg,
    /// The data ends before the image does.
    #[error(
        "truncated JPEG file: the data ends at byte {offset}, {what} (PIL refuses it: \"image file is truncated\")"
    )]
    Truncated {
        /// The length of the data.
        offset: usize,
        /// What was being read.
        what: String,
    },
    /// The data breaks the format.
    #[error("corrupt JPEG data at byte {offset}: {what}")]
    Corrupt {
        /// Where the decoder was reading.
        offset: usize,
        /// What was wrong.
        what: String,
    },
    /// A valid file of a kind this decoder does not decode.
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    /// The header declares an image larger than the budget.
    #[error(
        "a JPEG image of {width}x{height} pixels would take {bytes} bytes to decode, more than the limit of {limit}"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Bytes the decoding would allocate.
        bytes: u64,
        /// The limit ([`Options::max_decode_bytes`]).
        limit: u64,
    },
}

/// How [`decode_with`] decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The most bytes the decoding may allocate (coefficients, planes and
    /// pixels), checked from the header; 1 GiB by default.
    pub max_decode_bytes: u64,
    /// Decode a truncated file as PIL does with
    /// `ImageFile.LOAD_TRUNCATED_IMAGES = True` (an end marker appended)
    /// instead of refusing it.
    pub load_truncated: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_decode_bytes: 1 << 30,
            load_truncated: false,
        }
    }
}

/// Decodes `bytes` as PIL's `Image.open` does (the module docs), with the
/// default [`Options`]: a truncated file is an error.
pub fn decode(bytes: &[u8]) -> Result<JpegImage, JpegError> {
    decode_with(bytes, &Options::default())
}

/// Decodes `bytes` as PIL's `Image.open` does under `options`.
pub fn decode_with(bytes: &[u8], options: &Options) -> Result<JpegImage, JpegError> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(JpegError::NotJpeg);
    }
    if options.load_truncated {
        let mut padded = Vec::with_capacity(bytes.len() + 2);
        padded.extend_from_slice(bytes);
        padded.extend_from_slice(&[0xFF, 0xD9]);
        Decoder::new(&padded, options.max_decode_bytes).run(true)
    } else {
        Decoder::new(bytes, options.max_decode_bytes).run(false)
    }
}

/// The header of `bytes` (up to the frame header), without decoding.
pub fn read_info(bytes: &[u8]) -> Result<JpegInfo, JpegError> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(JpegError::NotJpeg);
    }
    let mut d = Decoder::new(bytes, u64::MAX);
    d.input.pos = 2;
    match d.read_marker(true)? {
        Event::Sof => {
            let f = d.frame.as_ref().expect("a frame after SOF");
            Ok(JpegInfo {
                width: f.width as u32,
                height: f.height as u32,
                components: f.comps.len() as u8,
                progressive: f.progressive,
                decode_bytes: f.decode_bytes(),
            })
        }
        _ => Err(d.corrupt("an end-of-image marker before the frame header (SOF)")),
    }
}

/// One component of the frame (libjpeg's `jpeg_component_info`).
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Blocks holding image data across and down.
    wib: usize,
    hib: usize,
    /// Blocks across and down with the MCU padding.
    bw: usize,
    bh: usize,
    /// Samples holding image data across and down.
    dw: usize,
    dh: usize,
    /// The quantization table, latched at the component's first scan.
    quant: Option<[u16; 64]>,
    dc_tbl: usize,
    ac_tbl: usize,
}

/// The frame header and what follows from it.
struct Frame {
    width: usize,
    height: usize,
    progressive: bool,
    comps: Vec<Component>,
    max_h: usize,
    max_v: usize,
    mcus_per_row: usize,
    imcu_rows: usize,
}

impl Frame {
    /// The most bytes decoding allocates: coefficients (counted even where
    /// one scan makes them unneeded), planes, and the pixels.
    fn decode_bytes(&self) -> u64 {
        let mut n = (self.width * self.height * self.comps.len()) as u64;
        for c in &self.comps {
            n += (c.bw * c.bh * 128) as u64 + (c.wib * c.hib * 64) as u64;
        }
        n
    }
}

/// A scan header.
struct Scan {
    /// Indices into the frame's components.
    comps: Vec<usize>,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
}

/// What reading markers stopped at.
enum Event {
    Sof,
    Sos(Scan),
    Eoi,
}

/// The decoding state set up at the first scan.
struct Setup {
    /// Whether coefficients are kept across scans (progressive, or a first
    /// scan without every component).
    multi: bool,
    color: Color,
    ups: Vec<Upsample>,
    /// Multi-scan: each component's coefficients, `bw * bh` blocks.
    coefs: Vec<Vec<[i16; 64]>>,
    /// Single scan: each component's samples, decoded as they come.
    planes: Vec<Vec<u8>>,
    /// Progressive: per component the unknown low bits of each coefficient
    /// (-1: never sent), then the same before the component's last scan.
    coef_bits: Vec<[i32; 64]>,
    /// The last iMCU row decoded with data in the last scan.
    last_good: usize,
    /// The single scan is decoded.
    done: bool,
}

/// The state of one decoding: the input, the tables, the frame, the scans.
struct Decoder<'a> {
    input: Input<'a>,
    max_bytes: u64,
    qt: [Option<[u16; 64]>; 4],
    dc: [Option<HuffTable>; 4],
    ac: [Option<HuffTable>; 4],
    restart_interval: u32,
    jfif: bool,
    adobe: Option<u8>,
    frame: Option<Frame>,
    scans: u32,
    setup: Option<Setup>,
}

impl<'a> Decoder<'a> {
    fn new(data: &'a [u8], max_bytes: u64) -> Self {
        Decoder {
            input: Input::new(data),
            max_bytes,
            qt: [None; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
            jfif: false,
            adobe: None,
            frame: None,
            scans: 0,
            setup: None,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> JpegError {
        JpegError::Corrupt {
            offset: self.input.pos,
            what: what.into(),
        }
    }

    /// The whole decoding: markers and scans, then the pixels. With
    /// `load_truncated`, what PIL gives with `LOAD_TRUNCATED_IMAGES`, which
    /// also silences the decoder's errors once PIL has opened the file (its
    /// own parser read the headers up to the first scan): the rows libjpeg
    /// had not given out are left zero, that is all of them in a multi-scan
    /// image, none in a single-scan image whose scan is decoded.
    fn run(mut self, load_truncated: bool) -> Result<JpegImage, JpegError> {
        match self.read_all() {
            Ok(()) => self.finish(),
            Err(e) if !load_truncated || self.scans == 0 => Err(e),
            Err(_) if self.setup.as_ref().is_some_and(|s| s.done) => self.finish(),
            Err(_) => {
                let f = self.frame.as_ref().expect("a scan follows a frame");
                Ok(JpegImage {
                    width: f.width as u32,
                    height: f.height as u32,
                    components: f.comps.len() as u8,
                    pixels: vec![0; f.width * f.height * f.comps.len()],
                })
            }
        }
    }

    /// Reads the markers and decodes the scans up to the end of the image.
    fn read_all(&mut self) -> Result<(), JpegError> {
        self.input.pos = 2;
        loop {
            let event = match self.read_marker(false) {
                Err(JpegError::Truncated { .. }) if self.setup.as_ref().is_some_and(|s| s.done) => {
                    // A single-scan image is complete once its scan is:
                    // PIL ignores libjpeg's failure to find the end marker.
                    break;
                }
                r => r?,
            };
            match event {
                Event::Sof => {}
                Event::Eoi => {
                    if self.setup.is_none() {
                        return Err(self.corrupt("an end-of-image marker before any scan"));
                    }
                    break;
                }
                Event::Sos(scan) => {
                    if self.setup.is_none() {
                        self.start(&scan)?;
                    } else if !self.setup.as_ref().is_some_and(|s| s.multi) {
                        return Err(self.corrupt(
                            "a second scan after the only scan of a single-scan image (libjpeg: \"expected EOI\")",
                        ));
                    }
                    self.decode_scan(&scan)?;
                    if let Some(s) = self.setup.as_mut() {
                        s.done = !s.multi;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads markers up to the next frame header (when `stop_at_sof`), scan
    /// header or end of image, processing the tables on the way
    /// (`read_markers` of `jdmarker.c`).
    fn read_marker(&mut self, stop_at_sof: bool) -> Result<Event, JpegError> {
        loop {
            if self.input.marker == 0 {
                self.input.next_marker()?;
            }
            let m = self.input.marker;
            let event = match m {
                0xD8 => return Err(self.corrupt("a second start-of-image marker")),
                0xC0..=0xC2 => {
                    self.sof(m == 0xC2)?;
                    stop_at_sof.then_some(Event::Sof)
                }
                0xC3 => {
                    return Err(JpegError::Unsupported(
                        "a lossless JPEG (SOF3) is not decoded here (PIL's libjpeg-turbo decodes it)"
                            .into(),
                    ));
                }
                0xC9..=0xCB => {
                    return Err(JpegError::Unsupported(format!(
                        "an arithmetic-coded JPEG (SOF{}) is not decoded here (PIL's libjpeg-turbo, built with arithmetic decoding, decodes it)",
                        m - 0xC0
                    )));
                }
                0xC5..=0xC8 | 0xCD..=0xCF => {
                    return Err(JpegError::Unsupported(format!(
                        "a hierarchical or reserved frame type (marker FF {m:02X}), which libjpeg does not decode either"
                    )));
                }
                0xDA => {
                    let scan = self.sos()?;
                    self.input.marker = 0;
                    return Ok(Event::Sos(scan));
                }
                0xD9 => {
                    self.input.marker = 0;
                    return Ok(Event::Eoi);
                }
                0xC4 => {
                    self.dht()?;
                    None
                }
                0xDB => {
                    self.dqt()?;
                    None
                }
                0xDD => {
                    self.dri()?;
                    None
                }
                0xE0..=0xEF => {
                    self.app(m)?;
                    None
                }
                // DAC, COM, DNL: skipped.
                0xCC | 0xFE | 0xDC => {
                    self.skip_segment()?;
                    None
                }
                // RSTn and TEM: no parameters.
                0xD0..=0xD7 | 0x01 => None,
                _ => {
                    return Err(self.corrupt(format!("an unknown marker FF {m:02X}")));
                }
            };
            self.input.marker = 0;
            if let Some(e) = event {
                return Ok(e);
            }
        }
    }

    /// The length field of a marker segment, less its own two bytes.
    fn length(&mut self, what: &str) -> Result<i64, JpegError> {
        Ok(i64::from(self.input.u16(what)?) - 2)
    }

    fn skip_segment(&mut self) -> Result<(), JpegError> {
        let n = self.length("in a marker segment")?;
        if n > 0 {
            self.input.skip(n as usize, "in a marker segment")?;
        }
        Ok(())
    }

    /// An APPn segment: JFIF (APP0) and Adobe (APP14) markers noted.
    fn app(&mut self, m: u8) -> Result<(), JpegError> {
        let what = "in an APPn segment";
        let n = self.length(what)?;
        let head = n.clamp(0, 14) as usize;
        let rest = self.input.rest();
        if rest.len() < head {
            return Err(self.input.truncated(what));
        }
        let data = &rest[..head];
        if m == 0xE0 && data.len() >= 14 && data.starts_with(b"JFIF\0") {
            self.jfif = true;
        }
        if m == 0xEE && data.len() >= 12 && data.starts_with(b"Adobe") {
            self.adobe = Some(data[11]);
        }
        self.input.skip(head, what)?;
        if n > head as i64 {
            self.input.skip(n as usize - head, what)?;
        }
        Ok(())
    }

    fn dqt(&mut self) -> Result<(), JpegError> {
        let what = "in a quantization table (DQT)";
        let mut n = self.length(what)?;
        while n > 0 {
            let b = self.input.byte(what)?;
            let (prec, index) = (b >> 4, usize::from(b & 15));
            if index >= 4 {
                return Err(self.corrupt(format!("quantization table index {index} (at most 3)")));
            }
            let mut t = [0u16; 64];
            for &pos in &NATURAL_ORDER[..64] {
                t[pos] = if prec != 0 {
                    self.input.u16(what)?
                } else {
                    u16::from(self.input.byte(what)?)
                };
            }
            self.qt[index] = Some(t);
            n -= if prec != 0 { 129 } else { 65 };
        }
        if n != 0 {
            return Err(self.corrupt("a quantization table segment (DQT) of the wrong length"));
        }
        Ok(())
    }

    fn dht(&mut self) -> Result<(), JpegError> {
        let what = "in a Huffman table (DHT)";
        let mut n = self.length(what)?;
        while n > 16 {
            let index = self.input.byte(what)?;
            let mut bits = [0u8; 17];
            let mut count = 0i64;
            for b in &mut bits[1..] {
                *b = self.input.byte(what)?;
                count += i64::from(*b);
            }
            n -= 17;
            if count > 256 || count > n {
                return Err(
                    self.corrupt("a Huffman table (DHT) with more codes than the segment holds")
                );
            }
            let mut vals = [0u8; 256];
            for v in &mut vals[..count as usize] {
                *v = self.input.byte(what)?;
            }
            n -= count;
            let (ac, slot) = if index & 0x10 != 0 {
                (true, usize::from(index - 0x10))
            } else {
                (false, usize::from(index))
            };
            if slot >= 4 {
                return Err(self.corrupt(format!("Huffman table index {slot} (at most 3)")));
            }
            let table = Some(HuffTable { bits, vals });
            if ac {
                self.ac[slot] = table;
            } else {
                self.dc[slot] = table;
            }
        }
        if n != 0 {
            return Err(self.corrupt("a Huffman table segment (DHT) of the wrong length"));
        }
        Ok(())
    }

    fn dri(&mut self) -> Result<(), JpegError> {
        let what = "in a restart interval (DRI)";
        if self.input.u16(what)? != 4 {
            return Err(self.corrupt("a restart interval segment (DRI) of the wrong length"));
        }
        self.restart_interval = u32::from(self.input.u16(what)?);
        Ok(())
    }

    /// A frame header (`get_sof` and the checks of `initial_setup`).
    fn sof(&mut self, progressive: bool) -> Result<(), JpegError> {
        let what = "in the frame header (SOF)";
        if self.frame.is_some() {
            return Err(self.corrupt("a second frame header (SOF)"));
        }
        let length = self.input.u16(what)?;
        let precision = self.input.byte(what)?;
        let height = usize::from(self.input.u16(what)?);
        let width = usize::from(self.input.u16(what)?);
        let n = usize::from(self.input.byte(what)?);
        if precision != 8 {
            return Err(JpegError::Unsupported(format!(
                "{precision}-bit samples (PIL decodes only 8-bit JPEGs: \"cannot handle {precision}-bit layers\")"
            )));
        }
        if width == 0 || height == 0 {
            return Err(self.corrupt(format!(
                "an empty image ({width}x{height}; a height defined later by DNL is not supported)"
            )));
        }
        if usize::from(length) != 8 + 3 * n {
            return Err(self.corrupt("a frame header (SOF) of the wrong length"));
        }
        if !matches!(n, 1 | 3 | 4) {
            return Err(JpegError::Unsupported(format!(
                "{n} components (PIL: \"cannot handle {n}-layer images\"; it opens 1, 3 or 4)"
            )));
        }
        if width > 65500 || height > 65500 {
            return Err(JpegError::Unsupported(format!(
                "an image of {width}x{height} pixels (libjpeg decodes at most 65500 a side)"
            )));
        }
        let mut comps = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.input.byte(what)?;
            let hv = self.input.byte(what)?;
            let tq = usize::from(self.input.byte(what)?);
            let (h, v) = (usize::from(hv >> 4), usize::from(hv & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(self.corrupt(format!(
                    "sampling factors {h}x{v} of component {id} (1 to 4 each)"
                )));
            }
            comps.push(Component {
                id,
                h,
                v,
                tq,
                wib: 0,
                hib: 0,
                bw: 0,
                bh: 0,
                dw: 0,
                dh: 0,
                quant: None,
                dc_tbl: 0,
                ac_tbl: 0,
            });
        }
        let max_h = comps.iter().map(|c| c.h).max().unwrap_or(1);
        let max_v = comps.iter().map(|c| c.v).max().unwrap_or(1);
        let mcus_per_row = width.div_ceil(8 * max_h);
        let imcu_rows = height.div_ceil(8 * max_v);
        for c in &mut comps {
            c.wib = (width * c.h).div_ceil(8 * max_h);
            c.hib = (height * c.v).div_ceil(8 * max_v);
            c.dw = (width * c.h).div_ceil(max_h);
            c.dh = (height * c.v).div_ceil(max_v);
            c.bw = mcus_per_row * c.h;
            c.bh = imcu_rows * c.v;
        }
        let frame = Frame {
            width,
            height,
            progressive,
            comps,
            max_h,
            max_v,
            mcus_per_row,
            imcu_rows,
        };
        let bytes = frame.decode_bytes();
        if bytes > self.max_bytes {
            return Err(JpegError::TooLarge {
                width: width as u32,
                height: height as u32,
                bytes,
                limit: self.max_bytes,
            });
        }
        self.frame = Some(frame);
        Ok(())
    }

    /// A scan header (`get_sos`).
    fn sos(&mut self) -> Result<Scan, JpegError> {
        let what = "in a scan header (SOS)";
        let Some(frame) = self.frame.as_ref() else {
            return Err(self.corrupt("a scan (SOS) before the frame header (SOF)"));
        };
        let nc = frame.comps.len();
        let length = usize::from(self.input.u16(what)?);
        let n = usize::from(self.input.byte(what)?);
        if length != 2 * n + 6 || !(1..=4).contains(&n) {
            return Err(self.corrupt("a scan header (SOS) of the wrong length"));
        }
        let mut comps: Vec<usize> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.input.byte(what)?;
            let tables = self.input.byte(what)?;
            let frame = self.frame.as_mut().expect("checked above");
            let Some(ci) = (0..nc).find(|&ci| frame.comps[ci].id == id && !comps.contains(&ci))
            else {
                return Err(self.corrupt(format!(
                    "a scan of component id {id}, which the frame does not have (or twice)"
                )));
            };
            frame.comps[ci].dc_tbl = usize::from(tables >> 4);
            frame.comps[ci].ac_tbl = usize::from(tables & 15);
            comps.push(ci);
        }
        let ss = usize::from(self.input.byte(what)?);
        let se = usize::from(self.input.byte(what)?);
        let a = self.input.byte(what)?;
        self.scans += 1;
        Ok(Scan {
            comps,
            ss,
            se,
            ah: u32::from(a >> 4),
            al: u32::from(a & 15),
        })
    }

    /// At the first scan: the colour transform, the upsamplers and the
    /// buffers (`default_decompress_parms`, `jinit_upsampler`,
    /// `jinit_huff_decoder`'s default tables).
    fn start(&mut self, scan: &Scan) -> Result<(), JpegError> {
        let frame = self.frame.as_ref().expect("a scan follows a frame");
        let nc = frame.comps.len();
        let color = match nc {
            1 => Color::Grey,
            3 => {
                let ids: Vec<u8> = frame.comps.iter().map(|c| c.id).collect();
                if self.jfif {
                    Color::YCbCr
                } else if let Some(t) = self.adobe {
                    if t == 0 { Color::Rgb } else { Color::YCbCr }
                } else if ids == [82, 71, 66] {
                    Color::Rgb
                } else {
                    Color::YCbCr
                }
            }
            _ => match self.adobe {
                None | Some(0) => Color::Cmyk,
                Some(_) => Color::Ycck,
            },
        };
        let ups = frame
            .comps
            .iter()
            .map(|c| Upsample::choose(c.h, c.v, frame.max_h, frame.max_v, c.dw))
            .collect::<Result<Vec<_>, _>>()?;
        let multi = frame.progressive || scan.comps.len() < nc;
        let (coefs, planes) = if multi {
            let coefs = frame
                .comps
                .iter()
                .map(|c| vec![[0i16; 64]; c.bw * c.bh])
                .collect();
            (coefs, Vec::new())
        } else {
            let planes = frame
                .comps
                .iter()
                .map(|c| vec![0u8; c.wib * c.hib * 64])
                .collect();
            (Vec::new(), planes)
        };
        if !frame.progressive {
            for i in 0..2 {
                self.dc[i].get_or_insert_with(|| HuffTable::standard(false, i));
                self.ac[i].get_or_insert_with(|| HuffTable::standard(true, i));
            }
        }
        self.setup = Some(Setup {
            multi,
            color,
            ups,
            coefs,
            planes,
            coef_bits: vec![[-1; 64]; 2 * nc],
            last_good: 0,
            done: false,
        });
        Ok(())
    }

    /// The Huffman table `index` of class `ac`, derived, or an error naming
    /// it.
    fn derived(&self, ac: bool, index: usize) -> Result<Derived, JpegError> {
        let table = if ac { &self.ac } else { &self.dc };
        let kind = if ac { "AC" } else { "DC" };
        match table.get(index).and_then(|t| t.as_ref()) {
            Some(t) => {
                Derived::new(t, !ac).map_err(|e| self.corrupt(format!("{kind} table {index}: {e}")))
            }
            None => Err(self.corrupt(format!(
                "a scan uses {kind} Huffman table {index}, which is not defined"
            ))),
        }
    }

    /// Decodes one scan into the coefficients (or, for a single-scan
    /// image, the planes).
    fn decode_scan(&mut self, scan: &Scan) -> Result<(), JpegError> {
        // latch_quant_tables
        for &ci in &scan.comps {
            let c = &self.frame.as_ref().expect("a scan follows a frame").comps[ci];
            if c.quant.is_none() {
                let (id, tq) = (c.id, c.tq);
                let Some(q) = self.qt.get(tq).copied().flatten() else {
                    return Err(self.corrupt(format!(
                        "component {id} uses quantization table {tq}, which is not defined"
                    )));
                };
                self.frame.as_mut().expect("checked").comps[ci].quant = Some(q);
            }
        }
        let frame = self.frame.as_ref().expect("a scan follows a frame");
        let progressive = frame.progressive;
        let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
        // start_pass_phuff_decoder: validation and progression state.
        if progressive {
            let is_dc = ss == 0;
            let bad = if is_dc {
                se != 0
            } else {
                ss > se || se > 63 || scan.comps.len() != 1
            } || (ah != 0 && al + 1 != ah)
                || al > 13;
            if bad {
                return Err(self.corrupt(format!(
                    "invalid progressive scan parameters Ss={ss} Se={se} Ah={ah} Al={al}"
                )));
            }
            let nc = frame.comps.len();
            let first = self.scans <= 1;
            let setup = self.setup.as_mut().expect("set up at the first scan");
            for &ci in &scan.comps {
                for coefi in ss.min(1)..=se.max(9) {
                    setup.coef_bits[ci + nc][coefi] =
                        if first { 0 } else { setup.coef_bits[ci][coefi] };
                }
                for coefi in ss..=se {
                    setup.coef_bits[ci][coefi] = al as i32;
                }
            }
        }
        // The tables, per scan component.
        let mut dcs = Vec::with_capacity(scan.comps.len());
        let mut acs = Vec::with_capacity(scan.comps.len());
        for &ci in &scan.comps {
            let c = &frame.comps[ci];
            let need_dc = !progressive || (ss == 0 && ah == 0);
            let need_ac = !progressive || ss != 0;
            dcs.push(if need_dc {
                Some(self.derived(false, c.dc_tbl)?)
            } else {
                None
            });
            acs.push(if need_ac {
                Some(self.derived(true, c.ac_tbl)?)
            } else {
                None
            });
        }
        // per_scan_setup: the MCU layout.
        let single = scan.comps.len() == 1;
        let (mcus_per_row, mcu_rows) = if single {
            let c = &frame.comps[scan.comps[0]];
            (c.wib, c.hib)
        } else {
            (frame.mcus_per_row, frame.imcu_rows)
        };
        // For each block of an MCU: (scan component, component, dx, dy).
        let mut layout: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (k, &ci) in scan.comps.iter().enumerate() {
            let c = &frame.comps[ci];
            let (mw, mh) = if single { (1, 1) } else { (c.h, c.v) };
            for dy in 0..mh {
                for dx in 0..mw {
                    layout.push((k, ci, dx, dy));
                }
            }
        }
        if layout.len() > 10 {
            return Err(self.corrupt(format!(
                "an MCU of {} blocks (libjpeg decodes at most 10)",
                layout.len()
            )));
        }
        let geometry: Vec<(usize, usize, usize, usize, usize)> = frame
            .comps
            .iter()
            .map(|c| (c.h, c.v, c.wib, c.hib, c.bw))
            .collect();
        let quants: Vec<[u16; 64]> = frame
            .comps
            .iter()
            .map(|c| c.quant.unwrap_or([0; 64]))
            .collect();
        let plane_strides: Vec<usize> = frame.comps.iter().map(|c| c.wib * 8).collect();
        let v_single = frame.comps[scan.comps[0]].v;

        let seq_plan: Vec<(usize, &Derived, &Derived)> = if progressive {
            Vec::new()
        } else {
            layout
                .iter()
                .map(|&(k, ..)| {
                    (
                        k,
                        dcs[k].as_ref().expect("sequential"),
                        acs[k].as_ref().expect("sequential"),
                    )
                })
                .collect()
        };
        let dc_plan: Vec<(usize, &Derived)> = if progressive && ss == 0 && ah == 0 {
            layout
                .iter()
                .map(|&(k, ..)| (k, dcs[k].as_ref().expect("DC first")))
                .collect()
        } else {
            Vec::new()
        };
        let ac_table = if progressive && ss != 0 {
            acs[0].as_ref()
        } else {
            None
        };

        self.input.reset_bits();
        self.input.insufficient = false;
        let mut st = ScanState::new(self.restart_interval);
        let setup = self.setup.as_mut().expect("set up at the first scan");
        let mut blocks = [[0i16; 64]; 10];
        let nb = layout.len();
        for mcu_row in 0..mcu_rows {
            let imcu_row = if single { mcu_row / v_single } else { mcu_row };
            for mcu_col in 0..mcus_per_row {
                // The absolute block positions of this MCU.
                let pos = |&(_, ci, dx, dy): &(usize, usize, usize, usize)| {
                    let (h, v, ..) = geometry[ci];
                    if single {
                        (ci, mcu_col, mcu_row)
                    } else {
                        (ci, mcu_col * h + dx, mcu_row * v + dy)
                    }
                };
                if setup.multi {
                    for (b, l) in blocks.iter_mut().zip(&layout) {
                        let (ci, x, y) = pos(l);
                        *b = setup.coefs[ci][y * geometry[ci].4 + x];
                    }
                } else {
                    blocks[..nb].fill([0; 64]);
                }
                if !self.input.insufficient {
                    setup.last_good = imcu_row;
                }
                let mcu = &mut blocks[..nb];
                if !progressive {
                    self.input.decode_mcu_sequential(&mut st, mcu, &seq_plan)?;
                } else if ss == 0 && ah == 0 {
                    self.input.decode_dc_first(&mut st, mcu, &dc_plan, al)?;
                } else if ss == 0 {
                    self.input.decode_dc_refine(&mut st, mcu, al)?;
                } else if ah == 0 {
                    let t = ac_table.expect("AC scan");
                    self.input
                        .decode_ac_first(&mut st, &mut mcu[0], t, (ss, se, al))?;
                } else {
                    let t = ac_table.expect("AC scan");
                    self.input
                        .decode_ac_refine(&mut st, &mut mcu[0], t, (ss, se, al))?;
                }
                for (b, l) in blocks.iter().zip(&layout) {
                    let (ci, x, y) = pos(l);
                    let (_, _, wib, hib, bw) = geometry[ci];
                    if setup.multi {
                        setup.coefs[ci][y * bw + x] = *b;
                    } else if x < wib && y < hib {
                        let stride = plane_strides[ci];
                        idct::idct_islow(
                            b,
                            &quants[ci],
                            &mut setup.planes[ci],
                            y * 8 * stride + x * 8,
                            stride,
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// `smoothing_ok`: the coefficient state latched for block smoothing,
    /// or `None` when libjpeg does not smooth.
    fn smoothing(&self) -> Option<Vec<smooth::Latch>> {
        let frame = self.frame.as_ref()?;
        let setup = self.setup.as_ref()?;
        if !frame.progressive {
            return None;
        }
        let nc = frame.comps.len();
        let mut useful = false;
        let mut latches = Vec::with_capacity(nc);
        for (ci, c) in frame.comps.iter().enumerate() {
            let q = c.quant?;
            if [0, 1, 8, 16, 9, 2, 3, 10, 17, 24]
                .iter()
                .any(|&i| q[i] == 0)
            {
                return None;
            }
            let now = &setup.coef_bits[ci];
            let before = &setup.coef_bits[ci + nc];
            if now[0] < 0 {
                return None;
            }
            let mut latch = smooth::Latch {
                now: [0; 10],
                before: [0; 10],
            };
            latch.now[0] = now[0];
            for coefi in 1..10 {
                latch.before[coefi] = if self.scans > 1 { before[coefi] } else { -1 };
                latch.now[coefi] = now[coefi];
                useful |= now[coefi] != 0;
            }
            latches.push(latch);
        }
        useful.then_some(latches)
    }

    /// The output pass: the IDCT of kept coefficients (smoothed where
    /// libjpeg smooths), upsampling and colour conversion.
    fn finish(self) -> Result<JpegImage, JpegError> {
        let latches = self.smoothing();
        let frame = self.frame.expect("an image has a frame");
        let setup = self.setup.expect("an image has a scan");
        let planes_samples: Vec<Vec<u8>> = if setup.multi {
            frame
                .comps
                .iter()
                .zip(&setup.coefs)
                .enumerate()
                .map(|(ci, (c, coefs))| {
                    let stride = c.wib * 8;
                    let mut plane = vec![0u8; c.wib * c.hib * 64];
                    let q = c.quant.unwrap_or([0; 64]);
                    if let Some(latches) = &latches {
                        let blocks = smooth::Blocks {
                            coefs,
                            bw: c.bw,
                            wib: c.wib,
                            hib: c.hib,
                            v: c.v,
                        };
                        smooth::idct_smoothed(
                            &blocks,
                            &q,
                            &latches[ci],
                            frame.imcu_rows,
                            setup.last_good,
                            &mut plane,
                            stride,
                        );
                    } else {
                        for y in 0..c.hib {
                            for x in 0..c.wib {
                                idct::idct_islow(
                                    &coefs[y * c.bw + x],
                                    &q,
                                    &mut plane,
                                    y * 8 * stride + x * 8,
                                    stride,
                                );
                            }
                        }
                    }
                    plane
                })
                .collect()
        } else {
            setup.planes
        };
        let planes: Vec<Plane> = frame
            .comps
            .iter()
            .zip(planes_samples)
            .zip(&setup.ups)
            .map(|((c, samples), &up)| Plane {
                samples,
                stride: c.wib * 8,
                dw: c.dw,
                dh: c.dh,
                up,
            })
            .collect();
        let pixels = output::pixels(&planes, setup.color, frame.width, frame.height);
        Ok(JpegImage {
            width: frame.width as u32,
            height: frame.height as u32,
            components: frame.comps.len() as u8,
            pixels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_jpeg_and_empty_input_are_errors() {
        assert_eq!(decode(b""), Err(JpegError::NotJpeg));
        assert_eq!(decode(b"\x89PNG"), Err(JpegError::NotJpeg));
        let e = decode(b"\xff\xd8\xff").unwrap_err();
        assert!(matches!(e, JpegError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
