//! Fuzz target `key`: see [`stowage_fuzz::key`] for the invariants it checks.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stowage_fuzz::key::check(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(stowage_fuzz::replay(stowage_fuzz::key::check));
}
