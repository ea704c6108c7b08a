//! Training: the fit loop, its history, callbacks and progress lines.

mod history;

pub use history::History;
