//! Jinja2's `map`, in place of minijinja's: keyword arguments reach the
//! mapped filter (`map('map', attribute='key')`, `map('default', x,
//! boolean=true)`). A missing attribute without `default=` is undefined
//! (`select('defined')` drops it); when a result still holds it, the error
//! names it as ansible-core 2.19 does ([`take_missing`]). An undefined
//! input to `map`, `select`, `reject`, `selectattr`, `rejectattr` gives an
//! undefined result, as Ansible's wrappers of them do.

use std::cell::RefCell;

use std::borrow::Cow;

use minijinja::value::{Kwargs, Rest, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("map", |state: &mut State, value: JValue, args: Rest<JValue>, kwargs: Kwargs| -> Result<JValue, Error> {
        if value.is_undefined() {
            return Ok(JValue::UNDEFINED);
        }
        map(state, value, args, kwargs).map(JValue::from)
    });
    // As Ansible's wrappers of Jinja's: an undefined input gives an
    // undefined result (`not_defined | select('odd') is undefined`).
    env.add_filter("select", |state: &mut State, v: JValue, test: Option<String>, args: Rest<ValueOrKwargs>| -> Result<JValue, Error> {
        if v.is_undefined() {
            return Ok(JValue::UNDEFINED);
        }
        minijinja::filters::select(state, v, test.map(Cow::Owned), args).map(JValue::from)
    });
    env.add_filter("reject", |state: &mut State, v: JValue, test: Option<String>, args: Rest<ValueOrKwargs>| -> Result<JValue, Error> {
        if v.is_undefined() {
            return Ok(JValue::UNDEFINED);
        }
        minijinja::filters::reject(state, v, test.map(Cow::Owned), args).map(JValue::from)
    });
    env.add_filter(
        "selectattr",
        |state: &mut State, v: JValue, attr: String, test: Option<String>, args: Rest<ValueOrKwargs>| -> Result<JValue, Error> {
            if v.is_undefined() {
                return Ok(JValue::UNDEFINED);
            }
            minijinja::filters::selectattr(state, v, Cow::Owned(attr), test.map(Cow::Owned), args).map(JValue::from)
        },
    );
    env.add_filter(
        "rejectattr",
        |state: &mut State, v: JValue, attr: String, test: Option<String>, args: Rest<ValueOrKwargs>| -> Result<JValue, Error> {
            if v.is_undefined() {
                return Ok(JValue::UNDEFINED);
            }
            minijinja::filters::rejectattr(state, v, Cow::Owned(attr), test.map(Cow::Owned), args).map(JValue::from)
        },
    );
}

fn map(state: &mut State, value: JValue, args: Rest<JValue>, kwargs: Kwargs) -> Result<Vec<JValue>, Error> {
    let items: Vec<JValue> = value.try_iter()?.collect();
    state.consume_fuel(items.len() as u64)?;
    // Jinja2: `attribute=` without a filter name maps attributes.
    if args.is_empty() && kwargs.has("attribute") {
        let attr: JValue = kwargs.get("attribute")?;
        let default: Option<JValue> = kwargs.get("default")?;
        return items.iter().map(|item| attribute(item, &attr, default.as_ref())).collect();
    }
    let name = args.first().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "map: a filter name is required"))?;
    let name = name.as_str().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "map: the filter name must be a string"))?.to_string();
    // The keyword arguments are the mapped filter's.
    let keys: Vec<String> = kwargs.args().map(str::to_string).collect();
    let forwarded: Vec<(String, JValue)> = keys.into_iter().map(|k| kwargs.get::<JValue>(&k).map(|v| (k, v))).collect::<Result<_, _>>()?;
    let forwarded = (!forwarded.is_empty()).then(|| JValue::from(forwarded.into_iter().collect::<Kwargs>()));
    items
        .into_iter()
        .map(|item| {
            let call: Vec<JValue> = std::iter::once(item).chain(args[1..].iter().cloned()).chain(forwarded.clone()).collect();
            state.apply_filter(&name, &call)
        })
        .collect()
}

/// `item[attr]` (a dotted path for a string), else `default`, else an
/// error like Jinja2's.
fn attribute(item: &JValue, attr: &JValue, default: Option<&JValue>) -> Result<JValue, Error> {
    let found = match attr.as_str() {
        Some(path) => path.split('.').try_fold(item.clone(), |v, part| {
            let next = match part.parse::<i64>() {
                Ok(i) if v.kind() == minijinja::value::ValueKind::Seq => v.get_item(&JValue::from(i)),
                _ => v.get_attr(part),
            };
            next.ok().filter(|x| !x.is_undefined())
        }),
        None => item.get_item(attr).ok().filter(|x| !x.is_undefined()),
    };
    match (found, default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => {
            let why = format!("object of type '{}' has no attribute '{attr}'", super::filters::python_type(item));
            MISSING.with(|m| m.borrow_mut().get_or_insert(why).clone());
            Ok(JValue::UNDEFINED)
        }
    }
}

thread_local! {
    /// Why the first undefined value `map` made in this render is undefined.
    static MISSING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records why a value made undefined on purpose is (the first reason of
/// the render wins): `undef(hint)`.
pub fn note_missing(why: String) {
    MISSING.with(|m| {
        m.borrow_mut().get_or_insert(why);
    });
}

/// As `note_missing`, replacing an earlier reason (a lookup naming what
/// its `undef()` default stands for).
pub fn replace_missing(why: String) {
    MISSING.with(|m| *m.borrow_mut() = Some(why));
}

/// Why `map` made an undefined value since the last call (a render runs
/// on one thread from start to end).
pub fn take_missing() -> Option<String> {
    MISSING.with(|m| m.borrow_mut().take())
}
