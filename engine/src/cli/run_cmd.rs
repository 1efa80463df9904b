//! `mailplay run`: load, check, list or run playbooks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::AnsibleConfig;
use crate::exec::run::exit;
use crate::exec::tags::TagFilter;
use crate::exec::{run_playbook, Gathering, RunContext, RunOptions};
use crate::inventory::Inventory;
use crate::output::{Guarded, JsonReporter, Reporter, Tee, TextReporter};
use crate::playbook::ast::{Playbook, Task, TaskKind};
use crate::template::Templar;

use super::args::{OutputFormat, RunArgs};
use super::extra_vars::parse_extra_vars;

fn report_diagnostics(reporter: &dyn Reporter, ds: &[crate::diag::Diagnostic]) {
    for d in ds {
        reporter.error(&d.render());
    }
}

/// Exit code of a loading failure: 4 for a syntax error, 1 (as
/// ansible-playbook) when a vault could not be decrypted.
fn load_failure(ds: &[crate::diag::Diagnostic]) -> i32 {
    if ds.iter().any(crate::vault::is_vault_diagnostic) {
        exit::ERROR
    } else {
        exit::PARSE_ERROR
    }
}

/// The run's options: each command-line flag, else Ansible's setting
/// (`ANSIBLE_*` variable, else ansible.cfg), else the default.
fn options(args: &RunArgs, cfg: &AnsibleConfig) -> Result<RunOptions, String> {
    let strategy_name = cfg.string("DEFAULT_STRATEGY").unwrap_or_else(|| "linear".into());
    let strategy = crate::exec::strategy::Strategy::parse(&strategy_name).ok_or_else(|| {
        format!(
            "the strategy '{strategy_name}' (Ansible setting DEFAULT_STRATEGY, from {}) is not supported; mailplay has linear, free and host_pinned",
            cfg.raw("DEFAULT_STRATEGY").map(|(_, o)| cfg.describe(&o)).unwrap_or_default()
        )
    })?;
    let gathering = match cfg.string("DEFAULT_GATHERING") {
        None => Gathering::Implicit,
        Some(g) => Gathering::parse(&g)
            .ok_or_else(|| format!("Invalid value '{g}' for config DEFAULT_GATHERING. Valid values are: implicit, explicit, smart"))?,
    };
    let pattern_mismatch = cfg.string("HOST_PATTERN_MISMATCH").unwrap_or_else(|| "warning".into());
    crate::inventory::set_pattern_mismatch(crate::inventory::PatternMismatch::parse(&pattern_mismatch).ok_or_else(|| {
        format!("Invalid value '{pattern_mismatch}' for config HOST_PATTERN_MISMATCH. Valid values are: warning, error, ignore")
    })?);
    let positive = |name: &str| -> Result<Option<i64>, String> {
        match cfg.int(name)? {
            Some(n) if n < 1 => Err(format!("Config '{name}' has an invalid value: {n} (must be at least 1)")),
            n => Ok(n),
        }
    };
    let forks = match args.play.forks {
        Some(f) => f,
        None => positive("DEFAULT_FORKS")?.map(|n| n as usize).unwrap_or(RunOptions::default().forks),
    };
    let timeout = match args.play.timeout {
        Some(t) => Some(t),
        None => positive("DEFAULT_TIMEOUT")?.map(|n| n as u64),
    };
    let verbosity = cfg.int("DEFAULT_VERBOSITY")?.unwrap_or(0).clamp(0, 10) as u8;
    let mut tags = cfg.list("TAGS_RUN").unwrap_or_default();
    tags.extend(args.play.tags.iter().cloned());
    let mut skip_tags = cfg.list("TAGS_SKIP").unwrap_or_default();
    skip_tags.extend(args.play.skip_tags.iter().cloned());
    let ask_become_pass = args.ask_become_pass || cfg.bool("DEFAULT_BECOME_ASK_PASS") == Some(true);
    let become_password = if ask_become_pass {
        let pw = ask_password("BECOME password: ")?;
        mailplay_modules::secret::register_run_secret(&pw);
        Some(mailplay_modules::secret::Secret::new(pw))
    } else {
        None
    };
    Ok(RunOptions {
        check: args.check,
        diff: args.diff || cfg.bool("DIFF_ALWAYS") == Some(true),
        limit: args.play.limit.clone(),
        tags: TagFilter::new(&tags, &skip_tags),
        extra_vars: parse_extra_vars(&args.play.extra_vars)?,
        forks,
        max_connections: usize::MAX,
        verbosity: args.play.verbose.saturating_add(verbosity),
        start_at_task: args.start_at_task.clone(),
        force_handlers: args.play.force_handlers || cfg.bool("DEFAULT_FORCE_HANDLERS") == Some(true),
        debug: cfg.bool("DEFAULT_DEBUG") == Some(true),
        become_: (args.play.become_ || cfg.bool("DEFAULT_BECOME") == Some(true)).then_some(true),
        become_user: args.play.become_user.clone().or_else(|| cfg.string("DEFAULT_BECOME_USER")),
        become_method: args.play.become_method.clone().or_else(|| cfg.string("DEFAULT_BECOME_METHOD")),
        become_password,
        remote_user: args.user.clone().or_else(|| cfg.string("DEFAULT_REMOTE_USER")),
        private_key: args.private_key.clone().or_else(|| cfg.path("DEFAULT_PRIVATE_KEY_FILE").map(|p| p.display().to_string())),
        timeout,
        connection: args.connection.clone().or_else(|| cfg.string("DEFAULT_TRANSPORT")),
        lab: None,
        host_key_checking: cfg.bool("HOST_KEY_CHECKING").unwrap_or(true),
        any_errors_fatal: cfg.bool("ANY_ERRORS_FATAL") == Some(true),
        gathering,
        strategy,
        error_on_missing_handler: cfg.bool("ERROR_ON_MISSING_HANDLER") != Some(false),
        fact_cache: fact_cache(cfg)?,
        flush_cache: args.play.flush_cache,
    })
}

/// Read a password from the terminal without echo.
fn ask_password(prompt: &str) -> Result<String, String> {
    use std::io::Write;
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let echo_off = std::process::Command::new("stty")
        .arg("-echo")
        .stdin(std::process::Stdio::inherit())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if echo_off {
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
    }
    eprintln!();
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn run(args: RunArgs) -> i32 {
    // Listings and --syntax-check print text; a run reports through the
    // chosen reporter from its first error on, so `--output json` writes
    // its document whatever stops the run (bad options, a parse error, an
    // error in a play, Ctrl-C), with the error in it.
    let listing = args.syntax_check || args.list_hosts || args.list_tasks || args.list_tags;
    // `--json-file`: the document in a file beside the shown output, both
    // behind the same guard.
    let json_doc = match args.json_file.as_deref().filter(|_| !listing) {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(Box::new(JsonReporter::beside_text(Box::new(std::io::BufWriter::new(file))))),
            Err(e) => {
                eprintln!("ERROR! cannot write the JSON document to {path}: {e}");
                return exit::BAD_OPTIONS;
            }
        },
    };
    let json_out = args.output == OutputFormat::Json && !listing;
    let reporter: Arc<dyn Reporter> = match (json_out, json_doc) {
        (true, None) => Arc::new(Guarded::new(JsonReporter::stdout())),
        (false, None) => Arc::new(Guarded::new(TextReporter::stdout())),
        (true, Some(doc)) => Arc::new(Guarded::new(Tee::new(Box::new(JsonReporter::stdout()), doc))),
        (false, Some(doc)) => Arc::new(Guarded::new(Tee::new(Box::new(TextReporter::stdout()), doc))),
    };
    let code = run_with(&args, &reporter).await;
    reporter.finish();
    code
}

/// What every run needs before its plays: Ansible's configuration, the
/// run's options, the vault secrets and the inventory.
pub(crate) struct Prepared {
    pub cfg: AnsibleConfig,
    pub opts: RunOptions,
    pub inventory: Arc<Inventory>,
    /// The inventory sources read (`-i`, else Ansible's setting).
    pub sources: Vec<String>,
}

/// Configuration, options and inventory, shared by `mailplay run` and
/// `mailplay adhoc`; an error is reported and its exit code returned.
pub(crate) fn prepare(args: &RunArgs, reporter: &Arc<dyn Reporter>) -> Result<Prepared, i32> {
    // Ansible's configuration first: it holds defaults of everything below.
    let cfg = match AnsibleConfig::load() {
        Ok(c) => c,
        Err(e) => {
            reporter.error(&e);
            return Err(exit::BAD_OPTIONS);
        }
    };
    if args.play.verbose > 0 || cfg.int("DEFAULT_VERBOSITY").ok().flatten().unwrap_or(0) > 0 {
        println!("{}", crate::config::using_line(cfg.file.as_deref()));
    }
    for w in cfg.warnings.iter().chain(&cfg.unsupported_warnings()) {
        reporter.warning(w);
    }
    crate::playbook::set_roles_path(cfg.roles_path());
    crate::playbook::library::set_configured(cfg.module_path());
    for w in crate::template::python_filters::add_configured(&cfg.filter_plugin_path()) {
        reporter.warning(&w);
    }
    crate::template::managed::set_configured(cfg.string("DEFAULT_MANAGED_STR"));
    // Vault secrets first: inventories, playbooks and `-e @file` may be vaults.
    if let Err(e) = super::vault_cmd::install_secrets(&args.vault, crate::vault::InlineMode::Decrypt) {
        reporter.error(&e);
        return Err(exit::ERROR);
    }
    let opts = match options(args, &cfg) {
        Ok(o) => o,
        Err(e) => {
            reporter.error(&e);
            return Err(if crate::vault::is_vault_message(&e) { exit::ERROR } else { exit::BAD_OPTIONS });
        }
    };
    // Static imports are templated when playbooks load, with `-e` on top.
    crate::playbook::set_load_extra_vars(opts.extra_vars.clone());
    let sources = if args.inventory.is_empty() { configured_inventory(&cfg, reporter.as_ref()) } else { args.inventory.clone() };
    // No source or no host: only the implicit localhost (warned by the caller).
    let inventory = match Inventory::load(&sources) {
        Ok(i) => Arc::new(i),
        Err(d) => {
            let code = load_failure(std::slice::from_ref(&d));
            report_diagnostics(reporter.as_ref(), &[d]);
            return Err(code);
        }
    };
    Ok(Prepared { cfg, opts, inventory, sources })
}

async fn run_with(args: &RunArgs, reporter: &Arc<dyn Reporter>) -> i32 {
    let Prepared { opts, inventory, sources: inventory_sources, .. } = match prepare(args, reporter) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let listing = args.syntax_check || args.list_hosts || args.list_tasks || args.list_tags;
    for w in localhost_warnings(&inventory_sources, &inventory, None) {
        if listing {
            // Listings print ansible-playbook's stdout; warnings go beside it.
            eprintln!("[WARNING]: {w}");
        } else {
            reporter.warning(w);
        }
    }
    let mut playbooks = Vec::new();
    for p in &args.playbooks {
        if !Path::new(p).exists() {
            reporter.error(&format!("the playbook: {p} could not be found"));
            return exit::ERROR;
        }
        match crate::playbook::load_playbook(Path::new(p)) {
            Ok(pb) => playbooks.push(pb),
            Err(ds) => {
                report_diagnostics(reporter.as_ref(), &ds);
                return load_failure(&ds);
            }
        }
    }
    for w in crate::playbook::library::shadowed_warnings() {
        reporter.warning(&w);
    }
    let templar = Arc::new(Templar::new());
    if args.syntax_check {
        let mut problems = Vec::new();
        for pb in &playbooks {
            problems.extend(crate::playbook::syntax_check(pb));
        }
        if !problems.is_empty() {
            report_diagnostics(reporter.as_ref(), &problems);
            return exit::PARSE_ERROR;
        }
        for pb in &playbooks {
            println!("\nplaybook: {}", pb.path.display());
        }
        return exit::OK;
    }
    if args.list_hosts || args.list_tasks || args.list_tags {
        for pb in &playbooks {
            if let Err(e) = print_listing(pb, &inventory, &opts, args, &templar) {
                reporter.error(&e);
                return exit::ERROR;
            }
        }
        return exit::OK;
    }
    execute(args, opts, inventory, &playbooks, &templar, reporter, &inventory_sources).await
}

/// Run loaded playbooks, one after the other, stopping at the first that
/// does not succeed: the syntax check, the lab's twins, the descriptor
/// budget, then each play.
pub(crate) async fn execute(
    args: &RunArgs,
    mut opts: RunOptions,
    mut inventory: Arc<Inventory>,
    playbooks: &[Playbook],
    templar: &Arc<Templar>,
    reporter: &Arc<dyn Reporter>,
    inventory_sources: &[String],
) -> i32 {
    // Refuse to start on a playbook with unknown modules or bad static args:
    // nothing should run halfway before a typo is found.
    for pb in playbooks {
        let problems = crate::playbook::syntax_check(pb);
        if !problems.is_empty() {
            report_diagnostics(reporter.as_ref(), &problems);
            return exit::PARSE_ERROR;
        }
    }
    if args.lab {
        match super::lab_run::lab_twins(playbooks, &inventory, &opts, templar, inventory_sources) {
            Ok(twins) => {
                // The twins' addresses are also what templates see
                // (`hostvars[h].ansible_host` in the mail roles' settings), so
                // twins talk to twins; the connection itself is forced to the
                // twin in exec::connection whatever a play or -e says.
                for twin in twins.values() {
                    twin.apply_to_inventory(Arc::make_mut(&mut inventory));
                }
                opts.lab = Some(twins)
            }
            Err(e) => {
                reporter.error(&e);
                return exit::ERROR;
            }
        }
    }
    // Every host's connection stays open for the run: raise the soft
    // descriptor limit to the hard one, and if even that is too low for
    // the inventory's hosts, say so once and fit the run into it.
    let limit = crate::connection::fd_budget::raise_nofile_limit();
    match crate::connection::fd_budget::plan(limit, opts.forks, inventory.hosts.len().max(1)) {
        Ok(budget) => {
            if let Some(n) = &budget.notice {
                reporter.warning(n);
            }
            opts.forks = budget.forks;
            opts.max_connections = budget.max_connections;
        }
        Err(e) => {
            reporter.error(&e);
            return exit::ERROR;
        }
    }
    let mut code = exit::OK;
    for pb in playbooks {
        let dir = pb.path.parent().map(Path::to_path_buf).filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
        let ctx = Arc::new(RunContext::new(templar.clone(), inventory.clone(), opts.clone(), reporter.clone(), dir));
        let interrupt = ctx.clone();
        // One listener for the whole run, so no second Ctrl-C is missed
        // between the two waits.
        let mut sigint = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ERROR! cannot listen for Ctrl-C: {e}");
                return exit::ERROR;
            }
        };
        let watcher = tokio::spawn(async move {
            // The first Ctrl-C stops new tasks from starting: running ones
            // finish, the recap prints, the exit code is 99.
            if sigint.recv().await.is_some() {
                interrupt.interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!("\n [ERROR]: User interrupted execution");
            }
            // The second ends the run at once: local commands are killed,
            // the SSH masters closed (the helpers on the hosts then end
            // their commands), exit 99.
            if sigint.recv().await.is_some() {
                eprintln!("\n [ERROR]: User interrupted execution again: stopping now");
                mailplay_modules::local_host::kill_running_commands();
                interrupt.pool.abort_all();
                std::process::exit(exit::INTERRUPTED);
            }
        });
        code = run_playbook(ctx, pb).await;
        watcher.abort();
        if code != exit::OK {
            break;
        }
    }
    code
}

/// The inventory when no -i is given: Ansible's `inventory` setting
/// (`ANSIBLE_INVENTORY`, ansible.cfg; comma-separated paths), by default
/// `/etc/ansible/hosts`. Sources that do not exist are skipped with
/// Ansible's warning; with none left, only the implicit localhost.
pub fn configured_inventory(cfg: &AnsibleConfig, reporter: &dyn Reporter) -> Vec<String> {
    let configured = cfg.pathlist("DEFAULT_HOST_LIST");
    let explicit = configured.is_some();
    let mut sources = Vec::new();
    for p in configured.unwrap_or_else(|| vec![PathBuf::from("/etc/ansible/hosts")]) {
        if p.exists() {
            sources.push(p.display().to_string());
        } else if explicit {
            reporter.warning(&format!("Unable to parse {} as an inventory source", p.display()));
        }
    }
    sources
}

/// ansible-playbook's warnings about the implicit localhost, in its order:
/// no inventory source at all, then an inventory without hosts (for an
/// ad-hoc `pattern`, only when it is not a name of the controller, as
/// Ansible's `get_host_list`). Each can be turned off as in Ansible
/// (`ANSIBLE_INVENTORY_UNPARSED_WARNING`, `ANSIBLE_LOCALHOST_WARNING`).
pub(crate) fn localhost_warnings(sources: &[String], inventory: &Inventory, pattern: Option<&str>) -> Vec<&'static str> {
    let enabled = |var: &str| {
        std::env::var(var).ok().and_then(|v| crate::playbook::keywords::ansible_bool(&serde_json::Value::String(v))).unwrap_or(true)
    };
    let mut out = Vec::new();
    if sources.is_empty() && enabled("ANSIBLE_INVENTORY_UNPARSED_WARNING") {
        out.push("No inventory was parsed, only implicit localhost is available");
    }
    let controller = pattern.is_some_and(|p| crate::inventory::LOCALHOST_NAMES.contains(&p));
    if inventory.hosts.is_empty() && !controller && enabled("ANSIBLE_LOCALHOST_WARNING") {
        out.push("provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'");
    }
    out
}

fn tags_str(tags: &[String]) -> String {
    format!("[{}]", tags.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))
}

/// `--list-hosts`, `--list-tasks`, `--list-tags` in ansible-playbook's layout.
fn print_listing(pb: &Playbook, inv: &Inventory, opts: &RunOptions, args: &RunArgs, templar: &Templar) -> Result<(), String> {
    println!("\nplaybook: {}", pb.path.display());
    for (n, play) in pb.plays.iter().enumerate() {
        let name = play.name.clone().unwrap_or_else(|| play.hosts.clone());
        // Templated tags are shown and selected rendered with the play's
        // variables and the extra vars, as ansible-playbook does.
        let (play_vars, extra_vars) = (Arc::new(play.vars.clone()), Arc::new(opts.extra_vars.clone()));
        let scope = crate::exec::tags::play_scope(
            &[&play_vars, &extra_vars],
            Arc::new(vec![pb.path.parent().map(Path::to_path_buf).unwrap_or_default()]),
        );
        let resolve = |tags: &[String]| crate::exec::tags::resolve(tags, templar, &scope);
        // The play's own tags as written, joined without a space (Ansible's
        // `','.join(set(play.tags))`).
        println!("\n  play #{} ({}): {}\tTAGS: [{}]", n + 1, play.hosts, name, play.tags.join(","));
        if args.list_hosts {
            let (pattern, hosts) = super::lab_run::play_hosts(play, inv, opts, templar)?;
            println!("    pattern: ['{}']", pattern);
            println!("    hosts ({}):", hosts.len());
            for h in hosts {
                println!("      {h}");
            }
        }
        let mut all_tags = std::collections::BTreeSet::new();
        let mut lines = Vec::new();
        for section in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks] {
            collect_tasks(section, &play.tags, opts, &resolve, &play.tags, &mut lines, &mut all_tags);
        }
        if args.list_tasks {
            println!("    tasks:");
            for (name, tags) in &lines {
                println!("      {name}\tTAGS: {}", tags_str(tags));
            }
        }
        if args.list_tags {
            println!("      TASK TAGS: {}", tags_str(&all_tags.into_iter().collect::<Vec<_>>()));
        }
    }
    Ok(())
}

fn collect_tasks(
    tasks: &[Task],
    inherited: &[String],
    opts: &RunOptions,
    resolve: &dyn Fn(&[String]) -> Vec<String>,
    play_tags: &[String],
    out: &mut Vec<(String, Vec<String>)>,
    all: &mut std::collections::BTreeSet<String>,
) {
    for t in tasks {
        let mut tags: Vec<String> = inherited.to_vec();
        tags.extend(t.tags.iter().cloned());
        match &t.kind {
            // Like ansible-playbook, only a block's main tasks are listed.
            TaskKind::Block { block, .. } => collect_tasks(block, &tags, opts, resolve, play_tags, out, all),
            _ => {
                // Selected by the rendered tags; shown with the play's tags
                // as written added, as ansible-playbook does.
                let rendered = resolve(&tags);
                let mut shown: Vec<String> = rendered.iter().chain(play_tags).cloned().collect();
                shown.sort();
                shown.dedup();
                // --list-tags shows every tag, `never` ones included, unless
                // the user narrowed the selection.
                if opts.tags.only.is_empty() && opts.tags.skip.is_empty() {
                    all.extend(shown.iter().cloned());
                }
                if opts.tags.selects(&rendered) {
                    all.extend(shown.iter().cloned());
                    out.push((t.display_name(), shown));
                }
            }
        }
    }
}

/// `fact_caching = jsonfile` and its connection (the folder), prefix and
/// timeout; `memory` (the default) keeps facts for the run only.
fn fact_cache(cfg: &crate::config::AnsibleConfig) -> Result<Option<crate::exec::fact_cache::FactCache>, String> {
    match cfg.string("CACHE_PLUGIN").as_deref().unwrap_or("memory") {
        "memory" | "ansible.builtin.memory" => Ok(None),
        "jsonfile" | "ansible.builtin.jsonfile" => {
            let dir = cfg.path("CACHE_PLUGIN_CONNECTION").ok_or_else(|| {
                "error, 'jsonfile' cache plugin requires the 'fact_caching_connection' config option to be set (to a writeable directory path)".to_string()
            })?;
            Ok(Some(crate::exec::fact_cache::FactCache {
                dir,
                prefix: cfg.string("CACHE_PLUGIN_PREFIX").unwrap_or_else(|| "ansible_facts".into()),
                timeout: cfg.int("CACHE_PLUGIN_TIMEOUT")?.unwrap_or(86400).max(0) as u64,
            }))
        }
        other => Err(format!("Unable to load the facts cache plugin ({other}): mailplay has the 'memory' and 'jsonfile' cache plugins")),
    }
}
