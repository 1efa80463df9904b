//! Python literal parsing (the subset of `ast.literal_eval` INI inventories
//! rely on): numbers, True/False/None, quoted strings, lists, tuples, dicts.
//! Anything else stays a plain string, as in Ansible.

use serde_json::{Map, Value};

/// An INI value as Ansible types it.
pub fn parse_value(raw: &str) -> Value {
    let s = raw.trim();
    let mut p = Parser { s: s.as_bytes(), i: 0 };
    match p.value() {
        Some(v) => {
            p.ws();
            if p.i == p.s.len() {
                return v;
            }
            Value::String(raw.to_string())
        }
        None => Value::String(raw.to_string()),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
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
            b'[' => self.seq(b']'),
            b'(' => self.seq(b')'),
            b'{' => self.dict(),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            _ => self.word(),
        }
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
        assert_eq!(parse_value("10"), json!(10));
        assert_eq!(parse_value("-3"), json!(-3));
        assert_eq!(parse_value("0.5"), json!(0.5));
        assert_eq!(parse_value("True"), json!(true));
        assert_eq!(parse_value("None"), json!(null));
        assert_eq!(parse_value("'a b'"), json!("a b"));
        assert_eq!(parse_value("['a', 'b']"), json!(["a", "b"]));
        assert_eq!(parse_value("{'k': 1, 'l': [2]}"), json!({"k": 1, "l": [2]}));
        assert_eq!(parse_value("(1, 2)"), json!([1, 2]));
    }

    #[test]
    fn everything_else_stays_a_string() {
        for s in ["yes", "true", "smtp.example.org", "0644", "1.2.3", "a b", "[1, 2", "10.0.0.1"] {
            assert_eq!(parse_value(s), json!(s), "{s}");
        }
    }
}
