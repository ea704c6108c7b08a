//! The plots rendered from real MNIST digits and a made-up training history:
//! each must produce a PNG of the announced size that decodes, is not blank,
//! has text where its title is and puts the digit's ink where MNIST has it.
//!
//! Set `DLKIT_PLOTS_OUT=/some/dir` to also keep the PNGs there for looking at.

use std::io::Read;
use std::path::{Path, PathBuf};

use dlkit::plot::{self, Colormap};
use dlkit::train::History;
use dlkit::{Device, Tensor};

/// `n` images (as a (n, 28, 28) u8 tensor) and labels from an MNIST IDX pair.
fn mnist(split: &str, n: usize) -> (Tensor, Vec<u8>) {
    let dir = dlkit_tests::datasets_dir().join("mnist");
    let read = |name: &str| -> Vec<u8> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set DLKIT_DATASETS to the datasets folder)",
                path.display()
            )
        });
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    let images = read(&format!("{split}-images-idx3-ubyte.gz"));
    let labels = read(&format!("{split}-labels-idx1-ubyte.gz"));
    assert_eq!(&images[..4], &[0, 0, 8, 3], "IDX magic of the images");
    assert_eq!(&labels[..4], &[0, 0, 8, 1], "IDX magic of the labels");
    let pixels = images[16..16 + n * 784].to_vec();
    let x = Tensor::from_vec(pixels, (n, 28, 28), &Device::Cpu).unwrap();
    (x, labels[8..8 + n].to_vec())
}

fn history() -> History {
    // Brownlee's baseline MLP run (tutorial 002), 10 epochs.
    let mut h = History::from_metrics([
        (
            "loss",
            vec![
                0.2791, 0.1121, 0.0724, 0.0508, 0.0365, 0.0264, 0.0192, 0.0141, 0.0107, 0.0080,
            ],
        ),
        (
            "accuracy",
            vec![
                0.9203, 0.9680, 0.9790, 0.9856, 0.9897, 0.9929, 0.9953, 0.9968, 0.9979, 0.9986,
            ],
        ),
        (
            "val_loss",
            vec![
                0.1422, 0.0994, 0.0786, 0.0790, 0.0631, 0.0617, 0.0620, 0.0604, 0.0587, 0.0592,
            ],
        ),
        (
            "val_accuracy",
            vec![
                0.9583, 0.9697, 0.9748, 0.9762, 0.9795, 0.9805, 0.9804, 0.9812, 0.9815, 0.9826,
            ],
        ),
    ]);
    h.epoch_seconds = vec![11.0; 10];
    h
}

/// Saves `png` as `name` in a temporary directory (and `$DLKIT_PLOTS_OUT`), decodes it back.
fn save_and_decode(name: &str, save: impl Fn(&Path) -> dlkit::Result<()>) -> image::RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    save(&path).unwrap();
    if let Some(out) = std::env::var_os("DLKIT_PLOTS_OUT") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(&path, out.join(name)).unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the PNG is left in the folder: {leftovers:?}"
    );
    image::open(&path).unwrap().to_rgb8()
}

fn distinct_colours(img: &image::RgbImage) -> usize {
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

/// Number of dark (text-like) pixels in the rectangle `x0..x1, y0..y1`.
fn dark_pixels(img: &image::RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 110))
        .count()
}

#[test]
fn imshow_of_the_first_training_digit() {
    let (x, y) = mnist("train", 1);
    assert_eq!(y[0], 5);
    let digit = x.get(0).unwrap();
    let plot = plot::imshow(&digit).unwrap().title("X_train[0]: a 5");
    let img = save_and_decode("imshow_viridis.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), plot.size());
    assert_eq!(img.dimensions(), (460, 466));
    assert!(
        distinct_colours(&img) > 40,
        "many viridis shades and antialiased text"
    );
    // The title band holds text.
    assert!(
        dark_pixels(&img, (0, 0, 460, 40)) > 60,
        "title text is drawn"
    );
    // Tick labels left of the image and under it.
    assert!(dark_pixels(&img, (0, 44, 40, 436)) > 40, "y tick labels");
    assert!(dark_pixels(&img, (44, 438, 436, 466)) > 40, "x tick labels");
    // MNIST's first digit: row 5 is blank at column 2, bright at column 21 (a 5's top bar).
    let cell = |col: u32, row: u32| img.get_pixel(44 + col * 14 + 7, 44 + row * 14 + 7).0;
    assert_eq!(cell(2, 5), [68, 1, 84], "background is viridis' low end");
    assert_eq!(cell(3, 24), [68, 1, 84]);
    let bright = cell(21, 6);
    assert!(
        bright[0] > 200 && bright[1] > 200 && bright[2] < 80,
        "ink is viridis yellow: {bright:?}"
    );
    // Row 0 is at the top: the digit's bottom stroke (row 24) has ink at column 6.
    assert_ne!(cell(6, 24), [68, 1, 84]);
    assert_eq!(cell(6, 3), [68, 1, 84]);
}

#[test]
fn imshow_greys_of_any_dtype_and_layout() {
    let (x, _) = mnist("t10k", 1);
    let as_f32 = (x.get(0).unwrap().to_dtype(dlkit::DType::F32).unwrap() / 255.0).unwrap();
    let channels_last = as_f32.reshape((28, 28, 1)).unwrap();
    let a = plot::imshow(&channels_last)
        .unwrap()
        .cmap(Colormap::Greys)
        .render()
        .unwrap();
    let b = plot::imshow(&x.get(0).unwrap().reshape((1, 28, 28)).unwrap())
        .unwrap()
        .cmap(Colormap::Greys)
        .render()
        .unwrap();
    assert_eq!(
        a, b,
        "f32/255 in (28, 28, 1) looks the same as u8 in (1, 28, 28)"
    );
    let img = save_and_decode("imshow_greys.png", |p| a.save(p));
    // White background, black ink: the corner cell is white, the test digit 7's bar is dark.
    assert_eq!(img.get_pixel(44 + 7, 16 + 7).0, [255, 255, 255]);
    let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 40)).count();
    assert!(
        dark > 14 * 14 * 40,
        "at least 40 nearly black ink cells, got {dark} dark pixels"
    );
}

#[test]
fn digit_grid_of_the_first_four_training_digits() {
    let (x, y) = mnist("train", 4);
    let plot = plot::digit_grid(&x, &y)
        .unwrap()
        .title("first four training digits");
    let (w, h) = plot.size();
    let img = save_and_decode("digit_grid.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), (w, h));
    assert_eq!(
        (w, h),
        (2 * 12 + 2 * 140 + 14, 12 + 36 + 12 + 2 * (22 + 140) + 14)
    );
    // Each tile: a label band above a 140-pixel gray digit with black background.
    for (i, label_x) in [(0usize, 12u32), (1, 12 + 154)]
        .into_iter()
        .chain([(2, 12), (3, 166)])
    {
        let top = 48 + (i as u32 / 2) * (162 + 14);
        assert!(
            dark_pixels(&img, (label_x + 50, top, label_x + 90, top + 22)) > 10,
            "label of digit {i}"
        );
        assert_eq!(
            img.get_pixel(label_x + 2, top + 22 + 2).0,
            [0, 0, 0],
            "digit {i} background"
        );
    }
    // Text in the title band.
    assert!(dark_pixels(&img, (0, 12, w, 48)) > 100);
    // Labels come from y: the grid should not render the same with other labels.
    let other = plot::digit_grid(&x, &[1, 2, 3, 4])
        .unwrap()
        .title("first four training digits");
    assert_ne!(other.render().unwrap(), plot.render().unwrap());
    let channels_first = x.reshape((4, 1, 28, 28)).unwrap();
    assert_eq!(
        plot::digit_grid(&channels_first, &y)
            .unwrap()
            .title("first four training digits")
            .render()
            .unwrap(),
        plot.render().unwrap()
    );
}

#[test]
fn digit_grid_of_sixteen_in_columns() {
    let (x, y) = mnist("t10k", 16);
    let plot = plot::digit_grid(&x, &y).unwrap().cols(8);
    let img = save_and_decode("digit_grid_16.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), plot.size());
    assert!(
        img.width() > 2 * img.height(),
        "8 × 2 grid is wide: {:?}",
        img.dimensions()
    );
}

#[test]
fn history_with_two_panels_and_legends() {
    let plot = plot::history(&history())
        .unwrap()
        .title("baseline MLP, 10 epochs");
    let img = save_and_decode("history.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), (960, 454));
    let blue = img.pixels().filter(|p| p.0 == [31, 119, 180]).count();
    let orange = img.pixels().filter(|p| p.0 == [255, 127, 14]).count();
    assert!(
        blue > 500 && orange > 500,
        "train {blue} and validation {orange} curves in both panels"
    );
    // Both halves have curves of both colours.
    for half in [0u32, 480] {
        let has =
            |c: [u8; 3]| (half..half + 480).any(|x| (0..454).any(|y| img.get_pixel(x, y).0 == c));
        assert!(
            has([31, 119, 180]) && has([255, 127, 14]),
            "panel at x = {half}"
        );
    }
    assert!(dark_pixels(&img, (200, 0, 760, 34)) > 100, "title");
    // The SVG form names both series and the axis.
    let svg = plot.to_svg().unwrap();
    for word in [
        "train",
        "validation",
        "epoch",
        "model loss",
        "model accuracy",
    ] {
        assert!(svg.contains(word), "SVG lacks {word}");
    }
}

#[test]
fn history_without_validation_has_one_colour() {
    let h = History::from_metrics([("loss", vec![0.5, 0.3, 0.2])]);
    let img = save_and_decode("history_loss_only.png", |p| {
        plot::history(&h).unwrap().save(p)
    });
    assert_eq!(img.width(), 480, "one panel");
    assert!(img.pixels().any(|p| p.0 == [31, 119, 180]));
    assert!(
        !img.pixels().any(|p| p.0 == [255, 127, 14]),
        "no validation curve"
    );
}

#[test]
fn filters_of_a_first_conv_layer() {
    // 32 filters 3×3 built from MNIST patches, so they have structure.
    let (x, _) = mnist("train", 32);
    let x = x.to_dtype(dlkit::DType::F32).unwrap();
    let kernel = x
        .narrow(1, 12, 3)
        .unwrap()
        .narrow(2, 12, 3)
        .unwrap()
        .reshape((32, 1, 3, 3))
        .unwrap();
    let plot = plot::filters(&kernel).unwrap();
    let img = save_and_decode("filters.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), plot.size());
    assert!(dark_pixels(&img, (0, 0, img.width(), 28)) > 100, "title");
    assert!(distinct_colours(&img) > 20);
    let diverging = plot::filters(&kernel.affine(1.0, -128.0).unwrap())
        .unwrap()
        .cmap(Colormap::RdBu);
    let img = save_and_decode("filters_rdbu.png", |p| diverging.save(p));
    assert!(
        img.pixels().any(|p| p.0[0] > 150 && p.0[2] < 80),
        "red weights"
    );
    assert!(
        img.pixels().any(|p| p.0[2] > 150 && p.0[0] < 80),
        "blue weights"
    );
}

#[test]
fn sample_prediction_of_a_test_digit() {
    let (x, y) = mnist("t10k", 1);
    assert_eq!(y[0], 7);
    let mut probs = vec![0.0002f32; 10];
    probs[7] = 0.998;
    probs[3] = 1.0 - 0.998 - 8.0 * 0.0002;
    let p = Tensor::from_vec(probs, (1, 10), &Device::Cpu).unwrap();
    let plot = plot::sample_prediction(&x.get(0).unwrap(), &p)
        .unwrap()
        .label(7);
    assert_eq!(plot.title_text(), "predicted 7 (99.8%), true label 7");
    let img = save_and_decode("sample_prediction.png", |p| plot.save(p));
    assert_eq!(img.dimensions(), (760, 380));
    assert!(dark_pixels(&img, (200, 0, 560, 44)) > 100, "title");
    let orange = img.pixels().filter(|p| p.0 == [255, 127, 14]).count();
    assert!(
        orange > 1000,
        "the predicted class's bar is tall and orange: {orange}"
    );

    let mut wrong = vec![0.05f32; 10];
    wrong[3] = 0.55;
    let p = Tensor::from_vec(wrong, 10, &Device::Cpu).unwrap();
    let plot = plot::sample_prediction(&x.get(0).unwrap(), &p)
        .unwrap()
        .label(7);
    let img = save_and_decode("sample_prediction_wrong.png", |p| plot.save(p));
    assert!(
        img.pixels().any(|p| p.0 == [44, 160, 44]),
        "the true class is outlined in green"
    );
}

#[test]
fn svg_and_bad_extensions() {
    let (x, _) = mnist("train", 1);
    let plot = plot::imshow(&x.get(0).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("digit.svg");
    plot.save(&svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("<rect"),
        "an SVG with rectangles"
    );
    assert!(
        text.len() < 200_000,
        "runs of equal colour are merged: {} bytes",
        text.len()
    );
    let err = plot
        .save(dir.path().join("digit.jpg"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(".png or .svg"), "{err}");
    // Missing directories are created, as for model files.
    let nested = dir.path().join("new/dir/digit.png");
    plot.save(&nested).unwrap();
    assert!(nested.is_file());
    // A file where a directory should be is an error naming it.
    let blocked = plot
        .save(dir.path().join("digit.svg/digit.png"))
        .unwrap_err()
        .to_string();
    assert!(blocked.contains("digit.svg"), "{blocked}");
    let png = plot.to_png_bytes().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// A one-layer softmax model trained for one epoch on 5000 training digits
/// (about 88% right on the test set), with the first `test` test digits
/// prepared for it (flattened, scaled) and their labels.
fn quick_model(test: usize) -> (dlkit::model::Sequential, Tensor, Tensor, Tensor) {
    use dlkit::prelude::*;
    let dir = dlkit_tests::datasets_dir().join("mnist");
    let ((x_train, y_train), (x_test, y_test)) = dlkit::datasets::mnist::load_data_from(&dir)
        .unwrap_or_else(|e| panic!("real MNIST is needed at {} ({e})", dir.display()));
    let prep = |x: &Tensor| x.flattened()?.to_f32()?.scaled(1.0 / 255.0);
    let x = prep(&x_train.narrow(0, 0, 5000).unwrap()).unwrap();
    let y = y_train.narrow(0, 0, 5000).unwrap();
    let mut model = Sequential::with_seed(3);
    model
        .add(
            Dense::new(10)
                .input_dim(784)
                .activation(Activation::Softmax),
        )
        .unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            Adam::default(),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(1).batch_size(32).verbose(0),
        )
        .unwrap();
    let raw = x_test.narrow(0, 0, test).unwrap();
    let xt = prep(&raw).unwrap();
    (model, raw, xt, y_test.narrow(0, 0, test).unwrap())
}

#[test]
fn confusion_matrix_and_mistakes_of_a_quickly_trained_model() {
    let (mut model, raw, xt, yt) = quick_model(2000);
    let accuracy = model.evaluate(&xt, &yt).unwrap().accuracy().unwrap();
    let cm = model.confusion_matrix(&xt, &yt).unwrap();
    assert_eq!((cm.classes(), cm.total()), (10, 2000));
    assert!(
        (cm.accuracy() - accuracy).abs() < 1e-9,
        "{} vs {accuracy}",
        cm.accuracy()
    );
    let labels = yt.to_vec1::<u8>().unwrap();
    for (class, row) in cm.counts().iter().enumerate() {
        let n = labels.iter().filter(|&&l| l as usize == class).count();
        assert_eq!(
            row.iter().sum::<usize>(),
            n,
            "row {class} counts its samples"
        );
    }
    let img = save_and_decode("confusion_matrix.png", |p| cm.save(p));
    assert_eq!(img.dimensions(), cm.size());
    assert!(dark_pixels(&img, (100, 0, 600, 50)) > 100, "title");
    assert!(
        img.pixels()
            .filter(|p| p.0[2] as i32 > p.0[0] as i32 + 60)
            .count()
            > 10 * 40 * 40,
        "ten blue diagonal cells"
    );

    // The same mistakes as a gallery, from the raw u8 images and the probabilities.
    let probs = model.predict(&xt).unwrap();
    let wrong = plot::misclassified(&raw, &yt, &probs).unwrap();
    assert_eq!(wrong.mistakes(), cm.total() - cm.correct());
    let shown = wrong.indices();
    assert_eq!(shown.len(), 16);
    let p = probs.to_vec2::<f32>().unwrap();
    let confidence: Vec<f32> = shown
        .iter()
        .map(|&i| p[i].iter().copied().fold(0.0, f32::max))
        .collect();
    assert!(
        confidence.windows(2).all(|w| w[0] >= w[1]),
        "surest first: {confidence:?}"
    );
    for &i in &shown {
        let best = (0..10)
            .max_by(|&a, &b| p[i][a].total_cmp(&p[i][b]))
            .unwrap();
        assert_ne!(best, labels[i] as usize, "sample {i} is a mistake");
    }
    let img = save_and_decode("misclassified.png", |p| wrong.save(p));
    assert_eq!(img.dimensions(), wrong.size());
    let red = img
        .pixels()
        .filter(|p| p.0[0] > 150 && p.0[1] < 90 && p.0[2] < 90)
        .count();
    assert!(red > 16 * 40, "every tile has a red title: {red}");
    // The model's own gallery, from the prepared (N, 784) f32 images, is the same.
    let from_model = model.misclassified(&xt, &yt).unwrap().count(25);
    assert_eq!(&from_model.indices()[..16], shown.as_slice());
    save_and_decode("misclassified_25.png", |p| from_model.save(p));
}

#[test]
fn confusion_matrix_with_long_class_names() {
    // Made-up outcomes over Fashion-MNIST's names: class 0 has 3 samples only
    // and is always wrong, so its row must still be dark in the wrong column.
    let mut truth = vec![0usize; 3];
    let mut predicted = vec![6usize; 3];
    for c in 1..10 {
        for i in 0..200 {
            truth.push(c);
            predicted.push(if i % 10 == 0 { (c + 1) % 10 } else { c });
        }
    }
    let cm = plot::ConfusionMatrix::from_classes(&truth, &predicted, 10)
        .unwrap()
        .class_names(&dlkit::datasets::fashion_mnist::CLASS_NAMES)
        .unwrap()
        .title("Fashion-MNIST");
    assert_eq!(cm.most_confused(20)[0].2, 20);
    assert_eq!(cm.row_fractions()[0][6], 1.0);
    let img = save_and_decode("confusion_matrix_names.png", |p| cm.save(p));
    assert_eq!(img.dimensions(), cm.size());
    let svg = cm.to_svg().unwrap();
    assert!(svg.contains("Ankle boot") && svg.contains("predicted label"));
}

#[test]
fn misclassified_with_names_and_without_mistakes() {
    let (x, y) = mnist("t10k", 12);
    let y = Tensor::new(y.as_slice(), &Device::Cpu).unwrap();
    // Every third digit is taken for the next class, with a made-up confidence.
    let mut probs = vec![0f32; 12 * 10];
    let truth = y.to_vec1::<u8>().unwrap();
    for (i, &t) in truth.iter().enumerate() {
        let (class, p) = if i % 3 == 0 {
            ((t as usize + 1) % 10, 0.5 + 0.04 * i as f32)
        } else {
            (t as usize, 0.99)
        };
        let rest = (1.0 - p) / 9.0;
        for c in 0..10 {
            probs[i * 10 + c] = if c == class { p } else { rest };
        }
    }
    let probs = Tensor::from_vec(probs, (12, 10), &Device::Cpu).unwrap();
    let names = dlkit::datasets::fashion_mnist::CLASS_NAMES;
    let wrong = plot::misclassified(&x.reshape((12, 1, 28, 28)).unwrap(), &y, &probs)
        .unwrap()
        .class_names(&names)
        .unwrap()
        .title("as if the digits were clothes");
    assert_eq!(wrong.indices(), [9, 6, 3, 0]);
    save_and_decode("misclassified_names.png", |p| wrong.save(p));

    let right = plot::misclassified(&x, &y, &y).unwrap();
    assert_eq!(right.mistakes(), 0);
    let img = save_and_decode("misclassified_none.png", |p| right.save(p));
    assert!(dark_pixels(&img, (0, 0, img.width(), img.height())) > 50);
}
