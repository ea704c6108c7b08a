//! Keeping freed memory in the process, so that the large tensors a training step allocates
//! and frees do not go back to the kernel and return as fresh, page-faulting memory.
//!
//! glibc serves allocations above a threshold (128 KiB, rising to at most 32 MiB as it
//! sees them freed) with `mmap` and hands them back with `munmap` when freed, and it trims
//! the top of its heap. Every activation and gradient of a training step (candle allocates a
//! new tensor per op, plus a zero tensor and a sum per gradient) is then new memory that
//! the kernel must fault in and clear page by page: on the tutorial models that was 30–60%
//! of the time of a pooling or dropout layer (see benchmarks/OPS.md). Raising the mmap
//! threshold and the trim threshold makes glibc reuse its heap instead.
//!
//! This is a process-wide allocator setting, not state of dlkit: calling it again changes
//! nothing, and it persists across notebook cells as it should.

/// Asks glibc to keep freed memory for reuse (mmap threshold 32 MiB, its maximum; no
/// trimming below 1 GiB of free heap). Returns whether the settings were applied: false on
/// other C libraries and platforms, where this does nothing.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // From glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_TOP_PAD: i32 = -2;
        const M_MMAP_THRESHOLD: i32 = -3;
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes glibc's allocation policy; it is thread-safe and any
        // value is valid (out-of-range ones are refused with 0).
        unsafe {
            let a = mallopt(M_MMAP_THRESHOLD, 32 << 20);
            let b = mallopt(M_TRIM_THRESHOLD, 1 << 30);
            let c = mallopt(M_TOP_PAD, 64 << 20);
            a == 1 && b == 1 && c == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Hands the C library's free heap pages back to the system (glibc's `malloc_trim`).
///
/// A training step allocates and frees hundreds of megabytes in blocks below glibc's mmap
/// threshold; those freed pages stay with the process, spread over one arena per worker
/// thread, and a notebook's kernel kept them for the rest of the session. `fit`, `evaluate`
/// and `predict` call this when they return, so that what a notebook holds between cells
/// is its data and models, not the last step's scratch memory (a Binder session has 2 GB
/// for everything). It takes about a millisecond; elsewhere than on glibc it does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only returns free pages of glibc's own heaps to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}
