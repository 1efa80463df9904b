//! Which text may become an expression or a template.
//!
//! ansible-core 2.19 tags every string it reads from a trusted source
//! (playbooks and task files, roles, vars files and `include_vars`,
//! inventories with their group_vars/host_vars, extra vars) as
//! `TrustedAsTemplate`; only such a string is evaluated as an expression
//! or rendered as a template. What hosts, modules and templates produce
//! carries no tag. mailplay's values carry no tags, so it keeps the tag's
//! content instead: the set of every scalar text the user wrote in a
//! trusted source, filled as the loaders read them. A string is trusted
//! iff its exact text is in the set.
//!
//! Text a host produced is thereby trusted only when it is byte-identical
//! to text the user wrote: evaluating it evaluates what the user wrote, so
//! it is exactly as safe as the playbook itself. Any other text a host or
//! a template produced stays refused. Never added: `!unsafe` values, text
//! that only exists after rendering, and mapping keys (a key names a
//! variable; Ansible refuses `debug: var: '{{ "name" }}'` although the
//! playbook defines `name`).
//!
//! A process runs one playbook run, so the set is the process's. It only
//! grows: an `include_vars` file read at run time adds its text.

use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};

use serde_json::Value;

use crate::yaml::{Node, NodeKind};

static TRUSTED: LazyLock<RwLock<HashSet<Box<str>>>> = LazyLock::new(|| RwLock::new(HashSet::new()));

/// Remember one scalar the user wrote (a `!unsafe` one is not trusted).
pub fn remember(text: &str) {
    if super::unsafe_text(text).is_some() {
        return;
    }
    if is_trusted(text) {
        return;
    }
    TRUSTED.write().unwrap_or_else(|e| e.into_inner()).insert(text.into());
}

/// Remember every string value of a YAML document read from a trusted
/// source (mapping keys are not values; see the module's comment).
pub fn remember_node(node: &Node) {
    match &node.kind {
        NodeKind::Str(s) => remember(s),
        NodeKind::Seq(items) => items.iter().for_each(remember_node),
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| remember_node(v)),
        _ => {}
    }
}

/// Remember every string value of data from a trusted source that did not
/// come through YAML (INI inventory values, `-e key=value`).
pub fn remember_value(v: &Value) {
    match v {
        Value::String(s) => remember(s),
        Value::Array(items) => items.iter().for_each(remember_value),
        Value::Object(m) => m.values().for_each(remember_value),
        _ => {}
    }
}

/// Did the user write exactly this text in a trusted source?
pub fn is_trusted(text: &str) -> bool {
    TRUSTED.read().unwrap_or_else(|e| e.into_inner()).contains(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(yaml: &str) -> Node {
        crate::yaml::parse_str(yaml, std::path::Path::new("t.yml")).unwrap()
    }

    #[test]
    fn values_the_user_wrote_are_trusted_keys_and_unsafe_ones_are_not() {
        remember_node(&node("trust_t_key_1: trust_t value == 1\nlist: ['trust_t {{ item }}', 7]\nu: !unsafe trust_t_unsafe_1\n"));
        assert!(is_trusted("trust_t value == 1"));
        assert!(is_trusted("trust_t {{ item }}"));
        assert!(!is_trusted("trust_t_key_1"), "a mapping key names a variable");
        assert!(!is_trusted("trust_t_unsafe_1"));
        assert!(!is_trusted(&crate::template::mark_unsafe("trust_t_unsafe_1")));
        // What rendering the template gives is not what the user wrote.
        assert!(!is_trusted("trust_t 1"));
    }

    #[test]
    fn values_from_other_trusted_sources_are_trusted() {
        remember_value(&json!({"k": ["trust_t_ini == 2", {"n": "trust_t_ini_nested"}], "i": 3}));
        assert!(is_trusted("trust_t_ini == 2"));
        assert!(is_trusted("trust_t_ini_nested"));
        assert!(!is_trusted("k"));
        assert!(!is_trusted("3"));
    }
}
