//! Cyrus IMAP modules: mailboxes over IMAP and sieve scripts over
//! ManageSieve, both spoken from the target host.

pub mod mailbox;
pub mod session;
pub mod sieve;
