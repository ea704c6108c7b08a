//! Keeps candle's own elementwise thread pool off the cores that dlkit's kernels use.
//!
//! candle 0.11 runs elementwise ops of 64K values or more (an `add`, a `relu`, the
//! `zeros_like` + `add` with which its backward pass sums every gradient) on a second
//! pool, beside rayon's: its "barrier pool", one worker per core besides the calling
//! thread, each spinning for a while after every op before it sleeps. dlkit's kernels
//! run on rayon's threads, one per core, so the two pools take turns on the same cores:
//! a spinning candle worker delays the next gemm, and the caller spins waiting for a
//! candle worker that a rayon thread has displaced. On the 2-core machine of
//! `benchmarks/results/2026-12-01-investigations.md` this cost 4–7 % of an epoch when idle and up to 40 % with
//! another busy process on the machine.
//!
//! With `CANDLE_NUM_THREADS=1` candle runs those ops on the calling thread, with the
//! same results (they are elementwise, so no sum changes order). candle reads the
//! variable once, when its pool first starts. The choice is made explicitly, once per
//! process, never as a side effect of building a model or loading data:
//! `dlkit-dylib` (the notebooks' library) makes it when it is loaded, before any cell
//! runs; a Rust program calls [`keep_candle_elementwise_inline`] at the start of `main`
//! (the benchmark example does). A user who sets `CANDLE_NUM_THREADS` keeps their count.

use std::sync::Once;

/// The environment variable candle reads for its elementwise pool's size.
const VARIABLE: &str = "CANDLE_NUM_THREADS";

/// Makes candle run its elementwise ops on the calling thread unless
/// `CANDLE_NUM_THREADS` already holds a thread count (then the user's holds), and starts
/// candle's pool so that the choice is final. Returns the number of candle's pool
/// workers: 0 when it took effect. Only the first call can change anything; if candle's
/// pool had started before it (a large candle op before any dlkit model or dataset),
/// the pool keeps its workers and this returns how many.
pub fn keep_candle_elementwise_inline() -> usize {
    choose_inline_elementwise();
    candle_core::utils::barrier_pool().n_workers()
}

/// The first half of [`keep_candle_elementwise_inline`]: sets `CANDLE_NUM_THREADS=1`
/// unless it holds a thread count, without starting candle's pool. For a library's
/// load-time constructor (`dlkit-dylib`), where starting threads is not safe; candle
/// reads the variable when its pool first starts.
pub fn choose_inline_elementwise() {
    static FIRST: Once = Once::new();
    FIRST.call_once(|| {
        // candle ignores a value that is not a positive count (e.g. an empty one), so
        // only such a value is the user's choice.
        let chosen = std::env::var(VARIABLE)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .is_some_and(|n| n > 0);
        if !chosen {
            // Set once, before candle's first read; std serialises this with every
            // other std::env access in the process.
            std::env::set_var(VARIABLE, "1");
        }
    });
}
