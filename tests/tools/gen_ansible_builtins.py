#!/usr/bin/env python3
"""Write engine/src/playbook/ansible_builtins.rs: the names Ansible resolves
as ansible.builtin modules/actions, from an installed ansible-core.

    tests/tools/gen_ansible_builtins.py /opt/ansible-venv/bin/python3 > engine/src/playbook/ansible_builtins.rs

The names: every module in ansible/modules/, every action plugin in
ansible/plugins/action/, and the plugin_routing redirects of
config/ansible_builtin_runtime.yml that stay inside ansible.builtin.
"""
import json
import subprocess
import sys

PROBE = r'''
import json, os, ansible, yaml
root = os.path.dirname(ansible.__file__)
def names(d):
    return {f[:-3] for f in os.listdir(os.path.join(root, d)) if f.endswith('.py') and f != '__init__.py'}
mods, acts = names('modules'), names('plugins/action')
routing = yaml.safe_load(open(os.path.join(root, 'config/ansible_builtin_runtime.yml'))).get('plugin_routing', {})
redirects = set()
for kind in ('modules', 'action'):
    for name, v in (routing.get(kind) or {}).items():
        if str((v or {}).get('redirect', '')).startswith(('ansible.builtin.', 'ansible.legacy.')):
            redirects.add(name)
from ansible.release import __version__
print(json.dumps({'version': __version__, 'names': sorted(mods | acts | redirects)}))
'''

python = sys.argv[1] if len(sys.argv) > 1 else '/opt/ansible-venv/bin/python3'
data = json.loads(subprocess.check_output([python, '-c', PROBE]))
print(f"""//! Every name ansible-core {data['version']} resolves as an `ansible.builtin`
//! module or action (also short and as `ansible.legacy.`). A task naming one
//! of them loads; it fails only on a host where it runs, if mailplay does not
//! implement it.
//!
//! Generated, do not edit by hand: from the repository root,
//!
//! ```text
//! tests/tools/gen_ansible_builtins.py /opt/ansible-venv/bin/python3 > engine/src/playbook/ansible_builtins.rs
//! ```
//!
//! The names of ansible/modules/*.py, ansible/plugins/action/*.py and the
//! redirects within ansible.builtin in config/ansible_builtin_runtime.yml.

#[rustfmt::skip]
pub const ANSIBLE_BUILTIN_NAMES: &[&str] = &[""")
for n in data['names']:
    print(f'    "{n}",')
print("];")
