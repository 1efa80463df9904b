#![no_main]
use libfuzzer_sys::fuzz_target;
use mailplay_modules::cyrus::cyrus_conf::{self, Change, Field};
use mailplay_modules::cyrus::imapd_conf;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let set = Change::Set { fields: vec![Field { key: "cmd".into(), value: "imapd -U 30".into() }], exclusive: true };
    if let Ok(c) = cyrus_conf::parse(&text) {
        let _ = c.edit("SERVICES", "imap", &set);
        let _ = c.edit("SERVICES", "imap", &Change::Remove);
    }
    let _ = imapd_conf::edit(&text, &[("admins".into(), Some("cyrus".into())), ("allowplaintext".into(), None)]);
    let _ = imapd_conf::mask(&text);
});
