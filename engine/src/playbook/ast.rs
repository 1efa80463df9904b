//! The loaded playbook: what the loader produces and the executor runs.
//!
//! Invariants:
//! - Loading never touches a host. Everything that depends on variables
//!   (conditions, loop items, module args, dynamic include file names) is
//!   kept as raw data here and templated per host by the executor.
//! - Static constructs are resolved at load time: `import_playbook` becomes
//!   more plays, `roles:`/`import_role`/`import_tasks` become `Block`s whose
//!   tasks carry the role they came from, role handlers join the play's.
//! - Every task remembers its position (`pos`) so errors at run time can name
//!   the file, line and column.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diag::Pos;
use crate::yaml::Node;

pub type Vars = Map<String, Value>;

/// Variables owned by one place in the loaded playbook (a task, a role).
/// Shared, never copied per host: a task's scope holds the same `Arc`, so
/// the variables belong to the task they are written on and live as long
/// as it does (no cache keyed by addresses that a freed task could reuse).
pub type SharedVars = std::sync::Arc<Vars>;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

/// How many hosts a batch of `serial:` takes.
#[derive(Debug, Clone, PartialEq)]
pub enum SerialStep {
    Count(usize),
    Percent(f64),
}

/// `become`, `become_user`, `become_method`, `become_flags`, `become_exe`
/// and `remote_user` (the login user, inherited the same way) as set at
/// some level; `None` means "inherit".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BecomeOpts {
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub become_exe: Option<Value>,
    pub remote_user: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: Option<String>,
    /// The `when` of the `import_playbook` that brought the play in:
    /// Ansible adds it to every task of the play (facts gathering too).
    pub import_when: Vec<Expr>,
    /// Host pattern, lists joined with ','; may contain templates.
    pub hosts: String,
    pub pos: Pos,
    /// Folder of the playbook file the play is in (search path root).
    pub base_dir: PathBuf,
    pub vars: Vars,
    /// File names, may contain templates; each a string or a list of
    /// alternatives (first existing wins), as Ansible allows.
    pub vars_files: Vec<Value>,
    pub gather_facts: Option<Value>,
    pub pre_tasks: Vec<Task>,
    /// The play's `roles:` already expanded into one `Block` per role.
    pub roles: Vec<Task>,
    pub tasks: Vec<Task>,
    pub post_tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub become_opts: BecomeOpts,
    pub serial: Vec<SerialStep>,
    pub any_errors_fatal: Option<Value>,
    pub max_fail_percentage: Option<f64>,
    pub tags: Vec<String>,
    pub environment: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub force_handlers: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub run_once: Option<Value>,
    pub no_log: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    /// `throttle`: at most this many hosts run a task at once.
    pub throttle: Option<Value>,
    /// `module_defaults`: default arguments per module name.
    pub module_defaults: Option<Value>,
    /// `order`: the order hosts are taken in (`inventory` by default).
    pub order: HostOrder,
    /// `gather_subset` / `gather_timeout`, passed to fact gathering.
    pub gather_subset: Option<Value>,
    pub gather_timeout: Option<Value>,
    /// `timeout:` inherited by every task of the play (Ansible's Base attribute).
    pub timeout: Option<Value>,
    /// `strategy:` as written (templated with the play's variables when it starts).
    pub strategy: Option<Value>,
}

/// A play's `order` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostOrder {
    #[default]
    Inventory,
    ReverseInventory,
    Sorted,
    ReverseSorted,
    Shuffle,
}

impl HostOrder {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "inventory" => HostOrder::Inventory,
            "reverse_inventory" => HostOrder::ReverseInventory,
            "sorted" => HostOrder::Sorted,
            "reverse_sorted" => HostOrder::ReverseSorted,
            "shuffle" => HostOrder::Shuffle,
            _ => return None,
        })
    }

    /// Put host names (given in inventory order) into this order.
    pub fn arrange(self, hosts: &mut [String]) {
        match self {
            HostOrder::Inventory => {}
            HostOrder::ReverseInventory => hosts.reverse(),
            HostOrder::Sorted => hosts.sort(),
            HostOrder::ReverseSorted => hosts.sort_by(|a, b| b.cmp(a)),
            HostOrder::Shuffle => {
                use rand::seq::SliceRandom;
                hosts.shuffle(&mut rand::rng());
            }
        }
    }
}

/// A role as used in a play or by `include_role`/`import_role`.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    /// `defaults/main.yml`: lowest precedence.
    pub defaults: SharedVars,
    /// `vars/main.yml`: above play vars.
    pub vars: SharedVars,
    /// Parameters given where the role is used (`- role: x` + `foo: 1`).
    pub params: SharedVars,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoopKind {
    /// `loop:`
    Loop,
    /// `with_items:` (flattens one level), `with_list`, `with_dict`,
    /// `with_indexed_items`, `with_together`, `with_sequence`, `with_fileglob`, ...
    With(String),
}

#[derive(Debug, Clone)]
pub struct LoopSpec {
    pub kind: LoopKind,
    /// The raw value: a list, or a template string.
    pub items: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, Default)]
pub struct LoopControl {
    pub loop_var: Option<String>,
    pub index_var: Option<String>,
    pub label: Option<Value>,
    pub pause: Option<Value>,
    pub extended: Option<Value>,
    /// `extended_allitems: false` leaves `allitems` out of `ansible_loop`.
    pub extended_allitems: Option<Value>,
    /// `break_when`: after each item, stop the loop once these all hold.
    pub break_when: Vec<Expr>,
}

/// A Jinja expression with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Raw expression text (`when:` style, no braces) or a bool/number
    /// written literally, kept as text ("True", "1").
    pub text: String,
    pub pos: Pos,
    /// The value when written as a YAML boolean or number (`when: false`).
    pub literal: Option<Value>,
}

impl Expr {
    /// The condition as written, as Ansible registers it in a skipped
    /// result's `false_condition`: a literal as its value, else the text.
    pub fn as_written(&self) -> Value {
        self.literal.clone().unwrap_or_else(|| Value::from(self.text.clone()))
    }
}

// One per task, built when the playbook is loaded: boxing the large
// variants would save little memory and add indirection everywhere.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// A module call. `args` is the mapping (free-form text is already split
    /// into `_raw_params` plus `k=v` pairs); `args_node` keeps positions for
    /// error messages, `args_pos` points at the module key.
    Module { module: String, args: Value, args_node: Option<Node>, args_pos: Pos },
    /// `block`, and the result of static imports and roles.
    Block { block: Vec<Task>, rescue: Vec<Task>, always: Vec<Task> },
    /// `include_tasks` / `include_vars`-free dynamic task file; resolved per host at run time.
    IncludeTasks { file: Value, apply: Option<Box<Task>> },
    /// `include_role`, resolved at run time.
    IncludeRole {
        name: Value,
        /// `apply:` keywords, on a block around the role's tasks.
        apply: Option<Box<Task>>,
        tasks_from: Option<Value>,
        vars_from: Option<Value>,
        defaults_from: Option<Value>,
        handlers_from: Option<Value>,
        public: Option<Value>,
        allow_duplicates: Option<Value>,
    },
    /// `meta: flush_handlers` and friends.
    Meta(String),
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    pub pos: Pos,
    pub kind: TaskKind,
    pub when: Vec<Expr>,
    pub loop_: Option<LoopSpec>,
    pub loop_control: LoopControl,
    pub register: Option<String>,
    pub changed_when: Option<Vec<Expr>>,
    pub failed_when: Option<Vec<Expr>>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub notify: Vec<String>,
    /// Handlers only: extra names the handler answers to.
    pub listen: Vec<String>,
    pub tags: Vec<String>,
    pub become_opts: BecomeOpts,
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    pub run_once: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    /// `throttle`: at most this many hosts run the task at once.
    pub throttle: Option<Value>,
    /// `module_defaults` of this task or block.
    pub module_defaults: Option<Value>,
    pub vars: SharedVars,
    pub environment: Option<Value>,
    pub until: Option<Expr>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// `async:` (a time limit in seconds) and `poll:` (`exec/async_jobs.rs`).
    pub async_: Option<Value>,
    pub poll: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    /// `timeout:` seconds for each attempt of the action (Ansible's task
    /// timeout); the command on the host is ended when it passes.
    pub timeout: Option<Value>,
    /// The role this task belongs to (its files/, templates/, defaults).
    pub role: Option<Arc<Role>>,
}

impl Task {
    /// A task of the given kind with every keyword unset.
    pub fn new(kind: TaskKind, pos: Pos) -> Self {
        Task {
            name: None,
            pos,
            kind,
            when: Vec::new(),
            loop_: None,
            loop_control: LoopControl::default(),
            register: None,
            changed_when: None,
            failed_when: None,
            ignore_errors: None,
            ignore_unreachable: None,
            notify: Vec::new(),
            listen: Vec::new(),
            tags: Vec::new(),
            become_opts: BecomeOpts::default(),
            delegate_to: None,
            delegate_facts: None,
            run_once: None,
            check_mode: None,
            diff: None,
            no_log: None,
            throttle: None,
            module_defaults: None,
            vars: SharedVars::default(),
            environment: None,
            until: None,
            retries: None,
            delay: None,
            async_: None,
            poll: None,
            timeout: None,
            any_errors_fatal: None,
            role: None,
        }
    }

    /// The name shown in `TASK [...]`: the task's name, else the module
    /// name, prefixed with the role as Ansible does (`role : name`).
    pub fn display_name(&self) -> String {
        // Ansible's IncludeRole.get_name: "include_role : <the role>", no prefix.
        if let (None, TaskKind::IncludeRole { name: Value::String(role), .. }) = (&self.name, &self.kind) {
            return format!("include_role : {role}");
        }
        let base = match (&self.name, &self.kind) {
            (Some(n), _) => n.clone(),
            (None, TaskKind::Module { module, .. }) => module.clone(),
            (None, TaskKind::Block { .. }) => "block".into(),
            (None, TaskKind::IncludeTasks { .. }) => "include_tasks".into(),
            (None, TaskKind::IncludeRole { .. }) => "include_role".into(),
            (None, TaskKind::Meta(_)) => "meta".into(),
        };
        match &self.role {
            Some(r) => format!("{} : {}", r.name, base),
            None => base,
        }
    }
}
