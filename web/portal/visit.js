// An online visit's room: a camera and microphone check, the waiting room, and the video between
// the patient's and the provider's browsers (WebRTC: media goes between the two, encrypted;
// the server carries only the session descriptions, through the address the room gives each
// participant it lets in). The safety code is derived from both sides' DTLS certificates: when
// both people read the same code, nobody is in the middle.
import { $, api, newKey, show, when } from './common.js';

const v = { id: null, room: null, stream: null, pc: null, ws: null, peer: null, poll: null, left: false };

const status = (text) => { $('visit-status').textContent = text; };
const room = () => api(`/v1/appointments/${encodeURIComponent(v.id)}/visit`);
const step = (name) => api(`/v1/appointments/${encodeURIComponent(v.id)}/visit/${name}`, { method: 'POST', key: newKey(), json: {} });
const b64 = (value) => btoa(unescape(encodeURIComponent(JSON.stringify(value))));
const unb64 = (text) => JSON.parse(decodeURIComponent(escape(atob(text))));

// Opens the room of the online visit `id` (the patient's, or the provider's side's).
export async function openVisit(id) {
  if (v.pc) return;
  Object.assign(v, { id, left: false, peer: null });
  if (!v.wired) wire();
  show('visit', true);
  $('visit').scrollIntoView({ block: 'start' });
  $('visit-title').focus();
  $('visit-code').textContent = '';
  v.room = await room();
  const host = v.room.role === 'host';
  $('visit-intro').textContent = host
    ? 'You are the provider here: the patient waits until you let her in.'
    : 'Check your camera and microphone, then join the waiting room: your provider lets you in.';
  if (!v.room.videoAvailable) return status('Video visits are not set up here yet; the practice will call you.');
  if (!v.room.open) return status(`The room opens at ${when(v.room.opensAt)} and closes at ${when(v.room.closesAt)}.`);
  await preview();
  show('visit-join', !host);
  if (host) connectWhenLetIn();
  else status('Not in the waiting room yet.');
}

function wire() {
  v.wired = true;
  $('visit-join').addEventListener('click', join);
  $('visit-admit').addEventListener('click', admit);
  $('visit-leave').addEventListener('click', leave);
  $('visit-mute').addEventListener('click', () => toggle('audio', 'visit-mute', 'Mute', 'Unmute'));
  $('visit-camera').addEventListener('click', () => toggle('video', 'visit-camera', 'Turn camera off', 'Turn camera on'));
  for (const id of ['visit-cameras', 'visit-mics']) $(id).addEventListener('change', () => preview().catch(fail));
}

const fail = (error) => { if (!error.signedOut) status(`Something went wrong: ${error.message}`); };

// The camera and microphone chosen (the first ones at first), shown to her own self, muted.
async function preview() {
  const camera = $('visit-cameras').value;
  const mic = $('visit-mics').value;
  v.stream?.getTracks().forEach((t) => t.stop());
  try {
    v.stream = await navigator.mediaDevices.getUserMedia({
      video: camera ? { deviceId: { exact: camera } } : true,
      audio: mic ? { deviceId: { exact: mic } } : true,
    });
  } catch (error) {
    status(`Your camera or microphone could not be used (${error.name}): allow them for this page, or check they are connected.`);
    throw error;
  }
  $('visit-self').srcObject = v.stream;
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (id, kind, label) => {
    const chosen = v.stream.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    $(id).replaceChildren(...devices.filter((d) => d.kind === `${kind}input`)
      .map((d, i) => new Option(d.label || `${label} ${i + 1}`, d.deviceId, false, d.deviceId === chosen)));
  };
  fill('visit-cameras', 'video', 'Camera');
  fill('visit-mics', 'audio', 'Microphone');
  show('visit-devices', true);
  // A device changed during the visit: the other side gets the new tracks.
  for (const sender of v.pc?.getSenders() || []) {
    const track = v.stream.getTracks().find((t) => t.kind === sender.track?.kind);
    if (track) await sender.replaceTrack(track);
  }
}

function toggle(kind, button, on, off) {
  const track = v.stream?.getTracks().find((t) => t.kind === kind);
  if (!track) return;
  track.enabled = !track.enabled;
  $(button).textContent = track.enabled ? on : off;
  $(button).setAttribute('aria-pressed', String(!track.enabled));
}

async function join() {
  $('visit-join').disabled = true;
  try {
    await step('join');
    show('visit-join', false);
    status('In the waiting room: your provider will let you in.');
    connectWhenLetIn();
  } catch (error) {
    fail(error);
  } finally {
    $('visit-join').disabled = false;
  }
}

async function admit() {
  try {
    await step('admit');
    show('visit-admit', false);
    status('Letting the patient in…');
  } catch (error) {
    fail(error);
  }
}

// Reads the room every two seconds: the provider's side sees the patient waiting; each side
// connects once the room gives it an address.
function connectWhenLetIn() {
  clearInterval(v.poll);
  const look = async () => {
    try {
      v.room = await room();
      if (!v.room.open) return leave();
      if (v.room.role === 'host') {
        const waiting = v.room.patient === 'waiting';
        show('visit-admit', waiting);
        if (waiting && !v.peer) status('The patient is waiting.');
      }
      if (v.room.signaling && !v.ws) connect(v.room.signaling);
    } catch (error) {
      fail(error);
    }
  };
  look();
  v.poll = setInterval(look, 2000);
}

// The signaling connection and the peer connection: the patient offers, the provider answers.
function connect(signaling) {
  const url = new URL(signaling.url, location.href);
  if (url.protocol.startsWith('http')) url.protocol = url.protocol.replace('http', 'ws');
  const ws = new WebSocket(url);
  v.ws = ws;
  const master = signaling.role === 'master';
  const send = (action, payload) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({
    action, messagePayload: b64(payload), ...(master && v.peer ? { recipientClientId: v.peer } : {}),
  }));
  const peer = () => {
    v.pc?.close();
    const pc = new RTCPeerConnection({ iceServers: signaling.iceServers });
    v.pc = pc;
    v.stream.getTracks().forEach((t) => pc.addTrack(t, v.stream));
    pc.onicecandidate = ({ candidate }) => candidate && send('ICE_CANDIDATE', candidate);
    pc.ontrack = ({ streams }) => { $('visit-other').srcObject = streams[0]; };
    pc.onconnectionstatechange = () => connectionChanged(pc, master, send);
    return pc;
  };
  ws.onopen = async () => {
    status(master ? 'In the room. Waiting for the patient to connect…' : 'Connecting to your provider…');
    if (!master) await offer(peer(), send);
  };
  ws.onmessage = async ({ data }) => {
    const message = JSON.parse(data);
    const payload = unb64(message.messagePayload);
    if (message.messageType === 'SDP_OFFER' && master) {
      v.peer = message.senderClientId;
      // An ICE restart keeps the connection; a new one (she reconnected) gets a new one.
      let pc = v.pc;
      try {
        if (!pc || pc.signalingState === 'closed') throw new Error('none');
        await pc.setRemoteDescription(payload);
      } catch {
        pc = peer();
        await pc.setRemoteDescription(payload);
      }
      await pc.setLocalDescription(await pc.createAnswer());
      send('SDP_ANSWER', pc.localDescription);
    } else if (message.messageType === 'SDP_ANSWER' && !master) {
      await v.pc.setRemoteDescription(payload);
    } else if (message.messageType === 'ICE_CANDIDATE' && v.pc) {
      await v.pc.addIceCandidate(payload).catch(() => {});
    }
  };
  ws.onclose = () => {
    v.ws = null;
    // Lost: a new address from the room (admitted once, she needs no new admission).
    if (!v.left) setTimeout(() => v.room?.open && connectWhenLetIn(), 1000);
  };
}

async function offer(pc, send, iceRestart = false) {
  await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
  send('SDP_OFFER', pc.localDescription);
}

async function connectionChanged(pc, master, send) {
  const state = pc.connectionState;
  $('visit-connection').textContent = { connected: 'Connected', connecting: 'Connecting', disconnected: 'Reconnecting…', failed: 'Reconnecting…', closed: 'Ended', new: 'Starting' }[state] || state;
  if (state === 'connected') {
    status('Connected. Compare the safety code with the other person: if you both read the same one, nobody is listening in between.');
    $('visit-code').textContent = await safetyCode(pc);
    $('visit-path').textContent = await path(pc);
  }
  // A dropped connection: the patient's side restarts the connection (ICE restart).
  if (!master && (state === 'disconnected' || state === 'failed')) await offer(pc, send, true);
}

// The same short code on both sides when each sees the other's real certificate: a hash of the
// two certificates' fingerprints, in order.
async function safetyCode(pc) {
  const stats = await pc.getStats();
  let transport = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.remoteCertificateId) transport = s; });
  if (!transport) return '';
  const both = [stats.get(transport.localCertificateId).fingerprint, stats.get(transport.remoteCertificateId).fingerprint].sort();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(both.join('\n'))));
  const number = ((digest[0] << 24) >>> 0) + (digest[1] << 16) + (digest[2] << 8) + digest[3];
  const digits = String(number % 1e8).padStart(8, '0');
  return `${digits.slice(0, 4)} ${digits.slice(4)}`;
}

// Whether the media goes straight between the two browsers or through a relay (which sees only
// encrypted packets).
async function path(pc) {
  const stats = await pc.getStats();
  let relayed = false;
  stats.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      relayed = [s.localCandidateId, s.remoteCandidateId].some((id) => stats.get(id)?.candidateType === 'relay');
    }
  });
  return relayed ? 'Through a relay (it sees only encrypted video and sound)' : 'Direct between your browsers';
}

async function leave() {
  v.left = true;
  clearInterval(v.poll);
  v.ws?.close();
  v.pc?.close();
  v.pc = null;
  v.stream?.getTracks().forEach((t) => t.stop());
  v.stream = null;
  show('visit-admit', false);
  show('visit-join', false);
  $('visit-connection').textContent = '';
  $('visit-code').textContent = '';
  $('visit-path').textContent = '';
  status('You left the visit.');
  if (v.id) await step('leave').catch(() => {});
}
