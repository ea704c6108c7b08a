//! Tensors printed for people: shapes as Python tuples ([`shape_of`]) and
//! values like numpy prints arrays ([`show`]).

use std::fmt;

use candle_core::{DType, Tensor};

use super::emit;
use crate::error::Result;

/// A tensor's shape written as a Python tuple: `(60000, 28, 28)`, `(10,)`, `()`.
pub fn shape_of(tensor: &Tensor) -> String {
    shape_tuple(tensor.dims())
}

/// A tensor's shape as Keras and NumPy print it, `(60000, 28, 28)` or `(10000,)`: what
/// [`shape`] returns. Shown the same way by `{}`, by `{:?}` and as a cell's result.
#[derive(Clone, PartialEq, Eq)]
pub struct KerasShape(pub Vec<usize>);

impl std::fmt::Display for KerasShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&shape_tuple(&self.0))
    }
}

impl std::fmt::Debug for KerasShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The shape of `tensor` as Keras writes it (`x_train.shape` in Python):
///
/// ```
/// use dlkit::prelude::*;
/// let x = Tensor::zeros((60000, 28, 28), DType::U8, &Device::Cpu)?;
/// assert_eq!(shape(&x).to_string(), "(60000, 28, 28)");
/// assert_eq!(format!("{:?}", shape(&x.flatten_all()?)), "(47040000,)");
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn shape(tensor: &Tensor) -> KerasShape {
    KerasShape(tensor.dims().to_vec())
}

/// NumPy's and Keras' name of a dtype: `float32`, `uint8`, `int64`.
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "uint8",
        DType::U32 => "uint32",
        DType::I16 => "int16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        DType::F32 => "float32",
        DType::F64 => "float64",
        other => other.as_str(),
    }
}

/// [`shape_of`] for a list of dimensions.
pub fn shape_tuple(dims: &[usize]) -> String {
    match dims {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// More elements than this are summarised with `...`, as numpy does.
const SUMMARY_THRESHOLD: usize = 1000;
/// How many items a summarised dimension keeps at each end.
const EDGE_ITEMS: usize = 3;

/// A tensor printed like numpy prints arrays: shape and dtype on the first
/// line, then the values, with `...` in place of the middle of large dimensions.
///
/// ```
/// use dlkit::{display, Device, Tensor};
/// let t = Tensor::new(&[[1f32, 2.5], [3.0, 4.0]], &Device::Cpu)?;
/// assert_eq!(display::show(&t).to_string(), "Tensor (2, 2) float32\n[[1.  2.5]\n [3.  4. ]]");
/// # Ok::<(), dlkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TensorView {
    tensor: Tensor,
}

/// Wraps a tensor for a readable printout; the last expression of a notebook cell is shown.
pub fn show(tensor: &Tensor) -> TensorView {
    TensorView {
        tensor: tensor.clone(),
    }
}

impl TensorView {
    /// The printout, or the error that stopped reading the values.
    pub fn render(&self) -> Result<String> {
        let t = &self.tensor;
        let dims = t.dims().to_vec();
        let header = format!("Tensor {} {}", shape_of(t), dtype_name(t.dtype()));
        let total: usize = dims.iter().product();
        if total == 0 {
            return Ok(format!("{header}\n[]"));
        }
        let summarise = total > SUMMARY_THRESHOLD;
        // Keep only what will be printed, so a (60000, 28, 28) tensor costs a few hundred values.
        let mut shown = t.clone();
        let mut elided = vec![false; dims.len()];
        if summarise {
            for (d, &n) in dims.iter().enumerate() {
                if n > 2 * EDGE_ITEMS {
                    let head = shown.narrow(d, 0, EDGE_ITEMS)?;
                    let tail = shown.narrow(d, n - EDGE_ITEMS, EDGE_ITEMS)?;
                    shown = Tensor::cat(&[&head, &tail], d)?;
                    elided[d] = true;
                }
            }
        }
        let shown_dims = shown.dims().to_vec();
        let cells = format_values(&shown)?;
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
        let cells: Vec<String> = cells.into_iter().map(|c| format!("{c:>width$}")).collect();
        let mut body = String::new();
        if shown_dims.is_empty() {
            body.push_str(cells[0].trim());
        } else {
            write_nested(&mut body, &cells, &shown_dims, &elided, 0, 0);
        }
        Ok(format!("{header}\n{body}"))
    }

    /// Shows the printout in a notebook.
    pub fn evcxr_display(&self) {
        let text = self
            .render()
            .unwrap_or_else(|e| format!("cannot show the tensor: {e}"));
        emit(&[("text/plain", &text)]);
    }
}

impl fmt::Display for TensorView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render() {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "cannot show the tensor: {e}"),
        }
    }
}

/// Every value as text, with one precision for the whole tensor as numpy does.
fn format_values(t: &Tensor) -> Result<Vec<String>> {
    if t.dtype().is_int() {
        let values = t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?;
        return Ok(values.iter().map(i64::to_string).collect());
    }
    let values = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let max_abs = finite.iter().fold(0f64, |m, v| m.max(v.abs()));
    let min_nonzero = finite
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let scientific = max_abs >= 1e8 || (min_nonzero < 1e-4 && max_abs / min_nonzero > 1e3);
    let special = |v: f64| {
        if v.is_nan() {
            Some("nan".to_string())
        } else if v.is_infinite() {
            Some(if v > 0.0 { "inf" } else { "-inf" }.to_string())
        } else {
            None
        }
    };
    if scientific {
        return Ok(values
            .iter()
            .map(|&v| special(v).unwrap_or_else(|| format!("{v:.4e}")))
            .collect());
    }
    // Each value with the fewest decimals (at most 4) that show it, "2." for whole numbers.
    let texts: Vec<String> = values
        .iter()
        .map(|&v| {
            special(v).unwrap_or_else(|| {
                let decimals = (0..=4)
                    .find(|&d| {
                        let scaled = v * 10f64.powi(d);
                        (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
                    })
                    .unwrap_or(4) as usize;
                if decimals == 0 {
                    format!("{v:.0}.")
                } else {
                    format!("{v:.decimals$}")
                }
            })
        })
        .collect();
    // numpy pads trailing decimals with spaces ("1. " under "2.5"): align on the point.
    let frac_width = texts
        .iter()
        .map(|s| s.find('.').map_or(0, |p| s.len() - p))
        .max()
        .unwrap_or(0);
    Ok(texts
        .into_iter()
        .map(|s| {
            let frac = s.find('.').map_or(0, |p| s.len() - p);
            format!("{s}{}", " ".repeat(frac_width.saturating_sub(frac)))
        })
        .collect())
}

/// Writes `cells` (row-major, shape `dims`) as nested brackets.
fn write_nested(
    out: &mut String,
    cells: &[String],
    dims: &[usize],
    elided: &[bool],
    level: usize,
    start: usize,
) {
    let n = dims[level];
    let stride: usize = dims[level + 1..].iter().product();
    let last = level + 1 == dims.len();
    let separator = if last {
        " ".to_string()
    } else {
        format!(
            "{}{}",
            "\n".repeat(dims.len() - level - 1),
            " ".repeat(level + 1)
        )
    };
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push_str(&separator);
        }
        if elided[level] && i == EDGE_ITEMS {
            out.push_str("...");
            out.push_str(&separator);
        }
        if last {
            out.push_str(&cells[start + i]);
        } else {
            write_nested(out, cells, dims, elided, level + 1, start + i * stride);
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn shapes_are_python_tuples() {
        assert_eq!(shape_tuple(&[]), "()");
        assert_eq!(shape_tuple(&[10]), "(10,)");
        assert_eq!(shape_tuple(&[60000, 28, 28]), "(60000, 28, 28)");
    }

    #[test]
    fn small_tensors_print_every_value() {
        let t = Tensor::new(&[[1u8, 20, 3], [4, 5, 255]], &Device::Cpu).unwrap();
        assert_eq!(
            show(&t).to_string(),
            "Tensor (2, 3) uint8\n[[  1  20   3]\n [  4   5 255]]"
        );
        let s = Tensor::new(3.5f32, &Device::Cpu).unwrap();
        assert_eq!(show(&s).to_string(), "Tensor () float32\n3.5");
        let f = Tensor::new(&[0.1f32, 0.25, -2.0], &Device::Cpu).unwrap();
        assert_eq!(
            show(&f).to_string(),
            "Tensor (3,) float32\n[ 0.1   0.25 -2.  ]"
        );
    }

    #[test]
    fn large_tensors_are_elided_like_numpy() {
        let t = Tensor::arange(0u32, 2000, &Device::Cpu)
            .unwrap()
            .reshape((2, 1000))
            .unwrap();
        let text = show(&t).to_string();
        assert_eq!(text, "Tensor (2, 1000) uint32\n[[   0    1    2 ...  997  998  999]\n [1000 1001 1002 ... 1997 1998 1999]]");
        let big = Tensor::zeros((60000, 28, 28), DType::U8, &Device::Cpu).unwrap();
        let text = show(&big).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Tensor (60000, 28, 28) uint8");
        assert_eq!(lines[1], "[[[0 0 0 ... 0 0 0]");
        assert!(lines.contains(&" ..."), "{text}");
        // 6 shown images of 6 shown rows each, plus the elision lines.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("0 0 0 ... 0 0 0"))
                .count(),
            36
        );
    }
}
