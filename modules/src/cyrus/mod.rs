//! Cyrus IMAP modules: imapd.conf keys, cyrus.conf entries, mailboxes over
//! IMAP, their moves between backends (XFER) and sieve scripts over
//! ManageSieve (both spoken from the target).

pub mod cyrus_conf;
pub mod imapd_conf;
pub mod mailbox;
pub mod service;
pub mod session;
pub mod sieve;
pub mod xfer;
