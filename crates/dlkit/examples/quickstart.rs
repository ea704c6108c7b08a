//! The README's first example as a program: MNIST, a small CNN, `fit`, `evaluate`, a plot.
//!
//!     cargo run --release -p dlkit --example quickstart            # 3 epochs, about a minute
//!     cargo run --release -p dlkit --example quickstart -- 1       # epochs from the command line
//!
//! MNIST comes from `$DLKIT_DATASETS/mnist/` or is downloaded into the user cache. The
//! training curves are written to `quickstart-history.png`.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;

fn main() -> dlkit::Result<()> {
    let epochs = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            dlkit::Error::InvalidArgument(format!("epochs must be a whole number, not {arg:?}"))
        })?,
        None => 3,
    };

    let ((x_train, y_train), (x_test, y_test)) = mnist::load_data()?;
    let x_train = x_train.channels_first()?.scaled(1.0 / 255.0)?;
    let x_test = x_test.channels_first()?.scaled(1.0 / 255.0)?;

    let mut model = Sequential::new();
    model.add(
        Conv2D::new(32, (3, 3))
            .input_shape((1, 28, 28))
            .activation(Relu),
    )?;
    model.add(MaxPooling2D::new((2, 2)))?;
    model.add(Flatten::new())?;
    model.add(Dense::new(10).activation(Softmax))?;
    model.compile(
        Loss::SparseCategoricalCrossentropy,
        Adam::default(),
        &[Metric::Accuracy],
    )?;

    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(128)
        .validation_split(0.1);
    let history = model.fit(&x_train, &y_train, options)?;
    println!("{}", model.evaluate(&x_test, &y_test)?);
    plot::history(&history)?.save("quickstart-history.png")?;
    println!("training curves: quickstart-history.png");
    Ok(())
}
