//! [`ModelCheckpoint`]: saving the model while it trains.

use super::{check_monitor, improves, maximised, monitored, Callback, Control, EpochLogs, Resume};
use crate::error::{Error, Result};
use crate::model::Model;
use std::path::{Path, PathBuf};

/// Saves the model at the end of every epoch, or only when a monitored
/// metric improved, like Keras' `ModelCheckpoint`:
///
/// ```no_run
/// # use dlkit::prelude::*;
/// # fn demo(model: &mut Model, x: &Tensor, y: &Tensor) -> dlkit::Result<()> {
/// let options = FitOptions::new().epochs(10).validation_split(0.1).callback(
///     ModelCheckpoint::new("checkpoints/mnist-{epoch:02d}.safetensors")
///         .monitor("val_loss")
///         .save_best_only(true)
///         .verbose(1),
/// );
/// model.fit(x, y, options)?;
/// # Ok(()) }
/// ```
///
/// The file is what [`Model::save`] writes (load it with
/// [`load_model`](crate::model::load_model)), or with
/// [`save_weights_only`](Self::save_weights_only) what [`Model::save_weights`]
/// writes. In the path, `{epoch}` becomes the 1-based epoch number, and
/// Python's format forms work as in Keras: `{epoch:02d}` pads it,
/// `{val_loss:.4f}` puts in a metric of that epoch. Every save goes through a
/// temporary file and a rename, so an interrupted save leaves the previous
/// file, never half of a new one. With `save_best_only`, a monitored metric
/// that the training does not report (`val_loss` without validation data) is
/// an [`Error::InvalidArgument`] at the end of the first epoch.
///
/// Its best value is not part of a [`BackupAndRestore`](super::BackupAndRestore)
/// backup: after a resume, the first epoch counts as an improvement again.
#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: String,
    save_best_only: bool,
    save_weights_only: bool,
    verbose: u8,
    best: Option<f64>,
}

impl ModelCheckpoint {
    /// Saves the whole model to `path` after every epoch (Keras' defaults:
    /// monitor `val_loss`, not only the best, silent).
    pub fn new(path: impl AsRef<Path>) -> Self {
        ModelCheckpoint {
            path: path.as_ref().to_path_buf(),
            monitor: "val_loss".into(),
            save_best_only: false,
            save_weights_only: false,
            verbose: 0,
            best: None,
        }
    }

    /// The metric that decides what "best" is; names containing "acc" are
    /// maximised, others minimised (as in [`EarlyStopping`](super::EarlyStopping)).
    pub fn monitor(mut self, metric: impl Into<String>) -> Self {
        self.monitor = metric.into();
        self
    }

    /// Save only in epochs where the monitored metric beats every epoch
    /// before it (with a path without `{epoch}`, the file then always holds
    /// the best model so far).
    pub fn save_best_only(mut self, yes: bool) -> Self {
        self.save_best_only = yes;
        self
    }

    /// Save only the weights ([`Model::save_weights`]) instead of the model.
    pub fn save_weights_only(mut self, yes: bool) -> Self {
        self.save_weights_only = yes;
        self
    }

    /// 1 prints a line for every save (and for every epoch that did not
    /// improve, with `save_best_only`), 0 is silent.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }

    /// The path for this epoch, with its `{...}` fields filled in.
    fn file_for(&self, logs: &EpochLogs) -> Result<PathBuf> {
        // A path that is not UTF-8 cannot hold a template: use it as it is.
        match self.path.to_str() {
            Some(template) if template.contains('{') => {
                Ok(PathBuf::from(fill_template(template, logs)?))
            }
            _ => Ok(self.path.clone()),
        }
    }

    fn save(&self, model: &Model, path: &Path) -> Result<()> {
        if self.save_weights_only {
            model.save_weights(path)
        } else {
            model.save(path)
        }
    }
}

impl Callback for ModelCheckpoint {
    /// A bad path template or monitor is an error before the first epoch,
    /// not after an epoch's work.
    fn on_train_begin(&mut self, model: &mut Model, _epochs: usize) -> Result<Option<Resume>> {
        if self.path.file_name().is_none() || self.path.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "ModelCheckpoint path {:?} names a directory, not a file; write e.g. \
                 \"checkpoints/model-{{epoch:02d}}.safetensors\"",
                self.path
            )));
        }
        if let Some(template) = self.path.to_str().filter(|t| t.contains('{')) {
            check_template(template)?;
        }
        // The folders before the first `{...}` are known now: no file may
        // stand where one of them should be.
        let fixed = self
            .path
            .ancestors()
            .skip(1)
            .find(|d| !d.to_string_lossy().contains('{'));
        if let Some(dir) = fixed.filter(|d| !d.as_os_str().is_empty()) {
            crate::fs::check_no_file_in_the_way(dir, &self.path)?;
        }
        if self.save_best_only {
            check_monitor(model, &self.monitor, "ModelCheckpoint")?;
        }
        Ok(None)
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control> {
        let epoch = logs.epoch + 1;
        let what = if self.save_weights_only {
            "weights"
        } else {
            "model"
        };
        if !self.save_best_only {
            let path = self.file_for(logs)?;
            self.save(model, &path)?;
            if self.verbose > 0 {
                println!("Epoch {epoch}: saving {what} to {}", path.display());
            }
            return Ok(Control::Continue);
        }
        let value = monitored(logs, &self.monitor, "ModelCheckpoint")?;
        // Keras prints the bound before the first value as inf (or -inf).
        let previous = match self.best {
            Some(best) => format!("{best:.4}"),
            None if maximised(&self.monitor) => "-inf".into(),
            None => "inf".into(),
        };
        if !improves(&self.monitor, value, self.best, 0.0) {
            if self.verbose > 0 {
                println!(
                    "Epoch {epoch}: {} did not improve from {previous}",
                    self.monitor
                );
            }
            return Ok(Control::Continue);
        }
        let path = self.file_for(logs)?;
        self.save(model, &path)?;
        // Only a value whose model is on disk counts as the best.
        self.best = Some(value);
        if self.verbose > 0 {
            println!(
                "Epoch {epoch}: {} improved from {previous} to {value:.4}, saving {what} to {}",
                self.monitor,
                path.display()
            );
        }
        Ok(Control::Continue)
    }
}

/// Fills `{epoch}`, `{epoch:02d}`, `{val_loss:.4f}`, ... in a path template.
fn fill_template(template: &str, logs: &EpochLogs) -> Result<String> {
    expand(template, |key| {
        if key == "epoch" {
            return Ok(Value::Integer(logs.epoch + 1));
        }
        logs.get(key).map(Value::Float).ok_or_else(|| {
            format!(
                "{{{key}}} is not a metric this training reports (it reports {})",
                logs.reported().join(", ")
            )
        })
    })
}

/// Checks a path template before training: every `{...}` closed, every
/// format one dlkit knows and within its limits, `{epoch}` given an integer
/// format. Whether a metric is reported is only known at the end of an epoch.
fn check_template(template: &str) -> Result<()> {
    expand(template, |key| {
        Ok(if key == "epoch" {
            Value::Integer(1)
        } else {
            Value::Float(0.0)
        })
    })
    .map(|_| ())
}

/// What a `{...}` field of a template stands for.
enum Value {
    Integer(usize),
    Float(f64),
}

/// The template with each `{key:spec}` replaced by `value(key)` in its format.
fn expand(
    template: &str,
    value: impl Fn(&str) -> std::result::Result<Value, String>,
) -> Result<String> {
    let bad = |problem: String| {
        Error::InvalidArgument(format!(
            "ModelCheckpoint path {template:?}: {problem}; write {{epoch}}, {{epoch:02d}} \
             or a metric such as {{val_loss:.4f}}"
        ))
    };
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| bad("a '{' has no closing '}'".into()))?;
        let field = &after[..close];
        let (key, spec) = field.split_once(':').unwrap_or((field, ""));
        let spec = Spec::parse(spec).map_err(|why| bad(format!("{{{field}}} {why}")))?;
        let text = match value(key).map_err(&bad)? {
            Value::Integer(n) => spec.integer(n),
            Value::Float(x) => spec.float(x),
        };
        let text = text.ok_or_else(|| bad(format!("{{{field}}} does not fit a {key} value")))?;
        out.push_str(&text);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The widest field a template may ask for: enough for any file name, and
/// far below the width at which `format!` itself gives up (and panics).
const MAX_WIDTH: usize = 64;
/// The most digits after the point: more than an f64 holds.
const MAX_PRECISION: usize = 32;

/// The part of Python's format mini-language that file names use:
/// `[0][width][.precision][d|f]`.
#[derive(Debug, PartialEq)]
struct Spec {
    zero_pad: bool,
    width: usize,
    precision: Option<usize>,
    kind: Option<char>,
}

impl Spec {
    /// The spec, or why it is not one dlkit takes (to follow "{field} ").
    fn parse(spec: &str) -> std::result::Result<Spec, String> {
        let unknown = || "has a format dlkit does not know".to_string();
        let (body, kind) = match spec.chars().last() {
            Some(c @ ('d' | 'f')) => (&spec[..spec.len() - 1], Some(c)),
            _ => (spec, None),
        };
        let (width, precision) = match body.split_once('.') {
            Some((w, p)) => (w, Some(p)),
            None => (body, None),
        };
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !digits(width) || !precision.is_none_or(|p| !p.is_empty() && digits(p)) {
            return Err(unknown());
        }
        // Digits only, so a parse fails only on a number too large for usize.
        let number = |s: &str, limit: usize, what: &str| match s.parse::<usize>() {
            Ok(n) if n <= limit => Ok(n),
            _ => Err(format!(
                "asks for a {what} of {s}; dlkit takes {what}s up to {limit}"
            )),
        };
        Ok(Spec {
            zero_pad: width.len() > 1 && width.starts_with('0'),
            width: if width.is_empty() {
                0
            } else {
                number(width, MAX_WIDTH, "width")?
            },
            precision: match precision {
                Some(p) => Some(number(p, MAX_PRECISION, "precision")?),
                None => None,
            },
            kind,
        })
    }

    /// An epoch number; `None` for float-only formats (`.2f`).
    fn integer(&self, n: usize) -> Option<String> {
        if self.kind == Some('f') || self.precision.is_some() {
            return None;
        }
        let w = self.width;
        Some(if self.zero_pad {
            format!("{n:0w$}")
        } else {
            format!("{n:w$}")
        })
    }

    /// A metric; `None` for integer formats (`d`), which Python refuses too.
    fn float(&self, x: f64) -> Option<String> {
        if self.kind == Some('d') {
            return None;
        }
        // Python's `f` without a precision means 6 digits; no type, Python's
        // shortest form, which Rust's `{}` also gives.
        let precision = self.precision.or((self.kind == Some('f')).then_some(6));
        let w = self.width;
        Some(match (precision, self.zero_pad) {
            (Some(p), true) => format!("{x:0w$.p$}"),
            (Some(p), false) => format!("{x:w$.p$}"),
            (None, true) => format!("{x:0w$}"),
            (None, false) => format!("{x:w$}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(epoch: usize) -> EpochLogs {
        EpochLogs {
            epoch,
            metrics: vec![("loss".into(), 0.123456), ("accuracy".into(), 0.975)],
            seconds: 1.0,
        }
    }

    #[test]
    fn template_fills_epoch_and_metrics_in_python_formats() {
        let fill = |t: &str| fill_template(t, &logs(2)).unwrap();
        assert_eq!(fill("m-{epoch}.safetensors"), "m-3.safetensors");
        assert_eq!(fill("m-{epoch:02d}.st"), "m-03.st");
        assert_eq!(fill("m-{epoch:03}"), "m-003");
        assert_eq!(fill("m-{epoch:3d}"), "m-  3");
        assert_eq!(fill("{epoch:02d}-{loss:.2f}"), "03-0.12");
        assert_eq!(fill("{loss:.3}"), "0.123");
        assert_eq!(fill("{accuracy:f}"), "0.975000");
        assert_eq!(fill("{accuracy}"), "0.975");
        assert_eq!(fill("plain"), "plain");
        assert_eq!(fill_template("e{epoch}", &logs(9)).unwrap(), "e10");
    }

    #[test]
    fn template_errors_name_the_field() {
        let err = |t: &str| fill_template(t, &logs(0)).unwrap_err().to_string();
        assert!(
            err("{val_loss:.2f}").contains("{val_loss} is not a metric"),
            "{}",
            err("{val_loss}")
        );
        assert!(err("{val_loss}").contains("it reports loss, accuracy"));
        assert!(err("{epoch:.2f}").contains("does not fit"));
        assert!(err("{loss:02d}").contains("does not fit"));
        assert!(err("{epoch:x}").contains("format dlkit does not know"));
        assert!(err("m-{epoch").contains("no closing"));
    }

    #[test]
    fn best_only_rule_minimises_losses_and_maximises_accuracies() {
        assert!(improves("val_loss", 0.5, None, 0.0));
        assert!(improves("val_loss", 0.4, Some(0.5), 0.0));
        assert!(!improves("val_loss", 0.5, Some(0.5), 0.0));
        assert!(!improves("val_loss", 0.6, Some(0.5), 0.0));
        assert!(improves("val_accuracy", 0.9, Some(0.8), 0.0));
        assert!(!improves("val_accuracy", 0.8, Some(0.8), 0.0));
        assert!(!improves("val_accuracy", 0.85, Some(0.8), 0.1));
        assert!(!improves("loss", f64::NAN, None, 0.0));
    }
}
