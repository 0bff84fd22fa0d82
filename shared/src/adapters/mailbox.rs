//! The local notifier: every message is a file in a mailbox folder of the data directory
//! (`<data>/mailbox/<message id>.<channel>.txt`), private to the user, named by the message's
//! deduplication key so a resend writes the same file again. `practica outbox` lists them.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::notify::{Envelope, Notifier, NotifyError, Sent};

pub struct Mailbox {
    dir: PathBuf,
}

impl Mailbox {
    pub fn new(dir: impl Into<PathBuf>) -> Mailbox {
        Mailbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// One message in the mailbox, as `practica outbox` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub file: String,
    pub modified: std::time::SystemTime,
    pub text: String,
}

impl Mailbox {
    /// Every message, oldest first.
    pub fn list(&self) -> std::io::Result<Vec<Delivered>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if !file.ends_with(".txt") {
                continue;
            }
            out.push(Delivered {
                modified: entry.metadata()?.modified()?,
                text: std::fs::read_to_string(entry.path())?,
                file,
            });
        }
        out.sort_by(|a, b| (a.modified, &a.file).cmp(&(b.modified, &b.file)));
        Ok(out)
    }
}

#[async_trait]
impl Notifier for Mailbox {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError> {
        let mut text = format!(
            "Kind: {}\nChannel: {}\nTo: {}\n",
            envelope.kind.code(),
            envelope.channel.code(),
            envelope.to.expose()
        );
        if let Some(subject) = &envelope.subject {
            text.push_str(&format!("Subject: {subject}\n"));
        }
        text.push('\n');
        text.push_str(&envelope.text);
        if let Some(html) = &envelope.html {
            text.push_str("\n--- HTML part ---\n");
            text.push_str(html);
        }
        let path = self.dir.join(format!("{}.txt", envelope.dedupe_key));
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            crate::adapters::files::replace_private_file(&path, text.as_bytes())
        })
        .await
        .map_err(|e| NotifyError::Unavailable(anyhow::anyhow!("mailbox task: {e}")))?
        .map_err(NotifyError::Unavailable)?;
        Ok(Sent {
            provider_id: envelope.dedupe_key.clone(),
        })
    }
}
