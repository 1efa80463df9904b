//! Ansible's `random` and `shuffle` filters. Without `seed` they use the
//! system's randomness; with one they are Python's `random.Random(seed)`
//! (MT19937 seeded as CPython seeds it, `randrange`, `choice` and
//! `shuffle` drawing as CPython draws), so `59 | random(seed=
//! inventory_hostname)` gives each host the number Ansible gives it.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use rand_mt::Mt;
use sha2::Digest;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
}

/// The source of randomness: Python's seeded generator, or the system's.
enum Source {
    Seeded(Box<Mt>),
    System,
}

impl Source {
    fn new(seed: Option<&JValue>) -> Result<Source, Error> {
        let Some(seed) = seed.filter(|s| !s.is_none() && !s.is_undefined()) else { return Ok(Source::System) };
        Ok(Source::Seeded(Box::new(Mt::new_with_key(python_seed_key(seed)?))))
    }

    fn next_u32(&mut self) -> u32 {
        match self {
            Source::Seeded(mt) => mt.next_u32(),
            Source::System => rand::random::<u32>(),
        }
    }

    /// CPython's `getrandbits(k)` for k ≤ 64.
    fn getrandbits(&mut self, k: u32) -> u64 {
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - k));
        low | (high << 32)
    }

    /// CPython's `_randbelow_with_getrandbits(n)`, n > 0.
    fn below(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }
}

/// The key CPython's `Random.seed(a)` (version 2) gives `init_by_array`:
/// an int's absolute value in 32-bit words, least significant first; a
/// string becomes the int of its UTF-8 bytes followed by their SHA-512.
fn python_seed_key(seed: &JValue) -> Result<Vec<u32>, Error> {
    let bytes_be: Vec<u8> = match seed.kind() {
        ValueKind::String => {
            let s = seed.as_str().unwrap_or("").as_bytes().to_vec();
            let digest = sha2::Sha512::digest(&s);
            s.into_iter().chain(digest).collect()
        }
        ValueKind::Number | ValueKind::Bool => match seed.as_i64() {
            Some(i) => i.unsigned_abs().to_be_bytes().to_vec(),
            None => return Err(err("random: a float seed is not supported by mailplay; use an integer or a string")),
        },
        _ => return Err(err("The only supported seed types are: None, int, float, str, bytes, and bytearray.")),
    };
    // Big-endian bytes to little-endian 32-bit words, leading zeros dropped.
    let mut words: Vec<u32> = bytes_be.rchunks(4).map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))).collect();
    while words.len() > 1 && words.last() == Some(&0) {
        words.pop();
    }
    if words.is_empty() {
        words.push(0);
    }
    Ok(words)
}

/// `end | random(start=None, step=None, seed=None)`: `randrange(start,
/// end, step)` for an integer, `choice(end)` for a sequence.
fn random(end: JValue, start: Option<JValue>, step: Option<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let start = match start {
        Some(s) => Some(s),
        None => kwargs.get::<Option<JValue>>("start")?,
    };
    let step = match step {
        Some(s) => Some(s),
        None => kwargs.get::<Option<JValue>>("step")?,
    };
    let seed: Option<JValue> = kwargs.get("seed")?;
    kwargs.assert_all_used()?;
    let mut source = Source::new(seed.as_ref())?;
    let given = |v: &Option<JValue>| v.as_ref().is_some_and(JValue::is_true);
    match end.kind() {
        ValueKind::Number | ValueKind::Bool if end.as_i64().is_some() => {
            let end = end.as_i64().unwrap_or(0);
            let start =
                if given(&start) { start.as_ref().and_then(JValue::as_i64).ok_or_else(|| err("start must be an integer"))? } else { 0 };
            let step =
                if given(&step) { step.as_ref().and_then(JValue::as_i64).ok_or_else(|| err("step must be an integer"))? } else { 1 };
            randrange(&mut source, start, end, step).map(JValue::from)
        }
        ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Iterable => {
            if given(&start) || given(&step) {
                return Err(err("start and step can only be used with integer values"));
            }
            let items: Vec<JValue> = match end.kind() {
                ValueKind::String => end.as_str().unwrap_or("").chars().map(|c| JValue::from(c.to_string())).collect(),
                _ => end.try_iter()?.collect(),
            };
            if items.is_empty() {
                return Err(err("Cannot choose from an empty sequence"));
            }
            let i = source.below(items.len() as u64) as usize;
            Ok(items[i].clone())
        }
        _ => Err(err("random can only be used on sequences and integers")),
    }
}

/// CPython's `randrange(start, stop, step)`.
fn randrange(source: &mut Source, start: i64, stop: i64, step: i64) -> Result<i64, Error> {
    let width = i128::from(stop) - i128::from(start);
    if step == 1 {
        if width <= 0 {
            return Err(err(format!("empty range in randrange({start}, {stop})")));
        }
        return Ok(start + source.below(width as u64) as i64);
    }
    if step == 0 {
        return Err(err("zero step for randrange()"));
    }
    let step128 = i128::from(step);
    let n = if step > 0 { (width + step128 - 1).div_euclid(step128) } else { (width + step128 + 1).div_euclid(step128) };
    if n <= 0 {
        return Err(err(format!("empty range in randrange({start}, {stop}, {step})")));
    }
    Ok((i128::from(start) + step128 * i128::from(source.below(n as u64))) as i64)
}

/// `list | shuffle(seed=None)`: a shuffled copy (CPython's Fisher-Yates);
/// a value that is not a sequence comes back as it is, as in Ansible.
fn shuffle(v: JValue, seed: Option<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let seed = match seed {
        Some(s) => Some(s),
        None => kwargs.get::<Option<JValue>>("seed")?,
    };
    kwargs.assert_all_used()?;
    let mut items: Vec<JValue> = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or("").chars().map(|c| JValue::from(c.to_string())).collect(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => v.try_iter()?.collect(),
        _ => return Ok(v),
    };
    // Ansible seeds only for a truthy seed.
    let mut source = Source::new(seed.as_ref().filter(|s| s.is_true()))?;
    for i in (1..items.len()).rev() {
        let j = source.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
    Ok(JValue::from(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_kwargs() -> Kwargs {
        Vec::<(String, JValue)>::new().into_iter().collect()
    }

    fn seeded(seed: JValue) -> Source {
        Source::new(Some(&seed)).unwrap()
    }

    #[test]
    fn seeded_draws_are_pythons() {
        // python3 -c 'import random; r = random.Random(1337); print([r.randrange(0, 60) for _ in range(5)])'
        let mut s = seeded(JValue::from(1337));
        let got: Vec<i64> = (0..5).map(|_| randrange(&mut s, 0, 60, 1).unwrap()).collect();
        assert_eq!(got, PY_1337_RANDRANGE_60);
        // python3 -c 'import random; r = random.Random("mail1"); print(r.randrange(0, 60))'
        let mut s = seeded(JValue::from("mail1"));
        assert_eq!(randrange(&mut s, 0, 60, 1).unwrap(), PY_MAIL1_RANDRANGE_60);
        // python3 -c 'import random; l = [1,2,3,4,5]; random.Random(42).shuffle(l); print(l)'
        let out = shuffle(JValue::from(vec![1, 2, 3, 4, 5]), Some(JValue::from(42)), no_kwargs()).unwrap();
        assert_eq!(out, JValue::from(PY_42_SHUFFLE.to_vec()));
    }

    // CPython 3.11's answers to the commands above.
    const PY_1337_RANDRANGE_60: [i64; 5] = [39, 59, 34, 45, 23];
    const PY_MAIL1_RANDRANGE_60: i64 = 39;
    const PY_42_SHUFFLE: [i64; 5] = [4, 2, 3, 5, 1];

    #[test]
    fn misuse_is_refused_with_ansibles_messages() {
        assert!(random(JValue::from(()), None, None, no_kwargs()).unwrap_err().to_string().contains("random can only be used on"));
        let e = random(JValue::from(vec![1, 2]), Some(JValue::from(2)), None, no_kwargs()).unwrap_err();
        assert!(e.to_string().contains("start and step can only be used"));
        assert_eq!(shuffle(JValue::from(22), None, no_kwargs()).unwrap(), JValue::from(22));
        let r = random(JValue::from(20), Some(JValue::from(10)), Some(JValue::from(2)), no_kwargs()).unwrap().as_i64().unwrap();
        assert!((10..20).contains(&r) && r % 2 == 0);
    }
}
