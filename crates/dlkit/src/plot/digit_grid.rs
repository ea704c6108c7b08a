//! `plot::digit_grid`: several digits in a grid, each titled with its label.
//!
//! The notebook version of the tutorials' `plt.subplot(221) ... plt.imshow(X_train[i],
//! cmap='gray')`: the first four training digits in a 2×2 grid, or any small batch.
//! Each digit is shaded over its own minimum and maximum, as matplotlib does per subplot.
//!
//! ```
//! use dlkit::plot;
//! use dlkit::{Device, Tensor};
//! let images = Tensor::zeros((4, 28, 28), dlkit::DType::U8, &Device::Cpu)?;
//! let labels = Tensor::new(&[5u8, 0, 4, 1], &Device::Cpu)?;
//! let grid = plot::digit_grid(&images, &labels)?; // 2 × 2, gray
//! let wide = plot::digit_grid(&images, &[5, 0, 4, 1])?.cols(4);
//! assert!(wide.size().0 > grid.size().0);
//! # Ok::<(), dlkit::Error>(())
//! ```

use std::fmt::Display;

use candle_core::{DType, Tensor};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::colormap::Colormap;
use super::data::{image_batch, Gray};
use super::figure::{figure_methods, scaled, Draw};
use super::imshow::pixel_axes;
use super::raster::{draw_image, frame, text, text_style, Placement, Shading};
use crate::display::shape_of;
use crate::error::{Error, Result};

/// The most digits one grid draws.
pub const MAX_DIGITS: usize = 400;
/// Screen pixels the grid aims to fill horizontally, and the largest digit side.
const TARGET_WIDTH: u32 = 600;
const MAX_SIDE: u32 = 140;
const GAP: u32 = 14;
const MARGIN: u32 = 12;
const LABEL_BAND: u32 = 22;
const TITLE_BAND: u32 = 36;
/// Room for tick labels when axes are drawn.
const AXIS_LEFT: u32 = 28;
const AXIS_BOTTOM: u32 = 20;

/// Labels to put over digits: a tensor of class indices (`y_train`) or one-hot
/// rows (`to_categorical` output, shown as their argmax), or any slice of
/// displayable values (`&[5, 0, 4, 1]`, `&["cat", "dog"]`).
pub trait Labels {
    /// The first `n` labels as text.
    fn first_labels(&self, n: usize) -> Result<Vec<String>>;
}

impl Labels for Tensor {
    fn first_labels(&self, n: usize) -> Result<Vec<String>> {
        let shape_error = || {
            Error::Shape(format!(
                "plot::digit_grid: labels must be class indices of shape (N,) or one-hot rows \
                 of shape (N, classes); got a tensor of shape {}",
                shape_of(self)
            ))
        };
        // A scalar has no rows to take the first n of.
        if !(1..=2).contains(&self.rank()) {
            return Err(shape_error());
        }
        let rows = self.dim(0)?;
        let t = self.narrow(0, 0, n.min(rows))?;
        match t.rank() {
            1 if t.dtype().is_int() => Ok(t
                .to_dtype(DType::I64)?
                .to_vec1::<i64>()?
                .iter()
                .map(i64::to_string)
                .collect()),
            1 => Ok(t
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?
                .iter()
                .map(|v| format!("{v}"))
                .collect()),
            2 => Ok(t
                .argmax(1)?
                .to_vec1::<u32>()?
                .iter()
                .map(u32::to_string)
                .collect()),
            _ => Err(shape_error()),
        }
    }
}

impl<T: Display> Labels for [T] {
    fn first_labels(&self, n: usize) -> Result<Vec<String>> {
        Ok(self.iter().take(n).map(|l| l.to_string()).collect())
    }
}

impl<T: Display> Labels for Vec<T> {
    fn first_labels(&self, n: usize) -> Result<Vec<String>> {
        self.as_slice().first_labels(n)
    }
}

impl<T: Display, const N: usize> Labels for [T; N] {
    fn first_labels(&self, n: usize) -> Result<Vec<String>> {
        self.as_slice().first_labels(n)
    }
}

/// A grid of digits; see [`digit_grid`].
#[derive(Clone, Debug)]
pub struct DigitGrid {
    images: Vec<Gray>,
    labels: Vec<String>,
    cols: Option<usize>,
    cmap: Colormap,
    title: Option<String>,
    axes: bool,
    cell: Option<u32>,
}

/// Draws a batch of images — `(N, 28, 28)`, `(N, 1, 28, 28)`, `(N, 28, 28, 1)` or
/// flattened `(N, 784)`, any dtype, at most [`MAX_DIGITS`] — in gray, each
/// titled with its label. `labels` may be longer than the batch (e.g. all of
/// `y_train`): the first N are used.
pub fn digit_grid<L: Labels + ?Sized>(images: &Tensor, labels: &L) -> Result<DigitGrid> {
    let images = image_batch(images, "plot::digit_grid", MAX_DIGITS)?;
    let labels = labels.first_labels(images.len())?;
    if labels.len() < images.len() {
        return Err(Error::Shape(format!(
            "plot::digit_grid got {} images but only {} labels",
            images.len(),
            labels.len()
        )));
    }
    Ok(DigitGrid {
        images,
        labels,
        cols: None,
        cmap: Colormap::Gray,
        title: None,
        axes: false,
        cell: None,
    })
}

/// [`digit_grid`] without labels.
pub fn digits(images: &Tensor) -> Result<DigitGrid> {
    let images = image_batch(images, "plot::digits", MAX_DIGITS)?;
    Ok(DigitGrid {
        images,
        labels: Vec::new(),
        cols: None,
        cmap: Colormap::Gray,
        title: None,
        axes: false,
        cell: None,
    })
}

impl DigitGrid {
    /// Digits per row (default: the smallest square grid, at most 10 across).
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = Some(cols.max(1));
        self
    }

    /// The colour map (default [`Colormap::Gray`]: white ink on black, as the tutorials show MNIST).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// A title above the grid.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Pixel ticks around every digit, like matplotlib's subplots (default off).
    pub fn axes(mut self, show: bool) -> Self {
        self.axes = show;
        self
    }

    /// Screen pixels per image pixel (default: chosen from the number of columns).
    pub fn scale(mut self, pixels_per_cell: u32) -> Self {
        self.cell = Some(pixels_per_cell.clamp(1, 32));
        self
    }

    fn columns(&self) -> usize {
        let n = self.images.len();
        let auto = ((n as f64).sqrt().ceil() as usize).clamp(1, 10);
        self.cols.unwrap_or(auto).min(n).max(1)
    }

    fn rows(&self) -> usize {
        self.images.len().div_ceil(self.columns())
    }

    /// Largest image height and width (all images of a batch share them).
    fn image_dims(&self) -> (u32, u32) {
        self.images
            .first()
            .map_or((1, 1), |g| (side_u32(g.height), side_u32(g.width)))
    }

    fn cell(&self) -> u32 {
        let (h, w) = self.image_dims();
        self.cell.unwrap_or_else(|| {
            let side = (TARGET_WIDTH / self.columns() as u32).min(MAX_SIDE);
            (side / h.max(w)).max(1)
        })
    }

    /// Size of one tile (label band, image, axis room) and its image offset inside.
    fn tile(&self) -> ((u32, u32), (u32, u32)) {
        let (h, w) = self.image_dims();
        let cell = self.cell();
        let label = if self.labels.is_empty() {
            0
        } else {
            LABEL_BAND
        };
        let (left, bottom) = if self.axes {
            (AXIS_LEFT, AXIS_BOTTOM)
        } else {
            (0, 0)
        };
        let (w, h) = (w as usize, h as usize);
        (
            (scaled(w, cell, left), scaled(h, cell, label + bottom)),
            (left, label),
        )
    }

    fn top(&self) -> u32 {
        MARGIN + if self.title.is_some() { TITLE_BAND } else { 0 }
    }
}

/// An image side as `u32`, saturating (such a grid is then refused as too large).
fn side_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Draw for DigitGrid {
    fn image_pixels(&self) -> u64 {
        self.images.iter().map(|g| g.values.len() as u64).sum()
    }

    fn size(&self) -> (u32, u32) {
        let ((tw, th), _) = self.tile();
        // Saturating, so an oversized grid is refused by `render`, not wrapped.
        let (cols, rows) = (self.columns(), self.rows());
        (
            scaled(cols, tw.saturating_add(GAP), 2 * MARGIN).saturating_sub(GAP),
            scaled(rows, th.saturating_add(GAP), self.top() + MARGIN).saturating_sub(GAP),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let ((tw, th), (dx, dy)) = self.tile();
        let cell = self.cell();
        let cols = self.columns();
        let label_style = text_style(14.0, HPos::Center, VPos::Center);
        for (i, image) in self.images.iter().enumerate() {
            let (col, row) = ((i % cols) as u32, (i / cols) as u32);
            let x0 = (MARGIN + col * (tw + GAP)) as i32;
            let y0 = (self.top() + row * (th + GAP)) as i32;
            let (ix, iy) = (x0 + dx as i32, y0 + dy as i32);
            draw_image(
                root,
                image,
                Placement { x: ix, y: iy, cell },
                Shading::spanning(self.cmap, image),
            )?;
            let (w, h) = (
                (image.width as u32 * cell) as i32,
                (image.height as u32 * cell) as i32,
            );
            if self.axes {
                pixel_axes(
                    root,
                    (ix, iy),
                    (w as u32, h as u32),
                    (image.width, image.height),
                    (AXIS_LEFT, AXIS_BOTTOM),
                    10.0,
                )?;
                frame(root, (ix, iy, w, h), BLACK)?;
            } else {
                frame(root, (ix, iy, w, h), RGBColor(190, 190, 190))?;
            }
            if let Some(label) = self.labels.get(i) {
                text(
                    root,
                    label,
                    (ix + w / 2, y0 + LABEL_BAND as i32 / 2),
                    &label_style,
                )?;
            }
        }
        if let Some(title) = &self.title {
            let (width, _) = self.size();
            let style = text_style(17.0, HPos::Center, VPos::Center);
            text(
                root,
                title,
                (width as i32 / 2, (MARGIN + TITLE_BAND / 2) as i32),
                &style,
            )?;
        }
        Ok(())
    }
}

figure_methods!(DigitGrid);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn batch(n: usize) -> Tensor {
        Tensor::zeros((n, 28, 28), DType::U8, &Device::Cpu).unwrap()
    }

    #[test]
    fn automatic_columns_make_a_square_grid() {
        let cases = [
            (1, 1, 1),
            (4, 2, 2),
            (5, 3, 2),
            (16, 4, 4),
            (100, 10, 10),
            (150, 10, 15),
        ];
        for (n, cols, rows) in cases {
            let labels: Vec<usize> = (0..n).collect();
            let g = digit_grid(&batch(n), &labels).unwrap();
            assert_eq!((g.columns(), g.rows()), (cols, rows), "n = {n}");
        }
        let g = digit_grid(&batch(4), &[1, 2, 3, 4]).unwrap().cols(4);
        assert_eq!((g.columns(), g.rows()), (4, 1));
    }

    #[test]
    fn labels_from_tensors_and_slices() {
        let dev = Device::Cpu;
        let y = Tensor::new(&[5u8, 0, 4, 1, 9], &dev).unwrap();
        assert_eq!(y.first_labels(4).unwrap(), ["5", "0", "4", "1"]);
        let one_hot = Tensor::new(&[[0f32, 1.0, 0.0], [0.0, 0.0, 1.0]], &dev).unwrap();
        assert_eq!(one_hot.first_labels(5).unwrap(), ["1", "2"]);
        assert_eq!(["a", "b", "c"].first_labels(2).unwrap(), ["a", "b"]);
        let err = digit_grid(&batch(4), &[1, 2]).unwrap_err().to_string();
        assert!(err.contains("4 images but only 2 labels"), "{err}");
    }
}
