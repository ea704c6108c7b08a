//! Training-speed benchmark of the tutorial models on real MNIST.
//!
//! ```text
//! cargo run --release -p dlkit --example benchmark -- --model 002-simple-cnn --epochs 2
//! cargo run --release -p dlkit --example benchmark -- --list
//! ```
//!
//! Trains one model from `dlkit::zoo` with its tutorial's batch size and
//! optimizer, prints a line per epoch, then one JSON line (the last line of
//! standard output) with seconds per epoch, samples per second, test
//! accuracy, the time of a second `evaluate` on the test set and the conv
//! layers' achieved GFLOP/s, and the epoch's floating-point work (GFLOP), so
//! `benchmarks/run.py` can say what speed each side reaches and what a
//! target would need. `run.py` alternates it with the Keras and PyTorch
//! references and tabulates all three. `--flops` prints only the work of
//! one sample, without data or training.

use dlkit::datasets::mnist;
use dlkit::layers::Layer;
use dlkit::ops::{self, Conv2dParams, FusedActivation};
use dlkit::prelude::*;
use dlkit::preprocessing::{normalize, to_categorical};
use dlkit::train::EpochPhases;
use dlkit::zoo::{self, InputPrep, Recipe};
use std::time::Instant;

/// The batch of `Model::evaluate` (dlkit's inference batch), reported with its timing.
const EVALUATE_BATCH: usize = 256;

struct Args {
    model: String,
    epochs: usize,
    seed: u64,
    train_samples: Option<usize>,
    flops_only: bool,
}

fn parse_args() -> Result<Option<Args>> {
    let mut args = Args {
        model: String::new(),
        epochs: 1,
        seed: 1,
        train_samples: None,
        flops_only: false,
    };
    let mut it = std::env::args().skip(1);
    let bad = |m: String| Error::InvalidArgument(m);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| bad(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--model" => args.model = value()?,
            "--epochs" => {
                args.epochs = value()?
                    .parse()
                    .map_err(|e| bad(format!("--epochs: {e}")))?
            }
            "--seed" => args.seed = value()?.parse().map_err(|e| bad(format!("--seed: {e}")))?,
            "--train-samples" => {
                args.train_samples = Some(
                    value()?
                        .parse()
                        .map_err(|e| bad(format!("--train-samples: {e}")))?,
                )
            }
            "--flops" => args.flops_only = true,
            "--list" => {
                for r in zoo::recipes() {
                    println!(
                        "{:17} batch {:3}, {:2} epochs  {}",
                        r.id, r.batch_size, r.epochs, r.title
                    );
                }
                return Ok(None);
            }
            other => return Err(bad(format!("unknown argument {other}; try --list"))),
        }
    }
    if args.model.is_empty() {
        return Err(bad("give --model <id> (see --list)".into()));
    }
    Ok(Some(args))
}

/// The tutorial's preprocessing of raw `(N, 28, 28)` u8 images.
fn prepare_x(x: &Tensor, prep: InputPrep) -> Result<Tensor> {
    let n = x.dim(0)?;
    let scaled = || -> Result<Tensor> { Ok((x.to_dtype(DType::F32)? / 255.0)?) };
    Ok(match prep {
        InputPrep::Flat => scaled()?.reshape((n, 784))?,
        InputPrep::ChannelsFirst => scaled()?.reshape((n, 1, 28, 28))?,
        InputPrep::ChannelsLast => scaled()?.reshape((n, 28, 28, 1))?,
        InputPrep::NormalizedRows => normalize(x, 1)?,
        InputPrep::NormalizedRowsChannelsLast => normalize(&x.reshape((n, 28, 28, 1))?, 1)?,
    })
}

fn prepare_y(y: &Tensor, loss: &Loss) -> Result<Tensor> {
    Ok(match loss {
        Loss::CategoricalCrossentropy => to_categorical(y, 10)?,
        Loss::SparseCategoricalCrossentropy => y.clone(),
        Loss::MeanSquaredError | Loss::Custom(_) => {
            return Err(dlkit::Error::InvalidArgument(format!(
                "the tutorial models are classifiers with a cross-entropy; none uses {}",
                loss.keras_name()
            )))
        }
    })
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Multiply-adds of one sample's forward pass through each weighted layer
/// (Dense, Conv2D, LSTM), with the layer's index. The other layers (pooling,
/// activations, dropout) move data but do a few percent of the arithmetic.
fn forward_macs(model: &Model) -> Result<Vec<(usize, f64)>> {
    let mut out = Vec::new();
    for (i, layer) in model.layers().iter().enumerate() {
        let input = model.layer_input_shapes(layer.name())?[0].to_vec();
        let output = layer.output_shape().to_vec();
        let numel = |dims: &[usize]| dims.iter().product::<usize>() as f64;
        let macs = match layer.config() {
            // A Dense layer maps its input's last axis: every input value meets every unit.
            Layer::Dense(dense) => numel(&input) * dense.units as f64,
            Layer::Conv2D(conv) => {
                let format = conv
                    .data_format
                    .expect("built models have resolved formats");
                let (c, _, _) = format.chw(&input).expect("conv input is an image");
                let (kh, kw) = conv.kernel_size;
                numel(&output) * (c * kh * kw) as f64
            }
            // Four gates per step, each reading the step's input and the last state.
            Layer::LSTM(lstm) => {
                let (steps, features) = (input[0], input[1]);
                (steps * 4 * lstm.units * (features + lstm.units)) as f64
            }
            _ => continue,
        };
        out.push((i, macs));
    }
    Ok(out)
}

/// Floating-point operations (2 per multiply-add) of one training sample and
/// of one inference sample. Training is the forward pass, the weight gradients
/// (as much work again) and the input gradients (again), except for the first
/// layer: in every recipe only it reads the model's input, which needs no gradient.
fn flops_per_sample(model: &Model) -> Result<(f64, f64)> {
    let macs = forward_macs(model)?;
    let forward: f64 = macs.iter().map(|(_, m)| 2.0 * m).sum();
    let train: f64 = macs
        .iter()
        .map(|&(i, m)| 2.0 * m * if i == 0 { 2.0 } else { 3.0 })
        .sum();
    Ok((train, forward))
}

/// Mean seconds per epoch in each phase of `fit`, leaving out the first epoch
/// (warm-up) when there are more, as the median epoch time does.
fn phase_means(epochs: &[EpochPhases]) -> serde_json::Value {
    let timed = if epochs.len() > 1 {
        &epochs[1..]
    } else {
        epochs
    };
    let n = timed.len().max(1) as f64;
    let mean = |phase: fn(&EpochPhases) -> f64| timed.iter().map(phase).sum::<f64>() / n;
    serde_json::json!({
        "batches": mean(|p| p.batches),
        "forward": mean(|p| p.forward),
        "backward": mean(|p| p.backward),
        "optimizer": mean(|p| p.optimizer),
        "metrics": mean(|p| p.metrics),
        "validation": mean(|p| p.validation),
    })
}

/// Achieved GFLOP/s of every Conv2D layer of the model, forward and backward
/// at the training batch size, timed in isolation on random data.
fn conv_gflops(model: &Model, batch: usize) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for (i, layer) in model.layers().iter().enumerate() {
        if let Layer::Conv2D(conv) = layer.config() {
            // A layer's input, not the previous layer's output: in a branching
            // model the two differ.
            let input_shape = model.layer_input_shapes(layer.name())?[0].to_vec();
            let format = conv
                .data_format
                .expect("built models have resolved formats");
            let (c, h, w) = format.chw(&input_shape).expect("conv input is an image");
            let out_shape = layer.output_shape();
            let (k, oh, ow) = format.chw(&out_shape).expect("conv output is an image");
            let (kh, kw) = conv.kernel_size;
            let mut dims = vec![batch];
            dims.extend_from_slice(&input_shape);
            let x = Tensor::randn(0f32, 1.0, dims, &Device::Cpu)?;
            // Layers after the first need their input gradient too (in every
            // recipe only the first layer reads the model's input).
            let x = if i == 0 {
                x
            } else {
                Var::from_tensor(&x)?.as_tensor().clone()
            };
            let kernel =
                Var::from_tensor(&Tensor::randn(0f32, 0.1, (k, c, kh, kw), &Device::Cpu)?)?;
            let bias = Var::from_tensor(&Tensor::zeros(k, DType::F32, &Device::Cpu)?)?;
            let params = Conv2dParams {
                stride: conv.strides,
                padding: conv.padding,
                layout: format,
                activation: FusedActivation::Relu,
                ..Default::default()
            };
            let macs = (batch * oh * ow * k * c * kh * kw) as f64;
            let passes = if i == 0 { 2.0 } else { 3.0 };
            let run = || -> Result<()> {
                let y = ops::conv2d(&x, kernel.as_tensor(), Some(bias.as_tensor()), &params)?;
                y.sum_all()?.backward()?;
                Ok(())
            };
            run()?;
            let reps = 5;
            let start = Instant::now();
            for _ in 0..reps {
                run()?;
            }
            let secs = start.elapsed().as_secs_f64() / reps as f64;
            let gflops = 2.0 * macs * passes / secs / 1e9;
            eprintln!(
                "{}: {}x{}x{} -> {}x{}x{}, {kh}x{kw}, batch {batch}: {:.2} ms fwd+bwd, {:.1} GFLOP/s",
                layer.name(), c, h, w, k, oh, ow, secs * 1e3, gflops
            );
            out.push((layer.name().to_string(), gflops));
        }
    }
    Ok(out)
}

/// The tutorials that validate on the test set every epoch, and so pay for it in
/// their epoch time (and work) too.
fn validates_every_epoch(recipe: &Recipe) -> bool {
    matches!(recipe.tutorial, "002" | "003")
}

fn run(args: &Args, recipe: &Recipe) -> Result<()> {
    let ((x_train, y_train), (x_test, y_test)) = mnist::load_data()?;
    let (x_train, y_train) = match args.train_samples {
        Some(n) => (x_train.narrow(0, 0, n)?, y_train.narrow(0, 0, n)?),
        None => (x_train, y_train),
    };
    let x_train = prepare_x(&x_train, recipe.input)?;
    let x_test = prepare_x(&x_test, recipe.input)?;
    let y_train = prepare_y(&y_train, &recipe.loss)?;
    let y_test = prepare_y(&y_test, &recipe.loss)?;

    let mut model = recipe.build(args.seed)?;
    let (train_flops, forward_flops) = flops_per_sample(&model)?;
    let mut options = FitOptions::new()
        .epochs(args.epochs)
        .batch_size(recipe.batch_size)
        .verbose(2);
    let validates = validates_every_epoch(recipe);
    if validates {
        options = options.validation_data(&x_test, &y_test);
    }
    let history = model.fit(&x_train, &y_train, options)?;
    let accuracy = model
        .evaluate(&x_test, &y_test)?
        .accuracy()
        .unwrap_or(f64::NAN);
    // Inference throughput on a second pass, as the Keras and PyTorch references
    // time theirs (Keras' first call also traces its test step).
    let started = Instant::now();
    model.evaluate(&x_test, &y_test)?;
    let evaluate_seconds = started.elapsed().as_secs_f64();
    let convs = conv_gflops(&model, recipe.batch_size)?;

    let n = x_train.dim(0)?;
    let per_epoch = median(&history.epoch_seconds);
    let validation_flops = if validates {
        x_test.dim(0)? as f64 * forward_flops
    } else {
        0.0
    };
    let epoch_gflop = (n as f64 * train_flops + validation_flops) / 1e9;
    let json = serde_json::json!({
        "impl": "dlkit",
        "model": recipe.id,
        "epochs": args.epochs,
        "batch_size": recipe.batch_size,
        "train_samples": n,
        "seconds_per_epoch": history.epoch_seconds,
        "samples_per_second": n as f64 / per_epoch,
        "test_accuracy": accuracy,
        "test_samples": x_test.dim(0)?,
        "evaluate_seconds": evaluate_seconds,
        "evaluate_batch_size": EVALUATE_BATCH,
        "epoch_gflop": epoch_gflop,
        "phase_seconds": phase_means(&history.phase_seconds),
        "evaluate_gflop": x_test.dim(0)? as f64 * forward_flops / 1e9,
        "conv_gflops": convs.iter().map(|(name, g)| serde_json::json!({"layer": name, "gflops": g})).collect::<Vec<_>>(),
        "threads": rayon::current_num_threads(),
        "candle_pool_workers": ops::keep_candle_elementwise_inline(),
    });
    println!("{json}");
    Ok(())
}

/// `--flops`: the work of one sample, as one JSON line.
fn print_flops(args: &Args, recipe: &Recipe) -> Result<()> {
    let (train, forward) = flops_per_sample(&recipe.build(args.seed)?)?;
    let json = serde_json::json!({
        "model": recipe.id,
        "train_flop_per_sample": train,
        "forward_flop_per_sample": forward,
        "validates_every_epoch": validates_every_epoch(recipe),
    });
    println!("{json}");
    Ok(())
}

fn main() {
    // As the notebooks' library does when it is loaded: candle's elementwise ops on the
    // calling thread, so that its pool does not compete with rayon's (dlkit::ops).
    ops::keep_candle_elementwise_inline();
    let outcome = parse_args().and_then(|args| match args {
        Some(args) if args.flops_only => {
            zoo::recipe(&args.model).and_then(|recipe| print_flops(&args, &recipe))
        }
        Some(args) => zoo::recipe(&args.model).and_then(|recipe| run(&args, &recipe)),
        None => Ok(()),
    });
    if let Err(e) = outcome {
        eprintln!("benchmark: {e}");
        std::process::exit(1);
    }
}
