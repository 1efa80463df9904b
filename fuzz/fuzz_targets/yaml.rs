#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = mailplay::yaml::parse_str(&String::from_utf8_lossy(data), std::path::Path::new("fuzz.yml")) {
        let _ = node.to_value();
    }
});
