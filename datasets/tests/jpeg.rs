//! `zoo_datasets::jpeg` against PIL 13.0 (libjpeg-turbo 3.2.0): every file
//! of `tests/data/jpeg` decodes to exactly the pixels PIL decodes, or is
//! refused where PIL refuses it; the photographs of `assets/images` decode
//! to exactly PIL's `Image.open(f).convert("RGB")`.
//!
//! The fixtures and the photographs' digests come from
//! `python3 scripts/make_jpeg_fixtures.py datasets/tests/data/jpeg`; with
//! `ZOO_JPEG_FIXTURES=/tmp/many` the first test reads another folder the
//! script wrote (`--many N`, a random sweep).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zoo_datasets::jpeg::{self, JpegError, Options};
use zoo_datasets::photo;

fn fixtures() -> PathBuf {
    match std::env::var_os("ZOO_JPEG_FIXTURES") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jpeg"),
    }
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/images")
}

/// The bytes of a PNG PIL wrote (L, RGB, or RGBA holding CMYK).
fn png(path: &Path) -> Vec<u8> {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_bytes()
}

/// How far `got` is from `want`: (bytes that differ, largest difference).
fn diff(got: &[u8], want: &[u8]) -> (usize, u8) {
    got.iter()
        .zip(want)
        .filter(|(a, b)| a != b)
        .fold((0, 0), |(n, m), (a, b)| (n + 1, m.max(a.abs_diff(*b))))
}

fn jpegs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files
}

/// What is wrong with the decoding of one fixture, if anything.
fn check(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).unwrap();
    let with = |ext: &str| path.with_extension(ext);
    let got = jpeg::decode(&bytes);
    if with("err").exists() {
        let expected = std::fs::read_to_string(with("err")).unwrap();
        let kind = expected.lines().next().unwrap_or("");
        let ok = matches!(
            (&got, kind),
            (Err(JpegError::Truncated { .. }), "truncated")
                | (Err(JpegError::Unsupported(_)), "unsupported")
                | (
                    Err(JpegError::Corrupt { .. } | JpegError::Unsupported(_)),
                    "corrupt"
                )
        );
        if !ok {
            return Some(format!("PIL: {}, here: {got:?}", expected.trim()));
        }
        let options = Options {
            load_truncated: true,
            ..Options::default()
        };
        if with("loadtrunc.err").exists()
            && let Ok(img) = jpeg::decode_with(&bytes, &options)
        {
            return Some(format!(
                "PIL cannot open it with LOAD_TRUNCATED_IMAGES, here {}x{}",
                img.width, img.height
            ));
        }
        if with("loadtrunc.png").exists() {
            let want = png(&with("loadtrunc.png"));
            return match jpeg::decode_with(&bytes, &options) {
                Ok(img) if img.pixels == want => None,
                Ok(img) => Some(format!(
                    "LOAD_TRUNCATED_IMAGES pixels differ {:?}",
                    diff(&img.pixels, &want)
                )),
                Err(e) => Some(format!("LOAD_TRUNCATED_IMAGES: {e}")),
            };
        }
        return None;
    }
    let img = match got {
        Ok(img) => img,
        Err(e) => return Some(format!("PIL decodes it, here: {e}")),
    };
    let want = png(&with("png"));
    if img.pixels != want {
        return Some(format!(
            "{}x{}x{}: pixels differ (count, max) {:?}",
            img.width,
            img.height,
            img.components,
            diff(&img.pixels, &want)
        ));
    }
    if with("rgb.png").exists() && img.to_rgb() != png(&with("rgb.png")) {
        return Some("convert(\"RGB\") differs".into());
    }
    None
}

#[test]
fn every_fixture_decodes_as_pil_does() {
    let files = jpegs(&fixtures());
    assert!(files.len() > 100, "only {} fixtures", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|p| {
            check(p).map(|e| format!("{}: {e}", p.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} differ from PIL:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// SHA-256 of PIL's `Image.open(f).convert("RGB").tobytes()`
/// (`scripts/make_jpeg_fixtures.py` prints them).
const PHOTOS: [(&str, u32, u32, &str); 2] = [
    (
        "chelsea.jpg",
        451,
        300,
        "a76287ceacd550f2ee0fb00e872fc9a9d8ea310170a965c04ea624072c289876",
    ),
    (
        "hubble_deep_field.jpg",
        500,
        436,
        "b83d55d2b493e360082f9fb2e0436691b604359fd3795d5d2efbfc6537388d38",
    ),
];

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_photographs_decode_as_pils_convert_rgb() {
    for (name, w, h, digest) in PHOTOS {
        let path = assets().join(name);
        let bytes = std::fs::read(&path).unwrap();
        let img = jpeg::decode(&bytes).unwrap();
        assert_eq!((img.width, img.height, img.components), (w, h, 3), "{name}");
        assert_eq!(sha256(&img.to_rgb()), digest, "{name}");
        let rgb = photo::open_rgb(&path).unwrap();
        assert_eq!(rgb.dimensions(), (w, h), "{name}");
        assert_eq!(
            sha256(rgb.as_raw()),
            digest,
            "{name} through photo::open_rgb"
        );
    }
}

#[test]
fn photo_decodes_jpegs_with_this_decoder() {
    let dir = fixtures();
    for name in ["cmyk_q90", "grey_q50", "enc_ycck", "enc_411_37x29"] {
        let path = dir.join(format!("{name}.jpg"));
        if !path.exists() {
            continue;
        }
        let want = if dir.join(format!("{name}.rgb.png")).exists() {
            png(&dir.join(format!("{name}.rgb.png")))
        } else {
            jpeg::decode(&std::fs::read(&path).unwrap())
                .unwrap()
                .to_rgb()
        };
        let got = photo::open_rgb(&path).unwrap();
        assert_eq!(got.as_raw(), &want, "{name}");
    }
    // A truncated file: PIL's LOAD_TRUNCATED_IMAGES pixels, with a warning.
    let path = dir.join("cut_base_70.jpg");
    if path.exists() {
        let got = photo::open_rgb(&path).unwrap();
        assert_eq!(got.as_raw(), &png(&dir.join("cut_base_70.loadtrunc.png")));
    }
}

#[test]
fn headers_are_read_without_decoding_and_budgets_refuse_early() {
    let bytes = std::fs::read(assets().join("chelsea.jpg")).unwrap();
    let info = jpeg::read_info(&bytes).unwrap();
    assert_eq!(
        (info.width, info.height, info.components, info.progressive),
        (451, 300, 3, false)
    );
    assert!(info.decode_bytes > 451 * 300 * 3, "{info:?}");
    let small = Options {
        max_decode_bytes: 1000,
        ..Options::default()
    };
    let e = jpeg::decode_with(&bytes, &small).unwrap_err();
    assert!(
        matches!(
            e,
            JpegError::TooLarge {
                width: 451,
                height: 300,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("451x300"), "{e}");
}

/// A minimal file: SOI, then `segments`.
fn file(segments: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8];
    for s in segments {
        v.extend_from_slice(s);
    }
    v
}

#[test]
fn unsupported_kinds_say_what_they_are() {
    let sof = |marker: u8, precision: u8, n: u8| {
        let mut s = vec![0xFF, marker, 0, 8 + 3 * n, precision, 0, 8, 0, 8, n];
        for i in 0..n {
            s.extend_from_slice(&[i + 1, 0x11, 0]);
        }
        s
    };
    let cases: [(Vec<u8>, &str); 5] = [
        (sof(0xC9, 8, 3), "arithmetic"),
        (sof(0xCA, 8, 3), "arithmetic"),
        (sof(0xC3, 8, 3), "lossless"),
        (sof(0xC0, 12, 3), "12-bit"),
        (sof(0xC0, 8, 2), "2 components"),
    ];
    for (segment, what) in cases {
        let e = jpeg::decode(&file(&[&segment])).unwrap_err();
        assert!(matches!(e, JpegError::Unsupported(_)), "{what}: {e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
    let e = jpeg::decode(&file(&[&sof(0xC0, 8, 3), &[0xFF, 0xD9]])).unwrap_err();
    assert!(e.to_string().contains("before any scan"), "{e}");
    let e = jpeg::decode(&file(&[&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]])).unwrap_err();
    assert!(e.to_string().contains("before the frame header"), "{e}");
}

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
fn damaged_files_are_errors_or_images_never_panics() {
    let files = jpegs(&fixtures());
    let options = Options {
        load_truncated: true,
        max_decode_bytes: 1 << 24,
    };
    for (i, path) in files.iter().enumerate().step_by(7) {
        let bytes = std::fs::read(path).unwrap();
        for cut in [
            2,
            3,
            20,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len().saturating_sub(3),
        ] {
            let _ = jpeg::decode(&bytes[..cut.min(bytes.len())]);
            let _ = jpeg::decode_with(&bytes[..cut.min(bytes.len())], &options);
        }
        // Random bytes written over the compressed data and the headers.
        for seed in 0..4u64 {
            let mut b = bytes.clone();
            let noise = random_bytes(seed * 1000 + i as u64, 24);
            let at = (seed as usize * 131 + i * 17) % b.len().max(1);
            for (k, x) in noise.into_iter().enumerate() {
                if let Some(v) = b.get_mut(at + k) {
                    *v = x;
                }
            }
            if let Ok(img) = jpeg::decode_with(&b, &options) {
                let n = img.width as usize * img.height as usize * usize::from(img.components);
                assert_eq!(img.pixels.len(), n);
            }
        }
    }
    for seed in 1..200u64 {
        let mut b = random_bytes(seed, (seed as usize * 37) % 3000);
        if b.len() > 3 {
            b[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        }
        let _ = jpeg::decode_with(&b, &options);
    }
}
