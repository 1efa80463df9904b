//! Python `re` patterns (lineinfile's regexp/insertafter/insertbefore, with
//! backreferences through fancy-regex) and `match.expand` templates,
//! fuzzed within `cargo test` (see `fuzz/harness.rs`; corpus in
//! `fuzz/corpus/py_re/`): a pattern is user text and may never panic,
//! abort, or backtrack without bound.

#[path = "../../fuzz/harness.rs"]
mod harness;

use mailplay_modules::builtin::py_re::{expand, PyRe};

#[global_allocator]
static ALLOC: harness::Limited = harness::Limited;

#[test]
fn python_patterns_and_expand_templates() {
    let dict: &[&[u8]] = &[
        b"(", b")", b"\\1", b"\\g<1>", b"\\g<n>", b"(?P<n>", b"(?!", b"(?<=", b"\\Z", b"$", b"^", b"+", b"*", b"{2,}", b"[", b"]", b"\\",
        b".*", b"|", b"(?i)",
    ];
    let lines = ["REF and more REF\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "", "foo bar\n"];
    harness::run("py_re", dict, 3000, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(re) = PyRe::new(&text) {
            for line in lines {
                if let Ok(Some(c)) = re.search(line) {
                    let _ = expand(&c, &text);
                }
            }
        }
    });
}
