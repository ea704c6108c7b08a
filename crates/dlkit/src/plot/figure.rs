//! Turning a plot into pixels, PNG bytes, SVG text, a file or notebook output.
//!
//! Every plot kind implements [`Draw`]: it knows its size and how to draw
//! itself on any plotters backend. [`render`] draws it into an RGB buffer and
//! returns the [`Figure`]; [`save`] writes PNG or SVG; the `figure_methods!`
//! macro gives each plot type the same inherent methods (`render`,
//! `to_png_bytes`, `to_svg`, `save`, `evcxr_display`) — inherent because evcxr
//! looks `evcxr_display` up on the value's own type.

use std::path::Path;

use base64::Engine as _;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::font;
use super::text::EvenText;
use crate::display::emit;
use crate::error::{Error, Result};

/// The widest or tallest figure drawn, in pixels. Browsers (and so notebooks)
/// refuse or blank out canvases beyond 16384 pixels a side (Safari, older
/// Chrome), and plotters works in `i32` coordinates.
pub const MAX_FIGURE_SIDE: u32 = 16_384;
/// The most pixels a figure may have: 2^25, about as many as an 8K screen
/// (7680×4320), which keeps the RGB buffer at 100 MB. A 2000×2000 image drawn
/// at 64 screen pixels per image pixel would be 49 GB.
pub const MAX_FIGURE_PIXELS: u64 = 1 << 25;

/// The most image pixels an SVG is drawn with: each becomes up to one
/// `<rect>` of about 100 bytes, so 2^20 pixels (a 1024×1024 image) is an SVG
/// of up to 100 MB, already more than a notebook displays comfortably.
pub const MAX_SVG_IMAGE_PIXELS: u64 = 1 << 20;

/// `a * b + c` for figure sizes, saturating at `u32::MAX` instead of wrapping:
/// such a size is then refused by [`check_size`] with a clear error.
pub(crate) fn scaled(n: usize, cell: u32, extra: u32) -> u32 {
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    let total = n
        .saturating_mul(u64::from(cell))
        .saturating_add(u64::from(extra));
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// Refuses a figure larger than [`MAX_FIGURE_SIDE`] or [`MAX_FIGURE_PIXELS`].
pub(crate) fn check_size<P>((width, height): (u32, u32)) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if width <= MAX_FIGURE_SIDE && height <= MAX_FIGURE_SIDE && pixels <= MAX_FIGURE_PIXELS {
        return Ok(());
    }
    let kind = std::any::type_name::<P>()
        .rsplit("::")
        .next()
        .unwrap_or("plot");
    Err(Error::Plot(format!(
        "{kind}: the figure would be {width}×{height} pixels; figures are at most \
         {MAX_FIGURE_SIDE} pixels a side and {:.1} million pixels in all \
         (larger ones cannot be shown in a notebook). Draw a smaller image, or fewer \
         screen pixels per image pixel (e.g. `.scale(1)`)",
        MAX_FIGURE_PIXELS as f64 / 1e6
    )))
}

/// A plot that can draw itself on any plotters backend.
pub(crate) trait Draw {
    /// Width and height in pixels (saturating, never wrapping: see [`scaled`]).
    fn size(&self) -> (u32, u32);
    /// Draws onto `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
    /// How many image pixels the plot draws as coloured squares (for the SVG limit).
    fn image_pixels(&self) -> u64 {
        0
    }
}

/// Wraps a plotters error (they do not share a type) as [`Error::Plot`].
pub(crate) fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(format!("drawing failed: {e}"))
}

/// A rendered plot: an RGB image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Figure {
    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, row by row, three bytes (red, green, blue) each.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// The colour at column `x`, row `y` (0, 0 is the top-left corner).
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (y as usize * self.width as usize + x as usize);
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// The figure encoded as a PNG file.
    pub fn to_png_bytes(&self) -> Result<Vec<u8>> {
        use image::ImageEncoder as _;
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                &self.rgb,
                self.width,
                self.height,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| Error::Plot(format!("PNG encoding failed: {e}")))?;
        Ok(bytes)
    }

    /// Writes the figure as a PNG file (a rendered figure has no SVG form:
    /// call `save` on the plot itself for that).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match format_of(path)? {
            Format::Png => crate::fs::write_atomic(path, &self.to_png_bytes()?),
            Format::Svg => Err(Error::InvalidArgument(format!(
                "{}: a rendered Figure is a bitmap and is saved as .png; \
                 call `.save(\"...svg\")` on the plot itself for SVG",
                path.display()
            ))),
        }
    }

    /// Shows the figure inline in a notebook (PNG, with a text description as fallback).
    pub fn evcxr_display(&self) {
        match self.to_png_bytes() {
            Ok(png) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(png);
                let text = format!("Figure ({}×{} pixels)", self.width, self.height);
                emit(&[("image/png", &encoded), ("text/plain", &text)]);
            }
            Err(e) => emit(&[("text/plain", &e.to_string())]),
        }
    }
}

/// Draws `plot` into an RGB buffer.
pub(crate) fn render<P: Draw>(plot: &P) -> Result<Figure> {
    let (width, height) = plot.size();
    check_size::<P>((width, height))?;
    font::register()?;
    // Fits: check_size bounds it by MAX_FIGURE_PIXELS.
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let bitmap = BitMapBackend::with_buffer(&mut rgb, (width, height));
        let root = EvenText::new(bitmap)?.into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        plot.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(Figure { width, height, rgb })
}

/// Draws `plot` as an SVG document.
pub(crate) fn render_svg<P: Draw>(plot: &P) -> Result<String> {
    check_size::<P>(plot.size())?;
    let pixels = plot.image_pixels();
    if pixels > MAX_SVG_IMAGE_PIXELS {
        let kind = std::any::type_name::<P>()
            .rsplit("::")
            .next()
            .unwrap_or("plot");
        return Err(Error::Plot(format!(
            "{kind}: {pixels} image pixels are too many for an SVG (each is a shape of its own; \
             at most {MAX_SVG_IMAGE_PIXELS}): save it as .png instead"
        )));
    }
    font::register()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, plot.size()).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        plot.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => Err(Error::InvalidArgument(format!(
            "{}: plots are saved as .png or .svg files; give the path one of those extensions",
            path.display()
        ))),
    }
}

/// Writes `plot` to `path`: SVG when the path ends in `.svg`, PNG for `.png`.
pub(crate) fn save<P: Draw>(plot: &P, path: &Path) -> Result<()> {
    match format_of(path)? {
        Format::Png => crate::fs::write_atomic(path, &render(plot)?.to_png_bytes()?),
        Format::Svg => crate::fs::write_atomic(path, render_svg(plot)?.as_bytes()),
    }
}

/// Shows `result` (a plot's rendering) in a notebook, or the error as text.
pub(crate) fn display_rendered(result: Result<Figure>) {
    match result {
        Ok(figure) => figure.evcxr_display(),
        Err(e) => emit(&[("text/plain", &format!("the plot could not be drawn: {e}"))]),
    }
}

/// Gives a plot type the inherent output methods every plot has.
macro_rules! figure_methods {
    ($ty:ty) => {
        impl $ty {
            /// Draws the plot into pixels.
            pub fn render(&self) -> $crate::Result<$crate::plot::Figure> {
                $crate::plot::figure::render(self)
            }

            /// The plot as PNG file bytes.
            pub fn to_png_bytes(&self) -> $crate::Result<Vec<u8>> {
                self.render()?.to_png_bytes()
            }

            /// The plot as an SVG document.
            pub fn to_svg(&self) -> $crate::Result<String> {
                $crate::plot::figure::render_svg(self)
            }

            /// Writes the plot to a `.png` or `.svg` file (chosen by the extension).
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> $crate::Result<()> {
                $crate::plot::figure::save(self, path.as_ref())
            }

            /// Shows the plot inline in a notebook when it is a cell's last expression.
            pub fn evcxr_display(&self) {
                $crate::plot::figure::display_rendered(self.render())
            }

            /// Width and height in pixels.
            pub fn size(&self) -> (u32, u32) {
                $crate::plot::figure::Draw::size(self)
            }
        }
    };
}
pub(crate) use figure_methods;
