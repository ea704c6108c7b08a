//! Fixed chunking of batch-like work over rayon's threads.
//!
//! The split depends only on the item count and the thread count, and reductions combine
//! per-chunk partial results in chunk order, so results are identical run to run.

use std::ops::Range;

use rayon::prelude::*;

/// rayon's thread count (2 on the development machine).
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// `n` items split into at most `parts` contiguous, nearly equal, non-empty ranges.
pub(crate) fn split(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    let base = n / parts;
    let extra = n % parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 0..parts {
        let len = base + usize::from(p < extra);
        if len > 0 {
            out.push(start..start + len);
        }
        start += len;
    }
    out
}

/// The chunks a batch of `n` items is processed in: two per thread, so that a core slowed
/// down by another process does not hold the whole batch back.
pub(crate) fn batch_chunks(n: usize) -> Vec<Range<usize>> {
    split(n, 2 * threads())
}

/// Runs `f(range, out_part)` for each chunk in parallel, where `out_part` is the part of
/// `out` that belongs to the chunk's items (`item_len` values per item), and returns the
/// results in chunk order.
pub(crate) fn map_chunks_mut<R, F>(
    out: &mut [f32],
    item_len: usize,
    chunks: &[Range<usize>],
    f: F,
) -> Vec<R>
where
    R: Send,
    F: Fn(Range<usize>, &mut [f32]) -> R + Sync,
{
    let parts: Vec<_> = chunks
        .iter()
        .cloned()
        .zip(chunk_parts(out, item_len, chunks))
        .collect();
    parts.into_par_iter().map(|(r, part)| f(r, part)).collect()
}

/// [`map_chunks_mut`] over two outputs with `item_len` values per item each, such as a
/// max pooling's values and the indices of its maxima: `f(range, values_part, indices_part)`.
pub(crate) fn map_chunk_pairs_mut<R: Send>(
    (values, indices): (&mut [f32], &mut [u32]),
    item_len: usize,
    chunks: &[Range<usize>],
    f: impl Fn(Range<usize>, &mut [f32], &mut [u32]) -> R + Sync,
) -> Vec<R> {
    let parts: Vec<_> = chunks
        .iter()
        .cloned()
        .zip(chunk_parts(values, item_len, chunks))
        .zip(chunk_parts(indices, item_len, chunks))
        .collect();
    parts
        .into_par_iter()
        .map(|((r, v), i)| f(r, v, i))
        .collect()
}

/// `out` cut into the consecutive parts of `chunks`' items, `item_len` values per item
/// (the last part cut short if `out` is).
fn chunk_parts<'a, T>(
    out: &'a mut [T],
    item_len: usize,
    chunks: &[Range<usize>],
) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(chunks.len());
    let mut rest = out;
    for r in chunks {
        let take = (r.len() * item_len).min(rest.len());
        let (head, tail) = rest.split_at_mut(take);
        parts.push(head);
        rest = tail;
    }
    parts
}

/// The threads each chunk's gemms may use: all of them when there are fewer chunks than
/// threads (a small batch would leave cores idle between chunks), else one.
pub(crate) fn gemm_threads(chunks: &[Range<usize>]) -> usize {
    if chunks.len() < threads() {
        threads()
    } else {
        1
    }
}

/// Maps each chunk in parallel and returns the results in chunk order.
pub(crate) fn map_chunks<R, F>(chunks: &[Range<usize>], f: F) -> Vec<R>
where
    R: Send,
    F: Fn(Range<usize>) -> R + Sync,
{
    chunks.par_iter().map(|r| f(r.clone())).collect()
}

/// Element-wise map over `n` elements in parallel chunks of at least `min_len` elements.
pub(crate) fn for_each_span_mut<F>(out: &mut [f32], min_len: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let len = out.len();
    let parts = (len / min_len.max(1)).clamp(1, 4 * threads());
    let chunk = len.div_ceil(parts).max(1);
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, part)| f(i * chunk, part));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_everything_once() {
        for n in 0..20 {
            for parts in 1..6 {
                let r = split(n, parts);
                let total: usize = r.iter().map(|r| r.len()).sum();
                assert_eq!(total, n);
                assert!(r.windows(2).all(|w| w[0].end == w[1].start));
                assert!(r.iter().all(|r| !r.is_empty()));
            }
        }
    }
}
