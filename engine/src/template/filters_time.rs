//! Ansible's time filters: `to_datetime(format='%Y-%m-%d %H:%M:%S')`, a
//! Python `datetime` that compares, shows and gives its fields as one;
//! `strftime(second=None, utc=False)`, Python's `time.strftime` of an
//! epoch (now when `second` is None).

use std::cmp::Ordering;
use std::sync::Arc;

use minijinja::value::{DynObject, Object, ObjectRepr};
use minijinja::{Environment, Error, ErrorKind, Value as JValue};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("to_datetime", |s: String, format: Option<String>| -> Result<JValue, Error> {
        let format = format.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
        let dt = jiff::civil::DateTime::strptime(&format, &s)
            .map_err(|e| err(format!("time data '{s}' does not match format '{format}' ({e})")))?;
        Ok(JValue::from_object(DateTime(dt)))
    });
    env.add_filter("strftime", strftime);
}

/// A naive Python `datetime`.
#[derive(Debug)]
struct DateTime(jiff::civil::DateTime);

impl Object for DateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let d = &self.0;
        Some(JValue::from(match key.as_str()? {
            "year" => i64::from(d.year()),
            "month" => i64::from(d.month()),
            "day" => i64::from(d.day()),
            "hour" => i64::from(d.hour()),
            "minute" => i64::from(d.minute()),
            "second" => i64::from(d.second()),
            "microsecond" => i64::from(d.subsec_nanosecond() / 1000),
            _ => return None,
        }))
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        other.downcast_ref::<DateTime>().map(|o| self.0.cmp(&o.0))
    }

    /// Python's `str(datetime)`.
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        let d = &self.0;
        write!(f, "{:04}-{:02}-{:02} {:02}:{:02}:{:02}", d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second())?;
        match d.subsec_nanosecond() / 1000 {
            0 => Ok(()),
            us => write!(f, ".{us:06}"),
        }
    }
}

/// `'%Y-%m-%d' | strftime(second=None, utc=False)`.
fn strftime(format: String, second: Option<JValue>, utc: Option<bool>, kwargs: minijinja::value::Kwargs) -> Result<String, Error> {
    let second = match second {
        Some(s) => Some(s),
        None => kwargs.get::<Option<JValue>>("second")?,
    };
    let utc = match utc {
        Some(u) => u,
        None => kwargs.get::<Option<bool>>("utc")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let secs = match second.filter(|s| !s.is_none()) {
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
        Some(s) => python_float(&s).ok_or_else(|| err(format!("Invalid value for epoch value ({})", super::filters::text_of(&s))))?,
    };
    Ok(super::func_now::c_strftime(secs.floor() as libc::time_t, utc, &format))
}

/// Python's `float(x)` of a number or of a string spelling one.
fn python_float(v: &JValue) -> Option<f64> {
    if let Some(s) = v.as_str() {
        return s.trim().parse::<f64>().ok();
    }
    f64::try_from(v.clone()).ok()
}

#[cfg(test)]
mod tests {
    use crate::template::{Scope, Templar};

    fn r(t: &str) -> String {
        Templar::new().render_string(t, &Scope::new()).unwrap()
    }

    #[test]
    fn datetimes_compare_and_show_as_pythons() {
        assert_eq!(r("{{ '1993-03-26 01:23:45' | to_datetime < '1994-03-26 01:23:45' | to_datetime }}"), "True");
        assert_eq!(r("{{ '2016-08-14' | to_datetime('%Y-%m-%d') }}"), "2016-08-14 00:00:00");
        assert_eq!(r("{{ ('2016-08-14 20:00:12' | to_datetime).year }}"), "2016");
    }

    #[test]
    fn strftime_of_an_epoch() {
        assert_eq!(r("{{ '%Y-%m-%d' | strftime(1585247522, utc=True) }}"), "2020-03-26");
        assert_eq!(r("{{ '%Y-%m-%d %H' | strftime('1585247522.0', utc=True) }}"), "2020-03-26 18");
        let e = Templar::new().render_string("{{ '%Y' | strftime('foo') }}", &Scope::new()).unwrap_err();
        assert!(e.message.contains("Invalid value for epoch value (foo)"), "{}", e.message);
    }
}
