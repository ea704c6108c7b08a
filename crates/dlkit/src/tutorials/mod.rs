//! What the tutorial notebooks share that is not deep learning: the five
//! tutorials' models ([`zoo`]) and a result set beside the tutorial's
//! published figure ([`report`]).
//!
//! Both are also at the crate root (`dlkit::zoo`, `dlkit::report`), the paths
//! the notebooks and the benchmark use.

pub mod report;
pub mod zoo;
