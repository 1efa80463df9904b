//! The Cyrus IMAP and ManageSieve reply parsers, fuzzed within `cargo test`
//! (see `fuzz/harness.rs`; corpora in `fuzz/corpus/{imap,managesieve}/`):
//! a server's reply is untrusted data and may never panic, abort or make
//! mailplay allocate beyond what arrived.

#[path = "../../fuzz/harness.rs"]
mod harness;

use mailplay_modules::cyrus::cyrus_conf::{self, Change, Field};
use mailplay_modules::cyrus::session::{parse_responses, tagged_status};
use mailplay_modules::cyrus::{imapd_conf, mailbox, sieve};

#[global_allocator]
static ALLOC: harness::Limited = harness::Limited;

const DICT: &[&[u8]] = &[
    b"\r\n",
    b"* ",
    b"OK",
    b"NO",
    b"BYE",
    b"(",
    b")",
    b"{5}\r\n",
    b"{0}\r\n",
    b"{4294967296}\r\n",
    b"{3+}\r\n",
    b"\"",
    b"\\",
    b"[",
    b"]",
    b"NIL",
    b"ACL",
    b"QUOTA",
    b"METADATA",
    b"LIST",
    b"STORAGE",
    b"ACTIVE",
    b"t1 ",
    b"a ",
];

#[test]
fn imap_replies() {
    harness::run("imap", DICT, 10000, |input| {
        if let Ok(r) = parse_responses(&String::from_utf8_lossy(input), true) {
            let _ = mailbox::parse_state("user.u.Junk@example.org", &r);
            let _ = tagged_status(&r, "t1");
        }
    });
}

#[test]
fn managesieve_replies() {
    harness::run("managesieve", DICT, 10000, |input| {
        if let Ok(r) = parse_responses(&String::from_utf8_lossy(input), false) {
            let _ = sieve::parse_state(&r);
        }
    });
}

/// cyrus.conf and imapd.conf as read from the host: parsed and edited.
#[test]
fn cyrus_config_files() {
    let dict: &[&[u8]] = &[b"{", b"}", b"\n", b"\\\n", b"\"", b"=", b":", b"#", b"SERVICES", b"imap", b"cmd=", b"listen=", b" "];
    let set = Change::Set { fields: vec![Field { key: "cmd".into(), value: "imapd -U 30".into() }], exclusive: true };
    harness::run("cyrus_conf", dict, 5000, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(c) = cyrus_conf::parse(&text) {
            let _ = c.edit("SERVICES", "imap", &set);
            let _ = c.edit("SERVICES", "imap", &Change::Remove);
            let _ = c.edit("NEW", "x", &set);
        }
        let _ = imapd_conf::edit(&text, &[("admins".into(), Some("cyrus".into())), ("allowplaintext".into(), None)]);
        let _ = imapd_conf::mask(&text);
    });
}
