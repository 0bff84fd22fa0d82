//! The message templates a practice edits, read from a folder of the local stack.

use std::path::Path;

use domain::notify::{Channel, Kind, Templates};

/// The templates: the shipped ones, with any a practice put in `dir` as `<kind>.<channel>.txt`
/// (e.g. `reminder.sms.txt`) in their place, each checked before use. The version names the
/// edited set by the files' latest change.
pub fn templates_from_dir(dir: &Path) -> anyhow::Result<Templates> {
    let mut texts = Vec::new();
    let mut latest = None;
    for kind in Kind::ALL {
        for channel in [Channel::Email, Channel::Sms] {
            let path = dir.join(format!("{}.{}.txt", kind.code(), channel.code()));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let modified = std::fs::metadata(&path)?.modified()?;
                    latest = latest.max(Some(modified));
                    texts.push((kind, channel, text));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::Error::new(e).context(path.display().to_string())),
            }
        }
    }
    let Some(latest) = latest else {
        return Ok(Templates::builtin());
    };
    let stamp = latest
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Templates::from_texts(&format!("v1+edited-{stamp}"), texts)?)
}
