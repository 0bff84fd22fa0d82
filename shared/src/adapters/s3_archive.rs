//! The production checkpoint archive: an S3 bucket with Object Lock in compliance mode (the
//! bucket's default retention; the template sets 7 years) and versioning. Each checkpoint is one
//! object, `checkpoints/<name>.note`; only the audit function may put, and no one may delete a
//! version before its retention ends.

use anyhow::Context as _;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::audit::archive::CheckpointArchive;

const PREFIX: &str = "checkpoints/";

pub struct S3Archive {
    client: Client,
    bucket: String,
}

impl S3Archive {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Archive {
            client,
            bucket: bucket.into(),
        }
    }

    fn key(name: &str) -> String {
        format!("{PREFIX}{}.note", name.replace('#', "-"))
    }
}

#[async_trait]
impl CheckpointArchive for S3Archive {
    async fn put(&self, name: &str, note: &str) -> anyhow::Result<()> {
        // Object Lock buckets need an integrity checksum on every put.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(name))
            .content_type("text/plain; charset=utf-8")
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(note.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("archiving checkpoint {name}: {}", DisplayErrorContext(e))
            })?;
        Ok(())
    }

    async fn list(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(PREFIX)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| anyhow::anyhow!("listing checkpoints: {}", DisplayErrorContext(e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        let mut notes = Vec::with_capacity(keys.len());
        for key in keys {
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading {key}: {}", DisplayErrorContext(e)))?;
            let bytes = object
                .body
                .collect()
                .await
                .context("reading a checkpoint")?;
            notes.push(String::from_utf8(bytes.to_vec()).context("a checkpoint is UTF-8")?);
        }
        Ok(notes)
    }
}
