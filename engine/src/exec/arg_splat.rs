//! Ansible's "arg splat": a module that takes no free-form text, given
//! one (`assert: '{{ item }}'`) that is a whole template, takes the
//! mapping it renders to as its arguments, under the ones the task writes
//! itself (`args:` wins), as ansible-core's TaskArgsFinalizer layers them.

use serde_json::Value;

use crate::playbook::keywords::RAW_PARAMS_MODULES;

/// Actions whose free text is their own argument (ansible-core's
/// `_BUILTIN_RAW_PARAM_MODULES_SIMPLE`): `include_vars: "{{ file }}"` names
/// a file, it is not a splat.
const OWN_FREE_TEXT: &[&str] = &["include_vars", "add_host", "group_by", "set_fact", "meta"];

/// The free text of `args` when the module splats it: a module other
/// than the command family and the actions that take free text, text that
/// is one whole template.
pub fn splatted_text<'a>(module: &str, args: &'a Value) -> Option<&'a str> {
    if RAW_PARAMS_MODULES.contains(&module) || OWN_FREE_TEXT.contains(&module) {
        return None;
    }
    let text = args.get("_raw_params")?.as_str()?.trim();
    is_whole_template(text).then_some(text)
}

/// Text that is one whole template (`{{ ... }}` or `{% ... %}`).
pub fn is_whole_template(text: &str) -> bool {
    let text = text.trim();
    (text.starts_with("{{") && text.ends_with("}}")) || (text.starts_with("{%") && text.ends_with("%}"))
}

/// Ansible's warning for a templated argument mapping.
pub const WARNING: &str =
    "Using a template for task args is unsafe in some situations (see https://docs.ansible.com/ansible/devel/reference_appendices/faq.html#argsplat-unsafe).";

/// The rendered arguments with the rendered free text (`_raw_params`)
/// spread under them; it must have rendered to a mapping.
pub fn spread(rendered: Value) -> Result<Value, String> {
    let Value::Object(mut own) = rendered else { return Ok(rendered) };
    let Some(splat) = own.remove("_raw_params") else { return Ok(Value::Object(own)) };
    let Value::Object(mut merged) = splat else {
        return Err(format!("Task args must resolve to a 'dict' not '{}'.", crate::template::json_type(&splat)));
    };
    // An argument the splat omits is dropped, as the task's own are.
    merged.retain(|_, v| v.as_str() != Some(crate::template::OMIT_TOKEN));
    merged.extend(own);
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_whole_templates_of_modules_without_free_text() {
        assert_eq!(splatted_text("assert", &json!({"_raw_params": "{{ item }}", "quiet": true})), Some("{{ item }}"));
        assert_eq!(splatted_text("command", &json!({"_raw_params": "{{ item }}"})), None);
        assert_eq!(splatted_text("include_vars", &json!({"_raw_params": "{{ lookup('first_found', params) }}"})), None);
        assert_eq!(splatted_text("assert", &json!({"_raw_params": "x {{ item }}"})), None);
        assert_eq!(splatted_text("assert", &json!({"that": "x"})), None);
    }

    #[test]
    fn the_tasks_own_arguments_win() {
        let r = spread(json!({"_raw_params": {"that": "1 == 1", "quiet": false}, "quiet": true})).unwrap();
        assert_eq!(r, json!({"that": "1 == 1", "quiet": true}));
        assert_eq!(spread(json!({"_raw_params": "x"})).unwrap_err(), "Task args must resolve to a 'dict' not 'str'.");
    }
}
