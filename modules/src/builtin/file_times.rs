//! `file`'s `modification_time` and `access_time`: `now`, `preserve`, or
//! a time written in a Python `strptime` format (`%Y%m%d%H%M.%S` by
//! default). As Ansible's module, a given time is the host's local time:
//! the date is parsed here and turned into seconds by `date` on the host.

use serde_json::Value;

/// What one of the two times should become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSpec {
    Preserve,
    Now,
    At(Broken),
}

/// A broken-down local time as `time.strptime` gives it (its defaults:
/// 1900-01-01 00:00:00 for what the format does not name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Broken {
    /// The argument `date -d` reads as this local time.
    pub fn date_arg(&self) -> String {
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute, self.second)
    }
}

/// A time on the host: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Stamp {
    pub fn at(secs: i64) -> Stamp {
        Stamp { secs, nanos: 0 }
    }

    /// `1644329640.079923050` as `stat -c %.9Y` and `date +%s.%N` print it.
    pub fn parse(s: &str) -> Option<Stamp> {
        let (secs, frac) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
        let secs = secs.parse().ok()?;
        if frac.is_empty() || frac.len() > 9 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let nanos = format!("{frac:0<9}").parse().ok()?;
        Some(Stamp { secs, nanos })
    }

    /// As Python's `st_mtime`: a float of seconds (what Ansible's diff shows).
    pub fn as_value(&self) -> Value {
        Value::from(self.secs as f64 + self.nanos as f64 / 1e9)
    }

    /// The `touch -d` argument.
    pub fn touch_arg(&self) -> String {
        format!("@{}.{:09}", self.secs, self.nanos)
    }
}

/// One time argument as the module reads it: unset means `preserve`, or
/// `now` for `state=touch` (Ansible's keep_backward_compatibility_on_timestamps).
pub fn spec(value: Option<&str>, format: &str, touch: bool) -> Result<TimeSpec, String> {
    match value {
        None if touch => Ok(TimeSpec::Now),
        None | Some("preserve") => Ok(TimeSpec::Preserve),
        Some("now") => Ok(TimeSpec::Now),
        Some(v) => strptime(v, format)
            .map(TimeSpec::At)
            .map_err(|e| format!("Error while obtaining timestamp for time {v} using format {format}: {e}")),
    }
}

/// What to change: each time's value before (unknown for a path this task
/// creates) and after. `both_now` sets both to the current time the way
/// `utime(path, None)` does, which needs write access, not ownership.
#[derive(Debug, Clone, PartialEq)]
pub struct TimesPlan {
    pub mtime: Option<(Option<Stamp>, Stamp)>,
    pub atime: Option<(Option<Stamp>, Stamp)>,
    pub both_now: bool,
}

/// What the probe found: the path's times (when it exists), the host's
/// clock, and the given times as the host reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTimes {
    pub mtime: Option<Stamp>,
    pub atime: Option<Stamp>,
    pub now: Stamp,
    pub wanted_mtime: Option<Stamp>,
    pub wanted_atime: Option<Stamp>,
}

/// Ansible's update_timestamp_for_file: nothing when both are kept or
/// already right; a path being created gets only what is not `now`
/// (creating it sets that).
pub fn plan_times(m: &TimeSpec, a: &TimeSpec, host: &HostTimes) -> Option<TimesPlan> {
    let exists = host.mtime.is_some() && host.atime.is_some();
    if *m == TimeSpec::Now && *a == TimeSpec::Now {
        if !exists {
            return None;
        }
        return Some(TimesPlan { mtime: Some((host.mtime, host.now)), atime: Some((host.atime, host.now)), both_now: true });
    }
    let want = |spec: &TimeSpec, wanted: Option<Stamp>| match spec {
        TimeSpec::Preserve => None,
        TimeSpec::Now => Some(host.now),
        TimeSpec::At(_) => wanted,
    };
    let change = |spec: &TimeSpec, wanted: Option<Stamp>, before: Option<Stamp>| {
        let after = want(spec, wanted)?;
        match before {
            Some(b) if b == after => None,
            // A new path: `now` is what creating it gives.
            None if *spec == TimeSpec::Now => None,
            _ => Some((before, after)),
        }
    };
    let mtime = change(m, host.wanted_mtime, host.mtime);
    let atime = change(a, host.wanted_atime, host.atime);
    if mtime.is_none() && atime.is_none() {
        return None;
    }
    Some(TimesPlan { mtime, atime, both_now: false })
}

/// The shell commands that carry out the plan on `quoted` (a quoted path).
pub fn touch_script(plan: &TimesPlan, quoted: &str) -> String {
    if plan.both_now {
        return format!("touch -c -- {quoted}");
    }
    let mut parts = Vec::new();
    if let Some((_, after)) = &plan.mtime {
        parts.push(format!("touch -c -m -d {} -- {quoted}", after.touch_arg()));
    }
    if let Some((_, after)) = &plan.atime {
        parts.push(format!("touch -c -a -d {} -- {quoted}", after.touch_arg()));
    }
    parts.join(" && ")
}

/// Python's `time.strptime` for the directives a timestamp uses (`%Y %y
/// %m %d %H %I %M %S %p %j %b %B %%`); any other is refused by name.
pub fn strptime(text: &str, format: &str) -> Result<Broken, String> {
    let mismatch = || format!("time data '{text}' does not match format '{format}'");
    let items = parse_format(format)?;
    let mut fields = Fields::default();
    let rest = match_items(&items, text, &mut fields).ok_or_else(mismatch)?;
    if !rest.is_empty() {
        return Err(format!("unconverted data remains: {rest}"));
    }
    fields.finish()
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(char),
    Space,
    Num { dir: char, max_digits: usize, min: u32, max: u32 },
    MonthName { full: bool },
    AmPm,
}

fn parse_format(format: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let d = chars.next().ok_or_else(|| format!("stray % in format '{format}'"))?;
            let num = |max_digits, min, max| Item::Num { dir: d, max_digits, min, max };
            items.push(match d {
                'Y' => num(4, 0, 9999),
                'y' | 'm' | 'd' | 'H' | 'I' | 'M' | 'S' => match d {
                    'y' => num(2, 0, 99),
                    'm' => num(2, 1, 12),
                    'd' => num(2, 1, 31),
                    'H' => num(2, 0, 23),
                    'I' => num(2, 1, 12),
                    'M' => num(2, 0, 59),
                    _ => num(2, 0, 61),
                },
                'j' => num(3, 1, 366),
                'b' => Item::MonthName { full: false },
                'B' => Item::MonthName { full: true },
                'p' => Item::AmPm,
                '%' => Item::Literal('%'),
                other => return Err(format!("the strptime directive %{other} is not supported by mailplay")),
            });
        } else if c.is_whitespace() {
            items.push(Item::Space);
        } else {
            items.push(Item::Literal(c));
        }
    }
    Ok(items)
}

#[derive(Debug, Default, Clone)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour24: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    yday: Option<u32>,
}

const MONTHS: [&str; 12] =
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/// Match with backtracking, as Python's regex does: a number takes as many
/// digits as it can, fewer when what follows does not match otherwise.
fn match_items<'t>(items: &[Item], text: &'t str, f: &mut Fields) -> Option<&'t str> {
    let Some((item, rest_items)) = items.split_first() else { return Some(text) };
    match item {
        Item::Literal(c) => text.strip_prefix(*c).and_then(|t| match_items(rest_items, t, f)),
        Item::Space => {
            let t = text.trim_start();
            (t.len() < text.len()).then_some(())?;
            match_items(rest_items, t, f)
        }
        Item::Num { dir, max_digits, min, max } => {
            let digits = text.chars().take(*max_digits).take_while(char::is_ascii_digit).count();
            // %Y is exactly four digits in Python's pattern, %y two.
            let fewest = match dir {
                'Y' => 4,
                'y' => 2,
                _ => 1,
            };
            for n in (fewest..=digits).rev() {
                let Ok(v) = text[..n].parse::<u32>() else { continue };
                if v < *min || v > *max {
                    continue;
                }
                let mut g = f.clone();
                match dir {
                    'Y' => g.year = Some(v as i32),
                    'y' => g.year = Some(if v < 69 { 2000 + v as i32 } else { 1900 + v as i32 }),
                    'm' => g.month = Some(v),
                    'd' => g.day = Some(v),
                    'H' => g.hour24 = Some(v),
                    'I' => g.hour12 = Some(v),
                    'M' => g.minute = Some(v),
                    'S' => g.second = Some(v),
                    _ => g.yday = Some(v),
                }
                if let Some(rest) = match_items(rest_items, &text[n..], &mut g) {
                    *f = g;
                    return Some(rest);
                }
            }
            None
        }
        Item::MonthName { full } => {
            let lower = text.to_lowercase();
            for (i, name) in MONTHS.iter().enumerate() {
                let word = if *full { name.to_string() } else { name[..3].to_string() };
                if lower.starts_with(&word) && text.is_char_boundary(word.len()) {
                    let mut g = f.clone();
                    g.month = Some(i as u32 + 1);
                    if let Some(rest) = match_items(rest_items, &text[word.len()..], &mut g) {
                        *f = g;
                        return Some(rest);
                    }
                }
            }
            None
        }
        Item::AmPm => {
            let lower = text.get(..2)?.to_lowercase();
            let pm = match lower.as_str() {
                "am" => false,
                "pm" => true,
                _ => return None,
            };
            let mut g = f.clone();
            g.pm = Some(pm);
            let rest = match_items(rest_items, &text[2..], &mut g)?;
            *f = g;
            Some(rest)
        }
    }
}

fn leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(y: i32, m: u32) -> u32 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Fields {
    fn finish(self) -> Result<Broken, String> {
        let year = self.year.unwrap_or(1900);
        let hour = match (self.hour12, self.pm) {
            (Some(h), Some(pm)) => h % 12 + if pm { 12 } else { 0 },
            (Some(h), None) => h,
            _ => self.hour24.unwrap_or(0),
        };
        let (mut month, mut day) = (self.month.unwrap_or(1), self.day.unwrap_or(1));
        if let (Some(yday), None, None) = (self.yday, self.month, self.day) {
            // %j alone names the day of the year.
            let mut left = yday;
            month = 1;
            while month < 12 && left > days_in(year, month) {
                left -= days_in(year, month);
                month += 1;
            }
            day = left;
        }
        if day > days_in(year, month) {
            return Err("day is out of range for month".into());
        }
        // Python keeps a leap second (60, 61) as given; mktime carries it over.
        Ok(Broken { year, month, day, hour, minute: self.minute.unwrap_or(0), second: self.second.unwrap_or(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Broken {
        Broken { year, month, day, hour, minute, second }
    }

    #[test]
    fn ansible_default_format() {
        assert_eq!(strptime("202202081414.00", "%Y%m%d%H%M.%S").unwrap(), b(2022, 2, 8, 14, 14, 0));
        assert_eq!(strptime("202202081414.00", "%Y%m%d%H%M.%S").unwrap().date_arg(), "2022-02-08 14:14:00");
    }

    #[test]
    fn other_formats_as_python_reads_them() {
        assert_eq!(strptime("2022-02-08 14:14:05", "%Y-%m-%d %H:%M:%S").unwrap(), b(2022, 2, 8, 14, 14, 5));
        assert_eq!(strptime("8 Feb 2022 2:14 pm", "%d %b %Y %I:%M %p").unwrap(), b(2022, 2, 8, 14, 14, 0));
        assert_eq!(strptime("22/1/5", "%y/%m/%d").unwrap(), b(2022, 1, 5, 0, 0, 0));
        assert_eq!(strptime("2024 60", "%Y %j").unwrap(), b(2024, 2, 29, 0, 0, 0));
        assert_eq!(strptime("1414", "%H%M").unwrap(), b(1900, 1, 1, 14, 14, 0));
    }

    #[test]
    fn python_errors() {
        assert_eq!(strptime("2022", "%Y%m").unwrap_err(), "time data '2022' does not match format '%Y%m'");
        assert_eq!(strptime("2022021", "%Y%m").unwrap_err(), "unconverted data remains: 1");
        assert_eq!(strptime("20220230", "%Y%m%d").unwrap_err(), "day is out of range for month");
        assert!(strptime("Mon", "%a").unwrap_err().contains("%a is not supported"));
        assert_eq!(
            spec(Some("x"), "%Y", false).unwrap_err(),
            "Error while obtaining timestamp for time x using format %Y: time data 'x' does not match format '%Y'"
        );
        assert_eq!(spec(None, "%Y", true).unwrap(), TimeSpec::Now);
        assert_eq!(spec(None, "%Y", false).unwrap(), TimeSpec::Preserve);
    }

    #[test]
    fn stamps() {
        assert_eq!(Stamp::parse("1644329640.079923050\n"), Some(Stamp { secs: 1644329640, nanos: 79923050 }));
        assert_eq!(Stamp::parse("1644329640"), Some(Stamp::at(1644329640)));
        assert_eq!(Stamp::parse("x.1"), None);
        assert_eq!(Stamp::at(5).touch_arg(), "@5.000000000");
    }

    fn host(m: i64, a: i64) -> HostTimes {
        HostTimes {
            mtime: Some(Stamp::at(m)),
            atime: Some(Stamp::at(a)),
            now: Stamp::at(100),
            wanted_mtime: Some(Stamp::at(50)),
            wanted_atime: None,
        }
    }

    #[test]
    fn plans_as_update_timestamp_for_file() {
        let at = TimeSpec::At(b(2022, 1, 1, 0, 0, 0));
        let p = plan_times(&at, &TimeSpec::Preserve, &host(10, 20)).unwrap();
        assert_eq!(p.mtime, Some((Some(Stamp::at(10)), Stamp::at(50))));
        assert_eq!(p.atime, None);
        assert_eq!(touch_script(&p, "/f"), "touch -c -m -d @50.000000000 -- /f");
        // Already right: nothing to do.
        assert_eq!(plan_times(&at, &TimeSpec::Preserve, &host(50, 20)), None);
        assert_eq!(plan_times(&TimeSpec::Preserve, &TimeSpec::Preserve, &host(10, 20)), None);
        let now = plan_times(&TimeSpec::Now, &TimeSpec::Now, &host(10, 20)).unwrap();
        assert!(now.both_now);
        assert_eq!(touch_script(&now, "/f"), "touch -c -- /f");
        let atime_now = plan_times(&TimeSpec::Preserve, &TimeSpec::Now, &host(10, 20)).unwrap();
        assert_eq!(atime_now.atime, Some((Some(Stamp::at(20)), Stamp::at(100))));
        // A path being created gets `now` from its creation.
        let new = HostTimes { mtime: None, atime: None, ..host(0, 0) };
        assert_eq!(plan_times(&TimeSpec::Now, &TimeSpec::Now, &new), None);
        assert_eq!(plan_times(&at, &TimeSpec::Now, &new).unwrap().mtime, Some((None, Stamp::at(50))));
    }
}
