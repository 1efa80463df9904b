//! Ansible's built-in modules, typed.

pub mod apt;
pub mod apt_contents;
pub mod blockinfile;
pub mod clock;
pub mod command;
pub mod command_expand;
pub mod control;
pub mod copy;
pub mod debconf;
pub mod dpkg_statoverride;
pub mod file;
pub mod file_attrs;
pub mod group;
pub mod hostname;
pub mod lineinfile;
pub mod py_re;
pub mod raw;
pub mod service;
pub mod setup;
pub mod stat;
pub mod stat_details;
pub mod tempfile;
pub mod template;
pub mod text_edit;
pub mod user;
pub mod user_planned;
