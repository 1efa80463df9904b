//! Check mode's look inside the packages `apt` would install: the .deb
//! files are downloaded into a scratch folder on the host (with the same
//! lists as the simulation), read with `dpkg-deb` and removed again, so
//! that later tasks of the rehearsal see the files, services and users
//! those packages bring (`crate::planned::packages`). Nothing is
//! installed and the host's apt cache is not touched.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::planned::packages::{self, PackageContents};

/// Conffiles up to this size are read whole (configuration a later task
/// edits); bigger ones are known by their listing only.
const MAX_CONFFILE: u64 = 65536;

/// The line the script prints when apt could not fetch the packages.
pub const DOWNLOAD_FAILED: &str = "deb-download-failed";

/// Shell that runs after the simulation (`$simout`, `$simrc`, `$opts`):
/// for each package it would install, `deb-begin|NAME`, the listing
/// (`l|`), the postinst (`p|`), small conffiles (`c|PATH|BASE64`), its
/// units' start conditions (`u|UNIT|ConditionPathExists value`), whether
/// the host already has each unit or init script enabled (`s|UNIT|systemctl
/// is-enabled`, empty for one the host does not have) and
/// `deb-end`; `deb-download-failed` when apt could not fetch them.
pub fn script() -> String {
    format!(
        "if [ \"$simrc\" = 0 ]; then debs=$(mktemp -d); chmod 755 \"$debs\"; \
           pkgs=$(printf '%s\\n' \"$simout\" | sed -n 's/^Inst \\([^ ]*\\) \\(\\[[^]]*\\] \\)\\{{0,1\\}}(\\([^ ]*\\) .*/\\1=\\3/p'); \
           if [ -n \"$pkgs\" ]; then (cd \"$debs\" && LC_ALL=C apt-get -q -o Debug::NoLocking=1 $opts download $pkgs >/dev/null 2>&1) || echo deb-download-failed; fi; \
           for d in \"$debs\"/*.deb; do [ -f \"$d\" ] || continue; \
             echo \"deb-begin|$(dpkg-deb -f \"$d\" Package)\"; dpkg-deb -c \"$d\" | sed 's/^/l|/'; \
             c=$(mktemp -d); dpkg-deb -e \"$d\" \"$c\"; [ -f \"$c/postinst\" ] && sed 's/^/p|/' \"$c/postinst\"; \
             if [ -f \"$c/conffiles\" ]; then x=$(mktemp -d); awk '{{print \".\" $1}}' \"$c/conffiles\" > \"$c/list\"; \
               dpkg-deb --fsys-tarfile \"$d\" | tar -x -C \"$x\" -T \"$c/list\" 2>/dev/null; \
               while read -r f _; do if [ -f \"$x$f\" ] && [ \"$(stat -c %s \"$x$f\")\" -le {MAX_CONFFILE} ]; then echo \"c|$f|$(base64 -w0 < \"$x$f\")\"; fi; done < \"$c/conffiles\"; \
               rm -rf \"$x\"; fi; \
             rm -rf \"$c\"; \
             u=$(mktemp -d); dpkg-deb --fsys-tarfile \"$d\" | tar -x -C \"$u\" --wildcards './lib/systemd/system/*.service' './usr/lib/systemd/system/*.service' 2>/dev/null; \
             for f in \"$u\"/lib/systemd/system/*.service \"$u\"/usr/lib/systemd/system/*.service; do [ -f \"$f\" ] && \
               {{ n=$(basename \"$f\" .service); echo \"s|$n|$(systemctl is-enabled \"$n\" 2>/dev/null)\"; \
                 awk -v u=\"$n\" 'index($0, \"ConditionPathExists=\") == 1 {{ print \"u|\" u \"|\" substr($0, 21) }}' \"$f\"; }}; done; \
             rm -rf \"$u\"; \
             for n in $(dpkg-deb -c \"$d\" | sed -n 's|.* \\./etc/init\\.d/\\([^/ ]*\\)$|\\1|p'); do echo \"s|$n|$(systemctl is-enabled \"$n\" 2>/dev/null)\"; done; \
             echo deb-end; \
           done; rm -rf \"$debs\"; \
         fi; "
    )
}

/// What the script printed: each package's contents, and whether some
/// could not be downloaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contents {
    pub packages: Vec<(String, PackageContents)>,
    pub download_failed: bool,
}

/// One package's part of the output, as it is read.
#[derive(Default)]
struct Deb {
    name: String,
    listing: String,
    postinst: String,
    conffiles: Vec<(String, Vec<u8>)>,
    unit_conditions: Vec<(String, String)>,
    unit_states: Vec<(String, String)>,
}

pub fn parse(out: &str) -> Contents {
    let mut c = Contents { download_failed: out.lines().any(|l| l == DOWNLOAD_FAILED), ..Default::default() };
    let mut current: Option<Deb> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("deb-begin|") {
            current = Some(Deb { name: name.to_string(), ..Default::default() });
            continue;
        }
        let Some(deb) = current.as_mut() else { continue };
        if line == "deb-end" {
            let deb = current.take().expect("inside a package");
            c.packages
                .push((deb.name, packages::contents(&deb.listing, &deb.postinst, deb.conffiles, &deb.unit_conditions, &deb.unit_states)));
        } else if let Some(l) = line.strip_prefix("l|") {
            deb.listing.push_str(l);
            deb.listing.push('\n');
        } else if let Some(p) = line.strip_prefix("p|") {
            deb.postinst.push_str(p);
            deb.postinst.push('\n');
        } else if let Some((unit, state)) = line.strip_prefix("s|").and_then(|r| r.split_once('|')) {
            deb.unit_states.push((unit.to_string(), state.trim().to_string()));
        } else if let Some((unit, cond)) = line.strip_prefix("u|").and_then(|r| r.split_once('|')) {
            deb.unit_conditions.push((unit.to_string(), cond.to_string()));
        } else if let Some((path, b64)) = line.strip_prefix("c|").and_then(|r| r.rsplit_once('|')) {
            if let Ok(bytes) = B64.decode(b64) {
                deb.conffiles.push((path.to_string(), bytes));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileKind;

    #[test]
    fn the_scripts_output_becomes_each_packages_contents() {
        let out = "deb-begin|hello\n\
l|drwxr-xr-x root/root         0 2022-12-10 13:23 ./etc/\n\
l|-rw-r--r-- root/root        12 2022-12-10 13:23 ./etc/hello.conf\n\
l|-rwxr-xr-x root/root     31064 2022-12-10 13:23 ./usr/bin/hello\n\
p|#!/bin/sh\n\
p|adduser --system --quiet hello\n\
p|deb-systemd-invoke start 'hello.service' >/dev/null || true\n\
c|/etc/hello.conf|Z3JlZXRpbmc9aGkK\n\
l|-rw-r--r-- root/root       200 2022-12-10 13:23 ./lib/systemd/system/hello.service\n\
s|hello|\n\
u|hello|/etc/hello/main.cf\n\
deb-end\n\
sim-begin\n";
        let c = parse(out);
        assert!(!c.download_failed);
        let (name, hello) = &c.packages[0];
        assert_eq!(name, "hello");
        let conf = hello.files.iter().find(|f| f.path == "/etc/hello.conf").unwrap();
        assert_eq!((conf.kind, conf.content.as_deref()), (FileKind::File, Some(&b"greeting=hi\n"[..])));
        assert_eq!(hello.files.iter().find(|f| f.path == "/usr/bin/hello").unwrap().content, None);
        assert_eq!(hello.users, vec!["hello".to_string()]);
        let mut unit = hello.services.iter().find(|s| s.name == "hello").unwrap().clone();
        assert_eq!((unit.started, unit.start_conditions.clone()), (true, vec!["/etc/hello/main.cf".to_string()]));
        unit.settle_conditions(|_| false);
        assert_eq!(unit.condition_unmet.as_deref(), Some("ConditionPathExists=/etc/hello/main.cf"));
        unit.settle_conditions(|p| p == "/etc/hello/main.cf");
        assert_eq!(unit.condition_unmet, None);
        assert!(!unit.disabled_on_host, "a new unit");
        let upgrade = parse(&out.replace("s|hello|\n", "s|hello|disabled\n"));
        assert!(upgrade.packages[0].1.services.iter().find(|s| s.name == "hello").unwrap().disabled_on_host);
        assert!(parse("deb-download-failed\n").download_failed);
    }
}
