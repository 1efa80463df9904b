//! Privileges as sets, shared by `postgresql_privs` and `mysql_grant`.
//!
//! Each engine reads its catalogs into a set of [`Grant`]s (one per role,
//! object, privilege and column, `column: None` for a table-wide grant); the
//! planner here compares that with the wanted set and yields the exact
//! REVOKEs and GRANTs of the difference. Only the rendering of statements
//! differs per engine.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub role: String,
    /// A table, schema or database name (the module knows which).
    pub object: String,
    pub privilege: String,
    /// `Some(column)` for a column privilege.
    pub column: Option<String>,
}

pub type Grants = BTreeSet<Grant>;

/// One privilege of a spec: `SELECT` or `SELECT (a, b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivSpec {
    pub privilege: String,
    pub columns: Option<Vec<String>>,
}

/// Parse `SELECT (email), UPDATE(password), INSERT` (commas inside
/// parentheses separate columns). `ALL` / `ALL PRIVILEGES` expands to
/// `all_privileges`. Every privilege is checked against `allowed`, and
/// column privileges against `column_allowed`.
pub fn parse_privs(spec: &str, all_privileges: &[&str], column_allowed: &[&str]) -> Result<Vec<PrivSpec>, String> {
    let mut out = Vec::new();
    let mut rest = spec.trim();
    while !rest.is_empty() {
        let cut = rest.find([',', '(']).unwrap_or(rest.len());
        let name = rest[..cut].trim().to_ascii_uppercase();
        rest = &rest[cut..];
        let mut columns = None;
        if let Some(after) = rest.strip_prefix('(') {
            let close = after.find(')').ok_or_else(|| format!("unclosed '(' after {name} in '{spec}'"))?;
            let cols: Vec<String> = after[..close].split(',').map(|c| unquote_ident(c.trim())).filter(|c| !c.is_empty()).collect();
            if cols.is_empty() {
                return Err(format!("{name}() lists no columns in '{spec}'"));
            }
            columns = Some(cols);
            rest = after[close + 1..].trim_start();
        }
        rest = rest.trim_start().strip_prefix(',').unwrap_or(rest).trim_start();
        if name.is_empty() {
            return Err(format!("empty privilege in '{spec}'"));
        }
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name == "ALL" || name == "ALL PRIVILEGES" {
            if columns.is_some() {
                return Err(format!("ALL cannot be limited to columns in '{spec}'"));
            }
            out.extend(all_privileges.iter().map(|p| PrivSpec { privilege: p.to_string(), columns: None }));
            continue;
        }
        if !all_privileges.contains(&name.as_str()) {
            return Err(format!("'{name}' is not a privilege here; valid: {}", all_privileges.join(", ")));
        }
        if columns.is_some() && !column_allowed.contains(&name.as_str()) {
            return Err(format!("{name} cannot be granted on columns; column privileges are {}", column_allowed.join(", ")));
        }
        out.push(PrivSpec { privilege: name, columns });
    }
    Ok(out)
}

/// `"source"` or `` `source` `` → `source`.
fn unquote_ident(s: &str) -> String {
    for q in ['"', '`'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].replace(&format!("{q}{q}"), &q.to_string());
        }
    }
    s.to_string()
}

/// The grants a spec means for `role` on `object`.
pub fn expand(role: &str, object: &str, specs: &[PrivSpec]) -> Vec<Grant> {
    let mut out = Vec::new();
    for s in specs {
        match &s.columns {
            None => out.push(Grant { role: role.into(), object: object.into(), privilege: s.privilege.clone(), column: None }),
            Some(cols) => out.extend(cols.iter().map(|c| Grant {
                role: role.into(),
                object: object.into(),
                privilege: s.privilege.clone(),
                column: Some(c.clone()),
            })),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Add what is missing; a column privilege is satisfied by the same
    /// privilege on the whole table.
    Present,
    /// Make the set exactly the wanted one: also revoke the rest.
    Exhaustive,
    /// Revoke the listed privileges where they are held.
    Absent,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrantPlan {
    pub revoke: Vec<Grant>,
    pub grant: Vec<Grant>,
    pub before: Grants,
    pub after: Grants,
}

impl GrantPlan {
    pub fn changes_anything(&self) -> bool {
        !self.revoke.is_empty() || !self.grant.is_empty()
    }
}

/// Plan the difference. `revoke_cascades_to_columns`: PostgreSQL drops the
/// column grants of a privilege when it is revoked table-wide, so wanted
/// column grants are granted again after such a revoke.
pub fn plan(current: &Grants, wanted: &Grants, mode: Mode, revoke_cascades_to_columns: bool) -> GrantPlan {
    let table_wide = |g: &Grant| Grant { column: None, ..g.clone() };
    let revoke: Grants = match mode {
        Mode::Present => Grants::new(),
        Mode::Exhaustive => current.difference(wanted).cloned().collect(),
        Mode::Absent => current.intersection(wanted).cloned().collect(),
    };
    let mut remaining: Grants = current.difference(&revoke).cloned().collect();
    if revoke_cascades_to_columns {
        remaining.retain(|g| g.column.is_none() || !revoke.contains(&table_wide(g)));
    }
    let grant: Grants = match mode {
        Mode::Absent => Grants::new(),
        Mode::Exhaustive => wanted.difference(&remaining).cloned().collect(),
        Mode::Present => wanted
            .iter()
            .filter(|g| !(remaining.contains(g) || g.column.is_some() && remaining.contains(&table_wide(g))))
            .cloned()
            .collect(),
    };
    let after: Grants = remaining.union(&grant).cloned().collect();
    GrantPlan { revoke: revoke.into_iter().collect(), grant: grant.into_iter().collect(), before: current.clone(), after }
}

/// Grants grouped as statements take them: (role, object, privilege) →
/// `None` for table-wide, or the columns.
pub fn group(grants: &[Grant]) -> Vec<(String, String, String, Option<Vec<String>>)> {
    let mut table: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut cols: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for g in grants {
        let key = (g.role.clone(), g.object.clone(), g.privilege.clone());
        match &g.column {
            None => {
                table.insert(key);
            }
            Some(c) => cols.entry(key).or_default().push(c.clone()),
        }
    }
    let mut out: Vec<_> = table.into_iter().map(|(r, o, p)| (r, o, p, None)).collect();
    out.extend(cols.into_iter().map(|((r, o, p), c)| (r, o, p, Some(c))));
    out.sort();
    out
}

/// The grants as readable lines for `--diff`: `role: SELECT (a, b) ON table`.
pub fn describe(grants: &Grants) -> String {
    let list: Vec<Grant> = grants.iter().cloned().collect();
    group(&list)
        .into_iter()
        .map(|(r, o, p, c)| match c {
            None => format!("{r}: {p} ON {o}\n"),
            Some(c) => format!("{r}: {p} ({}) ON {o}\n", c.join(", ")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];
    const COLUMN: &[&str] = &["SELECT", "INSERT", "UPDATE"];

    fn g(role: &str, obj: &str, p: &str, col: Option<&str>) -> Grant {
        Grant { role: role.into(), object: obj.into(), privilege: p.into(), column: col.map(Into::into) }
    }

    #[test]
    fn parses_the_tutorials_privilege_lists() {
        let p = parse_privs("SELECT (email), update(\"password\")", TABLE, COLUMN).unwrap();
        assert_eq!(
            p,
            vec![
                PrivSpec { privilege: "SELECT".into(), columns: Some(vec!["email".into()]) },
                PrivSpec { privilege: "UPDATE".into(), columns: Some(vec!["password".into()]) }
            ]
        );
        let p = parse_privs("SELECT(\"source\", destination)", TABLE, COLUMN).unwrap();
        assert_eq!(p[0].columns.as_deref().unwrap(), ["source", "destination"]);
        assert_eq!(parse_privs("ALL", TABLE, COLUMN).unwrap().len(), 4);
        assert_eq!(parse_privs("select, insert,update ,delete", TABLE, COLUMN).unwrap().len(), 4);
    }

    #[test]
    fn rejects_unknown_privileges_and_bad_column_privileges() {
        assert!(parse_privs("SELEKT", TABLE, COLUMN).unwrap_err().contains("'SELEKT' is not a privilege"));
        assert!(parse_privs("DELETE (a)", TABLE, COLUMN).unwrap_err().contains("cannot be granted on columns"));
        assert!(parse_privs("SELECT (a", TABLE, COLUMN).is_err());
        assert!(parse_privs("SELECT ()", TABLE, COLUMN).is_err());
    }

    #[test]
    fn present_adds_only_what_is_missing_and_table_grants_cover_columns() {
        let cur: Grants = [g("r", "users", "SELECT", None)].into();
        let want: Grants = [g("r", "users", "SELECT", Some("email")), g("r", "users", "UPDATE", Some("password"))].into();
        let p = plan(&cur, &want, Mode::Present, true);
        assert!(p.revoke.is_empty());
        assert_eq!(p.grant, vec![g("r", "users", "UPDATE", Some("password"))]);
        assert!(!plan(&p.after, &want, Mode::Present, true).changes_anything());
    }

    #[test]
    fn exhaustive_revokes_extras_and_regrants_columns_after_a_cascading_revoke() {
        let cur: Grants =
            [g("r", "users", "SELECT", None), g("r", "users", "SELECT", Some("email")), g("r", "userpref", "INSERT", None)].into();
        let want: Grants = [g("r", "users", "SELECT", Some("email"))].into();
        let p = plan(&cur, &want, Mode::Exhaustive, true);
        assert_eq!(p.revoke, vec![g("r", "userpref", "INSERT", None), g("r", "users", "SELECT", None)]);
        assert_eq!(p.grant, vec![g("r", "users", "SELECT", Some("email"))], "PostgreSQL's cascade must be undone");
        assert_eq!(p.after, want);
        let p = plan(&cur, &want, Mode::Exhaustive, false);
        assert!(p.grant.is_empty(), "MariaDB keeps column grants");
        assert!(!plan(&want, &want, Mode::Exhaustive, true).changes_anything());
    }

    #[test]
    fn absent_revokes_only_what_is_held() {
        let cur: Grants = [g("r", "t", "SELECT", Some("a"))].into();
        let want: Grants = [g("r", "t", "SELECT", Some("a")), g("r", "t", "SELECT", Some("b"))].into();
        let p = plan(&cur, &want, Mode::Absent, true);
        assert_eq!(p.revoke, vec![g("r", "t", "SELECT", Some("a"))]);
        assert!(p.after.is_empty());
    }

    #[test]
    fn grouping_and_description_read_like_sql() {
        let gs: Grants = [
            g("mail_transfer", "forwardings", "SELECT", Some("source")),
            g("mail_transfer", "forwardings", "SELECT", Some("destination")),
            g("mail_roundcube", "userpref", "DELETE", None),
        ]
        .into();
        assert_eq!(describe(&gs), "mail_roundcube: DELETE ON userpref\nmail_transfer: SELECT (destination, source) ON forwardings\n");
    }
}
