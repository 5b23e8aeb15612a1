//! The training curves (`curves.png`), drawn by zoo-plot: the losses on
//! the left; on the right the accuracies (on `[0, 1]`), or the task's other
//! measures when it has no accuracy (perplexities on a logarithmic axis).

use zoo_plot::PALETTE;
use zoo_plot::curves::{Legend, Panel, Series, curves_png as draw};

use crate::error::TrainError;
use crate::record::EpochRecord;

/// Width and height of `curves.png`.
pub const SIZE: (u32, u32) = (960, 400);

/// The series of the measures named by `keep`, `train_*` before `valid_*`:
/// training in blue and validation in orange when there is one of each,
/// further ones in the palette's next colours.
fn series(history: &[EpochRecord], keep: impl Fn(&str) -> bool) -> Vec<Series> {
    let mut names: Vec<&String> = history
        .iter()
        .flat_map(|r| r.metrics.keys())
        .filter(|k| keep(k))
        .collect();
    names.sort_by_key(|k| (!k.starts_with("train_"), k.to_string()));
    names.dedup();
    names
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let colour = match (names.len(), i) {
                (1, _) if !k.starts_with("train_") => PALETTE[1],
                (_, i) if i < 2 => PALETTE[i],
                (_, i) => PALETTE[i % PALETTE.len()],
            };
            let points = history.iter().map(|r| (r.epoch as f64, r.get(k))).collect();
            Series::xy(k.as_str(), points).with_colour(colour)
        })
        .collect()
}

/// The two panels of `history`.
pub fn panels(history: &[EpochRecord]) -> Vec<Panel> {
    let mut loss = Panel::new("loss", "epoch", "loss");
    loss.series = series(history, |k| k.contains("loss"));
    let accs = series(history, |k| k.contains("acc"));
    let right = if accs.is_empty() {
        let other = series(history, |k| !k.contains("loss"));
        let mut p = Panel::new("measures", "epoch", "value");
        let positive = other
            .iter()
            .flat_map(|s| &s.points)
            .all(|&(_, y)| !y.is_finite() || y > 0.0);
        if positive
            && other
                .iter()
                .any(|s| s.name.contains("ppl") || s.name.contains("perplexity"))
        {
            p = Panel::new("perplexity", "epoch", "perplexity").with_log_y();
        }
        p.series = other;
        p
    } else {
        let mut p = Panel::new("accuracy", "epoch", "accuracy")
            .with_y_range(0.0, 1.0)
            .with_legend(Legend::LowerRight);
        p.series = accs;
        p
    };
    vec![loss, right]
}

/// The curves of `history` as PNG bytes.
pub fn curves_png(history: &[EpochRecord]) -> Result<Vec<u8>, TrainError> {
    Ok(draw(&panels(history), SIZE.0, SIZE.1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: usize, loss: f64, acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            lr: 0.1,
            metrics: [
                ("train_loss", loss),
                ("train_acc", acc),
                ("valid_loss", loss * 0.8),
                ("valid_acc", acc * 0.9),
                ("valid_macro_f1", acc),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            items_per_sec: 1.0,
            seconds: 1.0,
        }
    }

    #[test]
    fn losses_left_accuracies_right_training_blue_validation_orange() {
        let h = [rec(1, 2.0, 0.3), rec(2, 1.0, 0.6), rec(3, 0.5, 0.8)];
        let p = panels(&h);
        let names = |i: usize| {
            p[i].series
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(0), ["train_loss", "valid_loss"]);
        assert_eq!(names(1), ["train_acc", "valid_acc"]);
        assert_eq!(p[0].series[0].colour, Some(PALETTE[0]));
        assert_eq!(p[0].series[1].colour, Some(PALETTE[1]));
        assert_eq!(p[0].series[1].points[2], (3.0, 0.4));
        let img = image::load_from_memory(&curves_png(&h).unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        let count = |c| img.pixels().filter(|&&px| px == c).count();
        assert!(count(PALETTE[0]) > 300 && count(PALETTE[1]) > 300);
    }

    #[test]
    fn without_accuracy_the_other_measures_and_perplexity_on_a_log_axis() {
        let mut h = vec![rec(1, 2.0, 0.3)];
        h[0].metrics = [("train_loss", 2.0), ("train_ppl", 7.4)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let p = panels(&h);
        assert_eq!(p[1].title, "perplexity");
        assert!(p[1].log_y);
        assert_eq!(p[1].series[0].colour, Some(PALETTE[0]));
    }
}
