//! The IDX format of MNIST-style datasets, and reading such a file whether gzipped or not.
//!
//! An IDX file is a 4-byte magic number `00 00 TT DD` (`TT` the element type,
//! `0x08` = unsigned byte; `DD` the number of dimensions), then `DD` big-endian
//! `u32` sizes, then the elements in row-major order — nothing before, nothing after.
//! Image files are `0x00000803` (count, rows, columns), label files `0x00000801`.
//!
//! ```
//! use dlkit::datasets::idx;
//! use std::path::Path;
//!
//! // Two labels, 7 and 3.
//! let bytes = vec![0, 0, 0x08, 1, 0, 0, 0, 2, 7, 3];
//! let labels = idx::parse_u8(bytes, 1, Path::new("labels.idx"))?;
//! assert_eq!(labels.dims, vec![2]);
//! assert_eq!(labels.data, vec![7, 3]);
//! # Ok::<(), dlkit::Error>(())
//! ```

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// The first two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// IDX element type code of unsigned bytes, the only one MNIST-style files use.
pub const UNSIGNED_BYTE: u8 = 0x08;

/// Decompression stops here: the largest MNIST-style file is 47 MB, and a
/// small damaged or hostile gzip file must not exhaust memory.
pub const MAX_INFLATED_BYTES: u64 = 1 << 30;

/// An IDX array of unsigned bytes: its sizes and its elements in row-major order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads a file whole, decompressing it if it starts with the gzip magic bytes.
///
/// A file that cannot be read is an [`Error::Io`]; a damaged gzip stream an
/// [`Error::Dataset`] naming the file.
pub fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decompress_if_gzipped(raw, path)
}

/// Decompresses `raw` if it starts with the gzip magic bytes, else returns it as is.
/// `origin` names the data in errors.
pub fn decompress_if_gzipped(raw: Vec<u8>, origin: &Path) -> Result<Vec<u8>> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    // MNIST's images inflate about five-fold; reserving avoids repeated regrowth.
    let mut inflated = Vec::with_capacity(raw.len().saturating_mul(5));
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| {
            let progress = match inflated.len() {
                0 => String::new(),
                n => format!(" after {} decompressed", plural(n, "byte")),
            };
            Error::Dataset(format!(
                "{}: corrupt gzip stream ({e}){progress}",
                origin.display()
            ))
        })?;
    if inflated.len() as u64 > MAX_INFLATED_BYTES {
        return Err(Error::Dataset(format!(
            "{}: decompresses to more than {MAX_INFLATED_BYTES} bytes, far more than an MNIST-style file",
            origin.display()
        )));
    }
    Ok(inflated)
}

/// Parses IDX `bytes` that must hold unsigned bytes in `ndim` dimensions.
///
/// Every way the bytes can disagree with that — another magic number, another
/// element type, a short header, fewer or more data bytes than the header
/// announces — is an [`Error::Dataset`] that names `origin`.
pub fn parse_u8(mut bytes: Vec<u8>, ndim: usize, origin: &Path) -> Result<IdxArray> {
    let fail = |msg: String| Error::Dataset(format!("{}: {msg}", origin.display()));
    // The magic number holds the count of dimensions in one byte.
    let Ok(ndim_byte) = u8::try_from(ndim) else {
        return Err(Error::InvalidArgument(format!(
            "idx::parse_u8: IDX files have at most 255 dimensions; asked for {ndim}"
        )));
    };
    let expected_magic = 0x0800 | u32::from(ndim_byte);

    if bytes.len() < 4 {
        return Err(fail(format!(
            "too short to be an IDX file: {} bytes, while the magic number alone takes 4",
            bytes.len()
        )));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(format!(
            "not an IDX file: it starts with 0x{magic:08X}, expected the magic number 0x{expected_magic:08X} ({})",
            describe_ndim(ndim)
        )));
    }
    if bytes[2] != UNSIGNED_BYTE {
        return Err(fail(format!(
            "magic number 0x{magic:08X} announces elements of type 0x{:02X} ({}), \
             expected 0x{expected_magic:08X} (unsigned bytes, {})",
            bytes[2],
            describe_element_type(bytes[2]),
            describe_ndim(ndim)
        )));
    }
    let found_ndim = usize::from(bytes[3]);
    if found_ndim != ndim {
        return Err(fail(format!(
            "magic number 0x{magic:08X} announces {}, expected 0x{expected_magic:08X} ({})",
            describe_ndim(found_ndim),
            describe_ndim(ndim)
        )));
    }

    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(fail(format!(
            "truncated header: {} bytes, while the magic number and {ndim} sizes take {header_len}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let shape = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let expected_len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            fail(format!(
                "the header's sizes {shape} are too large to hold in memory"
            ))
        })?;

    let announced = if ndim == 1 {
        plural(expected_len, "byte")
    } else {
        format!("{shape} = {}", plural(expected_len, "byte"))
    };
    let data_len = bytes.len() - header_len;
    if data_len < expected_len {
        return Err(fail(format!(
            "truncated: the header announces {announced} of data, the file holds only {data_len}"
        )));
    }
    if data_len > expected_len {
        return Err(fail(format!(
            "size does not match the header: {} of trailing data after the {announced} it announces",
            plural(data_len - expected_len, "byte")
        )));
    }

    bytes.drain(..header_len);
    Ok(IdxArray { dims, data: bytes })
}

fn plural(n: usize, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn describe_ndim(ndim: usize) -> String {
    match ndim {
        1 => "1 dimension, a label file".to_string(),
        3 => "3 dimensions, an image file".to_string(),
        n => format!("{n} dimensions"),
    }
}

fn describe_element_type(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => "not an IDX type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes
    }

    fn parse(bytes: Vec<u8>, ndim: usize) -> Result<IdxArray> {
        parse_u8(bytes, ndim, Path::new("f.idx"))
    }

    fn message(result: Result<IdxArray>) -> String {
        match result {
            Err(Error::Dataset(m)) => m,
            other => panic!("expected a dataset error, got {other:?}"),
        }
    }

    #[test]
    fn parses_images_row_major() {
        let mut bytes = header(0x0803, &[2, 2, 3]);
        bytes.extend(0..12u8);
        let a = parse(bytes, 3).unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        assert_eq!(a.data, (0..12u8).collect::<Vec<_>>());
    }

    #[test]
    fn empty_array_is_fine() {
        let a = parse(header(0x0801, &[0]), 1).unwrap();
        assert_eq!(a.dims, vec![0]);
        assert!(a.data.is_empty());
    }

    #[test]
    fn rejects_label_file_where_images_expected() {
        let mut bytes = header(0x0801, &[3]);
        bytes.extend([1, 2, 3]);
        let m = message(parse(bytes, 3));
        assert!(m.starts_with("f.idx: "), "{m}");
        assert!(m.contains("0x00000801") && m.contains("0x00000803"), "{m}");
        assert!(m.contains("a label file"), "{m}");
    }

    #[test]
    fn rejects_other_element_types_and_garbage() {
        let m = message(parse(header(0x0D01, &[0]), 1));
        assert!(m.contains("0x0D (f32)"), "{m}");
        let m = message(parse(b"<html>".to_vec(), 1));
        assert!(
            m.contains("not an IDX file") && m.contains("0x3C68746D"),
            "{m}"
        );
        let m = message(parse(vec![0, 0], 1));
        assert!(m.contains("too short"), "{m}");
    }

    #[test]
    fn rejects_truncated_header_and_data() {
        let m = message(parse(header(0x0803, &[1, 2]), 3));
        assert!(
            m.contains("truncated header: 12 bytes") && m.contains("take 16"),
            "{m}"
        );
        let mut bytes = header(0x0803, &[2, 2, 2]);
        bytes.extend([0; 7]);
        let m = message(parse(bytes, 3));
        assert!(
            m.contains("truncated") && m.contains("2×2×2 = 8") && m.contains("only 7"),
            "{m}"
        );
    }

    #[test]
    fn rejects_trailing_data() {
        let mut bytes = header(0x0801, &[2]);
        bytes.extend([1, 2, 3, 4, 5]);
        let m = message(parse(bytes, 1));
        assert!(
            m.contains("3 bytes of trailing data after the 2 bytes"),
            "{m}"
        );
    }

    #[test]
    fn more_dimensions_than_idx_can_hold_is_an_argument_error() {
        let err = parse(header(0x0801, &[0]), usize::MAX).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert!(err.to_string().contains("at most 255"), "{err}");
    }

    #[test]
    fn rejects_overflowing_sizes() {
        let m = message(parse(header(0x0803, &[u32::MAX, u32::MAX, u32::MAX]), 3));
        assert!(m.contains("too large"), "{m}");
    }

    #[test]
    fn reads_plain_and_gzipped_files_alike() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let content = header(0x0801, &[3])
            .into_iter()
            .chain([4, 5, 6])
            .collect::<Vec<u8>>();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, &content).unwrap();
        let gz = dir.path().join("packed.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&content).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_maybe_gzipped(&plain).unwrap(), content);
        assert_eq!(read_maybe_gzipped(&gz).unwrap(), content);

        let mut broken = std::fs::read(&gz).unwrap();
        broken.truncate(broken.len() - 6);
        std::fs::write(&gz, &broken).unwrap();
        match read_maybe_gzipped(&gz) {
            Err(Error::Dataset(m)) => assert!(m.contains("packed.gz: corrupt gzip stream"), "{m}"),
            other => panic!("expected a corrupt-gzip error, got {other:?}"),
        }
        match read_maybe_gzipped(&dir.path().join("absent")) {
            Err(Error::Io { path, .. }) => assert!(path.ends_with("absent")),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}
