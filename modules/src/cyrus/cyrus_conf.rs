//! A small parser/editor for cyrus.conf that keeps comments and layout.
//!
//! The file is kept as lines; each section (`START {`, `SERVICES {`,
//! `EVENTS {`, `DAEMON {`) knows the lines of its entries. An entry is one
//! line: a name and `key=value` fields, values optionally quoted
//! (`cmd="imapd -U 30" listen="imap" prefork=0`). Editing rewrites only the
//! line of the entry that changes, keeps the order of its fields, and adds
//! new entries before the section's closing brace.

/// One field of an entry, with its value unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    pub name: String,
    pub fields: Vec<Field>,
    /// Index of its line.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CyrusConf {
    pub lines: Vec<String>,
    pub entries: Vec<Entry>,
    /// Section name → (line of `NAME {`, line of `}`).
    pub sections: Vec<(String, usize, usize)>,
}

/// Split `cmd="imapd -U 30" listen="imap" prefork=0` into fields.
pub fn parse_fields(s: &str) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] == b'#' {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_string();
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("'{key}' has no value (expected key=value)"));
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            let close = s[i + 1..].find('"').ok_or_else(|| format!("unterminated quote in the value of {key}"))?;
            let v = s[i + 1..i + 1 + close].to_string();
            i += close + 2;
            v
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            s[start..i].to_string()
        };
        out.push(Field { key, value });
    }
    Ok(out)
}

/// Render fields the way Debian's cyrus.conf writes them: numbers bare,
/// everything else quoted.
pub fn render_fields(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| {
            if !f.value.is_empty() && f.value.chars().all(|c| c.is_ascii_digit()) {
                format!("{}={}", f.key, f.value)
            } else {
                format!("{}=\"{}\"", f.key, f.value)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_comment_or_blank(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

pub fn parse(text: &str) -> Result<CyrusConf, String> {
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut entries = Vec::new();
    let mut sections = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for (i, l) in lines.iter().enumerate() {
        if is_comment_or_blank(l) {
            continue;
        }
        let t = l.trim();
        match &current {
            None => {
                let name = t.trim_end_matches('{').trim();
                if !t.ends_with('{') || name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(format!("line {}: expected a section like `SERVICES {{`, got `{t}`", i + 1));
                }
                current = Some((name.to_ascii_uppercase(), i));
            }
            Some((name, start)) => {
                if t == "}" {
                    sections.push((name.clone(), *start, i));
                    current = None;
                    continue;
                }
                let (entry_name, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                let fields = parse_fields(rest).map_err(|e| format!("line {}: {e}", i + 1))?;
                entries.push(Entry { section: name.clone(), name: entry_name.to_string(), fields, line: i });
            }
        }
    }
    if let Some((name, start)) = current {
        return Err(format!("section {name} opened on line {} is never closed", start + 1));
    }
    Ok(CyrusConf { lines, entries, sections })
}

/// How an entry should change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set these fields (others kept unless `exclusive`).
    Set {
        fields: Vec<Field>,
        exclusive: bool,
    },
    Remove,
}

impl CyrusConf {
    pub fn find(&self, section: &str, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.section == section && e.name == name)
    }

    /// The new text after `change` to `section`/`name`.
    pub fn edit(&self, section: &str, name: &str, change: &Change) -> String {
        let mut lines = self.lines.clone();
        match (self.find(section, name), change) {
            (Some(e), Change::Remove) => {
                lines.remove(e.line);
            }
            (None, Change::Remove) => {}
            (Some(e), Change::Set { fields, exclusive }) => {
                let mut new: Vec<Field> =
                    e.fields.iter().filter(|f| !exclusive || fields.iter().any(|w| w.key == f.key)).cloned().collect();
                for w in fields {
                    match new.iter_mut().find(|f| f.key == w.key) {
                        Some(f) => f.value = w.value.clone(),
                        None => new.push(w.clone()),
                    }
                }
                if new != e.fields {
                    // Keep the line's indentation and the gap after the name.
                    let l = &self.lines[e.line];
                    let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
                    let after_name = &l[indent.len() + e.name.len()..];
                    let gap: String = after_name.chars().take_while(|c| c.is_whitespace()).collect();
                    lines[e.line] = format!("{indent}{}{gap}{}", e.name, render_fields(&new));
                }
            }
            (None, Change::Set { fields, .. }) => {
                let line = format!("\t{}\t\t{}", name, render_fields(fields));
                match self.sections.iter().find(|(s, _, _)| s == section) {
                    Some((_, _, close)) => lines.insert(*close, line),
                    None => {
                        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                            lines.push(String::new());
                        }
                        lines.push(format!("{section} {{"));
                        lines.push(line);
                        lines.push("}".into());
                    }
                }
            }
        }
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's /etc/cyrus.conf (cyrus-common 3.6.1), comments shortened.
    const DEBIAN: &str = include_str!("testdata/cyrus.conf");

    fn set(pairs: &[(&str, &str)]) -> Change {
        Change::Set { fields: pairs.iter().map(|(k, v)| Field { key: k.to_string(), value: v.to_string() }).collect(), exclusive: false }
    }

    #[test]
    fn parses_debians_file() {
        let c = parse(DEBIAN).unwrap();
        let imap = c.find("SERVICES", "imap").unwrap();
        assert_eq!(imap.fields[0], Field { key: "cmd".into(), value: "imapd -U 30".into() });
        assert_eq!(imap.fields.len(), 4);
        assert!(c.find("EVENTS", "checkpoint").is_some());
        assert_eq!(c.sections.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["START", "SERVICES", "EVENTS"]);
    }

    #[test]
    fn the_tutorials_edits_touch_only_their_lines() {
        let c = parse(DEBIAN).unwrap();
        let out = c.edit("SERVICES", "pop3", &Change::Remove);
        assert_eq!(out.lines().count(), DEBIAN.lines().count() - 1);
        assert!(parse(&out).unwrap().find("SERVICES", "pop3").is_none());
        assert!(out.contains("#pop3s"), "comments stay");
        let c2 = parse(&out).unwrap();
        let out2 = c2.edit("SERVICES", "lmtpunix", &set(&[("prefork", "1")]));
        let changed: Vec<(&str, &str)> = out.lines().zip(out2.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(
            changed,
            vec![(
                "\tlmtpunix\tcmd=\"lmtpd\" listen=\"/run/cyrus/socket/lmtp\" prefork=0 maxchild=20",
                "\tlmtpunix\tcmd=\"lmtpd\" listen=\"/run/cyrus/socket/lmtp\" prefork=1 maxchild=20"
            )]
        );
    }

    #[test]
    fn same_values_change_nothing_and_new_entries_go_into_their_section() {
        let c = parse(DEBIAN).unwrap();
        assert_eq!(c.edit("SERVICES", "imap", &set(&[("cmd", "imapd -U 30"), ("prefork", "0")])), DEBIAN);
        let out = c.edit("SERVICES", "imaps", &set(&[("cmd", "imapd -s -U 30"), ("listen", "imaps"), ("prefork", "0")]));
        let c2 = parse(&out).unwrap();
        let e = c2.find("SERVICES", "imaps").unwrap();
        assert_eq!(e.fields[0].value, "imapd -s -U 30");
        assert!(
            c2.lines[e.line + 1].trim() == "}" || c2.lines[e.line + 1].trim().is_empty() || c2.lines[e.line + 1].trim().starts_with('#')
        );
        let out = c.edit("DAEMON", "idled", &set(&[("cmd", "idled")]));
        assert!(out.ends_with("DAEMON {\n\tidled\t\tcmd=\"idled\"\n}\n"), "{out}");
    }

    #[test]
    fn exclusive_drops_fields_not_given() {
        let c = parse(DEBIAN).unwrap();
        let out = c.edit(
            "SERVICES",
            "imap",
            &Change::Set {
                fields: vec![Field { key: "cmd".into(), value: "imapd".into() }, Field { key: "listen".into(), value: "imap".into() }],
                exclusive: true,
            },
        );
        assert!(parse(&out).unwrap().find("SERVICES", "imap").unwrap().fields.len() == 2);
    }

    #[test]
    fn broken_files_are_reported_with_the_line() {
        assert!(parse("SERVICES {\n  imap cmd=\"imapd\n}\n").unwrap_err().contains("line 2"));
        assert!(parse("SERVICES {\n  imap cmd=imapd\n").unwrap_err().contains("never closed"));
    }
}
