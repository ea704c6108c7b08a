//! The models of the five Keras MNIST tutorials, as dlkit code.
//!
//! The notebooks build these layer by layer for the reader; this module has
//! the same ten models in one place for tests and the benchmark, each with
//! the tutorial's optimizer, loss, batch size and epochs. Nine are
//! `Sequential` stacks; notebook 002's branching CNN is built with the
//! functional API ([`Input`], [`Apply`], [`Model::new`]). Either way
//! [`Recipe::build`] gives a [`Model`].

use crate::error::Result;
use crate::layers::Activation::{Relu, Softmax};
use crate::layers::{
    Concatenate, Conv2D, Dense, Dropout, Flatten, Initializer, MaxPooling2D, Padding, LSTM,
};
use crate::model::{Apply, Input, Model, Sequential, SymbolicTensor};
use crate::optim::{Adadelta, Adam, Optimizer};
use crate::train::{Loss, Metric};

/// How a tutorial prepares MNIST for its model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputPrep {
    /// `(N, 784)`, divided by 255.
    Flat,
    /// `(N, 1, 28, 28)`, divided by 255.
    ChannelsFirst,
    /// `(N, 28, 28, 1)`, divided by 255.
    ChannelsLast,
    /// `(N, 28, 28)` with `normalize(axis = 1)`.
    NormalizedRows,
    /// `(N, 28, 28, 1)` with `normalize(axis = 1)`.
    NormalizedRowsChannelsLast,
}

/// One tutorial model with its training settings.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Short identifier, e.g. `"002-simple-cnn"`.
    pub id: &'static str,
    /// The tutorial file it comes from (`000` .. `004`).
    pub tutorial: &'static str,
    pub title: &'static str,
    pub input: InputPrep,
    /// One-hot targets (categorical) or integer labels (sparse).
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub batch_size: usize,
    pub epochs: usize,
    /// Test accuracy the tutorial reports, when it reports one.
    pub published_accuracy: Option<f64>,
    build: Builder,
}

/// How a recipe makes its layers.
#[derive(Clone, Copy)]
enum Builder {
    /// Layer by layer onto a `Sequential`.
    Sequential(fn(&mut Sequential) -> Result<()>),
    /// With the functional API: the graph's input and output.
    Functional(fn() -> Result<(SymbolicTensor, SymbolicTensor)>),
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Builder::Sequential(_) => "Sequential",
            Builder::Functional(_) => "Functional",
        })
    }
}

impl Recipe {
    /// The model, built with `seed` and compiled with the tutorial's settings.
    /// A `Sequential` recipe gives its `Sequential` as the [`Model`] it wraps
    /// ([`Sequential::into_model`]), so every recipe has the same type.
    pub fn build(&self, seed: u64) -> Result<Model> {
        let mut model = match self.build {
            Builder::Sequential(layers) => {
                let mut model = Sequential::with_seed(seed);
                layers(&mut model)?;
                model.into_model()
            }
            Builder::Functional(graph) => {
                let (inputs, outputs) = graph()?;
                Model::new(&inputs, &outputs)?.with_seed(seed)
            }
        };
        model.set_name(self.id);
        model.compile(
            self.loss.clone(),
            self.optimizer.clone(),
            &[Metric::Accuracy],
        )?;
        Ok(model)
    }
}

/// Every tutorial model, in tutorial order.
pub fn recipes() -> Vec<Recipe> {
    let adam = || Optimizer::from(Adam::default());
    vec![
        Recipe {
            id: "000-mnist-cnn",
            tutorial: "000",
            title: "Keras' classic mnist_cnn (completes the truncated tutorial)",
            input: InputPrep::ChannelsLast,
            loss: Loss::CategoricalCrossentropy,
            optimizer: Adadelta::classic().into(),
            batch_size: 128,
            epochs: 12,
            published_accuracy: Some(0.9925),
            build: Builder::Sequential(mnist_cnn),
        },
        Recipe {
            id: "001-cnn",
            tutorial: "001",
            title: "Two-conv CNN, batch 32",
            input: InputPrep::ChannelsFirst,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 32,
            epochs: 10,
            published_accuracy: Some(0.99),
            build: Builder::Sequential(elite_cnn),
        },
        Recipe {
            id: "002-mlp",
            tutorial: "002",
            title: "Baseline MLP 784-784-10",
            input: InputPrep::Flat,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 200,
            epochs: 10,
            published_accuracy: Some(1.0 - 0.0174),
            build: Builder::Sequential(baseline_mlp),
        },
        Recipe {
            id: "002-simple-cnn",
            tutorial: "002",
            title: "Simple CNN, one 5×5 conv",
            input: InputPrep::ChannelsFirst,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 200,
            epochs: 10,
            published_accuracy: Some(1.0 - 0.0110),
            build: Builder::Sequential(simple_cnn),
        },
        Recipe {
            id: "002-larger-cnn",
            tutorial: "002",
            title: "Larger CNN, 5×5 and 3×3 convs",
            input: InputPrep::ChannelsFirst,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 200,
            epochs: 10,
            published_accuracy: Some(1.0 - 0.0089),
            build: Builder::Sequential(larger_cnn),
        },
        Recipe {
            id: "002-branching-cnn",
            tutorial: "002",
            title: "Branching CNN, 3×3 and 5×5 Same branches",
            input: InputPrep::ChannelsFirst,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 200,
            epochs: 10,
            published_accuracy: None, // the tutorial trains no such model (the notebook compares it with 0.89 % error)
            build: Builder::Functional(branching_cnn),
        },
        Recipe {
            id: "003-cnn",
            tutorial: "003",
            title: "Codealong CNN after Chollet",
            input: InputPrep::ChannelsFirst,
            loss: Loss::CategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 200,
            epochs: 8,
            published_accuracy: Some(0.9916),
            build: Builder::Sequential(codealong_cnn),
        },
        Recipe {
            id: "004-dnn",
            tutorial: "004",
            title: "DNN 128-128-10 on normalized rows",
            input: InputPrep::NormalizedRows,
            loss: Loss::SparseCategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 32,
            epochs: 5,
            published_accuracy: None,
            build: Builder::Sequential(intro_dnn),
        },
        Recipe {
            id: "004-lstm",
            tutorial: "004",
            title: "Two LSTM(128, relu) layers",
            input: InputPrep::NormalizedRows,
            loss: Loss::SparseCategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 32,
            epochs: 5,
            published_accuracy: None,
            build: Builder::Sequential(intro_lstm),
        },
        Recipe {
            id: "004-cnn",
            tutorial: "004",
            title: "CNN with a linear 3×3 conv",
            input: InputPrep::NormalizedRowsChannelsLast,
            loss: Loss::SparseCategoricalCrossentropy,
            optimizer: adam(),
            batch_size: 32,
            epochs: 5,
            published_accuracy: None,
            build: Builder::Sequential(intro_cnn),
        },
    ]
}

/// A recipe by id (see [`recipes`]).
pub fn recipe(id: &str) -> Result<Recipe> {
    recipes().into_iter().find(|r| r.id == id).ok_or_else(|| {
        let ids: Vec<&str> = recipes().iter().map(|r| r.id).collect();
        crate::Error::InvalidArgument(format!(
            "no tutorial model {id:?}; there are: {}",
            ids.join(", ")
        ))
    })
}

fn mnist_cnn(m: &mut Sequential) -> Result<()> {
    m.add(
        Conv2D::new(32, (3, 3))
            .activation(Relu)
            .input_shape((28, 28, 1)),
    )?;
    m.add(Conv2D::new(64, (3, 3)).activation(Relu))?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Dropout::new(0.25))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dropout::new(0.5))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

fn elite_cnn(m: &mut Sequential) -> Result<()> {
    m.add(
        Conv2D::new(32, (3, 3))
            .activation(Relu)
            .input_shape((1, 28, 28)),
    )?;
    m.add(Conv2D::new(32, (3, 3)).activation(Relu))?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Dropout::new(0.25))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dropout::new(0.5))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

fn baseline_mlp(m: &mut Sequential) -> Result<()> {
    let normal = Initializer::normal();
    m.add(Dense::new(784).input_dim(784).init(normal).activation(Relu))?;
    m.add(Dense::new(10).init(normal).activation(Softmax))?;
    Ok(())
}

fn simple_cnn(m: &mut Sequential) -> Result<()> {
    m.add(
        Conv2D::new(32, (5, 5))
            .input_shape((1, 28, 28))
            .activation(Relu),
    )?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Dropout::new(0.2))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

fn larger_cnn(m: &mut Sequential) -> Result<()> {
    m.add(
        Conv2D::new(30, (5, 5))
            .input_shape((1, 28, 28))
            .activation(Relu),
    )?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Conv2D::new(15, (3, 3)).activation(Relu))?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Dropout::new(0.2))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dense::new(50).activation(Relu))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

/// Notebook 002's functional model: a 5×5 stem, then a 3×3 and a 5×5 branch
/// (Same padding keeps both 24×24) stacked on the channel axis (axis 1 in
/// Keras' count for channels-first data, the batch axis being 0), then the larger CNN's remaining layers.
fn branching_cnn() -> Result<(SymbolicTensor, SymbolicTensor)> {
    let inputs = Input::new((1, 28, 28));
    let stem = Conv2D::new(16, (5, 5)).activation(Relu).apply(&inputs)?;
    let small = Conv2D::new(15, (3, 3))
        .padding(Padding::Same)
        .activation(Relu)
        .apply(&stem)?;
    let wide = Conv2D::new(15, (5, 5))
        .padding(Padding::Same)
        .activation(Relu)
        .apply(&stem)?;
    let joined = Concatenate::new().axis(1).apply_many(&[&small, &wide])?;
    let x = MaxPooling2D::new((2, 2)).apply(&joined)?;
    let x = Conv2D::new(15, (3, 3)).activation(Relu).apply(&x)?;
    let x = MaxPooling2D::new((2, 2)).apply(&x)?;
    let x = Dropout::new(0.2).apply(&x)?;
    let x = Flatten::new().apply(&x)?;
    let x = Dense::new(128).activation(Relu).apply(&x)?;
    let x = Dense::new(50).activation(Relu).apply(&x)?;
    let outputs = Dense::new(10).activation(Softmax).apply(&x)?;
    Ok((inputs, outputs))
}

fn codealong_cnn(m: &mut Sequential) -> Result<()> {
    m.add(
        Conv2D::new(16, (5, 5))
            .input_shape((1, 28, 28))
            .activation(Relu),
    )?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Conv2D::new(16, (5, 5)).activation(Relu))?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Dropout::new(0.2))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dropout::new(0.2))?;
    m.add(Dense::new(10))?;
    m.add(Softmax)?;
    Ok(())
}

fn intro_dnn(m: &mut Sequential) -> Result<()> {
    m.add(Flatten::new().input_shape((28, 28)))?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dense::new(128).activation(Relu))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

fn intro_lstm(m: &mut Sequential) -> Result<()> {
    m.add(
        LSTM::new(128)
            .input_shape((28, 28))
            .activation(Relu)
            .return_sequences(true),
    )?;
    m.add(Dropout::new(0.2))?;
    m.add(LSTM::new(128).activation(Relu))?;
    m.add(Dropout::new(0.2))?;
    m.add(Dense::new(32).activation(Relu))?;
    m.add(Dropout::new(0.2))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}

fn intro_cnn(m: &mut Sequential) -> Result<()> {
    m.add(Conv2D::new(32, (3, 3)).input_shape((28, 28, 1)))?;
    m.add(MaxPooling2D::new((2, 2)))?;
    m.add(Flatten::new())?;
    m.add(Dense::new(100).activation(Relu))?;
    m.add(Dense::new(10).activation(Softmax))?;
    Ok(())
}
