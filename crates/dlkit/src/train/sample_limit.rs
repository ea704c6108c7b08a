//! A cap on how many samples `fit` trains on, for a quick run of a whole
//! notebook: the project's tests set it (with one epoch) in place of a
//! notebook's `parameters` cell, so that the tutorial's own `fit` calls, which
//! pass all 60,000 images, train on a few thousand. Off unless set; `fit` says
//! when it applies.

use candle_core::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// 0 means no limit.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// From now on, every [`fit`](crate::model::Model::fit) in this process
/// trains on at most the first `limit` samples of its `x` and `y` (its
/// validation data stay whole); `None` lifts the limit. Each `fit` it
/// shortens prints a line saying so.
///
/// ```no_run
/// // (not run as a test: the limit is process-wide, and doctests may share a process)
/// dlkit::train::limit_training_samples(Some(6_000))?;
/// assert_eq!(dlkit::train::training_sample_limit(), Some(6_000));
/// dlkit::train::limit_training_samples(None)?;
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn limit_training_samples(limit: Option<usize>) -> Result<()> {
    if limit == Some(0) {
        return Err(Error::InvalidArgument(
            "a training sample limit of 0 leaves nothing to train on; give at least 1, or None \
             for no limit"
                .into(),
        ));
    }
    LIMIT.store(limit.unwrap_or(0), Ordering::Relaxed);
    Ok(())
}

/// The limit [`limit_training_samples`] set, if any.
pub fn training_sample_limit() -> Option<usize> {
    match LIMIT.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// `(x, y)` cut to the limit (views, no copy), or as given when no limit
/// applies. Shapes that disagree are left for `fit`'s own checks to report.
pub(crate) fn apply(x: &Tensor, y: &Tensor, verbose: u8) -> Result<(Tensor, Tensor)> {
    let (Some(limit), Some(&n)) = (training_sample_limit(), x.dims().first()) else {
        return Ok((x.clone(), y.clone()));
    };
    if n <= limit || y.dims().first() != Some(&n) {
        return Ok((x.clone(), y.clone()));
    }
    if verbose > 0 {
        let group = crate::model::summary::group_thousands;
        println!(
            "Training on the first {} of {} samples (dlkit::train::limit_training_samples)",
            group(limit),
            group(n)
        );
    }
    Ok((x.narrow(0, 0, limit)?, y.narrow(0, 0, limit)?))
}
