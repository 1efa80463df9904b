//! Which tasks `--tags` / `--skip-tags` select, with Ansible's special tags:
//! `always` runs unless skipped by name, `never` runs only when asked for by
//! name, `all` (the default) selects everything but `never`, `tagged` and
//! `untagged` select by whether a task has tags at all.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use crate::template::{Layer, Scope, Templar};

#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    /// Empty means `all`.
    pub only: BTreeSet<String>,
    pub skip: BTreeSet<String>,
}

impl TagFilter {
    pub fn new(only: &[String], skip: &[String]) -> Self {
        let split = |v: &[String]| v.iter().flat_map(|s| s.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        TagFilter { only: split(only), skip: split(skip) }
    }

    /// Should a task with these (inherited + own) tags run?
    pub fn selects(&self, tags: &[String]) -> bool {
        let has = |t: &str| tags.iter().any(|x| x == t);
        let asked = |set: &BTreeSet<String>, t: &str| set.contains(t);
        let any_in = |set: &BTreeSet<String>| tags.iter().any(|t| set.contains(t));

        let mut run = if self.only.is_empty() || asked(&self.only, "all") {
            // `all` selects everything except `never`-tagged tasks not asked for by name.
            !has("never") || tags.iter().any(|t| t != "never" && asked(&self.only, t))
        } else {
            any_in(&self.only)
                || (has("always") && !asked(&self.skip, "always"))
                || (asked(&self.only, "tagged") && !tags.is_empty() && !has("never"))
                || (asked(&self.only, "untagged") && tags.is_empty())
        };
        if has("always") && self.only.is_empty() {
            run = true;
        }
        if run && !self.skip.is_empty() {
            let skipped = tags.iter().any(|t| self.skip.contains(t))
                || (asked(&self.skip, "tagged") && !tags.is_empty())
                || (asked(&self.skip, "untagged") && tags.is_empty());
            // `always` is only skipped when named in --skip-tags.
            if skipped && !(has("always") && !asked(&self.skip, "always") && !tags.iter().any(|t| t != "always" && self.skip.contains(t))) {
                run = false;
            }
        }
        run
    }
}

/// Tags as Ansible evaluates them (`Taggable.evaluate_tags`): a tag written
/// as a template is rendered with the play's variables (no host's), a
/// list result gives each of its items. A tag that does not render stays
/// as written, so selecting by the text still works.
pub fn resolve(tags: &[String], templar: &Templar, scope: &Scope) -> Vec<String> {
    if !tags.iter().any(|t| Templar::is_template(t)) {
        return tags.to_vec();
    }
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let mut out = Vec::new();
    for t in tags {
        if !Templar::is_template(t) {
            out.push(t.clone());
            continue;
        }
        match templar.render_value(&Value::String(t.clone()), scope) {
            Ok(Value::Array(items)) => out.extend(items.iter().map(text)),
            Ok(v) => out.push(text(&v)),
            Err(_) => out.push(t.clone()),
        }
    }
    out
}

/// The variables tags are rendered with: the play's, its roles', and the
/// extra vars, as Ansible's play iterator gives `evaluate_tags`.
pub fn play_scope(layers: &[&Layer], search_paths: Arc<Vec<std::path::PathBuf>>) -> Scope {
    let mut s = Scope::new().with_search_paths(search_paths);
    for l in layers {
        s.push((*l).clone());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn f(only: &[&str], skip: &[&str]) -> TagFilter {
        TagFilter::new(&t(only), &t(skip))
    }

    #[test]
    fn templated_tags_render_with_the_play_variables() {
        let vars: Layer = Arc::new(serde_json::json!({"the_tags": ["tag3", "tag4"], "t": "tag1"}).as_object().unwrap().clone());
        let scope = play_scope(&[&vars], Arc::new(Vec::new()));
        let tags = resolve(&t(&["{{ the_tags }}", "{{ t }}", "plain", "{{ nope }}"]), &Templar::new(), &scope);
        assert_eq!(tags, t(&["tag3", "tag4", "tag1", "plain", "{{ nope }}"]));
    }

    #[test]
    fn default_runs_everything_but_never() {
        let all = f(&[], &[]);
        assert!(all.selects(&[]));
        assert!(all.selects(&t(&["web"])));
        assert!(!all.selects(&t(&["never"])));
        assert!(all.selects(&t(&["always"])));
    }

    #[test]
    fn only_selects_matching_and_always() {
        let only = f(&["db"], &[]);
        assert!(only.selects(&t(&["db", "x"])));
        assert!(!only.selects(&t(&["web"])));
        assert!(!only.selects(&[]));
        assert!(only.selects(&t(&["always"])));
        assert!(!only.selects(&t(&["never"])));
        assert!(f(&["debug"], &[]).selects(&t(&["never", "debug"])));
    }

    #[test]
    fn skip_wins_except_for_always() {
        let skip = f(&[], &["db"]);
        assert!(!skip.selects(&t(&["db"])));
        assert!(skip.selects(&t(&["web"])));
        assert!(skip.selects(&t(&["always"])));
        assert!(!f(&[], &["always"]).selects(&t(&["always"])));
    }

    #[test]
    fn tagged_and_untagged() {
        assert!(f(&["tagged"], &[]).selects(&t(&["x"])));
        assert!(!f(&["tagged"], &[]).selects(&[]));
        assert!(f(&["untagged"], &[]).selects(&[]));
        assert!(!f(&[], &["untagged"]).selects(&[]));
    }

    #[test]
    fn comma_separated_tags_are_split() {
        let only = TagFilter::new(&["a,b".to_string()], &[]);
        assert!(only.selects(&t(&["b"])));
    }
}
