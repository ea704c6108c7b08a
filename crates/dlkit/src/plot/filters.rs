//! `plot::filters`: the learned kernels of a convolution layer as small images.
//!
//! A Conv2D kernel in dlkit has candle's shape `(out_channels, in_channels,
//! kh, kw)`: one small image per output channel. The first layer of an MNIST
//! network has one input channel, so each filter is shown as it is; for deeper
//! layers the filters are averaged over their input channels (the title says
//! so), or one input channel is picked with [`Filters::input_channel`].
//!
//! With the default gray map each filter is stretched over its own minimum
//! (black) to maximum (white). With the diverging [`Colormap::RdBu`] each is
//! scaled to ±its largest absolute weight instead, so white means zero, blue
//! negative and red positive.
//!
//! ```
//! use dlkit::plot;
//! use dlkit::{Device, Tensor};
//! let kernel = Tensor::randn(0f32, 1.0, (32, 1, 3, 3), &Device::Cpu)?;
//! let figure = plot::filters(&kernel)?; // 8 columns × 4 rows
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::{DType, Tensor};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::colormap::Colormap;
use super::data::Gray;
use super::figure::{figure_methods, scaled, Draw};
use super::raster::{draw_image, frame, text, text_style, Placement, Shading};
use crate::display::shape_of;
use crate::error::{Error, Result};

/// The most filters one figure draws.
pub const MAX_FILTERS: usize = 1024;
const MARGIN: u32 = 14;
const GAP: u32 = 10;
const INDEX_BAND: u32 = 16;
const TITLE_BAND: u32 = 50;
/// About this many screen pixels along a filter's longer side.
const TILE_SIDE: u32 = 64;
const DEFAULT_COLS: usize = 8;

/// Which input channel of each filter is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Mean,
    Index(usize),
}

/// Convolution filters as a grid; see [`filters`].
#[derive(Clone, Debug)]
pub struct Filters {
    /// The kernel's values, `(out, in, kh, kw)` row-major.
    weights: Vec<f32>,
    dims: [usize; 4],
    channel: Channel,
    cmap: Colormap,
    cols: Option<usize>,
    title: Option<String>,
}

/// Shows each output channel of a Conv2D kernel of shape `(out_channels,
/// in_channels, kh, kw)` (or `(out_channels, kh, kw)`) as a small image,
/// numbered from 0. `Var`s work too (`&conv.weight()`, a `Var` derefs to a tensor).
pub fn filters(kernel: &Tensor) -> Result<Filters> {
    let dims = match *kernel.dims() {
        [o, i, h, w] => [o, i, h, w],
        [o, h, w] => [o, 1, h, w],
        _ => {
            return Err(Error::Shape(format!(
                "plot::filters takes a Conv2D kernel of shape (out_channels, in_channels, kh, kw); \
                 got a tensor of shape {}",
                shape_of(kernel)
            )))
        }
    };
    if dims.contains(&0) {
        return Err(Error::Shape(format!(
            "plot::filters got an empty kernel of shape {}",
            shape_of(kernel)
        )));
    }
    if dims[0] > MAX_FILTERS {
        return Err(Error::InvalidArgument(format!(
            "plot::filters draws at most {MAX_FILTERS} filters and the kernel has {}: \
             narrow it first, e.g. `kernel.narrow(0, 0, 64)?`",
            dims[0]
        )));
    }
    let weights = kernel
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let channel = if dims[1] == 1 {
        Channel::Index(0)
    } else {
        Channel::Mean
    };
    Ok(Filters {
        weights,
        dims,
        channel,
        cmap: Colormap::Gray,
        cols: None,
        title: None,
    })
}

impl Filters {
    /// Shows input channel `channel` of every filter instead of the mean over input channels.
    pub fn input_channel(mut self, channel: usize) -> Result<Self> {
        if channel >= self.dims[1] {
            return Err(Error::InvalidArgument(format!(
                "plot::filters: input channel {channel} does not exist; the kernel has {} input channel(s)",
                self.dims[1]
            )));
        }
        self.channel = Channel::Index(channel);
        Ok(self)
    }

    /// Averages every filter over its input channels (the default when there are several).
    pub fn mean_over_inputs(mut self) -> Self {
        self.channel = Channel::Mean;
        self
    }

    /// The colour map: [`Colormap::Gray`] (default) or the diverging [`Colormap::RdBu`].
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// Filters per row (default 8).
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = Some(cols.max(1));
        self
    }

    /// The title (default: "Conv2D filters (32 × 3×3)").
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The image shown for output channel `o`.
    fn filter(&self, o: usize) -> Gray {
        let [_, inputs, kh, kw] = self.dims;
        let size = kh * kw;
        let channel =
            |i: usize| &self.weights[(o * inputs + i) * size..(o * inputs + i + 1) * size];
        let values = match self.channel {
            Channel::Index(i) => channel(i).to_vec(),
            Channel::Mean => {
                let mut sum = vec![0f32; size];
                for i in 0..inputs {
                    for (s, v) in sum.iter_mut().zip(channel(i)) {
                        *s += v;
                    }
                }
                sum.iter().map(|s| s / inputs as f32).collect()
            }
        };
        Gray {
            height: kh,
            width: kw,
            values,
        }
    }

    fn shading(&self, filter: &Gray) -> Shading {
        let shading = Shading::spanning(self.cmap, filter);
        if self.cmap.is_diverging() {
            // Centred on zero, so that zero weights get the map's middle colour.
            let m = shading.lo.abs().max(shading.hi.abs());
            Shading {
                lo: -m,
                hi: m,
                ..shading
            }
        } else {
            shading
        }
    }

    fn columns(&self) -> usize {
        self.cols.unwrap_or(DEFAULT_COLS).min(self.dims[0])
    }

    fn cell(&self) -> u32 {
        // `filters` refuses zero sizes, so the divisor is at least 1.
        let longest = self.dims[2].max(self.dims[3]);
        (TILE_SIDE / u32::try_from(longest).unwrap_or(u32::MAX)).max(1)
    }

    /// What each tile shows, for the line under the title.
    fn note(&self) -> String {
        let inputs = self.dims[1];
        let which = match self.channel {
            Channel::Index(_) if inputs == 1 => String::new(),
            Channel::Index(i) => format!("input channel {i} of {inputs}; "),
            Channel::Mean => format!("mean over {inputs} input channels; "),
        };
        let scale = if self.cmap.is_diverging() {
            "each scaled to ±its largest |weight|, white = 0"
        } else {
            "each scaled to its own min (black) .. max (white)"
        };
        format!("{which}{scale}")
    }
}

impl Draw for Filters {
    fn size(&self) -> (u32, u32) {
        let cell = self.cell();
        // Saturating, so an oversized kernel is refused by `render`, not wrapped.
        let (tw, th) = (
            scaled(self.dims[3], cell, 0),
            scaled(self.dims[2], cell, INDEX_BAND),
        );
        let cols = self.columns();
        let rows = self.dims[0].div_ceil(cols);
        let width = scaled(cols, tw.saturating_add(GAP), 2 * MARGIN)
            .saturating_sub(GAP)
            .max(420);
        let height = scaled(rows, th.saturating_add(GAP), TITLE_BAND + MARGIN).saturating_sub(GAP);
        (width, height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let [outputs, _, kh, kw] = self.dims;
        let cell = self.cell();
        let (w, h) = (kw as u32 * cell, kh as u32 * cell);
        let cols = self.columns();
        let (width, _) = self.size();
        let grid_width = cols as u32 * w + (cols as u32 - 1) * GAP;
        let left = (width - grid_width) / 2;
        let index_style = text_style(11.0, HPos::Center, VPos::Center);
        for o in 0..outputs {
            let filter = self.filter(o);
            let (col, row) = ((o % cols) as u32, (o / cols) as u32);
            let x = (left + col * (w + GAP)) as i32;
            let y0 = (TITLE_BAND + row * (h + INDEX_BAND + GAP)) as i32;
            let y = y0 + INDEX_BAND as i32;
            draw_image(
                root,
                &filter,
                Placement { x, y, cell },
                self.shading(&filter),
            )?;
            frame(root, (x, y, w as i32, h as i32), RGBColor(160, 160, 160))?;
            text(
                root,
                &o.to_string(),
                (x + w as i32 / 2, y0 + INDEX_BAND as i32 / 2),
                &index_style,
            )?;
        }
        let title = self
            .title
            .clone()
            .unwrap_or_else(|| format!("Conv2D filters ({outputs} × {kh}×{kw})"));
        text(
            root,
            &title,
            (width as i32 / 2, 16),
            &text_style(16.0, HPos::Center, VPos::Center),
        )?;
        text(
            root,
            &self.note(),
            (width as i32 / 2, 36),
            &text_style(12.0, HPos::Center, VPos::Center),
        )?;
        Ok(())
    }
}

figure_methods!(Filters);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn kernel() -> Tensor {
        // Filter o, input i: all values o * 10 + i, except one larger weight per filter.
        let (o, i, k) = (4, 2, 3);
        let mut v = Vec::new();
        for oo in 0..o {
            for ii in 0..i {
                for p in 0..k * k {
                    v.push((oo * 10 + ii) as f32 + if p == 4 { 0.5 } else { 0.0 });
                }
            }
        }
        Tensor::from_vec(v, (o, i, k, k), &Device::Cpu).unwrap()
    }

    #[test]
    fn mean_and_single_input_channel() {
        let f = filters(&kernel()).unwrap();
        assert_eq!(f.channel, Channel::Mean);
        assert_eq!(f.filter(2).values[0], 20.5);
        assert_eq!(f.filter(2).values[4], 21.0);
        let f = f.input_channel(1).unwrap();
        assert_eq!(f.filter(3).values[0], 31.0);
        assert!(f.note().contains("input channel 1 of 2"));
        assert!(filters(&kernel()).unwrap().input_channel(2).is_err());
    }

    #[test]
    fn shapes_are_checked() {
        let bad = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
        let err = filters(&bad).unwrap_err().to_string();
        assert!(
            err.contains("(out_channels, in_channels, kh, kw)") && err.contains("(3, 3)"),
            "{err}"
        );
    }

    #[test]
    fn diverging_map_is_symmetric() {
        let f = filters(&kernel()).unwrap().cmap(Colormap::RdBu);
        let s = f.shading(&Gray {
            height: 1,
            width: 2,
            values: vec![-1.0, 3.0],
        });
        assert_eq!((s.lo, s.hi), (-3.0, 3.0));
    }
}
