#![no_main]
use libfuzzer_sys::fuzz_target;
use mailplay_modules::cyrus::{session, sieve};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = session::parse_responses(&String::from_utf8_lossy(data), false) {
        let _ = sieve::parse_state(&r);
    }
});
