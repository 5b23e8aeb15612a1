//! The zoo's pictures, drawn with plotters' bitmap backend and a bundled
//! font (DejaVu Sans), so a picture looks the same on every machine:
//!
//! - [`curves`]: measures by epoch as line charts, one or more panels, each
//!   with a title, labelled axes, ticks and a legend;
//! - [`boxes`]: boxes and labels on an image (the course's `show_bboxes`)
//!   and text on an image;
//! - [`png`]: PNG bytes, and files written through a temporary name renamed
//!   when complete.
//!
//! ```
//! use zoo_plot::curves::{Panel, Series, curves_png};
//! let panel = Panel::new("loss", "epoch", "cross-entropy")
//!     .with(Series::new("train_loss", vec![2.0, 1.2, 0.9]));
//! let png = zoo_plot::curves::curves_png(&[panel], 480, 320).unwrap();
//! let img = image::load_from_memory(&png).unwrap();
//! assert_eq!((img.width(), img.height()), (480, 320));
//! ```

pub mod boxes;
pub mod curves;
mod font;
pub mod png;

use image::Rgb;

/// matplotlib's first colours (`tab10`): blue, orange, green, red, purple,
/// brown, pink, grey, olive, cyan. Series take them in order.
pub const PALETTE: [Rgb<u8>; 10] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([127, 127, 127]),
    Rgb([188, 189, 34]),
    Rgb([23, 190, 207]),
];

/// Why a picture could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters could not draw (a degenerate size, a font error).
    #[error("drawing {what}: {reason}")]
    Draw {
        /// What was being drawn.
        what: String,
        /// plotters' message.
        reason: String,
    },
    /// The output path is not a `.png` file name.
    #[error("{path}: {reason}")]
    Path {
        /// The path given.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding or writing failed.
    #[error("writing {path}")]
    Write {
        /// The file being written.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The PNG encoder failed.
    #[error("encoding a PNG")]
    Encode(#[source] image::ImageError),
}

pub(crate) fn draw_error(what: &str, e: impl std::fmt::Debug) -> PlotError {
    PlotError::Draw {
        what: what.to_string(),
        reason: format!("{e:?}"),
    }
}
