//! Drawing grayscale images as blocks of colour, and the text all plots share.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colormap::Colormap;
use super::data::Gray;
use super::figure::plot_err;
use super::font::{self, FAMILY};
use crate::error::Result;

/// Where and how big to draw an image: top-left corner (in the area's own
/// pixels) and the side of the square each image pixel becomes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placement {
    pub(crate) x: i32,
    pub(crate) y: i32,
    pub(crate) cell: u32,
}

/// How values become colours: `lo` gets the map's low end, `hi` its high end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shading {
    pub(crate) cmap: Colormap,
    pub(crate) lo: f32,
    pub(crate) hi: f32,
}

impl Shading {
    /// `cmap` spanning `image`'s finite values (0 to 1 when it has none).
    pub(crate) fn spanning(cmap: Colormap, image: &Gray) -> Self {
        let (lo, hi) = image.finite_range().unwrap_or((0.0, 1.0));
        Shading { cmap, lo, hi }
    }

    pub(crate) fn color(&self, v: f32) -> RGBColor {
        // In f64: the span of two f32 values (up to 2·f32::MAX) cannot
        // overflow there, as it does in f32.
        let (lo, hi) = (f64::from(self.lo), f64::from(self.hi));
        let span = hi - lo;
        let t = if span > 0.0 && span.is_finite() {
            (f64::from(v) - lo) / span
        } else {
            0.0
        };
        self.cmap.color(t)
    }
}

/// Draws `image` with each pixel a `cell`×`cell` square; runs of equal colour
/// along a row become one rectangle, which keeps SVG output small.
pub(crate) fn draw_image<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    image: &Gray,
    at: Placement,
    shading: Shading,
) -> Result<()> {
    let cell = at.cell as i32;
    for row in 0..image.height {
        let y0 = at.y + row as i32 * cell;
        let mut col = 0;
        while col < image.width {
            let color = shading.color(image.at(row, col));
            let mut end = col + 1;
            while end < image.width && shading.color(image.at(row, end)) == color {
                end += 1;
            }
            let x0 = at.x + col as i32 * cell;
            // Backends fill up to, not including, the bottom-right corner.
            let x1 = at.x + end as i32 * cell;
            area.draw(&Rectangle::new([(x0, y0), (x1, y0 + cell)], color.filled()))
                .map_err(plot_err)?;
            col = end;
        }
    }
    Ok(())
}

/// A one-pixel frame just outside the box `x, y, w, h` (matplotlib's spines).
pub(crate) fn frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y, w, h): (i32, i32, i32, i32),
    color: RGBColor,
) -> Result<()> {
    area.draw(&Rectangle::new(
        [(x - 1, y - 1), (x + w, y + h)],
        color.stroke_width(1),
    ))
    .map_err(plot_err)
}

/// The text style of the plots: DejaVu Sans at `size` pixels, anchored at `pos`.
pub(crate) fn text_style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(h, v))
}

/// Draws `text` with its anchor at `(x, y)`.
pub(crate) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    content: &str,
    (x, y): (i32, i32),
    style: &TextStyle,
) -> Result<()> {
    area.draw(&Text::new(content.to_string(), (x, y), style.clone()))
        .map_err(plot_err)
}

/// The widths in pixels of `texts` in the plots' font at `size`, for laying a
/// plot out before drawing it (an estimate if the font cannot be measured).
pub(crate) fn text_widths<S: AsRef<str>>(texts: &[S], size: f64) -> Vec<u32> {
    let font = font::register().ok().map(|()| (FAMILY, size).into_font());
    texts
        .iter()
        .map(|t| {
            let t = t.as_ref();
            font.as_ref().and_then(|f| f.box_size(t).ok()).map_or_else(
                || (t.chars().count() as f64 * 0.62 * size).ceil() as u32,
                |(w, _)| w,
            )
        })
        .collect()
}

/// The widest of [`text_widths`], 0 for no texts.
pub(crate) fn max_text_width<S: AsRef<str>>(texts: &[S], size: f64) -> u32 {
    text_widths(texts, size).into_iter().max().unwrap_or(0)
}
