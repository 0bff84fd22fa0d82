//! Online visits' signaling on one machine (`practica serve`): addresses on the server's own
//! WebSocket relay (`/local/signal`), each signed for one participant of one visit with a key
//! that lives only in the server's memory, and valid for a few minutes to connect. The relay
//! (the CLI's) checks the signature and speaks Amazon Kinesis Video Streams' signaling messages,
//! so the visit page runs the same code on a laptop as deployed. Loopback needs no relay (TURN):
//! no ICE servers are given.

use async_trait::async_trait;
use domain::ids::AppointmentId;

use crate::signaling::{SignalAccess, SignalRole, Signaling, SignalingError};

/// How long an address may be used to connect (the connection then lasts the visit).
pub const CONNECT_WITHIN_SECS: i64 = 300;

pub const SIGNAL_PATH: &str = "/local/signal";

pub struct LocalSignaling {
    key: [u8; 32],
}

/// What a signed address names: the visit, the side, the participant, and when the connection
/// must end (the room's closing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub channel: AppointmentId,
    pub role: SignalRole,
    pub client: String,
    pub until: i64,
}

/// An address's query, as signed.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Address {
    pub channel: String,
    pub role: String,
    pub client: String,
    pub expires: i64,
    pub until: i64,
    pub signature: String,
}

impl LocalSignaling {
    pub fn generate() -> Self {
        LocalSignaling {
            key: rand::random(),
        }
    }

    fn signature(
        &self,
        channel: &str,
        role: &str,
        client: &str,
        expires: i64,
        until: i64,
    ) -> String {
        let times = format!("{expires}\n{until}");
        let mac = domain::hash::hmac_sha256(
            &self.key,
            &[
                b"local-signal\n",
                channel.as_bytes(),
                b"\n",
                role.as_bytes(),
                b"\n",
                client.as_bytes(),
                b"\n",
                times.as_bytes(),
            ],
        );
        domain::hash::hex(&mac)
    }

    /// The participant an address's query names, if it is signed by this server, not expired at
    /// `now`, and its room not closed.
    pub fn verify(&self, a: &Address, now: i64) -> Option<Admitted> {
        let expected = self.signature(&a.channel, &a.role, &a.client, a.expires, a.until);
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), a.signature.as_bytes()).into();
        let role = match a.role.as_str() {
            "master" => SignalRole::Master,
            "viewer" => SignalRole::Viewer,
            _ => return None,
        };
        let client_ok = !a.client.is_empty()
            && a.client.len() <= 64
            && a.client
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        (same && now < a.expires && now < a.until && client_ok).then_some(Admitted {
            channel: AppointmentId::parse(&a.channel)?,
            role,
            client: a.client.clone(),
            until: a.until,
        })
    }
}

#[async_trait]
impl Signaling for LocalSignaling {
    async fn access(
        &self,
        visit: &AppointmentId,
        role: SignalRole,
        client: &str,
        now: i64,
        until: i64,
    ) -> Result<SignalAccess, SignalingError> {
        let expires = (now + CONNECT_WITHIN_SECS).min(until);
        let sig = self.signature(visit.as_str(), role.as_str(), client, expires, until);
        Ok(SignalAccess {
            url: format!(
                "{SIGNAL_PATH}?channel={visit}&role={}&client={client}&expires={expires}&until={until}&signature={sig}",
                role.as_str()
            )
            .into(),
            client_id: client.to_owned(),
            expires_at: expires,
            ice_servers: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_is_for_its_participant_only_and_expires() {
        let signaling = LocalSignaling::generate();
        let visit = AppointmentId::new();
        let access = signaling
            .access(&visit, SignalRole::Viewer, "patient-ab12", 1_000, 5_000)
            .await
            .unwrap();
        let (path, query) = access.url.expose().split_once('?').unwrap();
        assert_eq!(path, SIGNAL_PATH);
        let address: Address = serde_urlencoded::from_str(query).unwrap();
        let admitted = signaling.verify(&address, 1_001).unwrap();
        assert_eq!(admitted.channel, visit);
        assert_eq!(admitted.role, SignalRole::Viewer);
        assert_eq!(admitted.until, 5_000);
        // Another side, another participant, a later closing, after it expired, another server's
        // key: refused.
        let changed = |f: &dyn Fn(&mut Address)| {
            let mut a = address.clone();
            f(&mut a);
            signaling.verify(&a, 1_001)
        };
        assert_eq!(changed(&|a| a.role = "master".into()), None);
        assert_eq!(changed(&|a| a.client = "host-ab12".into()), None);
        assert_eq!(changed(&|a| a.until = 9_000), None);
        assert_eq!(
            signaling.verify(&address, 1_000 + CONNECT_WITHIN_SECS),
            None
        );
        assert_eq!(LocalSignaling::generate().verify(&address, 1_001), None);
        // Never past the room's closing, even to connect.
        let late = signaling
            .access(&visit, SignalRole::Viewer, "patient-ab12", 4_900, 5_000)
            .await
            .unwrap();
        assert_eq!(late.expires_at, 5_000);
    }
}
