//! Templates are bounded: however a template is written, rendering ends
//! with its result or a clear error, within a fixed budget of work and
//! memory (minijinja's fuel, charged by mailplay's own filters too).

use std::sync::Arc;

use mailplay::template::{Scope, Templar};
use serde_json::{json, Value};

fn render(t: &str) -> Result<Value, String> {
    let mut s = Scope::new();
    s.push(Arc::new(json!({"users": ["a", "b"], "n": 3}).as_object().unwrap().clone()));
    Templar::new().render_value(&Value::String(t.into()), &s).map_err(|e| e.message)
}

fn too_much(t: &str) {
    let e = render(t).expect_err(t);
    assert!(e.contains("too much work"), "{t}: {e}");
}

#[test]
fn loops_without_end_in_sight_are_stopped() {
    too_much("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}");
    too_much("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
}

#[test]
fn memory_a_template_builds_is_bounded() {
    too_much("{% set a = 'x' * 50000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}{{ d | length }}");
    too_much("{% set a = 'x' * 1000 %}{% set b = [a] * 100000 %}{% set c = b | join %}{{ c ~ c ~ c ~ c ~ c ~ c ~ c ~ c }}");
}

#[test]
fn mailplays_filters_are_charged_for_their_work() {
    too_much("{{ range(100000) | product(range(100000)) | length }}");
    too_much("{{ range(1000) | product(range(1000), range(1000)) | length }}");
    too_much("{{ range(100000) | difference(range(100000)) | length }}");
    too_much("{{ range(100000) | intersect(range(100000)) | length }}");
    too_much("{{ range(100000) | union(range(100000)) | length }}");
    too_much("{{ 'pw' | password_hash('sha512', 'saltsalt', rounds=999999999) }}");
}

#[test]
fn real_sized_templates_still_render() {
    let t = "{% for i in range(20000) %}user{{ i }}@example.org OK\n{% endfor %}";
    assert_eq!(render(t).unwrap().as_str().unwrap().lines().count(), 20000);
    assert_eq!(render("{{ range(300) | product(range(300)) | length }}").unwrap(), json!(90000));
    assert_eq!(render("{{ range(2000) | difference(range(1000)) | length }}").unwrap(), json!(1000));
    assert!(render("{{ 'pw' | password_hash('sha512', 'saltsalt', rounds=10000) }}")
        .unwrap()
        .as_str()
        .unwrap()
        .starts_with("$6$rounds=10000$"));
    assert_eq!(render("{{ users | join(',') }}").unwrap(), json!("a,b"));
}

#[test]
fn deeply_nested_text_is_refused_before_it_reaches_the_parser() {
    // 100 nested calls overflowed a tokio worker's 2 MiB stack (debug build).
    let t = format!("{{{{ {}1{} }}}}", "range(".repeat(100), ")".repeat(100));
    let e = render(&t).unwrap_err();
    assert!(e.contains("nests brackets deeper than 64"), "{e}");
    assert!(Templar::new().check_syntax(&t).unwrap_err().message.contains("deeper than 64"));
    assert_eq!(render(&format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40))).unwrap(), json!(1));
}

fn chain(n: usize) -> Result<Value, String> {
    let mut vars = serde_json::Map::new();
    for i in 0..n {
        vars.insert(format!("a{i}"), format!("{{{{ a{} }}}}", i + 1).into());
    }
    vars.insert(format!("a{n}"), "end".into());
    let mut s = Scope::new();
    s.push(Arc::new(vars));
    Templar::new().render_value(&Value::String("{{ a0 }}".into()), &s).map_err(|e| e.message)
}

#[test]
fn variables_resolved_inside_one_another_are_bounded() {
    // A chain of 100 overflowed a 2 MiB stack (debug build).
    let e = chain(100).unwrap_err();
    assert!(e.contains("variables refer to variables more than 32 deep"), "{e}");
    assert_eq!(chain(30).unwrap(), json!("end"));
}
