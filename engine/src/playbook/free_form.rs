//! Ansible's `k=v` argument strings (`copy: src=a dest=b`, `command: ls -l
//! chdir=/tmp`): Python-style quoting, and free text kept as `_raw_params`.

use serde_json::{Map, Value};

/// Split on whitespace outside quotes, keeping the quotes (like Ansible's
/// `split_args`) so `a="x y"` stays one token.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    // Inside `{{ }}` / `{% %}` spaces do not split (Ansible's split_args).
    let mut jinja = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if quote.is_none() && (c == '{' && matches!(chars.peek(), Some('{' | '%'))) {
            jinja += 1;
            cur.push(c);
            cur.push(chars.next().expect("peeked"));
            continue;
        }
        if quote.is_none() && jinja > 0 && (c == '}' || c == '%') && chars.peek() == Some(&'}') {
            jinja -= 1;
            cur.push(c);
            cur.push(chars.next().expect("peeked"));
            continue;
        }
        match (quote, c) {
            (None, c) if c.is_whitespace() && jinja > 0 => cur.push(c),
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                // Like Ansible's split_args, a line's last word carries the
                // newline, so a multi-line `shell: |` keeps its lines.
                if c == '\n' {
                    if let Some(last) = out.last_mut() {
                        if !last.ends_with('\n') {
                            last.push('\n');
                        }
                    }
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, '\\') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in '{s}'"));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
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
/// ends its line; the text's final newline is not part of the command.
fn join_args(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.trim_end_matches('\n').to_string()
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
        let m = parse_kv("mkdir /x || exit 0\nsleep  1\n\nrmdir /x chdir=/tmp\n", Some(&["chdir"])).unwrap();
        assert_eq!(Value::Object(m), json!({"chdir": "/tmp", "_raw_params": "mkdir /x || exit 0\nsleep 1\nrmdir /x"}));
        let quoted = parse_kv("echo 'a\nb'\necho c", None).unwrap();
        assert_eq!(quoted["_raw_params"], json!("echo 'a\nb'\necho c"));
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
