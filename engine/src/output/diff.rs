//! `--diff` output: unified diffs with Ansible's headers.

use mailplay_modules::module::Diff;
use similar::TextDiff;

/// The diff text Ansible prints (`--- before: x` / `+++ after: x`).
pub fn render(d: &Diff) -> String {
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
}
