//! `plot::sample_prediction`: a digit beside the probabilities a model gives it.
//!
//! The notebook version of tutorial 004's `sample_prediction(index)`, which
//! shows `x_test[index]` with `cmap='Greys'` and prints the argmax of
//! `model.predict`: here the digit (dark ink on white) sits left of a bar chart
//! of the class probabilities, the most probable class's bar highlighted and
//! named in the title, e.g. "predicted 7 (99.8%)". With [`SamplePrediction::label`]
//! the title also gives the true class and, when the two differ, its bar is
//! outlined in green.
//!
//! ```
//! use dlkit::plot;
//! use dlkit::{Device, Tensor};
//! let digit = Tensor::zeros((28, 28), dlkit::DType::F32, &Device::Cpu)?;
//! let probs = Tensor::new(&[0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.998, 0.002, 0.0], &Device::Cpu)?;
//! let figure = plot::sample_prediction(&digit, &probs)?.label(7);
//! assert_eq!(figure.title_text(), "predicted 7 (99.8%), true label 7");
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::{DType, Tensor};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{nice_ticks, styled_mesh, tick_label, TickedAxis};
use super::colormap::Colormap;
use super::data::{single_image, Gray};
use super::figure::{figure_methods, plot_err, Draw};
use super::outcomes::{argmax, class_name, not_probabilities};
use super::raster::{draw_image, frame, text, text_style, Placement, Shading};
use crate::display::shape_of;
use crate::error::{Error, Result};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 380;
const TITLE_BAND: u32 = 44;
const IMAGE_SIDE: u32 = 280;
const IMAGE_LEFT: u32 = 24;
/// Bars: the others in a muted blue, the prediction in matplotlib's C1 orange.
const BAR: RGBColor = RGBColor(150, 180, 210);
const PREDICTED: RGBColor = RGBColor(255, 127, 14);
const TRUE_CLASS: RGBColor = RGBColor(44, 160, 44);

/// A digit with its predicted class probabilities; see [`sample_prediction`].
#[derive(Clone, Debug)]
pub struct SamplePrediction {
    image: Gray,
    probabilities: Vec<f32>,
    label: Option<usize>,
    class_names: Option<Vec<String>>,
    cmap: Colormap,
}

/// Shows `image` (any single-image layout, see [`imshow`](super::imshow)) beside
/// `probabilities`, one model output row of shape `(classes,)` or `(1, classes)`
/// — the softmax output of `model.predict`, so values in [0, 1] summing to 1.
pub fn sample_prediction(image: &Tensor, probabilities: &Tensor) -> Result<SamplePrediction> {
    let image = single_image(image, "plot::sample_prediction")?;
    // Larger images would spill over the bar chart beside them.
    if image.height.max(image.width) > IMAGE_SIDE as usize {
        return Err(Error::InvalidArgument(format!(
            "plot::sample_prediction draws images of up to {IMAGE_SIDE}×{IMAGE_SIDE} pixels \
             beside the bars; this one is {}×{} (use plot::imshow for large images)",
            image.height, image.width
        )));
    }
    let probabilities = match *probabilities.dims() {
        [k] | [1, k] if k > 0 => probabilities
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?,
        _ => {
            return Err(Error::Shape(format!(
                "plot::sample_prediction takes the probabilities of one sample, shape (classes,) \
                 or (1, classes); got a tensor of shape {}",
                shape_of(probabilities)
            )))
        }
    };
    if let Some(why) = not_probabilities(&probabilities) {
        return Err(Error::InvalidArgument(format!(
            "plot::sample_prediction needs probabilities in [0, 1] that sum to 1 (these {why}); \
             if the model outputs logits, apply softmax first"
        )));
    }
    Ok(SamplePrediction {
        image,
        probabilities,
        label: None,
        class_names: None,
        cmap: Colormap::Greys,
    })
}

impl SamplePrediction {
    /// The true class, shown in the title (and outlined if the prediction
    /// missed it). One that is not a class of the probabilities makes drawing
    /// the plot an [`Error::InvalidArgument`].
    pub fn label(mut self, label: usize) -> Self {
        self.label = Some(label);
        self
    }

    /// Names for the classes (e.g. Fashion-MNIST's "T-shirt/top", ...), one per probability.
    pub fn class_names<S: ToString>(mut self, names: &[S]) -> Result<Self> {
        if names.len() != self.probabilities.len() {
            return Err(Error::InvalidArgument(format!(
                "plot::sample_prediction has {} class probabilities but {} class names",
                self.probabilities.len(),
                names.len()
            )));
        }
        self.class_names = Some(names.iter().map(|n| n.to_string()).collect());
        Ok(self)
    }

    /// The colour map of the digit (default [`Colormap::Greys`], as tutorial 004).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// The predicted class: the index of the largest probability.
    pub fn predicted(&self) -> usize {
        argmax(&self.probabilities)
    }

    fn name(&self, class: usize) -> String {
        class_name(self.class_names.as_deref(), class)
    }

    /// The title: "predicted 7 (99.8%)", with ", true label 7" when the label is known.
    pub fn title_text(&self) -> String {
        let p = self.predicted();
        let mut title = format!(
            "predicted {} ({:.1}%)",
            self.name(p),
            100.0 * self.probabilities[p]
        );
        if let Some(label) = self.label {
            title.push_str(&format!(", true label {}", self.name(label)));
        }
        title
    }
}

impl Draw for SamplePrediction {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.check_label()?;
        let predicted = self.predicted();
        let missed = self.label.is_some_and(|l| l != predicted);
        let title_color = if missed { RGBColor(200, 30, 30) } else { BLACK };
        let title_style = text_style(18.0, HPos::Center, VPos::Center).color(&title_color);
        text(
            root,
            &self.title_text(),
            (WIDTH as i32 / 2, TITLE_BAND as i32 / 2),
            &title_style,
        )?;
        self.draw_digit(root)?;
        let left = IMAGE_LEFT + IMAGE_SIDE + 20;
        let area = root
            .clone()
            .shrink((left, TITLE_BAND), (WIDTH - left, HEIGHT - TITLE_BAND));
        self.draw_bars(&area, predicted, missed)
    }
}

impl SamplePrediction {
    /// `label` takes any number (it returns Self, for chaining): a label
    /// that is not a class is refused here, not drawn as "true label 99".
    fn check_label(&self) -> Result<()> {
        let k = self.probabilities.len();
        if let Some(label) = self.label.filter(|&l| l >= k) {
            return Err(Error::InvalidArgument(format!(
                "plot::sample_prediction: label {label} is not one of the {k} classes \
                 (0 to {}) of the probabilities",
                k - 1
            )));
        }
        Ok(())
    }

    /// The digit, scaled to fit a square on the left.
    fn draw_digit<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        // At most IMAGE_SIDE (checked in sample_prediction), so the casts are exact.
        let side = self.image.height.max(self.image.width) as u32;
        let cell = (IMAGE_SIDE / side).max(1);
        let (w, h) = (
            self.image.width as u32 * cell,
            self.image.height as u32 * cell,
        );
        let x = (IMAGE_LEFT + (IMAGE_SIDE - w.min(IMAGE_SIDE)) / 2) as i32;
        let y = (TITLE_BAND + 12 + (IMAGE_SIDE - h.min(IMAGE_SIDE)) / 2) as i32;
        draw_image(
            root,
            &self.image,
            Placement { x, y, cell },
            Shading::spanning(self.cmap, &self.image),
        )?;
        frame(root, (x, y, w as i32, h as i32), BLACK)
    }

    /// The bar chart of the probabilities in `area`: the prediction highlighted with its
    /// value, and a missed true class outlined.
    fn draw_bars<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        predicted: usize,
        missed: bool,
    ) -> Result<()> {
        let k = self.probabilities.len();
        let x_axis = TickedAxis::new(-0.6, k as f64 - 0.4, (0..k).map(|c| c as f64).collect());
        let y_axis = TickedAxis::new(0.0, 1.05, nice_ticks(0.0, 1.0, 5));
        let mut chart = ChartBuilder::on(area)
            .margin_right(16)
            .margin_top(8)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x_axis, y_axis)
            .map_err(plot_err)?;
        let names = |v: &f64| {
            let c = v.round() as usize;
            let name = self.name(c);
            // Long class names would overlap: keep the index on the axis, the name is in the title.
            if name.chars().count() <= 4 {
                name
            } else {
                c.to_string()
            }
        };
        let y_format = |v: &f64| tick_label(*v, 0.2);
        styled_mesh(&mut chart)
            .disable_x_mesh()
            .x_labels(k + 1)
            .y_labels(12)
            .x_desc("class")
            .y_desc("probability")
            .x_label_formatter(&names)
            .y_label_formatter(&y_format)
            .draw()
            .map_err(plot_err)?;
        let bars = self.probabilities.iter().enumerate().map(|(c, &p)| {
            let color = if c == predicted { PREDICTED } else { BAR };
            Rectangle::new(
                [(c as f64 - 0.38, 0.0), (c as f64 + 0.38, p.max(0.0) as f64)],
                color.filled(),
            )
        });
        chart.draw_series(bars).map_err(plot_err)?;
        if let Some(label) = self.label.filter(|&l| missed && l < k) {
            let outline = Rectangle::new(
                [
                    (label as f64 - 0.42, 0.0),
                    (
                        label as f64 + 0.42,
                        (self.probabilities[label] as f64).max(0.02),
                    ),
                ],
                TRUE_CLASS.stroke_width(3),
            );
            chart.draw_series([outline]).map_err(plot_err)?;
        }
        let p = self.probabilities[predicted] as f64;
        let value = format!("{:.1}%", 100.0 * p);
        let style = text_style(12.0, HPos::Center, VPos::Bottom);
        chart
            .draw_series([Text::new(value, (predicted as f64, p + 0.01), style)])
            .map_err(plot_err)?;
        Ok(())
    }
}

figure_methods!(SamplePrediction);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn digit() -> Tensor {
        Tensor::zeros((28, 28), DType::F32, &Device::Cpu).unwrap()
    }

    #[test]
    fn probabilities_are_checked() {
        let dev = Device::Cpu;
        let logits = Tensor::new(&[2.0f32, -1.0, 0.5], &dev).unwrap();
        let err = sample_prediction(&digit(), &logits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("apply softmax"), "{err}");
        let batch = Tensor::new(&[[0.5f32, 0.5], [0.5, 0.5]], &dev).unwrap();
        assert!(sample_prediction(&digit(), &batch)
            .unwrap_err()
            .to_string()
            .contains("(2, 2)"));
        let row = Tensor::new(&[[0.1f32, 0.7, 0.2]], &dev).unwrap();
        let plot = sample_prediction(&digit(), &row).unwrap();
        assert_eq!(plot.predicted(), 1);
        assert_eq!(plot.title_text(), "predicted 1 (70.0%)");
        let named = plot.label(2).class_names(&["cat", "dog", "bird"]).unwrap();
        assert_eq!(named.title_text(), "predicted dog (70.0%), true label bird");
        assert!(named.class_names(&["x"]).is_err());
    }
}
