//! Times dlkit's fast ops against the same computation written with candle's own ops, on
//! the layer shapes of the tutorials, forward + backward, and prints ms per batch and GFLOP/s.
//!
//! Run with `cargo run --release -p dlkit --example ops_bench` (optionally a filter word:
//! `... -- conv`). Candle and dlkit run alternately, round after round, and the medians
//! are printed, so a noisy shared machine disturbs both alike.

use std::time::Instant;

use candle_core::{Device, Result, Tensor, Var};
use dlkit::ops::{
    self, Conv2dParams, ConvAlgorithm, DataLayout, FusedActivation, LstmActivation, Padding,
};
use dlkit::rng::Rng;

fn randn(shape: &[usize], rng: &mut Rng, scale: f64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (rng.normal() * scale) as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// A batch of `n` square `hw × hw` images with `c` channels in `layout`.
fn image_shape(layout: DataLayout, n: usize, c: usize, hw: usize) -> Vec<usize> {
    match layout {
        DataLayout::ChannelsFirst => vec![n, c, hw, hw],
        DataLayout::ChannelsLast => vec![n, hw, hw, c],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// CPU time used by the whole process so far, in ms (all threads; Linux only, else 0).
fn cpu_ms() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.sec as f64 * 1e3 + ts.nsec as f64 * 1e-6;
        }
    }
    0.0
}

/// Wall-clock and CPU medians of one side of a race, in ms.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

/// Runs both closures alternately for `rounds` rounds after a warm-up; returns the medians.
fn race(
    rounds: usize,
    mut candle: impl FnMut() -> Result<()>,
    mut ours: impl FnMut() -> Result<()>,
) -> Result<(Timing, Timing)> {
    candle()?;
    ours()?;
    let (mut a, mut b, mut ac, mut bc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (t, c) = (Instant::now(), cpu_ms());
        candle()?;
        a.push(t.elapsed().as_secs_f64() * 1e3);
        ac.push(cpu_ms() - c);
        let (t, c) = (Instant::now(), cpu_ms());
        ours()?;
        b.push(t.elapsed().as_secs_f64() * 1e3);
        bc.push(cpu_ms() - c);
    }
    Ok((
        Timing {
            wall: median(a),
            cpu: median(ac),
        },
        Timing {
            wall: median(b),
            cpu: median(bc),
        },
    ))
}

/// Measures the core clock with a chain of dependent integer additions (one cycle each on
/// every x86-64 core of the last decade), in MHz; falls back to /proc/cpuinfo.
fn measured_mhz() -> (f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        let iters: u64 = 50_000_000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            // CPU time, not wall time: on a shared machine the loop may lose its core.
            let t = cpu_ms();
            let mut x: u64 = 0;
            let mut n = iters;
            // SAFETY: register-only arithmetic; 10 dependent adds per iteration.
            unsafe {
                std::arch::asm!(
                    "2:",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "dec {n}",
                    "jnz 2b",
                    x = inout(reg) x,
                    n = inout(reg) n,
                    options(nomem, nostack),
                );
            }
            std::hint::black_box((x, n));
            best = best.min((cpu_ms() - t) / 1e3);
        }
        return (
            iters as f64 * 10.0 / best / 1e6,
            "timed chain of dependent adds",
        );
    }
    #[allow(unreachable_code)]
    (cpu_mhz(), "/proc/cpuinfo")
}

/// Forward + backward of `f`, whose output is reduced with a sum (the same cheap extra op for both).
fn fwd_bwd(f: &dyn Fn() -> Result<Tensor>) -> Result<()> {
    let y = f()?;
    let g = y.sum_all()?.backward()?;
    std::hint::black_box(g);
    Ok(())
}

fn cpu_mhz() -> f64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

struct ConvCase {
    name: &'static str,
    batch: usize,
    layout: DataLayout,
    c: usize,
    hw: usize,
    k: usize,
    ks: usize,
    relu: bool,
    /// The layer's input comes from an earlier layer and needs a gradient.
    input_grad: bool,
}

fn conv_cases() -> Vec<ConvCase> {
    use DataLayout::*;
    let c = |name, batch, layout, c, hw, k, ks, relu, input_grad| ConvCase {
        name,
        batch,
        layout,
        c,
        hw,
        k,
        ks,
        relu,
        input_grad,
    };
    vec![
        c(
            "001 conv1 1x28x28 -> 32 3x3",
            32,
            ChannelsFirst,
            1,
            28,
            32,
            3,
            true,
            false,
        ),
        c(
            "001 conv2 32x26x26 -> 32 3x3",
            32,
            ChannelsFirst,
            32,
            26,
            32,
            3,
            true,
            true,
        ),
        c(
            "002 simple 1x28x28 -> 32 5x5",
            200,
            ChannelsFirst,
            1,
            28,
            32,
            5,
            true,
            false,
        ),
        c(
            "002 larger1 1x28x28 -> 30 5x5",
            200,
            ChannelsFirst,
            1,
            28,
            30,
            5,
            true,
            false,
        ),
        c(
            "002 larger2 30x12x12 -> 15 3x3",
            200,
            ChannelsFirst,
            30,
            12,
            15,
            3,
            true,
            true,
        ),
        c(
            "003 conv1 1x28x28 -> 16 5x5",
            200,
            ChannelsFirst,
            1,
            28,
            16,
            5,
            true,
            false,
        ),
        c(
            "003 conv2 16x12x12 -> 16 5x5",
            200,
            ChannelsFirst,
            16,
            12,
            16,
            5,
            true,
            true,
        ),
        c(
            "004 cnn 28x28x1 -> 32 3x3 (NHWC)",
            32,
            ChannelsLast,
            1,
            28,
            32,
            3,
            false,
            false,
        ),
        c(
            "000 conv1 28x28x1 -> 32 3x3 (NHWC)",
            128,
            ChannelsLast,
            1,
            28,
            32,
            3,
            true,
            false,
        ),
        c(
            "000 conv2 26x26x32 -> 64 3x3 (NHWC)",
            128,
            ChannelsLast,
            32,
            26,
            64,
            3,
            true,
            true,
        ),
    ]
}

/// What a candle-nn user writes: conv2d on NCHW (permuting NHWC data), bias, relu.
fn candle_conv(x: &Tensor, w: &Tensor, b: &Tensor, case: &ConvCase) -> Result<Tensor> {
    let xf = match case.layout {
        DataLayout::ChannelsFirst => x.clone(),
        DataLayout::ChannelsLast => x.permute((0, 3, 1, 2))?,
    };
    let mut y = xf
        .conv2d(w, 0, 1, 1, 1)?
        .broadcast_add(&b.reshape((1, case.k, 1, 1))?)?;
    if case.relu {
        y = y.relu()?;
    }
    match case.layout {
        DataLayout::ChannelsFirst => Ok(y),
        DataLayout::ChannelsLast => y.permute((0, 2, 3, 1)),
    }
}

/// The tutorials' stride-1 layers with at least 15 input channels, as the models run them
/// (relu; with the following pooling fused where the model has one; the input gradient,
/// as these are second layers): name, batch, (C, H=W, K, window), padding, layout, pooled.
#[allow(clippy::type_complexity)]
fn winograd_cases() -> Vec<(
    &'static str,
    usize,
    (usize, usize, usize, usize),
    Padding,
    DataLayout,
    bool,
)> {
    use DataLayout::{ChannelsFirst as CF, ChannelsLast as CL};
    use Padding::{Same, Valid};
    vec![
        (
            "000 conv2 32x26x26 -> 64 3x3 +pool",
            128,
            (32, 26, 64, 3),
            Valid,
            CL,
            true,
        ),
        (
            "001 conv2 32x26x26 -> 32 3x3 +pool",
            32,
            (32, 26, 32, 3),
            Valid,
            CF,
            true,
        ),
        (
            "002 branch 16x24x24 -> 15 3x3 same",
            200,
            (16, 24, 15, 3),
            Same,
            CF,
            false,
        ),
        (
            "002 branch 16x24x24 -> 15 5x5 same",
            200,
            (16, 24, 15, 5),
            Same,
            CF,
            false,
        ),
        (
            "002 30x12x12 -> 15 3x3 +pool",
            200,
            (30, 12, 15, 3),
            Valid,
            CF,
            true,
        ),
        (
            "003 conv2 16x12x12 -> 16 5x5 +pool",
            200,
            (16, 12, 16, 5),
            Valid,
            CF,
            true,
        ),
    ]
}

/// Winograd against the direct path on the layers it could serve; `ConvAlgorithm::Auto`
/// picks it where the ratio was above 1 (see `crates/dlkit/src/ops/conv/winograd/mod.rs`).
fn bench_winograd(rounds: usize) -> Result<()> {
    println!("\n## conv2d: Winograd against direct, forward + backward with the input gradient (ms/batch)");
    println!(
        "{:<38} {:>5} {:>10} {:>12} {:>8} {:>6}",
        "layer", "batch", "direct ms", "Winograd ms", "speedup", "Auto"
    );
    let mut rng = Rng::new(2);
    for (name, n, (c, hw, k, ks), padding, layout, pooled) in winograd_cases() {
        let shape = image_shape(layout, n, c, hw);
        let x = Var::from_tensor(&randn(&shape, &mut rng, 1.0)?.relu()?)?;
        let w = Var::from_tensor(&randn(&[k, c, ks, ks], &mut rng, 0.1)?)?;
        let b = Var::from_tensor(&randn(&[k], &mut rng, 0.1)?)?;
        let params = |algorithm| Conv2dParams {
            padding,
            layout,
            activation: FusedActivation::Relu,
            algorithm,
            ..Default::default()
        };
        let (direct, winograd) = (
            params(ConvAlgorithm::Direct),
            params(ConvAlgorithm::Winograd),
        );
        let run = |p: &Conv2dParams| {
            let (x, w, b) = (x.as_tensor(), w.as_tensor(), Some(b.as_tensor()));
            if pooled {
                ops::conv2d_max_pool(x, w, b, p, &POOL2)
            } else {
                ops::conv2d(x, w, b, p)
            }
        };
        let (td, tw) = race(
            rounds,
            || fwd_bwd(&|| run(&direct)),
            || fwd_bwd(&|| run(&winograd)),
        )?;
        // Which one Auto runs: its output equals that path's bit for bit.
        let auto = run(&params(ConvAlgorithm::Auto))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let wino = run(&winograd)?.flatten_all()?.to_vec1::<f32>()?;
        let picked = if auto == wino { "W" } else { "direct" };
        println!(
            "{name:<38} {n:>5} {:>10.2} {:>12.2} {:>7.2}x {picked:>6}",
            td.wall,
            tw.wall,
            td.wall / tw.wall
        );
    }
    Ok(())
}

fn bench_conv(rounds: usize, peak: f64) -> Result<()> {
    println!("\n## conv2d, forward + backward (ms/batch; GFLOP/s counts 2·MACs per gemm done: forward, kernel gradient, input gradient when needed)");
    println!(
        "{:<38} {:>5} {:>10} {:>10} {:>8} {:>9} {:>9} {:>7} {:>8} {:>10} {:>10}",
        "layer",
        "batch",
        "candle ms",
        "dlkit ms",
        "speedup",
        "candle GF",
        "dlkit GF",
        "% peak",
        "fwd ms",
        "candle cpu",
        "dlkit cpu"
    );
    let mut rng = Rng::new(1);
    for case in conv_cases() {
        let (n, c, hw, k, ks) = (case.batch, case.c, case.hw, case.k, case.ks);
        let shape = image_shape(case.layout, n, c, hw);
        let x_data = randn(&shape, &mut rng, 1.0)?;
        let x = if case.input_grad {
            Var::from_tensor(&x_data)?.as_tensor().clone()
        } else {
            x_data
        };
        let w = Var::from_tensor(&randn(&[k, c, ks, ks], &mut rng, 0.1)?)?;
        let b = Var::from_tensor(&randn(&[k], &mut rng, 0.1)?)?;
        let params = Conv2dParams {
            layout: case.layout,
            activation: if case.relu {
                FusedActivation::Relu
            } else {
                FusedActivation::Linear
            },
            ..Default::default()
        };
        let oh = hw - ks + 1;
        let macs = (n * k * oh * oh * c * ks * ks) as f64;
        let candle_flops = 2.0 * macs * 3.0; // candle always computes the input gradient
        let our_flops = 2.0 * macs * if case.input_grad { 3.0 } else { 2.0 };
        let (tc, to) = race(
            rounds,
            || fwd_bwd(&|| candle_conv(&x, w.as_tensor(), b.as_tensor(), &case)),
            || fwd_bwd(&|| ops::conv2d(&x, w.as_tensor(), Some(b.as_tensor()), &params)),
        )?;
        let (_, tf) = race(
            rounds,
            || Ok(()),
            || ops::conv2d(&x, w.as_tensor(), Some(b.as_tensor()), &params).map(drop),
        )?;
        let gf = |flops: f64, ms: f64| flops / ms / 1e6;
        println!(
            "{:<38} {:>5} {:>10.2} {:>10.2} {:>7.1}x {:>9.1} {:>9.1} {:>6.0}% {:>8.2} {:>10.2} {:>10.2}",
            case.name,
            n,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            gf(candle_flops, tc.wall),
            gf(our_flops, to.wall),
            100.0 * gf(our_flops, to.wall) / peak,
            tf.wall,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

fn bench_conv_pool(rounds: usize, peak: f64) -> Result<()> {
    println!("\n## conv2d + max_pool2d 2x2, forward + backward: candle ops / dlkit conv2d then max_pool2d / dlkit conv2d_max_pool");
    println!(
        "{:<38} {:>5} {:>10} {:>10} {:>10} {:>8} {:>9} {:>7} {:>10} {:>10} {:>10}",
        "layer",
        "batch",
        "candle ms",
        "2 ops ms",
        "fused ms",
        "speedup",
        "fused GF",
        "% peak",
        "candle cpu",
        "2 ops cpu",
        "fused cpu"
    );
    let mut rng = Rng::new(7);
    let pool = ops::MaxPoolParams {
        pool: (2, 2),
        stride: (2, 2),
        padding: Padding::Valid,
    };
    for case in conv_cases()
        .into_iter()
        .filter(|c| !c.name.contains("conv1 1x28x28 -> 32 3x3"))
    {
        let (n, c, hw, k, ks) = (case.batch, case.c, case.hw, case.k, case.ks);
        let shape = image_shape(case.layout, n, c, hw);
        let x_data = randn(&shape, &mut rng, 1.0)?;
        let x = if case.input_grad {
            Var::from_tensor(&x_data)?.as_tensor().clone()
        } else {
            x_data
        };
        let w = Var::from_tensor(&randn(&[k, c, ks, ks], &mut rng, 0.1)?)?;
        let b = Var::from_tensor(&randn(&[k], &mut rng, 0.1)?)?;
        let params = Conv2dParams {
            layout: case.layout,
            activation: if case.relu {
                FusedActivation::Relu
            } else {
                FusedActivation::Linear
            },
            ..Default::default()
        };
        let oh = hw - ks + 1;
        let macs = (n * k * oh * oh * c * ks * ks) as f64;
        let our_flops = 2.0 * macs * if case.input_grad { 3.0 } else { 2.0 };
        let candle_pool = |y: Tensor| match case.layout {
            DataLayout::ChannelsFirst => y.max_pool2d(2),
            DataLayout::ChannelsLast => y
                .permute((0, 3, 1, 2))?
                .max_pool2d(2)?
                .permute((0, 2, 3, 1)),
        };
        let (tc, t2) = race(
            rounds,
            || fwd_bwd(&|| candle_pool(candle_conv(&x, w.as_tensor(), b.as_tensor(), &case)?)),
            || {
                fwd_bwd(&|| {
                    let y = ops::conv2d(&x, w.as_tensor(), Some(b.as_tensor()), &params)?;
                    ops::max_pool2d(&y, (2, 2), (2, 2), Padding::Valid, case.layout)
                })
            },
        )?;
        let (_, tf) = race(
            rounds,
            || Ok(()),
            || {
                fwd_bwd(&|| {
                    ops::conv2d_max_pool(&x, w.as_tensor(), Some(b.as_tensor()), &params, &pool)
                })
            },
        )?;
        let gf = our_flops / tf.wall / 1e6;
        println!(
            "{:<38} {:>5} {:>10.2} {:>10.2} {:>10.2} {:>7.1}x {:>9.1} {:>6.0}% {:>10.2} {:>10.2} {:>10.2}",
            case.name,
            n,
            tc.wall,
            t2.wall,
            tf.wall,
            tc.wall / tf.wall,
            gf,
            100.0 * gf / peak,
            tc.cpu,
            t2.cpu,
            tf.cpu
        );
    }
    Ok(())
}

fn bench_pool(rounds: usize) -> Result<()> {
    println!("\n## max_pool2d 2x2, forward + backward (candle: max_pool2d and its autograd; NHWC via permutes)");
    println!(
        "{:<38} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "input", "candle ms", "dlkit ms", "speedup", "candle cpu", "dlkit cpu"
    );
    let mut rng = Rng::new(2);
    for (name, shape, layout) in [
        (
            "001 32x(32,24,24)",
            [32, 32, 24, 24],
            DataLayout::ChannelsFirst,
        ),
        (
            "002 200x(32,24,24)",
            [200, 32, 24, 24],
            DataLayout::ChannelsFirst,
        ),
        (
            "002 larger 200x(15,10,10)",
            [200, 15, 10, 10],
            DataLayout::ChannelsFirst,
        ),
        (
            "000 128x(24,24,64) NHWC",
            [128, 24, 24, 64],
            DataLayout::ChannelsLast,
        ),
    ] {
        let x = Var::from_tensor(&randn(&shape, &mut rng, 1.0)?)?;
        let x = x.as_tensor();
        let (tc, to) = race(
            rounds,
            || {
                fwd_bwd(&|| match layout {
                    DataLayout::ChannelsFirst => x.max_pool2d(2),
                    DataLayout::ChannelsLast => x
                        .permute((0, 3, 1, 2))?
                        .max_pool2d(2)?
                        .permute((0, 2, 3, 1)),
                })
            },
            || fwd_bwd(&|| ops::max_pool2d(x, (2, 2), (2, 2), Padding::Valid, layout)),
        )?;
        println!(
            "{:<38} {:>10.2} {:>10.2} {:>7.1}x {:>10.2} {:>10.2}",
            name,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

fn bench_dropout(rounds: usize) -> Result<()> {
    println!("\n## dropout, forward + backward (candle: candle_nn::ops::dropout)");
    println!(
        "{:<38} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "input", "candle ms", "dlkit ms", "speedup", "candle cpu", "dlkit cpu"
    );
    let mut rng = Rng::new(3);
    for (name, shape, rate) in [
        ("001 .25 on 32x(32,12,12)", vec![32, 32, 12, 12], 0.25f32),
        ("001 .5 on 32x128", vec![32, 128], 0.5),
        ("000 .25 on 128x(12,12,64)", vec![128, 12, 12, 64], 0.25),
        ("002 .2 on 200x(32,12,12)", vec![200, 32, 12, 12], 0.2),
    ] {
        let x = Var::from_tensor(&randn(&shape, &mut rng, 1.0)?)?;
        let x = x.as_tensor();
        let mut seed = 0u64;
        let (tc, to) = race(
            rounds,
            || fwd_bwd(&|| candle_nn::ops::dropout(x, rate)),
            || {
                seed += 1;
                fwd_bwd(&|| ops::dropout(x, rate, seed))
            },
        )?;
        println!(
            "{:<38} {:>10.3} {:>10.3} {:>7.1}x {:>10.3} {:>10.3}",
            name,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

fn bench_dense(rounds: usize, peak: f64) -> Result<()> {
    println!("\n## dense, forward + backward (candle: matmul + broadcast_add + relu)");
    println!(
        "{:<38} {:>10} {:>10} {:>8} {:>9} {:>9} {:>7} {:>10} {:>10}",
        "layer",
        "candle ms",
        "dlkit ms",
        "speedup",
        "candle GF",
        "dlkit GF",
        "% peak",
        "candle cpu",
        "dlkit cpu"
    );
    let mut rng = Rng::new(4);
    for (name, n, din, dout, input_grad) in [
        ("002 mlp 784 -> 784 (first layer)", 200, 784, 784, false),
        ("002 mlp 784 -> 10", 200, 784, 10, true),
        ("001 4608 -> 128", 32, 4608, 128, true),
        ("000 9216 -> 128", 128, 9216, 128, true),
        ("004 dnn 784 -> 128 (first layer)", 32, 784, 128, false),
        ("004 dnn 128 -> 128", 32, 128, 128, true),
    ] {
        let x_data = randn(&[n, din], &mut rng, 1.0)?;
        let x = if input_grad {
            Var::from_tensor(&x_data)?.as_tensor().clone()
        } else {
            x_data
        };
        let w = Var::from_tensor(&randn(&[din, dout], &mut rng, 0.05)?)?;
        let b = Var::from_tensor(&randn(&[dout], &mut rng, 0.05)?)?;
        let macs = (n * din * dout) as f64;
        let (tc, to) = race(
            rounds,
            || {
                fwd_bwd(&|| {
                    x.matmul(w.as_tensor())?
                        .broadcast_add(b.as_tensor())?
                        .relu()
                })
            },
            || {
                fwd_bwd(&|| {
                    ops::dense(
                        &x,
                        w.as_tensor(),
                        Some(b.as_tensor()),
                        FusedActivation::Relu,
                    )
                })
            },
        )?;
        let gf = |flops: f64, ms: f64| flops / ms / 1e6;
        let ours = 2.0 * macs * if input_grad { 3.0 } else { 2.0 };
        println!(
            "{:<38} {:>10.3} {:>10.3} {:>7.1}x {:>9.1} {:>9.1} {:>6.0}% {:>10.3} {:>10.3}",
            name,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            gf(6.0 * macs, tc.wall),
            gf(ours, to.wall),
            100.0 * gf(ours, to.wall) / peak,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

fn bench_lstm(rounds: usize) -> Result<()> {
    println!("\n## lstm 128 units, relu, forward + backward (candle: the step-by-step LSTM in ops::reference)");
    println!(
        "{:<38} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "layer", "candle ms", "dlkit ms", "speedup", "candle cpu", "dlkit cpu"
    );
    let mut rng = Rng::new(5);
    for (name, f, seq, input_grad) in [
        ("004 lstm1 32x28x28 -> 28x128", 28, true, false),
        ("004 lstm2 32x28x128 -> 128", 128, false, true),
    ] {
        let h = 128;
        let x_data = randn(&[32, 28, f], &mut rng, 1.0)?;
        let x = if input_grad {
            Var::from_tensor(&x_data)?.as_tensor().clone()
        } else {
            x_data
        };
        let w = Var::from_tensor(&randn(&[f, 4 * h], &mut rng, 0.05)?)?;
        let u = Var::from_tensor(&randn(&[h, 4 * h], &mut rng, 0.05)?)?;
        let b = Var::from_tensor(&randn(&[4 * h], &mut rng, 0.05)?)?;
        let (w, u, b) = (w.as_tensor(), u.as_tensor(), b.as_tensor());
        let (tc, to) = race(
            rounds,
            || fwd_bwd(&|| ops::reference::lstm(&x, w, u, Some(b), LstmActivation::Relu, seq)),
            || fwd_bwd(&|| ops::lstm(&x, w, u, Some(b), LstmActivation::Relu, seq)),
        )?;
        println!(
            "{:<38} {:>10.2} {:>10.2} {:>7.1}x {:>10.2} {:>10.2}",
            name,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

fn bench_loss(rounds: usize) -> Result<()> {
    println!("\n## softmax + cross-entropy, forward + backward (candle: log_softmax + gather/mul + mean)");
    println!(
        "{:<38} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "input", "candle ms", "dlkit ms", "speedup", "candle cpu", "dlkit cpu"
    );
    let mut rng = Rng::new(6);
    let logits = Var::from_tensor(&randn(&[200, 10], &mut rng, 1.0)?)?;
    let labels: Vec<u32> = (0..200).map(|_| rng.below(10) as u32).collect();
    let labels = Tensor::new(labels.as_slice(), &Device::Cpu)?;
    let onehot = candle_nn::encoding::one_hot(labels.clone(), 10, 1f32, 0f32)?;
    let l = logits.as_tensor();
    let (tc, to) = race(
        rounds,
        || fwd_bwd(&|| candle_nn::loss::cross_entropy(l, &labels)),
        || fwd_bwd(&|| ops::softmax_cross_entropy(l, &labels)),
    )?;
    println!(
        "{:<38} {:>10.3} {:>10.3} {:>7.1}x {:>10.3} {:>10.3}",
        "200x10 sparse labels",
        tc.wall,
        to.wall,
        tc.wall / to.wall,
        tc.cpu,
        to.cpu
    );
    let (tc, to) = race(
        rounds,
        || {
            fwd_bwd(&|| {
                (candle_nn::ops::log_softmax(l, 1)? * &onehot)?
                    .sum_all()?
                    .affine(-1.0 / 200.0, 0.0)
            })
        },
        || fwd_bwd(&|| ops::softmax_cross_entropy(l, &onehot)),
    )?;
    println!(
        "{:<38} {:>10.3} {:>10.3} {:>7.1}x {:>10.3} {:>10.3}",
        "200x10 one-hot",
        tc.wall,
        to.wall,
        tc.wall / to.wall,
        tc.cpu,
        to.cpu
    );
    Ok(())
}

/// One tutorial model's layers as a training step would run them: forward, loss, backward
/// (no optimizer update, no data loading), with dlkit's ops or with candle's.
struct Model {
    name: &'static str,
    batch: usize,
    /// Keras 3 (TensorFlow CPU) seconds per epoch from the tutorial's reference machine.
    keras: f64,
    input: Vec<usize>,
    params: Vec<Var>,
    step: fn(&[Tensor], &Tensor, &Tensor, bool, u64) -> Result<Tensor>,
}

fn var(shape: &[usize], rng: &mut Rng, scale: f64) -> Result<Var> {
    Var::from_tensor(&randn(shape, rng, scale)?)
}

fn cf(relu: bool) -> Conv2dParams {
    Conv2dParams {
        activation: if relu {
            FusedActivation::Relu
        } else {
            FusedActivation::Linear
        },
        ..Default::default()
    }
}

fn cl(relu: bool) -> Conv2dParams {
    Conv2dParams {
        layout: DataLayout::ChannelsLast,
        ..cf(relu)
    }
}

const POOL2: ops::MaxPoolParams = ops::MaxPoolParams {
    pool: (2, 2),
    stride: (2, 2),
    padding: Padding::Valid,
};

/// candle's conv + bias (+ relu), NCHW (NHWC permuted in and out).
fn c_conv(x: &Tensor, w: &Tensor, b: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
    let k = w.dim(0)?;
    let xf = if p.layout == DataLayout::ChannelsLast {
        x.permute((0, 3, 1, 2))?
    } else {
        x.clone()
    };
    let mut y = xf
        .conv2d(w, 0, 1, 1, 1)?
        .broadcast_add(&b.reshape((1, k, 1, 1))?)?;
    if p.activation == FusedActivation::Relu {
        y = y.relu()?;
    }
    if p.layout == DataLayout::ChannelsLast {
        y = y.permute((0, 2, 3, 1))?;
    }
    Ok(y)
}

fn c_pool(y: &Tensor, layout: DataLayout) -> Result<Tensor> {
    match layout {
        DataLayout::ChannelsFirst => y.max_pool2d(2),
        DataLayout::ChannelsLast => y
            .permute((0, 3, 1, 2))?
            .max_pool2d(2)?
            .permute((0, 2, 3, 1)),
    }
}

fn c_dense(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Result<Tensor> {
    let y = x.matmul(w)?.broadcast_add(b)?;
    if relu {
        y.relu()
    } else {
        Ok(y)
    }
}

fn d_dense(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Result<Tensor> {
    ops::dense(
        x,
        w,
        Some(b),
        if relu {
            FusedActivation::Relu
        } else {
            FusedActivation::Linear
        },
    )
}

fn c_drop(x: &Tensor, rate: f32) -> Result<Tensor> {
    candle_nn::ops::dropout(x, rate)
}

fn loss(logits: &Tensor, y: &Tensor, ours: bool) -> Result<Tensor> {
    if ours {
        ops::softmax_cross_entropy(logits, y)
    } else {
        candle_nn::loss::cross_entropy(logits, y)
    }
}

fn conv_pool(x: &Tensor, p: &[Tensor], conv: &Conv2dParams, ours: bool) -> Result<Tensor> {
    if ours {
        ops::conv2d_max_pool(x, &p[0], Some(&p[1]), conv, &POOL2)
    } else {
        c_pool(&c_conv(x, &p[0], &p[1], conv)?, conv.layout)
    }
}

fn conv(x: &Tensor, p: &[Tensor], conv: &Conv2dParams, ours: bool) -> Result<Tensor> {
    if ours {
        ops::conv2d(x, &p[0], Some(&p[1]), conv)
    } else {
        c_conv(x, &p[0], &p[1], conv)
    }
}

fn dense(x: &Tensor, p: &[Tensor], relu: bool, ours: bool) -> Result<Tensor> {
    if ours {
        d_dense(x, &p[0], &p[1], relu)
    } else {
        c_dense(x, &p[0], &p[1], relu)
    }
}

fn drop_out(x: &Tensor, rate: f32, ours: bool, seed: u64) -> Result<Tensor> {
    if ours {
        ops::dropout(x, rate, seed)
    } else {
        c_drop(x, rate)
    }
}

fn models() -> Result<Vec<Model>> {
    let mut rng = Rng::new(11);
    let r = &mut rng;
    let mut out = Vec::new();
    let mut m = |name,
                 batch,
                 keras,
                 input: Vec<usize>,
                 shapes: &[&[usize]],
                 step,
                 r: &mut Rng|
     -> Result<()> {
        let params = shapes
            .iter()
            .map(|s| var(s, r, 0.05))
            .collect::<Result<Vec<_>>>()?;
        out.push(Model {
            name,
            batch,
            keras,
            input,
            params,
            step,
        });
        Ok(())
    };
    m(
        "001 cnn",
        32,
        42.0,
        vec![1, 28, 28],
        &[
            &[32, 1, 3, 3],
            &[32],
            &[32, 32, 3, 3],
            &[32],
            &[4608, 128],
            &[128],
            &[128, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let h = conv(x, &p[0..2], &cf(true), o)?;
            let h = conv_pool(&h, &p[2..4], &cf(true), o)?;
            let h = drop_out(&h, 0.25, o, s)?.flatten_from(1)?;
            let h = drop_out(&dense(&h, &p[4..6], true, o)?, 0.5, o, s + 1)?;
            loss(&dense(&h, &p[6..8], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "002 mlp",
        200,
        4.2,
        vec![784],
        &[&[784, 784], &[784], &[784, 10], &[10]],
        |p, x, y, o, _| {
            let h = dense(x, &p[0..2], true, o)?;
            loss(&dense(&h, &p[2..4], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "002 simple cnn",
        200,
        10.6,
        vec![1, 28, 28],
        &[
            &[32, 1, 5, 5],
            &[32],
            &[4608, 128],
            &[128],
            &[128, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let h = conv_pool(x, &p[0..2], &cf(true), o)?;
            let h = drop_out(&h, 0.2, o, s)?.flatten_from(1)?;
            let h = dense(&h, &p[2..4], true, o)?;
            loss(&dense(&h, &p[4..6], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "002 larger cnn",
        200,
        9.4,
        vec![1, 28, 28],
        &[
            &[30, 1, 5, 5],
            &[30],
            &[15, 30, 3, 3],
            &[15],
            &[375, 128],
            &[128],
            &[128, 50],
            &[50],
            &[50, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let h = conv_pool(x, &p[0..2], &cf(true), o)?;
            let h = conv_pool(&h, &p[2..4], &cf(true), o)?;
            let h = drop_out(&h, 0.2, o, s)?.flatten_from(1)?;
            let h = dense(&h, &p[4..6], true, o)?;
            let h = dense(&h, &p[6..8], true, o)?;
            loss(&dense(&h, &p[8..10], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "003 cnn",
        200,
        7.9,
        vec![1, 28, 28],
        &[
            &[16, 1, 5, 5],
            &[16],
            &[16, 16, 5, 5],
            &[16],
            &[256, 128],
            &[128],
            &[128, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let h = conv_pool(x, &p[0..2], &cf(true), o)?;
            let h = conv_pool(&h, &p[2..4], &cf(true), o)?;
            let h = drop_out(&h, 0.2, o, s)?.flatten_from(1)?;
            let h = drop_out(&dense(&h, &p[4..6], true, o)?, 0.2, o, s + 1)?;
            loss(&dense(&h, &p[6..8], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "004 cnn (NHWC)",
        32,
        20.0,
        vec![28, 28, 1],
        &[
            &[32, 1, 3, 3],
            &[32],
            &[5408, 100],
            &[100],
            &[100, 10],
            &[10],
        ],
        |p, x, y, o, _| {
            let h = conv_pool(x, &p[0..2], &cl(false), o)?.flatten_from(1)?;
            let h = dense(&h, &p[2..4], true, o)?;
            loss(&dense(&h, &p[4..6], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "004 dnn",
        32,
        9.7,
        vec![784],
        &[&[784, 128], &[128], &[128, 128], &[128], &[128, 10], &[10]],
        |p, x, y, o, _| {
            let h = dense(x, &p[0..2], true, o)?;
            let h = dense(&h, &p[2..4], true, o)?;
            loss(&dense(&h, &p[4..6], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "004 lstm",
        32,
        79.0,
        vec![28, 28],
        &[
            &[28, 512],
            &[128, 512],
            &[512],
            &[128, 512],
            &[128, 512],
            &[512],
            &[128, 32],
            &[32],
            &[32, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let lstm = if o { ops::lstm } else { ops::reference::lstm };
            let h = lstm(x, &p[0], &p[1], Some(&p[2]), LstmActivation::Relu, true)?;
            let h = drop_out(&h, 0.2, o, s)?;
            let h = lstm(&h, &p[3], &p[4], Some(&p[5]), LstmActivation::Relu, false)?;
            let h = drop_out(&h, 0.2, o, s + 1)?;
            let h = drop_out(&dense(&h, &p[6..8], true, o)?, 0.2, o, s + 2)?;
            loss(&dense(&h, &p[8..10], false, o)?, y, o)
        },
        r,
    )?;
    m(
        "000 mnist_cnn (NHWC)",
        128,
        81.0,
        vec![28, 28, 1],
        &[
            &[32, 1, 3, 3],
            &[32],
            &[64, 32, 3, 3],
            &[64],
            &[9216, 128],
            &[128],
            &[128, 10],
            &[10],
        ],
        |p, x, y, o, s| {
            let h = conv(x, &p[0..2], &cl(true), o)?;
            let h = conv_pool(&h, &p[2..4], &cl(true), o)?;
            let h = drop_out(&h, 0.25, o, s)?.flatten_from(1)?;
            let h = drop_out(&dense(&h, &p[4..6], true, o)?, 0.5, o, s + 1)?;
            loss(&dense(&h, &p[6..8], false, o)?, y, o)
        },
        r,
    )?;
    Ok(out)
}

fn bench_models(rounds: usize) -> Result<()> {
    println!("\n## whole tutorial models: one training step (forward, loss, backward; no optimizer, no data loading)");
    println!("s/epoch = ms/step x 60000/batch; Keras = Keras 3 on TensorFlow CPU, full fit() epoch, on the tutorials' reference machine (not this one)");
    println!(
        "{:<24} {:>5} {:>10} {:>10} {:>8} {:>12} {:>12} {:>9} {:>10} {:>10}",
        "model",
        "batch",
        "candle ms",
        "dlkit ms",
        "speedup",
        "candle s/ep",
        "dlkit s/ep",
        "Keras s/ep",
        "candle cpu",
        "dlkit cpu"
    );
    let mut rng = Rng::new(12);
    for model in models()? {
        let mut shape = vec![model.batch];
        shape.extend(&model.input);
        let x = randn(&shape, &mut rng, 1.0)?;
        let labels: Vec<u32> = (0..model.batch).map(|_| rng.below(10) as u32).collect();
        let y = Tensor::new(labels.as_slice(), &Device::Cpu)?;
        let p: Vec<Tensor> = model.params.iter().map(|v| v.as_tensor().clone()).collect();
        let mut seed = 0u64;
        let mut run = |ours: bool| -> Result<()> {
            seed += 3;
            let l = (model.step)(&p, &x, &y, ours, seed)?;
            std::hint::black_box(l.backward()?);
            Ok(())
        };
        let (tc, to) = {
            // Both closures need `run`; alternate through one closure with a flag.
            let cell = std::cell::RefCell::new(&mut run);
            race(
                rounds,
                || (cell.borrow_mut())(false),
                || (cell.borrow_mut())(true),
            )?
        };
        let per_epoch = 60000.0 / model.batch as f64 / 1e3;
        println!(
            "{:<24} {:>5} {:>10.1} {:>10.1} {:>7.1}x {:>12.1} {:>12.1} {:>9.1} {:>10.1} {:>10.1}",
            model.name,
            model.batch,
            tc.wall,
            to.wall,
            tc.wall / to.wall,
            tc.wall * per_epoch,
            to.wall * per_epoch,
            model.keras,
            tc.cpu,
            to.cpu
        );
    }
    Ok(())
}

/// `ops_bench profile NAME [steps]`: only dlkit's training steps of one model, for a profiler.
fn profile(name: &str, steps: usize) -> Result<()> {
    let mut rng = Rng::new(12);
    for model in models()?.into_iter().filter(|m| m.name.contains(name)) {
        let mut shape = vec![model.batch];
        shape.extend(&model.input);
        let x = randn(&shape, &mut rng, 1.0)?;
        let labels: Vec<u32> = (0..model.batch).map(|_| rng.below(10) as u32).collect();
        let y = Tensor::new(labels.as_slice(), &Device::Cpu)?;
        let p: Vec<Tensor> = model.params.iter().map(|v| v.as_tensor().clone()).collect();
        let (t, c) = (Instant::now(), cpu_ms());
        for s in 0..steps {
            std::hint::black_box((model.step)(&p, &x, &y, true, s as u64)?.backward()?);
        }
        println!(
            "{}: {:.2} ms/step wall, {:.2} ms/step CPU",
            model.name,
            t.elapsed().as_secs_f64() * 1e3 / steps as f64,
            (cpu_ms() - c) / steps as f64
        );
    }
    Ok(())
}

/// Same against Valid padding on the branch layers of notebook 002's functional model (a
/// 16x24x24 stem output into 15 3x3 and 15 5x5 Same convolutions), per pass: the forward
/// pass alone, then forward + kernel gradient, then forward + kernel + input gradient; each
/// pass's time is the difference of two medians. Valid and Same run alternately.
fn bench_padding(rounds: usize, peak: f64) -> Result<()> {
    println!("\n## conv2d Same vs Valid per pass (GFLOP/s: 2·MACs of the pass / its ms; Same counts its padded positions)");
    println!(
        "{:<34} {:>5} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "layer", "batch", "pad", "fwd ms", "dW ms", "dX ms", "fwd GF", "dW GF", "dX GF", "% peak"
    );
    let mut rng = Rng::new(3);
    for (layout, n, ks) in [
        (DataLayout::ChannelsFirst, 200, 3),
        (DataLayout::ChannelsFirst, 200, 5),
        (DataLayout::ChannelsLast, 200, 3),
        (DataLayout::ChannelsLast, 200, 5),
    ] {
        let (c, hw, k) = (16, 24, 15);
        let shape = image_shape(layout, n, c, hw);
        let x = randn(&shape, &mut rng, 1.0)?;
        let xv = Var::from_tensor(&x)?.as_tensor().clone();
        let w = Var::from_tensor(&randn(&[k, c, ks, ks], &mut rng, 0.1)?)?;
        let b = Var::from_tensor(&randn(&[k], &mut rng, 0.1)?)?;
        let params = |padding| Conv2dParams {
            layout,
            padding,
            activation: FusedActivation::Relu,
            ..Default::default()
        };
        let (valid, same) = (params(Padding::Valid), params(Padding::Same));
        let run = |x: &Tensor, p: &Conv2dParams, bwd: bool| -> Result<()> {
            let f = || ops::conv2d(x, w.as_tensor(), Some(b.as_tensor()), p);
            if bwd {
                fwd_bwd(&f)
            } else {
                f().map(drop)
            }
        };
        let (vf, sf) = race(rounds, || run(&x, &valid, false), || run(&x, &same, false))?;
        let (vw, sw) = race(rounds, || run(&x, &valid, true), || run(&x, &same, true))?;
        let (vx, sx) = race(rounds, || run(&xv, &valid, true), || run(&xv, &same, true))?;
        let tag = if layout == DataLayout::ChannelsLast {
            " (NHWC)"
        } else {
            ""
        };
        let name = format!("002 branch {c}x{hw}x{hw} -> {k} {ks}x{ks}{tag}");
        for (pad, oh, f, w_, x_) in [("valid", hw - ks + 1, vf, vw, vx), ("same", hw, sf, sw, sx)] {
            let flops = 2.0 * (n * k * oh * oh * c * ks * ks) as f64;
            let (tf, tw, tx) = (f.wall, w_.wall - f.wall, x_.wall - w_.wall);
            let gf = |ms: f64| flops / ms / 1e6;
            println!(
                "{:<34} {:>5} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>6.0}%",
                name,
                n,
                pad,
                tf,
                tw,
                tx,
                gf(tf),
                gf(tw),
                gf(tx),
                100.0 * 3.0 * flops / x_.wall / 1e6 / peak
            );
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let filter = std::env::args().nth(1).unwrap_or_default();
    if filter == "profile" {
        ops::tune_allocator();
        let name = std::env::args().nth(2).unwrap_or_default();
        let steps = std::env::args()
            .nth(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(30);
        return profile(&name, steps);
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let (mhz, how) = measured_mhz();
    let threads = rayon::current_num_threads();
    let avx2 = cfg!(target_arch = "x86_64")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma");
    // f32 FMA peak: threads × GHz × 2 FMA pipes × 8 lanes (AVX2; 4 with SSE) × 2 flops per FMA.
    let peak = threads as f64 * mhz / 1e3 * 2.0 * if avx2 { 8.0 } else { 4.0 } * 2.0;
    // Both candle and dlkit run in this process, so the allocator setting applies to both.
    let tuned = std::env::var_os("DLKIT_NO_TUNE_ALLOCATOR").is_none() && ops::tune_allocator();
    println!("# dlkit ops benchmark");
    println!("allocator tuned with dlkit::ops::tune_allocator(): {tuned} (set DLKIT_NO_TUNE_ALLOCATOR=1 to keep glibc's defaults)");
    println!(
        "threads {threads}; clock {mhz:.0} MHz ({how}; /proc/cpuinfo says {:.0}); AVX2+FMA {avx2}: f32 peak {peak:.1} GFLOP/s",
        cpu_mhz()
    );
    println!("{rounds} rounds, candle and dlkit alternately; medians of wall-clock ms per batch, and of process CPU ms (all threads)");
    if filter.is_empty() || "models".contains(&filter) {
        bench_models(rounds)?;
    }
    if filter.is_empty() || "conv".contains(&filter) {
        bench_conv(rounds, peak)?;
    }
    if filter.is_empty() || "winograd".contains(&filter) {
        bench_winograd(rounds)?;
    }
    if filter.is_empty() || "padding".contains(&filter) {
        bench_padding(rounds, peak)?;
    }
    if filter.is_empty() || "pool".contains(&filter) {
        bench_pool(rounds)?;
    }
    if filter.is_empty() || "fused".contains(&filter) {
        bench_conv_pool(rounds, peak)?;
    }
    if filter.is_empty() || "dropout".contains(&filter) {
        bench_dropout(rounds)?;
    }
    if filter.is_empty() || "dense".contains(&filter) {
        bench_dense(rounds, peak)?;
    }
    if filter.is_empty() || "lstm".contains(&filter) {
        bench_lstm(rounds)?;
    }
    if filter.is_empty() || "loss".contains(&filter) {
        bench_loss(rounds)?;
    }
    Ok(())
}
