//! `plot::misclassified`: the samples a model got wrong, most confident first.
//!
//! fast.ai's `plot_top_losses` for the tutorials' digits: a grid of the test
//! images whose predicted class is not their label, ordered by how sure the
//! model was of its wrong answer, each titled with both classes and that
//! confidence ("true 4 → pred 9", "97.2% · index 1247"). The index is the
//! sample's row in the tensors passed, so `x_test.get(1247)?` is that digit.
//! When nothing is wrong the figure says so.
//!
//! ```
//! use dlkit::plot;
//! use dlkit::{Device, Tensor};
//! let x = Tensor::zeros((3, 28, 28), dlkit::DType::U8, &Device::Cpu)?;
//! let y = Tensor::new(&[0u8, 1, 1], &Device::Cpu)?;
//! let probs = Tensor::new(&[[0.9f32, 0.1], [0.6, 0.4], [0.8, 0.2]], &Device::Cpu)?;
//! let wrong = plot::misclassified(&x, &y, &probs)?.count(25);
//! assert_eq!(wrong.indices(), [2, 1]); // 80% sure before 60% sure
//! assert_eq!(wrong.labels()[0], "true 1 → pred 0 (80.0%)");
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::colormap::Colormap;
use super::data::{batch_layout, image_batch};
use super::digit_grid::MAX_DIGITS;
use super::figure::{figure_methods, Draw};
use super::outcomes::{class_name, not_probabilities, outcomes};
use super::raster::{draw_image, frame, max_text_width, text, text_style, Placement, Shading};
use crate::error::{Error, Result};
use crate::model::summary::group_thousands;

const CALLER: &str = "plot::misclassified";
/// Tiles shown unless [`Misclassified::count`] says otherwise.
pub const DEFAULT_COUNT: usize = 16;
const MARGIN: u32 = 12;
const GAP: u32 = 14;
const TITLE_FONT: f64 = 17.0;
const SUBTITLE_FONT: f64 = 13.0;
const TITLE_BAND: u32 = 54;
const LABEL_FONT: f64 = 13.0;
const DETAIL_FONT: f64 = 12.0;
const LINE_HEIGHT: u32 = 17;
/// Screen pixels along an image's longer side.
const IMAGE_SIDE: u32 = 112;
/// A one-line "true 7 → pred 2" wider than this is split over two lines.
const ONE_LINE_WIDTH: u32 = 150;
const MISSED: RGBColor = RGBColor(200, 30, 30);
const DETAIL: RGBColor = RGBColor(90, 90, 90);
/// The figure shown when there is no mistake to show.
const EMPTY_SIZE: (u32, u32) = (560, 130);

/// The misclassified samples of a set; see [`misclassified`].
#[derive(Clone, Debug)]
pub struct Misclassified {
    /// All of `x` (a tensor shares its storage): the shown images are taken at drawing time.
    images: Tensor,
    /// Height and width of one image.
    image_dims: (usize, usize),
    /// Every mistake, in the order shown.
    mistakes: Vec<Mistake>,
    samples: usize,
    count: usize,
    cols: Option<usize>,
    names: Option<Vec<String>>,
    title: Option<String>,
    cmap: Colormap,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Mistake {
    index: usize,
    truth: usize,
    predicted: usize,
    /// The probability of the predicted class, when the predictions were probabilities.
    confidence: Option<f32>,
}

/// The images of `x` whose prediction is wrong, the ones the model was surest
/// of first (the [`DEFAULT_COUNT`] first; see [`Misclassified::count`]).
///
/// `x`: the images, `(N, 28, 28)`, `(N, 784)`, `(N, 28, 28, 1)` or
/// `(N, 1, 28, 28)` (any size and dtype). `y_true`: class indices `(N,)` or
/// one-hot rows. `predictions`: `model.predict(&x)?`, class probabilities
/// `(N, classes)` (softmax output; logits are refused, since their
/// "confidence" means nothing), or class indices `(N,)`, which give no
/// confidence: the mistakes are then shown in the order of the set.
///
/// ```
/// use dlkit::{plot, DType, Device, Tensor};
/// let x_test = Tensor::zeros((2, 784), DType::F32, &Device::Cpu)?;
/// let y_test = Tensor::new(&[3u8, 5], &Device::Cpu)?;
/// let right = plot::misclassified(&x_test, &y_test, &y_test)?;
/// assert_eq!(right.mistakes(), 0); // draws "no mistakes: all 2 samples are predicted right"
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn misclassified(x: &Tensor, y_true: &Tensor, predictions: &Tensor) -> Result<Misclassified> {
    let (n, h, w) = batch_layout(x, CALLER)?;
    let o = outcomes(CALLER, y_true, predictions)?;
    if o.truth.len() != n {
        return Err(Error::Shape(format!(
            "{CALLER}: x has {n} images but y_true has {} labels",
            o.truth.len()
        )));
    }
    let k = o.classes;
    if let Some(scores) = &o.scores {
        for (row, values) in scores.chunks_exact(k).enumerate() {
            if let Some(why) = not_probabilities(values) {
                return Err(Error::InvalidArgument(format!(
                    "{CALLER} shows how sure the model was and needs class probabilities, \
                     in [0, 1] and summing to 1; the values of predictions[{row}] {why}. If \
                     the model outputs logits, apply softmax first, or pass class indices \
                     (`model.predict_classes`)"
                )));
            }
        }
    }
    let mut mistakes: Vec<Mistake> = (0..n)
        .filter(|&i| o.truth[i] != o.predicted[i])
        .map(|i| Mistake {
            index: i,
            truth: o.truth[i],
            predicted: o.predicted[i],
            confidence: o.scores.as_ref().map(|s| s[i * k + o.predicted[i]]),
        })
        .collect();
    // Surest first; equally sure ones (and all, without probabilities) in set order.
    mistakes.sort_by(|a, b| {
        let (ca, cb) = (a.confidence.unwrap_or(0.0), b.confidence.unwrap_or(0.0));
        cb.total_cmp(&ca).then(a.index.cmp(&b.index))
    });
    Ok(Misclassified {
        images: x.clone(),
        image_dims: (h, w),
        mistakes,
        samples: n,
        count: DEFAULT_COUNT,
        cols: None,
        names: None,
        title: None,
        cmap: Colormap::Greys,
    })
}

impl Misclassified {
    /// How many mistakes to show at most (default [`DEFAULT_COUNT`]; 1 to [`MAX_DIGITS`]).
    pub fn count(mut self, count: usize) -> Self {
        self.count = count.clamp(1, MAX_DIGITS);
        self
    }

    /// Images per row (default: the smallest square grid, at most 10 across).
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = Some(cols.max(1));
        self
    }

    /// Names for the classes (e.g. `&fashion_mnist::CLASS_NAMES`), used in the tiles' titles.
    pub fn class_names<S: ToString>(mut self, names: &[S]) -> Result<Self> {
        let largest = self.mistakes.iter().map(|m| m.truth.max(m.predicted)).max();
        if let Some(c) = largest.filter(|&c| c >= names.len()) {
            return Err(Error::InvalidArgument(format!(
                "{CALLER}: {} class names were given, but class {c} is among the mistakes",
                names.len()
            )));
        }
        self.names = Some(names.iter().map(|s| s.to_string()).collect());
        Ok(self)
    }

    /// The title above the grid (default "misclassified").
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The colour map of the images (default [`Colormap::Greys`]: dark ink on white).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// The number of misclassified samples (shown or not).
    pub fn mistakes(&self) -> usize {
        self.mistakes.len()
    }

    /// The number of samples looked at.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The indices in `x` of the samples shown, in the order shown.
    pub fn indices(&self) -> Vec<usize> {
        self.shown().iter().map(|m| m.index).collect()
    }

    /// The title of each tile shown on one line: "true 7 → pred 2 (93.4%)".
    pub fn labels(&self) -> Vec<String> {
        self.shown()
            .iter()
            .map(|m| {
                let mut label = self.classes_text(m);
                if let Some(c) = m.confidence {
                    label.push_str(&format!(" ({})", percent(c)));
                }
                label
            })
            .collect()
    }

    /// The line under the title: which mistakes are shown, of how many.
    pub fn subtitle_text(&self) -> String {
        let (shown, all) = (self.shown().len(), self.mistakes.len());
        let samples = group_thousands(self.samples);
        let order = if self.mistakes.iter().any(|m| m.confidence.is_some()) {
            "most confident first"
        } else {
            "in the order of the set"
        };
        match all {
            0 => format!("no mistakes: all {samples} samples are predicted right"),
            1 => format!("the one mistake in {samples} samples"),
            _ if shown == all => format!("all {all} mistakes in {samples} samples, {order}"),
            _ => format!(
                "{shown} of {} mistakes in {samples} samples, {order}",
                group_thousands(all)
            ),
        }
    }

    fn shown(&self) -> &[Mistake] {
        &self.mistakes[..self.count.min(self.mistakes.len())]
    }

    fn name(&self, class: usize) -> String {
        class_name(self.names.as_deref(), class)
    }

    fn classes_text(&self, m: &Mistake) -> String {
        format!(
            "true {} → pred {}",
            self.name(m.truth),
            self.name(m.predicted)
        )
    }

    /// The lines of text over each tile: one with both classes (or one per
    /// class when that is too wide), then the confidence and the index.
    fn tile_lines(&self) -> Vec<Vec<String>> {
        let shown = self.shown();
        let one_line: Vec<String> = shown.iter().map(|m| self.classes_text(m)).collect();
        let split = max_text_width(&one_line, LABEL_FONT) > ONE_LINE_WIDTH;
        shown
            .iter()
            .zip(one_line)
            .map(|(m, classes)| {
                let mut lines = if split {
                    vec![
                        format!("true {}", self.name(m.truth)),
                        format!("pred {}", self.name(m.predicted)),
                    ]
                } else {
                    vec![classes]
                };
                lines.push(match m.confidence {
                    Some(c) => format!("{} · index {}", percent(c), m.index),
                    None => format!("index {}", m.index),
                });
                lines
            })
            .collect()
    }

    fn columns(&self) -> usize {
        let n = self.shown().len().max(1);
        let auto = ((n as f64).sqrt().ceil() as usize).clamp(1, 10);
        self.cols.unwrap_or(auto).min(n).max(1)
    }

    fn layout(&self) -> Layout {
        let (h, w) = self.image_dims;
        let cell = (IMAGE_SIDE / h.max(w).max(1) as u32).max(1);
        let (iw, ih) = (w as u32 * cell, h as u32 * cell);
        let lines = self.tile_lines();
        let line_count = lines.first().map_or(0, Vec::len) as u32;
        let texts: Vec<&String> = lines.iter().flatten().collect();
        let tile_w = iw.max(max_text_width(&texts, LABEL_FONT) + 6);
        let band = line_count * LINE_HEIGHT + 4;
        let cols = self.columns() as u32;
        let rows = self.shown().len().div_ceil(cols as usize) as u32;
        let titles = [self.title_text(), self.subtitle_text()];
        let title_w = max_text_width(&titles, TITLE_FONT) + 2 * MARGIN;
        let grid_w = 2 * MARGIN + cols * tile_w + (cols - 1) * GAP;
        let grid_h = TITLE_BAND + MARGIN + rows * (band + ih) + rows.saturating_sub(1) * GAP;
        Layout {
            cell,
            tile_w,
            band,
            image: (iw, ih),
            width: grid_w.max(title_w),
            height: grid_h + MARGIN,
        }
    }

    fn title_text(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| "misclassified".to_string())
    }
}

/// Where the tiles go, in pixels.
struct Layout {
    /// Screen pixels per image pixel.
    cell: u32,
    tile_w: u32,
    /// Height of the text over each image.
    band: u32,
    image: (u32, u32),
    width: u32,
    height: u32,
}

/// A confidence with one decimal, as `sample_prediction` shows it: `0.934` →
/// `93.4%`, `0.9996` → `99.9%`. Cut, not rounded, so "sure" never reads 100%
/// unless it is.
fn percent(p: f32) -> String {
    // f32 probabilities such as 0.7 lie just below their decimal; the small
    // allowance keeps 0.7 at 70.0% rather than 69.9%.
    let mut tenths = (1000.0 * p as f64 + 1e-3).floor();
    if p < 1.0 {
        tenths = tenths.min(999.0);
    }
    format!("{:.1}%", tenths / 10.0)
}

impl Draw for Misclassified {
    fn size(&self) -> (u32, u32) {
        if self.mistakes.is_empty() {
            return EMPTY_SIZE;
        }
        let l = self.layout();
        (l.width, l.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (width, _) = self.size();
        let centre = width as i32 / 2;
        text(
            root,
            &self.title_text(),
            (centre, (MARGIN + 10) as i32),
            &text_style(TITLE_FONT, HPos::Center, VPos::Center),
        )?;
        let subtitle = text_style(SUBTITLE_FONT, HPos::Center, VPos::Center).color(&DETAIL);
        if self.mistakes.is_empty() {
            let message =
                text_style(16.0, HPos::Center, VPos::Center).color(&RGBColor(30, 120, 30));
            text(
                root,
                &self.subtitle_text(),
                (centre, EMPTY_SIZE.1 as i32 / 2 + 12),
                &message,
            )?;
            return Ok(());
        }
        text(
            root,
            &self.subtitle_text(),
            (centre, (MARGIN + 34) as i32),
            &subtitle,
        )?;
        self.draw_tiles(root)
    }
}

impl Misclassified {
    /// The mistakes shown, each as its lines of text above its image.
    fn draw_tiles<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let l = self.layout();
        let shown = self.shown();
        let rows: Vec<u32> = shown.iter().map(|m| m.index as u32).collect();
        let index = Tensor::new(rows.as_slice(), self.images.device())?;
        let images = image_batch(&self.images.index_select(&index, 0)?, CALLER, MAX_DIGITS)?;
        let cols = self.columns();
        let (iw, ih) = l.image;
        let first = text_style(LABEL_FONT, HPos::Center, VPos::Center).color(&MISSED);
        let rest = text_style(DETAIL_FONT, HPos::Center, VPos::Center).color(&DETAIL);
        for (i, (image, lines)) in images.iter().zip(self.tile_lines()).enumerate() {
            let (col, row) = ((i % cols) as u32, (i / cols) as u32);
            let x0 = (MARGIN + col * (l.tile_w + GAP)) as i32;
            let y0 = (TITLE_BAND + MARGIN + row * (l.band + ih + GAP)) as i32;
            let mid = x0 + l.tile_w as i32 / 2;
            for (j, line) in lines.iter().enumerate() {
                // The class lines in red, the confidence line in grey.
                let style = if j + 1 < lines.len() { &first } else { &rest };
                let y = y0 + (j as u32 * LINE_HEIGHT + LINE_HEIGHT / 2) as i32;
                text(root, line, (mid, y), style)?;
            }
            let (ix, iy) = (mid - iw as i32 / 2, y0 + l.band as i32);
            let at = Placement {
                x: ix,
                y: iy,
                cell: l.cell,
            };
            draw_image(root, image, at, Shading::spanning(self.cmap, image))?;
            frame(
                root,
                (ix, iy, iw as i32, ih as i32),
                RGBColor(160, 160, 160),
            )?;
        }
        Ok(())
    }
}

figure_methods!(Misclassified);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn images(n: usize) -> Tensor {
        Tensor::arange(0u32, (n * 784) as u32, &Device::Cpu)
            .unwrap()
            .reshape((n, 28, 28))
            .unwrap()
    }

    fn probs(rows: &[[f32; 3]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), 3), &Device::Cpu).unwrap()
    }

    #[test]
    fn surest_mistakes_come_first() {
        let y = Tensor::new(&[0u8, 1, 2, 0, 1], &Device::Cpu).unwrap();
        let p = probs(&[
            [0.9, 0.05, 0.05],  // right
            [0.6, 0.3, 0.1],    // 1 taken for 0, 60%
            [0.02, 0.97, 0.01], // 2 taken for 1, 97%
            [0.1, 0.1, 0.8],    // 0 taken for 2, 80%
            [0.1, 0.8, 0.1],    // right
        ]);
        let m = misclassified(&images(5), &y, &p).unwrap();
        assert_eq!((m.mistakes(), m.samples()), (3, 5));
        assert_eq!(m.indices(), [2, 3, 1]);
        assert_eq!(
            m.labels(),
            [
                "true 2 → pred 1 (97.0%)",
                "true 0 → pred 2 (80.0%)",
                "true 1 → pred 0 (60.0%)"
            ]
        );
        assert_eq!(
            m.subtitle_text(),
            "all 3 mistakes in 5 samples, most confident first"
        );
        let m = m.count(2);
        assert_eq!(m.indices(), [2, 3]);
        assert_eq!(
            m.subtitle_text(),
            "2 of 3 mistakes in 5 samples, most confident first"
        );
        let named = m.class_names(&["cat", "dog", "bird"]).unwrap();
        assert_eq!(named.labels()[0], "true bird → pred dog (97.0%)");
        assert!(named.class_names(&["cat", "dog"]).is_err());
    }

    #[test]
    fn class_indices_keep_the_order_of_the_set() {
        let y = Tensor::new(&[3u8, 1, 2, 0], &Device::Cpu).unwrap();
        let p = Tensor::new(&[3u32, 0, 0, 1], &Device::Cpu).unwrap();
        let m = misclassified(&images(4), &y, &p).unwrap();
        assert_eq!(m.indices(), [1, 2, 3]);
        assert_eq!(m.labels()[0], "true 1 → pred 0");
        assert_eq!(m.tile_lines()[0], ["true 1 → pred 0", "index 1"]);
    }

    #[test]
    fn every_image_layout_and_dtype() {
        let y = Tensor::new(&[0u8, 1], &Device::Cpu).unwrap();
        let p = Tensor::new(&[[0.2f32, 0.8], [0.3, 0.7]], &Device::Cpu).unwrap();
        let x = images(2);
        let reference = misclassified(&x, &y, &p).unwrap().render().unwrap();
        for shape in [[2, 784].as_slice(), &[2, 28, 28, 1], &[2, 1, 28, 28]] {
            let x = x.reshape(shape).unwrap();
            for dtype in [DType::U8, DType::F32] {
                let x = (x.to_dtype(DType::F32).unwrap() / 8.0)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let fig = misclassified(&x, &y, &p).unwrap().render().unwrap();
                assert_eq!(
                    (fig.width(), fig.height()),
                    (reference.width(), reference.height())
                );
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let y = Tensor::new(&[0u8, 1], &Device::Cpu).unwrap();
        let p = Tensor::new(&[[0.2f32, 0.8], [0.3, 0.7]], &Device::Cpu).unwrap();
        let err =
            |x: &Tensor, y: &Tensor, p: &Tensor| misclassified(x, y, p).unwrap_err().to_string();
        let e = err(&images(3), &y, &p);
        assert!(e.contains("x has 3 images but y_true has 2 labels"), "{e}");
        let e = err(&images(2).reshape((2, 28, 4, 7)).unwrap(), &y, &p);
        assert!(e.contains("got a tensor of shape (2, 28, 4, 7)"), "{e}");
        let logits = Tensor::new(&[[2.0f32, -1.0], [0.5, 3.0]], &Device::Cpu).unwrap();
        let e = err(&images(2), &y, &logits);
        assert!(
            e.contains("predictions[0] include 2, outside [0, 1]") && e.contains("apply softmax"),
            "{e}"
        );
        let empty = Tensor::zeros((0, 28, 28), DType::U8, &Device::Cpu).unwrap();
        assert!(misclassified(&empty, &y, &p).is_err());
    }

    #[test]
    fn no_mistakes_is_a_message() {
        let y = Tensor::new(&[1u8, 0], &Device::Cpu).unwrap();
        let p = Tensor::new(&[[0.2f32, 0.8], [0.7, 0.3]], &Device::Cpu).unwrap();
        let m = misclassified(&images(2), &y, &p).unwrap();
        assert!(m.indices().is_empty());
        assert_eq!(
            m.subtitle_text(),
            "no mistakes: all 2 samples are predicted right"
        );
        let fig = m.render().unwrap();
        assert_eq!((fig.width(), fig.height()), EMPTY_SIZE);
        assert!(fig.rgb().iter().any(|&c| c < 100), "the message is drawn");
    }

    #[test]
    fn percentages_have_one_decimal_and_never_round_to_certainty() {
        assert_eq!(percent(0.934), "93.4%");
        assert_eq!(percent(0.7), "70.0%");
        assert_eq!(percent(0.9985), "99.8%");
        assert_eq!(percent(0.99999994), "99.9%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.0), "0.0%");
    }
}
