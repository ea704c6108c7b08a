//! `plot::history`: loss and accuracy per epoch, for training and validation.
//!
//! Two panels side by side like the usual Keras `history.history` plots: loss
//! on the left, accuracy on the right, the training curve in matplotlib's first
//! colour and validation in its second, epochs counted from 1. There is one
//! panel per quantity the run recorded (the loss, then each metric such as
//! accuracy or mae); a panel with nothing to show is left out.
//!
//! ```
//! use dlkit::{plot, train::History};
//! let h = History::from_metrics([
//!     ("loss", vec![0.28, 0.11, 0.07]),
//!     ("accuracy", vec![0.920, 0.968, 0.979]),
//! ]);
//! let figure = plot::history(&h)?.title("baseline MLP");
//! assert_eq!(figure.size(), (960, 454));
//! # Ok::<(), dlkit::Error>(())
//! ```

use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{nice_step, nice_ticks, styled_mesh, tick_label, TickedAxis};
use super::figure::{figure_methods, plot_err, Draw};
use super::raster::{text, text_style};
use crate::error::{Error, Result};
use crate::train::History;

/// matplotlib's first two colours (`C0`, `C1`).
pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
const PANEL_WIDTH: u32 = 480;
const HEIGHT: u32 = 420;
const TITLE_BAND: u32 = 34;
/// Series longer than this are thinned before drawing, keeping each stretch's
/// first, lowest, highest and last value (so no spike is lost): a panel is
/// about 400 pixels wide, and ten million epochs would otherwise take minutes.
const MAX_DRAWN_POINTS: usize = 4000;
/// Epochs get a marker each only up to here; beyond, markers merge into a band.
const MAX_MARKERS: usize = 500;

/// A training-history plot; see [`history`].
#[derive(Clone, Debug)]
pub struct HistoryPlot {
    panels: Vec<Panel>,
    title: Option<String>,
}

#[derive(Clone, Debug)]
struct Panel {
    quantity: String,
    train: Vec<f64>,
    validation: Vec<f64>,
}

/// Plots a training run per epoch: one panel per quantity (the loss, then
/// each metric), each with its validation curve when there is one.
pub fn history(history: &History) -> Result<HistoryPlot> {
    let panels: Vec<Panel> = history
        .metrics
        .iter()
        .filter(|(key, _)| !key.starts_with("val_"))
        .map(|(key, train)| Panel {
            quantity: key.clone(),
            train: train.clone(),
            validation: history
                .get(&format!("val_{key}"))
                .unwrap_or_default()
                .to_vec(),
        })
        .filter(|p| p.train.iter().chain(&p.validation).any(|v| v.is_finite()))
        .collect();
    if panels.is_empty() {
        return Err(Error::InvalidArgument(
            "the history has no finite loss or accuracy values to plot: train the model with `fit` first".into(),
        ));
    }
    Ok(HistoryPlot {
        panels,
        title: None,
    })
}

impl HistoryPlot {
    /// A title above both panels.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    fn top(&self) -> u32 {
        if self.title.is_some() {
            TITLE_BAND
        } else {
            0
        }
    }
}

impl Draw for HistoryPlot {
    fn size(&self) -> (u32, u32) {
        (PANEL_WIDTH * self.panels.len() as u32, HEIGHT + self.top())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (width, height) = self.size();
        if let Some(title) = &self.title {
            let style = text_style(18.0, HPos::Center, VPos::Center);
            text(
                root,
                title,
                (width as i32 / 2, TITLE_BAND as i32 / 2 + 4),
                &style,
            )?;
        }
        let body = root
            .clone()
            .shrink((0, self.top()), (width, height - self.top()));
        let areas = body.split_evenly((1, self.panels.len()));
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

figure_methods!(HistoryPlot);

impl Panel {
    fn epochs(&self) -> usize {
        self.train.len().max(self.validation.len()).max(1)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (y_axis, y_step) = self.value_axis();
        let title = format!("model {}", self.quantity);
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(22)
            .margin_left(8)
            .caption(title, text_style(16.0, HPos::Center, VPos::Top))
            .x_label_area_size(46)
            .y_label_area_size(62)
            .build_cartesian_2d(self.epoch_axis(), y_axis)
            .map_err(plot_err)?;
        let x_format = |v: &f64| format!("{}", v.round() as i64);
        let y_format = move |v: &f64| tick_label(*v, y_step);
        styled_mesh(&mut chart)
            .x_labels(32)
            .y_labels(32)
            .x_desc("epoch")
            .y_desc(self.quantity.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .draw()
            .map_err(plot_err)?;
        if self.draw_curves(&mut chart)? {
            self.draw_legend(&mut chart)?;
        }
        Ok(())
    }

    /// Epochs from 1, with a margin either side and whole-epoch ticks.
    fn epoch_axis(&self) -> TickedAxis {
        let n = self.epochs();
        let x_pad = if n == 1 {
            0.5
        } else {
            (0.05 * (n - 1) as f64).max(0.25)
        };
        let x_ticks: Vec<f64> = nice_ticks(1.0, n as f64, 10)
            .into_iter()
            .filter(|t| t.fract() == 0.0 && *t >= 1.0)
            .collect();
        TickedAxis::new(1.0 - x_pad, n as f64 + x_pad, x_ticks)
    }

    /// The finite values' range with a margin, and the step its tick labels are written to.
    fn value_axis(&self) -> (TickedAxis, f64) {
        let values = self
            .train
            .iter()
            .chain(&self.validation)
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        // Differences at the last digits of f64 (or between subnormals) cannot
        // be labelled apart: such values are drawn like constant ones.
        let magnitude = lo.abs().max(hi.abs());
        let spread = hi / 2.0 - lo / 2.0;
        let spread = if spread > magnitude * 1e-12 && spread > 1e-300 {
            2.0 * spread
        } else {
            magnitude.max(1.0) * 0.1
        };
        let pad = |v: f64| v.clamp(-f64::MAX, f64::MAX);
        let (y_lo, y_hi) = (pad(lo - 0.06 * spread), pad(hi + 0.06 * spread));
        let y_ticks = nice_ticks(y_lo, y_hi, 8);
        let y_step = nice_step((y_hi / 2.0 - y_lo / 2.0) / 4.0);
        (TickedAxis::new(y_lo, y_hi, y_ticks), y_step)
    }

    /// The training and validation curves, each with its legend entry; false when
    /// neither has a finite value to draw.
    fn draw_curves<'a, DB: DrawingBackend + 'a>(&self, chart: &mut Chart<'a, DB>) -> Result<bool> {
        let mut any_series = false;
        for (series, name, color) in [
            (&self.train, "train", BLUE),
            (&self.validation, "validation", ORANGE),
        ] {
            let points: Vec<(f64, f64)> = series
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| (i as f64 + 1.0, v))
                .collect();
            if points.is_empty() {
                continue;
            }
            any_series = true;
            // Not drawn, so said: a NaN or infinite epoch is not silently left out.
            let skipped = series.len() - points.len();
            let label = match skipped {
                0 => name.to_string(),
                n => format!("{name} ({n} NaN/inf not drawn)"),
            };
            let markers = points.len() <= MAX_MARKERS;
            let points = thin_out(points, MAX_DRAWN_POINTS);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 22, y)], color.stroke_width(2))
                });
            if markers {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(plot_err)?;
            }
        }
        Ok(any_series)
    }

    /// The legend, out of the curves' way: they fall towards the lower right when
    /// smaller is better, and rise towards the upper right otherwise.
    fn draw_legend<'a, DB: DrawingBackend + 'a>(&self, chart: &mut Chart<'a, DB>) -> Result<()> {
        let corner = if crate::train::maximised(&self.quantity) {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        };
        chart
            .configure_series_labels()
            .position(corner)
            .margin(10)
            .label_font(text_style(13.0, HPos::Left, VPos::Top))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_err)
    }
}

/// A panel's chart: epochs across, values up.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickedAxis, TickedAxis>>;

/// At most about `max` of `points` (in order), keeping the first, lowest,
/// highest and last point of each of `max / 4` equal stretches.
fn thin_out(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let stretch = points.len().div_ceil((max / 4).max(1));
    let mut kept = Vec::with_capacity(max + 4);
    for chunk in points.chunks(stretch) {
        let by_value = |a: &&(f64, f64), b: &&(f64, f64)| a.1.total_cmp(&b.1);
        // Chunks are never empty, so each has a first, last, min and max.
        let (Some(&first), Some(&last)) = (chunk.first(), chunk.last()) else {
            continue;
        };
        let low = *chunk.iter().min_by(by_value).unwrap_or(&first);
        let high = *chunk.iter().max_by(by_value).unwrap_or(&first);
        let (a, b) = if low.0 <= high.0 {
            (low, high)
        } else {
            (high, low)
        };
        for p in [first, a, b, last] {
            if kept.last() != Some(&p) {
                kept.push(p);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_series_are_thinned_keeping_spikes() {
        let mut points: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, 1.0)).collect();
        points[54_321].1 = 9.0;
        let thin = thin_out(points, 4000);
        assert!(thin.len() <= 4004, "{}", thin.len());
        assert!(thin.contains(&(54_321.0, 9.0)));
        assert_eq!(thin.first(), Some(&(0.0, 1.0)));
        assert_eq!(thin.last(), Some(&(99_999.0, 1.0)));
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn panels_follow_what_was_recorded() {
        let series = |pairs: &[(&str, Vec<f64>)]| History::from_metrics(pairs.to_vec());
        let only_loss = series(&[("loss", vec![1.0, 0.5])]);
        assert_eq!(history(&only_loss).unwrap().panels.len(), 1);
        let full = series(&[
            ("loss", vec![0.3, 0.1]),
            ("accuracy", vec![0.9, 0.97]),
            ("val_loss", vec![0.2, 0.15]),
            ("val_accuracy", vec![0.95, 0.96]),
        ]);
        let plot = history(&full).unwrap();
        assert_eq!(
            plot.panels
                .iter()
                .map(|p| p.quantity.as_str())
                .collect::<Vec<_>>(),
            ["loss", "accuracy"]
        );
        assert!(history(&History::default()).is_err());
        let nan = series(&[("loss", vec![f64::NAN])]);
        assert!(history(&nan).is_err());
    }
}
