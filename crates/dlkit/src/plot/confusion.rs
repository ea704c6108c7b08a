//! `plot::confusion_matrix`: how often each true class was predicted as each class.
//!
//! The table scikit-learn's `ConfusionMatrixDisplay` and fast.ai's
//! `plot_confusion_matrix` draw: one row per true class, one column per
//! predicted class, each cell showing its count. Cells are coloured by the
//! fraction of their row (of the samples of that true class), so a rare class
//! that is often confused stands out as much as a common one; the diagonal is
//! what the model got right, and the title gives the overall accuracy.
//! [`ConfusionMatrix`] is also plain data: [`ConfusionMatrix::count`],
//! [`ConfusionMatrix::counts`], [`ConfusionMatrix::most_confused`].
//!
//! ```
//! use dlkit::plot;
//! use dlkit::{Device, Tensor};
//! let y_true = Tensor::new(&[0u8, 1, 2, 2], &Device::Cpu)?;
//! // What `model.predict(&x)?` returns: one row of class probabilities per sample.
//! let probs = Tensor::new(
//!     &[[0.8f32, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.0, 0.1, 0.9]],
//!     &Device::Cpu,
//! )?;
//! let cm = plot::confusion_matrix(&y_true, &probs)?;
//! assert_eq!(cm.counts(), [[1, 0, 0], [0, 1, 0], [0, 1, 1]]);
//! assert_eq!(cm.accuracy(), 0.75);
//! assert_eq!(cm.most_confused(1), [(2, 1, 1)]); // one 2 taken for a 1
//! let cm = cm.class_names(&["cat", "dog", "bird"])?.title("pets");
//! assert_eq!(cm.title_text(), "pets — accuracy 75.00% (3 of 4)");
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::FontTransform;

use super::colormap::Colormap;
use super::figure::{figure_methods, plot_err, Draw};
use super::outcomes::{class_name, outcomes, MAX_CLASSES};
use super::raster::{frame, max_text_width, text, text_style, text_widths};
use crate::error::{Error, Result};
use crate::model::summary::group_thousands;

const MARGIN: u32 = 14;
const TITLE_BAND: u32 = 40;
/// Room for an axis description ("true label"), and the gap beside it.
const DESC_BAND: u32 = 24;
const TICK: u32 = 4;
const TICK_GAP: u32 = 5;
const TICK_FONT: f64 = 14.0;
const TICK_HEIGHT: u32 = 18;
const COUNT_FONT: f64 = 15.0;
const COLORBAR_GAP: u32 = 22;
const COLORBAR_WIDTH: u32 = 18;
const COLORBAR_FONT: f64 = 12.0;
/// The matrix aims at about this many pixels on a side.
const TARGET_SIDE: u32 = 520;
/// Text on dark cells is white, on light ones near-black; zero counts are grey.
const DARK_TEXT: RGBColor = RGBColor(25, 25, 25);
const ZERO_TEXT: RGBColor = RGBColor(165, 165, 165);

/// Counts of (true class, predicted class) pairs; see [`confusion_matrix`].
/// As the last expression of a notebook cell it shows itself as a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major, `classes × classes`: row = true class, column = predicted.
    counts: Vec<usize>,
    /// Whether the number of classes came from the data's largest class (so
    /// that class names may add classes no sample has).
    inferred: bool,
    names: Option<Vec<String>>,
    title: Option<String>,
    cmap: Colormap,
}

/// The confusion matrix of `predictions` against the true labels `y_true`.
///
/// `y_true`: class indices of shape `(N,)` or `(N, 1)` (u8, u32, i64, or whole
/// floats) or one-hot rows `(N, classes)`. `predictions`: what
/// `model.predict(&x)?` returns, one row of class scores per sample
/// `(N, classes)` (probabilities or logits: the largest is the class), or
/// class indices `(N,)` from `model.predict_classes`. With indices on both
/// sides there are as many classes as the largest one seen plus one
/// (see [`ConfusionMatrix::class_names`] to name more). At most
/// [`MAX_CLASSES`] classes.
///
/// ```
/// use dlkit::{plot, preprocessing::to_categorical, Device, Tensor};
/// let y_test = Tensor::new(&[7u8, 2, 1, 0], &Device::Cpu)?;
/// let classes = Tensor::new(&[7u32, 2, 7, 0], &Device::Cpu)?; // model.predict_classes
/// let cm = plot::confusion_matrix(&to_categorical(&y_test, 10)?, &classes)?;
/// assert_eq!((cm.classes(), cm.count(1, 7)), (10, Some(1)));
/// cm.save(std::env::temp_dir().join("confusion_matrix.png"))?;
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn confusion_matrix(y_true: &Tensor, predictions: &Tensor) -> Result<ConfusionMatrix> {
    let o = outcomes("plot::confusion_matrix", y_true, predictions)?;
    let mut cm = ConfusionMatrix::from_classes(&o.truth, &o.predicted, o.classes)?;
    cm.inferred = !o.width_known;
    Ok(cm)
}

impl ConfusionMatrix {
    /// The matrix of `truth[i]` against `predicted[i]`, both class numbers below `classes`.
    ///
    /// ```
    /// use dlkit::plot::ConfusionMatrix;
    /// let cm = ConfusionMatrix::from_classes(&[0, 0, 1], &[0, 1, 1], 2)?;
    /// assert_eq!(cm.count(0, 1), Some(1));
    /// # Ok::<(), dlkit::Error>(())
    /// ```
    pub fn from_classes(truth: &[usize], predicted: &[usize], classes: usize) -> Result<Self> {
        const WHAT: &str = "ConfusionMatrix::from_classes";
        if truth.len() != predicted.len() {
            return Err(Error::Shape(format!(
                "{WHAT}: {} true classes but {} predicted ones",
                truth.len(),
                predicted.len()
            )));
        }
        if truth.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{WHAT}: no samples; there is nothing to count"
            )));
        }
        if !(1..=MAX_CLASSES).contains(&classes) {
            return Err(Error::InvalidArgument(format!(
                "{WHAT}: {classes} classes; a confusion matrix has 1 to {MAX_CLASSES}"
            )));
        }
        let cells = classes.checked_mul(classes).ok_or_else(|| {
            Error::InvalidArgument(format!("{WHAT}: {classes} classes is too many"))
        })?;
        let mut counts = vec![0usize; cells];
        for (i, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
            let (what, c) = if t >= classes {
                ("truth", t)
            } else if p >= classes {
                ("predicted", p)
            } else {
                counts[t * classes + p] += 1;
                continue;
            };
            return Err(Error::InvalidArgument(format!(
                "{WHAT}: {what}[{i}] is {c}, not one of the {classes} classes (0 to {})",
                classes - 1
            )));
        }
        Ok(ConfusionMatrix {
            classes,
            counts,
            inferred: false,
            names: None,
            title: None,
            cmap: Colormap::Blues,
        })
    }

    /// The number of classes (rows and columns).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many samples of class `truth` were predicted as `predicted`
    /// (`None` outside the matrix).
    pub fn count(&self, truth: usize, predicted: usize) -> Option<usize> {
        (truth < self.classes && predicted < self.classes)
            .then(|| self.counts[truth * self.classes + predicted])
    }

    /// The counts, one row per true class, one column per predicted class.
    pub fn counts(&self) -> Vec<Vec<usize>> {
        self.counts
            .chunks_exact(self.classes)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Each row divided by its total: the fraction of each true class given
    /// each prediction (a class with no samples gives a row of zeros). These
    /// are the colours of the plot.
    pub fn row_fractions(&self) -> Vec<Vec<f64>> {
        self.counts
            .chunks_exact(self.classes)
            .map(|row| {
                let total: usize = row.iter().sum();
                row.iter()
                    .map(|&c| {
                        if total == 0 {
                            0.0
                        } else {
                            c as f64 / total as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The number of samples predicted right (the diagonal).
    pub fn correct(&self) -> usize {
        (0..self.classes)
            .map(|c| self.counts[c * self.classes + c])
            .sum()
    }

    /// The fraction predicted right, in [0, 1].
    pub fn accuracy(&self) -> f64 {
        // Never empty: both constructors refuse zero samples.
        self.correct() as f64 / self.total().max(1) as f64
    }

    /// The mistakes made at least `min_count` times, most frequent first, as
    /// `(true class, predicted class, count)`: fast.ai's `most_confused`.
    pub fn most_confused(&self, min_count: usize) -> Vec<(usize, usize, usize)> {
        let k = self.classes;
        let mut pairs: Vec<(usize, usize, usize)> = (0..k * k)
            .map(|i| (i / k, i % k, self.counts[i]))
            .filter(|&(t, p, c)| t != p && c > 0 && c >= min_count)
            .collect();
        pairs.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        pairs
    }

    /// Names for the classes, shown on the axes instead of their numbers (e.g.
    /// `&fashion_mnist::CLASS_NAMES`). One per class; when the classes were
    /// counted from integer labels and predictions, more names add classes no
    /// sample has.
    pub fn class_names<S: ToString>(mut self, names: &[S]) -> Result<Self> {
        let n = names.len();
        if n != self.classes && !(self.inferred && n > self.classes && n <= MAX_CLASSES) {
            return Err(Error::InvalidArgument(format!(
                "plot::confusion_matrix has {} classes but {n} class names were given",
                self.classes
            )));
        }
        if n > self.classes {
            let old = self.counts();
            self.counts = vec![0; n * n];
            for (t, row) in old.iter().enumerate() {
                self.counts[t * n..t * n + row.len()].copy_from_slice(row);
            }
            self.classes = n;
        }
        self.names = Some(names.iter().map(|s| s.to_string()).collect());
        Ok(self)
    }

    /// A title, followed by the accuracy (default "confusion matrix").
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The colour map of the cells (default [`Colormap::Blues`], as scikit-learn and fast.ai).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// The title drawn: "confusion matrix — accuracy 97.85% (9,785 of 10,000)".
    pub fn title_text(&self) -> String {
        format!(
            "{} — accuracy {:.2}% ({} of {})",
            self.title.as_deref().unwrap_or("confusion matrix"),
            100.0 * self.accuracy(),
            group_thousands(self.correct()),
            group_thousands(self.total())
        )
    }

    fn names(&self) -> Vec<String> {
        (0..self.classes)
            .map(|c| class_name(self.names.as_deref(), c))
            .collect()
    }

    fn layout(&self) -> Layout {
        let k = self.classes as u32;
        let cell = (TARGET_SIDE / k).clamp(14, 110);
        let side = cell * k;
        let names = self.names();
        let name_width = max_text_width(&names, TICK_FONT);
        let rotate_x = name_width + 4 > cell;
        let labels_left = MARGIN + DESC_BAND + name_width + TICK_GAP + TICK;
        let top = MARGIN + TITLE_BAND;
        let x_labels = if rotate_x { name_width } else { TICK_HEIGHT };
        let bottom = TICK + TICK_GAP + x_labels + 6 + DESC_BAND + MARGIN;
        let bar_labels = max_text_width(&["100%"], COLORBAR_FONT);
        let right = COLORBAR_GAP + COLORBAR_WIDTH + TICK + TICK_GAP + bar_labels + 6 + DESC_BAND;
        let title_width = max_text_width(&[self.title_text()], 17.0) + 2 * MARGIN;
        let content_width = labels_left + side + right + MARGIN;
        // A title wider than the rest: the rest is centred under it.
        let shift = title_width.saturating_sub(content_width) / 2;
        Layout {
            cell,
            left: labels_left + shift,
            top,
            rotate_x,
            width: content_width.max(title_width),
            height: top + side + bottom,
        }
    }
}

/// Where the parts of the plot go, in pixels.
struct Layout {
    cell: u32,
    /// The matrix's top-left corner.
    left: u32,
    top: u32,
    /// Class names too wide for a column are written downwards.
    rotate_x: bool,
    width: u32,
    height: u32,
}

/// Perceived brightness of a colour, 0 (black) to 255 (white).
fn luminance(c: RGBColor) -> f64 {
    0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64
}

impl Draw for ConfusionMatrix {
    fn size(&self) -> (u32, u32) {
        let l = self.layout();
        (l.width, l.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let l = self.layout();
        text(
            root,
            &self.title_text(),
            (l.width as i32 / 2, (MARGIN + TITLE_BAND / 2) as i32 - 4),
            &text_style(17.0, HPos::Center, VPos::Center),
        )?;
        let m = MatrixBox::of(&l, self.classes);
        self.draw_cells(root, &m)?;
        self.draw_class_labels(root, &m, l.rotate_x)?;
        self.draw_colorbar(root, &m)
    }
}

/// The matrix on the figure: its top-left corner, cell size and side, in pixels.
struct MatrixBox {
    x0: i32,
    y0: i32,
    cell: i32,
    side: i32,
}

impl MatrixBox {
    fn of(l: &Layout, classes: usize) -> Self {
        let cell = l.cell as i32;
        MatrixBox {
            x0: l.left as i32,
            y0: l.top as i32,
            cell,
            side: cell * classes as i32,
        }
    }
}

/// Tick length, and the distance from the matrix to a tick's label.
const TICK_PX: i32 = TICK as i32;
const LABEL_GAP_PX: i32 = (TICK + TICK_GAP) as i32;

impl ConfusionMatrix {
    /// The cells, each count in a colour that reads on its cell, the grid and the frame.
    fn draw_cells<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        m: &MatrixBox,
    ) -> Result<()> {
        let k = self.classes;
        let MatrixBox { x0, y0, cell, side } = *m;
        let fractions = self.row_fractions();
        let texts: Vec<String> = self.counts.iter().map(|c| c.to_string()).collect();
        let widths = text_widths(&texts, COUNT_FONT);
        for (i, (count_text, &w)) in texts.iter().zip(&widths).enumerate() {
            let (t, p) = (i / k, i % k);
            let fill = self.cmap.color(fractions[t][p]);
            let (cx, cy) = (x0 + p as i32 * cell, y0 + t as i32 * cell);
            root.draw(&Rectangle::new(
                [(cx, cy), (cx + cell, cy + cell)],
                fill.filled(),
            ))
            .map_err(plot_err)?;
            // Shrink the text of counts too wide for the cell; leave it out in tiny cells.
            let room = (cell - 6).max(1) as f64;
            let size = (COUNT_FONT * (room / w.max(1) as f64).min(1.0)).min(0.4 * cell as f64);
            if size < 7.0 {
                continue;
            }
            let color = if self.counts[i] == 0 {
                ZERO_TEXT
            } else if luminance(fill) < 135.0 {
                WHITE
            } else {
                DARK_TEXT
            };
            let style = text_style(size, HPos::Center, VPos::Center).color(&color);
            text(root, count_text, (cx + cell / 2, cy + cell / 2), &style)?;
        }
        // Thin white lines between cells keep neighbouring dark cells apart.
        for j in 1..k as i32 {
            let grid = RGBColor(255, 255, 255).stroke_width(1);
            let at = j * cell;
            line(root, (x0 + at, y0), (x0 + at, y0 + side), grid)?;
            line(root, (x0, y0 + at), (x0 + side, y0 + at), grid)?;
        }
        frame(root, (x0, y0, side, side), BLACK)
    }

    /// Ticks and class names, rows on the left and columns below, and the axis descriptions.
    fn draw_class_labels<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        m: &MatrixBox,
        rotate_x: bool,
    ) -> Result<()> {
        let MatrixBox { x0, y0, cell, side } = *m;
        let names = self.names();
        let (tick, gap) = (TICK_PX, LABEL_GAP_PX);
        for (c, name) in names.iter().enumerate() {
            let mid = c as i32 * cell + cell / 2;
            line(
                root,
                (x0 - 1 - tick, y0 + mid),
                (x0 - 1, y0 + mid),
                BLACK.into(),
            )?;
            let style = text_style(TICK_FONT, HPos::Right, VPos::Center);
            text(root, name, (x0 - gap - 1, y0 + mid), &style)?;
            line(
                root,
                (x0 + mid, y0 + side),
                (x0 + mid, y0 + side + tick),
                BLACK.into(),
            )?;
            let at = (x0 + mid, y0 + side + gap);
            if rotate_x {
                // Read upwards, ending at the tick, as matplotlib's rotation=90.
                let style = text_style(TICK_FONT, HPos::Right, VPos::Center)
                    .transform(FontTransform::Rotate270);
                text(root, name, at, &style)?;
            } else {
                text(
                    root,
                    name,
                    at,
                    &text_style(TICK_FONT, HPos::Center, VPos::Top),
                )?;
            }
        }
        let desc = text_style(15.0, HPos::Center, VPos::Center);
        let x_labels = if rotate_x {
            max_text_width(&names, TICK_FONT)
        } else {
            TICK_HEIGHT
        };
        let below = y0 + side + gap + x_labels as i32 + 6 + DESC_BAND as i32 / 2;
        text(root, "predicted label", (x0 + side / 2, below), &desc)?;
        let name_width = max_text_width(&names, TICK_FONT) as i32;
        text(
            root,
            "true label",
            (x0 - gap - name_width - DESC_BAND as i32 / 2, y0 + side / 2),
            &desc.transform(FontTransform::Rotate270),
        )
    }

    /// The colour bar to the right of the matrix: what the shades mean.
    fn draw_colorbar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        m: &MatrixBox,
    ) -> Result<()> {
        let MatrixBox { x0, y0, side, .. } = *m;
        let (tick, gap) = (TICK_PX, LABEL_GAP_PX);
        let bx = x0 + side + COLORBAR_GAP as i32;
        let bw = COLORBAR_WIDTH as i32;
        for y in 0..side {
            let t = 1.0 - (y as f64 + 0.5) / side as f64;
            root.draw(&Rectangle::new(
                [(bx, y0 + y), (bx + bw, y0 + y + 1)],
                self.cmap.color(t).filled(),
            ))
            .map_err(plot_err)?;
        }
        frame(root, (bx, y0, bw, side), BLACK)?;
        let label_style = text_style(COLORBAR_FONT, HPos::Left, VPos::Center);
        for step in 0..=5 {
            let y = y0 + side - (step * side) / 5;
            let y = y.clamp(y0, y0 + side - 1);
            line(root, (bx + bw, y), (bx + bw + tick, y), BLACK.into())?;
            text(
                root,
                &format!("{}%", step * 20),
                (bx + bw + gap, y),
                &label_style,
            )?;
        }
        let bar_labels = max_text_width(&["100%"], COLORBAR_FONT) as i32;
        text(
            root,
            "fraction of the true class",
            (
                bx + bw + gap + bar_labels + 6 + DESC_BAND as i32 / 2,
                y0 + side / 2,
            ),
            &text_style(13.0, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        )
    }
}

/// A straight line from `from` to `to`.
fn line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    from: (i32, i32),
    to: (i32, i32),
    style: ShapeStyle,
) -> Result<()> {
    root.draw(&PathElement::new([from, to], style))
        .map_err(plot_err)
}

figure_methods!(ConfusionMatrix);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn counts_of_hand_made_data() {
        let truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2];
        let predicted = [0, 0, 1, 1, 1, 2, 2, 0, 1, 2];
        let cm = ConfusionMatrix::from_classes(&truth, &predicted, 3).unwrap();
        assert_eq!(cm.counts(), [[2, 1, 0], [0, 2, 0], [1, 1, 3]]);
        assert_eq!((cm.total(), cm.correct()), (10, 7));
        assert_eq!(cm.accuracy(), 0.7);
        assert_eq!(cm.count(2, 0), Some(1));
        assert_eq!(cm.count(3, 0), None);
        assert_eq!(cm.row_fractions()[0], [2.0 / 3.0, 1.0 / 3.0, 0.0]);
        assert_eq!(cm.most_confused(1), [(0, 1, 1), (2, 0, 1), (2, 1, 1)]);
        assert!(cm.most_confused(2).is_empty());
        assert_eq!(
            cm.title_text(),
            "confusion matrix — accuracy 70.00% (7 of 10)"
        );
    }

    #[test]
    fn from_classes_checks_its_input() {
        let err = |t: &[usize], p: &[usize], k| {
            ConfusionMatrix::from_classes(t, p, k)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[0, 1], &[0], 2).contains("2 true classes but 1 predicted"));
        assert!(err(&[], &[], 2).contains("no samples"));
        assert!(err(&[0], &[0], 0).contains("0 classes"));
        assert!(err(&[0], &[0], 101).contains("1 to 100"));
        assert!(err(&[0, 2], &[0, 1], 2).contains("truth[1] is 2, not one of the 2 classes"));
        assert!(err(&[0, 1], &[0, 3], 2).contains("predicted[1] is 3"));
    }

    #[test]
    fn class_names_may_add_classes_only_when_counted_from_indices() {
        let dev = Device::Cpu;
        let y = Tensor::new(&[0u8, 1, 1], &dev).unwrap();
        let pred = Tensor::new(&[0u32, 1, 0], &dev).unwrap();
        let cm = confusion_matrix(&y, &pred).unwrap();
        assert_eq!(cm.classes(), 2);
        let named = cm.clone().class_names(&["a", "b", "c"]).unwrap();
        assert_eq!(named.counts(), [[1, 0, 0], [1, 1, 0], [0, 0, 0]]);
        assert!(cm.class_names(&["a"]).is_err());
        let probs = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4]], &dev).unwrap();
        let cm = confusion_matrix(&y, &probs).unwrap();
        assert_eq!(cm.counts(), [[1, 0], [1, 1]]);
        let err = cm.class_names(&["a", "b", "c"]).unwrap_err().to_string();
        assert!(err.contains("2 classes but 3 class names"), "{err}");
    }

    #[test]
    fn renders_with_readable_text_on_dark_cells() {
        // Class 0 always right: its diagonal cell is the darkest blue.
        let truth: Vec<usize> = (0..100).map(|i| i % 10).collect();
        let cm = ConfusionMatrix::from_classes(&truth, &truth, 10).unwrap();
        let fig = cm.render().unwrap();
        assert_eq!((fig.width(), fig.height()), cm.size());
        let l = cm.layout();
        let dark = Colormap::Blues.rgb(1.0);
        let corner = fig.pixel(l.left + 3, l.top + 3).unwrap();
        assert_eq!(corner, dark);
        let centre_row: Vec<[u8; 3]> = (0..l.cell)
            .map(|x| fig.pixel(l.left + x, l.top + l.cell / 2).unwrap())
            .collect();
        assert!(
            centre_row.iter().any(|p| p.iter().all(|&c| c > 200)),
            "light count text on the dark cell"
        );
        let off = fig.pixel(l.left + l.cell + 3, l.top + 3).unwrap();
        assert_eq!(off, Colormap::Blues.rgb(0.0));
    }
}
