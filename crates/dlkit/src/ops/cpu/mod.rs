//! CPU building blocks shared by the fast ops: tensor data access, the optional bias, a checked gemm,
//! fixed parallel chunking, im2col/col2im, zero padding, transposition and vectorised element-wise math.

pub(crate) mod bias;
pub(crate) mod data;
pub(crate) mod gemm;
pub(crate) mod im2col;
pub(crate) mod math;
pub(crate) mod pad;
pub(crate) mod parallel;
pub(crate) mod transpose;
