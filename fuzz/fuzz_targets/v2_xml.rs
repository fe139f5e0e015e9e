//! `cargo fuzz run v2_xml`: the body is `harness::v2_xml_target`, shared with
//! `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/mod.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::v2_xml_target(data));
