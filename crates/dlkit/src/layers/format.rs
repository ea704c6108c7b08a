//! Image data layouts, convolution padding, and how shapes are written.

use serde::{Deserialize, Serialize};

/// Where the channel axis of an image batch is.
///
/// The tutorials use both: Theano-era ones reshape MNIST to `(N, 1, 28, 28)`
/// (channels first), TensorFlow-era ones to `(N, 28, 28, 1)` (channels last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    ChannelsFirst,
    ChannelsLast,
}

impl DataFormat {
    /// Splits a per-sample image shape into (channels, height, width).
    pub fn chw(self, shape: &[usize]) -> Option<(usize, usize, usize)> {
        match (self, shape) {
            (DataFormat::ChannelsFirst, &[c, h, w]) => Some((c, h, w)),
            (DataFormat::ChannelsLast, &[h, w, c]) => Some((c, h, w)),
            _ => None,
        }
    }

    /// The per-sample shape of an image with these dimensions in this layout.
    pub fn shape(self, c: usize, h: usize, w: usize) -> Vec<usize> {
        match self {
            DataFormat::ChannelsFirst => vec![c, h, w],
            DataFormat::ChannelsLast => vec![h, w, c],
        }
    }

    /// The same value in the kernels' vocabulary ([`crate::ops`]).
    pub fn to_ops(self) -> crate::ops::DataLayout {
        match self {
            DataFormat::ChannelsFirst => crate::ops::DataLayout::ChannelsFirst,
            DataFormat::ChannelsLast => crate::ops::DataLayout::ChannelsLast,
        }
    }
}

/// Convolution and pooling border handling, with Keras' meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Only windows that fit inside the input: the output shrinks.
    #[default]
    Valid,
    /// Zero-pad so that the output is `ceil(input / stride)`.
    Same,
}

impl Padding {
    /// Output length along one axis, or `None` when the window does not fit.
    pub fn output_len(self, input: usize, window: usize, stride: usize) -> Option<usize> {
        match self {
            Padding::Valid if window > input => None,
            Padding::Valid => Some((input - window) / stride + 1),
            Padding::Same => Some(input.div_ceil(stride)),
        }
    }

    /// The same value in the kernels' vocabulary ([`crate::ops`]).
    pub fn to_ops(self) -> crate::ops::Padding {
        match self {
            Padding::Valid => crate::ops::Padding::Valid,
            Padding::Same => crate::ops::Padding::Same,
        }
    }
}

/// Writes a per-sample shape as Keras prints a batch shape: `(None, 32, 26, 26)`.
pub fn format_shape(sample_shape: &[usize]) -> String {
    let mut s = String::from("(None");
    for d in sample_shape {
        s.push_str(&format!(", {d}"));
    }
    s.push(')');
    s
}

/// Decides the data format of a spatial layer: what the user set, else what
/// the layer before uses, else what the input shape makes obvious.
pub(crate) fn resolve(
    explicit: Option<DataFormat>,
    incoming: Option<DataFormat>,
    input: &[usize],
) -> Result<DataFormat, String> {
    if input.len() != 3 {
        return Err(format!(
            "expects images of shape (channels, height, width) or (height, width, channels), \
             but its input is {}; reshape the data, e.g. with .channels_first() or .channels_last()",
            format_shape(input)
        ));
    }
    if let Some(f) = explicit.or(incoming) {
        return Ok(f);
    }
    // Few channels and a larger image is the only reading that makes sense.
    const MAX_CHANNELS: usize = 4;
    let (first, last) = (input[0], input[2]);
    match (first <= MAX_CHANNELS, last <= MAX_CHANNELS) {
        (true, false) => Ok(DataFormat::ChannelsFirst),
        (false, true) => Ok(DataFormat::ChannelsLast),
        _ => Err(format!(
            "cannot tell whether input shape {} is channels-first or channels-last; \
             set it with .data_format(DataFormat::ChannelsFirst) or \
             .data_format(DataFormat::ChannelsLast)",
            format_shape(input)
        )),
    }
}

/// Anything that reads as a per-sample shape: `784`, `(28, 28)`, `(1, 28, 28)`,
/// `[28, 28, 1]`, `vec![...]`.
pub trait IntoShape {
    fn into_shape(self) -> Vec<usize>;
}

impl IntoShape for usize {
    fn into_shape(self) -> Vec<usize> {
        vec![self]
    }
}
impl IntoShape for (usize,) {
    fn into_shape(self) -> Vec<usize> {
        vec![self.0]
    }
}
impl IntoShape for (usize, usize) {
    fn into_shape(self) -> Vec<usize> {
        vec![self.0, self.1]
    }
}
impl IntoShape for (usize, usize, usize) {
    fn into_shape(self) -> Vec<usize> {
        vec![self.0, self.1, self.2]
    }
}
impl<const N: usize> IntoShape for [usize; N] {
    fn into_shape(self) -> Vec<usize> {
        self.to_vec()
    }
}
impl IntoShape for &[usize] {
    fn into_shape(self) -> Vec<usize> {
        self.to_vec()
    }
}
impl IntoShape for Vec<usize> {
    fn into_shape(self) -> Vec<usize> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_from_obvious_shapes_and_ambiguity_is_an_error() {
        assert_eq!(
            resolve(None, None, &[1, 28, 28]),
            Ok(DataFormat::ChannelsFirst)
        );
        assert_eq!(
            resolve(None, None, &[28, 28, 1]),
            Ok(DataFormat::ChannelsLast)
        );
        assert!(resolve(None, None, &[8, 8, 8])
            .unwrap_err()
            .contains("data_format"));
        assert_eq!(
            resolve(None, Some(DataFormat::ChannelsLast), &[32, 26, 26]),
            Ok(DataFormat::ChannelsLast)
        );
        assert!(resolve(None, None, &[784]).is_err());
    }

    #[test]
    fn output_lengths_follow_keras() {
        assert_eq!(Padding::Valid.output_len(28, 3, 1), Some(26));
        assert_eq!(Padding::Valid.output_len(11, 2, 2), Some(5));
        assert_eq!(Padding::Same.output_len(11, 2, 2), Some(6));
        assert_eq!(Padding::Valid.output_len(2, 3, 1), None);
        assert_eq!(format_shape(&[32, 26, 26]), "(None, 32, 26, 26)");
    }
}
