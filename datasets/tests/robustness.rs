//! The parsers on truncated and random bytes: errors, never panics.

use std::path::Path;

use zoo_datasets::{DataError, cifar, fuzzing, idx};

/// A deterministic xorshift byte stream.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

#[test]
fn random_bytes_never_panic() {
    for seed in 1..300u64 {
        let len = (seed as usize * 37) % 5000;
        let mut bytes = random_bytes(seed, len);
        fuzzing::idx(&bytes);
        fuzzing::cifar(&bytes);
        fuzzing::image(&bytes);
        // Valid-looking headers followed by garbage.
        if bytes.len() > 8 {
            bytes[..4].copy_from_slice(&[0, 0, 8, (seed % 5) as u8]);
            fuzzing::idx(&bytes);
            bytes[..4].copy_from_slice(&[0x89, b'P', b'N', b'G']);
            fuzzing::image(&bytes);
            bytes[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
            fuzzing::image(&bytes);
            bytes[..2].copy_from_slice(&[0x1f, 0x8b]);
            fuzzing::idx(&bytes);
        }
    }
}

#[test]
fn huge_idx_dimensions_are_an_error() {
    let mut bytes = vec![0, 0, 8, 4];
    for _ in 0..4 {
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    let e = idx::parse(&bytes, Path::new("h.idx"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("h.idx: at byte 4") && e.contains("overflow"),
        "{e}"
    );
}

#[test]
fn truncated_genuine_files_are_errors_that_name_the_offset() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.exists() {
        eprintln!("skipped: the Debian package dataset-fashion-mnist is not installed");
        return;
    }
    let gz = std::fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    // A truncated gzip stream.
    let e = idx::parse(&gz[..gz.len() / 2], Path::new("labels.gz")).unwrap_err();
    assert!(matches!(e, DataError::Gzip { .. }), "{e}");
    // Truncated content: decompress, cut, parse raw.
    let raw = zoo_datasets::gzip::decompress(&gz, Path::new("x")).unwrap();
    let e = idx::parse(&raw[..5000], Path::new("t10k-labels"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t10k-labels: at byte 8")
            && e.contains("need 10000 data bytes, found 4992 (truncated)"),
        "{e}"
    );
    // A CIFAR file that is really an IDX file.
    let e = cifar::parse(&raw, Path::new("data_batch_1.bin"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data_batch_1.bin") && e.contains("3073-byte records"),
        "{e}"
    );
}
