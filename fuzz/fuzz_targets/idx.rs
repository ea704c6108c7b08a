//! IDX files, gzipped or not: `decompress_if_gzipped` then `parse_u8`.
//! A panic or an abort is a bug; a clean `Err` is fine.
#![no_main]

use dlkit::datasets::idx;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let origin = Path::new("fuzz/input");
    let Ok(raw) = idx::decompress_if_gzipped(data.to_vec(), origin) else {
        return;
    };
    // The number of dimensions the file claims (its magic number's last
    // byte), and those of MNIST's labels and images, which mismatch it.
    let claimed = raw.get(3).map_or(1, |&d| usize::from(d));
    let mut ndims = vec![claimed, 1, 3];
    ndims.dedup();
    for ndim in ndims {
        if let Ok(array) = idx::parse_u8(raw.clone(), ndim, origin) {
            assert_eq!(array.dims.len(), ndim);
            let values = array.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            assert_eq!(
                values,
                Some(array.data.len()),
                "dims {:?}, {} data bytes",
                array.dims,
                array.data.len()
            );
        }
    }
});
