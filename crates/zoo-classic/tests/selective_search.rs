//! Selective search's recall on the zoo's generated detection set
//! (`zoo_datasets::detection::fashion_on_photos`: Fashion-MNIST items pasted
//! on crops of photographs, 256 x 256, one or two per image): the fraction
//! of true boxes that one of the first N proposals covers with IoU >= 0.5.
//!
//! The test also writes the images (`image_NNN.png`) and their true boxes
//! (`boxes.json`, pixel corners `[x1, y1, x2, y2]`) with its own recall and
//! time (`zoo_recall.json`) to a folder, `ZOO_SELECTIVE_SEARCH_DIR` or
//! `selective_search` under cargo's test scratch folder (printed), for
//! `scripts/selective_search_recall.py`, which runs OpenCV's selective
//! search on the same images and prints both:
//!
//!     cargo test -p zoo-classic --test selective_search -- --nocapture
//!     python3 scripts/selective_search_recall.py DIR
//!
//! (`ZOO_SELECTIVE_SEARCH_STRATEGY=quality` or `single` runs OpenCV's other
//! presets; `--strategy` the script's.)

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use zoo_classic::selective_search::{SelectiveSearch, corners};
use zoo_datasets::detection::fashion_on_photos;

const IMAGES: usize = 50;
const SIZE: usize = 256;
const SEED: u64 = 7;
const TOPS: [usize; 4] = [100, 300, 1000, 2000];

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: [f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

#[test]
fn recall_on_fashion_on_photos() {
    let set = fashion_on_photos(IMAGES, SIZE, 2, SEED).unwrap();
    let dir = std::env::var_os("ZOO_SELECTIVE_SEARCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("selective_search"));
    std::fs::create_dir_all(&dir).unwrap();

    // OpenCV's defaults; `ZOO_SELECTIVE_SEARCH_STRATEGY=quality` / `single` for the others.
    let strategy = std::env::var("ZOO_SELECTIVE_SEARCH_STRATEGY").unwrap_or_else(|_| "fast".into());
    let search = match strategy.as_str() {
        "fast" => SelectiveSearch::fast(150, 150, 0.8),
        "quality" => SelectiveSearch::quality(150, 150, 0.8),
        "single" => SelectiveSearch::single(200, 0.8),
        other => panic!("ZOO_SELECTIVE_SEARCH_STRATEGY={other}: expected fast, quality or single"),
    };
    let mut covered = [0usize; 4];
    let mut total = 0usize;
    let mut proposals = 0usize;
    let mut seconds = 0.0f64;
    let mut json = String::from("{\"size\": 256, \"images\": [");
    for (i, item) in set.items.iter().enumerate() {
        let (w, h) = item.image.dimensions();
        let (w, h) = (w as usize, h as usize);
        let file = format!("image_{i:03}.png");
        item.image.save(dir.join(&file)).unwrap();
        let gt: Vec<[f32; 4]> = item
            .objects
            .iter()
            .map(|(_, b)| {
                [
                    b[0] * w as f32,
                    b[1] * h as f32,
                    b[2] * w as f32,
                    b[3] * h as f32,
                ]
            })
            .collect();
        let boxes: Vec<String> = gt
            .iter()
            .map(|b| format!("[{}, {}, {}, {}]", b[0], b[1], b[2], b[3]))
            .collect();
        let sep = if i == 0 { "" } else { ", " };
        write!(
            json,
            "{sep}{{\"file\": \"{file}\", \"boxes\": [{}]}}",
            boxes.join(", ")
        )
        .unwrap();

        let start = Instant::now();
        let found = search
            .process(item.image.as_raw(), h, w, SEED + i as u64)
            .unwrap();
        seconds += start.elapsed().as_secs_f64();
        proposals += found.len();
        let found: Vec<[f32; 4]> = found.into_iter().map(corners).collect();
        for g in &gt {
            total += 1;
            for (c, &top) in covered.iter_mut().zip(&TOPS) {
                if found.iter().take(top).any(|&p| iou(p, *g) >= 0.5) {
                    *c += 1;
                }
            }
        }
    }
    json.push_str("]}\n");
    std::fs::write(dir.join("boxes.json"), json).unwrap();

    let recall: Vec<f64> = covered.iter().map(|&c| c as f64 / total as f64).collect();
    let per_image = seconds / IMAGES as f64;
    let mean_proposals = proposals as f64 / IMAGES as f64;
    let entries: Vec<String> = TOPS
        .iter()
        .zip(&recall)
        .map(|(t, r)| format!("\"{t}\": {r}"))
        .collect();
    std::fs::write(
        dir.join("zoo_recall.json"),
        format!(
            "{{\"recall\": {{{}}}, \"seconds_per_image\": {per_image}, \"proposals_per_image\": {mean_proposals}, \"boxes\": {total}}}\n",
            entries.join(", ")
        ),
    )
    .unwrap();
    println!(
        "selective search ({strategy}) on {IMAGES} images of {SIZE}x{SIZE} ({total} boxes), written to {}",
        dir.display()
    );
    for (t, r) in TOPS.iter().zip(&recall) {
        println!("recall@{t}: {r:.3}");
    }
    println!("{mean_proposals:.0} proposals per image, {per_image:.3} s per image");

    // Measured (fast, 50 images, 72 boxes): 0.903 / 0.958 / 0.958 / 0.958 at
    // 100 / 300 / 1000 / 2000 proposals, OpenCV 5.1's the same; floors a little under.
    assert!(recall[0] >= 0.7, "recall@100 {recall:?}");
    assert!(recall[2] >= 0.9, "recall@1000 {recall:?}");
    assert!(recall[3] >= 0.9, "recall@2000 {recall:?}");
}

#[test]
fn same_seed_same_proposals() {
    let set = fashion_on_photos(1, 96, 1, 3).unwrap();
    let item = &set.items[0];
    let search = SelectiveSearch::single(200, 0.8);
    let a = search.process(item.image.as_raw(), 96, 96, 5).unwrap();
    let b = search.process(item.image.as_raw(), 96, 96, 5).unwrap();
    assert_eq!(a, b);
    // Every box inside the image, each once; the whole image among them.
    assert!(
        a.iter()
            .all(|r| r[2] >= 1 && r[3] >= 1 && r[0] + r[2] <= 96 && r[1] + r[3] <= 96)
    );
    let mut sorted = a.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), a.len());
    assert!(a.contains(&[0, 0, 96, 96]));
}
