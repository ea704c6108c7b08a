//! `evaluate` and `predict`: the model in inference mode, batch by batch.

use super::batches::Samples;
use super::progress::metrics_line;
use super::Metric;
use crate::error::Result;
use crate::model::Model;
use crate::plot;
use candle_core::{Tensor, D};

/// Batch size for inference (evaluate, predict and fit's validation pass):
/// larger batches make better use of the matrix kernels, and nothing is kept
/// for gradients.
const INFERENCE_BATCH: usize = 256;

/// Running sums of the loss and of each metric over batches.
pub(crate) struct Totals<'a> {
    metrics: &'a [Metric],
    loss_sum: f64,
    metric_sums: Vec<f64>,
    seen: usize,
}

impl<'a> Totals<'a> {
    pub fn new(metrics: &'a [Metric]) -> Self {
        Totals {
            metrics,
            loss_sum: 0.0,
            metric_sums: vec![0.0; metrics.len()],
            seen: 0,
        }
    }

    /// Adds one batch: its mean loss, and each metric scored on its output.
    pub fn add(
        &mut self,
        batch_loss: f64,
        output: &Tensor,
        targets: &Tensor,
        classes: Option<&[u32]>,
        from_logits: bool,
    ) -> Result<()> {
        let n = output.dim(0)?;
        self.loss_sum += batch_loss * n as f64;
        for (sum, metric) in self.metric_sums.iter_mut().zip(self.metrics) {
            *sum += metric.batch_sum(output, targets, classes, from_logits)?;
        }
        self.seen += n;
        Ok(())
    }

    /// The mean so far of `"loss"` or of a metric by its canonical name, without
    /// allocating (a callback may ask after every batch).
    pub fn mean(&self, name: &str) -> Option<f64> {
        let sum = if name == "loss" {
            self.loss_sum
        } else {
            let k = self.metrics.iter().position(|m| m.name() == name)?;
            self.metric_sums[k]
        };
        Some(sum / self.seen.max(1) as f64)
    }

    /// `(key, mean)` for the loss and each metric, keys prefixed (`val_`).
    pub fn pairs(&self, prefix: &str) -> Vec<(String, f64)> {
        let mean = |sum: f64| sum / self.seen.max(1) as f64;
        std::iter::once(("loss", self.loss_sum))
            .chain(
                self.metrics
                    .iter()
                    .map(|m| m.name())
                    .zip(self.metric_sums.iter().copied()),
            )
            .map(|(name, sum)| (format!("{prefix}{name}"), mean(sum)))
            .collect()
    }
}

/// Loss and metrics of the model over a whole dataset, without training;
/// with `check_outputs`, a non-finite output is an error naming its sample
/// (`evaluate`; `fit`'s validation pass reports a NaN `val_loss` instead).
pub(crate) fn run_batches<'a>(
    model: &mut Model,
    data: &Samples,
    metrics: &'a [Metric],
    from_logits: bool,
    check_outputs: bool,
) -> Result<Totals<'a>> {
    let device = model.device.clone();
    let loss = model.require_compiled()?.loss.clone();
    let mut totals = Totals::new(metrics);
    for (k, indices) in data.batch_indices(INFERENCE_BATCH, None).iter().enumerate() {
        let (xb, yb, classes) = data.gather(indices, &device)?;
        let output = model.run(&xb, false, from_logits)?;
        if check_outputs {
            super::checks::finite_outputs(&output, k * INFERENCE_BATCH)?;
        }
        let value = loss
            .compute(&output, &yb, from_logits)?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        totals.add(value, &output, &yb, classes.as_deref(), from_logits)?;
    }
    Ok(totals)
}

/// The result of [`Model::evaluate`]: Keras' `[loss, metric, ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    /// `(name, value)` of each compiled metric: `[("accuracy", 0.99)]`.
    pub metrics: Vec<(String, f64)>,
}

impl Evaluation {
    /// A metric by name (`"accuracy"`, `"mae"`, ...), `None` when the model
    /// was compiled without it.
    pub fn get(&self, name: &str) -> Option<f64> {
        let name = super::metrics::canonical_name(name);
        self.metrics
            .iter()
            .find(|(key, _)| key == name)
            .map(|&(_, v)| v)
    }

    /// The accuracy, `None` when the model was compiled without it.
    pub fn accuracy(&self) -> Option<f64> {
        self.get("accuracy")
    }

    /// Classification error in percent, as the tutorials report it (`100 - accuracy·100`).
    pub fn error_percent(&self) -> Option<f64> {
        self.accuracy().map(|a| 100.0 * (1.0 - a))
    }
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut pairs = vec![("loss".to_string(), self.loss)];
        pairs.extend(self.metrics.iter().cloned());
        f.write_str(&metrics_line(&pairs))
    }
}

impl Model {
    /// Loss and metrics on `(x, y)`, Keras' `evaluate`. Dropout is off.
    pub fn evaluate(&mut self, x: &Tensor, y: &Tensor) -> Result<Evaluation> {
        let data = self.dataset("x", "y", x, y)?;
        super::checks::finite_weights(self)?;
        let metrics = self.require_compiled()?.metrics.clone();
        let from_logits = self.loss_takes_logits();
        let mut pairs = run_batches(self, &data, &metrics, from_logits, true)?.pairs("");
        crate::ops::release_free_memory();
        let (_, loss) = pairs.remove(0);
        Ok(Evaluation {
            loss,
            metrics: pairs,
        })
    }

    /// The model's outputs for `x` (class probabilities for a softmax model),
    /// shape `(N, classes)`, Keras' `predict`. Works on an uncompiled model.
    pub fn predict(&mut self, x: &Tensor) -> Result<Tensor> {
        self.check_input("x", x.dims())?;
        super::checks::non_empty("x", x)?;
        super::checks::finite("x", x)?;
        super::checks::finite_weights(self)?;
        let n = x.dim(0)?;
        let mut outputs = Vec::with_capacity(n.div_ceil(INFERENCE_BATCH));
        for start in (0..n).step_by(INFERENCE_BATCH) {
            let len = INFERENCE_BATCH.min(n - start);
            let xb =
                crate::preprocessing::to_f32(&x.narrow(0, start, len)?)?.to_device(&self.device)?;
            let output = self.run(&xb, false, false)?;
            super::checks::finite_outputs(&output, start)?;
            outputs.push(output);
        }
        let outputs = Tensor::cat(&outputs, 0)?.to_device(&candle_core::Device::Cpu)?;
        crate::ops::release_free_memory();
        Ok(outputs)
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
