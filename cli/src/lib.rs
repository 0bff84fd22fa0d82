//! The `practica` command's library half: the local stack that `practica serve` runs.

pub mod audit;
pub mod backup;
pub mod checkout;
pub mod demo;
pub mod local;
pub mod local_only;
pub mod login;
pub mod pages;
pub mod portal;
pub mod publish;
pub mod report;
pub mod sandbox;
pub mod sandbox_cards;
pub mod serve;
pub mod signal;
pub mod staff;
pub mod witness;

/// An S3 client for `sdk`, path-style when the endpoint is overridden (emulators, VPC endpoints).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}
