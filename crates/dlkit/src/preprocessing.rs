//! Preparing images and labels the way the Keras tutorials do: one-hot labels
//! ([`to_categorical`]), L2 normalisation ([`normalize`]), a channel axis
//! ([`channels_first`], [`channels_last`]), flattening ([`flattened`]), a cast
//! to `f32` ([`to_f32`]) and scaling ([`scaled`]).
//!
//! Each is a free function and a method of the [`Preprocess`] trait, which
//! `Tensor` implements, so a notebook step reads as one line:
//!
//! ```
//! use dlkit::prelude::*;
//!
//! // Two 28×28 images of 8-bit pixels, as mnist::load_data() gives them.
//! let x_train = Tensor::full(255u8, (2, 28, 28), &Device::Cpu)?;
//! let x = x_train.channels_first()?.to_f32()?.scaled(1.0 / 255.0)?;
//! assert_eq!(x.dims(), [2, 1, 28, 28]);
//! assert_eq!(x.max_all()?.to_scalar::<f32>()?, 1.0);
//!
//! let y_train = Tensor::new(&[5u8, 0, 4], &Device::Cpu)?;
//! let y = y_train.to_categorical(10)?;
//! assert_eq!(y.dims(), [3, 10]);
//! # Ok::<(), dlkit::Error>(())
//! ```

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// One-hot encodes integer class labels as `f32`, like `keras.utils.to_categorical`.
///
/// `labels` holds class indices of any integer dtype, or a float dtype holding
/// whole numbers. The result has the labels' shape plus a last axis of
/// `num_classes` (a trailing axis of size 1 is dropped first, so `(N,)` and
/// `(N, 1)` both give `(N, C)`). `None` infers `num_classes` as the largest
/// label plus one, as Keras does; pass it explicitly when a split may lack
/// the largest class.
///
/// A negative, fractional or too large label is an [`Error::InvalidArgument`]
/// naming the first such label and its (flat) index.
///
/// ```
/// use dlkit::preprocessing::to_categorical;
/// use dlkit::{Device, Tensor};
///
/// let y = Tensor::new(&[2u8, 0, 1], &Device::Cpu)?;
/// let one_hot = to_categorical(&y, 3)?;
/// assert_eq!(one_hot.to_vec2::<f32>()?, [[0., 0., 1.], [1., 0., 0.], [0., 1., 0.]]);
/// assert_eq!(to_categorical(&y, None)?.dims(), [3, 3]);
/// assert!(to_categorical(&y, 2).is_err()); // label 2 needs three classes
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn to_categorical(labels: &Tensor, num_classes: impl Into<Option<usize>>) -> Result<Tensor> {
    let classes = class_indices(labels)?;
    let num_classes = match num_classes.into() {
        Some(n) => n,
        None => match classes.iter().enumerate().max_by_key(|&(_, &c)| c) {
            // Labels beyond 2^64 arrive here as usize::MAX (float casts saturate).
            Some((index, &max)) => max.checked_add(1).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "to_categorical: the label at index {index} is too large to be a class                      (at least 2^64 - 1); pass num_classes, or check the labels"
                ))
            })?,
            None => {
                return Err(Error::InvalidArgument(
                    "to_categorical: cannot infer num_classes from an empty label tensor; pass it explicitly"
                        .into(),
                ))
            }
        },
    };
    if let Some((index, &label)) = classes.iter().enumerate().find(|(_, &c)| c >= num_classes) {
        return Err(Error::InvalidArgument(format!(
            "to_categorical: label {label} at index {index} is not below num_classes = {num_classes} \
             (labels must lie in 0..={})",
            num_classes.saturating_sub(1)
        )));
    }

    // 2^30 values (4 GiB of f32): 60,000 MNIST labels × 10 classes is 600,000.
    const MAX_VALUES: usize = 1 << 30;
    let values = classes
        .len()
        .checked_mul(num_classes)
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "to_categorical: {} labels × {num_classes} classes is more than 2^30 values \
                 (4 GiB of f32); check num_classes",
                classes.len()
            ))
        })?;
    if num_classes == 0 {
        return Err(Error::InvalidArgument(
            "to_categorical: num_classes must be at least 1".into(),
        ));
    }
    let mut one_hot = vec![0f32; values];
    for (row, &class) in classes.iter().enumerate() {
        one_hot[row * num_classes + class] = 1.0;
    }
    let mut shape = labels.dims().to_vec();
    if shape.len() > 1 && shape.last() == Some(&1) {
        shape.pop();
    }
    shape.push(num_classes);
    Ok(Tensor::from_vec(one_hot, shape, labels.device())?)
}

/// Why a label cannot be a class index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotAClass {
    /// NaN, infinite, or with a fractional part.
    NotWhole,
    Negative,
}

/// The labels (any shape, read in order) as class indices. At the first that
/// is not one, `bad(index, label as written, why)` makes the error, so each
/// caller words it for its own arguments.
pub(crate) fn label_indices(
    labels: &Tensor,
    bad: impl Fn(usize, String, NotAClass) -> Error,
) -> Result<Vec<usize>> {
    let flat = labels.flatten_all()?;
    if labels.dtype().is_int() {
        let values = flat.to_dtype(DType::I64)?.to_vec1::<i64>()?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                usize::try_from(v).map_err(|_| bad(i, v.to_string(), NotAClass::Negative))
            })
            .collect()
    } else {
        let values = flat.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if !v.is_finite() || v.fract() != 0.0 {
                    Err(bad(i, v.to_string(), NotAClass::NotWhole))
                } else if v < 0.0 {
                    Err(bad(i, v.to_string(), NotAClass::Negative))
                } else {
                    Ok(v as usize)
                }
            })
            .collect()
    }
}

/// The labels as class indices, or an error naming the first that is not one.
fn class_indices(labels: &Tensor) -> Result<Vec<usize>> {
    label_indices(labels, |index, label, why| {
        let why = match why {
            NotAClass::NotWhole => "is not a whole number",
            NotAClass::Negative => "is negative",
        };
        Error::InvalidArgument(format!(
            "to_categorical: label {label} at index {index} {why}"
        ))
    })
}

/// Divides `x` by its L2 norm along `axis`, like `keras.utils.normalize(x, axis, order=2)`.
///
/// `axis` counts the axes of `x` itself as Keras does, the batch (sample) axis
/// being 0, and may be negative (`-1` is the last axis). Slices whose norm is zero
/// are left as they are (Keras divides them by 1). Any numeric dtype goes in,
/// `f32` comes out. On MNIST images of shape `(N, 28, 28)`, `axis = 1`
/// normalises each column of each image, as tutorial 004 does.
///
/// ```
/// use dlkit::preprocessing::normalize;
/// use dlkit::{Device, Tensor};
///
/// let x = Tensor::new(&[[3u8, 4], [0, 0]], &Device::Cpu)?;
/// let rows = normalize(&x, -1)?;
/// assert_eq!(rows.to_vec2::<f32>()?, [[0.6, 0.8], [0.0, 0.0]]);
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn normalize(x: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = resolve_axis("normalize", axis, x.rank())?;
    if x.device().is_cpu() {
        return normalize_in_place(x, axis);
    }
    let x = x.to_dtype(DType::F32)?;
    let norm = x.sqr()?.sum_keepdim(axis)?.sqrt()?;
    // Adding 1 exactly where the norm is 0 divides all-zero slices by 1, as Keras does.
    let zero_norms = norm.eq(0f32)?.to_dtype(DType::F32)?;
    let divisor = (norm + zero_norms)?;
    Ok(x.broadcast_div(&divisor)?)
}

/// [`normalize`] on the CPU, in one f32 buffer that becomes the result: on MNIST's
/// 60,000 images the tensor-op version held the f32 copy, its square and the quotient
/// (three times 188 MB) at once.
fn normalize_in_place(x: &Tensor, axis: usize) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let mut values: Vec<f32> = if x.dtype() == DType::U8 {
        let bytes = x.flatten_all()?.to_vec1::<u8>()?;
        bytes.iter().map(|&b| f32::from(b)).collect()
    } else {
        x.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?
    };
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let block = len * inner;
    if block == 0 {
        return Ok(Tensor::from_vec(values, dims, &candle_core::Device::Cpu)?);
    }
    let mut norms = vec![0f32; inner];
    for slab in values.chunks_exact_mut(block) {
        norms.fill(0.0);
        for row in slab.chunks_exact(inner) {
            for (n, v) in norms.iter_mut().zip(row) {
                *n += v * v;
            }
        }
        // A zero norm divides by 1, as Keras does, leaving all-zero slices as they are.
        for n in norms.iter_mut() {
            *n = if *n == 0.0 { 1.0 } else { n.sqrt() };
        }
        for row in slab.chunks_exact_mut(inner) {
            for (v, n) in row.iter_mut().zip(&norms) {
                *v /= n;
            }
        }
    }
    Ok(Tensor::from_vec(values, dims, &candle_core::Device::Cpu)?)
}

fn resolve_axis(op: &str, axis: isize, rank: usize) -> Result<usize> {
    let resolved = if axis < 0 { axis + rank as isize } else { axis };
    if rank == 0 || resolved < 0 || resolved >= rank as isize {
        return Err(Error::InvalidArgument(format!(
            "{op}: axis {axis} is out of range for a tensor of rank {rank} (valid axes: {})",
            if rank == 0 {
                "none, it is a scalar".to_string()
            } else {
                format!("-{rank}..={}", rank - 1)
            }
        )));
    }
    Ok(resolved as usize)
}

/// `(N, H, W)` images as `(N, 1, H, W)`: one channel, first (candle's and Theano's layout).
///
/// ```
/// # use dlkit::{DType, Device, Tensor};
/// let x = Tensor::zeros((5, 28, 28), DType::U8, &Device::Cpu)?;
/// assert_eq!(dlkit::preprocessing::channels_first(&x)?.dims(), [5, 1, 28, 28]);
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn channels_first(images: &Tensor) -> Result<Tensor> {
    let (n, h, w) = image_dims("channels_first", images)?;
    Ok(images.reshape((n, 1, h, w))?)
}

/// `(N, H, W)` images as `(N, H, W, 1)`: one channel, last (TensorFlow's layout).
pub fn channels_last(images: &Tensor) -> Result<Tensor> {
    let (n, h, w) = image_dims("channels_last", images)?;
    Ok(images.reshape((n, h, w, 1))?)
}

/// `(N, H, W)` images as `(N, H·W)` rows of pixels, for a dense network.
pub fn flattened(images: &Tensor) -> Result<Tensor> {
    let (n, h, w) = image_dims("flattened", images)?;
    Ok(images.reshape((n, h * w))?)
}

/// The same values as `f32` (`x.astype('float32')`).
pub fn to_f32(x: &Tensor) -> Result<Tensor> {
    Ok(x.to_dtype(DType::F32)?)
}

/// `x * factor`, e.g. `scaled(&x, 1.0 / 255.0)` to bring pixels into [0, 1].
///
/// Integer tensors are cast to `f32` first (as NumPy's `x / 255` gives
/// floats); float tensors keep their dtype.
pub fn scaled(x: &Tensor, factor: f64) -> Result<Tensor> {
    if x.dtype() == DType::U8 && x.device().is_cpu() {
        // Bytes to scaled floats in one pass: `x_train.scaled(1.0 / 255.0)` on MNIST
        // allocates its 188 MB result once, where a cast and then a product held two
        // 188 MB copies at once (a notebook's memory peak). Same values as the cast and
        // product: both round `byte * factor` once, in f32.
        let factor = factor as f32;
        let bytes = x.flatten_all()?.to_vec1::<u8>()?;
        let values: Vec<f32> = bytes.iter().map(|&b| f32::from(b) * factor).collect();
        return Ok(Tensor::from_vec(values, x.dims(), x.device())?);
    }
    let x = if x.dtype().is_float() {
        x.clone()
    } else {
        x.to_dtype(DType::F32)?
    };
    Ok(x.affine(factor, 0.0)?)
}

fn image_dims(op: &str, images: &Tensor) -> Result<(usize, usize, usize)> {
    match images.dims() {
        &[n, h, w] => Ok((n, h, w)),
        dims => Err(Error::Shape(format!(
            "{op} expects images of shape (N, H, W), such as (60000, 28, 28) from \
             mnist::load_data(); got shape {}",
            crate::display::shape_tuple(dims)
        ))),
    }
}

/// The preprocessing steps as `Tensor` methods, to chain in one line:
/// `x_train.channels_first()?.to_f32()?.scaled(1.0 / 255.0)?`.
///
/// Each method does exactly what the free function of the same name does
/// (`normalized` is [`normalize`]).
pub trait Preprocess {
    /// See [`channels_first`]: `(N, H, W)` → `(N, 1, H, W)`.
    fn channels_first(&self) -> Result<Tensor>;
    /// See [`channels_last`]: `(N, H, W)` → `(N, H, W, 1)`.
    fn channels_last(&self) -> Result<Tensor>;
    /// See [`flattened`]: `(N, H, W)` → `(N, H·W)`.
    fn flattened(&self) -> Result<Tensor>;
    /// See [`to_f32`].
    fn to_f32(&self) -> Result<Tensor>;
    /// See [`scaled`].
    fn scaled(&self, factor: f64) -> Result<Tensor>;
    /// See [`normalize`].
    fn normalized(&self, axis: isize) -> Result<Tensor>;
    /// See [`to_categorical`].
    fn to_categorical(&self, num_classes: impl Into<Option<usize>>) -> Result<Tensor>;
}

impl Preprocess for Tensor {
    fn channels_first(&self) -> Result<Tensor> {
        channels_first(self)
    }
    fn channels_last(&self) -> Result<Tensor> {
        channels_last(self)
    }
    fn flattened(&self) -> Result<Tensor> {
        flattened(self)
    }
    fn to_f32(&self) -> Result<Tensor> {
        to_f32(self)
    }
    fn scaled(&self, factor: f64) -> Result<Tensor> {
        scaled(self, factor)
    }
    fn normalized(&self, axis: isize) -> Result<Tensor> {
        normalize(self, axis)
    }
    fn to_categorical(&self, num_classes: impl Into<Option<usize>>) -> Result<Tensor> {
        to_categorical(self, num_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_resolve_like_numpy() {
        assert_eq!(resolve_axis("t", -1, 3).unwrap(), 2);
        assert_eq!(resolve_axis("t", -3, 3).unwrap(), 0);
        assert_eq!(resolve_axis("t", 2, 3).unwrap(), 2);
        let err = resolve_axis("normalize", 3, 3).unwrap_err().to_string();
        assert_eq!(
            err,
            "normalize: axis 3 is out of range for a tensor of rank 3 (valid axes: -3..=2)"
        );
        assert!(resolve_axis("t", -4, 3).is_err());
        assert!(resolve_axis("t", 0, 0).is_err());
    }
}
