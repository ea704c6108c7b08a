//! Reading `f32` data out of candle's CPU storage (contiguous or not) and wrapping results.

use std::borrow::Cow;

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, Device, Layout, Result, Shape, Storage, StorageRef, Tensor};

/// True when `t` can take the fast path: an `f32` tensor on the CPU.
pub(crate) fn is_cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == candle_core::DType::F32
}

/// True when an op's input, kernel and bias (if any) can all take the fast path.
pub(crate) fn all_cpu_f32(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>) -> bool {
    is_cpu_f32(x) && is_cpu_f32(kernel) && bias.is_none_or(is_cpu_f32)
}

/// The elements of `storage` seen through `layout`, in row-major order: borrowed when
/// contiguous, gathered into a new vector otherwise.
pub(crate) fn storage_f32<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<Cow<'a, [f32]>> {
    let all = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        other => bail!("{op}: expected f32 data, got {:?}", other.dtype()),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => match all.get(start..end) {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => bail!(
                "{op}: storage of {} elements is too short for layout {layout:?}",
                all.len()
            ),
        },
        None => Ok(Cow::Owned(gather(op, all, layout)?)),
    }
}

/// The elements of a strided view in row-major order.
pub(crate) fn gather<T: Copy>(op: &str, all: &[T], layout: &Layout) -> Result<Vec<T>> {
    let dims = layout.dims();
    let strides = layout.stride();
    let count = layout.shape().elem_count();
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Ok(out);
    }
    let mut index = vec![0usize; dims.len()];
    let mut offset = layout.start_offset();
    for _ in 0..count {
        match all.get(offset) {
            Some(&v) => out.push(v),
            None => bail!(
                "{op}: storage of {} elements is too short for layout {layout:?}",
                all.len()
            ),
        }
        // Odometer increment, last dimension fastest.
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            offset += strides[d];
            if index[d] < dims[d] {
                break;
            }
            offset -= strides[d] * dims[d];
            index[d] = 0;
        }
    }
    Ok(out)
}

/// A read lock on a CPU tensor's storage, to borrow its `f32` data in a backward pass.
pub(crate) struct CpuF32<'a> {
    guard: StorageRef<'a>,
    layout: &'a Layout,
    op: &'static str,
}

impl<'a> CpuF32<'a> {
    pub fn new(op: &'static str, t: &'a Tensor) -> Result<Self> {
        let (guard, layout) = t.storage_and_layout();
        Ok(CpuF32 { guard, layout, op })
    }

    pub fn data(&self) -> Result<Cow<'_, [f32]>> {
        match &*self.guard {
            Storage::Cpu(cpu) => storage_f32(self.op, cpu, self.layout),
            _ => bail!("{}: expected a CPU tensor", self.op),
        }
    }
}

/// A new CPU tensor holding `data` with shape `shape`.
pub(crate) fn tensor(data: Vec<f32>, shape: impl Into<Shape>) -> Result<Tensor> {
    Tensor::from_vec(data, shape.into(), &Device::Cpu)
}

/// Checks that a slice has exactly the length its shape implies, so later indexing
/// cannot go out of bounds.
pub(crate) fn expect_len(op: &str, what: &str, data: &[f32], len: usize) -> Result<()> {
    if data.len() != len {
        bail!("{op}: {what} holds {} elements, expected {len}", data.len());
    }
    Ok(())
}
