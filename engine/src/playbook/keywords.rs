//! The keywords Ansible accepts on plays, blocks, tasks and role entries,
//! and the actions the engine itself carries out (not modules).

pub const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "loop",
    "loop_control",
    "register",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "notify",
    "listen",
    "tags",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "check_mode",
    "diff",
    "no_log",
    "vars",
    "environment",
    "until",
    "retries",
    "delay",
    "any_errors_fatal",
    "args",
    "collections",
    "debugger",
    "throttle",
    "timeout",
    "module_defaults",
    "remote_user",
    "connection",
    "port",
    "async",
    "poll",
];

pub const BLOCK_KEYWORDS: &[&str] = &["block", "rescue", "always"];

pub const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "gather_facts",
    "pre_tasks",
    "roles",
    "tasks",
    "post_tasks",
    "handlers",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "serial",
    "any_errors_fatal",
    "max_fail_percentage",
    "tags",
    "environment",
    "check_mode",
    "diff",
    "force_handlers",
    "ignore_errors",
    "ignore_unreachable",
    "run_once",
    "no_log",
    "strategy",
    "collections",
    "remote_user",
    "connection",
    "order",
    "module_defaults",
    "gather_subset",
    "gather_timeout",
    "throttle",
    "timeout",
    "port",
    "debugger",
    "fact_path",
];

/// Keys of a `roles:` entry that are keywords, not role parameters.
pub const ROLE_ENTRY_KEYWORDS: &[&str] = &[
    "role",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
    "environment",
    "delegate_to",
    "ignore_errors",
    "no_log",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "run_once",
    "collections",
    "debugger",
];

/// Actions the engine handles itself.
pub const ENGINE_ACTIONS: &[&str] =
    &["include_tasks", "import_tasks", "include_role", "import_role", "meta", "include_vars", "import_playbook"];

/// Modules whose free-form text is the command itself (`_raw_params`).
pub const RAW_PARAMS_MODULES: &[&str] = &["command", "shell", "script", "raw", "win_command", "win_shell"];

/// The only `k=v` pairs split out of a command line for RAW_PARAMS_MODULES.
pub const COMMAND_KV: &[&str] =
    &["creates", "removes", "chdir", "executable", "stdin", "stdin_add_newline", "strip_empty_ends", "argv", "expand_argument_vars", "cmd"];

pub const META_ACTIONS: &[&str] = &[
    "flush_handlers",
    "noop",
    "end_play",
    "end_host",
    "end_batch",
    "clear_host_errors",
    "refresh_inventory",
    "reset_connection",
    "clear_facts",
    "role_complete",
    "end_role",
];

const PREFIXES: &[&str] = &["ansible.builtin.", "ansible.legacy.", "mailplay."];

/// `ansible.builtin.copy` → `copy`.
pub fn short_name(name: &str) -> &str {
    PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name)
}

/// A name Ansible resolves as one of its own modules or actions
/// (`dnf`, `ansible.builtin.dnf`, `ansible.legacy.dnf`), whether or not
/// mailplay implements it.
pub fn is_ansible_builtin(name: &str) -> bool {
    let short = name.strip_prefix("ansible.builtin.").or_else(|| name.strip_prefix("ansible.legacy.")).unwrap_or(name);
    super::ansible_builtins::ANSIBLE_BUILTIN_NAMES.binary_search(&short).is_ok()
}

pub fn is_engine_action(name: &str) -> bool {
    ENGINE_ACTIONS.contains(&short_name(name))
}

/// Ansible's `boolean()`: the values a boolean keyword (`no_log`,
/// `ignore_errors`, `become`, `gather_facts`, ...) accepts once templated.
pub fn ansible_bool(v: &serde_json::Value) -> Option<bool> {
    use serde_json::Value;
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let x = n.as_f64()?;
            if x == 1.0 {
                Some(true)
            } else if x == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "t" | "y" | "1.0" => Some(true),
            "no" | "off" | "0" | "false" | "f" | "n" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The message for a boolean keyword whose value is not a boolean.
pub fn not_a_boolean(keyword: &str, v: &serde_json::Value) -> String {
    let shown = v.as_str().map(|s| format!("'{s}'")).unwrap_or_else(|| v.to_string());
    format!("the keyword '{keyword}' must be a boolean (true/false, yes/no, on/off, 1/0), got {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_builtin_names_resolve_short_and_qualified_only_as_ansible_does() {
        let names = super::super::ansible_builtins::ANSIBLE_BUILTIN_NAMES;
        assert!(names.windows(2).all(|w| w[0] < w[1]), "the generated list must stay sorted (binary search)");
        for ok in ["dnf", "ansible.builtin.dnf", "ansible.legacy.yum", "yum", "apt_repository", "wait_for", "copy"] {
            assert!(is_ansible_builtin(ok), "{ok}");
        }
        // Not in ansible-core: collections' modules, typos, mailplay's own prefix.
        for no in ["zypper", "community.general.zypper", "ansible.builtin.zypper", "copyy", "mailplay.dnf", "ansible.builtin."] {
            assert!(!is_ansible_builtin(no), "{no}");
        }
    }
}
