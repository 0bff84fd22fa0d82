// The patient's access log: who did what with their record, and each entry's seal checked in this
// browser: the checkpoint's signature by the log's key (pinned in config.json, which the API does
// not serve), then the inclusion proof (RFC 9162) from the entry's leaf hash to that checkpoint's
// root.
import { $, api, item, session, when } from './common.js';

// What each logged action means, in the patient's words.
const ACTIONS = {
  'access_log.read': 'looked at this access log',
  'appointment.cancel': 'cancelled an appointment',
  'appointment.create': 'booked an appointment',
  'appointment.list': 'looked at your appointments',
  'appointment.read': 'looked at an appointment',
  'appointment.reschedule': 'moved an appointment',
  'balance.read': 'looked at your balance',
  'charge.create': 'added a charge',
  'feedback.create': 'sent feedback',
  'feedback.list': 'read your feedback',
  'feedback.resolve': 'answered your feedback',
  'hold.create': 'held a time for you',
  'hold.offer': 'offered you a time from the waitlist',
  'hold.sweep': 'released a time held for you',
  'notification.bounce': 'recorded that a message to you bounced',
  'notification.complaint': 'recorded that you reported a message as spam',
  'notification.fail': 'could not deliver a message to you',
  'notification.optout': 'recorded that you opted out of texts',
  'notification.send': 'sent you a message',
  'notification_preferences.update': 'changed your notification choices',
  'patient.create': 'created your record',
  'patient.read': 'looked at your details',
  'patient.search': 'found you in a search',
  'refusals.aggregate': 'tried to reach your records',
  'patient.update': 'changed your details',
  'notification_preferences.read': 'looked at your notification choices',
  'reply.replay': 'repeated an earlier answer to a retried request',
  'payment.create': 'started a payment',
  'payment.update': 'recorded a payment update',
  'waitlist.create': 'put you on a waitlist',
  'waitlist.list': 'looked at your waitlist entries',
};

function who(by) {
  if (by.you) return 'You';
  if (by.kind === 'system') return "The practice's system";
  if (by.kind === 'processor') return 'The payment processor';
  return by.name ? `${by.name} (${by.role})` : `Someone (${by.role || 'staff'})`;
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function sha256(...parts) {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { joined.set(part, at); at += part.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

// RFC 9162 section 2.1.3.2: the root an inclusion proof leads to from a leaf.
async function rootFromProof(index, size, leaf, proof) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// The checkpoint's origin, size and root hash (its first three lines), if its signature is the log
// key's.
async function checkpointTree(checkpoint, auditLog) {
  if (!checkpoint || !(await signedByLog(checkpoint, auditLog))) return null;
  const lines = checkpoint.split('\n');
  const size = Number(lines[1]);
  return Number.isSafeInteger(size) && size >= 0 && lines[2] ? { origin: lines[0], size, root: lines[2] } : null;
}

// The last signed checkpoint this browser verified, per log: its size and root (public values,
// nothing about the patient), kept in local storage so that the next visit can compare.
const REMEMBERED = 'practica.auditCheckpoint:';

// What a newly verified checkpoint says against the one remembered: a smaller log was rolled back,
// the same size with another root was forked; a larger one is remembered in its place. (A fork
// that also grew the log needs a consistency proof, which the API does not serve yet.)
function continuity(tree) {
  const key = REMEMBERED + tree.origin;
  let before = null;
  try { before = JSON.parse(localStorage.getItem(key)); } catch { before = null; }
  const known = before && Number.isSafeInteger(before.size) && typeof before.root === 'string';
  if (known && tree.size < before.size) {
    return `Warning: the log now has ${tree.size} entries, fewer than the ${before.size} this browser checked before. Please tell the practice.`;
  }
  if (known && tree.size === before.size && tree.root !== before.root) {
    return "Warning: the log's signed record differs from the one of the same size this browser checked before. Please tell the practice.";
  }
  if (!known || tree.size > before.size) localStorage.setItem(key, JSON.stringify({ size: tree.size, root: tree.root }));
  return '';
}

// A C2SP signed note: the text (ending in a newline), a blank line, then lines
// `— <key name> base64(key ID ‖ signature)`; for the log's ECDSA P-256 key the key ID is the first
// four bytes of SHA-256 of its SubjectPublicKeyInfo and the signature is ASN.1 DER over the text.
async function signedByLog(note, auditLog) {
  const at = note.lastIndexOf('\n\n');
  if (!auditLog || at < 0) return false;
  const text = new TextEncoder().encode(note.slice(0, at + 1));
  const spki = fromBase64(auditLog.publicKey);
  const keyId = (await sha256(spki)).slice(0, 4);
  const key = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  for (const line of note.slice(at + 2).split('\n')) {
    const [name, encoded, extra] = line.startsWith('\u2014 ') ? line.slice(2).split(' ') : [];
    if (name !== auditLog.keyName || !encoded || extra !== undefined) continue;
    let bytes;
    try { bytes = fromBase64(encoded); } catch { continue; }
    const raw = bytes.slice(0, 4).every((b, i) => b === keyId[i]) ? derToRaw(bytes.slice(4)) : null;
    if (raw && (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, raw, text))) return true;
  }
  return false;
}

// An ASN.1 DER ECDSA signature (a SEQUENCE of two INTEGERs) as the 64 bytes r ‖ s WebCrypto takes.
function derToRaw(der) {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const raw = new Uint8Array(64);
  let at = 2;
  for (let half = 0; half < 2; half += 1) {
    if (der[at] !== 0x02) return null;
    const length = der[at + 1];
    let integer = der.slice(at + 2, at + 2 + length);
    while (integer.length > 32 && integer[0] === 0) integer = integer.slice(1);
    if (integer.length > 32 || at + 2 + length > der.length) return null;
    raw.set(integer, half * 32 + 32 - integer.length);
    at += 2 + length;
  }
  return at === der.length ? raw : null;
}

async function sealStatus(entry, tree, checkpoint) {
  if (!entry.inclusion) return 'Not sealed yet: entries are sealed within minutes.';
  if (!checkpoint) return 'Sealed; no checkpoint to check it against yet.';
  if (!tree) return "Warning: the log's signed record does not carry the practice's signature. Please tell the practice.";
  const index = entry.inclusion.leafIndex;
  if (!Number.isSafeInteger(index) || index < 0 || index >= tree.size) {
    return 'Warning: this entry is placed outside the signed log. Please tell the practice.';
  }
  const root = await rootFromProof(
    entry.inclusion.leafIndex,
    tree.size,
    fromBase64(entry.inclusion.leafHash),
    entry.inclusion.proof.map(fromBase64),
  );
  const expected = fromBase64(tree.root);
  const same = root && root.length === expected.length && root.every((b, i) => b === expected[i]);
  return same
    ? `Sealed: entry ${entry.inclusion.leafIndex + 1} of ${tree.size}, checked in this browser.`
    : 'Warning: this entry does not match the signed log. Please tell the practice.';
}

export async function showAccessLog() {
  $('access-status').textContent = 'Loading…';
  const log = await api('/v1/patients/me/access-log?limit=50');
  const tree = await checkpointTree(log.checkpoint, session.config?.auditLog);
  const rows = [];
  for (const entry of log.entries) {
    const refused = entry.count ? `refused ${entry.count} times in that hour` : 'refused';
    const outcome = entry.outcome === 'success' ? '' : ` (${entry.outcome === 'denied' ? refused : 'failed'})`;
    const row = item(
      `${who(entry.by)} ${ACTIONS[entry.action] || entry.action}${outcome}`,
      `${when(entry.at)} · ${await sealStatus(entry, tree, log.checkpoint)}`,
    );
    row.dataset.sealed = entry.inclusion ? 'yes' : 'no';
    rows.push(row);
  }
  $('access-log').replaceChildren(...(rows.length ? rows : [item('Nothing yet.')]));
  const seal = tree ? ` The log's signed record of ${tree.size} entries carries the practice's signature, checked in this browser.` : '';
  const warning = tree ? continuity(tree) : '';
  $('access-status').textContent = `${warning ? `${warning} ` : ''}${log.entries.length} most recent entries${log.next ? ' (older ones exist)' : ''}.${seal}`;
  $('show-access').textContent = 'Refresh the access log';
}

