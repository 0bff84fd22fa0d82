//! The signaling port of online visits: where a participant's browser connects to exchange the
//! WebRTC session descriptions and candidates with the other side, and the relays (TURN) it may
//! use. Media never passes through it: the browsers connect to each other (DTLS-SRTP), through a
//! relay only when their networks need one, and a relay sees only encrypted packets.
//!
//! The channel is the appointment's; the provider's side is its master, the patient's a viewer,
//! as Amazon Kinesis Video Streams WebRTC names them. An address is short-lived and made for one
//! participant: only a caller the visit room admits is given one.

use async_trait::async_trait;
use domain::ids::AppointmentId;
use domain::sensitive::Sensitive;

/// Which side of the visit a participant joins as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalRole {
    /// The provider (or staff the provider brings): answers the patient's offer.
    Master,
    /// The patient: offers, once admitted.
    Viewer,
}

impl SignalRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalRole::Master => "master",
            SignalRole::Viewer => "viewer",
        }
    }
}

/// A relay (STUN/TURN) a browser may use, with its short-lived credentials.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Where one participant connects, until when.
#[derive(Clone, Debug)]
pub struct SignalAccess {
    /// A WebSocket address (absolute, or relative to the portal's origin locally), signed for
    /// this participant only: never logged, never stored.
    pub url: Sensitive<String>,
    pub client_id: String,
    pub expires_at: i64,
    pub ice_servers: Vec<IceServer>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignalingError {
    #[error("signaling unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Signaling: Send + Sync {
    /// An address for `client` on the channel of `visit` as `role`, to connect with a short
    /// while from `now`; the connection ends at `until` (the room's closing).
    async fn access(
        &self,
        visit: &AppointmentId,
        role: SignalRole,
        client: &str,
        now: i64,
        until: i64,
    ) -> Result<SignalAccess, SignalingError>;

    /// The visits that have a channel of their own (deployed: made when their room first gave
    /// out an address). None locally: the relay's channels end with their connections.
    async fn channels(&self) -> Result<Vec<AppointmentId>, SignalingError> {
        Ok(Vec::new())
    }

    /// Removes `visit`'s channel (its room has closed); nothing if it has none.
    async fn remove(&self, _visit: &AppointmentId) -> Result<(), SignalingError> {
        Ok(())
    }
}
