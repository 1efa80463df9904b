//! `to_yaml` / `to_nice_yaml` as Ansible makes them: PyYAML's `yaml.dump`
//! (sorted keys, `allow_unicode`), with `default_flow_style=None` (a
//! collection of scalars only is written in flow style: `[one, two]`) or
//! `False` with `indent=4` for `to_nice_yaml`. A port of the parts of
//! PyYAML's emitter (`emitter.py`) that plain data reaches: scalar styles
//! (plain, single- or double-quoted, chosen by its analysis and by whether
//! the plain text would read back as something else), line folding at 80
//! columns, block and flow collections and their indentation, and the
//! `...` after a plain scalar document; `default_style` (every scalar
//! quoted, literal `|` or folded `>`, with the tags a non-string then
//! needs) and `canonical` (explicit tags, double quotes, flow collections
//! with `?` keys), as `yaml.dump` takes them.

use serde_json::Value;

#[derive(Clone, Copy)]
pub struct Style {
    /// `None`: flow for collections of scalars only; `Some(false)`: block.
    pub default_flow_style: Option<bool>,
    pub indent: usize,
    pub width: usize,
    /// PyYAML's `default_style`: `'`, `"`, `|`, `>` (None: chosen per scalar).
    pub default_style: Option<char>,
    pub canonical: bool,
}

impl Style {
    pub const TO_YAML: Style = Style { default_flow_style: None, indent: 2, width: 80, default_style: None, canonical: false };
    pub const TO_NICE_YAML: Style = Style { default_flow_style: Some(false), indent: 4, width: 80, default_style: None, canonical: false };
}

pub fn dump(v: &Value, style: Style) -> String {
    let best_indent = if (2..10).contains(&style.indent) { style.indent } else { 2 };
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: false,
        indents: Vec::new(),
        indent: None,
        flow_level: 0,
        best_indent,
        best_width: if style.width > best_indent * 2 { style.width } else { 80 },
        flow_style: style.default_flow_style,
        root: false,
        mapping_context: false,
        simple_key: false,
        default_style: style.default_style,
        canonical: style.canonical,
    };
    // A canonical document starts explicitly.
    if e.canonical {
        e.write_indent();
        e.write_indicator("---", true, false, false);
        e.write_indent();
    }
    e.node(v, true, false, false, false);
    // Document end: a new line, and `...` after an open-ended plain scalar.
    e.write_indent();
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    indents: Vec<Option<usize>>,
    indent: Option<usize>,
    flow_level: usize,
    best_indent: usize,
    best_width: usize,
    flow_style: Option<bool>,
    root: bool,
    mapping_context: bool,
    simple_key: bool,
    default_style: Option<char>,
    canonical: bool,
}

/// The style PyYAML's `choose_scalar_style` picks.
#[derive(Clone, Copy, PartialEq)]
enum ScalarStyle {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.column += s.chars().count();
        self.out.push_str(s);
    }

    fn write_indicator(&mut self, ind: &str, need_whitespace: bool, whitespace: bool, indention: bool) {
        let data = if self.whitespace || !need_whitespace { ind.to_string() } else { format!(" {ind}") };
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
        self.write(&data);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push('\n');
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None => Some(if flow { self.best_indent } else { 0 }),
            Some(i) if !indentless => Some(i + self.best_indent),
            Some(i) => Some(i),
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    /// PyYAML's representer: a collection is flow when the style says so,
    /// or (style None) when it holds scalars only; empty ones always are.
    fn flow(&self, v: &Value) -> bool {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(m) => m.values().collect(),
            _ => return false,
        };
        if self.flow_level > 0 || items.is_empty() || self.canonical {
            return true;
        }
        match self.flow_style {
            Some(f) => f,
            // A scalar given a style (`default_style`) makes it block too.
            None => !items.iter().any(|i| is_collection(i)) && self.default_style.is_none(),
        }
    }

    fn node(&mut self, v: &Value, root: bool, _sequence: bool, mapping: bool, simple_key: bool) {
        self.root = root;
        self.mapping_context = mapping;
        self.simple_key = simple_key;
        match v {
            Value::Array(items) => {
                if self.canonical {
                    self.write_indicator("!!seq", true, false, false);
                }
                if self.flow(v) {
                    self.flow_sequence(items)
                } else {
                    self.block_sequence(items)
                }
            }
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let pairs: Vec<(&String, &Value)> = keys.into_iter().map(|k| (k, &m[k])).collect();
                if self.canonical {
                    self.write_indicator("!!map", true, false, false);
                }
                if self.flow(v) {
                    self.flow_mapping(&pairs)
                } else {
                    self.block_mapping(&pairs)
                }
            }
            scalar => {
                self.increase_indent(true, false);
                let (text, plain_ok) = represent(scalar);
                self.scalar(&text, plain_ok, scalar.is_string(), tag_of(scalar));
                self.pop_indent();
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Value]) {
        self.write_indicator("[", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.canonical || self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, false, true, false, false);
        }
        self.pop_indent();
        self.flow_level -= 1;
        if self.canonical && !items.is_empty() {
            self.write_indicator(",", false, false, false);
            self.write_indent();
        }
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, pairs: &[(&String, &Value)]) {
        self.write_indicator("{", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.canonical || self.column > self.best_width {
                self.write_indent();
            }
            if self.canonical {
                // An explicit `? key` and `: value`, each on its own line.
                self.write_indicator("?", true, false, false);
                self.node(&Value::String((*k).clone()), false, false, true, false);
                self.write_indent();
                self.write_indicator(":", true, false, false);
            } else {
                self.key(k);
            }
            self.node(v, false, false, true, false);
        }
        self.pop_indent();
        self.flow_level -= 1;
        if self.canonical && !pairs.is_empty() {
            self.write_indicator(",", false, false, false);
            self.write_indent();
        }
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value]) {
        let indentless = self.mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, false, true, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, pairs: &[(&String, &Value)]) {
        self.increase_indent(false, false);
        for (k, v) in pairs {
            self.write_indent();
            self.key(k);
            self.node(v, false, false, true, false);
        }
        self.pop_indent();
    }

    /// A simple key and its `:` (keys here are strings; a long or
    /// multi-line one would be PyYAML's complex `? key`, which plain data
    /// rarely has: written as a quoted simple key instead).
    fn key(&mut self, k: &str) {
        self.root = false;
        self.mapping_context = true;
        self.simple_key = true;
        self.increase_indent(true, false);
        let plain_ok = !resolves_as_other_type(k);
        self.scalar(k, plain_ok, true, "!!str");
        self.pop_indent();
        self.write_indicator(":", false, false, false);
    }

    /// A scalar: `implicit_plain` when plain text reads back as the value,
    /// `implicit_quoted` when quoted text does (a string); otherwise its
    /// `tag` is written first, as PyYAML's `process_tag` does.
    fn scalar(&mut self, text: &str, implicit_plain: bool, implicit_quoted: bool, tag: &str) {
        let a = analyze(text);
        let style = self.choose_style(&a, implicit_plain);
        let implicit = if style == ScalarStyle::Plain { implicit_plain } else { implicit_quoted };
        if self.canonical || !implicit {
            self.write_indicator(tag, true, false, false);
        }
        let split = !self.simple_key;
        match style {
            ScalarStyle::Plain => self.write_plain(text, split),
            ScalarStyle::Single => self.write_single_quoted(text, split),
            ScalarStyle::Double => self.write_double_quoted(text, split),
            ScalarStyle::Literal => self.write_literal(text),
            ScalarStyle::Folded => self.write_folded(text),
        }
    }

    /// PyYAML's `choose_scalar_style`, the scalar's requested style being
    /// `default_style`.
    fn choose_style(&self, a: &Analysis, implicit_plain: bool) -> ScalarStyle {
        let requested = self.default_style;
        if requested == Some('"') || self.canonical {
            return ScalarStyle::Double;
        }
        if requested.is_none()
            && implicit_plain
            && !(self.simple_key && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.allow_flow_plain) || (self.flow_level == 0 && a.allow_block_plain))
        {
            return ScalarStyle::Plain;
        }
        if matches!(requested, Some('|' | '>')) && self.flow_level == 0 && !self.simple_key && a.allow_block {
            return if requested == Some('|') { ScalarStyle::Literal } else { ScalarStyle::Folded };
        }
        if matches!(requested, None | Some('\'')) && a.allow_single_quoted && !(self.simple_key && a.multiline) {
            return ScalarStyle::Single;
        }
        ScalarStyle::Double
    }

    /// PyYAML's `determine_block_hints`: an indentation digit when the text
    /// starts with a space or break, `-` to strip the final break it lacks,
    /// `+` to keep the extra ones it has.
    fn block_hints(&self, text: &str) -> String {
        let mut hints = String::new();
        let chars: Vec<char> = text.chars().collect();
        let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if let (Some(&first), Some(&last)) = (chars.first(), chars.last()) {
            if first == ' ' || is_break(first) {
                hints.push_str(&self.best_indent.to_string());
            }
            if !is_break(last) {
                hints.push('-');
            } else if chars.len() == 1 || is_break(chars[chars.len() - 2]) {
                hints.push('+');
            }
        }
        hints
    }

    fn write_block_header(&mut self, indicator: char, text: &str) {
        let hints = self.block_hints(text);
        self.write_indicator(&format!("{indicator}{hints}"), true, false, false);
        if hints.ends_with('+') {
            self.open_ended = true;
        }
        self.write_line_break();
    }

    /// PyYAML's `write_literal` (`|`).
    fn write_literal(&mut self, text: &str) {
        self.write_block_header('|', text);
        let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
        let chars: Vec<char> = text.chars().collect();
        let mut breaks = true;
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    for _ in start..end {
                        self.write_line_break();
                    }
                    if ch.is_some() {
                        self.write_indent();
                    }
                    start = end;
                }
            } else if ch.is_none_or(is_break) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                if ch.is_none() {
                    self.write_line_break();
                }
                start = end;
            }
            if let Some(c) = ch {
                breaks = is_break(c);
            }
            end += 1;
        }
    }

    /// PyYAML's `write_folded` (`>`): long lines folded at spaces.
    fn write_folded(&mut self, text: &str) {
        self.write_block_header('>', text);
        let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
        let chars: Vec<char> = text.chars().collect();
        let (mut leading_space, mut spaces, mut breaks) = (true, false, true);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    if !leading_space && ch.is_some_and(|c| c != ' ') && chars[start] == '\n' {
                        self.write_line_break();
                    }
                    leading_space = ch == Some(' ');
                    for _ in start..end {
                        self.write_line_break();
                    }
                    if ch.is_some() {
                        self.write_indent();
                    }
                    start = end;
                }
            } else if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                if ch.is_none() {
                    self.write_line_break();
                }
                start = end;
            }
            if let Some(c) = ch {
                breaks = is_break(c);
                spaces = c == ' ';
            }
            end += 1;
        }
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if self.root {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !matches!(ch, Some('\n' | '\u{85}' | '\u{2028}' | '\u{2029}')) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if matches!(ch, None | Some(' ' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split && start != 0 && end != chars.len() {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !matches!(ch, Some('\n' | '\u{85}' | '\u{2028}' | '\u{2029}')) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    start = end;
                }
            } else if matches!(ch, None | Some(' ' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\'')) && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            let special = match ch {
                None => true,
                Some(c) => {
                    matches!(c, '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}')
                        || !((' '..='~').contains(&c) || ('\u{A0}'..='\u{D7FF}').contains(&c) || ('\u{E000}'..='\u{FFFD}').contains(&c))
                }
            };
            if special {
                if start < end {
                    let data: String = chars[start..end].iter().collect();
                    self.write(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".into(),
                        '\x08' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\x0B' => "\\v".into(),
                        '\x0C' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\x1B' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{A0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&data);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < chars.len()
                && (ch == Some(' ') || start >= end)
                && self.column + end.saturating_sub(start) > self.best_width
                && split
            {
                let mut data: String = chars[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// The tag PyYAML's representer gives a scalar.
fn tag_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "!!null",
        Value::Bool(_) => "!!bool",
        Value::Number(n) if n.is_f64() => "!!float",
        Value::Number(_) => "!!int",
        _ => "!!str",
    }
}

/// A scalar's text as PyYAML's representer writes it, and whether it may be
/// plain (a string that would read back as another type may not).
fn represent(v: &Value) -> (String, bool) {
    match v {
        Value::Null => ("null".into(), true),
        Value::Bool(b) => ((if *b { "true" } else { "false" }).into(), true),
        Value::Number(n) if n.is_f64() => (float_repr(n.as_f64().unwrap_or(0.0)), true),
        Value::Number(n) => (n.to_string(), true),
        Value::String(s) => (s.clone(), !resolves_as_other_type(s)),
        _ => (String::new(), true),
    }
}

/// PyYAML's `represent_float`: Python's repr, lower case, `.0` before an exponent.
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    let mut s = if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
        // Python switches to exponent notation there: 1e+16, 1e-05.
        let e = format!("{f:e}");
        let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        format!("{f:?}")
    };
    if !s.contains('.') && s.contains('e') {
        s = s.replacen('e', ".0e", 1);
    }
    s.to_lowercase()
}

/// Would this text, written plain, resolve to a tag other than str?
/// (PyYAML's implicit resolvers: bool, float, int, merge, null, timestamp, value.)
fn resolves_as_other_type(s: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"|<<|~|null|Null|NULL|=",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            r")$"
        ))
        .expect("valid regex")
    });
    s.is_empty() || re.is_match(s)
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
    allow_block: bool,
}

/// PyYAML's `analyze_scalar` (allow_unicode on).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
            allow_block: false,
        };
    }
    let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let is_ws = |c: char| matches!(c, '\0' | ' ' | '\t' | '\r') || is_break(c);
    let chars: Vec<char> = s.chars().collect();
    let (mut block_ind, mut flow_ind) = (false, false);
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = chars.len() == 1 || is_ws(chars[1]);
    let (mut prev_space, mut prev_break) = (false, false);
    for (i, &ch) in chars.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_ind = true;
                block_ind = true;
            }
            if ch == '?' || ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_ind = true;
            }
            if ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let printable_unicode = (ch == '\u{85}'
                || ('\u{A0}'..='\u{D7FF}').contains(&ch)
                || ('\u{E000}'..='\u{FFFD}').contains(&ch)
                || ('\u{10000}'..'\u{10FFFF}').contains(&ch))
                && ch != '\u{FEFF}';
            if !printable_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_ws(ch);
        followed_by_ws = i + 2 >= chars.len() || is_ws(chars[i + 2]);
    }
    let (mut flow_plain, mut block_plain, mut single, mut block) = (true, true, true, true);
    if leading_space || leading_break || trailing_space || trailing_break {
        flow_plain = false;
        block_plain = false;
    }
    if trailing_space {
        block = false;
    }
    if break_space {
        flow_plain = false;
        block_plain = false;
        single = false;
    }
    if space_break || special {
        flow_plain = false;
        block_plain = false;
        single = false;
        block = false;
    }
    if line_breaks {
        flow_plain = false;
        block_plain = false;
    }
    if flow_ind {
        flow_plain = false;
    }
    if block_ind {
        block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: flow_plain,
        allow_block_plain: block_plain,
        allow_single_quoted: single,
        allow_block: block,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Outputs of PyYAML 6 (`yaml.dump(d, default_flow_style=None,
    /// allow_unicode=True)` and with `indent=4, default_flow_style=False`).
    #[test]
    fn like_pyyaml() {
        let d = json!({"k": ["a", "b"], "l": [{"x": 1, "y": 2}], "m": {"n": {"o": "p"}}, "e": [], "s": "a b: c",
            "t": "1", "u": "", "v": "multi\nline", "w": null, "x": true, "y": 1.5});
        assert_eq!(
            dump(&d, Style::TO_YAML),
            "e: []\nk: [a, b]\nl:\n- {x: 1, y: 2}\nm:\n  n: {o: p}\ns: 'a b: c'\nt: '1'\nu: ''\nv: 'multi\n\n  line'\nw: null\nx: true\ny: 1.5\n"
        );
        assert_eq!(
            dump(&d, Style::TO_NICE_YAML),
            "e: []\nk:\n- a\n- b\nl:\n-   x: 1\n    y: 2\nm:\n    n:\n        o: p\ns: 'a b: c'\nt: '1'\nu: ''\nv: 'multi\n\n    line'\nw: null\nx: true\ny: 1.5\n"
        );
        let l = json!([["a", 1], {"b": [1]}, "x"]);
        assert_eq!(dump(&l, Style::TO_YAML), "- [a, 1]\n- b: [1]\n- x\n");
        assert_eq!(dump(&l, Style::TO_NICE_YAML), "-   - a\n    - 1\n-   b:\n    - 1\n- x\n");
        assert_eq!(dump(&json!("abc"), Style::TO_YAML), "abc\n...\n");
        assert_eq!(dump(&json!("1"), Style::TO_YAML), "'1'\n");
        assert_eq!(dump(&json!(1), Style::TO_YAML), "1\n...\n");
        assert_eq!(dump(&json!(["one", "two"]), Style::TO_YAML), "[one, two]\n");
        let long = json!({"a": "x ".repeat(50)});
        assert_eq!(
            dump(&long, Style::TO_YAML),
            "{a: 'x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x\n    x x x x x x x x x x x '}\n"
        );
        let nice = |default_style, canonical| Style { default_style, canonical, ..Style::TO_YAML };
        // yaml.dump('thing', default_style='|') and (..., canonical=True).
        assert_eq!(dump(&json!("thing"), nice(Some('|'), false)), "|-\n  thing\n");
        assert_eq!(dump(&json!("thing"), nice(None, true)), "---\n!!str \"thing\"\n");
        assert_eq!(dump(&json!({"a": "x\ny\n", "b": 1}), nice(Some('|'), false)), "\"a\": |\n  x\n  y\n\"b\": !!int |-\n  1\n");
        assert_eq!(
            dump(&json!({"a": [1, "b"]}), nice(None, true)),
            "---\n!!map {\n  ? !!str \"a\"\n  : !!seq [\n    !!int \"1\",\n    !!str \"b\",\n  ],\n}\n"
        );
        assert_eq!(dump(&json!({"a": "b c"}), nice(Some('"'), false)), "\"a\": \"b c\"\n");
        let mixed = json!({"a": "tab\there", "é": "ü", "q": "it's", "r": "- x", "s": "a #b", "n": [1.0, 1e20, 0.00001, -3]});
        assert_eq!(dump(&mixed, Style::TO_YAML), "a: \"tab\\there\"\nn: [1.0, 1.0e+20, 1.0e-05, -3]\nq: it's\nr: '- x'\ns: 'a #b'\né: ü\n");
    }
}
