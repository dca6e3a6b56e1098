//! Fuzz target: arbitrary bytes as a scenario file, through `podlab_scenario::load`.
//! Any input must end in `Ok` or an error that renders; never a panic, hang or blow-up.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("scenario.yaml", data);
    match podlab_scenario::load(&path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.position();
        }
    }
});
