//! Ansible's `k=v` argument strings (`copy: src=a dest=b`, `command: ls -l
//! chdir=/tmp`): Python-style quoting, and free text kept as `_raw_params`.

use serde_json::{Map, Value};

/// Ansible's `_get_quote_state`: the quote still open after `token`.
fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
    let mut prev: Option<char> = None;
    for c in token.chars() {
        if (c == '"' || c == '\'') && prev != Some('\\') {
            match quote {
                Some(q) if q == c => quote = None,
                Some(_) => {}
                None => quote = Some(c),
            }
        }
        prev = Some(c);
    }
    quote
}

/// Ansible's `_count_jinja2_blocks`.
fn jinja_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let (o, c) = (token.matches(open).count(), token.matches(close).count());
    (depth + o).saturating_sub(c)
}

/// Ansible's `split_args`, line for line: lines split on `\n`, words on
/// single spaces (a run of spaces and tabs are kept as written), words
/// inside quotes or `{{ }}`/`{% %}`/`{# #}` put back together, a line's
/// last word carrying its newline, and a lone `\\` outside quotes a line
/// continuation (dropped, with its newline).
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut params: Vec<String> = Vec::new();
    let items: Vec<&str> = s.split('\n').collect();
    let mut quote: Option<char> = None;
    let mut inside_quotes = false;
    let (mut print_depth, mut block_depth, mut comment_depth) = (0usize, 0usize, 0usize);
    fn last(params: &mut Vec<String>) -> &mut String {
        if params.is_empty() {
            params.push(String::new());
        }
        params.last_mut().expect("just ensured")
    }
    for (itemidx, item) in items.iter().enumerate() {
        let mut line_continuation = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                last(&mut params).push(' ');
                continue;
            }
            if token == "\\" && !inside_quotes {
                line_continuation = true;
                continue;
            }
            let was_inside_quotes = inside_quotes;
            quote = quote_state(token, quote);
            inside_quotes = quote.is_some();
            let in_jinja = print_depth > 0 || block_depth > 0 || comment_depth > 0;
            let mut appended = false;
            if inside_quotes && !was_inside_quotes && !in_jinja {
                params.push(token.to_string());
                appended = true;
            } else if in_jinja || inside_quotes || was_inside_quotes {
                let spacer = if idx == 0 { "" } else { " " };
                let l = last(&mut params);
                l.push_str(spacer);
                l.push_str(token);
                appended = true;
            }
            for (depth, open, close) in [(&mut print_depth, "{{", "}}"), (&mut block_depth, "{%", "%}"), (&mut comment_depth, "{#", "#}")] {
                let before = *depth;
                *depth = jinja_depth(token, before, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            let in_jinja = print_depth > 0 || block_depth > 0 || comment_depth > 0;
            if !in_jinja && !inside_quotes && !appended && !token.is_empty() {
                params.push(token.to_string());
            }
        }
        if items.len() > 1 && itemidx != items.len() - 1 && !line_continuation {
            last(&mut params).push('\n');
        }
    }
    if print_depth > 0 || block_depth > 0 || comment_depth > 0 || inside_quotes {
        return Err(format!("failed at splitting arguments, either an unbalanced jinja2 block or quotes: {s}"));
    }
    Ok(params)
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].replace(&format!("\\{}", b[0] as char), &(b[0] as char).to_string())
    } else {
        v.to_string()
    }
}

/// Ansible's `parse_kv` split of one word: at the first `=` after the
/// first character that is not escaped (`\\=`). The key is anything before
/// it, even a template (`set_fact: "{{ name }}={{ value }}"`).
fn split_key(token: &str) -> Option<(&str, &str)> {
    let bytes = token.as_bytes();
    let pos = (1..bytes.len()).find(|&i| bytes[i] == b'=' && bytes[i - 1] != b'\\')?;
    Some((&token[..pos], &token[pos + 1..]))
}

/// Parse `k=v ...`. With `only_keys`, other `k=v` words stay in the free text
/// (command lines may contain `=`).
pub fn parse_kv(s: &str, only_keys: Option<&[&str]>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut raw: Vec<String> = Vec::new();
    for token in split_args(s)? {
        let split = split_key(&token).filter(|(k, _)| only_keys.map(|o| o.contains(k)).unwrap_or(true));
        match split {
            Some((k, v)) => {
                out.insert(k.trim().to_string(), Value::String(unquote(v.trim())));
            }
            // Only escaped `=`s: free text, unescaped.
            None if split_key(&token).is_none() && token[1.min(token.len())..].contains('=') => raw.push(token.replace("\\=", "=")),
            None => raw.push(token),
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::String(join_args(&raw)));
    }
    Ok(out)
}

/// Ansible's join_args: words joined by a space, except after a word that
/// ends its line (a final newline stays, as in Ansible's `cmd`).
fn join_args(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_values_with_quotes() {
        let m = parse_kv(r#"src=a.txt dest="/tmp/x y" mode='0644'"#, None).unwrap();
        assert_eq!(Value::Object(m), json!({"src": "a.txt", "dest": "/tmp/x y", "mode": "0644"}));
    }

    #[test]
    fn command_lines_keep_their_text() {
        let m = parse_kv("echo a=b 'c d' chdir=/tmp", Some(&["chdir", "creates"])).unwrap();
        assert_eq!(Value::Object(m), json!({"chdir": "/tmp", "_raw_params": "echo a=b 'c d'"}));
    }

    #[test]
    fn jinja_expressions_stay_whole() {
        let m = parse_kv("msg={{ item | upper }} other={% if x %}a{% endif %}", None).unwrap();
        assert_eq!(Value::Object(m), json!({"msg": "{{ item | upper }}", "other": "{% if x %}a{% endif %}"}));
    }

    #[test]
    fn lines_of_a_multi_line_command_stay_lines() {
        // Expected values are ansible-core 2.19's parse_kv(s, check_raw=True).
        let m = parse_kv("mkdir /x || exit 0\nsleep  1\n\nrmdir /x chdir=/tmp\n", Some(&["chdir"])).unwrap();
        assert_eq!(Value::Object(m), json!({"chdir": "/tmp", "_raw_params": "mkdir /x || exit 0\nsleep  1\n\nrmdir /x"}));
        let quoted = parse_kv("echo 'a\nb'\necho c", None).unwrap();
        assert_eq!(quoted["_raw_params"], json!("echo 'a\nb'\necho c"));
        assert_eq!(parse_kv("a\tb  c", None).unwrap()["_raw_params"], json!("a\tb  c"));
    }

    /// The command_shell target's `shell: |` with `\\` line continuations.
    #[test]
    fn line_continuations_and_the_final_newline_as_in_ansible() {
        let s = "echo this is a \\\n\"multiline echo\" \\\n\"with a\nb\" \\\n| x\necho y\n";
        assert_eq!(
            parse_kv(s, Some(&["chdir"])).unwrap()["_raw_params"],
            json!("echo this is a \"multiline echo\" \"with a\nb\" | x\necho y\n")
        );
        assert!(parse_kv("{{ a", None).is_err());
    }

    #[test]
    fn keys_are_what_precedes_the_first_equals_sign_as_in_ansible() {
        let m = parse_kv("{{ item if x else item[0] }}={{ item }} a.b=c", None).unwrap();
        assert_eq!(Value::Object(m), json!({"{{ item if x else item[0] }}": "{{ item }}", "a.b": "c"}));
        let m = parse_kv(r"a\=b =c", None).unwrap();
        assert_eq!(Value::Object(m), json!({"_raw_params": "a=b =c"}));
    }

    #[test]
    fn free_text_only() {
        assert_eq!(Value::Object(parse_kv("tasks/extra.yml", None).unwrap()), json!({"_raw_params": "tasks/extra.yml"}));
        assert!(parse_kv("a='open", None).is_err());
    }
}
