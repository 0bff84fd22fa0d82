//! The online visits' signaling relay of `practica serve`: a WebSocket at `/local/signal` that
//! speaks Amazon Kinesis Video Streams' signaling messages, so the visit page runs the same code
//! on a laptop as deployed. A connection needs an address the visit room signed for one
//! participant (`shared::adapters::local_signaling`); on each visit's channel the provider's side
//! is the master and the patient a viewer. A viewer's messages go to the master, the master's to
//! the viewer it names; nothing is kept, nothing is logged but the counts. Session descriptions
//! and candidates only: media goes between the browsers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::clock::Clock;
use serde::Deserialize;
use shared::adapters::local_signaling::{Admitted, LocalSignaling, SIGNAL_PATH};
use shared::signaling::SignalRole;
use tokio::sync::mpsc;

/// The largest message a participant may send (a session description is a few kilobytes).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Default)]
struct Channel {
    master: Option<(String, mpsc::UnboundedSender<String>)>,
    viewers: HashMap<String, mpsc::UnboundedSender<String>>,
}

#[derive(Clone)]
struct Relay {
    signaling: Arc<LocalSignaling>,
    clock: Arc<dyn Clock>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

#[derive(Deserialize)]
struct Address {
    channel: String,
    role: String,
    client: String,
    expires: i64,
    signature: String,
}

/// What a participant sends, as Kinesis Video Streams' signaling takes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    action: String,
    message_payload: String,
    #[serde(default)]
    recipient_client_id: Option<String>,
}

pub fn routes(signaling: Arc<LocalSignaling>, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route(SIGNAL_PATH, get(connect))
        .with_state(Relay {
            signaling,
            clock,
            channels: Arc::default(),
        })
}

async fn connect(
    State(relay): State<Relay>,
    Query(address): Query<Address>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let now = relay.clock.now().as_second();
    let Some(admitted) = relay.signaling.verify(
        &address.channel,
        &address.role,
        &address.client,
        address.expires,
        &address.signature,
        now,
    ) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| relay.serve(socket, admitted))
}

impl Relay {
    async fn serve(self, socket: WebSocket, who: Admitted) {
        let channel = who.channel.to_string();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        {
            let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            let room = channels.entry(channel.clone()).or_default();
            match who.role {
                // A master that reconnects replaces its earlier connection.
                SignalRole::Master => room.master = Some((who.client.clone(), tx)),
                SignalRole::Viewer => {
                    room.viewers.insert(who.client.clone(), tx);
                }
            }
        }
        let (mut sink, mut stream) = futures_util::StreamExt::split(socket);
        let forward = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if futures_util::SinkExt::send(&mut sink, Message::Text(text.into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut stream).await {
            let Message::Text(text) = message else {
                if matches!(message, Message::Close(_)) {
                    break;
                }
                continue;
            };
            self.route(&channel, &who, text.as_str());
        }
        forward.abort();
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(room) = channels.get_mut(&channel) {
            match who.role {
                SignalRole::Master => {
                    if room.master.as_ref().is_some_and(|(c, _)| *c == who.client) {
                        room.master = None;
                    }
                }
                SignalRole::Viewer => {
                    room.viewers.remove(&who.client);
                }
            }
            if room.master.is_none() && room.viewers.is_empty() {
                channels.remove(&channel);
            }
        }
    }

    /// Relays one message: a viewer's to the master, the master's to the viewer it names; one
    /// that is not a signaling message, or names nobody connected, is dropped (as Kinesis does).
    fn route(&self, channel: &str, from: &Admitted, text: &str) {
        let Ok(sent) = serde_json::from_str::<Sent>(text) else {
            return;
        };
        if !matches!(
            sent.action.as_str(),
            "SDP_OFFER" | "SDP_ANSWER" | "ICE_CANDIDATE"
        ) {
            return;
        }
        let delivered = serde_json::json!({
            "messageType": sent.action,
            "messagePayload": sent.message_payload,
            "senderClientId": from.client,
        })
        .to_string();
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let Some(room) = channels.get(channel) else {
            return;
        };
        let to = match from.role {
            SignalRole::Viewer => room.master.as_ref().map(|(_, tx)| tx),
            SignalRole::Master => sent
                .recipient_client_id
                .as_ref()
                .and_then(|id| room.viewers.get(id)),
        };
        if let Some(tx) = to {
            let _ = tx.send(delivered);
        }
    }
}
