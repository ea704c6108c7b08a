//! Which device a model computes on: the CPU, or a CUDA GPU when dlkit is
//! built with the `cuda` feature (docs/gpu.md).
//!
//! Models start on the CPU. One line moves one to the best device there is,
//! before or after it is built; `fit`, `evaluate` and `predict` then move the
//! data batch by batch, and results (predictions, histories, plots, saved
//! files) come back on the CPU:
//!
//! ```
//! # use dlkit::prelude::*;
//! # fn demo() -> dlkit::Result<()> {
//! let mut model = Sequential::new();
//! model.add(Dense::new(10).input_dim(784).activation(Activation::Softmax))?;
//! model.to_device(&dlkit::device::best())?;
//! println!("training on {}", dlkit::device::name(model.device()));
//! # Ok(()) }
//! # demo().unwrap();
//! ```

use crate::error::{Error, Result};
use candle_core::Device;

/// The first CUDA GPU when dlkit is built with `cuda` and one answers, else the CPU.
pub fn best() -> Device {
    cuda(0).unwrap_or(Device::Cpu)
}

/// CUDA GPU number `ordinal`, or an error saying why there is none (dlkit built
/// without the `cuda` feature, no driver, no such GPU).
pub fn cuda(ordinal: usize) -> Result<Device> {
    if !candle_core::utils::cuda_is_available() {
        return Err(Error::InvalidArgument(
            "no CUDA device: dlkit was built without its `cuda` feature (see docs/gpu.md)"
                .to_string(),
        ));
    }
    Device::new_cuda(ordinal)
        .map_err(|e| Error::InvalidArgument(format!("no CUDA device {ordinal}: {e}")))
}

/// The CPU, then the first CUDA GPU when there is one ([`best`]): the devices to
/// compare results on. (Only one GPU: each one opened holds a context and its memory.)
pub fn available() -> Vec<Device> {
    let mut devices = vec![Device::Cpu];
    devices.extend(cuda(0).ok());
    devices
}

/// A short name for messages and test names: `cpu`, `cuda:0`, `metal:0`.
pub fn name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_available_and_first() {
        let devices = available();
        assert!(devices[0].is_cpu());
        assert_eq!(name(&devices[0]), "cpu");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_cuda_feature_best_is_the_cpu_and_cuda_says_why() {
        assert!(best().is_cpu());
        assert_eq!(available().len(), 1);
        let msg = cuda(0).unwrap_err().to_string();
        assert!(msg.contains("without its `cuda` feature"), "{msg}");
    }
}
