use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

fn scope(v: Value) -> Scope {
    let mut s = Scope::new();
    s.push(Arc::new(v.as_object().unwrap().clone()));
    s
}

fn r(t: &str, v: Value) -> Value {
    Templar::new().render_value(&Value::String(t.into()), &scope(v)).unwrap()
}

fn e(t: &str, v: Value) -> String {
    Templar::new().render_value(&Value::String(t.into()), &scope(v)).unwrap_err().message
}

#[test]
fn single_expressions_keep_their_type() {
    assert_eq!(r("{{ 1 }}", json!({})), json!(1));
    assert_eq!(r("{{ x }}", json!({"x": [1, 2]})), json!([1, 2]));
    assert_eq!(r("{{ x }} ", json!({"x": 1})), json!("1 "));
    assert_eq!(r("{{ 'a' }}{{ 'b' }}", json!({})), json!("ab"));
    assert_eq!(r("{{ x == 1 }}", json!({"x": 1})), json!(true));
    // Observed with ansible-playbook 2.19: one trailing newline is dropped
    // for native values and kept for strings.
    assert_eq!(r("{{ n }}\n", json!({"n": 10})), json!(10));
    assert_eq!(r("{{ l }}\n", json!({"l": [1]})), json!([1]));
    assert_eq!(r("{{ s }}\n", json!({"s": "abc"})), json!("abc\n"));
    assert_eq!(r("{{ n }}\n\n", json!({"n": 10})), json!("10\n\n"));
    assert_eq!(r("{{ n }} ", json!({"n": 10})), json!("10 "));
    assert_eq!(r("[{{ n }}, 2]", json!({"n": 10})), json!("[10, 2]"));
}

#[test]
fn undefined_variables_are_named() {
    assert_eq!(e("hello {{ nope }}", json!({})), "'nope' is undefined");
    assert_eq!(e("{{ a.b }}", json!({"a": {}})), "object of type 'dict' has no attribute 'b'");
    assert_eq!(e("{{ d.b }}", json!({"d": "{{ {'x': 1} }}"})), "object of type 'dict' has no attribute 'b'");
    assert_eq!(r("{{ nope | default('d') }}", json!({})), json!("d"));
    assert_eq!(r("{{ nope is defined }}", json!({})), json!(false));
    assert_eq!(r("{{ '' | default('d', true) }}", json!({})), json!("d"));
    assert_eq!(r("{{ '' | default('d', boolean=true) }}", json!({})), json!("d"));
    assert_eq!(r("{{ nope | default }}", json!({})), json!(""));
    // `none` is a value to default to, not a missing argument.
    assert_eq!(r("{{ [nope | default(none)] | to_json }}", json!({})), json!("[null]"));
    assert_eq!(r("{{ nope | default(none, true) is none }}", json!({})), json!(true));
}

#[test]
fn variables_resolve_lazily_and_recursively() {
    let v = json!({"a": "{{ b }}-x", "b": "{{ c | upper }}", "c": "y", "l": ["{{ c }}"]});
    assert_eq!(r("{{ a }}", v.clone()), json!("Y-x"));
    assert_eq!(r("{{ l }}", v), json!(["y"]));
    assert!(e("{{ a }}", json!({"a": "{{ b }}", "b": "{{ a }}"})).contains("recursive loop"));
}

#[test]
fn omit_drops_the_key() {
    let t = Templar::new();
    let v = t.render_value(&json!({"a": "{{ x | default(omit) }}", "b": 1}), &scope(json!({}))).unwrap();
    assert_eq!(v, json!({"b": 1}));
}

#[test]
fn conditions() {
    let t = Templar::new();
    let s = scope(json!({"x": 3, "flag": "yes", "r": {"changed": true, "failed": false}}));
    assert!(t.eval_condition("x > 2", &s).unwrap());
    assert!(t.eval_condition("flag | bool", &s).unwrap());
    assert!(t.eval_condition("r is changed and r is not failed", &s).unwrap());
    assert!(t.eval_condition("{{ x == 3 }}", &s).unwrap());
    assert!(t.eval_condition("'abc' is match('a.c')", &s).unwrap());
    assert!(t.eval_condition("'1.10' is version('1.9', '>')", &s).unwrap());
    assert!(t.eval_condition("'text' ", &s).is_err());
}

#[test]
fn ansible_filters() {
    let v = json!({"d": {"a": 1}, "l": [[1, [2]], 3], "s": "a,b"});
    assert_eq!(r("{{ d | combine({'b': 2}) }}", v.clone()), json!({"a": 1, "b": 2}));
    assert_eq!(r("{{ d | dict2items }}", v.clone()), json!([{"key": "a", "value": 1}]));
    assert_eq!(r("{{ d | dict2items | items2dict }}", v.clone()), json!({"a": 1}));
    assert_eq!(r("{{ l | flatten }}", v.clone()), json!([1, 2, 3]));
    assert_eq!(r("{{ l | flatten(1) }}", v.clone()), json!([1, [2], 3]));
    assert_eq!(r("{{ s.split(',') }}", v.clone()), json!(["a", "b"]));
    assert_eq!(r("{{ s | split(',') }}", v.clone()), json!(["a", "b"]));
    // As YAML gives them: Ansible keeps the backslashes of string
    // constants in `{{ }}` (escape_backslashes).
    assert_eq!(r("{{ 'ab12' | regex_replace('(\\d+)', '<\\1>') }}", v.clone()), json!("ab<12>"));
    assert_eq!(r("{{ 'ab12cd3' | regex_findall('\\d+') }}", v.clone()), json!(["12", "3"]));
    assert_eq!(r("{{ 'user@ex.org' | regex_search('@(.*)', '\\1') }}", v.clone()), json!(["ex.org"]));
    assert_eq!(r("{{ 'a\\tb' }} {% set t = 'c\\td' %}{{ t }}", v.clone()), json!("a\\tb c\td"));
    assert_eq!(r("{{ '/etc/postfix/main.cf' | basename }}", v.clone()), json!("main.cf"));
    assert_eq!(r("{{ '/etc/postfix/main.cf' | dirname }}", v.clone()), json!("/etc/postfix"));
    assert_eq!(r("{{ 'hi' | b64encode }}", v.clone()), json!("aGk="));
    assert_eq!(r("{{ 'aGk=' | b64decode }}", v.clone()), json!("hi"));
    assert_eq!(r("{{ 'x' | hash('sha1') }}", v.clone()), json!("11f6ad8ec52a2984abaafd7c3b516503785c2072"));
    assert_eq!(r("{{ \"it's\" | quote }}", v.clone()), json!("'it'\\''s'"));
    // Python's json.dumps separators, as ansible-core's to_json.
    assert_eq!(r("{{ d | to_json }}", v.clone()), json!("{\"a\": 1}"));
    assert_eq!(r("{{ '{\"z\": 1}' | from_json }}", v.clone()), json!({"z": 1}));
    assert_eq!(r("{{ 'a: [1]' | from_yaml }}", v.clone()), json!({"a": [1]}));
    assert_eq!(r("{{ true | ternary('y', 'n') }}", v.clone()), json!("y"));
    assert_eq!(r("{{ [3, 1, 3] | unique | list }}", v.clone()), json!([3, 1]));
    assert_eq!(r("{{ '5' | int + 1 }}", v.clone()), json!(6));
    assert_eq!(r("{{ d | to_nice_json }}", v), json!("{\n    \"a\": 1\n}"));
}

#[test]
fn password_hash_matches_glibc_crypt() {
    // Reference: `openssl passwd -6 -salt saltsaltsaltsalt secret`.
    let h = r("{{ 'secret' | password_hash('sha512', 'saltsaltsaltsalt') }}", json!({}));
    let out =
        std::process::Command::new("openssl").args(["passwd", "-6", "-salt", "saltsaltsaltsalt", "secret"]).output().expect("openssl");
    assert_eq!(h, json!(String::from_utf8_lossy(&out.stdout).trim()));
    let random = r("{{ 'secret' | password_hash('sha512') }}", json!({}));
    assert!(random.as_str().unwrap().starts_with("$6$"));
}

#[test]
fn lookups_read_files_and_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("files")).unwrap();
    std::fs::write(dir.path().join("files/key.txt"), "KEY\n").unwrap();
    let s = Scope::new().with_search_paths(Arc::new(vec![dir.path().to_path_buf()]));
    let t = Templar::new();
    assert_eq!(t.render_value(&json!("{{ lookup('file', 'key.txt') }}"), &s).unwrap(), json!("KEY"));
    std::env::set_var("MAILPLAY_TEST_ENV", "v");
    assert_eq!(t.render_value(&json!("{{ lookup('env', 'MAILPLAY_TEST_ENV') }}"), &s).unwrap(), json!("v"));
    assert_eq!(t.render_value(&json!("{{ query('pipe', 'echo hi') }}"), &s).unwrap(), json!(["hi"]));
}

#[test]
fn template_files_trim_blocks_and_keep_the_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.j2");
    std::fs::write(&f, "{% for u in users %}\nuser {{ u }}\n{% endfor %}\nend\n").unwrap();
    let out = Templar::new().render_file(&f, &scope(json!({"users": ["a", "b"]}))).unwrap();
    assert_eq!(out, "user a\nuser b\nend\n");
}

#[test]
fn included_templates_lose_their_final_newline_the_top_level_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("world.txt"), "world\n").unwrap();
    let f = dir.path().join("t.j2");
    std::fs::write(&f, "a {% include 'world.txt' %}!\n\n").unwrap();
    assert_eq!(Templar::new().render_file(&f, &scope(json!({}))).unwrap(), "a world!\n\n");
    // Trimmed after the last block, the source's final newline comes back.
    std::fs::write(&f, "{% if true %}\nx\n{% endif %}\n").unwrap();
    assert_eq!(Templar::new().render_file(&f, &scope(json!({}))).unwrap(), "x\n");
}

#[test]
fn hostvars_reach_other_hosts() {
    struct Two;
    impl HostvarsSource for Two {
        fn host_names(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn scope_for(&self, host: &str) -> Option<Scope> {
            Some(scope(json!({"ip": format!("10.0.0.{}", if host == "a" { 1 } else { 2 })})))
        }
    }
    let s = Scope::new().with_hostvars(Arc::new(Two));
    assert_eq!(Templar::new().render_value(&json!("{{ hostvars['b'].ip }}"), &s).unwrap(), json!("10.0.0.2"));
}

#[test]
fn list_filters_of_the_mail_playbook() {
    // Ansible 2.19: zip takes several lists (Python's zip), product is
    // itertools.product, extract looks items up in a container.
    assert_eq!(r("{{ [1, 2] | zip(['a', 'b'], [true]) | list }}", json!({})), json!([[1, "a", true]]));
    assert_eq!(
        r("{{ ['u', 'v'] | product(['localhost', '10.0.0.2']) | list }}", json!({})),
        json!([["u", "localhost"], ["u", "10.0.0.2"], ["v", "localhost"], ["v", "10.0.0.2"]])
    );
    assert_eq!(
        r("{{ ['db1'] | map('extract', hv, 'ansible_host') | list }}", json!({"hv": {"db1": {"ansible_host": "192.0.2.10"}}})),
        json!(["192.0.2.10"])
    );
    assert_eq!(r("{{ ['db1'] | map('extract', hv) | list }}", json!({"hv": {"db1": 7}})), json!([7]));
}

#[test]
fn data_layers_are_substituted_never_rendered() {
    let mut s = Scope::new();
    s.push(Arc::new(json!({"secret_cmd": "boom", "src": "{{ data.text }}!"}).as_object().unwrap().clone()));
    s.push_data(Arc::new(json!({"data": {"text": "{{ secret_cmd }}", "list": ["{{ secret_cmd }}"]}}).as_object().unwrap().clone()));
    let t = Templar::new();
    let render = |x: &str| t.render_value(&Value::String(x.into()), &s).unwrap();
    assert_eq!(render("{{ data.text }}"), json!("{{ secret_cmd }}"));
    assert_eq!(render("{{ data.list[0] }}"), json!("{{ secret_cmd }}"));
    assert_eq!(render("{{ data }}"), json!({"text": "{{ secret_cmd }}", "list": ["{{ secret_cmd }}"]}));
    assert_eq!(render("{{ vars['data'].text }}"), json!("{{ secret_cmd }}"));
    // Template source that refers to data renders once: the data stays text.
    assert_eq!(render("{{ src }}"), json!("{{ secret_cmd }}!"));
    // A value set on top (loop item, registered result) is data too.
    s.set("item", json!("{{ secret_cmd }}"));
    assert_eq!(t.render_value(&Value::String("{{ item }}".into()), &s).unwrap(), json!("{{ secret_cmd }}"));
}

#[test]
fn showing_a_variable_marks_its_undefined_parts_like_ansible() {
    let s = scope(json!({"s": {"a": "{{ nope }}", "b": 1}, "l": [1, "{{ nope2 }}"]}));
    let t = Templar::new();
    assert_eq!(t.eval_for_display("s", &s).unwrap(), json!({"a": "<< error 1 - 'nope' is undefined >>", "b": 1}));
    assert_eq!(t.eval_for_display("l[1]", &s).unwrap(), json!("<< error 1 - 'nope2' is undefined >>"));
    // A computation with the value, or using it anywhere else, still fails.
    assert!(t.eval_for_display("s | length", &s).unwrap_err().undefined);
    assert!(t.eval_expression("s", &s).unwrap_err().undefined);
    assert!(t.eval_for_display("missing", &s).unwrap_err().undefined);
}

#[test]
fn a_render_that_outputs_one_value_only_gives_that_value() {
    assert_eq!(r("{% for x in [1] %}{{ x }}{% endfor %}", json!({})), json!(1));
    assert_eq!(r("{% if true %}{{ [1, 2] }}{% endif %}\n", json!({})), json!([1, 2]));
    assert_eq!(r("{{ 1 }}{{ 2 }}", json!({})), json!("12"));
    assert_eq!(r("{% for x in [4, 2] %}{{ x }}{% endfor %}", json!({})), json!("42"));
    assert_eq!(r("a{% if true %}{{ 1 }}{% endif %}", json!({})), json!("a1"));
}

#[test]
fn an_undefined_value_inside_a_result_is_named() {
    assert_eq!(e("{{ [{'k': nested_and_undefined}] }}", json!({})), "'nested_and_undefined' is undefined");
    assert_eq!(e("{{ [{'k': nested_and_undefined}] }} second", json!({})), "'nested_and_undefined' is undefined");
}

#[test]
fn undef_gives_an_undefined_value_with_its_hint() {
    std::env::set_var("MAILPLAY_TEST_SET_EMPTY", "");
    std::env::remove_var("MAILPLAY_TEST_UNSET");
    assert_eq!(r("{{ lookup('env', 'MAILPLAY_TEST_SET_EMPTY', default=undef()) }}", json!({})), json!(""));
    assert_eq!(r("{{ undef() is undefined }}", json!({})), json!(true));
    assert_eq!(e("{{ [lookup('env', 'MAILPLAY_TEST_UNSET', default=undef('custom hint'))] }}", json!({})), "custom hint");
}

#[test]
fn selecting_from_an_undefined_value_is_undefined() {
    for f in ["map('upper')", "select('odd')", "reject('odd')", "selectattr('a')", "rejectattr('a')"] {
        assert_eq!(r(&format!("{{{{ not_defined | {f} is undefined }}}}"), json!({})), json!(true), "{f}");
    }
    assert_eq!(r("{{ [1, 2] | select('odd') }}", json!({})), json!([1]));
    assert_eq!(r("{{ [{'a': 1}, {'a': 0}] | rejectattr('a') }}", json!({})), json!([{"a": 0}]));
}

#[test]
fn extract_from_what_is_not_there_is_undefined() {
    let v = json!({"container": {"key": {"subkey": "value"}}});
    assert_eq!(r("{{ 'key' | extract(badcontainer) | default('a') }}", v.clone()), json!("a"));
    assert_eq!(r("{{ 'key' | extract(badcontainer, 'subkey') | default('a') }}", v.clone()), json!("a"));
    assert_eq!(r("{{ 'badkey' | extract(container, 'subkey') | default('a') }}", v.clone()), json!("a"));
    assert_eq!(r("{{ 'key' | extract(container, ['badsubkey', 'x']) | default('a') }}", v.clone()), json!("a"));
    assert_eq!(r("{{ 'key' | extract(container, 'subkey') }}", v), json!("value"));
}

#[test]
fn division_by_zero_is_named_as_python_names_it() {
    let t = Templar::new();
    let s = Scope::new();
    let e = t.render_value(&json!("{{ 5 / 0 }}"), &s).unwrap_err();
    assert!(e.message.contains("division by zero"), "{e}");
    assert_eq!(super::python_zero_division("unable to calculate 5 / 2"), None);
    assert_eq!(super::python_zero_division("unable to calculate 5.5 // 0"), Some("float floor division by zero"));
}

#[test]
fn an_undefined_result_names_its_reason() {
    let t = Templar::new();
    let s = Scope::new();
    std::env::remove_var("MAILPLAY_T_UNSET_ENV");
    let e = t.eval_expression("lookup('env', 'MAILPLAY_T_UNSET_ENV', default=undef())", &s).unwrap_err();
    assert_eq!(e.message, "The environment variable 'MAILPLAY_T_UNSET_ENV' is not set.");
    let e = t.eval_expression("lookup('env', 'MAILPLAY_T_UNSET_ENV', default=undef('custom'))", &s).unwrap_err();
    assert_eq!(e.message, "custom");
    let e = t.eval_expression("lookup('env', 'MAILPLAY_T_UNSET_ENV', default=bogus_var)", &s).unwrap_err();
    assert_eq!(e.message, "'bogus_var' is undefined");
    assert_eq!(t.eval_expression("lookup('env', 'MAILPLAY_T_UNSET_ENV') == ''", &s).unwrap(), json!(true));
}

#[test]
fn conditionals_follow_ansibles_trust_rules() {
    let t = Templar::new();
    let mut s = Scope::new();
    super::trust::remember("cond_t_x == 1");
    s.set("cond_t_x", json!(1));
    s.set("written", json!("cond_t_x == 1"));
    s.set("from_host", json!("cond_t_x == 1 and true"));
    // Indirection through text the user wrote works; other text is refused.
    assert!(t.eval_condition("{{ written }}", &s).unwrap());
    assert_eq!(t.eval_condition("{{ from_host }}", &s).unwrap_err().message, super::conditional::UNTRUSTED);
    assert_eq!(t.eval_condition("{{ 'cond_t_x' }} == {{ '2' }}", &s).unwrap_err().message, super::conditional::UNTRUSTED);
    assert_eq!(t.eval_condition("  ", &s).unwrap_err().message, "Empty conditional expressions are not allowed.");
    // String constants holding templates are rendered, their value bound.
    assert!(t.eval_condition("\"dude\" == \"du{{ 'de' }}\"", &s).unwrap());
    assert!(t.eval_condition("dict({'k': '{{ cond_t_x }}'})['k'] == 1", &s).unwrap());
    s.set("quote", json!("' or true or '"));
    assert!(!t.eval_condition("'x' == '{{ quote }}'", &s).unwrap());
}

#[test]
fn vault_encrypted_asks_for_a_vault_origin_not_the_header() {
    crate::vault::origin::note_vaulted("template-tests vaulted");
    assert_eq!(r("{{ x is vault_encrypted }}", json!({"x": "template-tests vaulted"})), json!(true));
    assert_eq!(r("{{ y is vault_encrypted }}", json!({"y": "$ANSIBLE_VAULT;1.1;AES256\n3031"})), json!(false));
    assert_eq!(r("{{ 1 is ansible.builtin.vault_encrypted }}", json!({})), json!(false));
}

#[test]
fn vaulted_file_reads_the_vault_header() {
    let dir = tempfile::tempdir().unwrap();
    let (v, p) = (dir.path().join("v"), dir.path().join("p"));
    std::fs::write(&v, "$ANSIBLE_VAULT;1.1;AES256\n3031\n").unwrap();
    std::fs::write(&p, "$ANSIBLE\n").unwrap();
    let vars = json!({"v": v.display().to_string(), "p": p.display().to_string(), "n": dir.path().join("nope").display().to_string()});
    assert_eq!(r("{{ v is vaulted_file }}", vars.clone()), json!(true));
    assert_eq!(r("{{ p is vaulted_file }}", vars.clone()), json!(false));
    assert!(e("{{ n is vaulted_file }}", vars).contains("Cannot test if the file '"));
}

#[test]
fn a_none_node_is_left_out_of_a_template_but_kept_alone() {
    assert_eq!(r("{{ x }}-{{ x }}", json!({"x": null})), json!("-"));
    assert_eq!(r("a{{ x }}", json!({"x": null})), json!("a"));
    assert_eq!(r("{{ x }}", json!({"x": null})), json!(null));
}

#[test]
fn an_attribute_or_item_of_an_undefined_value_is_undefined() {
    let v = json!({"d": {"bar": {}}, "l": [{"foo": {}}]});
    assert_eq!(r("{{ nope.x | default('a') }}", v.clone()), json!("a"));
    assert_eq!(r("{{ nope['x'][0].y is defined }}", v.clone()), json!(false));
    assert_eq!(r("{{ d.bar.baz.abc is defined }}", v.clone()), json!(false));
    assert_eq!(r("{{ d.baz.abc | default('b') }}", v.clone()), json!("b"));
    assert_eq!(r("{{ l[1].foo is defined }} {{ l.0.foo is defined }}", v.clone()), json!("False True"));
    assert_eq!(r("{{ ('key' | extract(badcontainer)).subkey | default('c') }}", v.clone()), json!("c"));
    // Using it still fails, naming the variable rather than the path.
    assert_eq!(e("{{ nope.x.y }}", v.clone()), "'nope' is undefined");
    assert_eq!(e("{{ nope.x == 1 }}", v.clone()), "'nope' is undefined");
    assert_eq!(e("{% if nope.x %}y{% endif %}", v.clone()), "'nope' is undefined");
    assert_eq!(e("{% for i in nope.x %}{{ i }}{% endfor %}", v.clone()), "'nope' is undefined");
    assert_eq!(e("{{ hey | mandatory }}", v.clone()), "Mandatory variable 'hey' not defined.");
    assert_eq!(e("{{ hey | mandatory('sad wolf') }}", v), "invalid operation: sad wolf");
}

#[test]
fn undef_without_a_hint_has_ansibles_message() {
    let s = scope(json!({"fail_foo": "{{ undef() }}"}));
    let err = Templar::new().render_value(&json!("{{ fail_foo }}"), &s).unwrap_err();
    assert!(err.message.contains("Mandatory variable has not been overridden"), "{}", err.message);
}

#[test]
fn the_lines_lookup_gives_each_output_line() {
    assert_eq!(r("{{ query('lines', 'printf \"a\\nb\\n\"') }}", json!({})), json!(["a", "b"]));
    assert_eq!(r("{{ lookup('lines', 'echo one') }}", json!({})), json!("one"));
    assert!(e("{{ lookup('lines', 'exit 3') }}", json!({})).contains("returned 3"));
}

#[test]
fn subelements_gives_pythons_tuples() {
    let v = json!({"d": [{"n": 1, "g": ["w", "x"]}]});
    assert_eq!(
        r("{{ d | subelements('g') == [({'n': 1, 'g': ['w', 'x']}, 'w'), ({'n': 1, 'g': ['w', 'x']}, 'x')] }}", v.clone()),
        json!(true)
    );
    assert_eq!(r("{{ d | subelements(['g']) | map('last') | list }}", v), json!(["w", "x"]));
}
