//! A plotters axis with ticks chosen the way matplotlib chooses them.
//!
//! plotters picks its own key points (0.5, 1.5, ... on an epoch axis) and maps
//! the end of a range one pixel short of the plotting area's edge. Images need
//! each data pixel to cover exactly the same number of screen pixels and ticks
//! on whole rows, so the plots use this axis instead: a linear range `lo..hi`
//! with an explicit tick list, optionally running downwards like an image's rows.

use std::ops::Range;

use plotters::chart::{ChartContext, MeshStyle};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::raster::text_style;

/// A linear axis from `lo` to `hi` with the ticks given.
#[derive(Clone, Debug)]
pub(crate) struct TickedAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    /// For a vertical axis: `lo` at the top (image rows) instead of the bottom.
    top_down: bool,
}

impl TickedAxis {
    pub(crate) fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        TickedAxis {
            lo,
            hi,
            ticks,
            top_down: false,
        }
    }

    /// The axis of an image dimension with `n` pixels: pixel `i` covers
    /// `i - 0.5 .. i + 0.5` and ticks fall on whole pixels, like `plt.imshow`.
    pub(crate) fn pixels(n: usize, top_down: bool) -> Self {
        let ticks = nice_ticks(0.0, (n.max(1) - 1) as f64, 6)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
            .collect();
        TickedAxis {
            lo: -0.5,
            hi: n as f64 - 0.5,
            ticks,
            top_down,
        }
    }
}

/// A chart's mesh in the plots' common style, matplotlib's look: light grey grid lines at
/// the ticks only, black axes, 13 px tick labels and 14 px axis descriptions. The caller
/// adds the labels' count and format and the descriptions, then draws it.
pub(crate) fn styled_mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<TickedAxis, TickedAxis>>,
) -> MeshStyle<'a, 'b, TickedAxis, TickedAxis, DB> {
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .axis_style(BLACK)
        .label_style(text_style(13.0, HPos::Center, VPos::Center))
        .axis_desc_style(text_style(14.0, HPos::Center, VPos::Center));
    mesh
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // plotters hands the first and last pixel *inside* the area; use the
        // outer edges so `lo` and `hi` land on the area's borders.
        let (start, end) = if limit.1 >= limit.0 {
            (limit.0 as f64, limit.1 as f64 + 1.0)
        } else {
            (limit.0 as f64 + 1.0, limit.1 as f64)
        };
        let (start, end) = if self.top_down {
            (end, start)
        } else {
            (start, end)
        };
        // Halves, so that a range near ±f64::MAX does not overflow to infinity.
        let span = self.hi / 2.0 - self.lo / 2.0;
        let f = if span > 0.0 {
            (value / 2.0 - self.lo / 2.0) / span
        } else {
            0.5
        };
        let pixel = (start + f * (end - start)).round() as i32;
        // The far edge is one past the last pixel: keep values inside the range
        // (a tick at `hi`, a bar starting at 0) on the area so plotters draws them.
        if (0.0..=1.0).contains(&f) {
            pixel.clamp(limit.0.min(limit.1), limit.0.max(limit.1))
        } else {
            pixel
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// At most about `max_ticks` round numbers (steps of 1, 2, 2.5 or 5 times a
/// power of ten) covering `lo..=hi`, as matplotlib's default locator picks them.
///
/// A range that `f64` cannot split into round steps (wider than `f64::MAX`,
/// or as narrow as subnormal numbers) gets its two ends as ticks instead.
pub(crate) fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    if hi <= lo {
        return vec![lo];
    }
    let max_ticks = max_ticks.max(1);
    let step = nice_step((hi / 2.0 - lo / 2.0) / max_ticks as f64 * 2.0);
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    // A good step gives at most max_ticks + 1 ticks; anything far off is a
    // range the arithmetic above cannot resolve.
    if !(step.is_finite() && step > 0.0 && first.is_finite() && last.is_finite())
        || last - first > 2.0 * max_ticks as f64 + 2.0
    {
        return vec![lo, hi];
    }
    // Both within ±(4 max_ticks) of each other and finite: the casts are exact.
    (first as i64..=last as i64)
        .map(|k| clean(k as f64 * step, step))
        .collect()
}

/// The smallest "nice" step not below `raw` (not finite or zero when `raw` is).
pub(crate) fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Removes floating-point dust (0.30000000000000004 -> 0.3) where the step is
/// coarse enough for nine decimals to hold it.
fn clean(x: f64, step: f64) -> f64 {
    if step >= 1e-6 && x.abs() < 1e9 {
        (x * 1e9).round() / 1e9
    } else {
        x
    }
}

/// Formats a tick value with just the decimals the step needs.
pub(crate) fn tick_label(value: f64, step: f64) -> String {
    if !(step >= 1e-4 && value.abs() < 1e7) {
        return scientific_label(value, step);
    }
    let decimals = (0..=6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize;
    format!("{value:.decimals$}")
}

/// `2.5e-11`, `1.2e8`: a tick too small or too large for plain decimals, with
/// the digits the step needs.
fn scientific_label(value: f64, step: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = |x: f64| x.abs().log10().floor();
    let mut digits = exponent(value) - exponent(step);
    if step.is_finite() && step > 0.0 {
        let mantissa = step / 10f64.powf(exponent(step));
        if (mantissa - mantissa.round()).abs() > 1e-6 {
            digits += 1.0; // a step of 2.5 × 10^k
        }
    }
    // Clamped to 0..=6, so the cast is exact.
    let digits = if digits.is_finite() {
        digits.clamp(0.0, 6.0) as usize
    } else {
        6
    };
    format!("{value:.digits$e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_axis_ticks_like_matplotlib() {
        assert_eq!(
            TickedAxis::pixels(28, true).ticks,
            vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
        );
        assert_eq!(
            TickedAxis::pixels(5, true).ticks,
            vec![0.0, 1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            TickedAxis::pixels(100, false).ticks,
            vec![0.0, 20.0, 40.0, 60.0, 80.0]
        );
    }

    #[test]
    fn pixel_cells_have_equal_width() {
        let axis = TickedAxis::pixels(28, false);
        // A 280-pixel area: plotters passes (x0, x1 - 1).
        let edges: Vec<i32> = (0..=28)
            .map(|i| axis.map(&(i as f64 - 0.5), (100, 379)))
            .collect();
        assert_eq!(edges[0], 100);
        assert_eq!(edges[27], 370);
        assert_eq!(edges[28], 379, "the far edge is kept on the area");
        assert!(
            edges[..28].windows(2).all(|w| w[1] - w[0] == 10),
            "{edges:?}"
        );
        // Top-down vertical axis: plotters passes (y1 - 1, y0); row 0 is at the top.
        let rows = TickedAxis::pixels(28, true);
        assert_eq!(rows.map(&-0.5, (379, 100)), 100);
        assert_eq!(rows.map(&27.5, (379, 100)), 379, "kept on the area");
        assert_eq!(rows.map(&27.0, (379, 100)), 375);
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.93, 0.99, 5), vec![0.94, 0.96, 0.98]);
        assert_eq!(nice_ticks(1.0, 10.0, 6), vec![2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(0.2, 0.2), "0.2");
        assert_eq!(tick_label(5.0, 1.0), "5");
        assert_eq!(tick_label(2.5, 2.5), "2.5");
    }

    #[test]
    fn ranges_f64_cannot_split_give_their_ends() {
        // Used to build a range of 2^63 ticks ("capacity overflow").
        assert_eq!(nice_ticks(0.0, 5e-324, 8), vec![0.0, 5e-324]);
        let huge = nice_ticks(-f64::MAX, f64::MAX, 8);
        assert!(
            huge.len() >= 2 && huge.iter().all(|t| t.is_finite()),
            "{huge:?}"
        );
        let axis = TickedAxis::new(-f64::MAX, f64::MAX, huge);
        assert_eq!(axis.map(&0.0, (0, 100)), 51);
        assert!(nice_ticks(f64::NAN, 1.0, 8).is_empty());
        let tiny = nice_ticks(1e-10, 2e-10, 5);
        assert_eq!(tiny.len(), 6, "{tiny:?}");
        assert_eq!(tick_label(tiny[1], 2e-11), "1.2e-10");
        assert_eq!(tick_label(1.25e8, 2.5e7), "1.25e8");
        assert_eq!(tick_label(0.0, 1e-9), "0");
    }
}
