//! Huffman entropy decoding: a port of libjpeg-turbo's `jdhuff.c`
//! (sequential scans) and `jdphuff.c` (progressive scans), with its bit
//! reader (`jpeg_fill_bit_buffer`), its restart-marker handling
//! (`process_restart`, `read_restart_marker`, `jpeg_resync_to_restart`)
//! and its answer to data that ends at a marker too early: zero bits, and
//! then every later MCU of the segment left zero ("insufficient data").
//!
//! The bit reader follows libjpeg's slow path: it loads bytes until it
//! holds 57 bits or meets a marker, and loads only when a read needs more
//! bits than it holds (8 for a Huffman look-ahead). Running out of bytes
//! there is where libjpeg, fed by PIL's suspending source, suspends: the
//! file is truncated.

use super::JpegError;

/// The natural (row-major) position of the `k`-th coefficient in zigzag
/// order, with 16 extra entries of 63 so that corrupt run lengths past the
/// end of a block land on the last coefficient (libjpeg's
/// `jpeg_natural_order`).
pub(super) const NATURAL_ORDER: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// A Huffman table as a DHT segment defines it: `bits[l]` codes of each
/// length `l` in 1..=16, then the symbols in code order.
#[derive(Clone)]
pub(super) struct HuffTable {
    pub bits: [u8; 17],
    pub vals: [u8; 256],
}

impl HuffTable {
    /// The table of `bits` and `vals` (the rest of the symbols zero).
    fn from(bits: &[u8; 17], vals: &[u8]) -> Self {
        let mut v = [0u8; 256];
        v[..vals.len()].copy_from_slice(vals);
        HuffTable {
            bits: *bits,
            vals: v,
        }
    }

    /// The standard table of Annex K.3 that libjpeg-turbo's `std_huff_tables`
    /// installs for a sequential file that defines none (Motion-JPEG frames):
    /// `ac` or DC, index 0 (luminance) or 1 (chrominance).
    pub fn standard(ac: bool, index: usize) -> Self {
        const BITS_DC_Y: [u8; 17] = [0, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        const BITS_DC_C: [u8; 17] = [0, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
        const VALS_DC: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        const BITS_AC_Y: [u8; 17] = [0, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125];
        const VALS_AC_Y: [u8; 162] = [
            1, 2, 3, 0, 4, 17, 5, 18, 33, 49, 65, 6, 19, 81, 97, 7, 34, 113, 20, 50, 129, 145, 161,
            8, 35, 66, 177, 193, 21, 82, 209, 240, 36, 51, 98, 114, 130, 9, 10, 22, 23, 24, 25, 26,
            37, 38, 39, 40, 41, 42, 52, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72, 73, 74, 83,
            84, 85, 86, 87, 88, 89, 90, 99, 100, 101, 102, 103, 104, 105, 106, 115, 116, 117, 118,
            119, 120, 121, 122, 131, 132, 133, 134, 135, 136, 137, 138, 146, 147, 148, 149, 150,
            151, 152, 153, 154, 162, 163, 164, 165, 166, 167, 168, 169, 170, 178, 179, 180, 181,
            182, 183, 184, 185, 186, 194, 195, 196, 197, 198, 199, 200, 201, 202, 210, 211, 212,
            213, 214, 215, 216, 217, 218, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 241,
            242, 243, 244, 245, 246, 247, 248, 249, 250,
        ];
        const BITS_AC_C: [u8; 17] = [0, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119];
        const VALS_AC_C: [u8; 162] = [
            0, 1, 2, 3, 17, 4, 5, 33, 49, 6, 18, 65, 81, 7, 97, 113, 19, 34, 50, 129, 8, 20, 66,
            145, 161, 177, 193, 9, 35, 51, 82, 240, 21, 98, 114, 209, 10, 22, 36, 52, 225, 37, 241,
            23, 24, 25, 26, 38, 39, 40, 41, 42, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72, 73,
            74, 83, 84, 85, 86, 87, 88, 89, 90, 99, 100, 101, 102, 103, 104, 105, 106, 115, 116,
            117, 118, 119, 120, 121, 122, 130, 131, 132, 133, 134, 135, 136, 137, 138, 146, 147,
            148, 149, 150, 151, 152, 153, 154, 162, 163, 164, 165, 166, 167, 168, 169, 170, 178,
            179, 180, 181, 182, 183, 184, 185, 186, 194, 195, 196, 197, 198, 199, 200, 201, 202,
            210, 211, 212, 213, 214, 215, 216, 217, 218, 226, 227, 228, 229, 230, 231, 232, 233,
            234, 242, 243, 244, 245, 246, 247, 248, 249, 250,
        ];
        match (ac, index) {
            (false, 0) => Self::from(&BITS_DC_Y, &VALS_DC),
            (false, _) => Self::from(&BITS_DC_C, &VALS_DC),
            (true, 0) => Self::from(&BITS_AC_Y, &VALS_AC_Y),
            (true, _) => Self::from(&BITS_AC_C, &VALS_AC_C),
        }
    }
}

/// The decoding tables of a [`HuffTable`] (libjpeg's `d_derived_tbl`).
pub(super) struct Derived {
    /// The largest code of each length (-1 if none; a sentinel at 17).
    maxcode: [i64; 18],
    /// The symbol index of the first code of each length, less that code.
    valoffset: [i64; 18],
    /// For 8 bits of look-ahead: the code length << 8 | the symbol, or
    /// 9 << 8 when the code is longer.
    lookup: [u16; 256],
    vals: [u8; 256],
}

impl Derived {
    /// `jpeg_make_d_derived_tbl`: the tables, or why `t` is not a valid
    /// Huffman table (DC symbols must be at most 15).
    pub fn new(t: &HuffTable, is_dc: bool) -> Result<Self, String> {
        let mut huffsize = [0u8; 257];
        let mut huffcode = [0u32; 257];
        let mut p = 0usize;
        for l in 1..=16usize {
            let n = usize::from(t.bits[l]);
            if p + n > 256 {
                return Err("a Huffman table with more than 256 codes".into());
            }
            huffsize[p..p + n].fill(l as u8);
            p += n;
        }
        huffsize[p] = 0;
        let numsymbols = p;
        let mut code = 0u32;
        let mut si = u32::from(huffsize[0]);
        p = 0;
        while huffsize[p] != 0 {
            while u32::from(huffsize[p]) == si {
                huffcode[p] = code;
                p += 1;
                code += 1;
            }
            if u64::from(code) >= 1u64 << si {
                return Err("a Huffman table whose code lengths overflow the code space".into());
            }
            code <<= 1;
            si += 1;
        }
        let mut maxcode = [0i64; 18];
        let mut valoffset = [0i64; 18];
        p = 0;
        for l in 1..=16usize {
            let n = usize::from(t.bits[l]);
            if n != 0 {
                valoffset[l] = p as i64 - i64::from(huffcode[p]);
                p += n;
                maxcode[l] = i64::from(huffcode[p - 1]);
            } else {
                maxcode[l] = -1;
            }
        }
        valoffset[17] = 0;
        maxcode[17] = 0xF_FFFF;
        let mut lookup = [9u16 << 8; 256];
        p = 0;
        for l in 1..=8usize {
            for _ in 0..t.bits[l] {
                let look = (huffcode[p] as usize) << (8 - l);
                for slot in &mut lookup[look..look + (1 << (8 - l))] {
                    *slot = ((l as u16) << 8) | u16::from(t.vals[p]);
                }
                p += 1;
            }
        }
        if is_dc && t.vals[..numsymbols].iter().any(|&v| v > 15) {
            return Err("a DC Huffman table with a symbol above 15".into());
        }
        Ok(Derived {
            maxcode,
            valoffset,
            lookup,
            vals: t.vals,
        })
    }
}

/// The compressed data and the read position, shared by the marker reader
/// and the entropy decoder (libjpeg's source manager, `unread_marker`
/// and bit-reading state).
pub(super) struct Input<'a> {
    data: &'a [u8],
    /// The next byte to read.
    pub pos: usize,
    /// The marker code read but not yet processed (0 when none).
    pub marker: u8,
    buf: u64,
    bits: u32,
    /// The entropy decoder met a marker before the data it needed: zero
    /// bits were read, and every later MCU of the segment is left zero.
    pub insufficient: bool,
}

/// `HUFF_EXTEND`: the signed value of the `s` low bits `x`.
#[inline]
fn extend(x: i32, s: u32) -> i32 {
    if x < (1 << (s - 1)) {
        x + ((-1i32) << s) + 1
    } else {
        x
    }
}

impl<'a> Input<'a> {
    /// Reading `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Input {
            data,
            pos: 0,
            marker: 0,
            buf: 0,
            bits: 0,
            insufficient: false,
        }
    }

    /// The error for data that ends where more was needed.
    pub fn truncated(&self, what: &str) -> JpegError {
        JpegError::Truncated {
            offset: self.data.len(),
            what: what.to_string(),
        }
    }

    /// The next byte (`INPUT_BYTE`).
    pub fn byte(&mut self, what: &str) -> Result<u8, JpegError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(what)),
        }
    }

    /// The next big-endian 16-bit value (`INPUT_2BYTES`).
    pub fn u16(&mut self, what: &str) -> Result<u16, JpegError> {
        let hi = self.byte(what)?;
        let lo = self.byte(what)?;
        Ok(u16::from_be_bytes([hi, lo]))
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), JpegError> {
        if self.data.len() - self.pos < n {
            self.pos = self.data.len();
            return Err(self.truncated(what));
        }
        self.pos += n;
        Ok(())
    }

    /// The bytes from the read position on.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// `next_marker`: skips anything up to the next marker (garbage,
    /// `FF 00` pairs, `FF` fill bytes) and makes it the unread marker.
    pub fn next_marker(&mut self) -> Result<(), JpegError> {
        let what = "looking for the next marker";
        loop {
            let mut c = self.byte(what)?;
            while c != 0xFF {
                c = self.byte(what)?;
            }
            loop {
                c = self.byte(what)?;
                if c != 0xFF {
                    break;
                }
            }
            if c != 0 {
                self.marker = c;
                return Ok(());
            }
        }
    }

    /// Starts a scan (or a restart interval): the bit buffer empty.
    pub fn reset_bits(&mut self) {
        self.buf = 0;
        self.bits = 0;
    }

    /// `jpeg_fill_bit_buffer`'s loading loop: bytes until 57 bits are held
    /// or a marker is met (un-stuffing `FF 00`, swallowing `FF` fill).
    fn fill(&mut self) -> Result<(), JpegError> {
        // Eight bytes none of which is FF: as many as the loop below would
        // load, at once.
        if self.bits < 57
            && self.marker == 0
            && let Some(chunk) = self.data.get(self.pos..self.pos + 8)
        {
            let chunk = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            // A byte of `!chunk` is zero where `chunk` has an FF.
            let x = !chunk;
            let has_ff = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0;
            if !has_ff {
                let k = (64 - self.bits) / 8;
                self.buf = if k == 8 {
                    chunk
                } else {
                    (self.buf << (8 * k)) | (chunk >> (64 - 8 * k))
                };
                self.bits += 8 * k;
                self.pos += k as usize;
                return Ok(());
            }
        }
        self.fill_bytes()
    }

    /// [`Input::fill`] byte by byte.
    #[cold]
    fn fill_bytes(&mut self) -> Result<(), JpegError> {
        let what = "in the compressed data of a scan";
        while self.bits < 57 && self.marker == 0 {
            let mut c = self.byte(what)?;
            if c == 0xFF {
                loop {
                    c = self.byte(what)?;
                    if c != 0xFF {
                        break;
                    }
                }
                if c == 0 {
                    c = 0xFF;
                } else {
                    self.marker = c;
                    break;
                }
            }
            self.buf = (self.buf << 8) | u64::from(c);
            self.bits += 8;
        }
        Ok(())
    }

    /// `CHECK_BIT_BUFFER`: at least `n` bits held, zero bits (and the
    /// insufficient-data state) past a marker.
    #[inline(always)]
    fn ensure(&mut self, n: u32) -> Result<(), JpegError> {
        if self.bits < n {
            self.fill()?;
            if self.bits < n {
                self.insufficient = true;
                self.buf <<= 57 - self.bits;
                self.bits = 57;
            }
        }
        Ok(())
    }

    /// `GET_BITS`: the next `n` bits (held).
    #[inline(always)]
    fn get(&mut self, n: u32) -> i32 {
        self.bits -= n;
        ((self.buf >> self.bits) & ((1u64 << n) - 1)) as i32
    }

    /// `HUFF_DECODE`: the next symbol of table `t` (0 for a code no table
    /// has, as libjpeg's "bad Huffman code" warning does).
    #[inline(always)]
    fn huff(&mut self, t: &Derived) -> Result<i32, JpegError> {
        if self.bits < 8 {
            self.fill()?;
            if self.bits < 8 {
                return self.huff_slow(t, 1);
            }
        }
        let look = ((self.buf >> (self.bits - 8)) & 0xFF) as usize;
        let e = t.lookup[look];
        let nb = u32::from(e >> 8);
        if nb <= 8 {
            self.bits -= nb;
            return Ok(i32::from(e & 0xFF));
        }
        self.huff_slow(t, 9)
    }

    /// `jpeg_huff_decode`: the code bit by bit from `min_bits` on.
    #[cold]
    fn huff_slow(&mut self, t: &Derived, min_bits: u32) -> Result<i32, JpegError> {
        let mut l = min_bits as usize;
        self.ensure(min_bits)?;
        let mut code = i64::from(self.get(min_bits));
        while code > t.maxcode[l] {
            code <<= 1;
            self.ensure(1)?;
            code |= i64::from(self.get(1));
            l += 1;
        }
        if l > 16 {
            return Ok(0);
        }
        let index = (code + t.valoffset[l]) as usize;
        Ok(i32::from(t.vals.get(index).copied().unwrap_or(0)))
    }

    /// `read_restart_marker` (with `jpeg_resync_to_restart` when the marker
    /// is not the expected `RSTn`).
    fn read_restart_marker(&mut self, st: &mut ScanState) -> Result<(), JpegError> {
        if self.marker == 0 {
            self.next_marker()?;
        }
        let desired = st.next_restart_num;
        if self.marker == 0xD0 + desired {
            self.marker = 0;
        } else {
            let rst = |n: u8| 0xD0 + (n & 7);
            loop {
                let m = self.marker;
                // 2: scan on to the next marker; 3: leave the marker for the
                // next segment (a valid non-RST marker, or one of the next
                // two restarts); 1: drop it and go on.
                let action = if m < 0xC0 {
                    2
                } else if !(0xD0..=0xD7).contains(&m)
                    || m == rst(desired + 1)
                    || m == rst(desired + 2)
                {
                    3
                } else if m == rst(desired + 7) || m == rst(desired + 6) {
                    2
                } else {
                    1
                };
                match action {
                    1 => {
                        self.marker = 0;
                        break;
                    }
                    2 => self.next_marker()?,
                    _ => break,
                }
            }
        }
        st.next_restart_num = (desired + 1) & 7;
        Ok(())
    }

    /// `process_restart`: at the end of a restart interval, drops the bits
    /// held, reads the marker, and resets the DC predictions and EOB run.
    fn process_restart(&mut self, st: &mut ScanState) -> Result<(), JpegError> {
        self.reset_bits();
        self.read_restart_marker(st)?;
        st.last_dc = [0; 4];
        st.eobrun = 0;
        st.restarts_to_go = st.restart_interval;
        if self.marker == 0 {
            self.insufficient = false;
        }
        Ok(())
    }

    /// The restart bookkeeping before an MCU.
    #[inline]
    fn before_mcu(&mut self, st: &mut ScanState) -> Result<(), JpegError> {
        if st.restart_interval != 0 && st.restarts_to_go == 0 {
            self.process_restart(st)?;
        }
        Ok(())
    }

    /// The restart bookkeeping after an MCU.
    #[inline]
    fn after_mcu(st: &mut ScanState) {
        if st.restart_interval != 0 {
            st.restarts_to_go -= 1;
        }
    }

    /// `decode_mcu` of `jdhuff.c`: one MCU of a sequential scan into
    /// `blocks` (zeroed by the caller, or holding an earlier scan's values),
    /// block `i` of component `plan[i].0` (its index in the scan) with the
    /// DC and AC tables `plan[i].1` and `plan[i].2`.
    pub fn decode_mcu_sequential(
        &mut self,
        st: &mut ScanState,
        blocks: &mut [[i16; 64]],
        plan: &[(usize, &Derived, &Derived)],
    ) -> Result<(), JpegError> {
        self.before_mcu(st)?;
        if !self.insufficient {
            for (block, &(ci, dc, ac)) in blocks.iter_mut().zip(plan) {
                let mut s = self.huff(dc)?;
                if s != 0 {
                    self.ensure(s as u32)?;
                    let r = self.get(s as u32);
                    s = extend(r, s as u32);
                }
                s = s.wrapping_add(st.last_dc[ci]);
                st.last_dc[ci] = s;
                block[0] = s as i16;
                let mut k = 1usize;
                while k < 64 {
                    let rs = self.huff(ac)?;
                    let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
                    if s != 0 {
                        k += r;
                        self.ensure(s)?;
                        let v = self.get(s);
                        block[NATURAL_ORDER[k]] = extend(v, s) as i16;
                    } else {
                        if r != 15 {
                            break;
                        }
                        k += 15;
                    }
                    k += 1;
                }
            }
        }
        Self::after_mcu(st);
        Ok(())
    }

    /// `decode_mcu_DC_first`: the DC coefficients of the blocks of one MCU
    /// (block `i` of scan component `plan[i].0`, table `plan[i].1`),
    /// shifted left by `al`.
    pub fn decode_dc_first(
        &mut self,
        st: &mut ScanState,
        blocks: &mut [[i16; 64]],
        plan: &[(usize, &Derived)],
        al: u32,
    ) -> Result<(), JpegError> {
        self.before_mcu(st)?;
        if !self.insufficient {
            for (block, &(ci, tbl)) in blocks.iter_mut().zip(plan) {
                let mut s = self.huff(tbl)?;
                if s != 0 {
                    self.ensure(s as u32)?;
                    let r = self.get(s as u32);
                    s = extend(r, s as u32);
                }
                let last = st.last_dc[ci];
                s = last.checked_add(s).ok_or_else(|| JpegError::Corrupt {
                    offset: self.pos,
                    what: "a DC coefficient overflows".into(),
                })?;
                st.last_dc[ci] = s;
                block[0] = (i64::from(s) << al) as i16;
            }
        }
        Self::after_mcu(st);
        Ok(())
    }

    /// `decode_mcu_AC_first`: coefficients `ss..=se` of one block, shifted
    /// left by `al`.
    pub fn decode_ac_first(
        &mut self,
        st: &mut ScanState,
        block: &mut [i16; 64],
        tbl: &Derived,
        (ss, se, al): (usize, usize, u32),
    ) -> Result<(), JpegError> {
        self.before_mcu(st)?;
        if !self.insufficient {
            let mut eobrun = st.eobrun;
            if eobrun > 0 {
                eobrun -= 1;
            } else {
                let mut k = ss;
                while k <= se {
                    let rs = self.huff(tbl)?;
                    let (mut r, s) = (rs >> 4, (rs & 15) as u32);
                    if s != 0 {
                        k += r as usize;
                        self.ensure(s)?;
                        let v = extend(self.get(s), s);
                        block[NATURAL_ORDER[k]] = (i64::from(v) << al) as i16;
                    } else if r == 15 {
                        k += 15;
                    } else {
                        eobrun = 1 << r;
                        if r != 0 {
                            self.ensure(r as u32)?;
                            r = self.get(r as u32);
                            eobrun += r as u32;
                        }
                        eobrun -= 1;
                        break;
                    }
                    k += 1;
                }
            }
            st.eobrun = eobrun;
        }
        Self::after_mcu(st);
        Ok(())
    }

    /// `decode_mcu_DC_refine`: one more bit (`al`) of the DC coefficient of
    /// each block of one MCU.
    pub fn decode_dc_refine(
        &mut self,
        st: &mut ScanState,
        blocks: &mut [[i16; 64]],
        al: u32,
    ) -> Result<(), JpegError> {
        self.before_mcu(st)?;
        let p1 = (1i32 << al) as i16;
        for block in blocks.iter_mut() {
            self.ensure(1)?;
            if self.get(1) != 0 {
                block[0] |= p1;
            }
        }
        Self::after_mcu(st);
        Ok(())
    }

    /// `decode_mcu_AC_refine`: one more bit (`al`) of coefficients
    /// `ss..=se` of one block.
    pub fn decode_ac_refine(
        &mut self,
        st: &mut ScanState,
        block: &mut [i16; 64],
        tbl: &Derived,
        (ss, se, al): (usize, usize, u32),
    ) -> Result<(), JpegError> {
        self.before_mcu(st)?;
        if !self.insufficient {
            let p1 = 1i32 << al;
            let m1 = (-1i32) << al;
            let mut eobrun = st.eobrun;
            let mut k = ss;
            // Appends a correction bit to the nonzero coefficient at `pos`.
            let refine = |this: &mut Self, c: &mut i16| -> Result<(), JpegError> {
                this.ensure(1)?;
                if this.get(1) != 0 && (i32::from(*c) & p1) == 0 {
                    *c = if *c >= 0 {
                        c.wrapping_add(p1 as i16)
                    } else {
                        c.wrapping_add(m1 as i16)
                    };
                }
                Ok(())
            };
            if eobrun == 0 {
                while k <= se {
                    let rs = self.huff(tbl)?;
                    let mut r = rs >> 4;
                    let mut s = rs & 15;
                    if s != 0 {
                        self.ensure(1)?;
                        s = if self.get(1) != 0 { p1 } else { m1 };
                    } else if r != 15 {
                        eobrun = 1 << r;
                        if r != 0 {
                            self.ensure(r as u32)?;
                            r = self.get(r as u32);
                            eobrun += r as u32;
                        }
                        break;
                    }
                    loop {
                        let pos = NATURAL_ORDER[k];
                        if block[pos] != 0 {
                            refine(self, &mut block[pos])?;
                        } else {
                            r -= 1;
                            if r < 0 {
                                break;
                            }
                        }
                        k += 1;
                        if k > se {
                            break;
                        }
                    }
                    if s != 0 {
                        block[NATURAL_ORDER[k]] = s as i16;
                    }
                    k += 1;
                }
            }
            if eobrun > 0 {
                while k <= se {
                    let pos = NATURAL_ORDER[k];
                    if block[pos] != 0 {
                        refine(self, &mut block[pos])?;
                    }
                    k += 1;
                }
                eobrun -= 1;
            }
            st.eobrun = eobrun;
        }
        Self::after_mcu(st);
        Ok(())
    }
}

/// The entropy decoder's state within one scan (`savable_state`,
/// `restarts_to_go`, `next_restart_num`).
pub(super) struct ScanState {
    pub last_dc: [i32; 4],
    pub eobrun: u32,
    pub restart_interval: u32,
    pub restarts_to_go: u32,
    pub next_restart_num: u8,
}

impl ScanState {
    /// The state at the start of a scan with this restart interval.
    pub fn new(restart_interval: u32) -> Self {
        ScanState {
            last_dc: [0; 4],
            eobrun: 0,
            restart_interval,
            restarts_to_go: restart_interval,
            next_restart_num: 0,
        }
    }
}
