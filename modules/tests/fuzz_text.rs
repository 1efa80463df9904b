//! Python `re` patterns (lineinfile's regexp/insertafter/insertbefore, with
//! backreferences through fancy-regex) and `match.expand` templates, and
//! the replies of Ansible modules run from library folders (host data),
//! fuzzed within `cargo test` (see `fuzz/harness.rs`; corpora in
//! `fuzz/corpus/py_re/` and `fuzz/corpus/module_reply/`): no input may
//! panic, abort, or backtrack without bound.

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

/// What an Ansible module from a library folder prints on the host: its
/// JSON answer among other lines, read into a typed result.
#[test]
fn ansible_module_replies() {
    let dict: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\n",
        b"\"changed\": ",
        b"\"failed\": ",
        b"\"diff\": ",
        b"\"ansible_facts\": ",
        b"true",
        b"null",
        b",",
        b":",
    ];
    harness::run("module_reply", dict, 5000, |input| {
        let out = mailplay_modules::host::CommandOutput { rc: 0, stdout: input.to_vec(), stderr: input.to_vec() };
        let _ = mailplay_modules::foreign::interpret(&out, Some("/usr/bin/python3"));
        let _ = mailplay_modules::foreign::json_lines(&String::from_utf8_lossy(input));
    });
}
