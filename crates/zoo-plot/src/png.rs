//! PNG bytes and files written atomically.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, RgbImage};

use crate::PlotError;

/// `img` as PNG bytes.
pub fn encode(img: &RgbImage) -> Result<Vec<u8>, PlotError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(PlotError::Encode)?;
    Ok(out.into_inner())
}

/// Checks that a PNG may be written to `path`: it must end in `.png` (PNG
/// bytes under another image extension would mislead every viewer) and
/// must not be a directory. Programs call it before their work, so a bad
/// path fails first.
pub fn check_path(path: &Path) -> Result<(), PlotError> {
    let bad = |reason: &str| PlotError::Path {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(bad(
            "the image is written as PNG, so the file name must end in .png",
        ));
    }
    if path.is_dir() {
        return Err(bad("is a directory, expected a file name ending in .png"));
    }
    Ok(())
}

/// Writes PNG `bytes` to `path` through a temporary file renamed when
/// complete; nothing is left behind when the write fails.
pub fn write_bytes(bytes: &[u8], path: &Path) -> Result<(), PlotError> {
    check_path(path)?;
    let tmp = path.with_extension("png.partial");
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| PlotError::Write {
            path: path.to_path_buf(),
            source,
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `img` as PNG to `path`, atomically (see [`write_bytes`]).
pub fn save(img: &RgbImage, path: &Path) -> Result<(), PlotError> {
    check_path(path)?;
    write_bytes(&encode(img)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn a_png_goes_only_to_a_png_name_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("zoo-plot-png-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("taken.png")).unwrap();
        let img = RgbImage::from_pixel(4, 3, Rgb([10, 20, 30]));
        let e = save(&img, &dir.join("x.jpg")).unwrap_err().to_string();
        assert!(e.contains("x.jpg") && e.contains(".png"), "{e}");
        let e = save(&img, &dir.join("taken.png")).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        save(&img, &dir.join("ok.png")).unwrap();
        let back = image::open(dir.join("ok.png")).unwrap().to_rgb8();
        assert_eq!(back.get_pixel(3, 2), &Rgb([10, 20, 30]));
        let e = write_bytes(b"x", &dir.join("missing").join("a.png")).unwrap_err();
        assert!(matches!(e, PlotError::Write { .. }), "{e}");
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["ok.png", "taken.png"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
