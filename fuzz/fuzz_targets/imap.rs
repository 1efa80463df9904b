#![no_main]
use libfuzzer_sys::fuzz_target;
use mailplay_modules::cyrus::{mailbox, session};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = session::parse_responses(&String::from_utf8_lossy(data), true) {
        let _ = mailbox::parse_state("user.u.Junk@example.org", &r);
        let _ = session::tagged_status(&r, "t1");
    }
});
