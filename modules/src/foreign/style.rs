//! How an Ansible module file wants its arguments, decided from its text
//! as ansible-core's `module_common` decides it.

/// The kinds of module files Ansible runs on a POSIX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// Python importing `ansible.module_utils`: run by the host's Python
    /// with ansible-core's module_utils beside it, the arguments as
    /// `{"ANSIBLE_MODULE_ARGS": ...}` on standard input.
    NewPython,
    /// `WANT_JSON` anywhere in the text: the path of a file holding the
    /// arguments as JSON is the first argument.
    WantJson,
    /// `<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>` in the text is replaced by the
    /// arguments as JSON; no argument file.
    JsonArgs,
    /// A compiled program: the JSON argument file is its first argument.
    Binary,
    /// Anything else: the first argument is a file of `key=value` words.
    Old,
}

const REPLACER: &[u8] = b"#<<INCLUDE_ANSIBLE_MODULE_COMMON>>";
pub const REPLACER_JSONARGS: &str = "<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>";
pub const REPLACER_COMPLEX: &str = "\"<<INCLUDE_ANSIBLE_MODULE_COMPLEX_ARGS>>\"";
pub const REPLACER_VERSION: &str = "\"<<ANSIBLE_VERSION>>\"";
pub const REPLACER_SELINUX: &str = "<<SELINUX_SPECIAL_FILESYSTEMS>>";

/// The style of a module's file content.
pub fn detect(content: &[u8]) -> Style {
    if content.contains(&0) {
        return Style::Binary;
    }
    if contains(content, REPLACER) || imports_module_utils(content) {
        return Style::NewPython;
    }
    if contains(content, REPLACER_JSONARGS.as_bytes()) {
        return Style::JsonArgs;
    }
    if contains(content, b"WANT_JSON") {
        return Style::WantJson;
    }
    Style::Old
}

/// A collection's module_utils (`ansible_collections.ns.col.plugins.module_utils`)
/// is not something mailplay can send.
pub fn imports_collection_utils(content: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content);
    text.lines()
        .map(str::trim_start)
        .any(|l| (l.starts_with("from ansible_collections.") || l.starts_with("import ansible_collections.")) && l.contains("module_utils"))
}

/// Ansible's NEW_STYLE_PYTHON_MODULE_RE: `from ansible.module_utils... import`,
/// `import ansible.module_utils.`, or a relative `from ..module_utils import`.
fn imports_module_utils(content: &[u8]) -> bool {
    static RE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::bytes::Regex::new(
            r"(?:from +\.{2,} *module_utils.* +import |from +ansible\.module_utils.* +import |import +ansible\.module_utils\.)",
        )
        .expect("static regex")
    });
    re.is_match(content)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The interpreter a text module's `#!` line names, as Ansible reads it:
/// `#!/usr/bin/env perl` → ("perl", "/usr/bin/env perl"), `#!/bin/bash -e`
/// → ("bash", "/bin/bash -e"). `None` without a `#!` line.
pub fn shebang(content: &[u8]) -> Option<(String, String)> {
    let first = content.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    let mut words = line.split_whitespace();
    let program = words.next()?;
    let name = if program.rsplit('/').next() == Some("env") { words.next()? } else { program.rsplit('/').next()? };
    Some((name.to_string(), line.to_string()))
}

/// Ansible's key=value argument text for an old-style module: each value
/// quoted for the shell (`shlex.quote`).
pub fn old_style_args(args: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::new();
    for (k, v) in args {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("{k}={} ", shell_words::quote(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_told_apart_as_ansible_does() {
        assert_eq!(detect(b"#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\n"), Style::NewPython);
        assert_eq!(detect(b"import ansible.module_utils.basic\n"), Style::NewPython);
        assert_eq!(detect(b"from ..module_utils.foo import bar\n"), Style::NewPython);
        assert_eq!(detect(b"#!/bin/sh\n#<<INCLUDE_ANSIBLE_MODULE_COMMON>>\n"), Style::NewPython);
        assert_eq!(detect(b"#!/usr/bin/python\n# WANT_JSON\nimport json\n"), Style::WantJson);
        assert_eq!(detect(b"#!/usr/bin/python\nargs = <<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>\n"), Style::JsonArgs);
        assert_eq!(detect(b"\x7fELF\x02\x01\x01\0\0"), Style::Binary);
        assert_eq!(detect(b"#!/bin/sh\n. \"$1\"\necho '{}'\n"), Style::Old);
    }

    #[test]
    fn collection_module_utils_are_noticed() {
        assert!(imports_collection_utils(b"from ansible_collections.ns.col.plugins.module_utils.x import y\n"));
        assert!(!imports_collection_utils(b"from ansible.module_utils.basic import AnsibleModule\n"));
    }

    #[test]
    fn the_shebang_names_the_interpreter() {
        assert_eq!(shebang(b"#!/usr/bin/env perl\nprint 1"), Some(("perl".into(), "/usr/bin/env perl".into())));
        assert_eq!(shebang(b"#!/bin/bash -e\n"), Some(("bash".into(), "/bin/bash -e".into())));
        assert_eq!(shebang(b"#!/usr/bin/python\n"), Some(("python".into(), "/usr/bin/python".into())));
        assert_eq!(shebang(b"no shebang"), None);
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/env\n"), None);
    }

    #[test]
    fn old_style_arguments_are_shell_quoted_words() {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), "two words".into());
        m.insert("count".into(), 3.into());
        assert_eq!(old_style_args(&m), "name='two words' count=3 ");
    }
}
