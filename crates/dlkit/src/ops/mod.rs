//! Fast kernels with their backward pass, for the layers' forward pass and candle's autograd.
//!
//! Every op has a fast path for `f32` tensors on the CPU, written as a candle custom op
//! (`cpu_fwd` + a hand-written `bwd`), and a reference path written with plain candle ops
//! ([`reference`](mod@reference)) that runs on other devices and dtypes and that the tests compare against.
//!
//! | op | inputs | output |
//! |----|--------|--------|
//! | [`conv2d`] | x `(N,C,H,W)` or `(N,H,W,C)`, kernel `(K,C,kh,kw)`, bias `(K)` | `(N,K,OH,OW)` or `(N,OH,OW,K)` |
//! | [`conv2d_max_pool`] | as `conv2d` | `max_pool2d(conv2d(..))`, without the full-size intermediate |
//! | [`max_pool2d`] | x `(N,C,H,W)` or `(N,H,W,C)` | pooled, same layout |
//! | [`dropout`] | any shape | same shape |
//! | [`dense`] | x `(N,in)`, kernel `(in,out)`, bias `(out)` | `(N,out)` |
//! | [`lstm`] | x `(N,T,F)`, kernel `(F,4H)`, recurrent `(H,4H)`, bias `(4H)` | `(N,T,H)` or `(N,H)` |
//! | [`softmax_cross_entropy`] | logits `(N,C)`, targets `(N,C)` f32 or `(N,)` integer | scalar |
//!
//! The backward passes compute the gradient of an input only when candle tracks it
//! (`Tensor::track_op`): the image batch fed to the first layer gets none.
//!
//! Work is split over rayon's threads in chunks that depend only on the batch size and the
//! thread count, and partial sums are combined in chunk order, so results repeat bit for bit
//! for a given thread count. [`keep_candle_elementwise_inline`] keeps candle's own
//! elementwise thread pool from competing with rayon's: `dlkit-dylib` chooses it when a
//! notebook loads it, a program calls it at the start of `main`; building a model or
//! loading data changes no process-wide setting. [`tune_allocator`] is an optional
//! process-wide malloc setting that keeps freed tensor memory for reuse, and
//! [`release_free_memory`], which `fit`, `evaluate` and `predict` call as they return, hands
//! the C library's free heap back to the system. Measurements: `benchmarks/OPS.md`
//! (`cargo run --release -p dlkit --example ops_bench`).

mod alloc;
pub mod batch_norm;
mod candle_pool;
mod conv;
pub(crate) mod cpu;
mod dense;
mod dropout;
mod loss;
mod lstm;
mod params;
mod pool;
pub mod reference;

pub use alloc::{release_free_memory, tune_allocator};
pub use batch_norm::batch_norm_train;
pub use candle_pool::{choose_inline_elementwise, keep_candle_elementwise_inline};
pub use conv::{conv2d, conv2d_max_pool, MaxPoolParams};
pub use dense::dense;
pub use dropout::dropout;
pub use loss::{softmax, softmax_cross_entropy};
pub use lstm::lstm;
pub use params::{
    Conv2dParams, ConvAlgorithm, DataLayout, FusedActivation, LstmActivation, Padding,
};
pub use pool::max_pool2d;
