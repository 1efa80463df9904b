//! Host ranges: `db[01:03]`, `mx-[a:c]`, `web[1:9:2]`, several per name.

/// The most hosts one pattern may expand to. Ansible has no limit (and
/// exhausts memory on `h[0:99999999999]`); no real inventory comes close.
pub const MAX_HOSTS: u64 = 100_000;

/// Expand every `[start:end(:step)]` in a host pattern. The count is
/// checked against [`MAX_HOSTS`] before any name is made.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    // The pattern as alternating text and ranges: `db[01:02].x` is
    // ["db"], ["01", "02"], [".x"]; each range becomes a lazy list.
    let mut parts: Vec<Part> = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c).ok_or_else(|| format!("missing ']' in host range '{pattern}'"))?;
        parts.push(Part::Text(&rest[..open]));
        parts.push(range(&rest[open + 1..close], pattern)?);
        rest = &rest[close + 1..];
    }
    parts.push(Part::Text(rest));
    let total = parts.iter().try_fold(1u64, |n, p| n.checked_mul(p.len())).unwrap_or(u64::MAX);
    if total > MAX_HOSTS {
        let count = if total == u64::MAX { "more than 18446744073709551615".to_string() } else { total.to_string() };
        return Err(format!("host range '{pattern}' expands to {count} hosts, more than the limit of {MAX_HOSTS}"));
    }
    // Names are no longer than the pattern: check their bytes before making them.
    check_copies(pattern, total as usize, pattern.len())?;
    // First range varies slowest, as in Ansible.
    let mut out = vec![String::new()];
    for p in &parts {
        out = out.iter().flat_map(|prefix| (0..p.len()).map(move |i| format!("{prefix}{}", p.item(i)))).collect();
    }
    Ok(out)
}

/// How many bytes a range may make in all: each host's name and its copy
/// of the line's variables (the names are kept several times over).
pub const MAX_COPIED_BYTES: usize = 16 << 20;

/// Refuse a range whose `hosts` would each take `bytes_per_host` (name and
/// variables) when that adds up to more than [`MAX_COPIED_BYTES`].
pub fn check_copies(pattern: &str, hosts: usize, bytes_per_host: usize) -> Result<(), String> {
    match hosts.checked_mul(bytes_per_host) {
        Some(n) if n <= MAX_COPIED_BYTES => Ok(()),
        _ => Err(format!(
            "host range '{pattern}' would make {hosts} hosts of {bytes_per_host} bytes each (name and variables), more than {} MiB in all",
            MAX_COPIED_BYTES >> 20
        )),
    }
}

enum Part<'a> {
    Text(&'a str),
    Alpha { first: u8, step: u64, len: u64 },
    Number { first: u64, step: u64, len: u64, width: usize },
}

impl Part<'_> {
    fn len(&self) -> u64 {
        match self {
            Part::Text(_) => 1,
            Part::Alpha { len, .. } | Part::Number { len, .. } => *len,
        }
    }

    /// The i-th item (i < len, so no overflow).
    fn item(&self, i: u64) -> String {
        match self {
            Part::Text(t) => t.to_string(),
            Part::Alpha { first, step, .. } => ((*first as u64 + i * step) as u8 as char).to_string(),
            Part::Number { first, step, width, .. } => format!("{:0width$}", first + i * step),
        }
    }
}

/// One `start:end(:step)` body.
fn range<'a>(body: &str, pattern: &str) -> Result<Part<'a>, String> {
    let parts: Vec<&str> = body.split(':').collect();
    let (beg, end, step) = match parts.as_slice() {
        [b, e] => (*b, *e, 1u64),
        [b, e, s] => (*b, *e, s.parse::<u64>().map_err(|_| format!("bad step '{s}' in host range '{pattern}'"))?),
        _ => return Err(format!("host range must be [start:end] or [start:end:step], got '[{body}]'")),
    };
    if step == 0 {
        return Err(format!("host range step must not be 0 in '{pattern}'"));
    }
    let alpha = |s: &str| s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic());
    if alpha(beg) && alpha(end) {
        let (b, e) = (beg.as_bytes()[0], end.as_bytes()[0]);
        if b > e {
            return Err(format!("host range start is after its end in '{pattern}'"));
        }
        return Ok(Part::Alpha { first: b, step, len: (e - b) as u64 / step + 1 });
    }
    let beg_n: u64 = if beg.is_empty() { 0 } else { beg.parse().map_err(|_| format!("bad range start '{beg}' in '{pattern}'"))? };
    let end_n: u64 = end.parse().map_err(|_| format!("bad range end '{end}' in '{pattern}'"))?;
    if beg_n > end_n {
        return Err(format!("host range start is after its end in '{pattern}'"));
    }
    // Leading zeros set the width, as in `db[01:10]`.
    let width = if beg.starts_with('0') && beg.len() > 1 { beg.len() } else { 0 };
    Ok(Part::Number { first: beg_n, step, len: ((end_n - beg_n) / step).saturating_add(1), width })
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
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        assert_eq!(expand("n[98:100:1]x").unwrap(), ["n98x", "n99x", "n100x"]);
    }

    #[test]
    fn counts_are_checked_before_any_name_is_made() {
        assert!(expand("h[0:99999999999]").unwrap_err().contains("expands to 100000000000 hosts"));
        assert!(expand("h[0:18446744073709551615][0:9]").unwrap_err().contains("more than 18446744073709551615"));
        assert_eq!(expand("h[0:99999]").unwrap().len(), 100_000);
        assert_eq!(expand("h[1:99999999999:999999999]").unwrap().len(), 101);
        // Long names are counted before they are made (3.7 GB here).
        assert!(expand(&format!("h[0:99999]{}", "x".repeat(37000))).unwrap_err().contains("more than 16 MiB"));
        // Thousands of ranges in one name: no recursion to overflow.
        assert_eq!(expand(&format!("h{}", "[1:1]".repeat(10_000))).unwrap(), [format!("h{}", "1".repeat(10_000))]);
    }
}
