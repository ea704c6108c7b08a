//! `plot::imshow`: one image, drawn like matplotlib's `plt.imshow(X_train[0])`.
//!
//! Each pixel becomes a square of one colour from the colour map (viridis by
//! default, as matplotlib), the values spread over the image's own minimum and
//! maximum unless [`Imshow::value_range`] fixes them, with row 0 at the top and
//! ticks on whole pixels (0, 5, ..., 25 for a 28×28 digit).
//!
//! ```
//! use dlkit::plot::{self, Colormap};
//! use dlkit::{Device, Tensor};
//! let digit = Tensor::zeros((28, 28), dlkit::DType::U8, &Device::Cpu)?;
//! let figure = plot::imshow(&digit)?.cmap(Colormap::Greys).title("a blank digit");
//! assert_eq!(figure.size(), (460, 466));
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::TickedAxis;
use super::colormap::Colormap;
use super::data::{single_image, Gray};
use super::figure::{figure_methods, plot_err, scaled, Draw};
use super::raster::{draw_image, frame, text, text_style, Placement, Shading};
use crate::error::{Error, Result};

/// Room for the tick labels left of and below the image, and around it.
const LEFT: u32 = 44;
const BOTTOM: u32 = 30;
const RIGHT: u32 = 24;
const TOP_PLAIN: u32 = 16;
const TOP_TITLED: u32 = 44;
const MARGIN_NO_AXES: u32 = 8;
/// About this many screen pixels along the image's longer side by default.
const TARGET_SIDE: u32 = 392;

/// An image plot; see [`imshow`].
#[derive(Clone, Debug)]
pub struct Imshow {
    image: Gray,
    cmap: Colormap,
    title: Option<String>,
    range: Option<(f32, f32)>,
    axes: bool,
    cell: Option<u32>,
}

/// Plots one grayscale image: shape `(H, W)`, `(1, H, W)`, `(H, W, 1)` or a
/// flattened square like `(784,)`, any dtype.
pub fn imshow(image: &Tensor) -> Result<Imshow> {
    Ok(Imshow {
        image: single_image(image, "plot::imshow")?,
        cmap: Colormap::Viridis,
        title: None,
        range: None,
        axes: true,
        cell: None,
    })
}

impl Imshow {
    /// The colour map (default [`Colormap::Viridis`], as matplotlib).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// A title above the image.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The values drawn with the two ends of the colour map (matplotlib's
    /// `vmin`, `vmax`); by default the image's own minimum and maximum.
    pub fn value_range(mut self, low: f32, high: f32) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(Error::InvalidArgument(format!(
                "imshow value_range needs finite low < high; got {low}..{high}"
            )));
        }
        self.range = Some((low, high));
        Ok(self)
    }

    /// Whether to draw the frame and the pixel ticks (default true).
    pub fn axes(mut self, show: bool) -> Self {
        self.axes = show;
        self
    }

    /// Screen pixels per image pixel (default: about 392 pixels along the longer side).
    pub fn scale(mut self, pixels_per_cell: u32) -> Self {
        self.cell = Some(pixels_per_cell.clamp(1, 64));
        self
    }

    fn cell(&self) -> u32 {
        self.cell.unwrap_or_else(|| {
            let longest = self.image.height.max(self.image.width);
            (TARGET_SIDE / u32::try_from(longest).unwrap_or(u32::MAX)).max(1)
        })
    }

    /// Left, top, right and bottom margins around the image.
    fn margins(&self) -> (u32, u32, u32, u32) {
        let top_title = if self.title.is_some() { TOP_TITLED } else { 0 };
        if self.axes {
            (LEFT, top_title.max(TOP_PLAIN), RIGHT, BOTTOM)
        } else {
            let m = MARGIN_NO_AXES;
            (m, top_title.max(m), m, m)
        }
    }

    fn shading(&self) -> Shading {
        let (lo, hi) = self
            .range
            .or_else(|| self.image.finite_range())
            .unwrap_or((0.0, 1.0));
        Shading {
            cmap: self.cmap,
            lo,
            hi,
        }
    }
}

impl Draw for Imshow {
    fn size(&self) -> (u32, u32) {
        let cell = self.cell();
        let (l, t, r, b) = self.margins();
        (
            scaled(self.image.width, cell, l + r),
            scaled(self.image.height, cell, t + b),
        )
    }

    fn image_pixels(&self) -> u64 {
        self.image.values.len() as u64
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let cell = self.cell();
        let (left, top, _, bottom) = self.margins();
        // Within u32 and the figure: `render` checked `size()` first.
        let (pw, ph) = (
            scaled(self.image.width, cell, 0),
            scaled(self.image.height, cell, 0),
        );
        let (px, py) = (left as i32, top as i32);
        draw_image(
            root,
            &self.image,
            Placement { x: px, y: py, cell },
            self.shading(),
        )?;
        if self.axes {
            pixel_axes(
                root,
                (px, py),
                (pw, ph),
                (self.image.width, self.image.height),
                (left, bottom),
                13.0,
            )?;
            frame(root, (px, py, pw as i32, ph as i32), BLACK)?;
        }
        if let Some(title) = &self.title {
            let style = text_style(16.0, HPos::Center, VPos::Center);
            text(root, title, (px + pw as i32 / 2, top as i32 / 2), &style)?;
        }
        Ok(())
    }
}

figure_methods!(Imshow);

/// matplotlib-style ticks around an image drawn at `(x, y)` with size `(w, h)`
/// on screen and `(cols, rows)` pixels; `(left, bottom)` is the room for labels.
pub(crate) fn pixel_axes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (w, h): (u32, u32),
    (cols, rows): (usize, usize),
    (left, bottom): (u32, u32),
    font_size: f64,
) -> Result<()> {
    let area = root
        .clone()
        .shrink((x - left as i32, y), (w + left, h + bottom));
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(bottom)
        .y_label_area_size(left)
        .build_cartesian_2d(
            TickedAxis::pixels(cols, false),
            TickedAxis::pixels(rows, true),
        )
        .map_err(plot_err)?;
    let whole = |v: &f64| format!("{}", v.round() as i64);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(cols + 1)
        .y_labels(rows + 1)
        .label_style(text_style(font_size, HPos::Center, VPos::Center))
        .x_label_formatter(&whole)
        .y_label_formatter(&whole)
        .set_all_tick_mark_size(4)
        .draw()
        .map_err(plot_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn digit() -> Tensor {
        // A bright vertical bar in column 20, rows 4..24.
        let mut v = vec![0u8; 28 * 28];
        for r in 4..24 {
            v[r * 28 + 20] = 255;
        }
        Tensor::from_vec(v, (28, 28), &Device::Cpu).unwrap()
    }

    #[test]
    fn pixels_land_where_matplotlib_puts_them() {
        let plot = imshow(&digit()).unwrap();
        let fig = plot.render().unwrap();
        assert_eq!((fig.width(), fig.height()), plot.size());
        let cell = 14;
        let centre = |col: u32, row: u32| {
            fig.pixel(LEFT + col * cell + 7, TOP_PLAIN + row * cell + 7)
                .unwrap()
        };
        assert_eq!(
            centre(20, 10),
            [253, 231, 37],
            "bright pixel is viridis yellow"
        );
        assert_eq!(centre(5, 10), [68, 1, 84], "background is viridis purple");
        assert_eq!(
            centre(20, 2),
            [68, 1, 84],
            "row 2 is above the bar: rows run downwards"
        );
    }

    #[test]
    fn greys_and_axes_off() {
        let fig = imshow(&digit())
            .unwrap()
            .cmap(Colormap::Greys)
            .axes(false)
            .render()
            .unwrap();
        assert_eq!(
            fig.pixel(8 + 20 * 14 + 7, 8 + 10 * 14 + 7).unwrap(),
            [0, 0, 0]
        );
        assert_eq!(fig.pixel(8 + 3 * 14, 8 + 3 * 14).unwrap(), [255, 255, 255]);
    }

    #[test]
    fn bad_value_range_is_an_error() {
        assert!(imshow(&digit()).unwrap().value_range(1.0, 1.0).is_err());
    }
}
