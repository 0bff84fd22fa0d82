// The patient's access log: who did what with their record, and each entry's seal checked in this
// browser: the inclusion proof (RFC 9162) leads from the entry's leaf hash to the signed
// checkpoint's root.
import { $, api, item, when } from './common.js';

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

// The checkpoint's size and root hash (its second and third lines).
function checkpointTree(checkpoint) {
  const lines = (checkpoint || '').split('\n');
  const size = Number(lines[1]);
  return Number.isSafeInteger(size) && lines[2] ? { size, root: lines[2] } : null;
}

async function sealStatus(entry, tree) {
  if (!entry.inclusion) return 'Not sealed yet: entries are sealed within minutes.';
  if (!tree) return 'Sealed; no checkpoint to check it against yet.';
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
  const tree = checkpointTree(log.checkpoint);
    const rows = [];
  for (const entry of log.entries) {
    const outcome = entry.outcome === 'success' ? '' : ` (${entry.outcome === 'denied' ? 'refused' : 'failed'})`;
    const row = item(
      `${who(entry.by)} ${ACTIONS[entry.action] || entry.action}${outcome}`,
      `${when(entry.at)} · ${await sealStatus(entry, tree)}`,
    );
    row.dataset.sealed = entry.inclusion ? 'yes' : 'no';
    rows.push(row);
  }
  $('access-log').replaceChildren(...(rows.length ? rows : [item('Nothing yet.')]));
  $('access-status').textContent = `${log.entries.length} most recent entries${log.next ? ' (older ones exist)' : ''}.`;
  $('show-access').textContent = 'Refresh the access log';
}

