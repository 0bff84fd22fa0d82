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

/// What a signed address names: the visit, the side, the participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub channel: AppointmentId,
    pub role: SignalRole,
    pub client: String,
}

impl LocalSignaling {
    pub fn generate() -> Self {
        LocalSignaling {
            key: rand::random(),
        }
    }

    fn signature(&self, channel: &str, role: &str, client: &str, expires: i64) -> String {
        let expires = expires.to_string();
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
                expires.as_bytes(),
            ],
        );
        domain::hash::hex(&mac)
    }

    /// The participant an address's query names, if it is signed by this server and not expired
    /// at `now`.
    pub fn verify(
        &self,
        channel: &str,
        role: &str,
        client: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Option<Admitted> {
        let expected = self.signature(channel, role, client, expires);
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into();
        let role = match role {
            "master" => SignalRole::Master,
            "viewer" => SignalRole::Viewer,
            _ => return None,
        };
        let client_ok = !client.is_empty()
            && client.len() <= 64
            && client
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        (same && now < expires && client_ok).then_some(Admitted {
            channel: AppointmentId::parse(channel)?,
            role,
            client: client.to_owned(),
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
    ) -> Result<SignalAccess, SignalingError> {
        let expires = now + CONNECT_WITHIN_SECS;
        let sig = self.signature(visit.as_str(), role.as_str(), client, expires);
        Ok(SignalAccess {
            url: format!(
                "{SIGNAL_PATH}?channel={visit}&role={}&client={client}&expires={expires}&signature={sig}",
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
            .access(&visit, SignalRole::Viewer, "patient-ab12", 1_000)
            .await
            .unwrap();
        let (path, query) = access.url.expose().split_once('?').unwrap();
        assert_eq!(path, SIGNAL_PATH);
        let q: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(query).unwrap();
        let check = |role: &str, client: &str, now: i64| {
            signaling.verify(
                &q["channel"],
                role,
                client,
                q["expires"].parse().unwrap(),
                &q["signature"],
                now,
            )
        };
        let admitted = check("viewer", "patient-ab12", 1_001).unwrap();
        assert_eq!(admitted.channel, visit);
        assert_eq!(admitted.role, SignalRole::Viewer);
        // Another side, another participant, after it expired, another server's key: refused.
        assert_eq!(check("master", "patient-ab12", 1_001), None);
        assert_eq!(check("viewer", "host-ab12", 1_001), None);
        assert_eq!(
            check("viewer", "patient-ab12", 1_000 + CONNECT_WITHIN_SECS),
            None
        );
        let other = LocalSignaling::generate();
        assert_eq!(
            other.verify(
                &q["channel"],
                "viewer",
                "patient-ab12",
                q["expires"].parse().unwrap(),
                &q["signature"],
                1_001
            ),
            None
        );
    }
}
