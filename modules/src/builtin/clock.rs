//! Times as Ansible's modules write them: `datetime.now()` as
//! `2026-11-30 08:21:25.185172` (local time) and a `timedelta` as
//! `0:00:00.003708`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `str(datetime.datetime.now())` for the given instant, in local time.
pub fn local_datetime(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the `tm` we pass; an all-zero `tm`
    // is a valid value of the plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    if !ok {
        return String::new();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        since.subsec_micros()
    )
}

/// `str(datetime.timedelta)`: `H:MM:SS` plus `.ffffff` when there are
/// microseconds, after `N day(s), ` when there are days.
pub fn timedelta(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let mut out = match days {
        0 => String::new(),
        1 => "1 day, ".into(),
        n => format!("{n} days, "),
    };
    out.push_str(&format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60));
    if d.subsec_micros() != 0 {
        out.push_str(&format!(".{:06}", d.subsec_micros()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_like_python() {
        assert_eq!(timedelta(Duration::from_micros(3708)), "0:00:00.003708");
        assert_eq!(timedelta(Duration::from_secs(3_661)), "1:01:01");
        assert_eq!(timedelta(Duration::from_secs(2 * 86_400 + 5)), "2 days, 0:00:05");
    }

    #[test]
    fn datetime_shape() {
        let s = local_datetime(SystemTime::now());
        assert_eq!(s.len(), "2026-11-30 08:21:25.185172".len(), "{s}");
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[19..20], ".");
    }
}
