//! YAML documents as a tree of nodes that remember where they came from.
//!
//! Playbooks, task files, vars files and YAML inventories are loaded into
//! [`Node`]s first (YAML 1.1 booleans like `yes`, and `0644` as octal, as
//! Ansible reads them), so that every later error can name file:line:column.
//! Plain data is then taken out with [`Node::to_value`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::{Spanned, Tagged};

use crate::diag::{Diagnostic, Pos};
use crate::vault::{InlineMode, VaultContext};

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys kept in document order.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

impl Node {
    pub fn new(kind: NodeKind, pos: Pos) -> Self {
        Node { kind, pos }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// Look up a key of a mapping (string keys).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.key_string() == key).map(|(_, v)| v)
    }

    /// A mapping key as text (`1: x` has the key "1", as in Ansible).
    pub fn key_string(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            NodeKind::Null => "null".into(),
            _ => format!("{:?}", self.to_value()),
        }
    }

    /// A short name of the node's type for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
        }
    }

    /// The node as plain data (positions dropped).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.key_string(), v.to_value())).collect()),
        }
    }
}

/// How deep collections may nest. Each level costs several recursive
/// frames (the parser, `RawNode`, conversion), and past ~50 levels that
/// overflows the 2 MiB stack of a tokio worker (`from_yaml`, vars files)
/// in a debug build; real playbooks nest about 10 deep.
pub const MAX_DEPTH: usize = 32;

/// The YAML options Ansible's loader amounts to, with saphyr's budget
/// (nodes, aliases, scalar bytes) and a depth limit that fits any stack.
fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.legacy_octal_numbers = true;
    let mut budget = o.budget.take().unwrap_or_default();
    budget.max_depth = MAX_DEPTH;
    o.budget = Some(budget);
    o
}

/// Parse YAML text into a node tree. `file` is used for positions.
/// `!vault` values are decrypted with the process's vault secrets.
pub fn parse_str(text: &str, file: &Path) -> Result<Node, Diagnostic> {
    parse_str_with(text, file, &crate::vault::context())
}

/// [`parse_str`] with the vault secrets given.
pub fn parse_str_with(text: &str, file: &Path, vault: &VaultContext) -> Result<Node, Diagnostic> {
    let file = Arc::new(file.to_path_buf());
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---") {
        return Ok(Node::new(NodeKind::Null, Pos::new(&file, 1, 1)));
    }
    let spanned: Spanned<Tagged<RawNode>> = serde_saphyr::from_str_with_options(text, options()).map_err(|e| {
        let (mut line, mut column) = e.location().map(|l| (l.line() as u32, l.column() as u32)).unwrap_or((0, 0));
        let msg = clean_message(&first_line(&e.to_string()));
        if msg.contains("tab") {
            // Point at the tab itself, not where the scanner noticed it.
            if let Some((n, l)) = text
                .lines()
                .enumerate()
                .skip(line.saturating_sub(1) as usize)
                .find(|(_, l)| l.starts_with(['\t', ' ']) && l.trim_start_matches(' ').starts_with('\t'))
            {
                line = n as u32 + 1;
                column = (l.find('\t').unwrap_or(0) + 1) as u32;
            }
        }
        Diagnostic::new(Pos::new(&file, line, column), format!("YAML syntax error: {msg}"))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    from_spanned(spanned, &file, vault, &lines)
}

/// Every document of a YAML stream (`from_yaml_all`); empty documents are
/// left out, as serde-saphyr does.
pub fn parse_documents(text: &str, file: &Path) -> Result<Vec<Node>, Diagnostic> {
    let file = Arc::new(file.to_path_buf());
    let vault = crate::vault::context();
    let docs: Vec<RawSpanned> = serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line() as u32, l.column() as u32)).unwrap_or((0, 0));
        Diagnostic::new(Pos::new(&file, line, column), format!("YAML syntax error: {}", clean_message(&first_line(&e.to_string()))))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    docs.into_iter().map(|d| from_spanned(d, &file, &vault, &lines)).collect()
}

/// Read and parse a YAML file. A vault-encrypted file is decrypted first;
/// positions in its errors are then in the decrypted text. Files read
/// this way are the user's (playbooks, task files, roles, vars files,
/// group_vars/host_vars, `-e @file`), so their text is trusted as
/// template source (`template::trust`); data (`from_yaml`) goes through
/// [`parse_str`], which trusts nothing.
pub fn parse_file(path: &Path) -> Result<Node, Diagnostic> {
    parse_file_with(path, &crate::vault::context())
}

/// [`parse_file`] with the vault secrets given.
pub fn parse_file_with(path: &Path, vault: &VaultContext) -> Result<Node, Diagnostic> {
    let (text, encrypted) = crate::vault::read_text(path, vault)?;
    let node = parse_str_with(&text, path, vault).map_err(|mut d| {
        if encrypted && d.pos.is_known() && !crate::vault::is_vault_diagnostic(&d) {
            d.message
                .push_str(" (the position is in the decrypted content of this vault-encrypted file: see it with `mailplay vault view`)");
        }
        d
    })?;
    crate::template::trust::remember_node(&node);
    Ok(node)
}

/// saphyr repeats the position in its message ("error: line 2 column 10: ..."); we print it already.
fn clean_message(s: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^(error: )?line \d+ column \d+: ").expect("valid"));
    let msg = re.replace(s, "").into_owned();
    if msg.contains("budget breached: Depth") || msg.contains("recursion limit exceeded") {
        return format!("collections nested deeper than {MAX_DEPTH} levels");
    }
    match msg.split_once("budget breached: ") {
        Some((_, what)) => format!("document beyond mailplay's limits ({what})"),
        None => msg,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

// serde-saphyr hands out locations through `Spanned<T>` and tags through
// `Tagged<T>`; `RawNode` is the recursive shape they fill, converted to
// `Node` right after.
type RawSpanned = Spanned<Tagged<RawNode>>;

enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawSpanned>),
    Map(Vec<(RawSpanned, RawSpanned)>),
}

fn from_spanned(s: RawSpanned, file: &Arc<PathBuf>, vault: &VaultContext, lines: &[&str]) -> Result<Node, Diagnostic> {
    let pos = Pos { file: Some(file.clone()), line: s.referenced.line() as u32, column: s.referenced.column() as u32 };
    let Tagged(value, tag) = s.value;
    let kind = match value {
        RawNode::Str(t) if tag.as_deref() == Some("!vault") => return inline_vault(&t, pos, vault),
        _ if tag.as_deref() == Some("!vault") => {
            return Err(Diagnostic::new(pos, "a !vault value must be the text ansible-vault encrypt_string printed"))
        }
        RawNode::Null => NodeKind::Null,
        RawNode::Bool(b) => match plain_scalar_at(lines, &pos) {
            // The YAML 1.1 parser also takes y/n and any case of yes/on;
            // Ansible's (PyYAML's) booleans are only these spellings, so
            // `loop: [x, y]` keeps the letter.
            Some(word) if !is_pyyaml_bool(word) => NodeKind::Str(word.to_string()),
            _ => NodeKind::Bool(b),
        },
        RawNode::Int(i) => NodeKind::Int(i),
        RawNode::Float(f) => NodeKind::Float(f),
        // Ansible's `!unsafe`: text that is never templated.
        RawNode::Str(t) if tag.as_deref() == Some("!unsafe") => NodeKind::Str(crate::template::mark_unsafe(&t)),
        RawNode::Str(t) => NodeKind::Str(t),
        RawNode::Seq(items) => NodeKind::Seq(items.into_iter().map(|i| from_spanned(i, file, vault, lines)).collect::<Result<_, _>>()?),
        RawNode::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((from_spanned(k, file, vault, lines)?, from_spanned(v, file, vault, lines)?)))
                .collect::<Result<_, Diagnostic>>()?,
        ),
    };
    Ok(Node { kind, pos })
}

/// PyYAML's boolean spellings, which Ansible's loader uses.
fn is_pyyaml_bool(word: &str) -> bool {
    matches!(
        word,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// The plain scalar written at `pos` (1-based line and column), up to the
/// first character that ends a plain scalar in block or flow context.
fn plain_scalar_at<'a>(lines: &[&'a str], pos: &Pos) -> Option<&'a str> {
    let line = lines.get((pos.line as usize).checked_sub(1)?)?;
    let start = line.char_indices().nth((pos.column as usize).checked_sub(1)?).map(|(i, _)| i)?;
    let rest = &line[start..];
    let end = rest.find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#' | ':')).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|w| !w.is_empty())
}

/// A `!vault` value: decrypted, its plaintext registered as a secret of the
/// run so that the reporters mask it; or kept as ansible-inventory shows it.
fn inline_vault(ciphertext: &str, pos: Pos, vault: &VaultContext) -> Result<Node, Diagnostic> {
    if vault.inline == InlineMode::Keep {
        let key = Node::new(NodeKind::Str("__ansible_vault".into()), pos.clone());
        let text = Node::new(NodeKind::Str(ciphertext.to_string()), pos.clone());
        return Ok(Node::new(NodeKind::Map(vec![(key, text)]), pos));
    }
    let opened = crate::vault::decrypt(ciphertext.as_bytes(), &vault.secrets)
        .map_err(|e| Diagnostic::new(pos.clone(), format!("{e} on this !vault value")))?;
    let plaintext = String::from_utf8(opened.plaintext)
        .map_err(|_| Diagnostic::new(pos.clone(), "this !vault value does not decrypt to UTF-8 text"))?;
    mailplay_modules::secret::register_run_secret(&plaintext);
    crate::vault::origin::note_vaulted(&plaintext);
    Ok(Node::new(NodeKind::Str(plaintext), pos))
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
                Ok(RawNode::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
                Ok(RawNode::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
                RawNode::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<RawNode, E> {
                Ok(RawNode::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<RawNode, E> {
                Ok(RawNode::Int(i))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<RawNode, E> {
                Ok(i64::try_from(u).map(RawNode::Int).unwrap_or(RawNode::Float(u as f64)))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<RawNode, E> {
                Ok(RawNode::Float(f))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawNode, E> {
                Ok(RawNode::Str(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<RawNode, E> {
                Ok(RawNode::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<RawSpanned>()? {
                    items.push(item);
                }
                Ok(RawNode::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<RawSpanned, RawSpanned>()? {
                    entries.push((k, v));
                }
                Ok(RawNode::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Node {
        parse_str(t, Path::new("t.yml")).unwrap()
    }

    #[test]
    fn keeps_positions_of_nested_nodes() {
        let n = parse("- hosts: all\n  tasks:\n    - name: x\n      copy: {dest: /a}\n");
        let play = &n.as_seq().unwrap()[0];
        let tasks = play.get("tasks").unwrap();
        let copy = tasks.as_seq().unwrap()[0].get("copy").unwrap();
        assert_eq!((copy.pos.line, copy.pos.column), (4, 13));
        assert_eq!(copy.get("dest").unwrap().pos.line, 4);
        assert_eq!(copy.pos.file.as_deref().map(|p| p.as_path()), Some(Path::new("t.yml")));
    }

    #[test]
    fn only_pyyamls_boolean_spellings_are_booleans() {
        let v = parse("a: y\nb: N\nc: yEs\nd: Yes\ne: OFF\nf: [x, y, n, on]\ng:\n  - y\n  - 'y'\nh: true\n").to_value();
        assert_eq!(v["a"], Value::from("y"));
        assert_eq!(v["b"], Value::from("N"));
        assert_eq!(v["c"], Value::from("yEs"));
        assert_eq!(v["d"], Value::Bool(true));
        assert_eq!(v["e"], Value::Bool(false));
        assert_eq!(v["f"], serde_json::json!(["x", "y", "n", true]));
        assert_eq!(v["g"], serde_json::json!(["y", "y"]));
        assert_eq!(v["h"], Value::Bool(true));
    }

    #[test]
    fn reads_yaml_1_1_booleans_and_octal_modes_like_ansible() {
        let n = parse("a: yes\nb: no\nc: 0644\nd: '0644'\ne: on\n");
        let v = n.to_value();
        assert_eq!(v["a"], Value::Bool(true));
        assert_eq!(v["b"], Value::Bool(false));
        assert_eq!(v["c"], Value::from(0o644));
        assert_eq!(v["d"], Value::from("0644"));
        assert_eq!(v["e"], Value::Bool(true));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse_str("a: [1, 2\nb: 3\n", Path::new("bad.yml")).unwrap_err();
        assert!(e.pos.line > 0, "{e:?}");
        assert!(e.message.starts_with("YAML syntax error"), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // 60 levels overflowed a 2 MiB stack (a test thread or tokio worker).
        for deep in [(0..60).map(|i| format!("{}- \n", "  ".repeat(i))).collect::<String>(), format!("a: {}", "[".repeat(5000))] {
            let e = parse_str(&deep, Path::new("deep.yml")).unwrap_err();
            assert_eq!(e.message, "YAML syntax error: collections nested deeper than 32 levels");
            assert!(e.pos.line > 0, "{e:?}");
        }
        let ok: String = (0..MAX_DEPTH - 1).map(|i| format!("{}- \n", "  ".repeat(i))).collect();
        assert!(parse_str(&ok, Path::new("ok.yml")).is_ok());
    }

    #[test]
    fn empty_documents_are_null() {
        assert!(parse("# nothing\n---\n").is_null());
    }

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/vault")
    }

    fn vault_ctx(pw: &str, inline: InlineMode) -> VaultContext {
        VaultContext { secrets: vec![crate::vault::VaultSecret::new("default", pw.as_bytes().to_vec())], inline }
    }

    #[test]
    fn inline_vault_values_are_decrypted_and_registered_as_run_secrets() {
        let ctx = vault_ctx("hunter2", InlineMode::Decrypt);
        let n = parse_file_with(&fixtures().join("inline.yml"), &ctx).unwrap();
        let v = n.to_value();
        assert_eq!(v["mail_inline_password"], Value::from("inline-s3cret"));
        assert_eq!(v["mail_prod_password"], Value::from("prod-s3cret"));
        assert_eq!(v["plain"], Value::from("value"));
        let secrets = mailplay_modules::secret::run_secrets();
        assert!(secrets.iter().any(|s| s == "inline-s3cret") && secrets.iter().any(|s| s == "prod-s3cret"), "{secrets:?}");
        // Their origin is kept for the vault_encrypted test; a plain value's is not.
        assert!(crate::vault::origin::is_vaulted("inline-s3cret"));
        assert!(!crate::vault::origin::is_vaulted("value"));
    }

    #[test]
    fn a_wrong_or_missing_vault_password_names_the_file_and_line() {
        let file = fixtures().join("inline.yml");
        let e = parse_file_with(&file, &vault_ctx("wrong", InlineMode::Decrypt)).unwrap_err();
        assert!(e.message.starts_with("Decryption failed"), "{e:?}");
        assert_eq!(e.pos.line, 3, "{e:?}"); // where the block scalar starts
        assert!(e.render().contains("inline.yml:3:11"), "{}", e.render());
        let e = parse_file_with(&file, &VaultContext::default()).unwrap_err();
        assert!(e.message.starts_with("Attempting to decrypt but no vault secrets found"), "{e:?}");
        assert!(crate::vault::is_vault_diagnostic(&e));
    }

    #[test]
    fn whole_file_vaults_are_decrypted_before_parsing() {
        let ctx = vault_ctx("hunter2", InlineMode::Decrypt);
        for name in ["vars-1.1.yml", "vars-1.2-prod.yml"] {
            let v = parse_file_with(&fixtures().join(name), &ctx).unwrap().to_value();
            assert_eq!(v["mail_db_password"], Value::from("s3cr3t-db"), "{name}");
        }
        let e = parse_file_with(&fixtures().join("vars-1.1.yml"), &vault_ctx("bad", InlineMode::Decrypt)).unwrap_err();
        assert!(e.render().contains("vars-1.1.yml") && e.message.starts_with("Decryption failed"), "{}", e.render());
        // A syntax error inside: the position is in the plaintext, and the
        // message says so; no snippet of the ciphertext is shown.
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yml");
        let s = crate::vault::VaultSecret::new("default", b"hunter2".to_vec());
        std::fs::write(&bad, crate::vault::encrypt(b"a: 1\nb: [1, 2\nc: 3\n", &s, None).unwrap()).unwrap();
        let e = parse_file_with(&bad, &ctx).unwrap_err();
        assert!(e.message.contains("decrypted content of this vault-encrypted file"), "{e:?}");
        assert!(!e.render().contains("| 6"), "{}", e.render());
    }

    #[test]
    fn inventory_mode_keeps_inline_vaults_as_ansible_inventory_prints_them() {
        let n = parse_file_with(&fixtures().join("inline.yml"), &VaultContext { secrets: vec![], inline: InlineMode::Keep }).unwrap();
        let v = n.to_value();
        let text = v["mail_inline_password"]["__ansible_vault"].as_str().unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n6632"), "{text}");
        assert!(text.ends_with("\n6461\n"), "{text:?}");
    }

    #[test]
    fn unsafe_is_marked_other_tags_do_not_change_values() {
        let v = parse("a: !unsafe '{{ x }}'\nb: !!str 5\nc: [!foo 1]\n").to_value();
        assert_eq!(v["a"], Value::from(crate::template::mark_unsafe("{{ x }}")));
        assert_eq!(v["b"], Value::from("5"));
    }
}
