//! The parts of Ansible's `stat` result that `Host::stat` does not carry:
//! times with fractions, device, inode, link count, blocks, the file type
//! bits, access for the connecting user, the MIME type (`file`) and the
//! ext2 attributes (`lsattr`). One command on the target (GNU `stat`, as
//! on the Debian hosts mailplay manages) gives them all; parsing is pure.

use serde_json::{json, Map, Value};

use crate::host::{quote, FileStat};

/// The shell script that prints one `key|...` line per part asked for.
pub fn script(path: &str, follow: bool, mime: bool, attributes: bool) -> String {
    let p = quote(path);
    let l = if follow { "-L " } else { "" };
    let mut s = format!(
        "LC_ALL=C stat {l}-c 'stat|%.9X|%.9Y|%.9Z|%d|%i|%h|%b|%o|%r|%f|%s' -- {p} 2>/dev/null || exit 0\n\
         for t in r w x; do if test -$t {p}; then printf 'access|%s|true\\n' $t; else printf 'access|%s|false\\n' $t; fi; done\n"
    );
    if mime {
        s.push_str(&format!(
            "command -v file >/dev/null 2>&1 && printf 'mime|%s\\n' \"$(file -b --mime-type --mime-encoding -- {p} 2>/dev/null)\"\n"
        ));
    }
    if attributes {
        s.push_str(&format!("command -v lsattr >/dev/null 2>&1 && printf 'attr|%s\\n' \"$(lsattr -vd -- {p} 2>/dev/null)\"\n"));
    }
    s.push_str("exit 0\n");
    s
}

/// lsattr's letters as Ansible names them (`module_utils/common/file.py`).
const FILE_ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

fn number(s: &str) -> Option<Value> {
    if let Ok(n) = s.parse::<u64>() {
        return Some(json!(n));
    }
    s.parse::<f64>().ok().map(|f| json!(f))
}

/// The keys to add to `stat`'s result, from the script's output. `base` is
/// what `Host::stat` said: if the command saw a different file (check mode's
/// overlay answered for a path a plan changes, or the file changed in
/// between), none of its numbers describe that file, so none are added.
pub fn parse(out: &str, base: &FileStat, mime: bool, attributes: bool) -> Map<String, Value> {
    let mut m = Map::new();
    let mut lines = out.lines();
    let Some(st) = lines.next().and_then(|l| l.strip_prefix("stat|")) else { return m };
    let f: Vec<&str> = st.split('|').collect();
    let [atime, mtime, ctime, dev, inode, nlink, blocks, blksize, rdev, raw_mode, size] = f[..] else { return m };
    let Ok(raw_mode) = u32::from_str_radix(raw_mode, 16) else { return m };
    if raw_mode & 0o7777 != base.mode || size.parse::<u64>().ok() != Some(base.size) {
        return m;
    }
    for (k, v) in [
        ("atime", atime),
        ("mtime", mtime),
        ("ctime", ctime),
        ("dev", dev),
        ("inode", inode),
        ("nlink", nlink),
        ("blocks", blocks),
        ("block_size", blksize),
        ("device_type", rdev),
    ] {
        if let Some(n) = number(v) {
            m.insert(k.into(), n);
        }
    }
    let fmt = raw_mode & 0o170000;
    m.insert("ischr".into(), json!(fmt == 0o020000));
    m.insert("isblk".into(), json!(fmt == 0o060000));
    m.insert("isfifo".into(), json!(fmt == 0o010000));
    m.insert("issock".into(), json!(fmt == 0o140000));
    if mime {
        m.insert("mimetype".into(), json!("unknown"));
        m.insert("charset".into(), json!("unknown"));
    }
    if attributes {
        m.insert("version".into(), Value::Null);
        m.insert("attributes".into(), json!([]));
        m.insert("attr_flags".into(), json!(""));
    }
    for line in lines {
        let Some((key, rest)) = line.split_once('|') else { continue };
        match key {
            "access" => {
                let name = match rest.split('|').next() {
                    Some("r") => "readable",
                    Some("w") => "writeable",
                    _ => "executable",
                };
                m.insert(name.into(), json!(rest.ends_with("|true")));
            }
            // "text/plain; charset=us-ascii"
            "mime" if mime => {
                if let Some((t, cs)) = rest.split_once(';') {
                    if let Some((_, cs)) = cs.split_once('=') {
                        m.insert("mimetype".into(), json!(t.trim()));
                        m.insert("charset".into(), json!(cs.trim()));
                    }
                }
            }
            // "4112562266 --------------e------- /path"
            "attr" if attributes => {
                let mut words = rest.split_whitespace();
                if let (Some(version), Some(flags)) = (words.next(), words.next()) {
                    let flags = flags.replace('-', "");
                    let names: Vec<&str> =
                        flags.chars().filter_map(|c| FILE_ATTRIBUTES.iter().find(|(l, _)| *l == c).map(|(_, n)| *n)).collect();
                    m.insert("version".into(), json!(version));
                    m.insert("attributes".into(), json!(names));
                    m.insert("attr_flags".into(), json!(flags));
                }
            }
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileKind;

    fn base(mode: u32, size: u64) -> FileStat {
        FileStat {
            kind: FileKind::File,
            mode,
            owner: "root".into(),
            group: "root".into(),
            uid: 0,
            gid: 0,
            size,
            mtime: 1796039571,
            link_target: None,
        }
    }

    const OUT: &str = "stat|1796039571.668431195|1796039572.000000000|1796039573.5|65024|10010850|1|8|4096|0|81a4|11\n\
                       access|r|true\naccess|w|true\naccess|x|false\n\
                       mime|text/plain; charset=us-ascii\n\
                       attr|4112562266 --------------e------- /tmp/foo:bar.txt\n";

    #[test]
    fn parses_what_gnu_stat_file_and_lsattr_print() {
        let m = parse(OUT, &base(0o644, 11), true, true);
        assert_eq!(m["atime"], json!(1796039571.6684313));
        assert_eq!(m["mtime"], json!(1796039572.0));
        assert_eq!((m["dev"].clone(), m["inode"].clone(), m["nlink"].clone()), (json!(65024), json!(10010850), json!(1)));
        assert_eq!((m["blocks"].clone(), m["block_size"].clone(), m["device_type"].clone()), (json!(8), json!(4096), json!(0)));
        assert_eq!((m["ischr"].clone(), m["isfifo"].clone(), m["issock"].clone()), (json!(false), json!(false), json!(false)));
        assert_eq!((m["readable"].clone(), m["writeable"].clone(), m["executable"].clone()), (json!(true), json!(true), json!(false)));
        assert_eq!((m["mimetype"].clone(), m["charset"].clone()), (json!("text/plain"), json!("us-ascii")));
        assert_eq!(
            (m["version"].clone(), m["attributes"].clone(), m["attr_flags"].clone()),
            (json!("4112562266"), json!(["extents"]), json!("e"))
        );
    }

    #[test]
    fn a_different_file_adds_nothing_and_missing_tools_give_ansibles_defaults() {
        assert!(parse(OUT, &base(0o600, 11), true, true).is_empty());
        assert!(parse(OUT, &base(0o644, 12), true, true).is_empty());
        assert!(parse("", &base(0o644, 11), true, true).is_empty());
        let m = parse("stat|1|2|3|4|5|6|7|8|9|11a4|11\n", &base(0o644, 11), true, true);
        assert_eq!((m["mimetype"].clone(), m["attributes"].clone(), m["version"].clone()), (json!("unknown"), json!([]), Value::Null));
        assert_eq!(m["isfifo"], json!(true));
        let m = parse("stat|1|2|3|4|5|6|7|8|9|11a4|11\n", &base(0o644, 11), false, false);
        assert!(!m.contains_key("mimetype") && !m.contains_key("attributes"));
    }
}
