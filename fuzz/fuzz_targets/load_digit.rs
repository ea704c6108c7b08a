//! Pictures of digits (PNG, JPEG, ...): `load_digit_from_memory`.
//! A panic or an abort is a bug; a clean `Err` is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = dlkit::image::load_digit_from_memory(data) {
        assert_eq!(t.dims(), [28, 28]);
    }
});
