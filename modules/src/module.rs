//! The contract every module follows: probe → plan → apply.
//!
//! A module is a typed args struct plus three steps:
//! - `probe` reads the current state from the host (as few round trips as possible);
//! - `plan` is pure: `(args, state) -> Plan`, unit-tested with captured tool output;
//! - `apply` carries out exactly the plan.
//!
//! Check mode stops after `plan`; diff mode prints the plan's diffs. In
//! check mode the probe sees the host with the earlier tasks' planned
//! changes laid over it, and the plan's [`Effect`]s are recorded for the
//! tasks after it (`crate::planned`). The engine only sees the
//! type-erased [`ModuleRunner`], which [`Runner`] derives from any
//! [`Module`].

use std::path::PathBuf;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::args::{parse_args, ArgsError};
use crate::host::{Command, Host, HostError};
use crate::planned::accounts::{self, Account, PlannedAccount};
use crate::planned::{assumption_msg, Effect, Notes, PlannedHost, PlannedState};

/// One before/after pair for `--diff`, printed as a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    /// Usually the path, e.g. `/etc/postfix/main.cf`.
    pub before_header: String,
    pub after_header: String,
    pub before: String,
    pub after: String,
    /// A diff of data rather than text (Ansible's `file` module returns
    /// `{"before": {...}, "after": {...}}` without headers): registered
    /// as these values and printed as their JSON, under `before`/`after`.
    /// The text fields are then empty.
    pub data: Option<(serde_json::Value, serde_json::Value)>,
}

impl Diff {
    pub fn new(header: impl Into<String>, before: impl Into<String>, after: impl Into<String>) -> Self {
        let h = header.into();
        Diff { before_header: h.clone(), after_header: h, before: before.into(), after: after.into(), data: None }
    }

    pub fn data(before: serde_json::Value, after: serde_json::Value) -> Self {
        Diff {
            before_header: String::new(),
            after_header: String::new(),
            before: String::new(),
            after: String::new(),
            data: Some((before, after)),
        }
    }
}

/// What a module reports back, typed: the engine keeps it as the task's
/// outcome and builds Ansible's result dictionary (`changed`, `failed`,
/// `skipped`, `msg`, plus `data`) from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleResult {
    pub changed: bool,
    pub failed: bool,
    /// Nothing was done (check mode unsupported, debug's verbosity not met).
    pub skipped: bool,
    /// Show the result even without `-v` (`debug`, `assert`), as Ansible's
    /// `_ansible_verbose_always`.
    pub always_show: bool,
    pub msg: Option<String>,
    pub diffs: Vec<Diff>,
    /// Module-specific return values (`rc`, `stdout`, `stat`, `dest`, ...).
    pub data: Map<String, Value>,
    /// Facts to set on the host (`set_fact`, fact gathering).
    pub facts: Map<String, Value>,
    /// `set_fact`'s `cacheable: true`: the facts also go to the fact cache.
    pub facts_cacheable: bool,
    /// Ansible registers this module's `diff` as a list even when there is
    /// one (copy's action collects one per file), not as the one dict.
    pub diff_as_list: bool,
}

impl ModuleResult {
    pub fn ok() -> Self {
        Self::default()
    }
    pub fn changed(changed: bool) -> Self {
        ModuleResult { changed, ..Default::default() }
    }
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleResult { failed: true, msg: Some(msg.into()), ..Default::default() }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }
    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }
    pub fn with_diffs(mut self, diffs: Vec<Diff>) -> Self {
        self.diffs = diffs;
        self
    }
}

/// Check mode on a fresh host: a module whose object (a database, a table,
/// a mailbox, the server itself) an earlier task of the same run would have
/// created or started predicts its change instead of failing.
/// The message check mode shows for such a prediction.
pub fn assumed_created(msg: &str) -> String {
    format!("{msg} (yet): assuming an earlier task of this run creates it")
}

/// A check-mode result: changed if the plan changes anything, with the
/// assumption spelled out when an object was missing.
pub fn predicted(changes: bool, missing: Option<&String>) -> ModuleResult {
    let r = ModuleResult::changed(changes);
    match missing {
        Some(m) => r.with_msg(assumed_created(m)),
        None => r,
    }
}

/// Why a module could not run. A command that ran and failed is a
/// `ModuleResult` with `failed`, not an error.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error(transparent)]
    Args(#[from] ArgsError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("{0}")]
    Failed(String),
}

impl ModuleError {
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleError::Failed(msg.into())
    }
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprError {
    /// It uses an undefined variable.
    Undefined(String),
    /// Anything else: a failing filter, a type error, a syntax error.
    Failed(String),
    /// It gives `omit`, which a shown value cannot be.
    Omitted,
}

/// The template module's Jinja settings (`None` keeps Ansible's default)
/// and its destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSyntax {
    pub variable_start_string: Option<String>,
    pub variable_end_string: Option<String>,
    pub block_start_string: Option<String>,
    pub block_end_string: Option<String>,
    pub comment_start_string: Option<String>,
    pub comment_end_string: Option<String>,
    pub trim_blocks: Option<bool>,
    pub lstrip_blocks: Option<bool>,
    /// `\n`, `\r` or `\r\n` (already unescaped).
    pub newline_sequence: Option<String>,
    /// The destination on the host, which the template sees as
    /// `template_destpath`.
    pub dest: Option<String>,
    /// The `src` as the task gave it, which the template sees as
    /// `template_path` (its found path is `template_fullpath`).
    pub src: Option<String>,
}

/// What the controller side offers modules that need it: files from the
/// playbook's search path, template rendering and expression evaluation
/// (the engine owns minijinja; modules stay free of it).
pub trait Controller: Send + Sync {
    /// Find a controller-side file for `copy: src=` (`kind` = "files") or
    /// `template: src=` (`kind` = "templates"), searching the role's folder,
    /// then the playbook's, as Ansible does.
    fn find_file(&self, kind: &str, name: &str) -> Result<PathBuf, String>;
    /// The content of a controller-side file `copy` sends; with `decrypt`
    /// a vault-encrypted file is opened with the run's vault secrets
    /// (Ansible's `decrypt: true`), else sent as it is. Without vault
    /// support (tests' controllers) an encrypted file is refused.
    fn read_source(&self, path: &std::path::Path, decrypt: bool) -> Result<Vec<u8>, String> {
        let b = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if decrypt && b.starts_with(b"$ANSIBLE_VAULT;") {
            return Err(format!("{} is vault-encrypted and this controller cannot decrypt it", path.display()));
        }
        Ok(b)
    }
    /// Render a template file with the task's variables and the Jinja
    /// settings given (Ansible's defaults where `None`).
    fn render_template_file(&self, path: &std::path::Path, syntax: &TemplateSyntax) -> Result<String, String>;
    /// Evaluate a Jinja expression (`debug: var=`, `assert: that=`).
    fn eval_expression(&self, expr: &str) -> Result<Value, String>;
    /// Evaluate an expression, telling an undefined variable apart from any
    /// other error (`debug: var=` prints the one and fails on the other).
    fn eval_var(&self, expr: &str) -> Result<Value, ExprError>;
    /// Evaluate a conditional as `when:` does.
    fn eval_condition(&self, expr: &str) -> Result<bool, String>;
}

/// Everything a module may use while running.
pub struct Context<'a> {
    pub host: &'a dyn Host,
    pub controller: &'a dyn Controller,
    pub check_mode: bool,
    pub diff: bool,
    /// Ansible's verbosity (`-v` count), for modules that report more.
    pub verbosity: u8,
    /// This host's planned changes of the run so far; the engine owns one
    /// per host. Used only in check mode.
    pub planned: Option<&'a PlannedState>,
    /// In check mode, set by the runner: where a probe notes what its
    /// prediction assumes (a planned thing check mode cannot know).
    pub notes: Option<&'a Notes>,
}

impl Context<'_> {
    /// The overlay, in check mode only.
    pub fn rehearsal(&self) -> Option<&PlannedState> {
        self.planned.filter(|_| self.check_mode)
    }

    /// Note that this task's prediction rests on `why` (check mode).
    pub fn assume(&self, why: impl Into<String>) {
        if let Some(n) = self.notes {
            n.assume(why);
        }
    }

    /// In check mode, the package this run installs that provides a tool
    /// or server (`paths` it ships, else its `packages` names) which a
    /// probe could not reach; noted as an assumption when found.
    pub fn pending_provider(&self, paths: &[&str], packages: &[&str]) -> Option<String> {
        let p = self.rehearsal()?.provider(paths, packages)?;
        self.assume(format!("{p} is installed by this run first"));
        Some(p)
    }
}

/// A plan: the changes a module would make, as data.
pub trait Plan: Send + Sync {
    /// True when applying would change something.
    fn changes_anything(&self) -> bool;
    /// The before/after pairs shown with `--diff`.
    fn diffs(&self) -> Vec<Diff> {
        Vec::new()
    }
    /// What applying would leave behind, for check mode's overlay: every
    /// plan says it (an empty list means nothing the overlay tracks, e.g.
    /// rows in a database), so a module cannot forget to.
    fn effects(&self) -> Vec<Effect>;
    /// Whether an unchanged result still carries the (empty) diff in diff
    /// mode, as Ansible's `file` registers `{"before": {"path": ...}, ...}`.
    fn diff_when_unchanged(&self) -> bool {
        false
    }
}

/// A typed module. See the module docs at the top of this file.
#[async_trait]
pub trait Module: Send + Sync + 'static {
    /// The task's arguments; `#[serde(deny_unknown_fields)]`.
    type Args: DeserializeOwned + Send + Sync;
    /// What `probe` found on the host.
    type State: Send + Sync;
    /// What `plan` decided to do.
    type Plan: Plan;

    /// The module's name as used in playbooks (`copy`, `postconf`, ...).
    const NAME: &'static str;
    /// See [`ModuleResult::diff_as_list`].
    const DIFF_AS_LIST: bool = false;
    /// Documentation for `mailplay doc` (summary, arguments, example).
    fn doc() -> ModuleDoc;

    /// Check the arguments beyond what serde can (mutually exclusive
    /// options, required combinations). Runs before any host contact.
    fn validate(_args: &Self::Args) -> Result<(), String> {
        Ok(())
    }

    /// Settle what the arguments mean on this host before the probe:
    /// Ansible's `type='path'` arguments expand `$VAR` and `~` on the
    /// target (`command_expand::expand_path`). Nothing by default.
    async fn resolve(_args: &mut Self::Args, _ctx: &Context<'_>) -> Result<(), ModuleError> {
        Ok(())
    }

    async fn probe(args: &Self::Args, ctx: &Context<'_>) -> Result<Self::State, ModuleError>;

    fn plan(args: &Self::Args, state: &Self::State) -> Result<Self::Plan, ModuleError>;

    /// Carry out `plan` (only called when it changes something or the
    /// module is not idempotent by nature, like `command`). Returns the
    /// module's result, whose `changed` the engine takes as reported.
    async fn apply(args: &Self::Args, plan: Self::Plan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError>;

    /// The result reported in check mode (after `plan`, nothing applied):
    /// changed if the plan changes anything, else what an unchanged run says.
    fn check_result(args: &Self::Args, state: &Self::State, plan: &Self::Plan) -> ModuleResult {
        if plan.changes_anything() {
            ModuleResult::changed(true)
        } else {
            Self::unchanged_result(args, state)
        }
    }

    /// The result when the plan changes nothing.
    fn unchanged_result(_args: &Self::Args, _state: &Self::State) -> ModuleResult {
        ModuleResult::ok()
    }

    /// Modules whose apply must run even with an empty plan (e.g. `command`
    /// returns output) say so here.
    fn always_apply() -> bool {
        false
    }

    /// Secret values among the arguments (passwords), which the engine
    /// masks wherever it shows results, including loop items.
    fn secret_values(_args: &Self::Args) -> Vec<String> {
        Vec::new()
    }

    /// Whether the module supports check mode at all. Ansible skips tasks of
    /// modules that do not (e.g. `command` without `creates`).
    fn supports_check_mode(_args: &Self::Args) -> bool {
        true
    }

    /// The result of a task check mode skips (see `supports_check_mode`):
    /// what the module registers then, as its Ansible counterpart does.
    fn check_mode_skipped(_args: &Self::Args) -> ModuleResult {
        ModuleResult { skipped: true, ..ModuleResult::ok().with_msg("skipped, running in check mode") }
    }
}

/// Check mode with the host's overlay: probe the host as the earlier
/// tasks planned it, plan, report, and record this plan's effects. A
/// prediction that rests on something check mode cannot know is a change
/// with a message saying so, never `ok`.
async fn rehearse<M: Module>(args: &M::Args, ctx: &Context<'_>, planned: &PlannedState) -> Result<ModuleResult, ModuleError> {
    let notes = Notes::default();
    let host = PlannedHost::new(ctx.host, planned, &notes);
    let ctx = Context { host: &host, notes: Some(&notes), ..*ctx };
    let state = M::probe(args, &ctx).await?;
    let plan = M::plan(args, &state)?;
    let effects = plan.effects();
    accounts_exist(&effects, ctx.host, planned, &notes).await?;
    let mut r = M::check_result(args, &state, &plan);
    if ctx.diff {
        r.diffs = plan.diffs();
    }
    planned.record(effects);
    let assumed = notes.take();
    if !assumed.is_empty() && !r.failed && !r.skipped {
        r.changed = true;
        let why = assumption_msg(&assumed);
        r.msg = Some(match r.msg.take().filter(|m| !m.is_empty()) {
            Some(m) => format!("{m}; {why}"),
            None => why,
        });
    }
    Ok(r)
}

/// The owners and groups the plan sets exist when the real run gets there,
/// or the check fails as the real run would (see `planned::accounts`).
async fn accounts_exist(effects: &[Effect], host: &dyn Host, planned: &PlannedState, notes: &Notes) -> Result<(), ModuleError> {
    for account in accounts::needed(effects) {
        match planned.account(&account) {
            PlannedAccount::Made => continue,
            PlannedAccount::Removed => {
                return Err(ModuleError::failed(format!("{} (an earlier task of this run removes it)", account.missing_msg())))
            }
            PlannedAccount::MaybeBy(makers) => {
                if !on_host(&account, host, planned).await? {
                    notes.assume(format!("the {} may be made by {}", account.describe(), makers.join(", ")));
                }
            }
            PlannedAccount::Unplanned => {
                if !on_host(&account, host, planned).await? {
                    return Err(ModuleError::failed(format!("{} (and no earlier task of this run creates it)", account.missing_msg())));
                }
            }
        }
    }
    Ok(())
}

/// getent on the host, once per account and run.
async fn on_host(account: &Account, host: &dyn Host, planned: &PlannedState) -> Result<bool, ModuleError> {
    if let Some(known) = planned.host_account(account) {
        return Ok(known);
    }
    let (db, name) = account.getent();
    let out = host.exec(&Command::argv(["getent", db, name])).await?;
    // getent: 0 found, 2 not found; anything else is no answer.
    let exists = match out.rc {
        0 => true,
        2 => false,
        code => return Err(ModuleError::failed(format!("getent {db} {name} failed ({code}): {}", out.stderr_str().trim()))),
    };
    planned.remember_host_account(account.clone(), exists);
    Ok(exists)
}

/// Documentation of one argument, generated next to the args struct.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArgDoc {
    pub name: &'static str,
    pub ty: &'static str,
    pub required: bool,
    pub default: Option<&'static str>,
    pub description: &'static str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModuleDoc {
    pub summary: &'static str,
    pub args: Vec<ArgDoc>,
    pub example: &'static str,
}

/// The engine's view of a module: untyped args in, result out.
#[async_trait]
pub trait ModuleRunner: Send + Sync {
    fn name(&self) -> &'static str;
    fn doc(&self) -> ModuleDoc;
    /// Parse and validate args without touching a host (`--syntax-check`
    /// uses this when the args contain no templates).
    fn check_args(&self, args: &Value) -> Result<(), ArgsError>;
    /// The secret values in these args (empty if they do not parse).
    fn secret_values(&self, args: &Value) -> Vec<String>;
    async fn run(&self, args: &Value, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError>;
}

/// Adapts a typed [`Module`] to [`ModuleRunner`].
pub struct Runner<M: Module>(std::marker::PhantomData<M>);

impl<M: Module> Runner<M> {
    pub const fn new() -> Self {
        Runner(std::marker::PhantomData)
    }
}

impl<M: Module> Default for Runner<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Module> Runner<M> {
    fn parse(&self, args: &Value) -> Result<M::Args, ArgsError> {
        let parsed: M::Args = parse_args(M::NAME, args).map_err(|e| match e {
            // serde cannot list the fields of flattened structs: use the docs.
            ArgsError::UnknownField { module, field, suggestion: None } => {
                let suggestion = crate::args::closest(&field, M::doc().args.iter().map(|a| a.name));
                ArgsError::UnknownField { module, field, suggestion }
            }
            other => other,
        })?;
        M::validate(&parsed).map_err(|msg| ArgsError::Invalid { module: M::NAME, msg })?;
        Ok(parsed)
    }
}

#[async_trait]
impl<M: Module> ModuleRunner for Runner<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }

    fn doc(&self) -> ModuleDoc {
        M::doc()
    }

    fn check_args(&self, args: &Value) -> Result<(), ArgsError> {
        self.parse(args).map(|_| ())
    }

    fn secret_values(&self, args: &Value) -> Vec<String> {
        self.parse(args).map(|a| M::secret_values(&a)).unwrap_or_default()
    }

    async fn run(&self, args: &Value, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut r = self.run_typed(args, ctx).await?;
        r.diff_as_list = M::DIFF_AS_LIST;
        Ok(r)
    }
}

impl<M: Module> Runner<M> {
    async fn run_typed(&self, args: &Value, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut args = self.parse(args)?;
        M::resolve(&mut args, ctx).await?;
        if ctx.check_mode && !M::supports_check_mode(&args) {
            if let Some(planned) = ctx.planned {
                planned.skipped_unseen(M::NAME);
            }
            return Ok(M::check_mode_skipped(&args));
        }
        if let Some(planned) = ctx.rehearsal() {
            return rehearse::<M>(&args, ctx, planned).await;
        }
        let state = M::probe(&args, ctx).await?;
        let plan = M::plan(&args, &state)?;
        let diffs = if ctx.diff { plan.diffs() } else { Vec::new() };
        if ctx.check_mode {
            let mut r = M::check_result(&args, &state, &plan);
            r.diffs = diffs;
            return Ok(r);
        }
        if !plan.changes_anything() && !M::always_apply() {
            let mut r = M::unchanged_result(&args, &state);
            if plan.diff_when_unchanged() {
                r.diffs = diffs;
            }
            return Ok(r);
        }
        // A task run for real within a --check run (`check_mode: false`)
        // changes the host: later rehearsed tasks must not see the plans
        // from before it in place of what it did.
        let effects = if ctx.planned.is_some() { plan.effects() } else { Vec::new() };
        let mut r = M::apply(&args, plan, ctx).await?;
        if let (Some(planned), false) = (ctx.planned, r.failed) {
            planned.record(effects);
        }
        if ctx.diff && r.diffs.is_empty() && r.changed {
            r.diffs = diffs;
        }
        Ok(r)
    }
}
