//! Fuzzes `zoo_datasets::fuzzing::image`: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zoo_datasets::fuzzing::image(data));
