//! Model files (safetensors header, JSON description, weights):
//! `load_model_from_memory`, then `predict` on zeros for a model that loads.
//! A panic or an abort is a bug; a clean `Err` is fine.
#![no_main]

use dlkit::{DType, Device, Tensor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut model) = dlkit::model::load_model_from_memory(data) else {
        return;
    };
    let shape = model
        .input_shape()
        .expect("a loaded model is built")
        .to_vec();
    let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if values.is_some_and(|v| v <= 100_000) {
        let dims: Vec<usize> = std::iter::once(2).chain(shape).collect();
        let x = Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
        // Any result will do (a clean error included); a panic will not.
        let _ = model.predict(&x);
    }
});
