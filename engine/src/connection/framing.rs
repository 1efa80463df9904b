//! The byte format between mailplay and its remote helper (helper.pl).

use mailplay_modules::host::{Command, CommandOutput};

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One request frame for `cmd`, with `env` from the task.
pub fn encode(cmd: &Command, env: &[(String, String)]) -> Vec<u8> {
    let (mode, argv): (&str, Vec<String>) = match &cmd.shell {
        Some(script) => ("sh", vec![script.clone()]),
        None => ("exec", cmd.argv.clone()),
    };
    let env_block: Vec<u8> = env.iter().chain(cmd.env.iter()).flat_map(|(k, v)| format!("{k}={v}\0").into_bytes()).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + argv.len()) as u32).to_be_bytes());
    field(&mut out, mode.as_bytes());
    field(&mut out, cmd.cwd.as_deref().unwrap_or("").as_bytes());
    field(&mut out, &env_block);
    field(&mut out, cmd.stdin.as_deref().unwrap_or(&[]));
    for a in &argv {
        field(&mut out, a.as_bytes());
    }
    out
}

/// The most output of one stream a reply may carry. A length beyond it
/// (a broken or hostile helper) is an error, not an allocation.
pub const MAX_OUTPUT: u32 = 256 << 20;

/// Reads a reply: exit code, stdout, stderr. Memory grows with the bytes
/// that arrive, never with a length that is only announced.
pub async fn decode<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<CommandOutput> {
    use tokio::io::AsyncReadExt;
    let rc = r.read_i32().await?;
    let stdout = output(r, "stdout").await?;
    let stderr = output(r, "stderr").await?;
    Ok(CommandOutput { rc, stdout, stderr })
}

async fn output<R: tokio::io::AsyncRead + Unpin>(r: &mut R, what: &str) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    use tokio::io::AsyncReadExt;
    let n = r.read_u32().await?;
    if n > MAX_OUTPUT {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("the reply announces {n} bytes of {what}, more than the limit of {} MiB", MAX_OUTPUT >> 20),
        ));
    }
    let mut buf = Vec::with_capacity((n as usize).min(64 << 10));
    (&mut *r).take(u64::from(n)).read_to_end(&mut buf).await?;
    if buf.len() != n as usize {
        return Err(Error::new(
            ErrorKind::UnexpectedEof,
            format!("the reply was cut off: {n} bytes of {what} announced, {} arrived", buf.len()),
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_length_prefixed() {
        let f = encode(&Command::argv(["echo", "hi"]).stdin(b"x".to_vec()), &[("A".into(), "1".into())]);
        assert_eq!(&f[..4], &6u32.to_be_bytes());
        assert_eq!(&f[4..8], &4u32.to_be_bytes());
        assert_eq!(&f[8..12], b"exec");
    }

    #[tokio::test]
    async fn replies_decode() {
        let mut reply = Vec::new();
        reply.extend_from_slice(&(-1i32).to_be_bytes());
        reply.extend_from_slice(&2u32.to_be_bytes());
        reply.extend_from_slice(b"ok");
        reply.extend_from_slice(&0u32.to_be_bytes());
        let out = decode(&mut &reply[..]).await.unwrap();
        assert_eq!((out.rc, out.stdout.as_slice(), out.stderr.len()), (-1, &b"ok"[..], 0));
    }

    fn reply_head(stdout_len: u32) -> Vec<u8> {
        let mut reply = 0i32.to_be_bytes().to_vec();
        reply.extend_from_slice(&stdout_len.to_be_bytes());
        reply
    }

    #[tokio::test]
    async fn announced_lengths_are_bounded() {
        let e = decode(&mut &reply_head(u32::MAX)[..]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("4294967295 bytes of stdout, more than the limit of 256 MiB"), "{e}");
        let mut cut = reply_head(1000);
        cut.extend_from_slice(b"only this");
        let e = decode(&mut &cut[..]).await.unwrap_err();
        assert!(e.to_string().contains("1000 bytes of stdout announced, 9 arrived"), "{e}");
        for n in 0..=8 {
            assert!(decode(&mut &reply_head(5)[..n]).await.is_err());
        }
    }

    /// The Perl side decodes what `encode` makes and answers what `decode`
    /// reads: a real round trip through helper.pl with a local perl.
    #[tokio::test]
    async fn helper_pl_round_trip() {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("perl")
            .arg("-e")
            .arg(include_str!("helper.pl"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("perl runs");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let big = vec![b'x'; 3 << 20];
        let cmd = Command::shell("wc -c; echo \"$V\" >&2; exit 3").stdin(big);
        stdin.write_all(&encode(&cmd, &[("V".into(), "v=1".into())])).await.unwrap();
        let out = decode(&mut stdout).await.unwrap();
        assert_eq!((out.rc, out.stdout_str().trim(), out.stderr_str()), (3, "3145728", "v=1\n".to_string()));
        let cmd = Command::argv(["printf", "%s", "a b"]);
        stdin.write_all(&encode(&cmd, &[])).await.unwrap();
        let out = decode(&mut stdout).await.unwrap();
        assert_eq!((out.rc, out.stdout.as_slice()), (0, &b"a b"[..]));
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    }
}
