use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

struct Dirs {
    _tmp: tempfile::TempDir,
    cwd: PathBuf,
    home: PathBuf,
    other: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let [cwd, home, other] = ["cwd", "home", "other"].map(|d| tmp.path().join(d));
    for d in [&cwd, &home, &other] {
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Dirs { _tmp: tmp, cwd, home, other }
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
}

#[test]
fn discovery_order_env_then_cwd_then_home() {
    let d = dirs();
    let home = d.home.to_str().unwrap();
    let find = |e: &BTreeMap<String, String>| find_config_file(e, &d.cwd, Some(&d.home)).0;
    // Nothing anywhere (but maybe /etc/ansible/ansible.cfg on this machine).
    let etc = Path::new("/etc/ansible/ansible.cfg").exists().then(|| PathBuf::from("/etc/ansible/ansible.cfg"));
    assert_eq!(find(&env(&[("HOME", home)])), etc);
    write(&d.home.join(".ansible.cfg"), "[defaults]\n");
    assert_eq!(find(&env(&[])), Some(d.home.join(".ansible.cfg")));
    write(&d.cwd.join("ansible.cfg"), "[defaults]\n");
    assert_eq!(find(&env(&[])), Some(d.cwd.join("ansible.cfg")));
    // ANSIBLE_CONFIG: a file, or a folder holding ansible.cfg; a missing one
    // falls through to the next candidate.
    write(&d.other.join("my.cfg"), "[defaults]\n");
    let f = d.other.join("my.cfg");
    assert_eq!(find(&env(&[("ANSIBLE_CONFIG", f.to_str().unwrap())])), Some(f.clone()));
    assert_eq!(find(&env(&[("ANSIBLE_CONFIG", d.other.to_str().unwrap())])), Some(d.cwd.join("ansible.cfg")));
    write(&d.other.join("ansible.cfg"), "[defaults]\n");
    assert_eq!(find(&env(&[("ANSIBLE_CONFIG", d.other.to_str().unwrap())])), Some(d.other.join("ansible.cfg")));
    assert_eq!(find(&env(&[("ANSIBLE_CONFIG", "/nonexistent/x.cfg")])), Some(d.cwd.join("ansible.cfg")));
}

#[test]
fn a_world_writable_folder_is_skipped_with_a_warning() {
    let d = dirs();
    write(&d.cwd.join("ansible.cfg"), "[defaults]\n");
    write(&d.home.join(".ansible.cfg"), "[defaults]\n");
    std::fs::set_permissions(&d.cwd, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (found, warnings) = find_config_file(&env(&[]), &d.cwd, Some(&d.home));
    assert_eq!(found, Some(d.home.join(".ansible.cfg")));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("world writable directory") && warnings[0].contains(d.cwd.to_str().unwrap()), "{warnings:?}");
    // Named by ANSIBLE_CONFIG it is used, without a warning.
    let cfg = d.cwd.join("ansible.cfg");
    let (found, warnings) = find_config_file(&env(&[("ANSIBLE_CONFIG", cfg.to_str().unwrap())]), &d.cwd, Some(&d.home));
    assert_eq!((found, warnings.len()), (Some(cfg), 0));
}

#[test]
fn precedence_env_over_file_over_default_and_types() {
    let d = dirs();
    write(
        &d.cwd.join("ansible.cfg"),
        "[defaults]\nforks = 7\nroles_path = ./roles:~/more:$EXTRA/r\nremote_user = \"deploy\"\nhost_key_checking = no\n\
         [privilege_escalation]\nbecome = yes\nbecome_user = postgres\n",
    );
    let home = d.home.to_str().unwrap();
    let c = AnsibleConfig::load_from(env(&[("HOME", home), ("EXTRA", "/x")]), &d.cwd).unwrap();
    assert_eq!(c.file, Some(d.cwd.join("ansible.cfg")));
    assert_eq!(c.int("DEFAULT_FORKS").unwrap(), Some(7));
    // Relative to the config file's folder; ~ and $VARS expanded.
    assert_eq!(c.pathspec("DEFAULT_ROLES_PATH").unwrap(), vec![d.cwd.join("roles"), d.home.join("more"), PathBuf::from("/x/r")]);
    assert_eq!(c.string("DEFAULT_REMOTE_USER").as_deref(), Some("deploy"));
    assert_eq!(c.bool("HOST_KEY_CHECKING"), Some(false));
    assert_eq!(c.bool("DEFAULT_BECOME"), Some(true));
    assert_eq!(c.string("DEFAULT_BECOME_USER").as_deref(), Some("postgres"));
    assert_eq!(c.bool("DEFAULT_FORCE_HANDLERS"), None);
    // The environment wins over the file; its relative paths are from the
    // current folder.
    let c = AnsibleConfig::load_from(
        env(&[("HOME", home), ("ANSIBLE_FORKS", "3"), ("ANSIBLE_ROLES_PATH", "a:/b"), ("ANSIBLE_FORCE_HANDLERS", "On")]),
        &d.other,
    )
    .unwrap();
    assert_eq!(c.int("DEFAULT_FORKS").unwrap(), Some(3));
    assert_eq!(c.pathspec("DEFAULT_ROLES_PATH").unwrap(), vec![d.other.join("a"), PathBuf::from("/b")]);
    assert_eq!(c.bool("DEFAULT_FORCE_HANDLERS"), Some(true));
    // A bad integer is an error naming the setting and the variable; an
    // empty one falls back to the default.
    let c = AnsibleConfig::load_from(env(&[("ANSIBLE_FORKS", "many")]), &d.other).unwrap();
    let e = c.int("DEFAULT_FORKS").unwrap_err();
    assert!(e.contains("DEFAULT_FORKS") && e.contains("ANSIBLE_FORKS") && e.contains("many"), "{e}");
    let c = AnsibleConfig::load_from(env(&[("ANSIBLE_FORKS", "")]), &d.other).unwrap();
    assert_eq!(c.int("DEFAULT_FORKS").unwrap(), None);
}

#[test]
fn roles_path_defaults_to_ansibles() {
    let d = dirs();
    let c = AnsibleConfig::load_from(env(&[("HOME", d.home.to_str().unwrap())]), &d.other).unwrap();
    if c.file.is_none() {
        assert_eq!(
            c.roles_path(),
            vec![d.home.join(".ansible/roles"), PathBuf::from("/usr/share/ansible/roles"), PathBuf::from("/etc/ansible/roles")]
        );
    }
}

#[test]
fn bad_files_are_errors() {
    let d = dirs();
    write(&d.other.join("x.conf"), "[defaults]\n");
    let e = AnsibleConfig::load_from(env(&[("ANSIBLE_CONFIG", d.other.join("x.conf").to_str().unwrap())]), &d.other).unwrap_err();
    assert!(e.contains("Unsupported configuration file extension") && e.contains(".conf"), "{e}");
    write(&d.other.join("bad.cfg"), "forks = 3\n");
    let e = AnsibleConfig::load_from(env(&[("ANSIBLE_CONFIG", d.other.join("bad.cfg").to_str().unwrap())]), &d.other).unwrap_err();
    assert!(e.contains("Error reading config file") && e.contains("no section headers"), "{e}");
}

#[test]
fn booleans_and_integers_as_ansible_reads_them() {
    for t in ["yes", "Yes", "true", "TRUE", "on", "1", "y", "t", " true "] {
        assert!(parse_bool(t), "{t}");
    }
    for f in ["no", "false", "off", "0", "", "maybe"] {
        assert!(!parse_bool(f), "{f}");
    }
    assert_eq!(parse_int(" 12 "), Some(12));
    assert_eq!(parse_int("3.0"), Some(3));
    assert_eq!(parse_int("3.5"), None);
    assert_eq!(unquote("'a b'"), "a b");
    assert_eq!(unquote("\"a\""), "a");
    assert_eq!(unquote("'a\""), "'a\"");
}

#[test]
fn unsupported_settings_warn_only_when_not_default() {
    let d = dirs();
    write(&d.other.join("ansible.cfg"), "[defaults]\nhash_behaviour = merge\nerror_on_undefined_vars = True\nnocows = 1\n");
    let c = AnsibleConfig::load_from(
        env(&[("ANSIBLE_DIFF_CONTEXT", "3"), ("ANSIBLE_ACTION_PLUGINS", "/lib"), ("ANSIBLE_PIPELINING", "yes")]),
        &d.other,
    )
    .unwrap();
    let w = c.unsupported_warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().any(|m| m.contains("DEFAULT_HASH_BEHAVIOUR") && m.contains("[defaults] hash_behaviour")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("DEFAULT_ACTION_PLUGIN_PATH") && m.contains("ANSIBLE_ACTION_PLUGINS=/lib")), "{w:?}");
}
