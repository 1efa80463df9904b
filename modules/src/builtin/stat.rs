//! `stat`: facts about a path, in Ansible's result shape.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::args::{loose_bool, loose_string};
use crate::host::{Command, FileKind, FileStat};

use super::stat_details;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatArgs {
    #[serde(alias = "dest", alias = "name", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, deserialize_with = "loose_bool")]
    pub follow: bool,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub get_checksum: bool,
    #[serde(default = "sha1", alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: String,
    #[serde(default = "yes", alias = "mime", alias = "mime_type", alias = "mime-type", deserialize_with = "loose_bool")]
    pub get_mime: bool,
    #[serde(default = "yes", alias = "attr", alias = "attributes", deserialize_with = "loose_bool")]
    pub get_attributes: bool,
}

fn sha1() -> String {
    "sha1".into()
}

pub struct StatState {
    stat: Option<FileStat>,
    checksum: Option<String>,
    /// What `stat_details` found beyond `Host::stat` (empty when unknown).
    details: Map<String, Value>,
}

/// Reading never changes anything.
pub struct NoChange;

impl Plan for NoChange {
    fn changes_anything(&self) -> bool {
        false
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
}

pub fn stat_dict(path: &str, st: &Option<FileStat>, checksum: &Option<String>, checksum_key: bool) -> Value {
    let Some(s) = st else { return json!({"exists": false}) };
    let mut v = json!({
        "exists": true,
        "path": path,
        "mode": format!("{:04o}", s.mode),
        "isdir": s.kind == FileKind::Directory,
        "isreg": s.kind == FileKind::File,
        "islnk": s.kind == FileKind::Link,
        "uid": s.uid,
        "gid": s.gid,
        "pw_name": s.owner,
        "gr_name": s.group,
        "size": s.size,
        "mtime": s.mtime,
        "readable": true,
        "xusr": s.mode & 0o100 != 0, "rusr": s.mode & 0o400 != 0, "wusr": s.mode & 0o200 != 0,
        "xgrp": s.mode & 0o010 != 0, "rgrp": s.mode & 0o040 != 0, "wgrp": s.mode & 0o020 != 0,
        "xoth": s.mode & 0o001 != 0, "roth": s.mode & 0o004 != 0, "woth": s.mode & 0o002 != 0,
        "isuid": s.mode & 0o4000 != 0, "isgid": s.mode & 0o2000 != 0,
    });
    if let Some(t) = &s.link_target {
        v["lnk_source"] = json!(t);
        v["lnk_target"] = json!(t);
    }
    if checksum_key {
        if let Some(c) = checksum {
            v["checksum"] = json!(c);
        }
    }
    v
}

pub struct StatModule;

#[async_trait]
impl Module for StatModule {
    type Args = StatArgs;
    type State = StatState;
    type Plan = NoChange;
    const NAME: &'static str = "stat";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Facts about a path: exists, mode, owner, size, checksum, link target.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: true, default: None, description: "The path to look at." },
                ArgDoc { name: "follow", ty: "bool", required: false, default: Some("false"), description: "Follow symlinks." },
                ArgDoc {
                    name: "get_checksum",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Compute the file's checksum.",
                },
                ArgDoc {
                    name: "checksum_algorithm",
                    ty: "string",
                    required: false,
                    default: Some("sha1"),
                    description: "sha1, sha256, sha512 or md5.",
                },
                ArgDoc {
                    name: "get_mime",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Add mimetype and charset (from `file` on the host).",
                },
                ArgDoc {
                    name: "get_attributes",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Add version, attributes and attr_flags (from `lsattr` on the host).",
                },
            ],
            example: "- stat:\n    path: /etc/postfix/main.cf\n  register: main_cf",
        }
    }

    fn validate(args: &StatArgs) -> Result<(), String> {
        match args.checksum_algorithm.as_str() {
            "sha1" | "sha256" | "sha512" | "md5" | "sha224" | "sha384" => Ok(()),
            other => Err(format!("value of checksum_algorithm must be one of: sha1, sha224, sha256, sha384, sha512, md5, got: {other}")),
        }
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    async fn resolve(a: &mut StatArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.path).await?;
        Ok(())
    }

    async fn probe(args: &StatArgs, ctx: &Context<'_>) -> Result<StatState, ModuleError> {
        let stat = ctx.host.stat(&args.path, args.follow).await?;
        let checksum = match &stat {
            Some(s) if args.get_checksum && s.kind == FileKind::File => ctx.host.checksum(&args.path, &args.checksum_algorithm).await?,
            _ => None,
        };
        let details = match &stat {
            Some(s) => {
                let script = stat_details::script(&args.path, args.follow, args.get_mime, args.get_attributes);
                let out = ctx.host.exec(&Command::shell(script)).await?;
                stat_details::parse(&out.stdout_str(), s, args.get_mime, args.get_attributes)
            }
            None => Map::new(),
        };
        Ok(StatState { stat, checksum, details })
    }

    fn plan(_args: &StatArgs, _state: &StatState) -> Result<NoChange, ModuleError> {
        Ok(NoChange)
    }

    async fn apply(args: &StatArgs, _plan: NoChange, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed(format!("stat of {} has nothing to apply", args.path)))
    }

    fn unchanged_result(args: &StatArgs, state: &StatState) -> ModuleResult {
        let mut st = stat_dict(&args.path, &state.stat, &state.checksum, true);
        if let Value::Object(m) = &mut st {
            m.extend(state.details.clone());
        }
        ModuleResult::ok().with("stat", st)
    }
}
