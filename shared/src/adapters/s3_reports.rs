//! The production report store: a private, versioned S3 bucket; every object encrypted with the
//! practice's KMS key (SSE-KMS, named on each put so a bucket default cannot weaken it). Objects are
//! `reports/<id>/<file>`; the manifest `reports/<id>/manifest.json` is written last.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::error::ApiError;
use crate::reports::store::{Manifest, ReportStore, valid_file, valid_id};

pub struct S3Reports {
    client: Client,
    bucket: String,
    kms_key: String,
}

impl S3Reports {
    pub fn new(client: Client, bucket: impl Into<String>, kms_key: impl Into<String>) -> Self {
        S3Reports {
            client,
            bucket: bucket.into(),
            kms_key: kms_key.into(),
        }
    }

    async fn put_object(&self, key: String, bytes: Vec<u8>, kind: &str) -> Result<(), ApiError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(kind)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable(format!("storing {key}: {}", DisplayErrorContext(e))))?;
        Ok(())
    }

    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| unavailable(format!("reading {key}: {e}")))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(unavailable(format!(
                "reading {key}: {}",
                DisplayErrorContext(e)
            ))),
        }
    }
}

fn unavailable(message: String) -> ApiError {
    ApiError::Unavailable {
        code: "report_store_unavailable",
        source: anyhow::anyhow!(message),
    }
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    }
}

#[async_trait]
impl ReportStore for S3Reports {
    async fn put(&self, id: &str, file: &str, bytes: &[u8]) -> Result<(), ApiError> {
        if !valid_id(id) || !valid_file(file) {
            return Err(anyhow::anyhow!("not a report file: {id:?} {file:?}").into());
        }
        self.put_object(
            format!("reports/{id}/{file}"),
            bytes.to_vec(),
            content_type(file),
        )
        .await
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec_pretty(manifest).map_err(anyhow::Error::new)?;
        let key = format!("reports/{}/manifest.json", manifest.id);
        self.put_object(key, bytes, "application/json").await
    }

    async fn list(&self) -> Result<Vec<Manifest>, ApiError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("reports/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| unavailable(format!("listing reports: {}", DisplayErrorContext(e))))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with("/manifest.json"))
                    .map(str::to_owned),
            );
        }
        let mut out = Vec::new();
        for key in keys {
            if let Some(bytes) = self.get_object(&key).await? {
                out.push(serde_json::from_slice::<Manifest>(&bytes).map_err(anyhow::Error::new)?);
            }
        }
        out.sort_by(|a, b| (&b.from, &b.to).cmp(&(&a.from, &a.to)));
        Ok(out)
    }

    async fn get(&self, id: &str, file: &str) -> Result<Option<Vec<u8>>, ApiError> {
        if !valid_id(id) || !valid_file(file) {
            return Ok(None);
        }
        let Some(manifest) = self
            .get_object(&format!("reports/{id}/manifest.json"))
            .await?
        else {
            return Ok(None);
        };
        let manifest: Manifest = serde_json::from_slice(&manifest).map_err(anyhow::Error::new)?;
        if !manifest.files.iter().any(|f| f == file) {
            return Ok(None);
        }
        self.get_object(&format!("reports/{id}/{file}")).await
    }
}
