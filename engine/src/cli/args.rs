//! The command line, with ansible-playbook's flag names.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "mailplay", version, about = "Push-based configuration for mail systems, Ansible-compatible and fast")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a playbook against an inventory (like ansible-playbook).
    Run(RunArgs),
    /// Show an inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// Show a module's documentation.
    Doc(DocArgs),
    /// Manage the lab of local test hosts.
    Lab(LabArgs),
    /// Rehearse a playbook on fresh lab twins of the inventory's hosts:
    /// check, run, run again, verify, and one report.
    Rehearse(RehearseArgs),
    /// Encrypt and decrypt Ansible Vault files and strings (like ansible-vault).
    Vault(VaultArgs),
    /// Run one module (or role) on the hosts of a pattern (like ansible).
    Adhoc(AdhocArgs),
    /// Show the Ansible configuration mailplay follows (like ansible-config).
    Config(ConfigArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Playbook file(s).
    #[arg(required = true)]
    pub playbooks: Vec<String>,
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", alias = "inventory-file")]
    pub inventory: Vec<String>,
    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show the differences of changed files and settings.
    #[arg(short = 'D', long)]
    pub diff: bool,
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Parse the playbook and check it without contacting hosts.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// Start at the task with this name.
    #[arg(long = "start-at-task")]
    pub start_at_task: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also write the JSON document of `--output json` to FILE, the text
    /// output staying on stdout.
    #[arg(long = "json-file", value_name = "FILE")]
    pub json_file: Option<String>,
    /// Ask for the become (sudo) password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    #[arg(long = "private-key", alias = "key-file")]
    pub private_key: Option<String>,
    /// Connection type (ssh, local).
    #[arg(short = 'c', long)]
    pub connection: Option<String>,
    /// Run against the lab twins of the inventory's hosts (`mailplay lab up
    /// -i INVENTORY`): same groups and variables, but every connection goes
    /// to the twin of the same name; refused if a targeted host has none.
    #[arg(long)]
    pub lab: bool,
    #[command(flatten)]
    pub play: PlayOpts,
    #[command(flatten)]
    pub vault: VaultOpts,
}

/// The options of a run that `mailplay rehearse` passes on to each of its
/// runs as they are.
#[derive(Args, Debug, Clone)]
pub struct PlayOpts {
    /// Limit to hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Only run tasks tagged with these tags.
    #[arg(short = 't', long)]
    pub tags: Vec<String>,
    /// Skip tasks tagged with these tags.
    #[arg(long = "skip-tags")]
    pub skip_tags: Vec<String>,
    /// Extra variables: key=value, JSON/YAML, or @file (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// How many hosts to work on at once (default: Ansible's `forks`
    /// setting if configured, else 50).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// More output (-vvv for connection details).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Run handlers even when a task failed.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    /// Clear the fact cache for every host in the inventory.
    #[arg(long = "flush-cache")]
    pub flush_cache: bool,
    /// Run operations with become (sudo by default).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    #[arg(long = "become-method")]
    pub become_method: Option<String>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long)]
    pub timeout: Option<u64>,
}

impl PlayOpts {
    /// These options as `mailplay run` arguments.
    pub fn to_argv(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut opt = |flag: &str, v: &str| a.extend([flag.to_string(), v.to_string()]);
        if let Some(l) = &self.limit {
            opt("--limit", l);
        }
        for t in &self.tags {
            opt("--tags", t);
        }
        for t in &self.skip_tags {
            opt("--skip-tags", t);
        }
        for e in &self.extra_vars {
            opt("--extra-vars", e);
        }
        if let Some(f) = self.forks {
            opt("--forks", &f.to_string());
        }
        if let Some(u) = &self.become_user {
            opt("--become-user", u);
        }
        if let Some(m) = &self.become_method {
            opt("--become-method", m);
        }
        if let Some(t) = self.timeout {
            opt("--timeout", &t.to_string());
        }
        if self.verbose > 0 {
            a.push(format!("-{}", "v".repeat(self.verbose as usize)));
        }
        if self.force_handlers {
            a.push("--force-handlers".into());
        }
        if self.become_ {
            a.push("--become".into());
        }
        a
    }
}

/// Where vault passwords come from (ansible-playbook's vault options).
#[derive(Args, Debug, Clone, Default)]
pub struct VaultOpts {
    /// Vault password file, or an executable whose output is the password
    /// (repeatable; ANSIBLE_VAULT_PASSWORD_FILE adds one).
    #[arg(long = "vault-password-file", alias = "vault-pass-file", value_name = "FILE")]
    pub vault_password_files: Vec<String>,
    /// Ask for the vault password on the terminal (no echo).
    #[arg(short = 'J', long = "ask-vault-pass", alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
    /// A vault identity: [LABEL@]SOURCE, SOURCE being a password file, an
    /// executable or `prompt` (repeatable; a vault's label is tried first).
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_ids: Vec<String>,
}

impl VaultOpts {
    /// These options as `mailplay run` arguments.
    pub fn to_argv(&self) -> Vec<String> {
        let mut a = Vec::new();
        for f in &self.vault_password_files {
            a.extend(["--vault-password-file".to_string(), f.clone()]);
        }
        for id in &self.vault_ids {
            a.extend(["--vault-id".to_string(), id.clone()]);
        }
        if self.ask_vault_pass {
            a.push("--ask-vault-pass".into());
        }
        a
    }

    pub fn to_args(&self) -> crate::vault::secrets::VaultArgs {
        crate::vault::secrets::VaultArgs {
            vault_ids: self.vault_ids.clone(),
            password_files: self.vault_password_files.clone(),
            ask_vault_pass: self.ask_vault_pass,
        }
    }
}

#[derive(Args, Debug)]
#[command(after_help = "\
Files and strings are in Ansible Vault format 1.1 ($ANSIBLE_VAULT;1.1;AES256), or 1.2 with the
vault-id label when encrypted with a --vault-id LABEL@SOURCE other than `default`; ansible-vault
2.19 reads what this writes and the other way round. Passwords come from --vault-password-file
(a file, or an executable printing it), --vault-id [LABEL@]SOURCE (SOURCE: file, executable or
`prompt`) or -J; with none of them, you are asked on the terminal.

Examples:
  mailplay vault encrypt group_vars/mail/vault.yml --vault-password-file ~/.mail-vault-pass
  mailplay vault edit group_vars/mail/vault.yml --vault-password-file ~/.mail-vault-pass
  mailplay vault encrypt_string --vault-id prod@prompt -n mail_db_password 'the password'
  mailplay run site.yml -i cluster.ini --vault-id prod@prompt --vault-password-file ~/.mail-vault-pass

The plaintext of a `!vault` value is masked in mailplay's output; values of a whole-file vault are
not (mark the tasks that show them no_log).")]
pub struct VaultArgs {
    #[command(subcommand)]
    pub action: VaultAction,
}

/// Options of the encrypting actions.
#[derive(Args, Debug, Clone, Default)]
pub struct EncryptOpts {
    /// The vault id to encrypt with (required if more than one vault id is given).
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum VaultAction {
    /// Encrypt files in place (or stdin to stdout).
    Encrypt {
        /// Files to encrypt; none or `-` reads stdin.
        files: Vec<String>,
        /// Write the result here instead (`-` for stdout; one input file only).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<String>,
        #[command(flatten)]
        encrypt: EncryptOpts,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Decrypt files in place (or stdin to stdout).
    Decrypt {
        /// Files to decrypt; none or `-` reads stdin.
        files: Vec<String>,
        /// Write the plaintext here instead (`-` for stdout; one input file only).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<String>,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Print the decrypted content of files.
    View {
        #[arg(required = true)]
        files: Vec<String>,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Edit encrypted files: decrypt into a private temporary file, run
    /// $EDITOR (default vi), re-encrypt if changed, remove the plaintext.
    Edit {
        #[arg(required = true)]
        files: Vec<String>,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Create a new encrypted file with $EDITOR.
    Create {
        file: String,
        /// Open the editor even when stdout is not a terminal.
        #[arg(long = "skip-tty-check")]
        skip_tty_check: bool,
        #[command(flatten)]
        encrypt: EncryptOpts,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Encrypt strings into `!vault |` values to paste into YAML.
    #[command(name = "encrypt_string")]
    EncryptString {
        /// Strings to encrypt; none or `-` reads stdin (kept as is, newline included).
        strings: Vec<String>,
        /// Variable name of each string, in order (repeatable).
        #[arg(short = 'n', long = "name")]
        names: Vec<String>,
        /// Variable name of the string read from stdin.
        #[arg(long = "stdin-name")]
        stdin_name: Option<String>,
        /// Ask for the string on the terminal (hidden).
        #[arg(short = 'p', long = "prompt")]
        prompt: bool,
        /// With --prompt: show the string as it is typed.
        #[arg(long = "show-input")]
        show_input: bool,
        /// Write the result here instead of stdout.
        #[arg(long = "output", value_name = "FILE")]
        output: Option<String>,
        #[command(flatten)]
        encrypt: EncryptOpts,
        #[command(flatten)]
        vault: VaultOpts,
    },
    /// Re-encrypt files with a new password.
    Rekey {
        #[arg(required = true)]
        files: Vec<String>,
        /// The new password's file (or executable).
        #[arg(long = "new-vault-password-file", value_name = "FILE", conflicts_with = "new_vault_id")]
        new_vault_password_file: Option<String>,
        /// The new vault identity, [LABEL@]SOURCE.
        #[arg(long = "new-vault-id", value_name = "[LABEL@]SOURCE")]
        new_vault_id: Option<String>,
        #[command(flatten)]
        encrypt: EncryptOpts,
        #[command(flatten)]
        vault: VaultOpts,
    },
}

#[derive(Args, Debug)]
#[command(after_help = "\
Brings up fresh lab twins of every inventory host (as `mailplay lab up -i`; needs root), then runs
the playbook on them with --lab: --check --diff, the real run, a second run, and the --verify
playbook. The report compares, per host and task, what the check predicted with what the real run
did, lists the tasks the second run changed again and the wall time of each step. The twins are
removed at the end unless --keep. Exit 0 only when every step succeeded, every prediction held and
the second run changed nothing.

Example:
  mailplay rehearse playbooks/site.yml -i inventories/cluster.ini --verify verify.yml")]
pub struct RehearseArgs {
    /// The playbook to rehearse.
    pub playbook: String,
    /// Inventory whose hosts get lab twins (repeatable).
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<String>,
    /// Keep the twins afterwards (reach them with `mailplay run ... --lab`
    /// or `ssh -F <lab dir>/ssh_config HOST`).
    #[arg(long)]
    pub keep: bool,
    /// A playbook run last, against the same inventory and twins, that
    /// checks the result (mail flows, services answer); its failure fails
    /// the rehearsal.
    #[arg(long, value_name = "VERIFY.yml")]
    pub verify: Option<String>,
    /// Twins with the mail stack's packages already installed instead of
    /// plain Debian 12 (quicker; the rehearsal then does not cover the
    /// package installation).
    #[arg(long)]
    pub preinstalled: bool,
    #[command(flatten)]
    pub play: PlayOpts,
    #[command(flatten)]
    pub vault: VaultOpts,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Builds a play of one task, `hosts: PATTERN`, `gather_facts: false`, the task `MODULE: ARGS`, and runs
it as `mailplay run` would (same inventory, configuration and implicit localhost), showing each
result as Ansible's ad-hoc command does (`host | CHANGED => {...}`). ARGS are key=value words
(free text for command, shell, raw, script) or a JSON mapping. The exit code is ansible's: 0, 2 for
failed hosts, 4 for unreachable ones.

Examples:
  mailplay adhoc mail -i cluster.ini -m command -a 'postconf -n'
  mailplay adhoc localhost -m include_role -a name=postfix --check --diff
  mailplay adhoc all -i 'mx1,mx2,' -m ping -o")]
pub struct AdhocArgs {
    /// Host pattern.
    pub pattern: String,
    /// The module (or action) to run (default: Ansible's `module_name`
    /// setting, else command).
    #[arg(short = 'm', long = "module-name")]
    pub module_name: Option<String>,
    /// The module's arguments: key=value words, or a JSON mapping.
    #[arg(short = 'a', long = "args", allow_hyphen_values = true)]
    pub module_args: Option<String>,
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", alias = "inventory-file")]
    pub inventory: Vec<String>,
    /// Limit to hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// List the matching hosts; run nothing.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// Extra variables: key=value, JSON/YAML, or @file (repeatable).
    #[arg(short = 'e', long = "extra-vars", allow_hyphen_values = true)]
    pub extra_vars: Vec<String>,
    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show the differences of changed files and settings.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Connection type (ssh, local).
    #[arg(short = 'c', long)]
    pub connection: Option<String>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    #[arg(long = "private-key", alias = "key-file")]
    pub private_key: Option<String>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long)]
    pub timeout: Option<u64>,
    /// The task's time limit in seconds (0: none).
    #[arg(long = "task-timeout")]
    pub task_timeout: Option<u64>,
    /// Run operations with become (sudo by default).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    #[arg(long = "become-method")]
    pub become_method: Option<String>,
    /// Ask for the become (sudo) password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// How many hosts to work on at once.
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// More output.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// One line per host (Ansible's oneline callback).
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,
    /// Run asynchronously, failing after this many seconds.
    #[arg(short = 'B', long = "background", value_name = "SECONDS")]
    pub background: Option<u64>,
    /// With -B: poll every this many seconds (0: start the job and return;
    /// default 15, Ansible's `poll_interval`).
    #[arg(short = 'P', long = "poll", value_name = "POLL_INTERVAL")]
    pub poll: Option<u64>,
    #[command(flatten)]
    pub vault: VaultOpts,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the settings mailplay follows, `NAME(origin) = value` (like
    /// `ansible-config dump`).
    Dump {
        /// Only the settings not at their default.
        #[arg(long = "only-changed", alias = "changed-only")]
        only_changed: bool,
        /// Use this configuration file instead of the one Ansible would find.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<String>,
        /// With -v: which configuration file is read.
        #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
        verbose: u8,
    },
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Print the whole inventory as JSON.
    #[arg(long, group = "action")]
    pub list: bool,
    /// Print one host's variables as JSON.
    #[arg(long, group = "action")]
    pub host: Option<String>,
    /// Print the group tree.
    #[arg(long, group = "action")]
    pub graph: bool,
    /// With --graph: show variables too.
    #[arg(long)]
    pub vars: bool,
    #[command(flatten)]
    pub vault: VaultOpts,
}

#[derive(Args, Debug)]
pub struct DocArgs {
    /// Module name.
    pub name: Option<String>,
    /// List all modules.
    #[arg(short = 'l', long)]
    pub list: bool,
}

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub action: LabAction,
}

#[derive(Subcommand, Debug)]
pub enum LabAction {
    /// Bring up one isolated plain Debian 12 host per inventory host.
    Up {
        #[arg(short = 'i', long = "inventory", required = true)]
        inventory: Vec<String>,
        /// Light hosts without systemd (sshd only): faster, for benchmarks.
        #[arg(long)]
        light: bool,
        /// Hosts with the mail stack's packages already installed (not
        /// configured): quicker module tests.
        #[arg(long)]
        preinstalled: bool,
    },
    /// Remove the lab's hosts.
    Down,
    /// List the lab's hosts.
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> RunArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn play_and_vault_options_pass_on_as_they_were_given() {
        let given = parse(&[
            "mailplay",
            "run",
            "x.yml",
            "-l",
            "mx*",
            "-t",
            "a",
            "-t",
            "b",
            "--skip-tags",
            "c",
            "-e",
            "k=v",
            "-e",
            "@f.yml",
            "-f",
            "5",
            "-vvv",
            "-b",
            "--become-user",
            "u",
            "--become-method",
            "su",
            "-T",
            "3",
            "--force-handlers",
            "--vault-password-file",
            "p",
            "--vault-id",
            "prod@q",
            "-J",
        ]);
        let mut argv = vec!["mailplay".to_string(), "run".into(), "x.yml".into()];
        argv.extend(given.play.to_argv());
        argv.extend(given.vault.to_argv());
        let passed = parse(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(format!("{:?}", passed.play), format!("{:?}", given.play));
        assert_eq!(format!("{:?}", passed.vault), format!("{:?}", given.vault));
        assert_eq!(given.play.forks, Some(5));
        // Nothing given: nothing passed (each run reads Ansible's configuration).
        assert!(parse(&["mailplay", "run", "x.yml"]).play.to_argv().is_empty());
    }
}
