//! Fuzzes `zoo_datasets::fuzzing::cifar`: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zoo_datasets::fuzzing::cifar(data));
