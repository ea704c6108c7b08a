//! `evaluate` and `predict`: the model in inference mode, batch by batch.

use super::batches::Dataset;
use super::metrics::count_correct;
use super::progress::metrics_line;
use crate::error::Result;
use crate::model::Model;
use crate::plot;
use candle_core::{Tensor, D};

/// Batch size for inference: larger batches make better use of the matrix
/// kernels, and nothing is kept for gradients.
const INFERENCE_BATCH: usize = 256;

/// Running sums of loss and correct predictions over batches.
#[derive(Default)]
pub(crate) struct Totals {
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl Totals {
    pub fn add(
        &mut self,
        batch_loss: f64,
        output: &Tensor,
        classes: &[u32],
        accuracy: bool,
    ) -> Result<()> {
        let n = classes.len();
        self.loss_sum += batch_loss * n as f64;
        if accuracy {
            self.correct += count_correct(output, classes)?;
        }
        self.seen += n;
        Ok(())
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.seen.max(1) as f64
    }

    pub fn pairs(&self, prefix: &str, accuracy: bool) -> Vec<(&'static str, f64)> {
        let name =
            |plain: &'static str, val: &'static str| if prefix.is_empty() { plain } else { val };
        let mut pairs = vec![(name("loss", "val_loss"), self.mean_loss())];
        if accuracy {
            pairs.push((name("accuracy", "val_accuracy"), self.accuracy()));
        }
        pairs
    }
}

/// Loss and accuracy of the model over a whole dataset, without training.
pub(crate) fn run_batches(
    model: &mut Model,
    data: &Dataset,
    batch_size: usize,
    from_logits: bool,
    accuracy: bool,
) -> Result<Totals> {
    let device = model.device.clone();
    let loss = model.require_compiled()?.loss;
    let mut totals = Totals::default();
    for indices in data.batch_indices(batch_size, None) {
        let (xb, yb, classes) = data.gather(&indices, &device)?;
        let output = model.run(&xb, false, from_logits)?;
        let value = loss
            .compute(&output, &yb, from_logits)?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        totals.add(value, &output, &classes, accuracy)?;
    }
    Ok(totals)
}

/// The result of [`Model::evaluate`]: Keras' `[loss, accuracy]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    /// `None` when the model was compiled without the accuracy metric.
    pub accuracy: Option<f64>,
}

impl Evaluation {
    /// Classification error in percent, as the tutorials report it (`100 - accuracy·100`).
    pub fn error_percent(&self) -> Option<f64> {
        self.accuracy.map(|a| 100.0 * (1.0 - a))
    }
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut pairs = vec![("loss", self.loss)];
        if let Some(a) = self.accuracy {
            pairs.push(("accuracy", a));
        }
        f.write_str(&metrics_line(&pairs))
    }
}

impl Model {
    /// Loss and accuracy on `(x, y)`, Keras' `evaluate`. Dropout is off.
    pub fn evaluate(&mut self, x: &Tensor, y: &Tensor) -> Result<Evaluation> {
        let data = self.dataset("x", "y", x, y)?;
        let accuracy = self.compiled.as_ref().is_some_and(|c| c.has_accuracy());
        let from_logits = self.loss_takes_logits();
        let totals = run_batches(self, &data, INFERENCE_BATCH, from_logits, accuracy)?;
        Ok(Evaluation {
            loss: totals.mean_loss(),
            accuracy: accuracy.then(|| totals.accuracy()),
        })
    }

    /// The model's outputs for `x` (class probabilities for a softmax model),
    /// shape `(N, classes)`, Keras' `predict`. Works on an uncompiled model.
    pub fn predict(&mut self, x: &Tensor) -> Result<Tensor> {
        self.check_input("x", x.dims())?;
        super::checks::non_empty("x", x)?;
        super::checks::finite("x", x)?;
        let n = x.dim(0)?;
        let mut outputs = Vec::with_capacity(n.div_ceil(INFERENCE_BATCH));
        for start in (0..n).step_by(INFERENCE_BATCH) {
            let len = INFERENCE_BATCH.min(n - start);
            let xb = super::batches::to_f32(&x.narrow(0, start, len)?)?.to_device(&self.device)?;
            outputs.push(self.run(&xb, false, false)?);
        }
        Ok(Tensor::cat(&outputs, 0)?.to_device(&candle_core::Device::Cpu)?)
    }

    /// The most probable class of each sample, shape `(N,)` u32.
    pub fn predict_classes(&mut self, x: &Tensor) -> Result<Tensor> {
        Ok(self.predict(x)?.argmax(D::Minus1)?)
    }

    /// The confusion matrix of the model's predictions for `x` against the
    /// labels `y` (class indices or one-hot rows): [`plot::confusion_matrix`]
    /// of [`Model::predict`]. Shows itself as a figure in a notebook.
    ///
    /// ```
    /// use dlkit::prelude::*;
    /// let mut model = Sequential::with_seed(1);
    /// model.add(Dense::new(3).input_dim(4).activation(Activation::Softmax))?;
    /// let x = Tensor::zeros((5, 4), DType::F32, &Device::Cpu)?;
    /// let y = Tensor::new(&[0u8, 1, 2, 0, 1], &Device::Cpu)?;
    /// let cm = model.confusion_matrix(&x, &y)?;
    /// assert_eq!(cm.total(), 5);
    /// # Ok::<(), dlkit::Error>(())
    /// ```
    pub fn confusion_matrix(&mut self, x: &Tensor, y: &Tensor) -> Result<plot::ConfusionMatrix> {
        plot::confusion_matrix(y, &self.predict(x)?)
    }

    /// The samples of `x` the model gets wrong, surest first, as a gallery:
    /// [`plot::misclassified`] of [`Model::predict`]. The model must output
    /// probabilities (a softmax last layer); for one that outputs logits, pass
    /// `softmax` of its predictions to `plot::misclassified` yourself.
    ///
    /// ```
    /// use dlkit::prelude::*;
    /// let mut model = Sequential::with_seed(1);
    /// model.add(Dense::new(3).input_dim(4).activation(Activation::Softmax))?;
    /// let x = Tensor::zeros((5, 4), DType::F32, &Device::Cpu)?;
    /// let y = Tensor::new(&[0u8, 1, 2, 0, 1], &Device::Cpu)?;
    /// let wrong = model.misclassified(&x, &y)?.count(9);
    /// assert!(wrong.mistakes() >= 3); // one answer for all five: at most two are right
    /// # Ok::<(), dlkit::Error>(())
    /// ```
    pub fn misclassified(&mut self, x: &Tensor, y: &Tensor) -> Result<plot::Misclassified> {
        plot::misclassified(x, y, &self.predict(x)?)
    }
}
