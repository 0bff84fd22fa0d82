//! Webhook and processor secrets named by a Secrets Manager ARN are read from Secrets Manager
//! (moto's wire-compatible server), as the Lambda functions do once per cold start.

use practica_tests::{Emulator, sdk_config};
use secrecy::ExposeSecret as _;
use shared::adapters::secrets::resolve;
use shared::config::payments::STRIPE_WEBHOOK_SECRETS;
use shared::web::webhooks::signature::WebhookSecrets;

#[tokio::test]
async fn a_secret_arn_is_resolved_through_secrets_manager() {
    let Some(endpoint) = Emulator::Moto.endpoint() else {
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config(&endpoint));
    let value = "whsec_rotatedInNewestFirst01,whsec_beingRetiredSecret00";
    let created = client
        .create_secret()
        .name(format!("practica/{}", ulid::Ulid::new()))
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    let resolved = resolve(STRIPE_WEBHOOK_SECRETS, arn.clone(), &client)
        .await
        .unwrap();
    assert_eq!(resolved.expose_secret(), value);
    assert!(WebhookSecrets::stripe(resolved.expose_secret()).is_ok());
    // A literal value is used as it is, without a call.
    let literal = resolve(
        STRIPE_WEBHOOK_SECRETS,
        "whsec_literal0000000".into(),
        &client,
    )
    .await
    .unwrap();
    assert_eq!(literal.expose_secret(), "whsec_literal0000000");
    // An ARN that names nothing fails start-up with the variable's name, never a value.
    let missing = arn.replace("practica/", "practica-missing/");
    let error = resolve(STRIPE_WEBHOOK_SECRETS, missing, &client)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains(STRIPE_WEBHOOK_SECRETS));
}
