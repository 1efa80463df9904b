//! The engine's parsers of input mailplay does not fully control, fuzzed
//! within `cargo test`: the INI inventory parser (with host ranges), the
//! Python-literal parser, YAML loading, templating and the SSH helper's
//! reply decoder. No input may panic, abort, overflow the stack or
//! allocate without bound (see `fuzz/harness.rs`; corpora in
//! `fuzz/corpus/<target>/`).

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;
use std::sync::Arc;

use mailplay::inventory::{parse_value, Inventory};
use mailplay::template::{Scope, Templar};
use serde_json::json;

#[global_allocator]
static ALLOC: harness::Limited = harness::Limited;

#[test]
fn ini_inventory() {
    let dict: &[&[u8]] = &[
        b"[",
        b"]",
        b":",
        b"[1:3]",
        b"[a:c]",
        b"[01:10:2]",
        b":children]",
        b":vars]",
        b"=",
        b" x=",
        b"'",
        b"\"",
        b"#",
        b"\n",
        b"[[",
        b"{'k': ",
        b"(1, ",
        b"0x",
        b"True",
    ];
    harness::run("ini", dict, 1500, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(inv) = Inventory::from_ini_str(&text, Path::new("fuzz.ini")) {
            // Listing 100000 hosts takes seconds in a debug build.
            if inv.hosts.len() <= 1000 {
                let _ = inv.to_list_json();
            }
        }
    });
}

#[test]
fn python_literal() {
    let dict: &[&[u8]] = &[
        b"[", b"]", b"(", b")", b"{", b"}", b":", b",", b"'", b"\"", b"\\", b"True", b"None", b"0x", b"0o", b"0b", b"1e308", b"-", b"_",
        b".5",
    ];
    harness::run("literal", dict, 20000, |input| {
        let _ = parse_value(&String::from_utf8_lossy(input));
    });
}

#[test]
fn yaml_loading() {
    let dict: &[&[u8]] = &[
        b"- ", b": ", b"\n  ", b"[", b"]", b"{", b"}", b"&a ", b"*a", b"<<: ", b"!!str ", b"|\n", b">-\n", b"---\n", b"'", b"\"", b"\t",
        b"0644", b"yes", b"? ",
    ];
    harness::run("yaml", dict, 3000, |input| {
        if let Ok(node) = mailplay::yaml::parse_str(&String::from_utf8_lossy(input), Path::new("fuzz.yml")) {
            let _ = node.to_value();
            let _ = node.key_string();
        }
    });
}

/// Names that reach the controller's shell or files: the fuzzer must not
/// run `lookup('pipe', ...)` with random commands.
fn calls_lookups(text: &str) -> bool {
    let words = regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid");
    let found = words.find_iter(text).any(|w| matches!(w.as_str(), "lookup" | "query" | "q" | "include" | "import" | "from" | "extends"));
    found
}

#[test]
fn templating() {
    let dict: &[&[u8]] = &[
        b"{{ ",
        b" }}",
        b"{% for i in range(3) %}",
        b"{% endfor %}",
        b"{% if x %}",
        b"{% endif %}",
        b"{% set s = ",
        b" | ",
        b"default(",
        b"join(',')",
        b"combine(",
        b"product(",
        b"flatten",
        b"to_json",
        b"from_yaml",
        b"regex_replace('a', 'b')",
        b"*",
        b"~",
        b"(",
        b")",
        b"[",
        b"]",
        b"{#",
        b"#}",
        b"{% macro m() %}",
        b"{% endmacro %}",
        b"users",
        b"loop.index",
        b"'x'",
    ];
    let mut scope = Scope::new();
    scope.push(Arc::new(json!({"x": 1, "users": ["a", "b"], "d": {"k": [1, 2]}, "s": "text"}).as_object().unwrap().clone()));
    let templar = Templar::new();
    harness::run("template", dict, 3000, |input| {
        let text = String::from_utf8_lossy(input);
        if calls_lookups(&text) {
            return;
        }
        let _ = templar.check_syntax(&text);
        let _ = templar.render_value(&serde_json::Value::String(text.to_string()), &scope);
    });
}

#[test]
fn ssh_helper_replies() {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let dict: &[&[u8]] = &[&[0, 0, 0, 0], &[0xff, 0xff, 0xff, 0xff], &[0, 0, 0, 5], &[0x7f, 0xff, 0xff, 0xff], &[0x10, 0, 0, 1]];
    harness::run("framing", dict, 20000, |input| {
        rt.block_on(async {
            let mut r = input;
            // Replies back to back, as on one helper's stdout.
            while mailplay::connection::framing::decode(&mut r).await.is_ok() {}
        });
    });
}
