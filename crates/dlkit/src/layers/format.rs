//! Image data layouts and convolution padding (the ops' types, under Keras'
//! names), and how per-sample shapes are written.

/// The ops' types under Keras' names: one type each, so a layer hands its
/// settings to the kernels as they are.
pub use crate::ops::{DataLayout as DataFormat, Padding};

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
