//! Verifying files against the [catalog](crate::catalog) and installing them
//! under the data directory: a file is written under a temporary name and
//! renamed to its own only after its checksum matches, so a data set is never
//! left half-written under names the loaders read.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::DataError;
use crate::catalog::{Catalog, RemoteFile, Unpack};

/// Lower-case hex SHA-1 of `bytes`.
pub fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// Lower-case hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` (the content of `file`, read from `path`).
///
/// Accepted when `extra_md5` (an archive checksum supplied by the caller),
/// if given, matches; and the decompressed content matches the recorded
/// SHA-256 where one is recorded, else the archive matches upstream's MD5.
/// Returns how it was verified.
pub fn verify(
    file: &RemoteFile,
    bytes: &[u8],
    extra_md5: Option<&str>,
    path: &Path,
) -> Result<String, DataError> {
    let md5 = md5_hex(bytes);
    let mismatch = |expected: String, got: String| DataError::Checksum {
        path: path.to_path_buf(),
        expected,
        got,
    };
    if let Some(extra) = extra_md5
        && !extra.eq_ignore_ascii_case(&md5)
    {
        return Err(mismatch(
            format!("MD5 {extra} (supplied)"),
            format!("MD5 {md5}"),
        ));
    }
    if let Some(expected) = file.sha1 {
        let sha = sha1_hex(bytes);
        return if sha.eq_ignore_ascii_case(expected) {
            Ok("SHA-1 matches upstream's".into())
        } else {
            Err(mismatch(
                format!("SHA-1 {expected}"),
                format!("SHA-1 {sha}"),
            ))
        };
    }
    if let Some(prefix) = file.sha256_prefix {
        let sha = sha256_hex(bytes);
        return if sha.starts_with(&prefix.to_ascii_lowercase()) {
            Ok(format!("SHA-256 begins with upstream's {prefix}"))
        } else {
            Err(mismatch(
                format!("SHA-256 beginning {prefix}"),
                format!("SHA-256 {sha}"),
            ))
        };
    }
    let upstream = md5 == file.md5;
    match file.payload_sha256 {
        Some(expected) => {
            let payload = crate::gzip::decompress(bytes, path).map_err(|e| {
                mismatch(
                    format!("SHA-256 {expected} of the decompressed content"),
                    format!("content that does not decompress ({e})"),
                )
            })?;
            let sha = sha256_hex(&payload);
            if sha != expected {
                return Err(mismatch(
                    format!("SHA-256 {expected} of the decompressed content"),
                    format!("SHA-256 {sha} (archive MD5 {md5})"),
                ));
            }
            Ok(if upstream {
                "archive MD5 matches upstream; decompressed SHA-256 matches".into()
            } else {
                format!(
                    "archive MD5 {md5} differs from upstream's {} (compressed differently); decompressed SHA-256 matches",
                    file.md5
                )
            })
        }
        None if upstream => Ok("archive MD5 matches upstream".into()),
        None => Err(mismatch(format!("MD5 {}", file.md5), format!("MD5 {md5}"))),
    }
}

/// The temporary name of `final_path` while it is written or checked.
pub fn partial_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}.part"))
}

/// Verifies the completed temporary file `part` as `file` and renames it to
/// `dest/<name>`; on a mismatch `part` is deleted and nothing is kept.
pub fn install(
    catalog: &Catalog,
    file: &RemoteFile,
    part: &Path,
    dest: &Path,
    extra_md5: Option<&str>,
) -> Result<String, DataError> {
    let final_path = dest.join(file.name);
    let bytes = fs::read(part).map_err(DataError::io(part))?;
    let how = match verify(file, &bytes, extra_md5, &final_path) {
        Ok(how) => how,
        Err(e) => {
            let _ = fs::remove_file(part);
            return Err(e);
        }
    };
    fs::rename(part, &final_path).map_err(DataError::io(&final_path))?;
    match catalog.unpack {
        Unpack::Keep => {}
        Unpack::TarGz { folder } => unpack_tar_gz(&bytes, &final_path, folder, dest)?,
        Unpack::TarTree { folder, .. } => unpack_tar_tree(&bytes, &final_path, folder, dest)?,
    }
    Ok(how)
}

/// Whether `dest` already holds `file`, verified.
pub fn is_installed(
    catalog: &Catalog,
    file: &RemoteFile,
    dest: &Path,
    extra_md5: Option<&str>,
) -> bool {
    let path = dest.join(file.name);
    let unpacked = match catalog.unpack {
        Unpack::Keep => true,
        Unpack::TarGz { folder } => dest.join(folder).is_dir(),
        Unpack::TarTree { folder, marker } => dest.join(folder).join(marker).exists(),
    };
    unpacked
        && fs::read(&path)
            .ok()
            .is_some_and(|b| verify(file, &b, extra_md5, &path).is_ok())
}

/// Extracts the regular files under `folder/` of a plain tar archive into
/// `dest/folder`, keeping their sub-folders and merging with what is there:
/// each file is written under a temporary name and renamed when complete.
/// Entries with `..`, absolute paths or outside `folder` are skipped, so
/// nothing outside `dest/folder` is written.
fn unpack_tar_tree(bytes: &[u8], path: &Path, folder: &str, dest: &Path) -> Result<(), DataError> {
    use std::path::Component;
    let bad = |e: std::io::Error| DataError::Format {
        path: path.to_path_buf(),
        offset: 0,
        what: format!("cannot read the tar archive: {e}"),
    };
    let prefix = Path::new(folder);
    let mut archive = tar::Archive::new(bytes);
    let mut count = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let entry_path = entry.path().map_err(bad)?.into_owned();
        let Ok(rest) = entry_path.strip_prefix(prefix) else {
            continue;
        };
        let safe = rest.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe || rest.as_os_str().is_empty() || !entry.header().entry_type().is_file() {
            continue;
        }
        let out = dest.join(folder).join(rest);
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(DataError::io(parent))?;
        }
        let tmp = out.with_extension("part");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(bad)?;
        fs::write(&tmp, content).map_err(DataError::io(&tmp))?;
        fs::rename(&tmp, &out).map_err(DataError::io(&out))?;
        count += 1;
    }
    if count == 0 {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            offset: 0,
            what: format!("the archive holds no files under {folder}/"),
        });
    }
    Ok(())
}

/// Extracts the regular files of `folder/` in the archive into `dest/folder`,
/// through a temporary folder renamed when complete.
fn unpack_tar_gz(bytes: &[u8], path: &Path, folder: &str, dest: &Path) -> Result<(), DataError> {
    let tmp = dest.join(format!(".{folder}.tmp"));
    let target = dest.join(folder);
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(DataError::io(&tmp))?;
    let bad = |e: std::io::Error| DataError::Format {
        path: path.to_path_buf(),
        offset: 0,
        what: format!("cannot read the tar archive: {e}"),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut count = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let entry_path = entry.path().map_err(bad)?.into_owned();
        let mut parts = entry_path.components();
        let in_folder = parts.next().is_some_and(|c| c.as_os_str() == folder);
        // Only plain `folder/<name>` files: nothing outside `dest` is written.
        let (Some(name), None) = (parts.next(), parts.next()) else {
            continue;
        };
        if !in_folder || !entry.header().entry_type().is_file() {
            continue;
        }
        let out = tmp.join(name.as_os_str());
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(bad)?;
        fs::write(&out, content).map_err(DataError::io(&out))?;
        count += 1;
    }
    if count == 0 {
        let _ = fs::remove_dir_all(&tmp);
        return Err(DataError::Format {
            path: path.to_path_buf(),
            offset: 0,
            what: format!("the archive holds no files under {folder}/"),
        });
    }
    let _ = fs::remove_dir_all(&target);
    fs::rename(&tmp, &target).map_err(DataError::io(&target))
}

/// Imports the files of `catalog` from `from` (a directory holding them, such
/// as a distribution package's) into `dest`, through the same verification
/// as a download. Returns one line per file.
pub fn import(
    catalog: &Catalog,
    from: &Path,
    dest: &Path,
    extra_md5: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, DataError> {
    fs::create_dir_all(dest).map_err(DataError::io(dest))?;
    let mut report = Vec::new();
    for file in catalog.files {
        let src = from.join(file.name);
        if !src.is_file() {
            return Err(DataError::NotFound {
                what: format!("{} of {}", file.name, catalog.name),
                looked: vec![src],
                hint: format!(
                    "--from takes a directory holding the files, e.g. {}",
                    catalog.local_hint
                ),
            });
        }
        let part = partial_path(&dest.join(file.name));
        fs::copy(&src, &part).map_err(DataError::io(&part))?;
        let how = install(catalog, file, &part, dest, extra_md5(file.name).as_deref())?;
        report.push(format!(
            "{}: imported from {} ({how})",
            file.name,
            src.display()
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FASHION_MNIST;

    #[test]
    fn digests_match_known_values() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        // FIPS 180 test vector.
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn files_checked_by_a_sha256_prefix_as_torch_hub_does() {
        let file = RemoteFile {
            name: "model-ba7816bf.pth",
            md5: "",
            payload_sha256: None,
            sha256_prefix: Some("ba7816bf"),
            sha1: None,
        };
        let path = Path::new("model-ba7816bf.pth");
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert!(verify(&file, b"abc", None, path).is_ok());
        let e = verify(&file, b"abd", None, path).unwrap_err().to_string();
        assert!(e.contains("beginning ba7816bf"), "{e}");
    }

    #[test]
    fn altered_content_is_rejected_and_not_kept() {
        let dest = std::env::temp_dir().join(format!("zoo-store-{}", std::process::id()));
        fs::create_dir_all(&dest).unwrap();
        let file = &FASHION_MNIST.files[3];
        let part = partial_path(&dest.join(file.name));
        fs::write(&part, b"not the labels").unwrap();
        let e = install(&FASHION_MNIST, file, &part, &dest, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte.gz: checksum mismatch")
                && e.contains("0402a96d")
                && e.contains("not kept"),
            "{e}"
        );
        assert!(!part.exists() && !dest.join(file.name).exists());
        fs::remove_dir_all(&dest).unwrap();
    }

    #[test]
    fn unpacks_a_tar_tree_merging_archives_and_skipping_what_is_outside() {
        let dest = std::env::temp_dir().join(format!("zoo-untar-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dest);
        fs::create_dir_all(&dest).unwrap();
        let tar = |files: &[(&str, &[u8])]| -> Vec<u8> {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, data) in files {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, name, *data).unwrap();
            }
            builder.into_inner().unwrap()
        };
        let a = tar(&[
            ("VOCdevkit/VOC2007/Annotations/000001.xml", b"<a/>"),
            ("VOCdevkit/VOC2007/ImageSets/Main/trainval.txt", b"000001\n"),
            ("VOCdevkit/other.txt", b"no"),
        ]);
        let b = tar(&[("VOCdevkit/VOC2007/ImageSets/Main/test.txt", b"000002\n")]);
        unpack_tar_tree(&a, Path::new("a.tar"), "VOCdevkit/VOC2007", &dest).unwrap();
        unpack_tar_tree(&b, Path::new("b.tar"), "VOCdevkit/VOC2007", &dest).unwrap();
        let root = dest.join("VOCdevkit/VOC2007");
        assert_eq!(
            fs::read(root.join("Annotations/000001.xml")).unwrap(),
            b"<a/>"
        );
        assert!(root.join("ImageSets/Main/trainval.txt").exists());
        assert!(root.join("ImageSets/Main/test.txt").exists());
        assert!(!dest.join("VOCdevkit/other.txt").exists());
        let e = unpack_tar_tree(&b, Path::new("b.tar"), "elsewhere", &dest).unwrap_err();
        assert!(e.to_string().contains("no files under elsewhere/"), "{e}");
        let _ = fs::remove_dir_all(&dest);
    }

    #[test]
    fn unpacks_only_the_folder_of_a_tar_gz_through_a_temporary_folder() {
        let dest = std::env::temp_dir().join(format!("zoo-untar-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dest);
        fs::create_dir_all(&dest).unwrap();
        let mut records = vec![0u8; 2 * crate::cifar::RECORD];
        records[crate::cifar::RECORD] = 7;
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data) in [
            ("cifar-10-batches-bin/test_batch.bin", &records[..]),
            ("cifar-10-batches-bin/readme.html", b"<html>"),
            ("elsewhere/test_batch.bin", b"not this one"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, data).unwrap();
        }
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        unpack_tar_gz(&bytes, Path::new("a.tar.gz"), "cifar-10-batches-bin", &dest).unwrap();
        assert!(!dest.join("elsewhere").exists());
        assert!(!dest.join(".cifar-10-batches-bin.tmp").exists());
        let set = crate::Cifar10::from_dir(&dest, crate::Split::Test);
        // Only the test file is there: the test split loads, labels intact.
        let set = set.unwrap();
        assert_eq!(set.labels().collect::<Vec<_>>(), vec![0, 7]);
        assert_eq!(set.shape(), [3, 32, 32]);
        let e = unpack_tar_gz(&bytes, Path::new("a.tar.gz"), "other", &dest)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no files under other/"), "{e}");
        fs::remove_dir_all(&dest).unwrap();
    }

    #[test]
    fn imports_the_debian_files_by_their_payload_digests() {
        let from = Path::new("/usr/share/datasets/fashion-mnist");
        if !from.exists() {
            eprintln!("skipped: the Debian package dataset-fashion-mnist is not installed");
            return;
        }
        let dest = std::env::temp_dir().join(format!("zoo-import-{}", std::process::id()));
        let report = import(&FASHION_MNIST, from, &dest, &|_| None).unwrap();
        assert_eq!(report.len(), 4);
        assert!(report[0].contains("differs from upstream"), "{}", report[0]);
        let set = crate::FashionMnist::from_dir(&dest, crate::Split::Test).unwrap();
        assert_eq!(set.len(), 10_000);
        assert!(
            FASHION_MNIST
                .files
                .iter()
                .all(|f| is_installed(&FASHION_MNIST, f, &dest, None))
        );
        fs::remove_dir_all(&dest).unwrap();
    }
}
