//! The file modules' `attributes` (alias `attr`): chattr flags such as
//! `A`, `+i`, `-a`, compared with what `lsattr -d` shows, as Ansible's
//! `set_attributes_if_different`.

/// A change of flags: `chattr {op}{flags}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsChange {
    /// The flags `lsattr` showed (`-` removed); empty when it could not tell.
    pub before: String,
    /// `=`, `+` or `-`.
    pub op: char,
    pub flags: String,
}

impl FlagsChange {
    /// What chattr is given, and what Ansible's diff shows after.
    pub fn arg(&self) -> String {
        format!("{}{}", self.op, self.flags)
    }
}

/// The flags in `lsattr -d` output (`----i---------e------- /path`): its
/// first word without the dashes. Output that is not that reads as none,
/// as Ansible's get_file_attributes.
pub fn parse_lsattr(rc: i32, stdout: &str) -> String {
    if rc != 0 {
        return String::new();
    }
    stdout.split_whitespace().next().unwrap_or("").replace('-', "")
}

/// Whether (and how) to run chattr: `=` when the flags differ, `+` when
/// the set differs as a whole, `-` always (as Ansible compares).
pub fn plan_flags(wanted: Option<&str>, existing: &str) -> Option<FlagsChange> {
    let wanted = wanted?;
    let (op, flags) = match wanted.chars().next() {
        Some(c @ ('+' | '-')) => (c, &wanted[1..]),
        _ => ('=', wanted),
    };
    if flags.is_empty() || (existing == flags && op != '-') {
        return None;
    }
    Some(FlagsChange { before: existing.to_string(), op, flags: flags.to_string() })
}

/// Whether `attributes` asks for anything (an empty value or a bare
/// operator changes nothing, so the probe need not ask lsattr).
pub fn wants_flags(wanted: Option<&str>) -> bool {
    wanted.is_some_and(|w| !w.trim_start_matches(['+', '-']).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsattr_output() {
        assert_eq!(parse_lsattr(0, "-------A------e------- /tmp/x\n"), "Ae");
        assert_eq!(parse_lsattr(1, "lsattr: Operation not supported"), "");
    }

    #[test]
    fn compared_as_ansible_does() {
        assert_eq!(plan_flags(Some("A"), "").unwrap().arg(), "=A");
        assert_eq!(plan_flags(Some("A"), "A"), None);
        assert_eq!(plan_flags(Some("+A"), "A"), None);
        // `+` compares the whole set, not whether the flag is there.
        assert_eq!(plan_flags(Some("+A"), "Ae").unwrap().arg(), "+A");
        // `-` always runs chattr.
        assert_eq!(plan_flags(Some("-A"), "").unwrap().arg(), "-A");
        assert_eq!(plan_flags(Some(""), "A"), None);
        assert_eq!(plan_flags(None, "A"), None);
        assert!(!wants_flags(Some("")));
        assert!(wants_flags(Some("-i")));
    }
}
