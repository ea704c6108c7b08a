//! Your own digit: the pictures in tests/data/digits (a photo of dark ink on
//! unevenly lit paper, chalk on a dark board, a small off-centre digit) must come
//! out like MNIST digits — 28×28 in [0, 1], light ink on black, the ink inside a
//! 20×20 box, the centre of mass at (14, 14) — and be recognised as the digits
//! they are by a nearest-class-mean classifier built from real MNIST.

use std::io::Read;
use std::path::PathBuf;

use dlkit::image::{load_digit, load_digit_from_memory};
use dlkit::{DType, Error};

fn picture(name: &str) -> PathBuf {
    dlkit_tests::repo_root()
        .join("tests/data/digits")
        .join(name)
}

const PICTURES: [(&str, usize); 3] = [
    ("seven_dark_ink_photo.jpg", 7),
    ("three_light_on_dark.png", 3),
    ("two_small_off_centre.png", 2),
];

fn pixels(t: &dlkit::Tensor) -> Vec<f32> {
    assert_eq!(t.dims(), &[28, 28]);
    assert_eq!(t.dtype(), DType::F32);
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Centre of mass (row, column) in pixel indices.
fn centre_of_mass(p: &[f32]) -> (f64, f64) {
    let mass: f64 = p.iter().map(|&v| v as f64).sum();
    let row = p
        .iter()
        .enumerate()
        .map(|(i, &v)| (i / 28) as f64 * v as f64)
        .sum::<f64>()
        / mass;
    let col = p
        .iter()
        .enumerate()
        .map(|(i, &v)| (i % 28) as f64 * v as f64)
        .sum::<f64>()
        / mass;
    (row, col)
}

/// Height and width of the box around pixels above `threshold`.
fn ink_box(p: &[f32], threshold: f32) -> (usize, usize) {
    let on: Vec<(usize, usize)> = (0..784)
        .filter(|&i| p[i] > threshold)
        .map(|i| (i / 28, i % 28))
        .collect();
    let rows = on.iter().map(|c| c.0);
    let cols = on.iter().map(|c| c.1);
    (
        rows.clone().max().unwrap() - rows.min().unwrap() + 1,
        cols.clone().max().unwrap() - cols.min().unwrap() + 1,
    )
}

/// Mean image of each class over the first 10,000 MNIST training digits, in [0, 1].
fn class_means() -> Vec<Vec<f32>> {
    let dir = dlkit_tests::datasets_dir().join("mnist");
    let read = |name: &str| {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    let images = read("train-images-idx3-ubyte.gz");
    let labels = read("train-labels-idx1-ubyte.gz");
    let mut sums = vec![vec![0f32; 784]; 10];
    let mut counts = [0f32; 10];
    for i in 0..10_000 {
        let label = labels[8 + i] as usize;
        counts[label] += 1.0;
        for (s, &v) in sums[label]
            .iter_mut()
            .zip(&images[16 + i * 784..16 + (i + 1) * 784])
        {
            *s += v as f32 / 255.0;
        }
    }
    sums.iter()
        .zip(counts)
        .map(|(s, c)| s.iter().map(|v| v / c).collect())
        .collect()
}

fn nearest_class(p: &[f32], means: &[Vec<f32>]) -> usize {
    let distance = |m: &Vec<f32>| p.iter().zip(m).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
    (0..10)
        .min_by(|&a, &b| distance(&means[a]).total_cmp(&distance(&means[b])))
        .unwrap()
}

#[test]
fn pictures_come_out_like_mnist() {
    let means = class_means();
    for (name, digit) in PICTURES {
        let t = load_digit(picture(name)).unwrap();
        let p = pixels(&t);
        assert!(
            p.iter().all(|v| (0.0..=1.0).contains(v)),
            "{name}: values in [0, 1]"
        );
        let max = p.iter().copied().fold(0f32, f32::max);
        assert!((max - 1.0).abs() < 1e-6, "{name}: full ink is 1, got {max}");
        // Background black (so dark ink on paper was inverted): the corners are empty.
        let corners: f32 = (0..784)
            .filter(|i| (i / 28 < 3 || i / 28 > 24) && (i % 28 < 3 || i % 28 > 24))
            .map(|i| p[i])
            .sum();
        assert_eq!(corners, 0.0, "{name}: corners must be background");
        let background = p.iter().filter(|&&v| v == 0.0).count();
        assert!(
            background > 784 / 2,
            "{name}: most pixels are background ({background})"
        );
        let (row, col) = centre_of_mass(&p);
        assert!(
            (row - 14.0).abs() <= 0.6 && (col - 14.0).abs() <= 0.6,
            "{name}: centre of mass ({row:.2}, {col:.2})"
        );
        let (h, w) = ink_box(&p, 0.0);
        assert!(h <= 20 && w <= 20, "{name}: ink box {h}×{w} must fit 20×20");
        assert!(
            h.max(w) >= 19,
            "{name}: the longer side fills the box ({h}×{w})"
        );
        assert_eq!(
            nearest_class(&p, &means),
            digit,
            "{name}: looks like an MNIST {digit}"
        );
        let from_memory = load_digit_from_memory(&std::fs::read(picture(name)).unwrap()).unwrap();
        assert_eq!(pixels(&from_memory), p, "{name}: from memory = from file");

        if let Some(out) = std::env::var_os("DLKIT_PLOTS_OUT") {
            let out = PathBuf::from(out);
            std::fs::create_dir_all(&out).unwrap();
            let stem = name.split('.').next().unwrap();
            dlkit::plot::imshow(&t)
                .unwrap()
                .title(format!("{name} prepared"))
                .save(out.join(format!("own_{stem}.png")))
                .unwrap();
        }
    }
}

#[test]
fn inverting_the_picture_gives_the_same_digit() {
    let original = image::open(picture("three_light_on_dark.png"))
        .unwrap()
        .to_luma8();
    let mut inverted = original.clone();
    image::imageops::invert(&mut inverted);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three_dark_on_light.png");
    inverted.save(&path).unwrap();
    let a = pixels(&load_digit(picture("three_light_on_dark.png")).unwrap());
    let b = pixels(&load_digit(&path).unwrap());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 0.15,
        "dark-on-light and light-on-dark versions differ by up to {worst}"
    );
}

#[test]
fn the_digit_is_not_transposed_or_flipped() {
    // A tall, thin bar in the top-left corner of a wide picture: after preparation it is tall.
    let mut img = image::GrayImage::from_pixel(300, 200, image::Luma([255]));
    for y in 20..120 {
        for x in 30..45 {
            img.put_pixel(x, y, image::Luma([0]));
        }
    }
    // A foot at the bottom right of the bar makes it an "L": the foot must stay at the bottom right.
    for y in 105..120 {
        for x in 45..90 {
            img.put_pixel(x, y, image::Luma([0]));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ell.png");
    img.save(&path).unwrap();
    let p = pixels(&load_digit(&path).unwrap());
    let (h, w) = ink_box(&p, 0.5);
    assert!(
        h > w,
        "an L taller than wide stays taller than wide ({h}×{w})"
    );
    let bottom_right: f32 = (14..28)
        .flat_map(|r| (14..28).map(move |c| r * 28 + c))
        .map(|i| p[i])
        .sum();
    let top_right: f32 = (0..14)
        .flat_map(|r| (14..28).map(move |c| r * 28 + c))
        .map(|i| p[i])
        .sum();
    assert!(
        bottom_right > 5.0 * top_right.max(0.1),
        "the foot is at the bottom right: {bottom_right} vs {top_right}"
    );
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("no_such_digit.png");
    match load_digit(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("missing file: expected Error::Io, got {other:?}"),
    }

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "this is a text file, not a picture\n").unwrap();
    let err = load_digit(&text).unwrap_err();
    assert!(matches!(err, Error::Image(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("notes.png") && msg.contains("not an image"),
        "{msg}"
    );

    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let msg = load_digit(&empty).unwrap_err().to_string();
    assert!(msg.contains("empty.png") && msg.contains("empty"), "{msg}");

    let white = dir.path().join("white.png");
    image::GrayImage::from_pixel(120, 90, image::Luma([255]))
        .save(&white)
        .unwrap();
    let err = load_digit(&white).unwrap_err();
    assert!(matches!(err, Error::Image(_)), "{err:?}");
    assert!(err.to_string().contains("blank"), "{err}");

    // Faint paper texture with no ink is blank too.
    let mut paper = image::GrayImage::new(120, 90);
    for (i, p) in paper.pixels_mut().enumerate() {
        p.0 = [238 + ((i * 7919) % 9) as u8];
    }
    let faint = dir.path().join("paper.png");
    paper.save(&faint).unwrap();
    assert!(load_digit(&faint)
        .unwrap_err()
        .to_string()
        .contains("blank"));

    assert!(load_digit_from_memory(b"GIF89a nonsense")
        .unwrap_err()
        .to_string()
        .contains("not an image"));
}

#[test]
fn load_img_keeps_the_picture_as_it_is_and_shows_it_scaled_down() -> dlkit::Result<()> {
    let photo = dlkit::image::load_img(picture("seven_dark_ink_photo.jpg"))?;
    let (width, height) = photo.size();
    let decoded = image::open(picture("seven_dark_ink_photo.jpg"))
        .unwrap()
        .to_rgb8();
    assert_eq!((width, height), decoded.dimensions());
    // the pixels, channels last, exactly as decoded
    let pixels = photo.to_tensor()?;
    assert_eq!(pixels.dims(), [height as usize, width as usize, 3]);
    assert_eq!(pixels.dtype(), DType::U8);
    assert_eq!(pixels.flatten_all()?.to_vec1::<u8>()?, decoded.into_raw());
    // what a notebook shows: a PNG no larger than 320 pixels a side, same aspect ratio
    let shown = image::load_from_memory(&photo.to_png()?).unwrap();
    let (w, h) = (shown.width(), shown.height());
    assert_eq!(w.max(h), 320.min(width.max(height)));
    let ratio = |a: u32, b: u32| f64::from(a) / f64::from(b);
    assert!((ratio(w, h) - ratio(width, height)).abs() < 0.02);
    // a small picture is shown at its own size, pixel for pixel
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.png");
    let gradient =
        image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
    gradient.save(&path).unwrap();
    let small = dlkit::image::load_img(&path)?;
    let shown = image::load_from_memory(&small.to_png()?).unwrap().to_rgb8();
    assert_eq!(shown, gradient);
    assert!(format!("{small:?}").contains("small.png: 40×30"));
    Ok(())
}

#[test]
fn load_img_names_the_file_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing_here.png");
    let err = dlkit::image::load_img(&missing).unwrap_err().to_string();
    assert!(err.contains("nothing_here.png"), "{err}");
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not a picture").unwrap();
    let err = dlkit::image::load_img(&text).unwrap_err().to_string();
    assert!(
        err.contains("notes.png") && err.contains("not an image"),
        "{err}"
    );
}
