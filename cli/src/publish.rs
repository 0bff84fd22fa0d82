//! `practica publish-portal`: uploads the portal's files (the same [`FILES`] `practica serve`
//! serves, compiled into this binary) to the portal bucket the functions' stack created, under the
//! keys the CloudFront distribution serves them from (`/` is `index.html`, the default root
//! object). Each object carries its content type and `Cache-Control: no-cache`, so browsers
//! revalidate and a new version shows at once; the security headers come from the distribution's
//! response-headers policy.

use crate::portal::FILES;

/// The bucket key a site path is served from.
pub fn key_of(path: &str) -> &str {
    match path {
        "/" => "index.html",
        other => other.trim_start_matches('/'),
    }
}

/// Uploads every file; returns the keys written, in [`FILES`] order.
pub async fn publish(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::with_capacity(FILES.len());
    for (path, body, content_type) in FILES {
        let key = key_of(path);
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .cache_control("no-cache")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                body.as_bytes(),
            ))
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
