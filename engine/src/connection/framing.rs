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

/// Reads a reply: exit code, stdout, stderr.
pub async fn decode<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<CommandOutput> {
    use tokio::io::AsyncReadExt;
    let rc = r.read_i32().await?;
    let n = r.read_u32().await? as usize;
    let mut stdout = vec![0; n];
    r.read_exact(&mut stdout).await?;
    let n = r.read_u32().await? as usize;
    let mut stderr = vec![0; n];
    r.read_exact(&mut stderr).await?;
    Ok(CommandOutput { rc, stdout, stderr })
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
}
