//! Ansible's `now(utc=False, fmt=None)`: the controller's current time,
//! local or UTC; with `fmt`, formatted with Python's `strftime` (its `%f`,
//! microseconds, included), else as Python prints a `datetime`
//! (`2026-11-30 12:58:57.123456`).

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind};

pub fn register(env: &mut Environment<'static>) {
    env.add_function("now", now);
}

fn now(args: &[minijinja::Value], kwargs: Kwargs) -> Result<String, Error> {
    let too_many = || Error::new(ErrorKind::TooManyArguments, "now() takes at most 2 arguments (utc, fmt)");
    if args.len() > 2 {
        return Err(too_many());
    }
    let utc_v = match (args.first(), kwargs.get::<Option<minijinja::Value>>("utc")?) {
        (Some(_), Some(_)) => return Err(Error::new(ErrorKind::InvalidOperation, "now() got multiple values for argument 'utc'")),
        (a, k) => a.cloned().or(k),
    };
    let fmt_v = match (args.get(1), kwargs.get::<Option<minijinja::Value>>("fmt")?) {
        (Some(_), Some(_)) => return Err(Error::new(ErrorKind::InvalidOperation, "now() got multiple values for argument 'fmt'")),
        (a, k) => a.cloned().or(k),
    };
    kwargs.assert_all_used()?;
    let utc = utc_v.map(|v| v.is_true()).unwrap_or(false);
    let fmt = match fmt_v {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => {
            Some(v.as_str().map(str::to_string).ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "now(): fmt must be a string"))?)
        }
    };
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    Ok(format_time(since.as_secs() as libc::time_t, since.subsec_micros(), utc, fmt.as_deref().filter(|f| !f.is_empty())))
}

/// `secs` since the epoch as `fmt` (strftime, with `%f`) or Python's
/// `str(datetime)`.
fn format_time(secs: libc::time_t, micros: u32, utc: bool, fmt: Option<&str>) -> String {
    let Some(fmt) = fmt else {
        let tm = broken_down(secs, utc);
        return format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            if micros == 0 { String::new() } else { format!(".{micros:06}") }
        );
    };
    // Python expands `%f` itself; the rest is the C library's strftime.
    let mut expanded = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('f') => expanded.push_str(&format!("{micros:06}")),
                Some(n) => {
                    expanded.push('%');
                    expanded.push(n);
                }
                None => expanded.push('%'),
            }
        } else {
            expanded.push(c);
        }
    }
    c_strftime(secs, utc, &expanded)
}

/// The local or UTC calendar time of `secs` since the epoch.
fn broken_down(secs: libc::time_t, utc: bool) -> libc::tm {
    // SAFETY: `tm` is plain data filled in by gmtime_r/localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        if utc {
            libc::gmtime_r(&secs, &mut tm);
        } else {
            libc::localtime_r(&secs, &mut tm);
        }
    }
    tm
}

/// Python's `time.strftime(fmt, time.localtime(secs))` (or `gmtime`): the
/// C library's strftime, which Python calls.
pub(super) fn c_strftime(secs: libc::time_t, utc: bool, fmt: &str) -> String {
    let tm = broken_down(secs, utc);
    let Ok(cfmt) = std::ffi::CString::new(fmt) else { return String::new() };
    let mut buf = vec![0u8; 256 + fmt.len() * 16];
    // SAFETY: the buffer's length is passed; strftime writes at most that.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_python_strftime_with_microseconds() {
        // 2021-03-04 05:06:07 UTC
        let t = 1_614_834_367;
        assert_eq!(format_time(t, 500, true, Some("%s.%f")).split('.').nth(1), Some("000500"));
        assert_eq!(format_time(t, 500, true, Some("%Y-%m-%d %H:%M:%S")), "2021-03-04 05:06:07");
        assert_eq!(format_time(t, 123456, true, None), "2021-03-04 05:06:07.123456");
        assert_eq!(format_time(t, 0, true, None), "2021-03-04 05:06:07");
        assert_eq!(format_time(t, 0, true, Some("100%%")), "100%");
    }

    #[test]
    fn takes_utc_and_fmt_as_ansible() {
        let r = crate::template::Templar::new();
        let out = r
            .render_string(
                "{{ now(fmt='%Y') | int > 2000 }} {{ now(true, '%Y') | length }} {{ now(utc=true) | length >= 19 }}",
                &crate::template::Scope::new(),
            )
            .unwrap();
        assert_eq!(out, "True 4 True");
    }
}
