//! Online visits' signaling, deployed: Amazon Kinesis Video Streams WebRTC. Each visit has its own
//! signaling channel (`<prefix><appointment id>`, single master), made the first time its room
//! gives out an address and removed by the sweep once the room has closed, so a channel carries one
//! visit's two participants and nobody else's. A participant gets a WebSocket address presigned
//! (SigV4, query parameters) for its role alone, usable to connect for five minutes: the
//! provider's side connects as the channel's master, the patient as a viewer under her client id.
//! The signature covers the channel and the client id, so an address cannot be turned into
//! another role or another channel's. The relays (TURN) come from `GetIceServerConfig` for the
//! channel, with their short-lived credentials; they see only encrypted packets.
//!
//! Why Kinesis Video Streams rather than an API Gateway WebSocket API of our own: its signaling
//! channels and TURN are HIPAA-eligible and serverless, priced per channel-month and message,
//! with nothing of ours to run between two browsers; the local relay (`practica serve`) speaks
//! the same messages, so the visit page is the same code.
//!
//! A room is read every second by each page in it (every ten once connected), and each read gives
//! an address: the channel's ARN and endpoints are kept in memory for a minute and a participant's
//! relays until a minute before their credentials expire (a few hundred of each at most), so those
//! reads cost no call to the service; presigning is local.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_kinesisvideo::types::{
    ChannelNameCondition, ChannelProtocol, ChannelRole, ChannelType, ComparisonOperator,
    SingleMasterChannelEndpointConfiguration, SingleMasterConfiguration, Status,
};
use aws_sdk_kinesisvideosignaling::types::Service;
use domain::ids::AppointmentId;
use domain::sensitive::Sensitive;

use crate::signaling::{IceServer, SignalAccess, SignalRole, Signaling, SignalingError};

/// How long an address may be used to connect (the connection then lasts the visit).
pub const CONNECT_WITHIN_SECS: i64 = 300;
/// How long the channel keeps a message for a participant not yet connected.
const MESSAGE_TTL_SECS: i32 = 60;
/// At most this many channels' endpoints (and participants' relays) are remembered.
const REMEMBERED: usize = 256;
/// How long a channel's ARN and endpoints are used without asking again: a channel the sweep
/// removed (its room closed) is not handed out for longer than this, should the room open again.
const ENDPOINTS_FOR_SECS: i64 = 60;
/// How many times (a quarter of a second apart) a channel just made is looked at until active.
const ACTIVE_CHECKS: usize = 8;

/// A small map whose entries expire; full, it starts again.
struct Remembered<K, V>(Mutex<HashMap<K, (V, i64)>>);

impl<K: std::hash::Hash + Eq, V: Clone> Remembered<K, V> {
    fn new() -> Self {
        Remembered(Mutex::new(HashMap::new()))
    }
    fn get(&self, key: &K, now: i64) -> Option<V> {
        let map = self.0.lock().expect("not poisoned");
        map.get(key)
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| v.clone())
    }
    fn put(&self, key: K, value: V, until: i64) {
        let mut map = self.0.lock().expect("not poisoned");
        if map.len() >= REMEMBERED {
            map.clear();
        }
        map.insert(key, (value, until));
    }
    fn forget(&self, keep: impl Fn(&K) -> bool) {
        self.0.lock().expect("not poisoned").retain(|k, _| keep(k));
    }
}

/// A channel and the endpoints of one role on it.
#[derive(Clone, Debug)]
struct Endpoints {
    arn: String,
    wss: String,
    https: String,
}

/// The visits' channels as the sweep sees them: listed and removed, never given out (so the sweep
/// function links no signaling data-plane client).
pub struct KvsChannels {
    control: aws_sdk_kinesisvideo::Client,
    prefix: String,
}

pub struct KvsSignaling {
    channels: KvsChannels,
    /// The SDK configuration the data-plane client (per endpoint) is built from.
    sdk: aws_config::SdkConfig,
    credentials: SharedCredentialsProvider,
    region: String,
    arns: Remembered<String, String>,
    endpoints: Remembered<(String, &'static str), Endpoints>,
    relays: Remembered<(String, String), Vec<IceServer>>,
}

fn unavailable(e: impl std::fmt::Display) -> SignalingError {
    SignalingError::Unavailable(anyhow::anyhow!("kinesis video signaling: {e}"))
}

impl KvsSignaling {
    /// Channels named `<prefix><appointment id>` (the template's IAM allows only those).
    pub fn new(sdk: &aws_config::SdkConfig, prefix: String) -> Result<Self, SignalingError> {
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| unavailable("no credentials provider"))?;
        let region = sdk
            .region()
            .ok_or_else(|| unavailable("no region"))?
            .to_string();
        Ok(KvsSignaling {
            channels: KvsChannels::new(sdk, prefix),
            sdk: sdk.clone(),
            credentials,
            region,
            arns: Remembered::new(),
            endpoints: Remembered::new(),
            relays: Remembered::new(),
        })
    }

    /// The visit's channel's ARN, made if it does not exist yet.
    async fn channel(&self, visit: &AppointmentId, now: i64) -> Result<String, SignalingError> {
        if let Some(arn) = self.arns.get(&visit.as_str().to_owned(), now) {
            return Ok(arn);
        }
        let arn = self.find_or_make(visit).await?;
        self.arns.put(
            visit.as_str().to_owned(),
            arn.clone(),
            now + ENDPOINTS_FOR_SECS,
        );
        Ok(arn)
    }

    /// The channel named `name`, if there is one: its ARN once it is active (a channel being made
    /// or deleted is not used: the page asks again within a second).
    async fn describe(&self, name: &str) -> Result<Option<String>, SignalingError> {
        match self
            .channels
            .control
            .describe_signaling_channel()
            .channel_name(name)
            .send()
            .await
        {
            Ok(found) => {
                let info = found
                    .channel_info()
                    .ok_or_else(|| unavailable("no channel info"))?;
                match info.channel_status() {
                    Some(Status::Active) => info
                        .channel_arn()
                        .map(|arn| Some(arn.to_owned()))
                        .ok_or_else(|| unavailable("no channel ARN")),
                    status => Err(unavailable(format!("the channel is {status:?}"))),
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable(
                aws_sdk_kinesisvideo::error::DisplayErrorContext(e),
            )),
        }
    }

    async fn find_or_make(&self, visit: &AppointmentId) -> Result<String, SignalingError> {
        let name = self.channels.channel_name(visit);
        if let Some(arn) = self.describe(&name).await? {
            return Ok(arn);
        }
        let made = self
            .channels
            .control
            .create_signaling_channel()
            .channel_name(&name)
            .channel_type(ChannelType::SingleMaster)
            .single_master_configuration(
                SingleMasterConfiguration::builder()
                    .message_ttl_seconds(MESSAGE_TTL_SECS)
                    .build(),
            )
            .send()
            .await;
        match made {
            // Made now: used once it is active (usually within a second).
            Ok(_) => {
                for _ in 0..ACTIVE_CHECKS {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    if let Ok(Some(arn)) = self.describe(&name).await {
                        return Ok(arn);
                    }
                }
                Err(unavailable("the channel is still being made"))
            }
            // Made meanwhile by the other participant's request: read it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                self.describe(&name)
                    .await?
                    .ok_or_else(|| unavailable("no channel"))
            }
            Err(e) => Err(unavailable(
                aws_sdk_kinesisvideo::error::DisplayErrorContext(e),
            )),
        }
    }

    async fn endpoints(
        &self,
        visit: &AppointmentId,
        role: SignalRole,
        now: i64,
    ) -> Result<Endpoints, SignalingError> {
        let key = (visit.as_str().to_owned(), role.as_str());
        if let Some(found) = self.endpoints.get(&key, now) {
            return Ok(found);
        }
        let arn = self.channel(visit, now).await?;
        let config = SingleMasterChannelEndpointConfiguration::builder()
            .protocols(ChannelProtocol::Wss)
            .protocols(ChannelProtocol::Https)
            .role(match role {
                SignalRole::Master => ChannelRole::Master,
                SignalRole::Viewer => ChannelRole::Viewer,
            })
            .build();
        let listed = self
            .channels
            .control
            .get_signaling_channel_endpoint()
            .channel_arn(&arn)
            .single_master_channel_endpoint_configuration(config)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_kinesisvideo::error::DisplayErrorContext(e)))?;
        let of = |protocol: ChannelProtocol| {
            listed
                .resource_endpoint_list()
                .iter()
                .find(|e| e.protocol() == Some(&protocol))
                .and_then(|e| e.resource_endpoint())
                .map(str::to_owned)
                .ok_or_else(|| unavailable(format!("no {protocol} endpoint")))
        };
        let found = Endpoints {
            arn,
            wss: of(ChannelProtocol::Wss)?,
            https: of(ChannelProtocol::Https)?,
        };
        self.endpoints
            .put(key, found.clone(), now + ENDPOINTS_FOR_SECS);
        Ok(found)
    }

    /// The channel's relays, with credentials for `client`.
    async fn relays(
        &self,
        visit: &AppointmentId,
        endpoints: &Endpoints,
        client: &str,
        now: i64,
    ) -> Result<Vec<IceServer>, SignalingError> {
        let key = (visit.as_str().to_owned(), client.to_owned());
        if let Some(found) = self.relays.get(&key, now) {
            return Ok(found);
        }
        let config = aws_sdk_kinesisvideosignaling::config::Builder::from(&self.sdk)
            .endpoint_url(&endpoints.https)
            .build();
        let answer = aws_sdk_kinesisvideosignaling::Client::from_conf(config)
            .get_ice_server_config()
            .channel_arn(&endpoints.arn)
            .client_id(client)
            .service(Service::Turn)
            .send()
            .await
            .map_err(|e| {
                unavailable(aws_sdk_kinesisvideosignaling::error::DisplayErrorContext(e))
            })?;
        // The service's STUN server first (a direct path through most NATs), then its relays.
        let stun = IceServer {
            urls: vec![format!(
                "stun:stun.kinesisvideo.{}.amazonaws.com:443",
                self.region
            )],
            username: None,
            credential: None,
        };
        let found: Vec<IceServer> = std::iter::once(stun)
            .chain(answer.ice_server_list().iter().map(|s| IceServer {
                urls: s.uris().to_vec(),
                username: s.username().map(str::to_owned),
                credential: s.password().map(str::to_owned),
            }))
            .collect();
        // Used until a minute before the first credentials expire.
        let ttl = answer
            .ice_server_list()
            .iter()
            .filter_map(|s| s.ttl())
            .min()
            .map_or(0, i64::from);
        if ttl > 60 {
            self.relays.put(key, found.clone(), now + ttl - 60);
        }
        Ok(found)
    }

    /// The WebSocket address for `role` (a viewer under `client`), presigned at `now`.
    async fn presign(
        &self,
        endpoints: &Endpoints,
        role: SignalRole,
        client: &str,
        now: i64,
        within: i64,
    ) -> Result<String, SignalingError> {
        let mut query = vec![("X-Amz-ChannelARN", endpoints.arn.as_str())];
        if role == SignalRole::Viewer {
            query.push(("X-Amz-ClientId", client));
        }
        let query = serde_urlencoded::to_string(&query).map_err(unavailable)?;
        let base = format!("{}/?{query}", endpoints.wss.trim_end_matches('/'));
        let host = base
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .ok_or_else(|| unavailable("an endpoint without a host"))?
            .to_owned();
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(unavailable)?;
        let identity = credentials.into();
        let mut settings = aws_sigv4::http_request::SigningSettings::default();
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(within.max(1) as u64));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(now.max(0) as u64);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("kinesisvideo")
            .time(at)
            .settings(settings)
            .build()
            .map_err(unavailable)?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "GET",
            base.as_str(),
            [("host", host.as_str())].into_iter(),
            aws_sigv4::http_request::SignableBody::Bytes(&[]),
        )
        .map_err(unavailable)?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(unavailable)?
            .into_parts();
        let mut request = http::Request::builder()
            .uri(base.as_str())
            .body(())
            .map_err(unavailable)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request.uri().to_string())
    }
}

#[async_trait]
impl Signaling for KvsSignaling {
    async fn access(
        &self,
        visit: &AppointmentId,
        role: SignalRole,
        client: &str,
        now: i64,
        until: i64,
    ) -> Result<SignalAccess, SignalingError> {
        // Usable to connect for five minutes, and never after the room closes.
        let within = CONNECT_WITHIN_SECS.min(until - now);
        if within <= 0 {
            return Err(unavailable("the room has closed"));
        }
        let endpoints = self.endpoints(visit, role, now).await?;
        let (url, ice_servers) = tokio::try_join!(
            self.presign(&endpoints, role, client, now, within),
            self.relays(visit, &endpoints, client, now)
        )?;
        Ok(SignalAccess {
            url: Sensitive::new(url),
            client_id: client.to_owned(),
            expires_at: now + within,
            ice_servers,
        })
    }

    async fn channels(&self) -> Result<Vec<AppointmentId>, SignalingError> {
        self.channels.list().await
    }

    async fn remove(&self, visit: &AppointmentId) -> Result<(), SignalingError> {
        self.arns.forget(|id| id != visit.as_str());
        self.endpoints.forget(|(id, _)| id != visit.as_str());
        self.relays.forget(|(id, _)| id != visit.as_str());
        self.channels.delete(visit).await
    }
}

impl KvsChannels {
    /// Channels named `<prefix><appointment id>` (the template's IAM allows only those).
    pub fn new(sdk: &aws_config::SdkConfig, prefix: String) -> Self {
        KvsChannels {
            control: aws_sdk_kinesisvideo::Client::new(sdk),
            prefix,
        }
    }

    fn channel_name(&self, visit: &AppointmentId) -> String {
        format!("{}{}", self.prefix, visit.as_str())
    }

    /// The visits that have a channel (named with this prefix).
    pub async fn list(&self) -> Result<Vec<AppointmentId>, SignalingError> {
        let condition = ChannelNameCondition::builder()
            .comparison_operator(ComparisonOperator::BeginsWith)
            .comparison_value(&self.prefix)
            .build();
        let mut pages = self
            .control
            .list_signaling_channels()
            .channel_name_condition(condition)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| unavailable(aws_sdk_kinesisvideo::error::DisplayErrorContext(e)))?;
            found.extend(
                page.channel_info_list()
                    .iter()
                    .filter_map(|c| c.channel_name()?.strip_prefix(&self.prefix))
                    .filter_map(AppointmentId::parse),
            );
        }
        Ok(found)
    }

    /// Deletes `visit`'s channel, if it has one.
    pub async fn delete(&self, visit: &AppointmentId) -> Result<(), SignalingError> {
        let arn = match self
            .control
            .describe_signaling_channel()
            .channel_name(self.channel_name(visit))
            .send()
            .await
        {
            Ok(found) => found
                .channel_info()
                .and_then(|c| c.channel_arn())
                .map(str::to_owned),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => {
                return Err(unavailable(
                    aws_sdk_kinesisvideo::error::DisplayErrorContext(e),
                ));
            }
        };
        let Some(arn) = arn else { return Ok(()) };
        match self
            .control
            .delete_signaling_channel()
            .channel_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(
                aws_sdk_kinesisvideo::error::DisplayErrorContext(e),
            )),
        }
    }
}

#[async_trait]
impl Signaling for KvsChannels {
    async fn access(
        &self,
        _: &AppointmentId,
        _: SignalRole,
        _: &str,
        _: i64,
        _: i64,
    ) -> Result<SignalAccess, SignalingError> {
        Err(unavailable("only the booking function gives out addresses"))
    }

    async fn channels(&self) -> Result<Vec<AppointmentId>, SignalingError> {
        self.list().await
    }

    async fn remove(&self, visit: &AppointmentId) -> Result<(), SignalingError> {
        self.delete(visit).await
    }
}

/// Against a mock speaking the service's documented REST-JSON messages: the channel made once per
/// visit (and found when the other participant made it first), each role's endpoints, the relays,
/// and addresses presigned as Kinesis Video Streams expects: checked here by computing SigV4 by
/// hand (canonical request, string to sign, signing key), not with the library that made them.
#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use serde_json::json;
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const ARN: &str = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/stack-visit-apt_01JD0000000000000000000000/1700000000000";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// Tuesday 2026-11-24 14:50 UTC.
    const NOW: i64 = 1_795_531_800;

    fn sdk(endpoint: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                SECRET,
                Some("session-token".into()),
                None,
                "test",
            )))
            .endpoint_url(endpoint)
            .build()
    }

    fn not_found() -> ResponseTemplate {
        ResponseTemplate::new(404)
            .insert_header("x-amzn-ErrorType", "ResourceNotFoundException")
            .set_body_json(json!({"Message": "The requested channel is not found"}))
    }

    /// RFC 3986 encoding, as SigV4's canonical query string has it.
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// The address's query, checked against SigV4 computed by hand.
    fn verify(url: &str, at: &str, expires: &str) -> Vec<(String, String)> {
        let (base, query) = url.split_once("/?").expect("a query");
        let host = base.strip_prefix("wss://").expect("wss");
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {name} in {url}"))
        };
        let mut signed: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (encode(k), encode(v)))
            .collect();
        signed.sort();
        let canonical_query = signed
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let empty = domain::hash::hex(&domain::hash::sha256(&[b""]));
        let canonical = format!("GET\n/\n{canonical_query}\nhost:{host}\n\nhost\n{empty}");
        let date = get("X-Amz-Date");
        let scope = format!("{}/us-east-1/kinesisvideo/aws4_request", &date[..8]);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            domain::hash::hex(&domain::hash::sha256(&[canonical.as_bytes()]))
        );
        let mut key =
            domain::hash::hmac_sha256(format!("AWS4{SECRET}").as_bytes(), &[&date.as_bytes()[..8]]);
        for part in ["us-east-1", "kinesisvideo", "aws4_request"] {
            key = domain::hash::hmac_sha256(&key, &[part.as_bytes()]);
        }
        let signature = domain::hash::hex(&domain::hash::hmac_sha256(&key, &[to_sign.as_bytes()]));
        assert_eq!(get("X-Amz-Signature"), signature, "the signature of {url}");
        assert_eq!(get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(get("X-Amz-Credential"), format!("AKIDEXAMPLE/{scope}"));
        assert_eq!(get("X-Amz-Date"), at, "signed at the clock's time");
        assert_eq!(get("X-Amz-Expires"), expires);
        assert_eq!(get("X-Amz-SignedHeaders"), "host");
        assert_eq!(get("X-Amz-Security-Token"), "session-token");
        assert_eq!(get("X-Amz-ChannelARN"), ARN);
        params
    }

    #[tokio::test]
    async fn each_visit_gets_its_own_channel_and_each_participant_an_address_for_its_role() {
        let server = MockServer::start().await;
        let visit = AppointmentId::parse("apt_01JD0000000000000000000000").unwrap();
        // Not there at first: made once, with messages kept a minute.
        Mock::given(method("POST"))
            .and(path("/describeSignalingChannel"))
            .and(body_partial_json(
                json!({"ChannelName": "stack-visit-apt_01JD0000000000000000000000"}),
            ))
            .respond_with(not_found())
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        // Made, it is looked at until active.
        for (status, times) in [("CREATING", Some(1)), ("ACTIVE", None)] {
            let described = Mock::given(method("POST"))
                .and(path("/describeSignalingChannel"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "ChannelInfo": {"ChannelName": "stack-visit-apt_01JD0000000000000000000000", "ChannelARN": ARN, "ChannelStatus": status}
                })))
                .expect(1);
            match times {
                Some(n) => described.up_to_n_times(n).mount(&server).await,
                None => described.mount(&server).await,
            }
        }
        Mock::given(method("POST"))
            .and(path("/createSignalingChannel"))
            .and(body_partial_json(json!({
                "ChannelName": "stack-visit-apt_01JD0000000000000000000000",
                "ChannelType": "SINGLE_MASTER",
                "SingleMasterConfiguration": {"MessageTtlSeconds": 60},
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ChannelARN": ARN})))
            .expect(1)
            .mount(&server)
            .await;
        let wss = "wss://v-1a2b3c4d.kinesisvideo.us-east-1.amazonaws.com";
        for role in ["MASTER", "VIEWER"] {
            Mock::given(method("POST"))
                .and(path("/getSignalingChannelEndpoint"))
                .and(body_partial_json(json!({
                    "ChannelARN": ARN,
                    "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS", "HTTPS"], "Role": role},
                })))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "ResourceEndpointList": [
                        {"Protocol": "WSS", "ResourceEndpoint": wss},
                        {"Protocol": "HTTPS", "ResourceEndpoint": server.uri()},
                    ]
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        for client in ["host-aaaaaaaaaaaa", "patient-bbbbbbbbbbbb"] {
            Mock::given(method("POST"))
                .and(path("/v1/get-ice-server-config"))
                .and(body_partial_json(json!({"ChannelARN": ARN, "ClientId": client, "Service": "TURN"})))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "IceServerList": [{
                        "Uris": ["turn:1-2-3-4.t-1.kinesisvideo.us-east-1.amazonaws.com:443?transport=udp"],
                        "Username": format!("1700000300:{client}"),
                        "Password": "turn-secret",
                        "Ttl": 300,
                    }]
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        let kvs = KvsSignaling::new(&sdk(&server.uri()), "stack-visit-".into()).unwrap();
        let until = NOW + 3600;

        let master = kvs
            .access(&visit, SignalRole::Master, "host-aaaaaaaaaaaa", NOW, until)
            .await
            .unwrap();
        assert!(master.url.expose().starts_with(&format!("{wss}/?")));
        let params = verify(master.url.expose(), "20261124T145000Z", "300");
        assert!(
            params.iter().all(|(k, _)| k != "X-Amz-ClientId"),
            "the master connects without a client id"
        );
        assert_eq!(master.expires_at, NOW + CONNECT_WITHIN_SECS);
        assert_eq!(
            master.ice_servers[0].urls,
            ["stun:stun.kinesisvideo.us-east-1.amazonaws.com:443"]
        );
        assert_eq!(master.ice_servers.len(), 2);
        assert_eq!(
            master.ice_servers[1].credential.as_deref(),
            Some("turn-secret")
        );

        let viewer = kvs
            .access(
                &visit,
                SignalRole::Viewer,
                "patient-bbbbbbbbbbbb",
                NOW,
                until,
            )
            .await
            .unwrap();
        let params = verify(viewer.url.expose(), "20261124T145000Z", "300");
        assert!(
            params
                .iter()
                .any(|(k, v)| k == "X-Amz-ClientId" && v == "patient-bbbbbbbbbbbb"),
            "the viewer's address names her client id, under the signature"
        );
        // The pages read the room every second: no further calls to the service.
        for _ in 0..3 {
            let again = kvs
                .access(
                    &visit,
                    SignalRole::Viewer,
                    "patient-bbbbbbbbbbbb",
                    NOW + 2,
                    until,
                )
                .await
                .unwrap();
            verify(again.url.expose(), "20261124T145002Z", "300");
        }
        // An address near the room's closing may be used only until it closes; none after.
        let last = kvs
            .access(
                &visit,
                SignalRole::Viewer,
                "patient-bbbbbbbbbbbb",
                NOW,
                NOW + 100,
            )
            .await
            .unwrap();
        verify(last.url.expose(), "20261124T145000Z", "100");
        assert_eq!(last.expires_at, NOW + 100);
        assert!(
            kvs.access(&visit, SignalRole::Viewer, "patient-bbbbbbbbbbbb", NOW, NOW)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_channel_made_meanwhile_is_found_and_closed_rooms_channels_are_listed_and_removed() {
        let server = MockServer::start().await;
        let visit = AppointmentId::parse("apt_01JD0000000000000000000000").unwrap();
        Mock::given(method("POST"))
            .and(path("/describeSignalingChannel"))
            .respond_with(not_found())
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/createSignalingChannel"))
            .respond_with(
                ResponseTemplate::new(400)
                    .insert_header("x-amzn-ErrorType", "ResourceInUseException")
                    .set_body_json(json!({"Message": "exists"})),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/describeSignalingChannel"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ChannelInfo": {"ChannelName": "stack-visit-apt_01JD0000000000000000000000", "ChannelARN": ARN, "ChannelStatus": "ACTIVE"}
            })))
            .mount(&server)
            .await;
        let kvs = KvsSignaling::new(&sdk(&server.uri()), "stack-visit-".into()).unwrap();
        assert_eq!(kvs.channel(&visit, NOW).await.unwrap(), ARN);

        Mock::given(method("POST"))
            .and(path("/listSignalingChannels"))
            .and(body_partial_json(json!({"ChannelNameCondition": {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "stack-visit-"}})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ChannelInfoList": [
                    {"ChannelName": "stack-visit-apt_01JD0000000000000000000000", "ChannelARN": ARN},
                    {"ChannelName": "stack-visit-not-an-id", "ChannelARN": "arn:x"},
                ]
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/deleteSignalingChannel"))
            .and(body_partial_json(json!({"ChannelARN": ARN})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(kvs.channels().await.unwrap(), vec![visit.clone()]);
        kvs.remove(&visit).await.unwrap();
        // The sweep's side lists the same channels and gives out no address.
        let sweep = KvsChannels::new(&sdk(&server.uri()), "stack-visit-".into());
        assert_eq!(sweep.channels().await.unwrap(), vec![visit.clone()]);
        assert!(
            sweep
                .access(&visit, SignalRole::Master, "host", NOW, NOW + 60)
                .await
                .is_err()
        );
    }
}
