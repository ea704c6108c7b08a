//! [`BackupAndRestore`]: continuing a training run that was interrupted.

use super::{Callback, Control, EpochLogs, Resume};
use crate::error::{Error, Result};
use crate::model::save::write_safetensors;
use crate::model::Model;
use crate::optim::OptimizerState;
use crate::rng::Rng;
use crate::train::History;
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The one file of a backup: one file, so that one rename replaces all of it.
const BACKUP_FILE: &str = "backup.safetensors";
/// Key of the training state in the safetensors metadata.
const STATE_KEY: &str = "dlkit.backup";
/// Tensor name prefixes; both prefixed, so no layer name can make them collide.
const WEIGHTS: &str = "weights/";
const OPTIMIZER: &str = "optimizer/";
// 2: the history is stored by metric name (open metrics).
const FORMAT_VERSION: u32 = 2;
/// More state vectors per weight than any optimizer has.
const MAX_SLOTS: usize = 8;

/// Backs training up at the end of every epoch and, when `fit` starts and
/// finds a backup, continues from it, like Keras' `BackupAndRestore`:
///
/// ```no_run
/// # use dlkit::prelude::*;
/// # fn demo(model: &mut Model, x: &Tensor, y: &Tensor) -> dlkit::Result<()> {
/// // Interrupted (or the kernel died) after epoch 3? Run the same cell again:
/// // epochs 1-3 come from the backup, training goes on with epoch 4.
/// let history = model.fit(
///     x,
///     y,
///     FitOptions::new().epochs(10).callback(BackupAndRestore::new("backup/mnist")),
/// )?;
/// assert_eq!(history.epochs(), 10);
/// # Ok(()) }
/// ```
///
/// The backup is one file, `backup_dir/backup.safetensors`, replaced through
/// a temporary file and a rename, so a crash while writing leaves the
/// previous epoch's backup. It holds the weights, the optimizer's state (its
/// step count and per-weight vectors, e.g. Adam's moments), the model's
/// random generator, the number of finished epochs and their [`History`].
/// That is everything training depends on, so a resumed run gives the same
/// weights, losses and metrics, bit for bit, as a run that was never
/// interrupted (same data, batch size and options). What differs:
///
/// * an epoch interrupted halfway is done again from its start;
/// * `epoch_seconds` of the restored epochs are those measured back then;
/// * other callbacks start afresh: [`EarlyStopping`](super::EarlyStopping)'s
///   patience and [`ModelCheckpoint`](super::ModelCheckpoint)'s best value
///   count from the first resumed epoch;
/// * the optimizer's settings (learning rate, ...) are the ones the model is
///   compiled with now; only its running state comes from the backup.
///
/// When `fit` ends after its last epoch, the backup is deleted (Keras'
/// `delete_checkpoint=True`; see [`delete_checkpoint`](Self::delete_checkpoint)),
/// and so is `backup_dir` if nothing else is in it. A run that ends earlier
/// (an interrupt, an error, a callback that stops it, [`EarlyStopping`](super::EarlyStopping)
/// included) keeps it, so that running `fit` again continues; unlike Keras,
/// which deletes it after an early stop. Delete the directory to start over.
/// A backup that already holds the epochs `fit` is asked for (or more) is
/// returned as the history without training, and then deleted.
///
/// A backup written by another model (other layers, other shapes, another
/// optimizer) is an [`Error::ModelFile`] that says what does not fit; the
/// model is then left as it was.
#[derive(Clone, Debug)]
pub struct BackupAndRestore {
    dir: PathBuf,
    delete_checkpoint: bool,
    /// The epochs `fit` was asked for; `None` outside a `fit`.
    planned: Option<usize>,
    /// Epochs the backup on disk covers.
    done: usize,
    /// The history so far: callbacks see one epoch at a time, the backup needs all.
    history: History,
}

/// What a backup holds besides tensors.
#[derive(Serialize, Deserialize)]
struct BackupState {
    format_version: u32,
    model: String,
    epochs_done: usize,
    optimizer: String,
    optimizer_step: u64,
    rng: [u64; 4],
    history: ExactHistory,
}

/// The history with every number as its f64 bit pattern: JSON's decimal
/// numbers need not read back to the very same f64, and a resumed run must
/// return exactly the history of an uninterrupted one.
#[derive(Serialize, Deserialize)]
struct ExactHistory {
    metrics: Vec<(String, Vec<u64>)>,
    epoch_seconds: Vec<u64>,
}

impl ExactHistory {
    fn new(h: &History) -> Self {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect();
        ExactHistory {
            metrics: h
                .metrics
                .iter()
                .map(|(key, values)| (key.clone(), bits(values)))
                .collect(),
            epoch_seconds: bits(&h.epoch_seconds),
        }
    }

    fn history(&self) -> History {
        let values = |v: &[u64]| v.iter().map(|&b| f64::from_bits(b)).collect();
        History {
            metrics: self
                .metrics
                .iter()
                .map(|(key, bits)| (key.clone(), values(bits)))
                .collect(),
            epoch_seconds: values(&self.epoch_seconds),
            stopped_early: None,
            phase_seconds: Vec::new(),
        }
    }
}

impl BackupAndRestore {
    /// Backs up into `backup_dir` (created when needed) after every epoch.
    pub fn new(backup_dir: impl AsRef<Path>) -> Self {
        BackupAndRestore {
            dir: backup_dir.as_ref().to_path_buf(),
            delete_checkpoint: true,
            planned: None,
            done: 0,
            history: History::default(),
        }
    }

    /// Whether to delete the backup when training has done all its epochs
    /// (default `true`); with `false` it stays, and a later `fit` with the
    /// same number of epochs returns the backed-up history without training.
    pub fn delete_checkpoint(mut self, yes: bool) -> Self {
        self.delete_checkpoint = yes;
        self
    }

    fn file(&self) -> PathBuf {
        self.dir.join(BACKUP_FILE)
    }

    /// What to do about a backup that does not fit, appended to the error.
    fn fix(&self) -> String {
        format!(
            "delete {} to start training from scratch, or give BackupAndRestore another directory",
            self.dir.display()
        )
    }

    fn write(&self, model: &Model, epochs_done: usize) -> Result<()> {
        let compiled = model.require_compiled()?;
        let weights = model.named_weights();
        let trained = model.trainable_weight_names();
        let slots = compiled.state.slots();
        if !slots.is_empty() && slots.len() != trained.len() {
            return Err(Error::Training(format!(
                "BackupAndRestore: the optimizer holds state for {} weights, the model trains {}",
                slots.len(),
                trained.len()
            )));
        }
        let mut tensors = Vec::with_capacity(weights.len() * 3);
        for (name, vectors) in trained.iter().zip(slots) {
            for (k, v) in vectors.iter().enumerate() {
                let t = Tensor::from_slice(v, v.len(), &Device::Cpu)?;
                tensors.push((format!("{OPTIMIZER}{name}/{k}"), t));
            }
        }
        tensors.extend(
            weights
                .into_iter()
                .map(|(n, t)| (format!("{WEIGHTS}{n}"), t)),
        );
        let state = BackupState {
            format_version: FORMAT_VERSION,
            model: model.name.clone(),
            epochs_done,
            optimizer: compiled.optimizer.keras_name().into(),
            optimizer_step: compiled.state.iterations(),
            rng: model.rng.state(),
            history: ExactHistory::new(&self.history),
        };
        let json = serde_json::to_string(&state)
            .map_err(|e| Error::ModelFile(format!("cannot describe the training state: {e}")))?;
        let metadata = HashMap::from([(STATE_KEY.to_string(), json)]);
        write_safetensors(&self.file(), &tensors, Some(metadata))
    }

    /// Reads the backup in `bytes` and puts it into `model`: everything is
    /// checked before the first change, so on an error the model is as it was.
    fn restore(&self, model: &mut Model, path: &Path, bytes: &[u8]) -> Result<Resume> {
        let corrupt = |what: String| {
            Error::ModelFile(format!(
                "{}: {what}; it is not a backup this dlkit can continue from: {}",
                path.display(),
                self.fix()
            ))
        };
        let model_name = model.name.clone();
        let mismatch = |what: String| {
            Error::ModelFile(format!(
                "{} does not fit model '{model_name}': {what}. The backup was written by another \
                 model (or before this one was changed); {}",
                path.display(),
                self.fix()
            ))
        };
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| corrupt(format!("not a safetensors file ({e})")))?;
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(STATE_KEY))
            .ok_or_else(|| corrupt("it holds no training state".into()))?;
        let state: BackupState = serde_json::from_str(json)
            .map_err(|e| corrupt(format!("its training state is not valid ({e})")))?;
        if state.format_version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "it is in backup format {}, this dlkit reads format {FORMAT_VERSION}",
                state.format_version
            )));
        }
        let history = state.history.history();
        if history.epochs() != state.epochs_done {
            return Err(corrupt(format!(
                "it says {} epochs are done but holds the history of {}",
                state.epochs_done,
                history.epochs()
            )));
        }
        let rng = Rng::from_state(state.rng)
            .ok_or_else(|| corrupt("its random generator state is all zeros".into()))?;
        let compiled = model.require_compiled()?;
        if state.optimizer != compiled.optimizer.keras_name() {
            return Err(mismatch(format!(
                "it holds the state of optimizer {}, the model is compiled with {}",
                state.optimizer,
                compiled.optimizer.keras_name()
            )));
        }
        let slot_count = compiled.optimizer.rule().slot_count();

        let tensors = candle_core::safetensors::load_buffer(bytes, &model.device)
            .map_err(|e| corrupt(format!("its tensors are not readable ({e})")))?;
        let mut weights = HashMap::new();
        let mut vectors: HashMap<String, Vec<Option<Vec<f32>>>> = HashMap::new();
        for (key, t) in tensors {
            if let Some(name) = key.strip_prefix(WEIGHTS) {
                weights.insert(name.to_string(), t);
                continue;
            }
            let slot = key
                .strip_prefix(OPTIMIZER)
                .and_then(|s| s.rsplit_once('/'))
                .and_then(|(name, k)| Some((name, k.parse::<usize>().ok()?)));
            // Optimizers keep at most a few vectors per weight; a larger
            // number is damage, not a reason to allocate that many.
            let Some((name, k)) = slot.filter(|&(_, k)| k < MAX_SLOTS) else {
                return Err(corrupt(format!("it holds a tensor named {key:?}")));
            };
            let entry = vectors.entry(name.to_string()).or_default();
            if entry.len() <= k {
                entry.resize(k + 1, None);
            }
            let v = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            entry[k] = Some(v);
        }
        // Before the first update there is no optimizer state to restore.
        let fresh_optimizer = state.optimizer_step == 0 && vectors.is_empty();
        let trained = model.trainable_weight_names();
        if !fresh_optimizer {
            // Only trained weights have optimizer state (not moving statistics).
            for (name, w) in weights.iter().filter(|(n, _)| trained.contains(n)) {
                let saved = vectors.get(name).map_or(0, |v| v.len());
                if saved != slot_count {
                    return Err(mismatch(format!(
                        "it holds {saved} optimizer vector(s) for {name}, {} with these settings \
                         needs {slot_count}",
                        state.optimizer
                    )));
                }
                for (k, v) in vectors.get(name).into_iter().flatten().enumerate() {
                    match v {
                        Some(v) if v.len() == w.elem_count() => {}
                        Some(v) => {
                            return Err(corrupt(format!(
                                "optimizer vector {k} of {name} has {} values, the weight has {}",
                                v.len(),
                                w.elem_count()
                            )))
                        }
                        None => {
                            return Err(corrupt(format!(
                                "optimizer vector {k} of {name} is missing"
                            )))
                        }
                    }
                }
            }
            if let Some(name) = vectors.keys().find(|n| !trained.contains(n)) {
                return Err(corrupt(format!(
                    "it holds optimizer state for {name}, which is not among the weights the model trains"
                )));
            }
        }
        // The optimizer vectors in the model's weight order (all present for
        // every weight of the backup, checked above); a weight the backup
        // lacks makes assign_weights below refuse the whole backup.
        let slots: Vec<Vec<Vec<f32>>> = if fresh_optimizer {
            Vec::new()
        } else {
            trained
                .iter()
                .map(|name| {
                    let v = vectors.remove(name).unwrap_or_default();
                    v.into_iter().flatten().collect()
                })
                .collect()
        };
        // The weights last: this checks them all before changing any, and
        // nothing after it can fail, so the model changes wholly or not at all.
        model.assign_weights(path, weights).map_err(|e| match e {
            Error::ModelFile(msg) => Error::ModelFile(format!(
                "{msg}. The backup was written by another model (or before this one was \
                 changed); {}",
                self.fix()
            )),
            other => other,
        })?;
        model.rng = rng;
        if let Some(compiled) = model.compiled.as_mut() {
            compiled.state = OptimizerState::from_parts(state.optimizer_step, slots);
        }
        Ok(Resume {
            epochs_done: state.epochs_done,
            history,
        })
    }
}

impl Callback for BackupAndRestore {
    fn on_train_begin(&mut self, model: &mut Model, epochs: usize) -> Result<Option<Resume>> {
        self.planned = None;
        self.done = 0;
        self.history = History::default();
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "BackupAndRestore: {} is a file, not a directory; give it a directory to \
                 keep its backup in",
                self.dir.display()
            )));
        }
        let path = self.file();
        crate::fs::check_no_file_in_the_way(&self.dir, &path)?;
        let resume = match std::fs::read(&path) {
            Ok(bytes) => Some(self.restore(model, &path, &bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        if let Some(r) = &resume {
            self.done = r.epochs_done;
            self.history = r.history.clone();
        }
        self.planned = Some(epochs);
        Ok(resume)
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control> {
        // fit numbers epochs after the restored ones; anything else would
        // write a backup whose history does not match its epochs.
        if self.history.epochs() != logs.epoch {
            return Err(Error::Training(format!(
                "BackupAndRestore got epoch {} but holds the history of {} epoch(s); it only \
                 works as a callback of fit, and as the only one that resumes training",
                logs.epoch + 1,
                self.history.epochs()
            )));
        }
        self.history.push(logs);
        self.write(model, logs.epoch + 1)?;
        self.done = logs.epoch + 1;
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, _model: &Model) -> Result<()> {
        let finished = self
            .planned
            .take()
            .is_some_and(|planned| self.done >= planned);
        if !(finished && self.delete_checkpoint) {
            return Ok(());
        }
        let path = self.file();
        // A failed clean-up must not cost the history of a finished run: warn.
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("BackupAndRestore: could not delete {}: {e}", path.display());
            }
        }
        // Temporary files of writes a crash cut short (named by fs::write_atomic,
        // in an earlier process), then the directory, which remove_dir only
        // removes when nothing else is in it.
        crate::fs::remove_abandoned_partials(&self.dir);
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}
