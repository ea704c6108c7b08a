//! Applying an update rule to a weight in place.
//!
//! On the CPU the rule runs directly on the weight's storage through a candle
//! in-place op: no temporary tensors, one pass over memory, split across
//! threads for large weights. Other devices round-trip through host memory.

use super::{OptimizerRule, Step};
use crate::error::Result;
use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor, Var};
use rayon::prelude::*;
use std::sync::Mutex;

/// Below this many values a weight is updated on one thread: splitting costs more. Waking
/// rayon's worker for a parallel region takes about 20 µs here (see `ops::dense`'s
/// `PARALLEL_MACS`), as long as Adam takes for some 60,000 values on one core; the update
/// is element by element, so the split never changes a result.
const PARALLEL_MIN: usize = 1 << 18;

pub(crate) fn update_in_place(
    rule: &dyn OptimizerRule,
    step: Step,
    var: &Var,
    grad: &Tensor,
    slots: &mut [Vec<f32>],
) -> Result<()> {
    let grad = grad.contiguous()?;
    if var.device().is_cpu() && var.as_tensor().is_contiguous() && grad.dtype() == var.dtype() {
        let op = UpdateOp {
            rule,
            step,
            slots: Mutex::new(slots),
        };
        var.as_tensor().inplace_op2(&grad, &op)?;
        return Ok(());
    }
    // Other devices and dtypes: compute on the host, then write back.
    let mut param: Vec<f32> = var
        .as_tensor()
        .flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()?;
    let g: Vec<f32> = grad
        .flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()?;
    let mut slot_refs: Vec<&mut [f32]> = slots.iter_mut().map(|s| s.as_mut_slice()).collect();
    rule.update(step, &mut param, &g, &mut slot_refs);
    let updated = Tensor::from_vec(param, var.shape(), var.device())?.to_dtype(var.dtype())?;
    var.set(&updated)?;
    Ok(())
}

struct UpdateOp<'a> {
    rule: &'a dyn OptimizerRule,
    step: Step,
    // The op is called through `&self`; the state is ours alone for the call.
    slots: Mutex<&'a mut [Vec<f32>]>,
}

impl InplaceOp2 for UpdateOp<'_> {
    fn name(&self) -> &'static str {
        "optimizer-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let n = l1.shape().elem_count();
        let (param, grad) = match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => (
                &mut p[l1.start_offset()..l1.start_offset() + n],
                &g[l2.start_offset()..l2.start_offset() + n],
            ),
            _ => candle_core::bail!("optimizer update: weights and gradients must be f32"),
        };
        let mut guard = self
            .slots
            .lock()
            .map_err(|_| candle_core::Error::Msg("optimizer state poisoned".into()))?;
        let slots: &mut [Vec<f32>] = &mut guard;
        // A rule that looks at whole weights gets them whole.
        if n < PARALLEL_MIN || !self.rule.elementwise() {
            let mut refs: Vec<&mut [f32]> = slots.iter_mut().map(|s| &mut s[..n]).collect();
            self.rule.update(self.step, param, grad, &mut refs);
            return Ok(());
        }
        // Split the weight and each state vector into the same chunks.
        let chunk = n
            .div_ceil(rayon::current_num_threads().max(1))
            .max(PARALLEL_MIN / 4);
        let mut slot_chunks: Vec<std::slice::ChunksMut<f32>> =
            slots.iter_mut().map(|s| s.chunks_mut(chunk)).collect();
        let mut work = Vec::new();
        for (p, g) in param.chunks_mut(chunk).zip(grad.chunks(chunk)) {
            let s: Vec<&mut [f32]> = slot_chunks.iter_mut().filter_map(|it| it.next()).collect();
            work.push((p, g, s));
        }
        let (rule, step) = (self.rule, self.step);
        work.into_par_iter()
            .for_each(|(p, g, mut s)| rule.update(step, p, g, &mut s));
        Ok(())
    }
}
