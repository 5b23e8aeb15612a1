//! What `cargo xtask download` fetches: for each data set, the official
//! URLs, the MD5 checksums upstream publishes for its archives, and — where
//! this project has recorded them — the SHA-256 digests of the decompressed
//! payloads, so that a copy compressed differently (Debian recompressed the
//! Fashion-MNIST gzip files: their MD5s differ from upstream's, their
//! decompressed bytes do not) is still verified.

use crate::DataError;

/// One file of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file name, on the server and on disk.
    pub name: &'static str,
    /// The MD5 of the archive, as upstream publishes it (empty where
    /// upstream publishes a SHA-256 prefix or a SHA-1 instead).
    pub md5: &'static str,
    /// The SHA-256 of the decompressed content, recorded by this project
    /// from the genuine files (`None` where it has not been recorded).
    pub payload_sha256: Option<&'static str>,
    /// The leading hex digits of the file's SHA-256, where upstream checks
    /// files by them (torchvision's weight files carry them in their names,
    /// `resnet18-f37072fd.pth`, and `torch.hub` verifies exactly that).
    pub sha256_prefix: Option<&'static str>,
    /// The file's SHA-1, where upstream checks files by it (d2l's
    /// `DATA_HUB`).
    pub sha1: Option<&'static str>,
}

/// What to do with a file once it is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpack {
    /// Keep it as it is (the loaders read gzip directly).
    Keep,
    /// Extract the files of this folder of a `.tar.gz` archive.
    TarGz {
        /// The folder inside the archive (and on disk, beside the archive).
        folder: &'static str,
    },
    /// Extract the tree under this folder of a plain `.tar` archive,
    /// merged with what is there (several archives fill one tree).
    TarTree {
        /// The folder inside the archive (and on disk, beside the archive).
        folder: &'static str,
        /// A file every archive of the set extracts, to tell whether it is done.
        marker: &'static str,
    },
}

/// A data set that can be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalog {
    /// The name on the command line.
    pub name: &'static str,
    /// The folder under the data directory.
    pub dir: &'static str,
    /// Base URLs, tried in order (a file's URL is the base plus its name).
    pub urls: &'static [&'static str],
    /// The files.
    pub files: &'static [RemoteFile],
    /// What to do after verification.
    pub unpack: Unpack,
    /// Where a copy may already be on disk, for `--from`.
    pub local_hint: &'static str,
}

/// Fashion-MNIST (MIT licence). Payload digests recorded from the genuine
/// files of the Debian package `dataset-fashion-mnist`.
pub const FASHION_MNIST: Catalog = Catalog {
    name: "fashion-mnist",
    dir: "fashion-mnist",
    urls: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    files: &[
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            payload_sha256: Some(
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            md5: "25c81989df183df01b3e8a0aad5dffbe",
            payload_sha256: Some(
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            md5: "bef4ecab320f06d8554ea6380940ec79",
            payload_sha256: Some(
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            md5: "bb300cfdad3c16e7a12a480ee83cd310",
            payload_sha256: Some(
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
            sha256_prefix: None,
            sha1: None,
        },
    ],
    unpack: Unpack::Keep,
    local_hint: "/usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)",
};

/// MNIST. The first URL is the mirror torchvision uses, the second the
/// original site.
pub const MNIST: Catalog = Catalog {
    name: "mnist",
    dir: "mnist",
    urls: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    files: &[
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            md5: "d53e105ee54ea40749a09fcbcd1e9432",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            md5: "9fb629c4189551a2d022fa330f9573f3",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            md5: "ec29112dd5afa0611ce80d1b7f02629c",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
    ],
    unpack: Unpack::Keep,
    local_hint: "a directory holding the four MNIST .gz files",
};

/// CIFAR-10, binary version.
pub const CIFAR_10: Catalog = Catalog {
    name: "cifar-10",
    dir: "cifar-10",
    urls: &["https://www.cs.toronto.edu/~kriz/"],
    files: &[RemoteFile {
        name: "cifar-10-binary.tar.gz",
        md5: "c32a1d4ab5d03f1284b67883e8d87530",
        payload_sha256: None,
        sha256_prefix: None,
        sha1: None,
    }],
    unpack: Unpack::TarGz {
        folder: "cifar-10-batches-bin",
    },
    local_hint: "a directory holding cifar-10-binary.tar.gz",
};

/// Pascal VOC 2007 (detection; train/val and test archives), from the
/// mirror torchvision uses and the original site; MD5s as torchvision's
/// `VOCDetection` checks them. Extracted to `voc-2007/VOCdevkit/VOC2007`,
/// which `zoo_datasets::detection::voc::load` and `ssd --voc` read.
pub const VOC_2007: Catalog = Catalog {
    name: "voc-2007",
    dir: "voc-2007",
    urls: &[
        "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/",
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
    ],
    files: &[
        RemoteFile {
            name: "VOCtrainval_06-Nov-2007.tar",
            md5: "c52e279531787c972589f7e41ab4ae64",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
        RemoteFile {
            name: "VOCtest_06-Nov-2007.tar",
            md5: "b6e924de25625d8de591ea690078ad9f",
            payload_sha256: None,
            sha256_prefix: None,
            sha1: None,
        },
    ],
    unpack: Unpack::TarTree {
        folder: "VOCdevkit/VOC2007",
        marker: "ImageSets/Main",
    },
    local_hint: "a directory holding VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar",
};

/// Pascal VOC 2012 (segmentation: `SegmentationClass` label PNGs and the
/// `ImageSets/Segmentation` splits), the archive and MD5 torchvision's
/// `VOCSegmentation` uses. Extracted to `voc-2012/VOCdevkit/VOC2012`, which
/// `zoo_datasets::segmentation::voc_segmentation` and `fcn --voc` read.
pub const VOC_2012: Catalog = Catalog {
    name: "voc-2012",
    dir: "voc-2012",
    urls: &[
        "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/",
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
    ],
    files: &[RemoteFile {
        name: "VOCtrainval_11-May-2012.tar",
        md5: "6cd6e144f989b92b3379bac3b3de84fd",
        payload_sha256: None,
        sha256_prefix: None,
        sha1: None,
    }],
    unpack: Unpack::TarTree {
        folder: "VOCdevkit/VOC2012",
        marker: "ImageSets/Segmentation",
    },
    local_hint: "a directory holding VOCtrainval_11-May-2012.tar",
};

/// The course's text corpus, H. G. Wells' *The Time Machine*, as d2l's
/// `DATA_HUB['time_machine']` lists it (URL and SHA-1). The same bytes are
/// embedded in this crate (`data/time-machine`).
pub const TIME_MACHINE: Catalog = Catalog {
    name: "time-machine",
    dir: "time-machine",
    urls: &["http://d2l-data.s3-accelerate.amazonaws.com/"],
    files: &[RemoteFile {
        name: "timemachine.txt",
        md5: "",
        payload_sha256: None,
        sha256_prefix: None,
        sha1: Some("090b5e7e70c295757f55df93cb0a180b9691891a"),
    }],
    unpack: Unpack::Keep,
    local_hint: "a directory holding timemachine.txt",
};

/// Every data set that can be downloaded.
pub const CATALOGS: [Catalog; 6] = [
    FASHION_MNIST,
    MNIST,
    CIFAR_10,
    VOC_2007,
    VOC_2012,
    TIME_MACHINE,
];

/// The catalog named `name`.
pub fn find(name: &str) -> Result<&'static Catalog, DataError> {
    CATALOGS.iter().find(|c| c.name == name).ok_or_else(|| {
        DataError::Invalid(format!(
            "unknown data set `{name}`, expected one of: {}",
            CATALOGS
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}
