//! The online visits' signaling relay of `practica serve`: a WebSocket at `/local/signal` that
//! speaks Amazon Kinesis Video Streams' signaling messages, so the visit page runs the same code
//! on a laptop as deployed. A connection needs an address the visit room signed for one
//! participant (`shared::adapters::local_signaling`); on each visit's channel the provider's side
//! is the master and the patient a viewer. A viewer's messages go to the master, the master's to
//! the viewer it names; nothing is kept, nothing is logged but the counts. Session descriptions
//! and candidates only: media goes between the browsers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::clock::Clock;
use serde::Deserialize;
use shared::adapters::local_signaling::{Address, Admitted, LocalSignaling, SIGNAL_PATH};
use shared::signaling::SignalRole;
use tokio::sync::mpsc;

/// The largest message (or frame) a participant may send (a session description is a few
/// kilobytes).
const MAX_MESSAGE: usize = 64 * 1024;
/// Messages queued for a participant who reads slowly; beyond, the connection is dropped.
const QUEUE: usize = 64;
/// Viewers one channel takes at once (the patient, on one device and another).
const MAX_VIEWERS: usize = 2;
/// Channels the relay carries at once (a practice's visits at one time, with room to spare).
const MAX_CHANNELS: usize = 500;

/// One connection: who, which (a reconnect of the same participant is another), and its queue.
struct Peer {
    client: String,
    connection: u64,
    tx: mpsc::Sender<String>,
}

#[derive(Default)]
struct Channel {
    master: Option<Peer>,
    viewers: Vec<Peer>,
}

#[derive(Clone)]
struct Relay {
    signaling: Arc<LocalSignaling>,
    clock: Arc<dyn Clock>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    connections: Arc<AtomicU64>,
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
            connections: Arc::default(),
        })
}

async fn connect(
    State(relay): State<Relay>,
    Query(address): Query<Address>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The portal's own pages only (the local-only guard has checked the host).
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin.is_some_and(|o| Some(o.split("://").nth(1).unwrap_or_default()) != host) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let now = relay.clock.now().as_second();
    let Some(admitted) = relay.signaling.verify(&address, now) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| relay.serve(socket, admitted))
}

impl Relay {
    /// Registers the connection on its channel (a participant connecting again replaces her
    /// earlier connection); none when the relay or the channel is full.
    fn join(&self, who: &Admitted, connection: u64, tx: mpsc::Sender<String>) -> bool {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let key = who.channel.to_string();
        if !channels.contains_key(&key) && channels.len() >= MAX_CHANNELS {
            return false;
        }
        let room = channels.entry(key).or_default();
        let peer = Peer {
            client: who.client.clone(),
            connection,
            tx,
        };
        match who.role {
            SignalRole::Master => room.master = Some(peer),
            SignalRole::Viewer => {
                room.viewers.retain(|v| v.client != who.client);
                if room.viewers.len() >= MAX_VIEWERS {
                    return false;
                }
                room.viewers.push(peer);
            }
        }
        true
    }

    /// Removes this connection (not a newer one of the same participant).
    fn part(&self, who: &Admitted, connection: u64) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let key = who.channel.to_string();
        if let Some(room) = channels.get_mut(&key) {
            if room
                .master
                .as_ref()
                .is_some_and(|m| m.connection == connection)
            {
                room.master = None;
            }
            room.viewers.retain(|v| v.connection != connection);
            if room.master.is_none() && room.viewers.is_empty() {
                channels.remove(&key);
            }
        }
    }

    async fn serve(self, socket: WebSocket, who: Admitted) {
        let connection = self.connections.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        if !self.join(&who, connection, tx) {
            return;
        }
        let channel = who.channel.to_string();
        // The connection ends with the room (whatever the page does).
        let left = (who.until - self.clock.now().as_second()).max(0);
        let closing = tokio::time::sleep(std::time::Duration::from_secs(left.unsigned_abs()));
        tokio::pin!(closing);
        let (mut sink, mut stream) = futures_util::StreamExt::split(socket);
        loop {
            tokio::select! {
                () = &mut closing => break,
                out = rx.recv() => {
                    let Some(text) = out else { break };
                    if futures_util::SinkExt::send(&mut sink, Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                incoming = futures_util::StreamExt::next(&mut stream) => {
                    match incoming {
                        Some(Ok(Message::Text(text))) => self.route(&channel, &who, connection, text.as_str()),
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    }
                }
            }
        }
        let _ = futures_util::SinkExt::close(&mut sink).await;
        self.part(&who, connection);
    }

    /// Relays one message: a viewer's to the master, the master's to the viewer it names; one
    /// that is not a signaling message, names nobody connected, or finds the reader's queue full
    /// (she is not reading) is dropped (as Kinesis does), and so is one from a connection the
    /// same participant has since replaced.
    fn route(&self, channel: &str, from: &Admitted, connection: u64, text: &str) {
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
        let current = match from.role {
            SignalRole::Master => room
                .master
                .as_ref()
                .is_some_and(|m| m.connection == connection),
            SignalRole::Viewer => room.viewers.iter().any(|v| v.connection == connection),
        };
        if !current {
            return;
        }
        let to = match from.role {
            SignalRole::Viewer => room.master.as_ref(),
            SignalRole::Master => sent
                .recipient_client_id
                .as_ref()
                .and_then(|id| room.viewers.iter().find(|v| &v.client == id)),
        };
        if let Some(peer) = to {
            let _ = peer.tx.try_send(delivered);
        }
    }
}
