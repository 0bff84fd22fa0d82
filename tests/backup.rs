//! `practica backup` and `practica restore` on a local practice: the demo practice with a sealed
//! audit log, backed up to one encrypted file (no key or patient detail readable in it), restored
//! into a new directory where the audit log verifies against its key and archived checkpoints and
//! the patient's sealed record opens; a wrong passphrase, a changed byte, a cut file, a non-empty
//! target and an existing backup file are each refused, with nothing written.

use practica_cli::backup::{backup, restore};
use shared::auth::Role;

const PHRASE: &str = "correct horse battery staple";

#[tokio::test]
async fn a_backup_restores_into_a_verified_practice_and_refuses_what_is_not_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    practica_cli::serve::seed(&data).await.unwrap();
    let (sealed, _) = practica_cli::audit::seal(&data).await.unwrap();
    let out = dir.path().join("practice.backup");
    let summary = backup(&data, &out, PHRASE).unwrap();
    assert!(summary.files >= 5, "{summary:?}");
    // Nothing of the practice is readable in the file: not its master key, not an address.
    let file = std::fs::read(&out).unwrap();
    let master = std::fs::read(data.join("master.key")).unwrap();
    assert!(!file.windows(master.len()).any(|w| w == master.as_slice()));
    assert!(!file.windows(8).any(|w| w == b"jane.dem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    // An existing backup file is never overwritten.
    assert!(backup(&data, &out, PHRASE).is_err());

    let restored_dir = dir.path().join("restored");
    let restored = restore(&out, &restored_dir, PHRASE).await.unwrap();
    assert!(restored.audit_ok, "{:?}", restored.problems);
    assert_eq!(restored.audit_entries, sealed.size);
    assert!(restored.items > 50, "{restored:?}");
    // The restored practice opens Jane's sealed record with its own (restored) key.
    let state = practica_cli::local::offline_state(&restored_dir).unwrap();
    let jane = domain::ids::PatientId::parse("patient-jane").unwrap();
    let admin = practica_tests::local_admin("admin-restore");
    let record = shared::booking::patients::get(&state, &admin, &jane)
        .await
        .unwrap();
    assert_eq!(record.name.expose(), "Jane Demo-Patient");
    assert!(admin.principal.has(Role::Admin));
    drop(state);

    // Refused, with nothing written: a wrong passphrase, a changed byte, a cut file, not a backup.
    let mut changed = file.clone();
    let at = changed.len() - 40;
    changed[at] ^= 1;
    let cut = file[..file.len() / 2].to_vec();
    for (name, bytes, phrase) in [
        ("wrong", file.clone(), "wrong horse battery staple"),
        ("changed", changed, PHRASE),
        ("cut", cut, PHRASE),
        ("other", b"not a backup at all".to_vec(), PHRASE),
    ] {
        let path = dir.path().join(format!("{name}.backup"));
        std::fs::write(&path, bytes).unwrap();
        let target = dir.path().join(format!("target-{name}"));
        assert!(restore(&path, &target, phrase).await.is_err(), "{name}");
        assert!(!target.exists(), "{name}: nothing written");
    }
    // A directory that holds anything is never restored over.
    let e = restore(&out, &data, PHRASE).await.unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
}
