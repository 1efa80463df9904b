//! The Ansible settings mailplay knows, with their `ansible.cfg` keys and
//! environment variables as ansible-core 2.19's `config/base.yml` defines
//! them, and what mailplay does with each.

/// How Ansible converts the value (`ensure_type` in `config/manager.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    Float,
    Str,
    /// Comma-separated.
    List,
    /// One path (`~`, `$VARS` expanded, relative to the config file's folder
    /// or, from the environment, the current one).
    Path,
    /// Colon-separated paths.
    PathSpec,
    /// Comma-separated paths.
    PathList,
}

/// What mailplay does with a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Read and acted on (see `AnsibleConfig`'s callers).
    Honoured,
    /// Changes nothing mailplay does (colours, Python, Ansible's own
    /// warnings and caches): ignored silently.
    NoEffect,
    /// Changes what Ansible does in a way mailplay does not follow: a
    /// warning naming it when it is set to anything but its default.
    Unsupported,
}

#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    /// `(section, key)` in ansible.cfg; the last one present wins.
    pub ini: &'static [(&'static str, &'static str)],
    /// Environment variables; the last one set wins.
    pub env: &'static [&'static str],
    pub ty: Ty,
    /// Ansible's default as text; `None`: no default, or one that depends
    /// on other settings (any value given counts as a change).
    pub default: Option<&'static str>,
    pub support: Support,
}

use Support::*;
use Ty::*;

macro_rules! s {
    ($name:literal, [$(($sec:literal, $key:literal)),*], [$($env:literal),*], $ty:ident, $default:expr, $support:ident) => {
        Setting { name: $name, ini: &[$(($sec, $key)),*], env: &[$($env),*], ty: $ty, default: $default, support: $support }
    };
}

pub static SETTINGS: &[Setting] = &[
    // --- honoured -----------------------------------------------------------
    s!(
        "DEFAULT_ROLES_PATH",
        [("defaults", "roles_path")],
        ["ANSIBLE_ROLES_PATH"],
        PathSpec,
        Some("~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"),
        Honoured
    ),
    s!(
        "DEFAULT_MODULE_PATH",
        [("defaults", "library")],
        ["ANSIBLE_LIBRARY"],
        PathSpec,
        Some("~/.ansible/plugins/modules:/usr/share/ansible/plugins/modules"),
        Honoured
    ),
    s!(
        "DEFAULT_FILTER_PLUGIN_PATH",
        [("defaults", "filter_plugins")],
        ["ANSIBLE_FILTER_PLUGINS"],
        PathSpec,
        Some("~/.ansible/plugins/filter:/usr/share/ansible/plugins/filter"),
        Honoured
    ),
    s!("DEFAULT_FORKS", [("defaults", "forks")], ["ANSIBLE_FORKS"], Int, Some("5"), Honoured),
    s!("DEFAULT_HOST_LIST", [("defaults", "inventory")], ["ANSIBLE_INVENTORY"], PathList, Some("/etc/ansible/hosts"), Honoured),
    s!("DEFAULT_REMOTE_USER", [("defaults", "remote_user")], ["ANSIBLE_REMOTE_USER"], Str, None, Honoured),
    s!("DEFAULT_PRIVATE_KEY_FILE", [("defaults", "private_key_file")], ["ANSIBLE_PRIVATE_KEY_FILE"], Path, None, Honoured),
    s!("DEFAULT_TIMEOUT", [("defaults", "timeout")], ["ANSIBLE_TIMEOUT"], Int, Some("10"), Honoured),
    s!("DEFAULT_TRANSPORT", [("defaults", "transport")], ["ANSIBLE_TRANSPORT"], Str, Some("ssh"), Honoured),
    s!("HOST_KEY_CHECKING", [("defaults", "host_key_checking")], ["ANSIBLE_HOST_KEY_CHECKING"], Bool, Some("True"), Honoured),
    s!("DEFAULT_FORCE_HANDLERS", [("defaults", "force_handlers")], ["ANSIBLE_FORCE_HANDLERS"], Bool, Some("False"), Honoured),
    s!("DEFAULT_MANAGED_STR", [("defaults", "ansible_managed")], [], Str, Some("Ansible managed"), Honoured),
    s!("DEFAULT_VAULT_PASSWORD_FILE", [("defaults", "vault_password_file")], ["ANSIBLE_VAULT_PASSWORD_FILE"], Path, None, Honoured),
    s!("DEFAULT_VAULT_IDENTITY_LIST", [("defaults", "vault_identity_list")], ["ANSIBLE_VAULT_IDENTITY_LIST"], List, Some(""), Honoured),
    s!("DEFAULT_VAULT_ENCRYPT_IDENTITY", [("defaults", "vault_encrypt_identity")], ["ANSIBLE_VAULT_ENCRYPT_IDENTITY"], Str, None, Honoured),
    s!("DEFAULT_ASK_VAULT_PASS", [("defaults", "ask_vault_pass")], ["ANSIBLE_ASK_VAULT_PASS"], Bool, Some("False"), Honoured),
    s!("DEFAULT_BECOME", [("privilege_escalation", "become")], ["ANSIBLE_BECOME"], Bool, Some("False"), Honoured),
    s!("DEFAULT_BECOME_USER", [("privilege_escalation", "become_user")], ["ANSIBLE_BECOME_USER"], Str, Some("root"), Honoured),
    s!("DEFAULT_BECOME_METHOD", [("privilege_escalation", "become_method")], ["ANSIBLE_BECOME_METHOD"], Str, Some("sudo"), Honoured),
    s!(
        "DEFAULT_BECOME_ASK_PASS",
        [("privilege_escalation", "become_ask_pass")],
        ["ANSIBLE_BECOME_ASK_PASS"],
        Bool,
        Some("False"),
        Honoured
    ),
    s!("DEFAULT_GATHERING", [("defaults", "gathering")], ["ANSIBLE_GATHERING"], Str, Some("implicit"), Honoured),
    s!("ANY_ERRORS_FATAL", [("defaults", "any_errors_fatal")], ["ANSIBLE_ANY_ERRORS_FATAL"], Bool, Some("False"), Honoured),
    s!(
        "HOST_PATTERN_MISMATCH",
        [("inventory", "host_pattern_mismatch")],
        ["ANSIBLE_HOST_PATTERN_MISMATCH"],
        Str,
        Some("warning"),
        Honoured
    ),
    s!("DEFAULT_STRATEGY", [("defaults", "strategy")], ["ANSIBLE_STRATEGY"], Str, Some("linear"), Honoured),
    s!("DIFF_ALWAYS", [("diff", "always")], ["ANSIBLE_DIFF_ALWAYS"], Bool, Some("False"), Honoured),
    s!("DEFAULT_VERBOSITY", [("defaults", "verbosity")], ["ANSIBLE_VERBOSITY"], Int, Some("0"), Honoured),
    s!("ANSIBLE_NOCOLOR", [("defaults", "nocolor")], ["ANSIBLE_NOCOLOR", "NO_COLOR"], Bool, Some("False"), Honoured),
    s!("TAGS_RUN", [("tags", "run")], ["ANSIBLE_RUN_TAGS"], List, Some(""), Honoured),
    s!("TAGS_SKIP", [("tags", "skip")], ["ANSIBLE_SKIP_TAGS"], List, Some(""), Honoured),
    // `mailplay adhoc`'s module and its arguments when -m / -a are not given.
    s!("DEFAULT_MODULE_NAME", [("defaults", "module_name")], [], Str, Some("command"), Honoured),
    s!("DEFAULT_MODULE_ARGS", [("defaults", "module_args")], ["ANSIBLE_MODULE_ARGS"], Str, None, Honoured),
    // --- no effect on mailplay ----------------------------------------------
    s!("ANSIBLE_HOME", [("defaults", "home")], ["ANSIBLE_HOME"], Path, None, NoEffect),
    s!("ANSIBLE_FORCE_COLOR", [("defaults", "force_color")], ["ANSIBLE_FORCE_COLOR"], Bool, Some("False"), NoEffect),
    s!("ANSIBLE_NOCOWS", [("defaults", "nocows")], ["ANSIBLE_NOCOWS"], Bool, Some("False"), NoEffect),
    s!(
        "ANSIBLE_PIPELINING",
        [("defaults", "pipelining"), ("connection", "pipelining")],
        ["ANSIBLE_PIPELINING"],
        Bool,
        Some("False"),
        NoEffect
    ),
    s!("INTERPRETER_PYTHON", [("defaults", "interpreter_python")], ["ANSIBLE_PYTHON_INTERPRETER"], Str, Some("auto"), NoEffect),
    s!(
        "PYTHON_MODULE_RLIMIT_NOFILE",
        [("defaults", "python_module_rlimit_nofile")],
        ["ANSIBLE_PYTHON_MODULE_RLIMIT_NOFILE"],
        Str,
        Some("0"),
        NoEffect
    ),
    s!("DEPRECATION_WARNINGS", [("defaults", "deprecation_warnings")], ["ANSIBLE_DEPRECATION_WARNINGS"], Bool, Some("True"), NoEffect),
    s!("DEVEL_WARNING", [("defaults", "devel_warning")], ["ANSIBLE_DEVEL_WARNING"], Bool, Some("True"), NoEffect),
    s!("SYSTEM_WARNINGS", [("defaults", "system_warnings")], ["ANSIBLE_SYSTEM_WARNINGS"], Bool, Some("True"), NoEffect),
    s!("ACTION_WARNINGS", [("defaults", "action_warnings")], ["ANSIBLE_ACTION_WARNINGS"], Bool, Some("True"), NoEffect),
    s!("LOCALHOST_WARNING", [("defaults", "localhost_warning")], ["ANSIBLE_LOCALHOST_WARNING"], Bool, Some("True"), NoEffect),
    s!("DISPLAY_TRACEBACK", [("defaults", "display_traceback")], ["ANSIBLE_DISPLAY_TRACEBACK"], List, Some("never"), NoEffect),
    s!("RETRY_FILES_ENABLED", [("defaults", "retry_files_enabled")], ["ANSIBLE_RETRY_FILES_ENABLED"], Bool, Some("False"), Unsupported),
    s!("DEFAULT_LOCAL_TMP", [("defaults", "local_tmp")], ["ANSIBLE_LOCAL_TEMP"], Path, None, NoEffect),
    s!("DEFAULT_KEEP_REMOTE_FILES", [("defaults", "keep_remote_files")], ["ANSIBLE_KEEP_REMOTE_FILES"], Bool, Some("False"), NoEffect),
    s!("PLAYBOOK_DIR", [("defaults", "playbook_dir")], ["ANSIBLE_PLAYBOOK_DIR"], Path, None, NoEffect),
    s!(
        "USE_PERSISTENT_CONNECTIONS",
        [("defaults", "use_persistent_connections")],
        ["ANSIBLE_USE_PERSISTENT_CONNECTIONS"],
        Bool,
        Some("False"),
        NoEffect
    ),
    s!(
        "AGNOSTIC_BECOME_PROMPT",
        [("privilege_escalation", "agnostic_become_prompt")],
        ["ANSIBLE_AGNOSTIC_BECOME_PROMPT"],
        Bool,
        Some("True"),
        NoEffect
    ),
    s!("DEFAULT_POLL_INTERVAL", [("defaults", "poll_interval")], ["ANSIBLE_POLL_INTERVAL"], Int, Some("15"), NoEffect),
    // mailplay's only debug output: the `META:` line of an implicit handler flush.
    s!("DEFAULT_DEBUG", [("defaults", "debug")], ["ANSIBLE_DEBUG"], Bool, Some("False"), Honoured),
    s!("VERBOSE_TO_STDERR", [("defaults", "verbose_to_stderr")], ["ANSIBLE_VERBOSE_TO_STDERR"], Bool, Some("False"), NoEffect),
    s!(
        "INVENTORY_UNPARSED_WARNING",
        [("inventory", "inventory_unparsed_warning")],
        ["ANSIBLE_INVENTORY_UNPARSED_WARNING"],
        Bool,
        Some("True"),
        NoEffect
    ),
    // --- known, changes behaviour, not followed: warned about ----------------
    s!("DEFAULT_MODULE_UTILS_PATH", [("defaults", "module_utils")], ["ANSIBLE_MODULE_UTILS"], PathSpec, None, Unsupported),
    s!("DEFAULT_ACTION_PLUGIN_PATH", [("defaults", "action_plugins")], ["ANSIBLE_ACTION_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_TEST_PLUGIN_PATH", [("defaults", "test_plugins")], ["ANSIBLE_TEST_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_LOOKUP_PLUGIN_PATH", [("defaults", "lookup_plugins")], ["ANSIBLE_LOOKUP_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_CALLBACK_PLUGIN_PATH", [("defaults", "callback_plugins")], ["ANSIBLE_CALLBACK_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_CONNECTION_PLUGIN_PATH", [("defaults", "connection_plugins")], ["ANSIBLE_CONNECTION_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_VARS_PLUGIN_PATH", [("defaults", "vars_plugins")], ["ANSIBLE_VARS_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_STRATEGY_PLUGIN_PATH", [("defaults", "strategy_plugins")], ["ANSIBLE_STRATEGY_PLUGINS"], PathSpec, None, Unsupported),
    s!("DEFAULT_INVENTORY_PLUGIN_PATH", [("defaults", "inventory_plugins")], ["ANSIBLE_INVENTORY_PLUGINS"], PathSpec, None, Unsupported),
    s!("BECOME_PLUGIN_PATH", [("defaults", "become_plugins")], ["ANSIBLE_BECOME_PLUGINS"], PathSpec, None, Unsupported),
    s!("COLLECTIONS_PATHS", [("defaults", "collections_path")], ["ANSIBLE_COLLECTIONS_PATH"], PathSpec, None, Unsupported),
    s!("CALLBACKS_ENABLED", [("defaults", "callbacks_enabled")], ["ANSIBLE_CALLBACKS_ENABLED"], List, Some(""), Unsupported),
    s!("DEFAULT_STDOUT_CALLBACK", [("defaults", "stdout_callback")], ["ANSIBLE_STDOUT_CALLBACK"], Str, Some("default"), Unsupported),
    s!("DEFAULT_HASH_BEHAVIOUR", [("defaults", "hash_behaviour")], ["ANSIBLE_HASH_BEHAVIOUR"], Str, Some("replace"), Unsupported),
    s!(
        "DEFAULT_UNDEFINED_VAR_BEHAVIOR",
        [("defaults", "error_on_undefined_vars")],
        ["ANSIBLE_ERROR_ON_UNDEFINED_VARS"],
        Bool,
        Some("True"),
        Unsupported
    ),
    s!("DEFAULT_PRIVATE_ROLE_VARS", [("defaults", "private_role_vars")], ["ANSIBLE_PRIVATE_ROLE_VARS"], Bool, Some("False"), Unsupported),
    s!("INJECT_FACTS_AS_VARS", [("defaults", "inject_facts_as_vars")], ["ANSIBLE_INJECT_FACT_VARS"], Bool, Some("True"), Unsupported),
    s!("DEFAULT_JINJA2_EXTENSIONS", [("defaults", "jinja2_extensions")], ["ANSIBLE_JINJA2_EXTENSIONS"], List, Some(""), Unsupported),
    s!("DEFAULT_JINJA2_NATIVE", [("defaults", "jinja2_native")], ["ANSIBLE_JINJA2_NATIVE"], Bool, Some("True"), Unsupported),
    s!("DEFAULT_NULL_REPRESENTATION", [("defaults", "null_representation")], ["ANSIBLE_NULL_REPRESENTATION"], Str, None, Unsupported),
    s!(
        "ALLOW_BROKEN_CONDITIONALS",
        [("defaults", "allow_broken_conditionals")],
        ["ANSIBLE_ALLOW_BROKEN_CONDITIONALS"],
        Bool,
        Some("False"),
        Unsupported
    ),
    s!(
        "ALLOW_EMBEDDED_TEMPLATES",
        [("defaults", "allow_embedded_templates")],
        ["ANSIBLE_ALLOW_EMBEDDED_TEMPLATES"],
        Bool,
        Some("True"),
        Unsupported
    ),
    s!("DEFAULT_NO_LOG", [("defaults", "no_log")], ["ANSIBLE_NO_LOG"], Bool, Some("False"), Unsupported),
    s!("DEFAULT_EXECUTABLE", [("defaults", "executable")], ["ANSIBLE_EXECUTABLE"], Str, Some("/bin/sh"), Unsupported),
    s!("DEFAULT_REMOTE_PORT", [("defaults", "remote_port")], ["ANSIBLE_REMOTE_PORT"], Int, None, Unsupported),
    s!("DEFAULT_ASK_PASS", [("defaults", "ask_pass")], ["ANSIBLE_ASK_PASS"], Bool, Some("False"), Unsupported),
    s!(
        "CONNECTION_PASSWORD_FILE",
        [("defaults", "connection_password_file")],
        ["ANSIBLE_CONNECTION_PASSWORD_FILE"],
        Path,
        None,
        Unsupported
    ),
    s!("BECOME_PASSWORD_FILE", [("defaults", "become_password_file")], ["ANSIBLE_BECOME_PASSWORD_FILE"], Path, None, Unsupported),
    s!(
        "BECOME_ALLOW_SAME_USER",
        [("privilege_escalation", "become_allow_same_user")],
        ["ANSIBLE_BECOME_ALLOW_SAME_USER"],
        Bool,
        Some("False"),
        Unsupported
    ),
    s!("DEFAULT_BECOME_EXE", [("privilege_escalation", "become_exe")], ["ANSIBLE_BECOME_EXE"], Str, None, Unsupported),
    s!("DEFAULT_BECOME_FLAGS", [("privilege_escalation", "become_flags")], ["ANSIBLE_BECOME_FLAGS"], Str, Some(""), Unsupported),
    s!("DEFAULT_SU", [("defaults", "su")], ["ANSIBLE_SU"], Bool, Some("False"), Unsupported),
    s!("DEFAULT_LOG_PATH", [("defaults", "log_path")], ["ANSIBLE_LOG_PATH"], Path, None, Unsupported),
    s!("DIFF_CONTEXT", [("diff", "context")], ["ANSIBLE_DIFF_CONTEXT"], Int, Some("3"), Unsupported),
    s!("MAX_FILE_SIZE_FOR_DIFF", [("defaults", "max_diff_size")], ["ANSIBLE_MAX_DIFF_SIZE"], Int, Some("104448"), Unsupported),
    s!(
        "DISPLAY_SKIPPED_HOSTS",
        [("defaults", "display_skipped_hosts")],
        ["ANSIBLE_DISPLAY_SKIPPED_HOSTS"],
        Bool,
        Some("True"),
        Unsupported
    ),
    s!(
        "DISPLAY_ARGS_TO_STDOUT",
        [("defaults", "display_args_to_stdout")],
        ["ANSIBLE_DISPLAY_ARGS_TO_STDOUT"],
        Bool,
        Some("False"),
        Unsupported
    ),
    s!("SHOW_CUSTOM_STATS", [("defaults", "show_custom_stats")], ["ANSIBLE_SHOW_CUSTOM_STATS"], Bool, Some("False"), Unsupported),
    s!(
        "ERROR_ON_MISSING_HANDLER",
        [("defaults", "error_on_missing_handler")],
        ["ANSIBLE_ERROR_ON_MISSING_HANDLER"],
        Bool,
        Some("True"),
        Honoured
    ),
    s!(
        "DUPLICATE_YAML_DICT_KEY",
        [("defaults", "duplicate_dict_key")],
        ["ANSIBLE_DUPLICATE_YAML_DICT_KEY"],
        Str,
        Some("warn"),
        Unsupported
    ),
    s!("TASK_TIMEOUT", [("defaults", "task_timeout")], ["ANSIBLE_TASK_TIMEOUT"], Int, Some("0"), Unsupported),
    s!("ENABLE_TASK_DEBUGGER", [("defaults", "enable_task_debugger")], ["ANSIBLE_ENABLE_TASK_DEBUGGER"], Bool, Some("False"), Unsupported),
    s!("CACHE_PLUGIN", [("defaults", "fact_caching")], ["ANSIBLE_CACHE_PLUGIN"], Str, Some("memory"), Honoured),
    s!("CACHE_PLUGIN_CONNECTION", [("defaults", "fact_caching_connection")], ["ANSIBLE_CACHE_PLUGIN_CONNECTION"], Path, None, Honoured),
    s!("CACHE_PLUGIN_PREFIX", [("defaults", "fact_caching_prefix")], ["ANSIBLE_CACHE_PLUGIN_PREFIX"], Str, Some("ansible_facts"), Honoured),
    s!("CACHE_PLUGIN_TIMEOUT", [("defaults", "fact_caching_timeout")], ["ANSIBLE_CACHE_PLUGIN_TIMEOUT"], Int, Some("86400"), Honoured),
    s!(
        "TRANSFORM_INVALID_GROUP_CHARS",
        [("defaults", "force_valid_group_names")],
        ["ANSIBLE_TRANSFORM_INVALID_GROUP_CHARS"],
        Str,
        Some("never"),
        Unsupported
    ),
    s!("INVENTORY_ENABLED", [("inventory", "enable_plugins")], ["ANSIBLE_INVENTORY_ENABLED"], List, None, Unsupported),
    s!(
        "INVENTORY_IGNORE_EXTS",
        [("defaults", "inventory_ignore_extensions"), ("inventory", "ignore_extensions")],
        ["ANSIBLE_INVENTORY_IGNORE"],
        List,
        None,
        Unsupported
    ),
    s!(
        "INVENTORY_IGNORE_PATTERNS",
        [("defaults", "inventory_ignore_patterns"), ("inventory", "ignore_patterns")],
        ["ANSIBLE_INVENTORY_IGNORE_REGEX"],
        List,
        Some(""),
        Unsupported
    ),
    s!(
        "INVENTORY_UNPARSED_IS_FAILED",
        [("inventory", "unparsed_is_failed")],
        ["ANSIBLE_INVENTORY_UNPARSED_FAILED"],
        Bool,
        Some("False"),
        Unsupported
    ),
    s!(
        "INVENTORY_ANY_UNPARSED_IS_FAILED",
        [("inventory", "any_unparsed_is_failed")],
        ["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"],
        Bool,
        Some("False"),
        Unsupported
    ),
    s!("VARIABLE_PRECEDENCE", [("defaults", "precedence")], ["ANSIBLE_PRECEDENCE"], List, None, Unsupported),
    s!(
        "VARIABLE_PLUGINS_ENABLED",
        [("defaults", "vars_plugins_enabled")],
        ["ANSIBLE_VARS_ENABLED"],
        List,
        Some("host_group_vars"),
        Unsupported
    ),
    s!("PLAYBOOK_VARS_ROOT", [("defaults", "playbook_vars_root")], ["ANSIBLE_PLAYBOOK_VARS_ROOT"], Str, Some("top"), Unsupported),
    s!(
        "YAML_FILENAME_EXTENSIONS",
        [("defaults", "yaml_valid_extensions")],
        ["ANSIBLE_YAML_FILENAME_EXT"],
        List,
        Some(".yml, .yaml, .json"),
        Unsupported
    ),
    s!("DEFAULT_VAULT_ID_MATCH", [("defaults", "vault_id_match")], ["ANSIBLE_VAULT_ID_MATCH"], Bool, Some("False"), Unsupported),
    s!("DEFAULT_VAULT_IDENTITY", [("defaults", "vault_identity")], ["ANSIBLE_VAULT_IDENTITY"], Str, Some("default"), Unsupported),
    s!("VAULT_ENCRYPT_SALT", [("defaults", "vault_encrypt_salt")], ["ANSIBLE_VAULT_ENCRYPT_SALT"], Str, None, Unsupported),
    s!("SSH_AGENT", [("connection", "ssh_agent")], ["ANSIBLE_SSH_AGENT"], Str, Some("none"), Unsupported),
    // The ssh connection plugin's options that change how hosts are reached.
    s!("ssh_args", [("ssh_connection", "ssh_args")], ["ANSIBLE_SSH_ARGS"], Str, None, Unsupported),
    s!("ssh_common_args", [("ssh_connection", "ssh_common_args")], ["ANSIBLE_SSH_COMMON_ARGS"], Str, None, Unsupported),
    s!("ssh_extra_args", [("ssh_connection", "ssh_extra_args")], ["ANSIBLE_SSH_EXTRA_ARGS"], Str, None, Unsupported),
    s!("control_path", [("ssh_connection", "control_path")], ["ANSIBLE_SSH_CONTROL_PATH"], Str, None, Unsupported),
    s!("reconnection_retries", [("ssh_connection", "retries")], ["ANSIBLE_SSH_RETRIES"], Int, Some("0"), Unsupported),
];

pub fn setting(name: &str) -> &'static Setting {
    SETTINGS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("unknown setting {name}"))
}
