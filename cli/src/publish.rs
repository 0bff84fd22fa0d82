//! `practica publish-portal`: uploads the portal's files (the same [`FILES`] `practica serve`
//! serves, compiled into this binary) and its sign-in configuration to the portal bucket the
//! functions' stack created, under the keys the CloudFront distribution serves them from (`/` is
//! `index.html`, the default root object). Each object carries its content type and
//! `Cache-Control: no-cache`, so browsers revalidate and a new version shows at once; the security
//! headers come from the distribution's response-headers policy.

use crate::portal::{CONFIG_PATH, FILES};

/// What the deployed portal is told (its `config.json`), as `practica publish-portal` takes it.
#[derive(Debug, clap::Args)]
pub struct PortalSettings {
    /// The patient pool's managed login, https://<domain> (the data stack's PatientLoginUrl).
    #[arg(long)]
    pub patient_login: String,
    /// The data stack's PatientUserPoolClientId.
    #[arg(long)]
    pub patient_client_id: String,
    /// The staff pool's managed login, https://<domain> (the data stack's StaffLoginUrl).
    #[arg(long)]
    pub staff_login: String,
    /// The data stack's StaffUserPoolClientId.
    #[arg(long)]
    pub staff_client_id: String,
    /// The audit log's public key as `aws kms get-public-key --query PublicKey` prints it
    /// (base64 DER): the page checks each checkpoint's signature with it.
    #[arg(long)]
    pub audit_public_key: String,
    /// The key name the audit function signs checkpoints with (`practica/audit/<table>`
    /// unless PRACTICA_AUDIT_KEY_NAME says otherwise).
    #[arg(long, default_value = "practica/audit/practica")]
    pub audit_key_name: String,
    /// The first leaf index from which the page requires each sealed entry's own bytes (0 for a
    /// deployment begun with salted commitments; after an upgrade, the log's size then).
    #[arg(long, default_value_t = 0)]
    pub audit_bytes_from: u64,
    /// Stripe's publishable key (pk_live_… or pk_test_…) for the card form: Stripe's Payment
    /// Element.
    #[arg(long)]
    pub stripe_publishable_key: String,
    /// Minutes without activity after which the portal signs out (1 to 120).
    #[arg(long, default_value_t = crate::portal::DEFAULT_IDLE_MINUTES)]
    pub idle_minutes: u16,
    /// A witness's verifier key (as in the stack's AuditWitnesses), repeatable: the page then
    /// requires the checkpoint cosigned by --witness-quorum of them.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the --witness keys must cosign (default: all of them).
    #[arg(long, requires = "witnesses")]
    pub witness_quorum: Option<usize>,
}

/// The witness rule `vkeys` and `quorum` (default: all of them) state.
pub fn witness_rule(
    vkeys: &[String],
    quorum: Option<usize>,
) -> anyhow::Result<shared::crypto::cosign::WitnessPolicy> {
    let keys = vkeys
        .iter()
        .map(|v| {
            domain::witness::WitnessKey::parse_vkey(v)
                .ok_or_else(|| anyhow::anyhow!("--witness {v}: not a witness's verifier key"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let quorum = quorum.unwrap_or(keys.len());
    shared::crypto::cosign::WitnessPolicy::new(keys, quorum)
}

impl PortalSettings {
    /// The portal's `config.json`: Cognito's OAuth endpoints for each pool and the log's key.
    pub fn config(&self) -> anyhow::Result<serde_json::Value> {
        use base64::Engine as _;
        let pool = |login: &str, client: &str| -> anyhow::Result<serde_json::Value> {
            let login = login.trim_end_matches('/');
            let host = login.strip_prefix("https://").unwrap_or_default();
            anyhow::ensure!(
                !host.is_empty() && !host.contains(['/', '?', '#', '@']),
                "a managed login address is https://<domain>, not {login:?}"
            );
            anyhow::ensure!(
                !client.is_empty() && client.bytes().all(|b| b.is_ascii_alphanumeric()),
                "an app client id is letters and digits, not {client:?}"
            );
            Ok(serde_json::json!({
                "authorize": format!("{login}/oauth2/authorize"),
                "token": format!("{login}/oauth2/token"),
                "logout": format!("{login}/logout"),
                "clientId": client,
            }))
        };
        let spki = base64::engine::general_purpose::STANDARD
            .decode(self.audit_public_key.trim())
            .map_err(|_| {
                anyhow::anyhow!("the audit public key is base64 DER (SubjectPublicKeyInfo)")
            })?;
        anyhow::ensure!(
            domain::checkpoint::valid_key_name(&self.audit_key_name),
            "{:?} is not a key name",
            self.audit_key_name
        );
        let sign_in = serde_json::json!({
            "patient": pool(&self.patient_login, &self.patient_client_id)?,
            "staff": pool(&self.staff_login, &self.staff_client_id)?,
        });
        let key = &self.stripe_publishable_key;
        anyhow::ensure!(
            (key.starts_with("pk_live_") || key.starts_with("pk_test_"))
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "a Stripe publishable key starts with pk_live_ or pk_test_ (never the secret sk_ key)"
        );
        let payments = serde_json::json!({ "processor": "stripe", "publishableKey": key });
        anyhow::ensure!(
            (1..=120).contains(&self.idle_minutes),
            "the idle sign-out is 1 to 120 minutes"
        );
        Ok(crate::portal::config(
            false,
            sign_in,
            payments,
            self.idle_minutes,
            crate::portal::AuditLogConfig {
                key_name: &self.audit_key_name,
                spki: &spki,
                bytes_from: Some(self.audit_bytes_from),
                witnesses: &witness_rule(&self.witnesses, self.witness_quorum)?,
            },
        ))
    }
}

/// The bucket key a site path is served from.
pub fn key_of(path: &str) -> &str {
    match path {
        "/" => "index.html",
        other => other.trim_start_matches('/'),
    }
}

/// Uploads every file and the sign-in configuration; returns the keys written, in [`FILES`]
/// order, the configuration last.
pub async fn publish(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    settings: &PortalSettings,
) -> anyhow::Result<Vec<String>> {
    let config = settings.config()?.to_string();
    let files = FILES
        .iter()
        .map(|(path, body, content_type)| (*path, body.as_bytes().to_vec(), *content_type))
        .chain([(CONFIG_PATH, config.into_bytes(), "application/json")]);
    let mut written = Vec::with_capacity(FILES.len() + 1);
    for (path, body, content_type) in files {
        let key = key_of(path);
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .cache_control("no-cache")
            .body(body.into())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "uploading {key} to {bucket}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        written.push(key.to_owned());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_each_pools_endpoints_and_refuses_what_is_not_a_login_domain() {
        let sign_in = |login: &str| PortalSettings {
            patient_login: login.to_owned(),
            patient_client_id: "abc123".into(),
            staff_login: "https://p-staff.auth.us-east-1.amazoncognito.com".into(),
            staff_client_id: "def456".into(),
            audit_public_key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQc=".into(),
            audit_key_name: "practica/audit/practica".into(),
            audit_bytes_from: 0,
            stripe_publishable_key: "pk_test_abc123".into(),
            witnesses: Vec::new(),
            witness_quorum: None,
            idle_minutes: 10,
        };
        let config = sign_in("https://p-patients.auth.us-east-1.amazoncognito.com/")
            .config()
            .unwrap();
        assert_eq!(
            config["signIn"]["patient"]["token"],
            "https://p-patients.auth.us-east-1.amazoncognito.com/oauth2/token"
        );
        assert_eq!(config["signIn"]["staff"]["clientId"], "def456");
        assert_eq!(config["local"], false);
        assert_eq!(config["payments"]["publishableKey"], "pk_test_abc123");
        assert_eq!(config["idleMinutes"], 10);
        let mut secret = sign_in("https://p-patients.auth.us-east-1.amazoncognito.com");
        secret.stripe_publishable_key = "sk_live_oops".into();
        assert!(secret.config().is_err(), "a secret key is never published");
        for bad in [
            "http://plain.example",
            "https://a.example/path",
            "https://",
            "example",
        ] {
            assert!(sign_in(bad).config().is_err(), "{bad}");
        }
        // No witness rule unless given; given, the page gets the keys and the quorum.
        assert!(config["auditLog"].get("witnesses").is_none());
        let vkey = domain::witness::WitnessKey {
            name: "auditor.example/w".into(),
            public: [5; 32],
        }
        .vkey();
        let mut witnessed = sign_in("https://p-patients.auth.us-east-1.amazoncognito.com");
        witnessed.witnesses = vec![vkey.clone()];
        let config = witnessed.config().unwrap();
        assert_eq!(config["auditLog"]["witnesses"], serde_json::json!([vkey]));
        assert_eq!(config["auditLog"]["witnessQuorum"], 1);
        witnessed.witness_quorum = Some(2);
        assert!(witnessed.config().is_err(), "2 of 1 witness");
        witnessed.witnesses = vec!["not a key".into()];
        assert!(witnessed.config().is_err());
    }
}
