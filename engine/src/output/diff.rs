//! `--diff` output: unified diffs with Ansible's headers.

use mailplay_modules::module::Diff;
use similar::TextDiff;

use crate::template::filters_json::python_nice_dumps;

/// The diff text Ansible prints (`--- before: x` / `+++ after: x`).
pub fn render(d: &Diff) -> String {
    if let Some((before, after)) = &d.data {
        // As Ansible's callback: data as indented JSON, keys sorted.
        let (b, a) = (python_nice_dumps(before) + "\n", python_nice_dumps(after) + "\n");
        return TextDiff::from_lines(&b, &a).unified_diff().context_radius(3).header("before", "after").to_string();
    }
    let before_header = format!("before: {}", d.before_header);
    let after_header = format!("after: {}", d.after_header);
    let diff = TextDiff::from_lines(&d.before, &d.after);
    let mut out = diff.unified_diff().context_radius(3).header(&before_header, &after_header).to_string();
    if out.is_empty() {
        return out;
    }
    if !d.before.is_empty() && !d.before.ends_with('\n') || !d.after.is_empty() && !d.after.ends_with('\n') {
        out.push_str("\\ No newline at end of file\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_with_ansible_headers() {
        let d = Diff::new("/etc/x", "a\nb\n", "a\nc\n");
        let s = render(&d);
        assert!(s.starts_with("--- before: /etc/x\n+++ after: /etc/x\n"), "{s}");
        assert!(s.contains("-b\n+c\n"));
        assert_eq!(render(&Diff::new("/x", "same\n", "same\n")), "");
    }

    #[test]
    fn data_diffs_as_ansible_prints_them() {
        let d = Diff::data(serde_json::json!({"path": "/x", "mtime": 1.5}), serde_json::json!({"path": "/x", "mtime": 2.0}));
        assert_eq!(
            render(&d),
            "--- before\n+++ after\n@@ -1,4 +1,4 @@\n {\n-    \"mtime\": 1.5,\n+    \"mtime\": 2.0,\n     \"path\": \"/x\"\n }\n"
        );
        assert_eq!(render(&Diff::data(serde_json::json!({"path": "/x"}), serde_json::json!({"path": "/x"}))), "");
    }
}
