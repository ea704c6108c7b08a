//! The optional bias of the ops `act(x·kernel + bias)` (dense, conv2d, lstm): its shape
//! check, and the zero bias that stands in for none.

use candle_core::{bail, CustomOp3, Result, Tensor};

/// Checks that `bias`, if given, is a vector of `len` values (`len` from `kernel`'s shape).
pub(crate) fn check_bias(
    op: &str,
    bias: Option<&Tensor>,
    len: usize,
    kernel: &Tensor,
) -> Result<()> {
    if let Some(b) = bias {
        if b.dims() != [len] {
            bail!(
                "{op}: the bias must be ({len}) for kernel {:?}, got shape {:?}",
                kernel.dims(),
                b.dims()
            );
        }
    }
    Ok(())
}

/// `op(x, kernel, bias)`, with a zero bias of `len` values when there is none: a constant
/// zero bias keeps one op type, and its gradient is never computed.
pub(crate) fn apply_with_bias<C: CustomOp3 + Send + Sync + 'static>(
    op: C,
    [x, kernel]: [&Tensor; 2],
    bias: Option<&Tensor>,
    len: usize,
) -> Result<Tensor> {
    match bias {
        Some(b) => x.apply_op3(kernel, b, op),
        None => x.apply_op3(kernel, &Tensor::zeros(len, x.dtype(), x.device())?, op),
    }
}
