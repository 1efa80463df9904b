//! One host never crashes the others: each host's part of a task runs
//! behind a panic boundary, so a bug that panics while handling one host's
//! answer (a module's parser, say) fails that host with a message naming
//! the panic, and the other hosts, the handlers and the PLAY RECAP go on.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Run `work`; a panic inside it comes back as `Err(message)`.
///
/// Unwind safety: the future owns or only borrows this host's state for
/// reading; on a panic its result is dropped and the host is failed, so no
/// half-updated state of it is used again.
pub async fn isolate<F: Future>(work: F) -> Result<F::Output, String> {
    AssertUnwindSafe(work).catch_unwind().await.map_err(panic_message)
}

/// The text a panic was raised with.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// The failure message a host gets when its work panicked.
pub fn panic_failure(task: &str, message: &str) -> String {
    format!("mailplay internal error while running task '{task}' on this host (a bug; the other hosts are not affected): {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::join_all;

    #[tokio::test]
    async fn a_panicking_host_fails_alone_and_the_others_finish() {
        let jobs = (0..3).map(|i| async move {
            isolate(async move {
                tokio::task::yield_now().await;
                if i == 1 {
                    let reply: &[u8] = b"* OK";
                    // What a parser bug looks like: indexing past a short reply.
                    let _ = reply[10 + i];
                }
                i * 10
            })
            .await
        });
        let results = join_all(jobs).await;
        assert_eq!(results[0], Ok(0));
        assert!(results[1].as_ref().unwrap_err().contains("index out of bounds"), "{results:?}");
        assert_eq!(results[2], Ok(20));
    }

    #[tokio::test]
    async fn panic_payloads_of_both_kinds_are_read() {
        let fmt = isolate(async { panic!("reply {} too short", 3) }).await;
        assert_eq!(fmt.unwrap_err(), "reply 3 too short");
        let lit = isolate(async { panic!("literal") }).await;
        assert_eq!(lit.unwrap_err(), "literal");
    }
}
