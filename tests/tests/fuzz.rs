//! Seeded mutation tests: corrupted pictures for `load_digit` and corrupted
//! IDX / gzip files for the dataset loader must give `Ok` or a clean error of
//! the right kind — never a panic, an abort or a hang.
//!
//! Each case is derived from a fixed seed, so a failure is reproducible: the
//! failing input is written to the temporary directory and its path printed.
//! Together they run in a few seconds in the dev build.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use dlkit::datasets::{idx, mnist};
use dlkit::rng::Rng;
use dlkit::Error;
use dlkit_tests::{gzip, idx_bytes};

/// One corruption of `original`: bit flips, overwritten, inserted, deleted or
/// duplicated stretches, truncation, and "interesting" values (0, 0xFF, 0x7F,
/// 0x80) that hit sizes and lengths. Returns the bytes and what was done.
fn mutate(original: &[u8], rng: &mut Rng, keep_head: usize) -> (Vec<u8>, String) {
    let mut bytes = original.to_vec();
    let mut done = Vec::new();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = bytes.len().max(1) as u64;
        let head = keep_head.min(bytes.len().saturating_sub(1)) as u64;
        let at = (head + rng.below(len - head)) as usize;
        match rng.below(7) {
            0 => {
                let bit = rng.below(8);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << bit;
                }
                done.push(format!("flip bit {bit} at {at}"));
            }
            1 => {
                let n = 1 + rng.below(16) as usize;
                for i in at..(at + n).min(bytes.len()) {
                    bytes[i] = rng.below(256) as u8;
                }
                done.push(format!("randomise {n} at {at}"));
            }
            2 => {
                let value = [0x00, 0xFF, 0x7F, 0x80][rng.below(4) as usize];
                let n = 1 + rng.below(4) as usize;
                for i in at..(at + n).min(bytes.len()) {
                    bytes[i] = value;
                }
                done.push(format!("set {n} to {value:#04x} at {at}"));
            }
            3 => {
                bytes.truncate(at);
                done.push(format!("truncate to {at}"));
            }
            4 => {
                let n = 1 + rng.below(64) as usize;
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
                done.push(format!("delete {n} at {at}"));
            }
            5 => {
                let n = 1 + rng.below(64) as usize;
                let insert: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
                let at = at.min(bytes.len());
                bytes.splice(at..at, insert);
                done.push(format!("insert {n} at {at}"));
            }
            _ => {
                let n = 1 + rng.below(256) as usize;
                let end = (at + n).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                bytes.splice(end..end, copy);
                done.push(format!("duplicate {n} at {at}"));
            }
        }
    }
    (bytes, done.join(", "))
}

/// Runs `check` on `input`; a panic fails the test naming the case and
/// leaving the input on disk to reproduce it.
fn must_not_panic<T>(
    name: &str,
    case: usize,
    what: &str,
    input: &[u8],
    check: impl FnOnce() -> T,
) -> T {
    match catch_unwind(AssertUnwindSafe(check)) {
        Ok(v) => v,
        Err(payload) => {
            let path = std::env::temp_dir().join(format!("dlkit-fuzz-{name}-{case}.bin"));
            let _ = std::fs::write(&path, input);
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{name} case {case} ({what}) panicked: {message}\ninput saved to {}",
                path.display()
            );
        }
    }
}

/// Recomputes each PNG chunk's CRC, so a mutation inside a chunk reaches the
/// decoder's parsing instead of stopping at the checksum.
fn fix_png_crcs(bytes: &mut [u8]) {
    let mut i = 8;
    while i + 12 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
        let Some(end) = (i + 8).checked_add(len).filter(|&e| e + 4 <= bytes.len()) else {
            return;
        };
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[i + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.sum().to_be_bytes());
        i = end + 4;
    }
}

/// A small picture of a digit-like stroke, light paper and dark ink.
fn small_picture() -> image::GrayImage {
    let mut img = image::GrayImage::from_pixel(40, 48, image::Luma([225]));
    for y in 8..40 {
        for x in 17..23 {
            img.put_pixel(x, y, image::Luma([30]));
        }
    }
    for x in 10..30 {
        for y in 8..13 {
            img.put_pixel(x, y, image::Luma([40]));
        }
    }
    img
}

fn encoded(img: &image::GrayImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        dlkit_tests::repo_root()
            .join("tests/data/digits")
            .join(name),
    )
    .unwrap()
}

/// Corrupted pictures: every outcome is a tensor of MNIST's shape or an
/// `Error::Image`.
fn fuzz_pictures(name: &str, original: &[u8], cases: usize, seed: u64, png: bool) {
    let mut rng = Rng::new(seed);
    let (mut ok, mut refused) = (0, 0);
    for case in 0..cases {
        // Keep the signature most of the time, so the decoder is reached.
        let keep = if rng.below(8) == 0 { 0 } else { 8 };
        let (mut bytes, what) = mutate(original, &mut rng, keep);
        if png && rng.below(2) == 0 {
            fix_png_crcs(&mut bytes);
        }
        let result = must_not_panic(name, case, &what, &bytes, || {
            dlkit::image::load_digit_from_memory(&bytes)
        });
        match result {
            Ok(t) => {
                assert_eq!(t.dims(), [28, 28], "{name} case {case} ({what})");
                ok += 1;
            }
            Err(Error::Image(_)) => refused += 1,
            Err(other) => panic!("{name} case {case} ({what}): wrong kind of error: {other:?}"),
        }
    }
    eprintln!("{name}: {ok} loaded, {refused} refused of {cases}");
    assert!(
        refused > 0,
        "{name}: no mutation was refused: the mutations do nothing"
    );
}

#[test]
fn corrupted_pngs_load_or_are_refused_cleanly() {
    let small = encoded(&small_picture(), image::ImageFormat::Png);
    fuzz_pictures("small png", &small, 600, 1, true);
    fuzz_pictures(
        "photo png",
        &fixture("two_small_off_centre.png"),
        60,
        2,
        true,
    );
}

#[test]
fn corrupted_jpegs_load_or_are_refused_cleanly() {
    let small = encoded(&small_picture(), image::ImageFormat::Jpeg);
    fuzz_pictures("small jpeg", &small, 600, 3, false);
    fuzz_pictures(
        "photo jpeg",
        &fixture("seven_dark_ink_photo.jpg"),
        40,
        4,
        false,
    );
}

#[test]
fn pictures_with_absurd_header_sizes_are_refused() {
    // Width and height overwritten in the PNG header (CRC fixed): the size limit or the decoder says no.
    let small = encoded(&small_picture(), image::ImageFormat::Png);
    for (case, (w, h)) in [
        (u32::MAX, 1),
        (1, u32::MAX),
        (0x7FFF_FFFF, 0x7FFF_FFFF),
        (0, 48),
        (65_536, 65_536),
    ]
    .into_iter()
    .enumerate()
    {
        let mut bytes = small.clone();
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        fix_png_crcs(&mut bytes);
        let result = must_not_panic("png header", case, &format!("{w}×{h}"), &bytes, || {
            dlkit::image::load_digit_from_memory(&bytes)
        });
        assert!(
            matches!(result, Err(Error::Image(_))),
            "{w}×{h}: {result:?}"
        );
    }
}

#[test]
fn corrupted_idx_and_gzip_bytes_parse_or_are_refused_cleanly() {
    let images: Vec<u8> = (0..3 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let plain_images = idx_bytes(0x0803, &[3, 28, 28], &images);
    let plain_labels = idx_bytes(0x0801, &[3], &[7, 2, 1]);
    let originals = [
        ("images", 3, plain_images.clone()),
        ("labels", 1, plain_labels.clone()),
        ("gzipped images", 3, gzip(&plain_images)),
        ("gzipped labels", 1, gzip(&plain_labels)),
    ];
    let mut rng = Rng::new(5);
    for (name, ndim, original) in &originals {
        let (mut ok, mut refused) = (0, 0);
        for case in 0..1500 {
            let (bytes, what) = mutate(original, &mut rng, 0);
            let origin = PathBuf::from(format!("fuzz/{name}"));
            let result = must_not_panic(name, case, &what, &bytes, || {
                idx::decompress_if_gzipped(bytes.clone(), &origin)
                    .and_then(|raw| idx::parse_u8(raw, *ndim, &origin))
            });
            match result {
                Ok(array) => {
                    assert_eq!(array.dims.len(), *ndim, "{name} case {case} ({what})");
                    assert_eq!(
                        array.dims.iter().product::<usize>(),
                        array.data.len(),
                        "{name} case {case} ({what}): the data must be what the header says"
                    );
                    ok += 1;
                }
                Err(Error::Dataset(msg)) => {
                    assert!(msg.starts_with("fuzz/"), "names the file: {msg}");
                    refused += 1;
                }
                Err(other) => panic!("{name} case {case} ({what}): wrong kind of error: {other:?}"),
            }
        }
        eprintln!("{name}: {ok} parsed, {refused} refused");
        assert!(refused > 0);
    }
}

#[test]
fn corrupted_dataset_files_load_or_are_refused_cleanly() {
    // The whole loader (file lookup, gzip, IDX, image/label agreement, checksum)
    // on a tiny dataset with one file corrupted at a time: never Ok (the checksums
    // are MNIST's), always a dataset error naming the file.
    let train_images = gzip(&idx_bytes(0x0803, &[2, 28, 28], &[7; 2 * 784]));
    let files = [
        ("train-images-idx3-ubyte.gz", train_images),
        (
            "train-labels-idx1-ubyte.gz",
            gzip(&idx_bytes(0x0801, &[2], &[5, 0])),
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            gzip(&idx_bytes(0x0803, &[1, 28, 28], &[9; 784])),
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            gzip(&idx_bytes(0x0801, &[1], &[7])),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let mut rng = Rng::new(6);
    for case in 0..200 {
        let (name, original) = &files[rng.below(4) as usize];
        let (bytes, what) = mutate(original, &mut rng, 0);
        std::fs::write(dir.path().join(name), &bytes).unwrap();
        let result = must_not_panic(name, case, &what, &bytes, || {
            mnist::load_data_from(dir.path())
        });
        match result {
            Err(Error::Dataset(msg)) => assert!(msg.contains("MNIST"), "{msg}"),
            other => panic!("{name} case {case} ({what}): expected a dataset error, got {other:?}"),
        }
        std::fs::write(dir.path().join(name), original).unwrap();
    }
}

// ---- Model files: the safetensors header, its JSON description, the tensors ----

/// A saved model with most layer kinds, as bytes.
fn saved_model_bytes() -> Vec<u8> {
    use dlkit::layers::Activation::{Relu, Softmax};
    use dlkit::prelude::*;
    let mut model = Sequential::with_seed(3);
    model
        .add(Conv2D::new(4, 3).activation(Relu).input_shape((6, 6, 1)))
        .unwrap();
    model.add(BatchNormalization::new()).unwrap();
    model.add(MaxPooling2D::new(2)).unwrap();
    model.add(Dropout::new(0.25)).unwrap();
    model.add(Flatten::new()).unwrap();
    model.add(Dense::new(5).activation(Relu)).unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::CategoricalCrossentropy,
            Adam::default(),
            &[Metric::Accuracy],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    std::fs::read(path).unwrap()
}

/// Replaces one number of the JSON header (sizes, indices, shapes, offsets)
/// by a value chosen to hit limits, and fixes the header's length prefix.
fn mutate_header_number(original: &[u8], rng: &mut Rng) -> Option<(Vec<u8>, String)> {
    let len = u64::from_le_bytes(original.get(..8)?.try_into().ok()?) as usize;
    let header = std::str::from_utf8(original.get(8..8 + len)?).ok()?;
    let numbers: Vec<(usize, usize)> = header
        .char_indices()
        .filter(|&(i, c)| {
            c.is_ascii_digit() && !header[..i].ends_with(|p: char| p.is_ascii_digit())
        })
        .map(|(i, _)| {
            let end = header[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(header.len(), |e| i + e);
            (i, end)
        })
        .collect();
    let &(start, end) = numbers.get(rng.below(numbers.len() as u64) as usize)?;
    const VALUES: [&str; 9] = [
        "0",
        "1",
        "2",
        "7",
        "255",
        "65536",
        "2147483648",
        "1099511627776",
        "18446744073709551615",
    ];
    let value = VALUES[rng.below(VALUES.len() as u64) as usize];
    let edited = format!("{}{value}{}", &header[..start], &header[end..]);
    let mut bytes = (edited.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(edited.as_bytes());
    bytes.extend_from_slice(&original[8 + len..]);
    Some((
        bytes,
        format!("number at {start} ({}) -> {value}", &header[start..end]),
    ))
}

#[test]
fn corrupted_model_files_load_or_are_refused_cleanly() {
    use dlkit::prelude::*;
    let original = saved_model_bytes();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(11);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..1200 {
        // Half raw byte mutations, half numbers of the description changed.
        let (bytes, what) = if case % 2 == 0 {
            mutate(&original, &mut rng, 0)
        } else {
            match mutate_header_number(&original, &mut rng) {
                Some(m) => m,
                None => continue,
            }
        };
        let path = dir.path().join(format!("case-{case}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        let start = std::time::Instant::now();
        let result = must_not_panic("model", case, &what, &bytes, || load_model(&path));
        assert!(
            start.elapsed().as_secs_f64() < 2.0,
            "model case {case} ({what}) took {:?}",
            start.elapsed()
        );
        match result {
            Ok(mut model) => {
                // A model that loads must also run, or refuse its input cleanly.
                let shape = model.input_shape().unwrap().to_vec();
                let values: usize = shape.iter().product();
                if values <= 100_000 {
                    let dims: Vec<usize> = std::iter::once(2).chain(shape).collect();
                    let x = Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
                    must_not_panic("model-predict", case, &what, &bytes, || {
                        model.predict(&x).map(|_| ())
                    })
                    .ok();
                }
                loaded += 1;
            }
            Err(Error::ModelFile(_)) | Err(Error::Io { .. }) => refused += 1,
            Err(other) => panic!("model case {case} ({what}): wrong kind of error: {other:?}"),
        }
    }
    eprintln!("model files: {loaded} loaded, {refused} refused");
    assert!(refused > 500, "{refused}");
}

// ---- Shape inference: random stacks of layers ----

/// A random layer (some valid for the input at hand, many not).
fn random_layer(rng: &mut Rng) -> (dlkit::layers::Layer, String) {
    use dlkit::layers::*;
    let pick = |rng: &mut Rng, values: &[usize]| values[rng.below(values.len() as u64) as usize];
    match rng.below(9) {
        0 => {
            let units = pick(rng, &[1, 3, 8, 0]);
            (
                Dense::new(units).activation(Activation::Relu).into(),
                format!("Dense({units})"),
            )
        }
        1 | 2 => {
            let (f, k) = (pick(rng, &[1, 2, 5]), pick(rng, &[1, 2, 3, 5, 9]));
            let padding = if rng.below(2) == 0 {
                Padding::Valid
            } else {
                Padding::Same
            };
            let s = pick(rng, &[1, 1, 2]);
            (
                Conv2D::new(f, k).strides(s).padding(padding).into(),
                format!("Conv2D({f}, {k}, stride {s}, {padding:?})"),
            )
        }
        3 => {
            let p = pick(rng, &[1, 2, 3]);
            (MaxPooling2D::new(p).into(), format!("MaxPooling2D({p})"))
        }
        4 => (Flatten::new().into(), "Flatten".into()),
        5 => (Dropout::new(0.3).into(), "Dropout".into()),
        6 => (
            BatchNormalization::new().into(),
            "BatchNormalization".into(),
        ),
        7 => (Activation::Tanh.into(), "Activation(tanh)".into()),
        _ => {
            let units = pick(rng, &[1, 4]);
            let seq = rng.below(2) == 0;
            (
                LSTM::new(units).return_sequences(seq).into(),
                format!("LSTM({units}, return_sequences {seq})"),
            )
        }
    }
}

#[test]
fn random_layer_stacks_build_with_shapes_a_forward_pass_confirms() {
    use dlkit::prelude::*;
    let mut rng = Rng::new(21);
    let shapes: [&[usize]; 5] = [&[6], &[1, 8, 8], &[8, 8, 2], &[5, 3], &[2, 7, 9]];
    let (mut built, mut refused_layers) = (0, 0);
    for case in 0..400 {
        let input = shapes[rng.below(shapes.len() as u64) as usize].to_vec();
        let mut model = Sequential::with_seed(case as u64);
        let mut stack = format!("input {input:?}");
        let mut started = false;
        for _ in 0..1 + rng.below(5) {
            let (layer, name) = random_layer(&mut rng);
            let layer = if started {
                layer
            } else {
                // The first layer declares the input shape.
                match layer {
                    Layer::Dense(l) => l.input_shape(input.clone()).into(),
                    Layer::Conv2D(l) => l.input_shape(input.clone()).into(),
                    Layer::MaxPooling2D(l) => l.input_shape(input.clone()).into(),
                    Layer::Flatten(l) => l.input_shape(input.clone()).into(),
                    Layer::Dropout(l) => l.input_shape(input.clone()).into(),
                    Layer::BatchNormalization(l) => l.input_shape(input.clone()).into(),
                    Layer::LSTM(l) => l.input_shape(input.clone()).into(),
                    Layer::Activation(l) => l.input_shape(input.clone()).into(),
                    other => other,
                }
            };
            stack.push_str(&format!(" → {name}"));
            let added = must_not_panic("stack", case, &stack, &[], || model.add(layer).map(|_| ()));
            match added {
                Ok(()) => started = true,
                Err(Error::Shape(_)) | Err(Error::InvalidArgument(_)) => refused_layers += 1,
                Err(other) => panic!("stack case {case} ({stack}): wrong kind of error: {other:?}"),
            }
        }
        if !model.is_built() {
            continue;
        }
        let want = model.output_shape().unwrap().to_vec();
        let dims: Vec<usize> = std::iter::once(2).chain(input.clone()).collect();
        let x = Tensor::randn(0f32, 1.0, dims, &Device::Cpu).unwrap();
        for training in [false, true] {
            let y = must_not_panic("stack-forward", case, &stack, &[], || {
                model.forward(&x, training)
            })
            .unwrap_or_else(|e| {
                panic!("stack case {case} ({stack}): built but forward failed: {e}")
            });
            let got: Vec<usize> = y.dims()[1..].to_vec();
            assert_eq!(
                got, want,
                "stack case {case} ({stack}), training {training}"
            );
            assert_eq!(y.dims()[0], 2);
        }
        built += 1;
    }
    eprintln!("layer stacks: {built} built and confirmed, {refused_layers} layers refused");
    assert!(
        built > 100 && refused_layers > 50,
        "{built} built, {refused_layers} refused"
    );
}

// ---- Seed corpus of the cargo-fuzz targets (fuzz/, run by scripts/fuzz) ----

/// The seeds of each cargo-fuzz target: small valid inputs to start from.
fn fuzz_seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use dlkit::prelude::*;
    let images: Vec<u8> = (0..2 * 5 * 4).map(|i| (i * 37 % 256) as u8).collect();
    let images = idx_bytes(0x0803, &[2, 5, 4], &images);
    let labels = idx_bytes(0x0801, &[4], &[7, 2, 1, 0]);

    let mut lstm = Sequential::with_seed(4);
    lstm.add(LSTM::new(3).input_shape((4, 2))).unwrap();
    lstm.add(Dense::new(2).activation(dlkit::layers::Activation::Softmax))
        .unwrap();
    let inputs = Input::new((6,));
    let a = Dense::new(3).apply(&inputs).unwrap();
    let b = Dense::new(3).apply(&inputs).unwrap();
    let sum = Add::new().apply_many(&[&a, &b]).unwrap();
    let joined = Concatenate::new().apply_many(&[&sum, &a]).unwrap();
    let outputs = Dense::new(2).apply(&joined).unwrap();
    let branches = Model::new(&inputs, &outputs).unwrap().with_seed(6);
    let dir = tempfile::tempdir().unwrap();
    let save = |model: &Model, name: &str| {
        let path = dir.path().join(name);
        model.save(&path).unwrap();
        std::fs::read(path).unwrap()
    };

    vec![
        ("idx", "seed-images.idx", images.clone()),
        ("idx", "seed-labels.idx", labels.clone()),
        ("idx", "seed-images.idx.gz", gzip(&images)),
        ("idx", "seed-labels.idx.gz", gzip(&labels)),
        ("model_file", "seed-cnn.safetensors", saved_model_bytes()),
        ("model_file", "seed-lstm.safetensors", save(&lstm, "lstm")),
        (
            "model_file",
            "seed-branches.safetensors",
            save(&branches, "b"),
        ),
        (
            "load_digit",
            "seed-small.png",
            encoded(&small_picture(), image::ImageFormat::Png),
        ),
        (
            "load_digit",
            "seed-small.jpg",
            encoded(&small_picture(), image::ImageFormat::Jpeg),
        ),
        (
            "load_digit",
            "seed-two_small_off_centre.png",
            fixture("two_small_off_centre.png"),
        ),
    ]
}

/// Writes the seeds to fuzz/corpus/<target>/ (committed). Rerun after a
/// change of the model file format:
/// `cargo test -p dlkit-tests --test fuzz -- --ignored write_fuzz_seed_corpus`.
#[test]
#[ignore = "writes the committed seed corpus of fuzz/"]
fn write_fuzz_seed_corpus() {
    for (target, name, bytes) in fuzz_seeds() {
        let dir = dlkit_tests::repo_root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The committed seeds are all there and all valid input: the fuzz targets
/// start from inputs that reach the end of each parser.
#[test]
fn the_committed_fuzz_seeds_are_valid_inputs() {
    let corpus = dlkit_tests::repo_root().join("fuzz/corpus");
    for (target, name, _) in fuzz_seeds() {
        let path = corpus.join(target).join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run write_fuzz_seed_corpus)", path.display()));
        let origin = PathBuf::from(name);
        match target {
            "idx" => {
                let raw = idx::decompress_if_gzipped(bytes, &origin).unwrap();
                let ndim = usize::from(raw[3]);
                idx::parse_u8(raw, ndim, &origin).unwrap();
            }
            "model_file" => {
                let mut model = dlkit::model::load_model_from_memory(&bytes).unwrap();
                let dims: Vec<usize> = std::iter::once(2)
                    .chain(model.input_shape().unwrap().to_vec())
                    .collect();
                let x = dlkit::Tensor::zeros(dims, dlkit::DType::F32, &dlkit::Device::Cpu).unwrap();
                model.predict(&x).unwrap();
            }
            _ => {
                dlkit::image::load_digit_from_memory(&bytes).unwrap();
            }
        }
    }
}
