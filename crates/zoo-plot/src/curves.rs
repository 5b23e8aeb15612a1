//! Line charts of measures by epoch: one or more panels side by side, each
//! with a title, labelled axes, ticks, a legend, lines and point markers;
//! a series may also be a scatter of points alone ([`Series::scatter`]).

use std::ops::DerefMut;

use image::{Rgb, RgbImage};
use plotters::prelude::*;

use crate::font::{FAMILY, ensure};
use crate::{PALETTE, PlotError, draw_error};

/// One named line: `(x, y)` points (non-finite values are left out).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// The colour; `None` takes the panel's next [`PALETTE`] colour.
    pub colour: Option<Rgb<u8>>,
    /// Points alone, without the line (a scatter plot).
    pub scatter: bool,
}

impl Series {
    /// `values[i]` at `x = i + 1` (epochs count from 1).
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        let points = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f64, v))
            .collect();
        Self::xy(name, points)
    }

    /// Explicit points.
    pub fn xy(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            colour: None,
            scatter: false,
        }
    }

    /// Points drawn alone, as small dots without a line (`plt.scatter`).
    pub fn scatter(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            scatter: true,
            ..Self::xy(name, points)
        }
    }

    /// The same series in `colour`.
    pub fn with_colour(mut self, colour: Rgb<u8>) -> Self {
        self.colour = Some(colour);
        self
    }

    fn finite(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// Where a panel's legend sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// Top right (falling curves: losses).
    UpperRight,
    /// Bottom right (rising curves: accuracies).
    LowerRight,
}

/// One chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The title above it.
    pub title: String,
    /// The horizontal axis' label.
    pub x_label: String,
    /// The vertical axis' label.
    pub y_label: String,
    /// Its lines.
    pub series: Vec<Series>,
    /// A fixed vertical range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// A logarithmic vertical axis (perplexities, losses over decades).
    pub log_y: bool,
    /// The legend's corner.
    pub legend: Legend,
}

impl Panel {
    /// An empty panel.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
            log_y: false,
            legend: Legend::UpperRight,
        }
    }

    /// The panel with one more line.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// The panel with a fixed vertical range.
    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// The panel with a logarithmic vertical axis.
    pub fn with_log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// The panel with its legend in `corner`.
    pub fn with_legend(mut self, corner: Legend) -> Self {
        self.legend = corner;
        self
    }

    /// The horizontal and vertical ranges: the data's, widened when flat,
    /// with a margin of 5% above and below.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pts: Vec<(f64, f64)> = self.series.iter().flat_map(|s| s.finite()).collect();
        let (mut x0, mut x1) = pts
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &(x, _)| (a.min(x), b.max(x)));
        if pts.is_empty() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            (x0, x1) = (x0 - 1.0, x1 + 1.0);
        }
        let y = match self.y_range {
            Some(r) => r,
            None => {
                let ys = pts
                    .iter()
                    .map(|&(_, y)| y)
                    .filter(|&y| !self.log_y || y > 0.0);
                let (mut lo, mut hi) =
                    ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
                if lo > hi {
                    (lo, hi) = (if self.log_y { 1.0 } else { 0.0 }, 1.0);
                }
                if self.log_y {
                    (lo / 1.2, hi * 1.2)
                } else {
                    let pad = if hi > lo {
                        0.05 * (hi - lo)
                    } else {
                        0.5_f64.max(hi.abs() * 0.1)
                    };
                    (lo - pad, hi + pad)
                }
            }
        };
        ((x0, x1), y)
    }
}

/// A tick label: integers without decimals, others with up to three.
fn tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
) -> Result<(), PlotError> {
    let err = |e| draw_error(&format!("the panel {:?}", panel.title), e);
    let ((x0, x1), (y0, y1)) = panel.ranges();
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, (FAMILY, 17))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(58);
    let whole_x = panel
        .series
        .iter()
        .flat_map(|s| s.finite())
        .all(|(x, _)| x.fract() == 0.0);
    let x_ticks = if whole_x {
        ((x1 - x0) as usize + 1).clamp(2, 10)
    } else {
        8
    };
    let colours: Vec<RGBColor> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = s.colour.unwrap_or(PALETTE[i % PALETTE.len()]);
            RGBColor(c[0], c[1], c[2])
        })
        .collect();
    macro_rules! plot {
        ($chart:ident) => {{
            $chart
                .configure_mesh()
                .x_desc(panel.x_label.as_str())
                .y_desc(panel.y_label.as_str())
                .x_labels(x_ticks)
                .y_labels(6)
                .x_label_formatter(&tick)
                .light_line_style(RGBColor(235, 235, 235))
                .bold_line_style(RGBColor(215, 215, 215))
                .label_style((FAMILY, 12))
                .axis_desc_style((FAMILY, 13))
                .draw()
                .map_err(err)?;
            for (s, &c) in panel.series.iter().zip(&colours) {
                let pts: Vec<(f64, f64)> = s
                    .finite()
                    .filter(|&(_, y)| !panel.log_y || y > 0.0)
                    .collect();
                if s.scatter {
                    $chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.mix(0.7).filled())))
                        .map_err(err)?
                        .label(s.name.as_str())
                        .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
                    continue;
                }
                $chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                    .map_err(err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                if pts.len() <= 60 {
                    $chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                        .map_err(err)?;
                }
            }
            if !panel.series.is_empty() {
                $chart
                    .configure_series_labels()
                    .position(match panel.legend {
                        Legend::UpperRight => SeriesLabelPosition::UpperRight,
                        Legend::LowerRight => SeriesLabelPosition::LowerRight,
                    })
                    .label_font((FAMILY, 12))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(180, 180, 180))
                    .draw()
                    .map_err(err)?;
            }
        }};
    }
    if panel.log_y {
        let mut chart = builder
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(err)?;
        plot!(chart);
    } else {
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
        plot!(chart);
    }
    Ok(())
}

/// The panels side by side on a white `width x height` image.
pub fn curves_image(panels: &[Panel], width: u32, height: u32) -> Result<RgbImage, PlotError> {
    ensure();
    if panels.is_empty() || width < 100 * panels.len() as u32 || height < 100 {
        return Err(PlotError::Draw {
            what: "curves".into(),
            reason: format!(
                "{} panels on {width}x{height} pixels: expected at least one panel and 100x100 pixels for each",
                panels.len()
            ),
        });
    }
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    {
        let root = BitMapBackend::with_buffer(img.deref_mut(), (width, height)).into_drawing_area();
        let areas = root.split_evenly((1, panels.len()));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        root.present().map_err(|e| draw_error("curves", e))?;
    }
    Ok(img)
}

/// The panels as PNG bytes.
pub fn curves_png(panels: &[Panel], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    crate::png::encode(&curves_image(panels, width, height)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(img: &RgbImage, c: Rgb<u8>, xs: std::ops::Range<u32>) -> usize {
        img.enumerate_pixels()
            .filter(|(x, _, p)| xs.contains(x) && **p == c)
            .count()
    }

    #[test]
    fn each_panel_draws_its_own_series_in_the_palette() {
        let loss = Panel::new("loss", "epoch", "loss")
            .with(Series::new("train_loss", vec![2.0, 1.0, 0.5]))
            .with(Series::new("valid_loss", vec![2.2, 1.3, 0.9]));
        let acc = Panel::new("accuracy", "epoch", "accuracy")
            .with(Series::new("train_acc", vec![0.3, 0.6, 0.8]).with_colour(PALETTE[2]))
            .with_y_range(0.0, 1.0)
            .with_legend(Legend::LowerRight);
        let img = curves_image(&[loss, acc], 900, 380).unwrap();
        assert_eq!(img.dimensions(), (900, 380));
        // Blue and orange lines in the left panel only, green in the right only.
        assert!(count(&img, PALETTE[0], 0..450) > 200);
        assert!(count(&img, PALETTE[1], 0..450) > 200);
        assert_eq!(count(&img, PALETTE[0], 450..900), 0);
        assert!(count(&img, PALETTE[2], 450..900) > 200);
        assert_eq!(count(&img, PALETTE[2], 0..450), 0);
        // Text (titles, ticks, axis labels) is drawn in dark grey/black.
        let dark = img
            .pixels()
            .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
            .count();
        assert!(dark > 500, "{dark}");
    }

    #[test]
    fn the_highest_point_is_near_the_top_and_the_lowest_near_the_bottom() {
        // One series falling from 10 to 0 over epochs 1..=2: its first
        // marker sits in the top tenth of the plot area, its last in the
        // bottom tenth (5% margins), left and right.
        let p = Panel::new("t", "x", "y").with(Series::new("s", vec![10.0, 0.0]));
        let img = curves_image(&[p], 400, 400).unwrap();
        let blue: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, c)| **c == PALETTE[0])
            .map(|(x, y, _)| (x, y))
            .collect();
        let (top, bottom) = (
            blue.iter().min_by_key(|p| p.1).unwrap(),
            blue.iter().max_by_key(|p| p.1).unwrap(),
        );
        assert!(top.0 < bottom.0, "{top:?} {bottom:?}");
        assert!(bottom.1 - top.1 > 250, "{top:?} {bottom:?}");
    }

    #[test]
    fn bad_sizes_and_empty_input_are_errors_and_flat_or_empty_series_draw() {
        assert!(curves_image(&[], 400, 300).is_err());
        let p = Panel::new("t", "x", "y");
        assert!(curves_image(std::slice::from_ref(&p), 50, 300).is_err());
        curves_image(std::slice::from_ref(&p), 300, 300).unwrap();
        let flat = p
            .with(Series::new("s", vec![1.0, 1.0, f64::NAN]))
            .with_log_y();
        curves_image(&[flat], 300, 300).unwrap();
    }
}
