//! Pascal VOC 2007: the XML annotations and a loader of an extracted
//! `VOCdevkit/VOC2007` folder (`Annotations/`, `JPEGImages/`,
//! `ImageSets/Main/<split>.txt`), the layout torchvision's `VOCDetection`
//! downloads.

use std::fs;
use std::path::Path;

use image::imageops::FilterType;

use super::{DetectionDataset, DetectionItem};
use crate::DataError;

/// VOC's twenty classes, in the devkit's order.
pub const CLASSES: [&str; 20] = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// One annotated object.
#[derive(Clone, Debug, PartialEq)]
pub struct VocObject {
    /// Class name.
    pub name: String,
    /// Index into [`CLASSES`].
    pub class: usize,
    /// `xmin, ymin, xmax, ymax` as written (1-based pixels).
    pub bndbox: [f32; 4],
    /// The `difficult` flag.
    pub difficult: bool,
    /// The `truncated` flag.
    pub truncated: bool,
}

/// One annotation file.
#[derive(Clone, Debug, PartialEq)]
pub struct VocAnnotation {
    /// The image file name.
    pub filename: String,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The objects.
    pub objects: Vec<VocObject>,
}

/// The text of the first `<tag>...</tag>` in `xml`.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].trim())
}

/// Every `<tag>...</tag>` block in `xml`.
fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find(&open) {
        let body = &rest[s + open.len()..];
        let Some(e) = body.find(&close) else { break };
        out.push(&body[..e]);
        rest = &body[e + close.len()..];
    }
    out
}

/// Parses one VOC annotation; `path` names the file in errors.
pub fn parse_annotation(xml: &str, path: &Path) -> Result<VocAnnotation, DataError> {
    let bad = |what: String| DataError::Format {
        path: path.to_path_buf(),
        offset: 0,
        what,
    };
    let number = |block: &str, name: &str| -> Result<f32, DataError> {
        let v = tag(block, name).ok_or_else(|| bad(format!("no <{name}>")))?;
        v.parse::<f32>()
            .map_err(|_| bad(format!("<{name}> is `{v}`, expected a number")))
    };
    let size = tag(xml, "size").ok_or_else(|| bad("no <size>".into()))?;
    let filename = tag(xml, "filename")
        .ok_or_else(|| bad("no <filename>".into()))?
        .to_string();
    let mut objects = Vec::new();
    for (k, obj) in blocks(xml, "object").into_iter().enumerate() {
        let name = tag(obj, "name")
            .ok_or_else(|| bad(format!("object {k} has no <name>")))?
            .to_string();
        let class = CLASSES.iter().position(|c| *c == name).ok_or_else(|| {
            bad(format!(
                "object {k} is a `{name}`, expected one of VOC's 20 classes"
            ))
        })?;
        let b = tag(obj, "bndbox").ok_or_else(|| bad(format!("object {k} has no <bndbox>")))?;
        let bndbox = [
            number(b, "xmin")?,
            number(b, "ymin")?,
            number(b, "xmax")?,
            number(b, "ymax")?,
        ];
        if bndbox[2] < bndbox[0] || bndbox[3] < bndbox[1] {
            return Err(bad(format!(
                "object {k} has box {bndbox:?}: xmax < xmin or ymax < ymin"
            )));
        }
        let flag = |n: &str| tag(obj, n).is_some_and(|v| v == "1");
        objects.push(VocObject {
            name,
            class,
            bndbox,
            difficult: flag("difficult"),
            truncated: flag("truncated"),
        });
    }
    Ok(VocAnnotation {
        filename,
        width: number(size, "width")? as u32,
        height: number(size, "height")? as u32,
        objects,
    })
}

/// The images of `split` (`train`, `val`, `trainval`, `test`) under `root`
/// (the `VOC2007` folder), resized to `size x size`, with their objects'
/// boxes as fractions of the image (`xmin - 1`, `ymin - 1`, `xmax`, `ymax`
/// over the size: the 1-based pixels as continuous coordinates). Objects
/// flagged difficult are left out unless `keep_difficult`. `limit` reads
/// only the first images of the split.
pub fn load(
    root: &Path,
    split: &str,
    size: u32,
    keep_difficult: bool,
    limit: Option<usize>,
) -> Result<DetectionDataset, DataError> {
    let list = root.join("ImageSets/Main").join(format!("{split}.txt"));
    let ids = fs::read_to_string(&list).map_err(DataError::io(&list))?;
    let mut items = Vec::new();
    for id in ids
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(limit.unwrap_or(usize::MAX))
    {
        let xml_path = root.join("Annotations").join(format!("{id}.xml"));
        let xml = fs::read_to_string(&xml_path).map_err(DataError::io(&xml_path))?;
        let ann = parse_annotation(&xml, &xml_path)?;
        let img_path = root.join("JPEGImages").join(&ann.filename);
        let img = image::open(&img_path)
            .map_err(|e| DataError::Format {
                path: img_path.clone(),
                offset: 0,
                what: format!("cannot decode the image: {e}"),
            })?
            .to_rgb8();
        let (w, h) = (img.width() as f32, img.height() as f32);
        let objects = ann
            .objects
            .iter()
            .filter(|o| keep_difficult || !o.difficult)
            .map(|o| {
                let b = o.bndbox;
                (
                    o.class,
                    [(b[0] - 1.0) / w, (b[1] - 1.0) / h, b[2] / w, b[3] / h],
                )
            })
            .collect();
        items.push(DetectionItem {
            image: image::imageops::resize(&img, size, size, FilterType::Triangle),
            objects,
        });
    }
    Ok(DetectionDataset {
        items,
        classes: CLASSES.iter().map(|c| c.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>000005.jpg</filename>\n\t<size>\n\t\t<width>500</width>\n\t\t<height>375</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<object>\n\t\t<name>chair</name>\n\t\t<pose>Rear</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>263</xmin>\n\t\t\t<ymin>211</ymin>\n\t\t\t<xmax>324</xmax>\n\t\t\t<ymax>339</ymax>\n\t\t</bndbox>\n\t</object>\n\t<object>\n\t\t<name>chair</name>\n\t\t<truncated>1</truncated>\n\t\t<difficult>1</difficult>\n\t\t<bndbox><xmin>5</xmin><ymin>244</ymin><xmax>67</xmax><ymax>374</ymax></bndbox>\n\t</object>\n</annotation>\n";

    #[test]
    fn parses_voc_annotations_and_names_what_is_wrong() {
        let a = parse_annotation(SAMPLE, Path::new("000005.xml")).unwrap();
        assert_eq!(
            (a.filename.as_str(), a.width, a.height),
            ("000005.jpg", 500, 375)
        );
        assert_eq!(a.objects.len(), 2);
        assert_eq!(a.objects[0].class, 8);
        assert_eq!(a.objects[0].bndbox, [263.0, 211.0, 324.0, 339.0]);
        assert!(!a.objects[0].difficult && a.objects[1].difficult && a.objects[1].truncated);
        let e =
            parse_annotation(&SAMPLE.replace("chair", "unicorn"), Path::new("x.xml")).unwrap_err();
        assert!(e.to_string().contains("unicorn"), "{e}");
        let e = parse_annotation(&SAMPLE.replace("<xmax>324", "<xmax>2"), Path::new("x.xml"))
            .unwrap_err();
        assert!(e.to_string().contains("xmax < xmin"), "{e}");
        let e = parse_annotation(&SAMPLE.replace("<ymin>211", "<ymin>a"), Path::new("x.xml"))
            .unwrap_err();
        assert!(e.to_string().contains("<ymin> is `a`"), "{e}");
    }
}
