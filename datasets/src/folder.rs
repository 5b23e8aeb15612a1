//! Image folders, as torchvision's `ImageFolder` reads them: `root/<class>/<image>`,
//! classes are the sub-folder names in sorted order, images are the PNG and
//! JPEG files in each (sorted by name; other files are skipped).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::DataError;
use crate::images::{ImageDataset, Source};

/// How images are brought to one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderOptions {
    /// Resize every image to `[height, width]` (bilinear, antialiased when
    /// shrinking); `None` requires every image to have the same size.
    pub size: Option<[usize; 2]>,
    /// One grey channel instead of three RGB channels.
    pub grey: bool,
}

/// Whether `path` names a PNG or JPEG file.
fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(DataError::io(dir))?
        .map(|e| e.map(|e| e.path()).map_err(DataError::io(dir)))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

/// The classes (sorted sub-folder names) and the image files of each.
pub fn scan(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let mut classes = Vec::new();
    for dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files: Vec<PathBuf> = sorted_entries(&dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        classes.push((name, files));
    }
    if classes.is_empty() {
        return Err(DataError::NotFound {
            what: "class folders".into(),
            looked: vec![root.to_path_buf()],
            hint: "an image folder holds one sub-folder of PNG/JPEG images per class".into(),
        });
    }
    if classes.iter().all(|(_, f)| f.is_empty()) {
        return Err(DataError::NotFound {
            what: "PNG or JPEG images".into(),
            looked: classes.iter().map(|(c, _)| root.join(c)).collect(),
            hint: "each class folder should hold .png, .jpg or .jpeg files".into(),
        });
    }
    Ok(classes)
}

/// Whether `bytes` are a JPEG stream cut short: it starts with the SOI
/// marker but its last marker is not EOI (`FF D9`; trailing padding
/// ignored). The decoder fills the missing part grey without a word; PIL
/// reports such a file as truncated, and so do the loaders here (a warning).
pub fn truncated_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let end = bytes
        .iter()
        .rposition(|&b| b != 0x00 && b != b'\n' && b != b'\r' && b != b' ')
        .map_or(0, |i| i + 1);
    !bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Warns on stderr when `bytes`, read from `path`, are a [`truncated_jpeg`].
pub fn warn_if_truncated_jpeg(bytes: &[u8], path: &Path) {
    if truncated_jpeg(bytes) {
        eprintln!(
            "warning: {} is a truncated JPEG (no end marker); the missing part decodes as grey",
            path.display()
        );
    }
}

/// Decodes one image to `[C, H, W]` bytes under `options`.
pub fn decode(
    bytes: &[u8],
    path: &Path,
    options: FolderOptions,
) -> Result<(Vec<u8>, [usize; 3]), DataError> {
    let img = image::load_from_memory(bytes).map_err(|e| DataError::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    warn_if_truncated_jpeg(bytes, path);
    let img = match options.size {
        Some([h, w]) if (img.height() as usize, img.width() as usize) != (h, w) => {
            img.resize_exact(w as u32, h as u32, FilterType::Triangle)
        }
        _ => img,
    };
    let (h, w) = (img.height() as usize, img.width() as usize);
    let interleaved = if options.grey {
        img.to_luma8().into_raw()
    } else {
        img.to_rgb8().into_raw()
    };
    let c = if options.grey { 1 } else { 3 };
    let mut chw = vec![0u8; c * h * w];
    for (i, px) in interleaved.chunks_exact(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            chw[ch * h * w + i] = v;
        }
    }
    Ok((chw, [c, h, w]))
}

/// Image folders.
#[derive(Debug, Clone, Copy)]
pub struct ImageFolder;

impl ImageFolder {
    /// Decodes every image under `root` (see the module docs).
    pub fn load(root: &Path, options: FolderOptions) -> Result<ImageDataset, DataError> {
        let classes = scan(root)?;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        let mut shape: Option<([usize; 3], PathBuf)> = None;
        for (label, (_, files)) in classes.iter().enumerate() {
            for path in files {
                let bytes = std::fs::read(path).map_err(DataError::io(path))?;
                let (chw, s) = decode(&bytes, path, options)?;
                match &shape {
                    None => shape = Some((s, path.clone())),
                    Some((first, first_path)) if *first != s => {
                        return Err(DataError::Format {
                            path: path.clone(),
                            offset: 0,
                            what: format!(
                                "image of shape {s:?}, but {} has {first:?}; pass a size to resize them to one shape",
                                first_path.display()
                            ),
                        });
                    }
                    Some(_) => {}
                }
                pixels.extend(chw);
                labels.push(label as u32);
            }
        }
        let (shape, _) = shape.expect("scan found at least one image");
        ImageDataset::new(
            pixels,
            labels,
            shape,
            classes.into_iter().map(|(c, _)| c).collect(),
            Source::Dir(root.to_path_buf()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_cut_short_is_told_from_a_whole_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");
        let whole = std::fs::read(path).unwrap();
        assert!(!truncated_jpeg(&whole));
        assert!(truncated_jpeg(&whole[..whole.len() / 2]));
        // Padding after the end marker is not truncation; a PNG is not a JPEG.
        let mut padded = whole.clone();
        padded.extend([0, 0, b'\n']);
        assert!(!truncated_jpeg(&padded));
        assert!(!truncated_jpeg(b"\x89PNG\r\n\x1a\n"));
    }

    fn write_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(path)
            .unwrap();
    }

    #[test]
    fn reads_classes_in_sorted_order_and_skips_other_files() {
        let root = std::env::temp_dir().join(format!("zoo-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for c in ["dog", "cat"] {
            std::fs::create_dir_all(root.join(c)).unwrap();
        }
        write_png(&root.join("cat/b.png"), 4, 2, [10, 20, 30]);
        write_png(&root.join("cat/a.png"), 4, 2, [1, 2, 3]);
        write_png(&root.join("dog/x.png"), 4, 2, [200, 100, 0]);
        std::fs::write(root.join("dog/notes.txt"), "not an image").unwrap();
        let set = ImageFolder::load(&root, FolderOptions::default()).unwrap();
        assert_eq!(set.classes(), ["cat", "dog"]);
        assert_eq!(set.len(), 3);
        assert_eq!(set.shape(), [3, 2, 4]);
        assert_eq!(set.labels().collect::<Vec<_>>(), vec![0, 0, 1]);
        // a.png first; channel-major: eight reds, then greens, then blues.
        assert_eq!(&set.pixels(0)[..9], &[1, 1, 1, 1, 1, 1, 1, 1, 2]);

        write_png(&root.join("dog/y.png"), 3, 3, [0, 0, 0]);
        let e = ImageFolder::load(&root, FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("y.png") && e.contains("pass a size"), "{e}");
        let resized = ImageFolder::load(
            &root,
            FolderOptions {
                size: Some([5, 5]),
                grey: true,
            },
        )
        .unwrap();
        assert_eq!(resized.shape(), [1, 5, 5]);

        std::fs::write(root.join("cat/broken.jpg"), b"\xff\xd8\xff not really").unwrap();
        let e = ImageFolder::load(&root, FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.jpg: cannot decode"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
