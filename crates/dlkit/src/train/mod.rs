//! Training: `compile`, `fit`, `evaluate` and `predict` on a [`Model`](crate::model::Model),
//! with Keras' losses, a per-epoch [`History`], callbacks and progress lines.

mod batches;
mod callbacks;
mod checks;
mod compile;
mod diverged;
mod evaluate;
mod events;
mod fit;
mod history;
pub mod interrupt;
mod loss;
mod loss_fn;
mod metric_fn;
mod metrics;
mod phases;
mod progress;
mod sample_limit;
mod step;

pub use callbacks::{
    BackupAndRestore, BatchLogs, Callback, Control, EarlyStopping, EpochLogs,
    LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau, Resume, TerminateOnNaN,
};
pub use compile::Compiled;
pub use evaluate::Evaluation;
pub use fit::FitOptions;
pub use history::History;
pub use loss::Loss;
pub use loss_fn::{CustomLoss, LossFn};
pub use metric_fn::{Better, CustomMetric, MetricFn};
pub(crate) use metrics::maximised;
pub use metrics::Metric;
pub use phases::EpochPhases;
pub use sample_limit::{limit_training_samples, training_sample_limit};
