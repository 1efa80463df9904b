//! Host ranges: `db[01:03]`, `mx-[a:c]`, `web[1:9:2]`, several per name.

/// Expand every `[start:end(:step)]` in a host pattern.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else { return Ok(vec![pattern.to_string()]) };
    let close = pattern[open..].find(']').map(|c| open + c).ok_or_else(|| format!("missing ']' in host range '{pattern}'"))?;
    let (head, body, tail) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    let parts: Vec<&str> = body.split(':').collect();
    let (beg, end, step) = match parts.as_slice() {
        [b, e] => (*b, *e, 1usize),
        [b, e, s] => (*b, *e, s.parse::<usize>().map_err(|_| format!("bad step '{s}' in host range '{pattern}'"))?),
        _ => return Err(format!("host range must be [start:end] or [start:end:step], got '[{body}]'")),
    };
    if step == 0 {
        return Err(format!("host range step must not be 0 in '{pattern}'"));
    }
    let mut items = Vec::new();
    let alpha = |s: &str| s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic());
    if alpha(beg) && alpha(end) {
        let (b, e) = (beg.as_bytes()[0], end.as_bytes()[0]);
        if b > e {
            return Err(format!("host range start is after its end in '{pattern}'"));
        }
        items.extend((b..=e).step_by(step).map(|c| (c as char).to_string()));
    } else {
        let beg_n: u64 = if beg.is_empty() { 0 } else { beg.parse().map_err(|_| format!("bad range start '{beg}' in '{pattern}'"))? };
        let end_n: u64 = end.parse().map_err(|_| format!("bad range end '{end}' in '{pattern}'"))?;
        if beg_n > end_n {
            return Err(format!("host range start is after its end in '{pattern}'"));
        }
        // Leading zeros set the width, as in `db[01:10]`.
        let width = if beg.starts_with('0') && beg.len() > 1 { beg.len() } else { 0 };
        items.extend((beg_n..=end_n).step_by(step).map(|n| format!("{n:0width$}")));
    }
    let mut out = Vec::new();
    for i in items {
        for rest in expand(tail)? {
            out.push(format!("{head}{i}{rest}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_alpha_and_step() {
        assert_eq!(expand("db[01:03]").unwrap(), ["db01", "db02", "db03"]);
        assert_eq!(expand("imap-[a:c].ex").unwrap(), ["imap-a.ex", "imap-b.ex", "imap-c.ex"]);
        assert_eq!(expand("web[1:9:4]").unwrap(), ["web1", "web5", "web9"]);
        assert_eq!(expand("r[1:2]n[a:b]").unwrap(), ["r1na", "r1nb", "r2na", "r2nb"]);
        assert!(expand("x[3:1]").is_err());
    }
}
