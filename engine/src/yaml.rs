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
use serde_saphyr::Spanned;

use crate::diag::{Diagnostic, Pos};

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

    fn with_file(mut self, file: &Arc<PathBuf>) -> Self {
        self.pos.file = Some(file.clone());
        self.kind = match self.kind {
            NodeKind::Seq(items) => NodeKind::Seq(items.into_iter().map(|n| n.with_file(file)).collect()),
            NodeKind::Map(entries) => NodeKind::Map(entries.into_iter().map(|(k, v)| (k.with_file(file), v.with_file(file))).collect()),
            other => other,
        };
        self
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
pub fn parse_str(text: &str, file: &Path) -> Result<Node, Diagnostic> {
    let file = Arc::new(file.to_path_buf());
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---") {
        return Ok(Node::new(NodeKind::Null, Pos::new(&file, 1, 1)));
    }
    let spanned: Spanned<RawNode> = serde_saphyr::from_str_with_options(text, options()).map_err(|e| {
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
    Ok(from_spanned(spanned).with_file(&file))
}

/// Read and parse a YAML file.
pub fn parse_file(path: &Path) -> Result<Node, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::in_file(path, format!("cannot read file: {e}")))?;
    parse_str(&text, path)
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

// serde-saphyr hands out locations through `Spanned<T>`; `RawNode` is the
// recursive shape it fills, converted to `Node` right after.
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawNode>, Spanned<RawNode>)>),
}

fn from_spanned(s: Spanned<RawNode>) -> Node {
    let pos = Pos { file: None, line: s.referenced.line() as u32, column: s.referenced.column() as u32 };
    let kind = match s.value {
        RawNode::Null => NodeKind::Null,
        RawNode::Bool(b) => NodeKind::Bool(b),
        RawNode::Int(i) => NodeKind::Int(i),
        RawNode::Float(f) => NodeKind::Float(f),
        RawNode::Str(t) => NodeKind::Str(t),
        RawNode::Seq(items) => NodeKind::Seq(items.into_iter().map(from_spanned).collect()),
        RawNode::Map(entries) => NodeKind::Map(entries.into_iter().map(|(k, v)| (from_spanned(k), from_spanned(v))).collect()),
    };
    Node { kind, pos }
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
                while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
                    items.push(item);
                }
                Ok(RawNode::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<Spanned<RawNode>, Spanned<RawNode>>()? {
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
}
