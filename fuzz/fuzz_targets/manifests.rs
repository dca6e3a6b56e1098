//! Fuzz target: arbitrary bytes as a manifest file, through
//! `podlab_scenario::load_manifests`. Must end in `Ok` or an error that renders.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("manifests.yaml", data);
    match podlab_scenario::load_manifests(&path) {
        Ok((objects, warnings)) => {
            for o in &objects {
                let _ = o.origin();
            }
            for w in &warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.position();
        }
    }
});
