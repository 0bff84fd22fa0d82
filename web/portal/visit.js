// An online visit's room: a camera and microphone check, the waiting room, and the video between
// the patient's and the provider's browsers (WebRTC: media goes between the two, encrypted;
// the server carries only the session descriptions, through the address the room gives each
// participant it lets in). Each page makes its DTLS certificate first and registers its
// fingerprint with the room when it joins (the API, which the signaling service is not); the
// connection must then be to the certificate the other side registered, or the page hangs up.
// The safety code is derived from both registered fingerprints, for the two people to compare.
import { $, api, newKey, show, when } from './common.js';

const v = { id: null, room: null, stream: null, pc: null, ws: null, peer: null, poll: null, left: false, cert: null };

const status = (text) => { $('visit-status').textContent = text; };
const room = () => api(`/v1/appointments/${encodeURIComponent(v.id)}/visit`);
const step = (name, json = {}) => api(`/v1/appointments/${encodeURIComponent(v.id)}/visit/${name}`, { method: 'POST', key: newKey(), json });
// The certificate's fingerprint as WebRTC writes it (`sha-256 AB:CD:...`).
const norm = (algorithm, value) => `${algorithm.toLowerCase()} ${value.toUpperCase()}`;
const fingerprint = (cert) => { const f = cert.getFingerprints()[0]; return norm(f.algorithm, f.value); };
const b64 = (value) => btoa(unescape(encodeURIComponent(JSON.stringify(value))));
const unb64 = (text) => JSON.parse(decodeURIComponent(escape(atob(text))));

// Opens the room of the online visit `id` (the patient's, or the provider's side's); once at a
// time (a link and a click at once open it once). In it already, nothing changes; in another
// visit's room, that one is left first.
export async function openVisit(id) {
  const inside = Boolean(v.pc || v.poll);
  if (v.opening || (inside && v.id === id)) return;
  v.opening = true;
  try {
    if (inside) await leave();
    await enter(id);
  } finally {
    v.opening = false;
  }
}

async function enter(id) {
  Object.assign(v, { id, left: false, peer: null });
  if (!v.wired) wire();
  $('visit-mute').textContent = 'Mute';
  $('visit-camera').textContent = 'Turn camera off';
  $('visit-connection').textContent = 'Not connected';
  show('visit-controls', false);
  show('visit', true);
  $('visit').scrollIntoView({ block: 'start' });
  $('visit-title').focus();
  $('visit-code').textContent = '';
  v.room = await room();
  const host = v.room.role === 'host';
  // Which visit this is, said in its title; her room has an address of its own, so a reload (after
  // signing in again) comes back to it.
  $('visit-title').textContent = `Online visit, ${when(v.room.startsAt)}`;
  if (!host) history.replaceState(null, '', '#/visit');
  $('visit-intro').textContent = host
    ? 'You are the provider here: the patient waits until you let them in.'
    : 'Check your camera and microphone, then join the waiting room: your provider lets you in.';
  if (!v.room.videoAvailable) return status('Video visits are not set up here yet; the practice will call you.');
  if (!v.room.open) return status(`The room opens on ${when(v.room.opensAt)} and closes on ${when(v.room.closesAt)}.`);
  await preview();
  v.cert = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
  show('visit-join', !host);
  show('visit-controls', true);
  if (host) {
    await step('join', { certificate: fingerprint(v.cert) });
    connectWhenLetIn();
  } else {
    $('visit-join').textContent = v.room.patient === 'admitted' ? 'Join the visit again' : 'Join the waiting room';
    status(v.room.patient === 'admitted' ? 'You were let in before: join again to reconnect.' : 'Not in the waiting room yet.');
  }
}

function wire() {
  v.wired = true;
  // Signed out: the call ends here (no request: the session is gone).
  document.addEventListener('practica:signed-out', () => { if (v.id) stop(); });
  // Another page opened before joining: the room closes (camera and microphone off); once joined,
  // it stays, so a visit goes on while she looks at another page.
  document.addEventListener('practica:page', () => {
    if (v.id && !v.poll) {
      stop();
      show('visit', false);
    }
  });
  $('visit-join').addEventListener('click', join);
  $('visit-admit').addEventListener('click', admit);
  $('visit-leave').addEventListener('click', leave);
  $('visit-mute').addEventListener('click', () => toggle('audio', 'visit-mute', 'Mute', 'Unmute'));
  $('visit-camera').addEventListener('click', () => toggle('video', 'visit-camera', 'Turn camera off', 'Turn camera on'));
  for (const id of ['visit-cameras', 'visit-mics']) $(id).addEventListener('change', () => preview().catch(fail));
}

// After leaving, work still under way (a device change, a room read) says nothing more.
const fail = (error) => { if (!error.signedOut && !v.left) status(`Something went wrong: ${error.message}`); };

// The camera and microphone chosen (the first ones at first), shown to her own self, muted.
async function preview() {
  const camera = $('visit-cameras').value;
  const mic = $('visit-mics').value;
  // Muted or with the camera off, she stays so on the new devices.
  const was = Object.fromEntries((v.stream?.getTracks() || []).map((t) => [t.kind, t.enabled]));
  v.stream?.getTracks().forEach((t) => t.stop());
  try {
    v.stream = await navigator.mediaDevices.getUserMedia({
      video: camera ? { deviceId: { exact: camera } } : true,
      audio: mic ? { deviceId: { exact: mic } } : true,
    });
    // Left (or signed out) while the devices were opening: they are closed again.
    if (v.left && v.id) {
      v.stream.getTracks().forEach((t) => t.stop());
      v.stream = null;
      return;
    }
  } catch (error) {
    if (!v.left) status(`Your camera or microphone could not be used (${error.name}): allow them for this page, or check they are connected.`);
    throw error;
  }
  for (const t of v.stream.getTracks()) t.enabled = was[t.kind] ?? true;
  $('visit-self').srcObject = v.stream;
  const stream = v.stream;
  const devices = await navigator.mediaDevices.enumerateDevices();
  if (v.left) return;
  const fill = (id, kind, label) => {
    const chosen = stream.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    $(id).replaceChildren(...devices.filter((d) => d.kind === `${kind}input`)
      .map((d, i) => new Option(d.label || `${label} ${i + 1}`, d.deviceId, false, d.deviceId === chosen)));
  };
  fill('visit-cameras', 'video', 'Camera');
  fill('visit-mics', 'audio', 'Microphone');
  show('visit-devices', true);
  // A device changed during the visit: the other side gets the new tracks.
  for (const sender of v.pc?.getSenders() || []) {
    const track = stream.getTracks().find((t) => t.kind === sender.track?.kind);
    if (track) await sender.replaceTrack(track);
  }
}

function toggle(kind, button, on, off) {
  const track = v.stream?.getTracks().find((t) => t.kind === kind);
  if (!track) return;
  track.enabled = !track.enabled;
  $(button).textContent = track.enabled ? on : off;
}

async function join() {
  $('visit-join').disabled = true;
  try {
    const joined = await step('join', { certificate: fingerprint(v.cert) });
    show('visit-join', false);
    status(joined.patient === 'admitted' ? 'Reconnecting to your provider…' : 'In the waiting room: your provider will let you in.');
    $('visit-status').focus();
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
    $('visit-status').focus();
  } catch (error) {
    fail(error);
  }
}

// Reads the room every second (every ten once connected): the provider's side sees the patient
// waiting; each side connects once the room gives it an address (so a patient let in is on her
// way within a second).
function connectWhenLetIn() {
  clearInterval(v.poll);
  let ticks = 0;
  const look = async () => {
    if (v.pc?.connectionState === 'connected' && ++ticks % 10) return;
    try {
      const now = await room();
      // Left while the room was being read: nothing more happens on this side.
      if (v.left) return;
      v.room = now;
      if (!v.room.open) return leave();
      if (v.room.role === 'host') {
        const waiting = v.room.patient === 'waiting';
        show('visit-admit', waiting);
        if (waiting && !v.peer) status('The patient is waiting.');
      }
      if (v.room.signaling && !v.ws) connect(v.room.signaling);
    } catch (error) {
      if (error.signedOut) stop();
      else fail(error);
    }
  };
  look();
  v.poll = setInterval(look, 1000);
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
    const pc = new RTCPeerConnection({ iceServers: signaling.iceServers, certificates: [v.cert] });
    v.pc = pc;
    // Closed on the other side (it left, or its page went): said at once, not when the
    // connection times out.
    const bye = pc.createDataChannel('bye', { negotiated: true, id: 0 });
    bye.onclose = () => {
      if (v.pc !== pc || v.left) return;
      $('visit-code').textContent = '';
      $('visit-connection').textContent = 'Reconnecting…';
      status(master ? 'The patient left or lost the connection; waiting for her to come back.' : 'Your provider left or lost the connection; reconnecting…');
    };
    v.stream.getTracks().forEach((t) => pc.addTrack(t, v.stream));
    pc.onicecandidate = ({ candidate }) => candidate && send('ICE_CANDIDATE', candidate);
    pc.ontrack = ({ streams }) => { $('visit-other').srcObject = streams[0]; };
    pc.onconnectionstatechange = () => connectionChanged(pc, master, send);
    return pc;
  };
  ws.onopen = async () => {
    if (v.left) return ws.close();
    status(master ? 'In the room. Waiting for the patient to connect…' : 'Connecting to your provider…');
    if (master) return;
    const pc = peer();
    await offer(pc, send);
    // The provider may not be there yet (nobody receives an offer then): the offer is sent
    // again until it is answered.
    const again = setInterval(() => {
      if (v.pc !== pc || ws.readyState !== WebSocket.OPEN) return clearInterval(again);
      if (pc.signalingState === 'have-local-offer') send('SDP_OFFER', pc.localDescription);
    }, 3000);
  };
  ws.onmessage = ({ data }) => receive(data).catch(() => {});
  const receive = async (data) => {
    const message = JSON.parse(data);
    const payload = unb64(message.messagePayload);
    // A description must name the certificate the other side registered with the room, or it is
    // not used: DTLS then lets no media go to anyone else.
    if (message.messageType.startsWith('SDP_') && !(await registered(payload))) {
      status('A connection not made with the other person\'s registered certificate was refused. If this goes on, please call the practice.');
      return;
    }
    if (message.messageType === 'SDP_OFFER' && master) {
      v.peer = message.senderClientId;
      // An ICE restart keeps the connection; a new page of hers (another certificate) gets a new
      // one.
      let pc = v.pc;
      try {
        if (!pc || pc.signalingState === 'closed' || certificates(pc.remoteDescription)[0] !== certificates(payload)[0]) throw new Error('new');
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

// Whether a session description's certificates are the one the other side registered (the room
// read now: a rejoin registers a new one).
const certificates = (description) => [...(description?.sdp || '').matchAll(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/gm)].map((m) => norm(m[1], m[2]));
async function registered(description) {
  v.room = await room();
  const named = certificates(description);
  const theirs = v.room.peerCertificate;
  return Boolean(theirs) && named.length > 0 && named.every((f) => f === norm(...theirs.split(' ')));
}

async function offer(pc, send, iceRestart = false) {
  await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
  send('SDP_OFFER', pc.localDescription);
}

async function connectionChanged(pc, master, send) {
  const state = pc.connectionState;
  $('visit-connection').textContent = { connected: 'Connected', connecting: 'Connecting', disconnected: 'Reconnecting…', failed: 'Reconnecting…', closed: 'Ended', new: 'Starting' }[state] || state;
  if (state === 'connected') {
    // The other side's certificate, as it registered it with the room (read now: a rejoin
    // registers a new one).
    v.room = await room();
    if (v.left) return;
    let remote = null;
    // The connection's statistics may lag its state by a moment.
    for (let tries = 0; tries < 20 && !remote; tries += 1) {
      remote = await remoteFingerprint(pc);
      if (!remote) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (!v.room.peerCertificate || remote !== norm(...v.room.peerCertificate.split(' '))) {
      pc.close();
      $('visit-connection').textContent = 'Stopped';
      status('This connection was not to the certificate the other person registered: it was stopped. Please call the practice.');
      return;
    }
    $('visit-intro').textContent = master ? 'You are in the visit with the patient.' : 'You are in the visit with your provider.';
    status('Connected, to the other person\'s own certificate. Compare the safety code aloud: if you both read the same one, nobody is listening in between.');
    $('visit').scrollIntoView({ block: 'start' });
    $('visit-code').textContent = await safetyCode(fingerprint(v.cert), remote);
    $('visit-path').textContent = await path(pc);
  }
  // A dropped connection: the patient's side restarts the connection (ICE restart).
  if (state === 'disconnected' || state === 'failed') {
    $('visit-code').textContent = '';
    status(master ? 'The patient left or lost the connection; waiting for her to come back.' : 'Your provider left or lost the connection; reconnecting…');
    if (!master) await offer(pc, send, true);
  }
}

// The certificate the connection was made with on the other side (`sha-256 AB:CD:...`).
async function remoteFingerprint(pc) {
  const stats = await pc.getStats();
  let transport = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.remoteCertificateId) transport = s; });
  const cert = transport && stats.get(transport.remoteCertificateId);
  return cert ? norm(cert.fingerprintAlgorithm, cert.fingerprint) : null;
}

// The same code on both sides: twelve digits (40 bits) of a hash of the two registered
// fingerprints, in order.
async function safetyCode(own, theirs) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode([own, theirs].sort().join('\n'))));
  let number = 0n;
  for (const byte of digest.slice(0, 5)) number = (number << 8n) + BigInt(byte);
  const digits = String(number % 1000000000000n).padStart(12, '0');
  return digits.match(/\d{4}/g).join(' ');
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

// Ends the call on this side: camera and microphone off, connections closed.
function stop() {
  v.left = true;
  clearInterval(v.poll);
  v.poll = null;
  v.ws?.close();
  v.pc?.close();
  v.pc = null;
  v.stream?.getTracks().forEach((t) => t.stop());
  v.stream = null;
  show('visit-controls', false);
}

async function leave() {
  stop();
  show('visit-admit', false);
  show('visit-join', false);
  $('visit-connection').textContent = 'Not connected';
  $('visit-code').textContent = '';
  $('visit-path').textContent = '';
  status(`You left the visit. To come back while it is open, open it again from your ${v.room?.role === 'host' ? 'calendar' : 'appointments'}.`);
  if (v.id) await step('leave').catch(() => {});
}
