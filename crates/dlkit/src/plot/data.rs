//! Getting grayscale images out of tensors for the plots.
//!
//! Plots take tensors in any of the layouts the tutorials use — `(H, W)`,
//! channels-first `(1, H, W)`, channels-last `(H, W, 1)`, flattened `(784,)`,
//! and batches of those — in any dtype, and copy only what they draw.

use candle_core::{DType, Tensor};

use crate::display::shape_of;
use crate::error::{Error, Result};

/// One grayscale image, row-major.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gray {
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) values: Vec<f32>,
}

impl Gray {
    pub(crate) fn at(&self, row: usize, col: usize) -> f32 {
        self.values[row * self.width + col]
    }

    /// Smallest and largest finite value, or `None` when there is none.
    pub(crate) fn finite_range(&self) -> Option<(f32, f32)> {
        finite_range(&self.values)
    }
}

pub(crate) fn finite_range(values: &[f32]) -> Option<(f32, f32)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// The side of a square image flattened to `n` values, if `n` is a square.
fn square_side(n: usize) -> Option<usize> {
    let side = (n as f64).sqrt().round() as usize;
    (side > 0 && side * side == n).then_some(side)
}

fn to_f32(tensor: &Tensor) -> Result<Vec<f32>> {
    Ok(tensor
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// One image from a tensor of shape `(H, W)`, `(1, H, W)`, `(H, W, 1)`,
/// `(1, 1, H, W)`, `(1, H, W, 1)` or a flattened square `(H*W,)`.
pub(crate) fn single_image(tensor: &Tensor, caller: &str) -> Result<Gray> {
    let dims = tensor.dims();
    let hw = match *dims {
        [n] => square_side(n).map(|s| (s, s)),
        [h, w] => Some((h, w)),
        [1, h, w] => Some((h, w)),
        [h, w, 1] => Some((h, w)),
        [1, 1, h, w] => Some((h, w)),
        [1, h, w, 1] => Some((h, w)),
        _ => None,
    };
    let (height, width) = match hw {
        Some((h, w)) if h > 0 && w > 0 => (h, w),
        _ => {
            return Err(Error::Shape(format!(
                "{caller} takes one grayscale image of shape (H, W), (1, H, W), (H, W, 1) \
                 or a flattened square like (784,); got a tensor of shape {}",
                shape_of(tensor)
            )))
        }
    };
    Ok(Gray {
        height,
        width,
        values: to_f32(tensor)?,
    })
}

/// The number, height and width of the images in a batch of shape `(N, H, W)`,
/// `(N, 1, H, W)`, `(N, H, W, 1)` or flattened `(N, H*W)` with a square `H*W`;
/// none of them zero.
pub(crate) fn batch_layout(tensor: &Tensor, caller: &str) -> Result<(usize, usize, usize)> {
    let layout = match *tensor.dims() {
        [n, k] => square_side(k).map(|s| (n, s, s)),
        [n, h, w] => Some((n, h, w)),
        [n, 1, h, w] => Some((n, h, w)),
        [n, h, w, 1] => Some((n, h, w)),
        _ => None,
    };
    match layout {
        Some((n, h, w)) if n > 0 && h > 0 && w > 0 => Ok((n, h, w)),
        _ => Err(Error::Shape(format!(
            "{caller} takes a batch of grayscale images of shape (N, H, W), (N, 1, H, W), \
             (N, H, W, 1) or (N, 784); got a tensor of shape {}",
            shape_of(tensor)
        ))),
    }
}

/// A batch of images in any layout [`batch_layout`] takes. At most `max`
/// images are accepted.
pub(crate) fn image_batch(tensor: &Tensor, caller: &str, max: usize) -> Result<Vec<Gray>> {
    let (n, height, width) = batch_layout(tensor, caller)?;
    if n > max {
        return Err(Error::InvalidArgument(format!(
            "{caller} draws at most {max} images and was given {n}: pass the first few, \
             e.g. `x.narrow(0, 0, 16)?`"
        )));
    }
    let values = to_f32(tensor)?;
    let size = height * width;
    Ok(values
        .chunks_exact(size)
        .map(|chunk| Gray {
            height,
            width,
            values: chunk.to_vec(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn ramp(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::arange(0u32, n as u32, &Device::Cpu)
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    #[test]
    fn single_image_layouts_agree() {
        let reference = single_image(&ramp(&[4, 6]), "t").unwrap();
        assert_eq!((reference.height, reference.width), (4, 6));
        assert_eq!(reference.at(1, 2), 8.0);
        for shape in [
            [1, 4, 6].as_slice(),
            &[4, 6, 1],
            &[1, 1, 4, 6],
            &[1, 4, 6, 1],
        ] {
            assert_eq!(
                single_image(&ramp(shape), "t").unwrap(),
                reference,
                "{shape:?}"
            );
        }
        let flat = single_image(&ramp(&[784]), "t").unwrap();
        assert_eq!((flat.height, flat.width), (28, 28));
    }

    #[test]
    fn rejects_colour_and_batches() {
        for shape in [[3, 28, 28].as_slice(), &[2, 28, 28, 1], &[10], &[0, 5]] {
            let err = single_image(&ramp(shape), "plot::imshow")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("plot::imshow") && err.contains("got a tensor of shape"),
                "{err}"
            );
        }
    }

    #[test]
    fn batch_layouts_agree_and_limit_is_enforced() {
        let a = image_batch(&ramp(&[3, 4, 4]), "t", 10).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[2].at(0, 1), 33.0);
        assert_eq!(image_batch(&ramp(&[3, 1, 4, 4]), "t", 10).unwrap(), a);
        assert_eq!(image_batch(&ramp(&[3, 4, 4, 1]), "t", 10).unwrap(), a);
        assert_eq!(image_batch(&ramp(&[3, 16]), "t", 10).unwrap(), a);
        let err = image_batch(&ramp(&[30, 4, 4]), "plot::digit_grid", 10).unwrap_err();
        assert!(err.to_string().contains("at most 10"), "{err}");
    }
}
