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
    /// How many hosts to work on at once.
    #[arg(short = 'f', long, default_value_t = 50)]
    pub forks: usize,
    /// More output (-vvv for connection details).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
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
    /// Run handlers even when a task failed.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
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
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    #[arg(long = "private-key", alias = "key-file")]
    pub private_key: Option<String>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long)]
    pub timeout: Option<u64>,
    /// Connection type (ssh, local).
    #[arg(short = 'c', long)]
    pub connection: Option<String>,
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
    /// Bring up one isolated Debian host per inventory host.
    Up {
        #[arg(short = 'i', long = "inventory", required = true)]
        inventory: Vec<String>,
        /// Light hosts without systemd (sshd only): faster, for benchmarks.
        #[arg(long)]
        light: bool,
    },
    /// Remove the lab's hosts.
    Down,
    /// List the lab's hosts.
    Status,
}
