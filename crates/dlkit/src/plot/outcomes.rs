//! What a classifier predicted for each sample, beside the truth: the input of
//! [`confusion_matrix`](super::confusion_matrix) and [`misclassified`](super::misclassified).
//!
//! Labels come as the dataset gives them: class indices of shape `(N,)` or
//! `(N, 1)`, in any integer dtype or as whole-number floats, or one-hot rows of
//! shape `(N, classes)` (`to_categorical` output). Predictions come as
//! `model.predict` gives them, one row of class probabilities per sample
//! `(N, classes)`, or as class indices `(N,)` (`model.predict_classes`).

use candle_core::{DType, Tensor};

use crate::display::shape_of;
use crate::error::{Error, Result};
use crate::preprocessing::{label_indices, NotAClass};

/// The most classes the confusion matrix and the gallery take.
pub const MAX_CLASSES: usize = 100;

/// Labels and predictions read from their tensors and checked against each other.
#[derive(Clone, Debug)]
pub(crate) struct Outcomes {
    /// The true class of each sample.
    pub(crate) truth: Vec<usize>,
    /// The predicted class of each sample.
    pub(crate) predicted: Vec<usize>,
    /// The predictions' rows, `classes` values each, when they were given as
    /// float scores of shape `(N, classes)`.
    pub(crate) scores: Option<Vec<f32>>,
    pub(crate) classes: usize,
    /// Whether `classes` is the width of the predictions or of one-hot labels,
    /// rather than the largest class seen plus one.
    pub(crate) width_known: bool,
}

/// Class indices, or rows whose largest entry is the class.
enum Classes {
    Indices(Vec<usize>),
    Rows {
        argmax: Vec<usize>,
        scores: Option<Vec<f32>>,
        width: usize,
    },
}

impl Classes {
    fn indices(&self) -> &[usize] {
        match self {
            Classes::Indices(v) => v,
            Classes::Rows { argmax, .. } => argmax,
        }
    }

    fn width(&self) -> Option<usize> {
        match self {
            Classes::Indices(_) => None,
            Classes::Rows { width, .. } => Some(*width),
        }
    }
}

/// Reads `y_true` and `predictions` for `caller` (e.g. `"plot::confusion_matrix"`).
pub(crate) fn outcomes(caller: &str, y_true: &Tensor, predictions: &Tensor) -> Result<Outcomes> {
    let truth = read(caller, "y_true", y_true, true)?;
    let predicted = read(caller, "predictions", predictions, false)?;
    let (n, m) = (truth.indices().len(), predicted.indices().len());
    if n != m {
        return Err(Error::Shape(format!(
            "{caller}: y_true has {n} labels but the predictions have {m} rows; \
             pass the predictions of the same samples (`model.predict(&x_test)?` with `y_test`)"
        )));
    }
    let classes = match (truth.width(), predicted.width()) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::Shape(format!(
                "{caller}: y_true has one-hot rows of {a} classes \
                 but the predictions have {b} columns"
            )))
        }
        (Some(k), _) | (_, Some(k)) => Some(k),
        (None, None) => None,
    };
    let width_known = classes.is_some();
    let classes = match classes {
        Some(k) => k,
        None => {
            let largest = truth
                .indices()
                .iter()
                .chain(predicted.indices())
                .copied()
                .max()
                .unwrap_or(0);
            largest.checked_add(1).ok_or_else(|| {
                Error::InvalidArgument(format!("{caller}: class {largest} is too large"))
            })?
        }
    };
    if width_known && classes > MAX_CLASSES {
        return Err(Error::InvalidArgument(format!(
            "{caller} takes at most {MAX_CLASSES} classes; the predictions have {classes}"
        )));
    }
    // With a known width a class must be below it; without, below the limit.
    let (limit, why) = if width_known {
        let source = if truth.width().is_some() {
            "one-hot labels"
        } else {
            "predictions"
        };
        let last = classes - 1;
        (
            classes,
            format!("not one of the {classes} classes (0 to {last}) of the {source}"),
        )
    } else {
        (
            MAX_CLASSES,
            format!("more classes than the {MAX_CLASSES} that {caller} takes"),
        )
    };
    for (what, of) in [("y_true", &truth), ("predictions", &predicted)] {
        if let Some((i, &c)) = of.indices().iter().enumerate().find(|(_, &c)| c >= limit) {
            return Err(Error::InvalidArgument(format!(
                "{caller}: {what}[{i}] is {c}, {why}"
            )));
        }
    }
    let (predicted, scores) = match predicted {
        Classes::Rows { argmax, scores, .. } => (argmax, scores),
        Classes::Indices(v) => (v, None),
    };
    Ok(Outcomes {
        truth: truth.indices().to_vec(),
        predicted,
        scores,
        classes,
        width_known,
    })
}

/// The classes in `t`: indices of shape `(N,)` (or `(N, 1)` when `column_ok`)
/// or rows of shape `(N, classes)`.
fn read(caller: &str, what: &str, t: &Tensor, column_ok: bool) -> Result<Classes> {
    let expected = if column_ok {
        "class indices of shape (N,) or (N, 1), or one-hot rows of shape (N, classes)"
    } else {
        "class probabilities of shape (N, classes), as `model.predict` returns them, \
         or class indices of shape (N,)"
    };
    let classes = match *t.dims() {
        [_] => indices(caller, what, t)?,
        [_, 1] if column_ok => indices(caller, what, t)?,
        [n, k] if k > 1 => rows(caller, what, t, n, k, column_ok)?,
        _ => {
            return Err(Error::Shape(format!(
                "{caller}: {what} must be {expected}; got a tensor of shape {}",
                shape_of(t)
            )))
        }
    };
    if classes.indices().is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{caller}: {what} has no samples (shape {}); there is nothing to count",
            shape_of(t)
        )));
    }
    Ok(classes)
}

fn indices(caller: &str, what: &str, t: &Tensor) -> Result<Classes> {
    let values = label_indices(t, |i, label, why| {
        let why = match why {
            NotAClass::NotWhole => "not a whole number",
            NotAClass::Negative => "negative",
        };
        Error::InvalidArgument(format!(
            "{caller}: {what}[{i}] is {label}, {why}; classes are numbered 0, 1, 2, …"
        ))
    })?;
    Ok(Classes::Indices(values))
}

/// Rows of scores, or of one-hot labels when `one_hot` (anything else there is
/// most likely the predictions passed where the labels go).
fn rows(
    caller: &str,
    what: &str,
    t: &Tensor,
    n: usize,
    k: usize,
    one_hot: bool,
) -> Result<Classes> {
    let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    if one_hot {
        let bad = values.chunks_exact(k).position(|row| {
            row.iter().any(|&v| v != 0.0 && v != 1.0) || row.iter().sum::<f32>() != 1.0
        });
        if let Some(i) = bad {
            return Err(Error::InvalidArgument(format!(
                "{caller}: {what}[{i}] is not a one-hot row (one 1, the rest 0): {:?}; \
                 the true labels come first, then the predictions",
                &values[i * k..(i + 1) * k]
            )));
        }
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "{caller}: {what}[{}] holds {} (column {}); NaN or infinite outputs have no class",
            i / k,
            values[i],
            i % k
        )));
    }
    let argmax = values.chunks_exact(k).map(argmax).collect::<Vec<_>>();
    debug_assert_eq!(argmax.len(), n);
    let scores = t.dtype().is_float().then_some(values);
    Ok(Classes::Rows {
        argmax,
        scores,
        width: k,
    })
}

/// The index of the largest value, the first one on ties (as numpy's argmax).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
            if p > best.1 {
                (i, p)
            } else {
                best
            }
        })
        .0
}

/// Why `row` cannot be class probabilities (finite, in [0, 1], summing to 1
/// within rounding), worded to follow "these" ("sum to 3.2000"), or `None`.
pub(crate) fn not_probabilities(row: &[f32]) -> Option<String> {
    if let Some(v) = row
        .iter()
        .find(|p| !(p.is_finite() && (-1e-4..=1.0 + 1e-4).contains(*p)))
    {
        return Some(format!("include {v}, outside [0, 1]"));
    }
    let sum: f32 = row.iter().sum();
    ((sum - 1.0).abs() > 0.01).then(|| format!("sum to {sum:.4}"))
}

/// The name of `class`: from `names` when given, else the class number.
pub(crate) fn class_name(names: Option<&[String]>, class: usize) -> String {
    names
        .and_then(|n| n.get(class).cloned())
        .unwrap_or_else(|| class.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t<T: candle_core::WithDType>(v: &[T]) -> Tensor {
        Tensor::new(v, &Device::Cpu).unwrap()
    }

    #[test]
    fn labels_and_predictions_in_every_form() {
        let probs = Tensor::new(
            &[[0.7f32, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]],
            &Device::Cpu,
        )
        .unwrap();
        let o = outcomes("t", &t(&[0u8, 2, 2]), &probs).unwrap();
        assert_eq!((o.truth, o.predicted), (vec![0, 2, 2], vec![0, 2, 1]));
        assert_eq!((o.classes, o.width_known), (3, true));
        assert_eq!(o.scores.unwrap().len(), 9);

        let one_hot = Tensor::new(
            &[[1f32, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
            &Device::Cpu,
        )
        .unwrap();
        let o = outcomes("t", &one_hot, &t(&[0u32, 2, 1])).unwrap();
        assert_eq!((o.truth, o.predicted), (vec![0, 2, 2], vec![0, 2, 1]));
        assert!(o.scores.is_none());

        let column = t(&[0i64, 4, 1]).reshape((3, 1)).unwrap();
        let o = outcomes("t", &column, &t(&[0.0f32, 4.0, 1.0])).unwrap();
        assert_eq!((o.classes, o.width_known), (5, false));
    }

    #[test]
    fn bad_input_is_named() {
        let probs = Tensor::new(&[[0.5f32, 0.5], [0.1, 0.9]], &Device::Cpu).unwrap();
        let err = |y: &Tensor, p: &Tensor| outcomes("plot::x", y, p).unwrap_err().to_string();
        let e = err(&t(&[0u8, 1, 1]), &probs);
        assert!(
            e.contains("3 labels but the predictions have 2 rows"),
            "{e}"
        );
        let e = err(&t(&[0u8, 2]), &probs);
        assert!(
            e.contains("y_true[1] is 2, not one of the 2 classes (0 to 1)"),
            "{e}"
        );
        let e = err(&t(&[0i64, -1]), &probs);
        assert!(e.contains("y_true[1] is -1, negative"), "{e}");
        let e = err(&t(&[0f32, 0.5]), &probs);
        assert!(e.contains("not a whole number"), "{e}");
        let e = err(
            &t(&[0u8, 1]),
            &probs.reshape(4).unwrap().reshape((4, 1)).unwrap(),
        );
        assert!(e.contains("predictions must be class probabilities"), "{e}");
        let empty = Tensor::zeros(0, DType::U8, &Device::Cpu).unwrap();
        let e = err(&empty, &empty);
        assert!(e.contains("y_true has no samples"), "{e}");
        let nan = Tensor::new(&[[0.5f32, f32::NAN], [0.1, 0.9]], &Device::Cpu).unwrap();
        let e = err(&t(&[0u8, 1]), &nan);
        assert!(e.contains("predictions[0] holds NaN (column 1)"), "{e}");
        let e = err(&t(&[0u32, 5000]), &t(&[0u32, 1]));
        assert!(
            e.contains("y_true[1] is 5000, more classes than the 100"),
            "{e}"
        );
        let e = err(&probs, &t(&[0u8, 1]));
        assert!(
            e.contains("y_true[0] is not a one-hot row (one 1, the rest 0): [0.5, 0.5]"),
            "{e}"
        );
        assert!(e.contains("the true labels come first"), "{e}");
        let e = err(
            &Tensor::zeros((2, 2, 2), DType::U8, &Device::Cpu).unwrap(),
            &probs,
        );
        assert!(e.contains("got a tensor of shape (2, 2, 2)"), "{e}");
    }

    #[test]
    fn probabilities_and_argmax() {
        assert_eq!(argmax(&[0.1, 0.6, 0.3]), 1);
        assert_eq!(argmax(&[0.5, 0.5]), 0);
        assert_eq!(not_probabilities(&[0.25, 0.75]), None);
        assert_eq!(
            not_probabilities(&[2.0, -1.0]).unwrap(),
            "include 2, outside [0, 1]"
        );
        assert_eq!(not_probabilities(&[0.5, 0.6]).unwrap(), "sum to 1.1000");
    }
}
