//! Fuzz target `policy`: see [`stowage_fuzz::policy`] for the invariants it checks.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stowage_fuzz::policy::check(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(stowage_fuzz::replay(stowage_fuzz::policy::check));
}
