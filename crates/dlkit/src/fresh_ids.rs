//! Tensor ids that cannot collide in a backward pass, even in a notebook.
//!
//! candle keys gradients by tensor id, drawn from a global counter. evcxr links
//! every notebook cell as a library of its own (statically, by default), and
//! each gets its own copy of that counter: tensors created in different cells
//! can carry the same id. Weights made in one cell and a batch or activation
//! made in the cell that calls `fit` would then have their gradients mixed up,
//! or fail with a shape error deep inside `backward`. `fit` therefore gives
//! everything its backward pass can reach from earlier cells (the weights, each
//! batch) a new id from the counter of the code that runs the pass.
//! (evcxr's `:allow_static_linking 0` would share one counter, but with evcxr
//! 0.22 and Rust 1.95 it fails to build: "only metadata stub found for `dylib`
//! dependency `core`".)

use candle_core::{Result, Tensor, Var};

/// The same data under a new id; shares storage when `t` is contiguous.
pub(crate) fn fresh_leaf(t: &Tensor) -> Result<Tensor> {
    // `detach` would keep the id of a tensor that tracks nothing; a reshape to
    // the same shape always makes a new tensor (and a contiguous one).
    t.detach().reshape(t.shape())
}

/// A copy of `v` under a new id.
pub(crate) fn fresh_var(v: &Var) -> Result<Var> {
    // `detach` turns the variable into a plain tensor, which `from_tensor`
    // copies into a new variable.
    Var::from_tensor(&v.as_tensor().detach())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn fresh_leaf_keeps_data_and_changes_id() -> Result<()> {
        let t = Tensor::arange(0f32, 6., &Device::Cpu)?.reshape((2, 3))?;
        for source in [t.clone(), t.t()?] {
            let f = fresh_leaf(&source)?;
            assert_ne!(f.id(), source.id());
            assert_eq!(f.to_vec2::<f32>()?, source.to_vec2::<f32>()?);
            assert!(
                !f.is_variable() && !f.track_op(),
                "a fresh leaf tracks no history"
            );
        }
        Ok(())
    }

    #[test]
    fn fresh_var_is_an_independent_copy() -> Result<()> {
        let v = Var::ones((2, 2), DType::F32, &Device::Cpu)?;
        let f = fresh_var(&v)?;
        assert_ne!(f.as_tensor().id(), v.as_tensor().id());
        assert!(f.as_tensor().is_variable());
        f.set(&Tensor::zeros((2, 2), DType::F32, &Device::Cpu)?)?;
        assert_eq!(
            v.as_tensor().sum_all()?.to_scalar::<f32>()?,
            4.0,
            "the original is untouched"
        );
        Ok(())
    }
}
