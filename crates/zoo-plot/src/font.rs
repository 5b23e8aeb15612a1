//! The bundled font, registered with plotters once per process.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family name every picture asks for.
pub(crate) const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers DejaVu Sans as [`FAMILY`] (normal, and as the bold style too)
/// before the first text is drawn.
pub(crate) fn ensure() {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bytes are the bundled file, which parses: a failure here
            // is a broken package, reported by every test that draws text.
            let _ = plotters::style::register_font(FAMILY, style, DEJAVU_SANS);
        }
    });
}
