//! `debconf`: a package's configuration answer (preseeding).
//!
//! The current value is read with `debconf-communicate` (`GET question`),
//! which, unlike `debconf-show`, also returns password answers, so they can
//! be compared instead of being set on every run. Answers are set with
//! `debconf-set-selections` reading the line on stdin; password values
//! never appear in output or on a command line.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_string, scalar_to_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::Effect;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebconfArgs {
    /// The package (debconf "owner").
    #[serde(alias = "pkg", deserialize_with = "loose_string")]
    pub name: String,
    /// Empty without a question: the package's answers are only read
    /// (`current`), as Ansible's query form does.
    #[serde(default, alias = "selection", alias = "setting", deserialize_with = "loose_string")]
    pub question: String,
    #[serde(default, deserialize_with = "loose_string")]
    pub vtype: String,
    #[serde(default, alias = "answer")]
    pub value: Value,
    /// Mark the question unseen, so the package asks it again.
    #[serde(default, deserialize_with = "loose_bool")]
    pub unseen: bool,
}

const VTYPES: &[&str] = &["boolean", "error", "multiselect", "note", "password", "seen", "select", "string", "text", "title"];

impl DebconfArgs {
    fn value_text(&self) -> Result<String, String> {
        match (&self.value, self.vtype.as_str()) {
            (Value::Bool(b), _) => Ok(b.to_string()),
            // A list of choices, as Ansible joins it.
            (Value::Array(items), "multiselect") => {
                // Ansible sorts the list: text mixed with numbers cannot be.
                if !(items.iter().all(Value::is_string) || items.iter().all(Value::is_number)) {
                    return Err("Invalid value provided for 'multiselect': the choices must all be text".into());
                }
                let mut words = items.iter().map(scalar_to_string).collect::<Result<Vec<_>, _>>()?;
                words.sort();
                Ok(words.join(", "))
            }
            (v, "boolean") => {
                let s = scalar_to_string(v)?.to_ascii_lowercase();
                Ok(if matches!(s.as_str(), "yes" | "true" | "1" | "on") { "true".into() } else { "false".into() })
            }
            (v, _) => scalar_to_string(v),
        }
    }
    fn secret(&self) -> bool {
        self.vtype == "password"
    }
}

/// `debconf-show PACKAGE`: `* question: value` lines (`*` marks a question
/// already asked); passwords are shown as `(password omitted)`.
pub fn parse_show(out: &str) -> serde_json::Map<String, Value> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim_start_matches([' ', '*']).trim().to_string(), Value::String(v.trim().to_string())))
        .collect()
}

/// What the probe read: the question's answer, or with no question all of
/// the package's answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DebconfState {
    pub current: Option<String>,
    pub selections: Option<serde_json::Map<String, Value>>,
}

/// `debconf-communicate`'s reply to GET: `0 value`, or a non-zero code
/// (`10 question doesn't exist`).
pub fn parse_get(out: &str) -> Option<String> {
    let line = out.lines().next()?;
    let (code, rest) = line.split_once(' ').unwrap_or((line, ""));
    (code == "0").then(|| rest.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub struct DebconfPlan {
    pub change: bool,
    /// (package, question, value) once set, for check mode's overlay.
    pub answer: (String, String, String),
    pub before: String,
    pub after: String,
}

impl Plan for DebconfPlan {
    fn changes_anything(&self) -> bool {
        self.change
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("debconf", self.before.clone(), self.after.clone())]
    }
    fn effects(&self) -> Vec<Effect> {
        let (package, question, value) = self.answer.clone();
        if self.change {
            vec![Effect::Debconf { package, question, value }]
        } else {
            Vec::new()
        }
    }
}

pub fn plan(a: &DebconfArgs, current: Option<&str>) -> Result<DebconfPlan, String> {
    if a.question.is_empty() {
        return Ok(DebconfPlan {
            change: false,
            answer: (a.name.clone(), String::new(), String::new()),
            before: String::new(),
            after: String::new(),
        });
    }
    let want = a.value_text()?;
    let shown = |v: &str| if a.secret() { "********".to_string() } else { v.to_string() };
    let same = match (a.vtype.as_str(), current) {
        // A list of choices compares in any order; text as written (as
        // Ansible does: `group, shadow, passwd` changes a stored
        // `group, passwd, shadow`).
        ("multiselect", Some(c)) if a.value.is_array() => {
            let norm = |s: &str| {
                let mut v: Vec<String> = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
                v.sort();
                v
            };
            norm(c) == norm(&want)
        }
        (_, Some(c)) => c == want,
        (_, None) => false,
    };
    let answer = (a.name.clone(), a.question.clone(), want.clone());
    if same {
        return Ok(DebconfPlan { change: false, answer, before: String::new(), after: String::new() });
    }
    Ok(DebconfPlan {
        change: true,
        answer,
        before: current.map(|c| format!("{}: {}\n", a.question, shown(c))).unwrap_or_default(),
        after: format!("{}: {}\n", a.question, shown(&want)),
    })
}

pub struct DebconfModule;

#[async_trait]
impl Module for DebconfModule {
    type Args = DebconfArgs;
    type State = DebconfState;
    type Plan = DebconfPlan;
    const NAME: &'static str = "debconf";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set a debconf answer (preseed a package's question); passwords compared, never shown.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Package name." },
                ArgDoc {
                    name: "question",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "The question, e.g. postfix/main_mailer_type.",
                },
                ArgDoc {
                    name: "vtype",
                    ty: "string",
                    required: true,
                    default: None,
                    description: "string, boolean, select, multiselect, password, ...",
                },
                ArgDoc {
                    name: "value",
                    ty: "string",
                    required: true,
                    default: None,
                    description: "The answer (a secret when vtype is password).",
                },
                ArgDoc {
                    name: "unseen",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Mark it unseen so the package asks again.",
                },
            ],
            example: "- debconf:\n    name: postfix\n    question: postfix/main_mailer_type\n    vtype: select\n    value: Internet Site",
        }
    }

    fn validate(a: &DebconfArgs) -> Result<(), String> {
        if a.question.is_empty() && a.vtype.is_empty() && a.value.is_null() {
            return if a.name.contains(char::is_whitespace) { Err("name must be a single word".into()) } else { Ok(()) };
        }
        if a.question.is_empty() || a.vtype.is_empty() || a.value.is_null() {
            return Err("parameters are required together: question, vtype, value".into());
        }
        if !VTYPES.contains(&a.vtype.as_str()) {
            return Err(format!("vtype must be one of: {}, got: {}", VTYPES.join(", "), a.vtype));
        }
        let v = a.value_text()?;
        if v.contains('\n') || a.question.contains(char::is_whitespace) || a.name.contains(char::is_whitespace) {
            return Err("name, question and value must be single words/lines".into());
        }
        Ok(())
    }

    fn secret_values(a: &DebconfArgs) -> Vec<String> {
        if a.secret() {
            a.value_text().into_iter().collect()
        } else {
            Vec::new()
        }
    }

    async fn probe(a: &DebconfArgs, ctx: &Context<'_>) -> Result<DebconfState, ModuleError> {
        if a.question.is_empty() {
            let out = ctx.host.exec(&Command::shell(format!("debconf-show {}", quote(&a.name)))).await?;
            if !out.success() {
                return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
            }
            return Ok(DebconfState { current: None, selections: Some(parse_show(&out.stdout_str())) });
        }
        let cmd = Command::shell(format!("debconf-communicate {}", quote(&a.name))).stdin(format!("GET {}\n", a.question).into_bytes());
        let out = ctx.host.exec(&cmd).await?;
        let planned = ctx.rehearsal().and_then(|p| p.debconf(&a.name, &a.question));
        Ok(DebconfState { current: planned.or_else(|| parse_get(&out.stdout_str())), selections: None })
    }

    fn plan(a: &DebconfArgs, s: &DebconfState) -> Result<DebconfPlan, ModuleError> {
        plan(a, s.current.as_deref()).map_err(ModuleError::failed)
    }

    fn unchanged_result(_a: &DebconfArgs, s: &DebconfState) -> ModuleResult {
        match &s.selections {
            Some(all) => ModuleResult::ok().with("current", Value::Object(all.clone())),
            None => ModuleResult::ok(),
        }
    }

    async fn apply(a: &DebconfArgs, _p: DebconfPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let line = format!("{} {} {} {}\n", a.name, a.question, a.vtype, a.value_text().map_err(ModuleError::failed)?);
        let flag = if a.unseen { " -u" } else { "" };
        let out = ctx.host.exec(&Command::shell(format!("debconf-set-selections{flag}")).stdin(line.into_bytes())).await?;
        if !out.success() {
            return Ok(ModuleResult::failed(format!("debconf-set-selections failed: {}", out.stderr_str().trim())));
        }
        Ok(ModuleResult::changed(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> DebconfArgs {
        crate::args::parse_args("debconf", &v).unwrap()
    }

    #[test]
    fn compares_answers_and_hides_passwords() {
        // `echo GET postfix/main_mailer_type | debconf-communicate postfix` on Debian 12.
        assert_eq!(parse_get("0 Internet Site\n").as_deref(), Some("Internet Site"));
        assert_eq!(parse_get("10 postfix/nope doesn't exist\n"), None);
        let a = args(json!({"name": "postfix", "question": "postfix/main_mailer_type", "vtype": "select", "value": "Internet Site"}));
        assert!(!plan(&a, Some("Internet Site")).unwrap().changes_anything());
        assert!(plan(&a, Some("No configuration")).unwrap().changes_anything());
        let pw = args(json!({"name": "x", "question": "x/pw", "vtype": "password", "value": "s3cret"}));
        assert!(!plan(&pw, Some("s3cret")).unwrap().changes_anything());
        let p = plan(&pw, Some("old")).unwrap();
        assert_eq!((p.before.as_str(), p.after.as_str()), ("x/pw: ********\n", "x/pw: ********\n"));
        let b = args(json!({"name": "x", "question": "x/b", "vtype": "boolean", "value": "yes"}));
        assert!(!plan(&b, Some("true")).unwrap().changes_anything());
        assert!(DebconfModule::validate(&args(json!({"name": "x", "question": "x/b", "vtype": "bool", "value": 1}))).is_err());
        let m = args(
            json!({"name": "libnss-ldapd", "question": "libnss-ldapd/nsswitch", "vtype": "multiselect", "value": ["passwd", "group", "shadow"]}),
        );
        assert_eq!(m.value_text().unwrap(), "group, passwd, shadow");
        assert!(!plan(&m, Some("passwd, group, shadow")).unwrap().changes_anything());
        let text = args(
            json!({"name": "libnss-ldapd", "question": "libnss-ldapd/nsswitch", "vtype": "multiselect", "value": "group, shadow, passwd"}),
        );
        assert!(plan(&text, Some("group, passwd, shadow")).unwrap().changes_anything());
        let mixed = args(json!({"name": "l", "question": "l/n", "vtype": "multiselect", "value": ["group", 1, "passwd"]}));
        assert!(plan(&mixed, Some("group")).unwrap_err().starts_with("Invalid value provided"));
    }

    #[test]
    fn a_package_alone_reads_its_answers() {
        let q = args(json!({"name": "tzdata"}));
        assert_eq!(DebconfModule::validate(&q), Ok(()));
        assert!(DebconfModule::validate(&args(json!({"name": "tzdata", "question": "tzdata/Areas"}))).is_err());
        assert!(!plan(&q, None).unwrap().changes_anything());
        // `debconf-show tzdata` on Debian 12.
        let shown = parse_show("  tzdata/Zones/US:\n* tzdata/Areas: Etc\n* tzdata/Zones/Etc: UTC\n");
        assert_eq!(shown["tzdata/Zones/Etc"], "UTC");
        assert_eq!(shown["tzdata/Areas"], "Etc");
        assert_eq!(shown["tzdata/Zones/US"], "");
    }
}
