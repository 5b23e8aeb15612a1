//! The bodies of the `cargo fuzz` targets in `fuzz/` (one per parser), kept
//! here so that the ordinary tests run them on random and truncated input.
//! Each must return, never panic, whatever the bytes.

use std::path::Path;

use crate::folder::{FolderOptions, decode};

/// The IDX parser (gzip or raw).
pub fn idx(data: &[u8]) {
    let _ = crate::idx::parse(data, Path::new("<fuzz>"));
}

/// The CIFAR-10 record parser.
pub fn cifar(data: &[u8]) {
    if let Ok((labels, pixels)) = crate::cifar::parse(data, Path::new("<fuzz>")) {
        assert_eq!(pixels.len(), labels.len() * (crate::cifar::RECORD - 1));
    }
}

/// The image decoder of image folders (PNG, JPEG), resizing to 8x8.
pub fn image(data: &[u8]) {
    let options = FolderOptions {
        size: Some([8, 8]),
        grey: false,
    };
    if let Ok((pixels, shape)) = decode(data, Path::new("<fuzz>"), options) {
        assert_eq!(shape, [3, 8, 8]);
        assert_eq!(pixels.len(), 3 * 64);
    }
}
