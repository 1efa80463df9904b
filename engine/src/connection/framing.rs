//! The byte format between mailplay and its remote helper (helper.pl):
//! a request is a list of length-prefixed fields, the first naming the
//! operation; a reply is an exit code and two length-prefixed byte
//! strings. Both directions are bounded, neither trusts an announced
//! length beyond its limit. `requests.rs` builds the typed requests.

use mailplay_modules::host::{Command, CommandOutput};

/// The most fields one request may have (a command's argv is most of
/// them). helper.pl refuses more with the same number.
pub const MAX_FIELDS: usize = 65536;

/// The most bytes of fields one request may carry (a written file's
/// content is most of them). helper.pl refuses more with the same number.
pub const MAX_REQUEST: usize = 256 << 20;

/// One request frame from its fields; an error, before anything is sent,
/// when it is beyond the helper's limits.
pub fn frame(fields: &[&[u8]]) -> Result<Vec<u8>, String> {
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return Err(format!("a request of {} fields, the helper takes 1 to {MAX_FIELDS}", fields.len()));
    }
    let total: usize = fields.iter().map(|f| f.len()).sum();
    if total > MAX_REQUEST {
        return Err(format!("a request of {total} bytes, more than the helper's limit of {} MiB", MAX_REQUEST >> 20));
    }
    let mut out = Vec::with_capacity(4 + 4 * fields.len() + total);
    out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    Ok(out)
}

/// The request frame that runs `cmd`, with `env` from the task.
pub fn encode(cmd: &Command, env: &[(String, String)]) -> Result<Vec<u8>, String> {
    let (mode, argv): (&str, Vec<&str>) = match &cmd.shell {
        Some(script) => ("sh", vec![script.as_str()]),
        None => ("exec", cmd.argv.iter().map(String::as_str).collect()),
    };
    let env_block: Vec<u8> = env.iter().chain(cmd.env.iter()).flat_map(|(k, v)| format!("{k}={v}\0").into_bytes()).collect();
    let mut fields: Vec<&[u8]> =
        vec![mode.as_bytes(), cmd.cwd.as_deref().unwrap_or("").as_bytes(), &env_block, cmd.stdin.as_deref().unwrap_or(&[])];
    fields.extend(argv.iter().map(|a| a.as_bytes()));
    frame(&fields)
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
        let f = encode(&Command::argv(["echo", "hi"]).stdin(b"x".to_vec()), &[("A".into(), "1".into())]).unwrap();
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

    #[test]
    fn requests_beyond_the_limits_are_refused_before_sending() {
        let many = vec![&b""[..]; MAX_FIELDS + 1];
        assert!(frame(&many).unwrap_err().contains("65537 fields"));
        assert!(frame(&[]).is_err());
        let big = vec![0u8; MAX_REQUEST + 1];
        assert!(frame(&[b"write", &big]).unwrap_err().contains("more than the helper's limit of 256 MiB"));
        assert_eq!(
            frame(&[b"stat", b"/a\0b"]).unwrap(),
            [&2u32.to_be_bytes()[..], &4u32.to_be_bytes(), b"stat", &4u32.to_be_bytes(), b"/a\0b"].concat()
        );
    }

    /// The Perl side decodes what `encode` makes and answers what `decode`
    /// reads: a real round trip through helper.pl with a local perl.
    #[tokio::test]
    async fn helper_pl_round_trip() {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("perl")
            .args([super::super::ssh::PERL_FLAGS, "-e", super::super::ssh::HELPER])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("perl runs");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let big = vec![b'x'; 3 << 20];
        let cmd = Command::shell("wc -c; echo \"$V\" >&2; exit 3").stdin(big);
        stdin.write_all(&encode(&cmd, &[("V".into(), "v=1".into())]).unwrap()).await.unwrap();
        let out = decode(&mut stdout).await.unwrap();
        assert_eq!((out.rc, out.stdout_str().trim(), out.stderr_str()), (3, "3145728", "v=1\n".to_string()));
        let cmd = Command::argv(["printf", "%s", "a b"]);
        stdin.write_all(&encode(&cmd, &[]).unwrap()).await.unwrap();
        let out = decode(&mut stdout).await.unwrap();
        assert_eq!((out.rc, out.stdout.as_slice()), (0, &b"a b"[..]));
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    }
}
