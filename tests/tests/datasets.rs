//! Loading MNIST and Fashion-MNIST from real files, and every way a dataset
//! directory can be wrong (missing, truncated, foreign or corrupted files).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dlkit::datasets::{fashion_mnist, mnist, DatasetSpec, Downloader, Environment};
use dlkit::{DType, Device, Error, Tensor};
use dlkit_tests::{datasets_dir, gzip, idx_bytes};

const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

fn mnist_dir() -> PathBuf {
    datasets_dir().join("mnist")
}

fn labels(t: &Tensor, n: usize) -> Vec<u8> {
    t.narrow(0, 0, n).unwrap().to_vec1::<u8>().unwrap()
}

fn pixel_sum(images: &Tensor) -> u64 {
    images
        .flatten_all()
        .unwrap()
        .to_vec1::<u8>()
        .unwrap()
        .iter()
        .map(|&p| u64::from(p))
        .sum()
}

/// A downloader that must never be used: its only mirror refuses connections.
fn unreachable_downloader() -> Downloader {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Downloader::new([format!("http://127.0.0.1:{port}/")])
        .timeout(std::time::Duration::from_secs(2))
}

#[test]
fn mnist_has_the_published_shapes_labels_and_pixels() {
    let start = Instant::now();
    let ((x_train, y_train), (x_test, y_test)) = mnist::load_data_from(mnist_dir()).unwrap();
    eprintln!(
        "MNIST load with verification: {:.3} s",
        start.elapsed().as_secs_f64()
    );

    assert_eq!(x_train.dims(), [60000, 28, 28]);
    assert_eq!(y_train.dims(), [60000]);
    assert_eq!(x_test.dims(), [10000, 28, 28]);
    assert_eq!(y_test.dims(), [10000]);
    for t in [&x_train, &y_train, &x_test, &y_test] {
        assert_eq!(t.dtype(), DType::U8);
        assert!(matches!(t.device(), Device::Cpu));
    }
    assert_eq!(labels(&y_train, 10), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(labels(&y_test, 10), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);

    // Sums computed independently with python3 (gzip module) over the decompressed files.
    assert_eq!(pixel_sum(&x_train), 1_567_298_545);
    assert_eq!(pixel_sum(&x_test), 264_923_200);
    let mean = x_train
        .to_dtype(DType::F64)
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((mean - 33.318421).abs() < 1e-5, "mean pixel {mean}");

    // Pixel (row 14, column 14) of the first image: a stroke of the digit 5.
    let centre = x_train.get(0).unwrap().get(14).unwrap().get(14).unwrap();
    assert!(centre.to_scalar::<u8>().unwrap() > 0);
    // Every label is a digit.
    let max_label = y_train.max(0).unwrap().to_scalar::<u8>().unwrap();
    assert_eq!(max_label, 9);
}

#[test]
fn datasets_variable_points_at_the_files_without_download() {
    let env = Environment {
        datasets_dir: Some(datasets_dir()),
        ..Default::default()
    };
    let mut lines = Vec::new();
    let ((_, y_train), (x_test, _)) = mnist::MNIST
        .load_with(&env, &unreachable_downloader(), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
    assert_eq!(labels(&y_train, 3), [5, 0, 4]);
    assert_eq!(x_test.dims(), [10000, 28, 28]);
    assert!(lines.is_empty(), "nothing to download, yet: {lines:?}");
}

#[test]
fn fashion_mnist_loads_from_the_debian_package() {
    if !Path::new(FASHION_DIR).is_dir() {
        eprintln!(
            "SKIPPED: {FASHION_DIR} is absent (install the Debian package dataset-fashion-mnist)"
        );
        return;
    }
    let ((x_train, y_train), (x_test, y_test)) =
        fashion_mnist::load_data_from(FASHION_DIR).unwrap();
    assert_eq!(x_train.dims(), [60000, 28, 28]);
    assert_eq!(x_test.dims(), [10000, 28, 28]);
    assert_eq!(y_train.dims(), [60000]);
    assert_eq!(y_test.dims(), [10000]);
    assert_eq!(labels(&y_train, 10), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(labels(&y_test, 10), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(pixel_sum(&x_test), 573_469_082);
    assert_eq!(fashion_mnist::CLASS_NAMES[9], "Ankle boot");

    // DLKIT_DATASETS=/usr/share/datasets finds it under its folder name.
    let env = Environment {
        datasets_dir: Some("/usr/share/datasets".into()),
        ..Default::default()
    };
    let ((_, y), _) = fashion_mnist::FASHION_MNIST
        .load_with(&env, &unreachable_downloader(), &mut |l| {
            panic!("unexpected output {l}")
        })
        .unwrap();
    assert_eq!(labels(&y, 4), [9, 0, 0, 3]);
}

#[test]
fn uncompressed_files_load_too() {
    let dir = tempfile::tempdir().unwrap();
    for file in mnist::MNIST.files() {
        let source = mnist_dir().join(file.gz_name());
        if file.ndim == 1 {
            // Labels uncompressed, images gzipped: the content decides, not the name.
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&source).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            std::fs::write(dir.path().join(file.name), raw).unwrap();
        } else {
            std::fs::copy(&source, dir.path().join(file.gz_name())).unwrap();
        }
    }
    let ((_, y_train), (_, y_test)) = mnist::load_data_from(dir.path()).unwrap();
    assert_eq!(labels(&y_train, 10), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(labels(&y_test, 3), [7, 2, 1]);
}

// ---- Bad files: a tiny but well-formed MNIST-like directory, then one thing broken.

/// Two training and one test image of 28×28 with matching labels, gzipped.
fn tiny_dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(dir.path().join(format!("{name}.gz")), gzip(&bytes)).unwrap()
    };
    write(
        "train-images-idx3-ubyte",
        idx_bytes(0x0803, &[2, 28, 28], &[7; 2 * 784]),
    );
    write("train-labels-idx1-ubyte", idx_bytes(0x0801, &[2], &[5, 0]));
    write(
        "t10k-images-idx3-ubyte",
        idx_bytes(0x0803, &[1, 28, 28], &[9; 784]),
    );
    write("t10k-labels-idx1-ubyte", idx_bytes(0x0801, &[1], &[7]));
    dir
}

fn replace(dir: &Path, name: &str, bytes: Vec<u8>) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Loads `dir` as MNIST, expects a dataset error, prints and returns its message.
fn dataset_error(case: &str, dir: &Path) -> String {
    match mnist::load_data_from(dir) {
        Err(Error::Dataset(msg)) => {
            eprintln!("[{case}] {msg}");
            msg
        }
        Err(other) => panic!("[{case}] expected Error::Dataset, got {other:?}"),
        Ok(_) => panic!("[{case}] a bad directory loaded"),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
}

#[test]
fn wrong_magic_number_is_named() {
    let dir = tiny_dataset();
    // A label file where the training images should be.
    replace(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        gzip(&idx_bytes(0x0801, &[2], &[1, 2])),
    );
    let msg = dataset_error("wrong magic", dir.path());
    assert_contains(
        &msg,
        &[
            "train-images-idx3-ubyte.gz",
            "0x00000801",
            "0x00000803",
            "a label file",
        ],
    );
}

#[test]
fn non_idx_content_is_named() {
    let dir = tiny_dataset();
    replace(
        dir.path(),
        "t10k-labels-idx1-ubyte.gz",
        b"<html>Not Found</html>".to_vec(),
    );
    let msg = dataset_error("not IDX", dir.path());
    assert_contains(
        &msg,
        &["t10k-labels-idx1-ubyte.gz", "not an IDX file", "0x3C68746D"],
    );
}

#[test]
fn other_element_type_is_named() {
    let dir = tiny_dataset();
    replace(
        dir.path(),
        "t10k-labels-idx1-ubyte.gz",
        gzip(&idx_bytes(0x0D01, &[1], &[0; 4])),
    );
    let msg = dataset_error("element type", dir.path());
    assert_contains(
        &msg,
        &["t10k-labels-idx1-ubyte.gz", "0x0D (f32)", "unsigned bytes"],
    );
}

#[test]
fn truncated_data_is_named() {
    let dir = tiny_dataset();
    let mut bytes = idx_bytes(0x0803, &[2, 28, 28], &[7; 2 * 784]);
    bytes.truncate(bytes.len() - 100);
    replace(dir.path(), "train-images-idx3-ubyte.gz", gzip(&bytes));
    let msg = dataset_error("truncated", dir.path());
    assert_contains(
        &msg,
        &[
            "train-images-idx3-ubyte.gz",
            "truncated",
            "2×28×28 = 1568",
            "only 1468",
        ],
    );
    assert_contains(&msg, &["Check that", "original MNIST files"]);
}

#[test]
fn trailing_garbage_is_named() {
    let dir = tiny_dataset();
    replace(
        dir.path(),
        "train-labels-idx1-ubyte.gz",
        gzip(&idx_bytes(0x0801, &[2], &[5, 0, 0xAA])),
    );
    let msg = dataset_error("trailing data", dir.path());
    assert_contains(
        &msg,
        &[
            "train-labels-idx1-ubyte.gz",
            "1 byte of trailing data after the 2 bytes",
            "does not match the header",
        ],
    );
}

#[test]
fn corrupt_gzip_stream_is_named() {
    let dir = tiny_dataset();
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let mut packed = std::fs::read(&path).unwrap();
    // Flip bytes inside the deflate data: the stream or its CRC no longer holds.
    let middle = packed.len() / 2;
    for b in &mut packed[middle..middle + 4] {
        *b ^= 0x5A;
    }
    std::fs::write(&path, packed).unwrap();
    let msg = dataset_error("corrupt gzip", dir.path());
    assert_contains(&msg, &["train-images-idx3-ubyte.gz", "corrupt gzip stream"]);

    // A gzip stream cut short is just as corrupt.
    let dir = tiny_dataset();
    let path = dir.path().join("t10k-images-idx3-ubyte.gz");
    let packed = std::fs::read(&path).unwrap();
    std::fs::write(&path, &packed[..packed.len() / 2]).unwrap();
    let msg = dataset_error("cut gzip", dir.path());
    assert_contains(&msg, &["t10k-images-idx3-ubyte.gz", "corrupt gzip stream"]);
}

#[test]
fn label_count_must_match_image_count() {
    let dir = tiny_dataset();
    replace(
        dir.path(),
        "train-labels-idx1-ubyte.gz",
        gzip(&idx_bytes(0x0801, &[3], &[5, 0, 4])),
    );
    let msg = dataset_error("count mismatch", dir.path());
    assert_contains(
        &msg,
        &[
            "train-images-idx3-ubyte.gz holds 2 images",
            "train-labels-idx1-ubyte.gz holds 3 labels",
        ],
    );
}

#[test]
fn missing_file_names_directory_and_file() {
    let dir = tiny_dataset();
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let msg = dataset_error("missing file", dir.path());
    assert_contains(
        &msg,
        &[
            &dir.path().display().to_string(),
            "lacks t10k-labels-idx1-ubyte.gz (gzipped or not)",
        ],
    );

    let msg = dataset_error("missing directory", &dir.path().join("nope"));
    assert_contains(&msg, &["nope", "does not exist"]);
}

#[cfg(unix)]
#[test]
fn a_directory_that_cannot_be_searched_reports_the_real_io_error() {
    use std::os::unix::fs::PermissionsExt;
    // A symlink loop: looking the file up fails with ELOOP, even for root.
    let dir = tiny_dataset();
    let looped = dir.path().join("train-images-idx3-ubyte.gz");
    std::fs::remove_file(&looped).unwrap();
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    match mnist::load_data_from(dir.path()) {
        Err(Error::Io { path, source }) => {
            eprintln!("[symlink loop] {}: {source}", path.display());
            assert_eq!(path, looped);
            assert_eq!(source.raw_os_error(), Some(40), "ELOOP: {source}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }

    // No permission on the directory (root has them all: then only the loop is tested).
    let dir = tiny_dataset();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let denied = std::fs::read_dir(dir.path()).is_err();
    let result = mnist::load_data_from(dir.path());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if denied {
        match result {
            Err(Error::Io { path, source }) => {
                assert!(path.starts_with(dir.path()), "{}", path.display());
                assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
            }
            other => panic!("expected Error::Io, got {other:?}"),
        }
    }

    let file = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let msg = dataset_error("file, not directory", &file);
    assert_contains(&msg, &["is a file, not a directory"]);
}

#[test]
fn well_formed_but_different_content_fails_the_checksum() {
    let dir = tiny_dataset();
    let msg = dataset_error("checksum", dir.path());
    assert_contains(
        &msg,
        &[
            "checksum mismatch",
            "train-images-idx3-ubyte.gz",
            // The published hash, and the one of two 28×28 images of 7s under its header.
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            // Computed with python3's hashlib over the same header and pixels.
            "e8f619d00b5a14719a4ed61010daaec42ee9a0d7439e17e965ca306ea7522af2",
            "Check that",
        ],
    );
}

#[test]
fn datasets_variable_without_the_files_is_an_error_not_a_download() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("mnist")).unwrap();
    std::fs::copy(
        mnist_dir().join("train-images-idx3-ubyte.gz"),
        root.path().join("mnist/train-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let env = Environment {
        datasets_dir: Some(root.path().to_path_buf()),
        home: Some(root.path().join("home")),
        ..Default::default()
    };
    let mut lines = Vec::new();
    let err = mnist::MNIST
        .load_with(&env, &unreachable_downloader(), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("[DLKIT_DATASETS lacks files] {msg}");
    assert!(matches!(err, Error::Dataset(_)));
    assert_contains(
        &msg,
        &[
            &root.path().join("mnist").display().to_string(),
            "DLKIT_DATASETS",
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
        ],
    );
    assert!(lines.is_empty(), "no download attempted: {lines:?}");
    assert!(
        !root.path().join("home").exists(),
        "the cache was not touched"
    );
}

#[test]
fn both_datasets_describe_four_distinct_files() {
    for dataset in [mnist::MNIST, fashion_mnist::FASHION_MNIST] {
        let dataset: DatasetSpec = dataset;
        let mut hashes: Vec<&str> = dataset.files().iter().map(|f| f.sha256).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), 4);
        for h in &hashes {
            assert_eq!(h.len(), 64);
            assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(dataset.mirrors.len() >= 2);
    }
}

// ---- The public `load_data()` reads the process environment. Tests must not
// change their own environment (they run in parallel), so each case runs this
// test binary again as a child process with the variables set.

const CHILD_MARKER: &str = "DLKIT_TEST_CHILD";

fn run_child(test: &str, envs: &[(&str, &Path)], remove: &[&str]) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(CHILD_MARKER, "1");
    for (key, value) in envs {
        cmd.env(key, value);
    }
    for key in remove {
        cmd.env_remove(key);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {test} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child {test} did not run:\n{text}"
    );
    text
}

#[test]
#[ignore = "run as a child process by load_data_follows_the_process_environment"]
fn child_load_data() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let ((x_train, y_train), (x_test, _)) = mnist::load_data().unwrap();
    assert_eq!(x_train.dims(), [60000, 28, 28]);
    assert_eq!(x_test.dims(), [10000, 28, 28]);
    assert_eq!(labels(&y_train, 10), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    println!("CHILD LOADED");
}

#[test]
fn load_data_follows_the_process_environment() {
    let tmp = tempfile::tempdir().unwrap();

    // DLKIT_DATASETS points at the shared files; the (empty) cache stays untouched.
    let cache_home = tmp.path().join("cache");
    let out = run_child(
        "child_load_data",
        &[
            ("DLKIT_DATASETS", &datasets_dir()),
            ("XDG_CACHE_HOME", &cache_home),
        ],
        &[],
    );
    assert!(
        out.contains("CHILD LOADED") && !out.contains("Downloading"),
        "{out}"
    );
    assert!(!cache_home.exists());

    // Without DLKIT_DATASETS, a filled cache under $XDG_CACHE_HOME is used, with no download.
    let cache = cache_home.join("dlkit/datasets/mnist");
    std::fs::create_dir_all(&cache).unwrap();
    for file in mnist::MNIST.files() {
        std::fs::copy(mnist_dir().join(file.gz_name()), cache.join(file.gz_name())).unwrap();
    }
    let out = run_child(
        "child_load_data",
        &[("XDG_CACHE_HOME", &cache_home)],
        &["DLKIT_DATASETS"],
    );
    assert!(
        out.contains("CHILD LOADED") && !out.contains("Downloading"),
        "{out}"
    );

    // A relative XDG_CACHE_HOME is ignored (XDG rule): HOME's ~/.cache is used instead.
    let home = tmp.path().join("home");
    let home_cache = home.join(".cache/dlkit/datasets");
    std::fs::create_dir_all(&home_cache).unwrap();
    std::fs::rename(&cache, home_cache.join("mnist")).unwrap();
    let out = run_child(
        "child_load_data",
        &[
            ("XDG_CACHE_HOME", Path::new("relative/cache")),
            ("HOME", &home),
        ],
        &["DLKIT_DATASETS"],
    );
    assert!(
        out.contains("CHILD LOADED") && !out.contains("Downloading"),
        "{out}"
    );
}
