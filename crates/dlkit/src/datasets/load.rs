//! Reads a dataset's four IDX files from one directory into tensors, checking
//! their structure, that images and labels agree, and their SHA-256.
//!
//! Each file may be gzipped (`name.gz`) or not (`name`); the content is
//! recognised by its first bytes, not by its name. Checksums are those of the
//! decompressed content, so any mirror's or any tool's gzip is accepted.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::idx::{self, IdxArray};
use super::sha256::sha256_hex;
use super::{DatasetFile, DatasetSpec, LoadedData, Location};
use crate::{Error, Result};

/// The path of `file` in `dir`, gzipped or not, if it is there.
///
/// Only "no such file" means absent: any other failure to look (no permission
/// on the directory, a symlink loop) is that I/O error, not a missing file.
pub(crate) fn find_file(dir: &Path, file: &DatasetFile) -> Result<Option<PathBuf>> {
    for path in [dir.join(file.gz_name()), dir.join(file.name)] {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => return Ok(Some(path)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(None)
}

/// One file read, decompressed, parsed and hashed (the hash not yet compared).
pub(crate) struct ParsedFile {
    pub path: PathBuf,
    pub array: IdxArray,
    pub sha256: String,
}

/// Reads, decompresses and parses `path` as `file`; errors name `path`.
pub(crate) fn parse_file(path: &Path, file: &DatasetFile) -> Result<ParsedFile> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_bytes(raw, path, file, path)
}

/// Decompresses, parses and hashes `raw`, read from `path`; errors name `shown_as`.
pub(crate) fn parse_bytes(
    raw: Vec<u8>,
    path: &Path,
    file: &DatasetFile,
    shown_as: &Path,
) -> Result<ParsedFile> {
    let bytes = idx::decompress_if_gzipped(raw, shown_as)?;
    let sha256 = sha256_hex(&bytes);
    let array = idx::parse_u8(bytes, file.ndim, shown_as)?;
    Ok(ParsedFile {
        path: path.to_path_buf(),
        array,
        sha256,
    })
}

/// The error for content whose SHA-256 is not the published one, or `Ok`.
fn check_sha256(
    dataset: &DatasetSpec,
    file: &DatasetFile,
    parsed: &ParsedFile,
) -> std::result::Result<(), String> {
    if parsed.sha256 == file.sha256 {
        return Ok(());
    }
    Err(format!(
        "{}: checksum mismatch for {}: the decompressed content has SHA-256 {}, the {} file {} has SHA-256 {}.",
        dataset.title,
        parsed.path.display(),
        parsed.sha256,
        dataset.title,
        file.name,
        file.sha256
    ))
}

/// Loads `dataset` from `location.dir` as `((x_train, y_train), (x_test, y_test))`.
pub(crate) fn load_dir(dataset: &DatasetSpec, location: &Location) -> Result<LoadedData> {
    dataset.check()?;
    let dir = &location.dir;
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::Dataset(format!(
                "{}: {location} is a file, not a directory. {}",
                dataset.title,
                put_files_there(dataset, location)
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Dataset(format!(
                "{}: the directory {location} does not exist. {}",
                dataset.title,
                put_files_there(dataset, location)
            )))
        }
        Err(e) => {
            // A file where a parent directory should be ("Not a directory").
            return Err(match crate::fs::file_in_the_way(dir) {
                Some(file) => Error::Dataset(format!(
                    "{}: {location} cannot be a directory: {} is a file. {}",
                    dataset.title,
                    file.display(),
                    put_files_there(dataset, location)
                )),
                None => Error::io(dir, e),
            });
        }
    }
    // A directory that cannot be listed cannot be searched either: say so, not "lacks".
    std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut missing = Vec::new();
    for file in dataset.files() {
        if find_file(dir, file)?.is_none() {
            missing.push(file.gz_name());
        }
    }
    if !missing.is_empty() {
        return Err(Error::Dataset(format!(
            "{}: the directory {location} lacks {} (gzipped or not). {}",
            dataset.title,
            missing.join(", "),
            put_files_there(dataset, location)
        )));
    }

    let parse = |file: &DatasetFile| -> Result<ParsedFile> {
        let path = find_file(dir, file)?.ok_or_else(|| {
            Error::Dataset(format!(
                "{}: {} disappeared from {location} while loading.",
                dataset.title,
                file.gz_name()
            ))
        })?;
        parse_file(&path, file).map_err(|err| match err {
            Error::Dataset(msg) => Error::Dataset(format!(
                "{}: {msg}. {}",
                dataset.title,
                location.advice_for_bad_file(dataset, &path)
            )),
            other => other,
        })
    };
    let train_images = parse(&dataset.train_images)?;
    let train_labels = parse(&dataset.train_labels)?;
    let test_images = parse(&dataset.test_images)?;
    let test_labels = parse(&dataset.test_labels)?;

    for (images, labels) in [(&train_images, &train_labels), (&test_images, &test_labels)] {
        let (n_images, n_labels) = (images.array.dims[0], labels.array.dims[0]);
        if n_images != n_labels {
            return Err(Error::Dataset(format!(
                "{}: {} holds {n_images} images but {} holds {n_labels} labels. {}",
                dataset.title,
                images.path.display(),
                labels.path.display(),
                location.advice_for_bad_file(dataset, &labels.path)
            )));
        }
    }
    for (file, parsed) in [
        (&dataset.train_images, &train_images),
        (&dataset.train_labels, &train_labels),
        (&dataset.test_images, &test_images),
        (&dataset.test_labels, &test_labels),
    ] {
        check_sha256(dataset, file, parsed).map_err(|msg| {
            Error::Dataset(format!(
                "{msg} {}",
                location.advice_for_bad_file(dataset, &parsed.path)
            ))
        })?;
    }

    Ok((
        (into_tensor(train_images)?, into_tensor(train_labels)?),
        (into_tensor(test_images)?, into_tensor(test_labels)?),
    ))
}

fn into_tensor(parsed: ParsedFile) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        parsed.array.data,
        parsed.array.dims,
        &Device::Cpu,
    )?)
}

fn put_files_there(dataset: &DatasetSpec, location: &Location) -> String {
    use super::Origin;
    let names = dataset
        .files()
        .iter()
        .map(|f| f.gz_name())
        .collect::<Vec<_>>()
        .join(", ");
    match location.origin {
        Origin::Argument => format!("Put the {} files there: {names}.", dataset.title),
        Origin::EnvVar => format!(
            "Put the {} files there ({names}), or unset {} to download them into the cache.",
            dataset.title,
            super::locate::DATASETS_VAR
        ),
        Origin::Cache => format!(
            "The download did not complete; load again to retry, or put the files there yourself: {names}."
        ),
    }
}
