//! The IDX format (LeCun's MNIST files): a big-endian header — two zero
//! bytes, a type code (0x08 for unsigned bytes), the number of dimensions —
//! then one big-endian u32 per dimension, then the data. Files may be
//! gzip-compressed (detected by the gzip magic `1f 8b`).

use std::path::Path;

use crate::DataError;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (`[N, 28, 28]` for images, `[N]` for labels).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file (gzip or raw).
pub fn read_file(path: &Path) -> Result<IdxArray, DataError> {
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    parse(&bytes, path)
}

/// Parses IDX bytes (gzip or raw); `path` names the source in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let content = crate::gzip::decompress(bytes, path)?;
    let content: &[u8] = &content;
    let err = |offset: usize, what: String| DataError::Format {
        path: path.to_path_buf(),
        offset,
        what,
    };
    if content.len() < 4 {
        return Err(err(
            0,
            format!(
                "the file holds {} bytes, expected a 4-byte IDX magic",
                content.len()
            ),
        ));
    }
    if content[0] != 0 || content[1] != 0 {
        return Err(err(
            0,
            format!(
                "magic starts with {:02x} {:02x}, expected 00 00 (not an IDX file)",
                content[0], content[1]
            ),
        ));
    }
    if content[2] != 0x08 {
        return Err(err(
            2,
            format!(
                "type code 0x{:02x}, expected 0x08 (unsigned bytes)",
                content[2]
            ),
        ));
    }
    let ndims = content[3] as usize;
    if ndims == 0 {
        return Err(err(3, "zero dimensions, expected at least one".into()));
    }
    let header = 4 + 4 * ndims;
    if content.len() < header {
        return Err(err(
            content.len(),
            format!("the header of {ndims} dimensions needs {header} bytes, the file ends first"),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes(content[o..o + 4].try_into().unwrap()) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| err(4, format!("dimensions {dims:?} overflow the address space")))?;
    let available = content.len() - header;
    if available != expected {
        return Err(err(
            header,
            format!(
                "dimensions {dims:?} need {expected} data bytes, found {available} ({})",
                if available < expected {
                    "truncated"
                } else {
                    "trailing bytes"
                }
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: content[header..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn parses_raw_and_gzip() {
        let bytes = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = parse(&bytes, Path::new("x")).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        let b = parse(&gz.finish().unwrap(), Path::new("x.gz")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors_name_file_offset_and_expectation() {
        let truncated = idx(&[2, 3], &[1, 2, 3]);
        let e = parse(&truncated, Path::new("t.idx"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.idx") && e.contains("byte 12") && e.contains("truncated"),
            "{e}"
        );
        let e = parse(b"PK\x03\x04zip", Path::new("z"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an IDX file"), "{e}");
        let e = parse(&[0x1f, 0x8b, 0, 1, 2], Path::new("g.gz"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("corrupt gzip"), "{e}");
        let e = read_file(Path::new("/nonexistent/file"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/file"), "{e}");
    }
}
