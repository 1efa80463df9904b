//! Python literal parsing (the subset of `ast.literal_eval` INI inventories
//! rely on): numbers, True/False/None, quoted strings, lists, tuples, dicts.
//! Anything else stays a plain string, as in Ansible.

use serde_json::{Map, Value};

/// How deep lists, tuples and dicts may nest. Python's parser stops at
/// 200 levels too ("too many nested parentheses"); the limit keeps the
/// recursive parser far from the end of the stack.
pub const MAX_DEPTH: usize = 200;

/// An INI value as Ansible types it; an error only for a value nested
/// deeper than [`MAX_DEPTH`].
pub fn parse_value(raw: &str) -> Result<Value, String> {
    let s = raw.trim();
    let mut p = Parser { s: s.as_bytes(), i: 0, depth: 0, too_deep: false };
    let v = p.value();
    if p.too_deep {
        return Err(format!("value is nested deeper than {MAX_DEPTH} levels of lists, tuples or dicts"));
    }
    match v {
        Some(v) => {
            p.ws();
            if p.i == p.s.len() {
                return Ok(v);
            }
            Ok(Value::String(raw.to_string()))
        }
        None => Ok(Value::String(raw.to_string())),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Open lists, tuples and dicts around the current position.
    depth: usize,
    too_deep: bool,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        match self.peek()? {
            b'\'' | b'"' => self.string().map(Value::String),
            b'[' | b'(' | b'{' if self.depth >= MAX_DEPTH => {
                self.too_deep = true;
                None
            }
            b'[' => self.nested(|p| p.seq(b']')),
            b'(' => self.nested(|p| p.seq(b')')),
            b'{' => self.nested(Parser::dict),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            _ => self.word(),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            b"True" => Some(Value::Bool(true)),
            b"False" => Some(Value::Bool(false)),
            b"None" => Some(Value::Null),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.i += 1;
        }
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'.' | b'_')) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?.replace('_', "");
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b.to_string()),
            None => (false, text.trim_start_matches('+').to_string()),
        };
        let lower = body.to_ascii_lowercase();
        let int = if let Some(h) = lower.strip_prefix("0x") {
            i64::from_str_radix(h, 16).ok()
        } else if let Some(o) = lower.strip_prefix("0o") {
            i64::from_str_radix(o, 8).ok()
        } else if let Some(b) = lower.strip_prefix("0b") {
            i64::from_str_radix(b, 2).ok()
        } else if body.chars().all(|c| c.is_ascii_digit()) && !body.is_empty() {
            // Python 3 rejects leading zeros in decimal integers ("0644").
            if body.len() > 1 && body.starts_with('0') && body.chars().any(|c| c != '0') {
                return None;
            }
            body.parse().ok()
        } else {
            None
        };
        if let Some(i) = int {
            return Some(Value::from(if neg { -i } else { i }));
        }
        let f: f64 = body.parse().ok()?;
        if !f.is_finite() || lower.contains("inf") || lower.contains("nan") {
            return None;
        }
        serde_json::Number::from_f64(if neg { -f } else { f }).map(Value::Number)
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.i += 1;
        let mut out = String::new();
        let rest = std::str::from_utf8(&self.s[self.i..]).ok()?;
        let mut chars = rest.char_indices();
        while let Some((off, c)) = chars.next() {
            if c as u32 == quote as u32 {
                self.i += off + 1;
                return Some(out);
            }
            if c == '\\' {
                let (_, n) = chars.next()?;
                out.push(match n {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    other => other,
                });
            } else {
                out.push(c);
            }
        }
        None
    }

    fn seq(&mut self, close: u8) -> Option<Value> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek()? == close {
                self.i += 1;
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    fn dict(&mut self) -> Option<Value> {
        self.i += 1;
        let mut m = Map::new();
        loop {
            self.ws();
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(Value::Object(m));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            let v = self.value()?;
            m.insert(key, v);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {}
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_literals() {
        assert_eq!(parse_value("10").unwrap(), json!(10));
        assert_eq!(parse_value("-3").unwrap(), json!(-3));
        assert_eq!(parse_value("0.5").unwrap(), json!(0.5));
        assert_eq!(parse_value("True").unwrap(), json!(true));
        assert_eq!(parse_value("None").unwrap(), json!(null));
        assert_eq!(parse_value("'a b'").unwrap(), json!("a b"));
        assert_eq!(parse_value("['a', 'b']").unwrap(), json!(["a", "b"]));
        assert_eq!(parse_value("{'k': 1, 'l': [2]}").unwrap(), json!({"k": 1, "l": [2]}));
        assert_eq!(parse_value("(1, 2)").unwrap(), json!([1, 2]));
    }

    #[test]
    fn nesting_is_limited() {
        let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_value(&at_limit).unwrap().is_array());
        let over = format!("{}{}", "({[".repeat(MAX_DEPTH), "]})".repeat(MAX_DEPTH));
        assert!(parse_value(&over).unwrap_err().contains("nested deeper than 200 levels"));
        assert!(parse_value(&"{1:".repeat(100_000)).is_err());
    }

    #[test]
    fn everything_else_stays_a_string() {
        for s in ["yes", "true", "smtp.example.org", "0644", "1.2.3", "a b", "[1, 2", "10.0.0.1"] {
            assert_eq!(parse_value(s).unwrap(), json!(s), "{s}");
        }
    }
}
