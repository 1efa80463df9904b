//! Ansible's filters and tests by their full names
//! (`x | ansible.builtin.to_json`, `x is ansible.builtin.search`): each
//! name ansible-core 2.19 ships under `ansible.builtin` is an alias of the
//! short one. A name mailplay lacks fails at use, as an unknown filter.
//! The lists are the `filters()`/`tests()` of ansible-core's
//! `plugins/filter` and `plugins/test` modules.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, State, Value as JValue};

const FILTERS: &[&str] = &[
    "b64decode",
    "b64encode",
    "basename",
    "bool",
    "checksum",
    "combinations",
    "combine",
    "comment",
    "commonpath",
    "d",
    "default",
    "dict2items",
    "difference",
    "dirname",
    "expanduser",
    "expandvars",
    "extract",
    "fileglob",
    "flatten",
    "from_json",
    "from_yaml",
    "from_yaml_all",
    "groupby",
    "hash",
    "human_readable",
    "human_to_bytes",
    "intersect",
    "items2dict",
    "log",
    "mandatory",
    "map",
    "md5",
    "normpath",
    "password_hash",
    "path_join",
    "permutations",
    "pow",
    "product",
    "quote",
    "random",
    "realpath",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "reject",
    "rejectattr",
    "rekey_on_member",
    "relpath",
    "root",
    "select",
    "selectattr",
    "sha1",
    "shuffle",
    "split",
    "splitext",
    "strftime",
    "subelements",
    "symmetric_difference",
    "ternary",
    "to_datetime",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_uuid",
    "to_yaml",
    "type_debug",
    "union",
    "unique",
    "unvault",
    "urldecode",
    "urlsplit",
    "vault",
    "win_basename",
    "win_dirname",
    "win_splitdrive",
    "zip",
    "zip_longest",
];

const TESTS: &[&str] = &[
    "abs",
    "all",
    "any",
    "change",
    "changed",
    "contains",
    "defined",
    "directory",
    "exists",
    "failed",
    "failure",
    "falsy",
    "file",
    "finished",
    "is_abs",
    "is_dir",
    "is_file",
    "is_link",
    "is_mount",
    "is_same_file",
    "isnan",
    "issubset",
    "issuperset",
    "link",
    "link_exists",
    "match",
    "mount",
    "nan",
    "reachable",
    "regex",
    "same_file",
    "search",
    "skip",
    "skipped",
    "started",
    "subset",
    "succeeded",
    "success",
    "successful",
    "superset",
    "timedout",
    "truthy",
    "undefined",
    "unreachable",
    "uri",
    "url",
    "urn",
    "vault_encrypted",
    "vaulted_file",
    "version",
    "version_compare",
];

pub fn register(env: &mut Environment<'static>) {
    for name in FILTERS {
        env.add_filter(
            format!("ansible.builtin.{name}"),
            move |state: &mut State, args: Rest<JValue>, kw: Kwargs| -> Result<JValue, Error> {
                state.apply_filter(name, &with_kwargs(args, kw)?)
            },
        );
    }
    for name in TESTS {
        env.add_test(format!("ansible.builtin.{name}"), move |state: &mut State, args: Rest<JValue>, kw: Kwargs| -> Result<bool, Error> {
            state.perform_test(name, &with_kwargs(args, kw)?)
        });
    }
    // ansible-core's own integration targets compare results through this
    // internal filter, a top-level finalize; mailplay's values are always
    // final data, so it only refuses an undefined value.
    env.add_filter("ansible._protomatter.finalize", |v: JValue| -> Result<JValue, Error> {
        if super::holds_undefined(&v) {
            return Err(Error::new(minijinja::ErrorKind::UndefinedError, "the value holds an undefined value"));
        }
        Ok(v)
    });
}

/// The call's arguments with its keyword arguments last, as minijinja
/// passes them (each read here, so none is reported unused).
fn with_kwargs(args: Rest<JValue>, kw: Kwargs) -> Result<Vec<JValue>, Error> {
    let mut out: Vec<JValue> = args.0;
    let keys: Vec<String> = kw.args().map(str::to_string).collect();
    if !keys.is_empty() {
        let pairs: Vec<(String, JValue)> = keys.into_iter().map(|k| kw.get::<JValue>(&k).map(|v| (k, v))).collect::<Result<_, _>>()?;
        out.push(JValue::from(pairs.into_iter().collect::<Kwargs>()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Scope, Templar};

    #[test]
    fn full_names_are_the_short_ones() {
        let t = Templar::new();
        let s = Scope::new();
        let r = |e: &str| t.render_value(&json!(e), &s).unwrap();
        assert_eq!(r("{{ [1, 2] | ansible.builtin.to_json }}"), json!("[1, 2]"));
        assert_eq!(r("{{ 'abc' is ansible.builtin.search('b') }}"), json!(true));
        assert_eq!(r("{{ [3, 1] | ansible.builtin.unique | ansible.builtin.union([2]) }}"), json!([3, 1, 2]));
        assert_eq!(r("{{ {'a': 1} | ansible.builtin.to_nice_json(indent=2) }}"), json!("{\n  \"a\": 1\n}"));
        assert_eq!(r("{{ [1] | ansible._protomatter.finalize }}"), json!([1]));
    }
}
