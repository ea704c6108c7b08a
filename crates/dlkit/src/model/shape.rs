//! Per-sample shapes as Keras prints them, and hints for data of the wrong shape.

use crate::layers::format_shape;

/// The shape of one sample; prints like Keras' batch shapes, `(None, 32, 26, 26)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SampleShape(pub Vec<usize>);

impl std::ops::Deref for SampleShape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl std::fmt::Display for SampleShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_shape(&self.0))
    }
}

impl std::fmt::Debug for SampleShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_shape(&self.0))
    }
}

/// A suggestion when data holds the right number of values per sample in
/// another arrangement (the usual channels-first/last mix-up).
pub(crate) fn reshape_hint(got: &[usize], expected: &[usize]) -> String {
    let count = |s: &[usize]| s.iter().product::<usize>();
    if count(got) != count(expected) {
        return String::new();
    }
    match expected {
        [1, _, _] => "; reshape it with .channels_first()".into(),
        [_, _, 1] => "; reshape it with .channels_last()".into(),
        [_] => "; flatten it with .flatten_samples() or start the model with Flatten()".into(),
        _ => format!("; reshape it to {}", format_shape(expected)),
    }
}
