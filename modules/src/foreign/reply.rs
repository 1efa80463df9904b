//! What an Ansible module printed, read as Ansible reads it: the JSON
//! object in its standard output (lines around it ignored), or a failure
//! that carries the raw output. The output is data from the host: it is
//! parsed without trusting a length or a shape and never rendered again.

use serde_json::{Map, Value};

use crate::host::CommandOutput;
use crate::module::{Diff, ModuleResult};

/// Ansible's `_filter_non_json_lines(objects_only=True)`: from the first line
/// that starts with `{` to the last that ends with `}`; trailing junk is
/// returned as a warning.
pub fn json_lines(stdout: &str) -> Result<(&str, Option<String>), &'static str> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines.iter().position(|l| l.trim().starts_with('{')).ok_or("No start of json char found")?;
    let rest = &lines[start..];
    let end_offset = rest.iter().rev().position(|l| l.trim().ends_with('}')).ok_or("No end of json char found")?;
    let kept = &rest[..rest.len() - end_offset];
    let junk = &rest[rest.len() - end_offset..];
    let warning =
        junk.iter().any(|l| !l.trim().is_empty()).then(|| format!("Module invocation had junk after the JSON data: {}", junk.join("\n")));
    // Slices of the original text: from the first kept line's start to the
    // last kept line's end.
    let first = kept.first().map(|l| offset_in(stdout, l)).unwrap_or(0);
    let last = kept.last().map(|l| offset_in(stdout, l) + l.len()).unwrap_or(first);
    Ok((&stdout[first..last], warning))
}

fn offset_in(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// The module's result: its JSON object as the registered result, with
/// `changed`/`failed`/`skipped`/`msg`/`ansible_facts`/`diff` typed as
/// mailplay's other modules give them. `interpreter` is what ran the
/// module (for Ansible's "was not found" message).
pub fn interpret(out: &CommandOutput, interpreter: Option<&str>) -> ModuleResult {
    let stdout = out.stdout_str();
    let parsed = json_lines(&stdout).and_then(|(text, warning)| match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok((m, warning)),
        Ok(_) => Err("the module's JSON is not an object"),
        Err(_) => Err("its output is not valid JSON"),
    });
    match parsed {
        Ok((data, warning)) => from_object(data, warning),
        Err(cause) => deserialization_failed(out, interpreter, cause),
    }
}

fn deserialization_failed(out: &CommandOutput, interpreter: Option<&str>, cause: &str) -> ModuleResult {
    let stderr = out.stderr_str();
    let stdout = out.stdout_str();
    let missing = interpreter.is_some_and(|i| {
        ["No such file or directory", "not found", "command not found"]
            .iter()
            .any(|why| stderr.contains(&format!("{i}: {why}")) || stdout.contains(&format!("{i}: {why}")))
    });
    let msg = match (missing, interpreter) {
        (true, Some(i)) => format!(
            "The module interpreter '{i}' was not found. Consider overriding the configured interpreter path for this host. See stdout/stderr for the returned output."
        ),
        _ => format!("Module result deserialization failed: {cause}. See stdout/stderr for the returned output."),
    };
    ModuleResult::failed(msg).with("module_stdout", stdout).with("module_stderr", stderr).with("rc", out.rc).with("_ansible_parsed", false)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "yes" | "on" | "1" | "true" | "y" | "t"),
        _ => false,
    }
}

fn from_object(mut data: Map<String, Value>, junk_warning: Option<String>) -> ModuleResult {
    let mut r = ModuleResult::ok();
    r.changed = data.remove("changed").as_ref().is_some_and(truthy);
    // As Ansible's task executor: without `failed`, a non-zero `rc` fails.
    r.failed = match data.remove("failed") {
        Some(v) => truthy(&v),
        None => data.get("rc").is_some_and(|v| !matches!(v, Value::Number(n) if n.as_i64() == Some(0)) && v != "0"),
    };
    r.skipped = data.remove("skipped").as_ref().is_some_and(truthy);
    r.always_show = data.remove("_ansible_verbose_always").as_ref().is_some_and(truthy);
    if let Some(Value::String(m)) = data.get("msg") {
        r.msg = Some(m.clone());
        data.remove("msg");
    }
    if let Some(Value::Object(facts)) = data.remove("ansible_facts") {
        r.facts = facts;
    }
    if let Some(d) = data.remove("diff") {
        r.diffs = diffs_of(d);
    }
    // Internal keys are the engine's to set, not a module's; AnsibleModule's
    // `invocation` is not part of the result Ansible 2.19 registers.
    data.retain(|k, _| !k.starts_with("_ansible_") && k != "invocation");
    r.data = data;
    if let Some(w) = junk_warning {
        let list = r.data.entry("warnings").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(l) = list {
            l.push(Value::String(w));
        }
    }
    r
}

/// A module's `diff`: one mapping or a list of them, each with text
/// `before`/`after` (and optional headers) or data to compare.
fn diffs_of(d: Value) -> Vec<Diff> {
    let items = match d {
        Value::Array(l) => l,
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Object(m) = item else { return None };
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            match (m.get("before"), m.get("after")) {
                (Some(Value::String(b)), Some(Value::String(a))) => Some(Diff {
                    before_header: text("before_header").unwrap_or_default(),
                    after_header: text("after_header").unwrap_or_default(),
                    before: b.clone(),
                    after: a.clone(),
                    data: None,
                }),
                (b, a) if b.is_some() || a.is_some() => {
                    Some(Diff::data(b.cloned().unwrap_or(Value::Null), a.cloned().unwrap_or(Value::Null)))
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(rc: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput { rc, stdout: stdout.as_bytes().to_vec(), stderr: stderr.as_bytes().to_vec() }
    }

    /// Captured from ansible-core 2.19's helloworld module (include_import target).
    #[test]
    fn a_module_result_becomes_the_typed_result() {
        let r = interpret(&out(0, "\n{\"msg\": \"Hello, World!\", \"invocation\": {\"module_args\": {}}}\n", ""), Some("/usr/bin/python3"));
        assert!(!r.failed && !r.changed);
        assert_eq!(r.msg.as_deref(), Some("Hello, World!"));
        assert_eq!(r.data.get("invocation"), None);
    }

    #[test]
    fn lines_around_the_json_are_ignored_and_trailing_junk_warned_about() {
        let r = interpret(&out(0, "Welcome to the host\n{\"changed\": true,\n \"x\": 1}\nbye\n", ""), None);
        assert!(r.changed);
        assert_eq!(r.data.get("x"), Some(&json!(1)));
        let w = r.data.get("warnings").and_then(Value::as_array).unwrap();
        assert_eq!(w[0], json!("Module invocation had junk after the JSON data: bye"));
    }

    /// AnsibleModule's fail_json (rc 1) and a check-mode skip, as 2.19 prints them.
    #[test]
    fn failures_and_skips_are_typed() {
        let failed = "{\"failed\": true, \"msg\": \"Unsupported parameters for (helloworld) module: x. Supported parameters include: .\", \"invocation\": {\"module_args\": {\"x\": 1}}}";
        let r = interpret(&out(1, failed, ""), None);
        assert!(r.failed);
        assert!(r.msg.unwrap().starts_with("Unsupported parameters for (helloworld)"));
        let skipped = "{\"skipped\": true, \"msg\": \"remote module (helloworld) does not support check mode\"}";
        assert!(interpret(&out(0, skipped, ""), None).skipped);
        // Without `failed`, rc decides, as Ansible's executor.
        assert!(interpret(&out(0, "{\"rc\": 2}", ""), None).failed);
        assert!(!interpret(&out(0, "{\"rc\": 0}", ""), None).failed);
    }

    #[test]
    fn output_that_is_not_json_fails_with_the_raw_output() {
        let r = interpret(&out(1, "", "Traceback (most recent call last):\nImportError: x\n"), Some("/usr/bin/python3"));
        assert!(r.failed);
        assert!(r.msg.as_deref().unwrap().starts_with("Module result deserialization failed: No start of json char found"));
        assert_eq!(r.data.get("module_stderr"), Some(&json!("Traceback (most recent call last):\nImportError: x\n")));
        assert_eq!(r.data.get("rc"), Some(&json!(1)));
        let r = interpret(&out(127, "", "sh: 1: /opt/py/bin/python3: not found\n"), Some("/opt/py/bin/python3"));
        assert!(r.msg.unwrap().starts_with("The module interpreter '/opt/py/bin/python3' was not found."));
        assert!(interpret(&out(0, "[1, 2]", ""), None).failed);
        assert!(interpret(&out(0, "{ not json }", ""), None).failed);
    }

    #[test]
    fn facts_diffs_and_internal_keys() {
        let text = r#"{"changed": true, "ansible_facts": {"color": "blue"}, "diff": {"before": "a\n", "after": "b\n", "before_header": "f"}, "_ansible_no_log": false, "_ansible_verbose_always": true}"#;
        let r = interpret(&out(0, text, ""), None);
        assert_eq!(r.facts.get("color"), Some(&json!("blue")));
        assert_eq!(r.diffs.len(), 1);
        assert_eq!((r.diffs[0].before.as_str(), r.diffs[0].before_header.as_str()), ("a\n", "f"));
        assert!(r.always_show);
        assert!(!r.data.keys().any(|k| k.starts_with("_ansible_")));
        let data = interpret(&out(0, r#"{"diff": [{"before": {"a": 1}, "after": {"a": 2}}]}"#, ""), None);
        assert_eq!(data.diffs[0].data, Some((json!({"a": 1}), json!({"a": 2}))));
    }
}
