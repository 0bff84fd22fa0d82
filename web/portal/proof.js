// The patient's access log: who did what with their record, and each entry's seal checked in this
// browser: the checkpoint's signature by the log's key (pinned in config.json, which the API does
// not serve); the entry's own bytes, which must hash to its leaf and name the patient (her salted
// commitment), and from which what the page shows is read; the inclusion proof (RFC 9162) from
// that leaf to the checkpoint's root; and, against the checkpoint this browser checked last time,
// a consistency proof (RFC 9162) that the log only grew since; and, where the practice names
// witnesses, their cosignatures of the checkpoint (k of them, as config.json says).
import { $, api, item, session, show, when } from './common.js';

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
  'record.export': 'made a copy of your whole record',
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
  'waitlist.read': 'looked at a waitlist entry of yours',
  'waitlist.lapse': 'closed your waitlist request when its offer lapsed',
  'appointment.check_in': 'checked you in',
  'appointment.complete': 'recorded your visit as completed',
  'appointment.no_show': 'recorded that you did not come',
  'waitlist.delete': 'took you off a waitlist',
  'patient.email.verify': 'confirmed your email address',
  'message.list': 'looked at which messages were sent to you',
  'patient.email.replace': 'changed your email address',
  'series.create': 'booked repeating visits',
  'series.list': 'looked at your repeating visits',
  'series.read': 'looked at your repeating visits',
  'series.cancel': 'cancelled repeating visits',
  'series.move': 'moved repeating visits',
  'feed.read': 'showed your visit in a calendar feed',
  'consent.list': 'looked at your consents',
  'consent.read': 'looked at a consent you signed',
  'consent.sign': 'recorded your signature of a consent',
  'consent.withdraw': 'recorded that you withdrew a consent',
  'form.list': 'looked at your forms',
  'form.read': 'read your answers to a form',
  'form.draft': 'saved a draft of your answers to a form',
  'form.submit': 'recorded your answers to a form',
  'visit.read': 'opened the room of your online visit',
  'visit.join': 'joined your online visit',
  'visit.admit': 'let you into your online visit',
  'visit.leave': 'left your online visit',
};

// The same actions when she did them herself.
const OWN_ACTIONS = {
  'hold.create': 'held a time',
  'waitlist.create': 'joined a waitlist',
  'waitlist.delete': 'left a waitlist',
  'consent.sign': 'signed a consent',
  'consent.withdraw': 'withdrew a consent',
  'form.submit': 'sent your answers to a form',
  'form.draft': 'saved a draft of a form',
  'visit.join': 'joined the waiting room of an online visit',
  'visit.leave': 'left an online visit',
};

const actionWords = (action, you) => (you && OWN_ACTIONS[action]) || ACTIONS[action] || action;

// The subject of the session's token (the identity provider signed it; the page only reads it).
function tokenSubject() {
  try {
    const part = session.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='))).sub || null;
  } catch {
    return null;
  }
}

// The role an entry's actor acted in: the most privileged one their token carried.
function acting(roles) {
  return ['admin', 'staff', 'provider', 'patient'].find((r) => Array.isArray(roles) && roles.includes(r));
}

function who(by) {
  if (by.you) return 'You';
  if (by.kind === 'system') return "The practice's system";
  if (by.kind === 'processor') return 'The payment processor';
  return by.name ? `${by.name} (${by.role})` : `Someone (${by.role || 'staff'})`;
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function fromHex(text) {
  return Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function same(a, b) {
  return a && b && a.length === b.length && a.every((x, i) => x === b[i]);
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
  if (!Number.isSafeInteger(size) || size < 0 || !lines[2]) return null;
  const time = Number((lines.find((l) => l.startsWith('time ')) || '').slice(5));
  const tree = { origin: lines[0], size, root: lines[2], time: Number.isSafeInteger(time) ? time : null };
  const vkeys = Array.isArray(auditLog.witnesses) ? [...new Set(auditLog.witnesses)] : [];
  if (vkeys.length) {
    const need = Math.max(1, Math.min(vkeys.length, auditLog.witnessQuorum || vkeys.length));
    tree.witnesses = { ...(await cosigners(checkpoint, vkeys)), need };
    tree.witnesses.ok = !tree.witnesses.bad.length && !tree.witnesses.unsupported && tree.witnesses.good.length >= need;
  }
  return tree;
}

// Why the entries are not checked when the witnesses have not confirmed the signed record.
function witnessNote({ size, time, witnesses: { good, bad, need, unsupported } }) {
  if (bad.length) return ` Warning: a witness's signature on the log's record does not verify (${bad.join(', ')}). Please tell the practice.`;
  if (unsupported) return " This browser cannot check the witnesses' signatures, so the entries are not checked here; a current browser can.";
  if (time !== null && Date.now() / 1000 - time > 15 * 60) {
    return ` Warning: the practice's independent witnesses have not confirmed its signed record of ${size} entries for over 15 minutes (${good.length} of the ${need} required). Please tell the practice.`;
  }
  return ` The practice's independent witnesses have not yet confirmed its newest signed record (${good.length} of the ${need} required): the entries are checked here once they do; refresh in a minute.`;
}

// The practice's witnesses (verifier keys in config.json) that cosigned the checkpoint (C2SP
// tlog-cosignature v1, Ed25519), checked here: `good` verify; `bad` carry a witness's name and key
// ID but do not (a forgery).
async function cosigners(note, vkeys) {
  const at = note.lastIndexOf('\n\n');
  const body = note.slice(0, at + 1);
  const lines = note.slice(at + 2).split('\n').filter((l) => l.startsWith('\u2014 '));
  const text = (t) => new TextEncoder().encode(t);
  const good = [];
  const bad = [];
  for (const vkey of vkeys) {
    const [name, , encoded] = vkey.split(/\+(.*?)\+(.*)/s);
    const material = encoded ? fromBase64(encoded) : [];
    if (material.length !== 33 || material[0] !== 4) continue;
    const id = (await sha256(text(`${name}\n`), material)).slice(0, 4);
    let key;
    try {
      key = await crypto.subtle.importKey('raw', material.slice(1), { name: 'Ed25519' }, false, ['verify']);
    } catch {
      return { good, bad, unsupported: true }; // a browser without WebCrypto Ed25519
    }
    let seen = false;
    let valid = true;
    for (const line of lines) {
      const [lineName, sig, extra] = line.slice(2).split(' ');
      let bytes = [];
      try { bytes = fromBase64(sig || ''); } catch { /* not base64: not a line of this witness */ }
      if (lineName !== name || extra !== undefined || !same(bytes.slice(0, 4), id)) continue;
      seen = true;
      const time = bytes.length === 76 ? new DataView(bytes.buffer, 4, 8).getBigUint64(0) : null;
      valid = valid && time !== null && time < 2n ** 63n
        && (await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes.slice(12), text(`cosignature/v1\ntime ${time}\n${body}`)));
    }
    if (seen) (valid ? good : bad).push(name);
  }
  return { good, bad };
}

// The last signed checkpoint this browser verified, per log: its size and root (public values,
// nothing about the patient), kept in local storage so that the next visit can compare.
const REMEMBERED = 'practica.auditCheckpoint:';

function halve(n) {
  return Math.floor(n / 2);
}

// RFC 9162 section 2.1.4.2: whether the tree of `m` leaves with root `oldRoot` is a prefix of the
// tree of `n` leaves with root `newRoot` (0 < m < n).
async function consistent(m, n, oldRoot, newRoot, proof) {
  let rest = proof;
  let seed = oldRoot;
  let p = m;
  while (p % 2 === 0) p = halve(p);
  if (p !== 1) {
    if (!rest.length) return false;
    [seed, ...rest] = rest;
  }
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) { fn = halve(fn); sn = halve(sn); }
  let fr = seed;
  let sr = seed;
  for (const c of rest) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await sha256(Uint8Array.of(1), c, fr);
      sr = await sha256(Uint8Array.of(1), c, sr);
      while (fn % 2 === 0 && fn !== 0) { fn = halve(fn); sn = halve(sn); }
    } else {
      sr = await sha256(Uint8Array.of(1), sr, c);
    }
    fn = halve(fn);
    sn = halve(sn);
  }
  return sn === 0 && same(fr, oldRoot) && same(sr, newRoot);
}

// What a newly verified checkpoint says against the one remembered: a smaller log was rolled back,
// the same size with another root was forked, a larger one must come with a consistency proof from
// the remembered one (else it was rewritten); only a checkpoint shown to extend it is remembered.
async function continuity(tree) {
  const key = REMEMBERED + tree.origin;
  let before = null;
  try { before = JSON.parse(localStorage.getItem(key)); } catch { before = null; }
  const known = before && Number.isSafeInteger(before.size) && before.size > 0 && typeof before.root === 'string';
  if (known && tree.size < before.size) {
    return { warning: `Warning: the log now has ${tree.size} entries, fewer than the ${before.size} this browser checked before. Please tell the practice.` };
  }
  if (known && tree.size === before.size && tree.root !== before.root) {
    return { warning: "Warning: the log's signed record differs from the one of the same size this browser checked before. Please tell the practice." };
  }
  if (known && tree.size > before.size) {
    let answer;
    try {
      answer = await api(`/v1/audit/consistency?from=${before.size}&to=${tree.size}`);
    } catch {
      return { warning: `Warning: the practice did not show that its log of ${tree.size} entries extends the ${before.size} this browser checked before; until it does, these seals are not checked against that earlier record.` };
    }
    let extended = false;
    try {
      extended = answer && answer.from === before.size && answer.to === tree.size && Array.isArray(answer.proof)
        && (await consistent(before.size, tree.size, fromBase64(before.root), fromBase64(tree.root), answer.proof.map(fromBase64)));
    } catch {
      extended = false;
    }
    if (!extended) {
      return { warning: `Warning: the log of ${tree.size} entries does not extend the ${before.size} this browser checked before: it was rewritten. Please tell the practice.` };
    }
  }
  localStorage.setItem(key, JSON.stringify({ size: tree.size, root: tree.root }));
  return { note: known && tree.size > before.size ? ` It extends the log of ${before.size} entries this browser checked before.` : '' };
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

// An entry's own bytes, when it came with them: checked to name the patient, and read for what
// the page shows. `null` for an entry without bytes (sealed before entries carried them, or not
// sealed yet); `{ bad }` for bytes that are not an entry.
async function sealedEntry(entry, patientId) {
  // (patientId: her token's subject, never the API's word.)
  const inclusion = entry.inclusion;
  if (!inclusion || typeof inclusion.entry !== 'string') return null;
  let bytes;
  let doc;
  try {
    bytes = fromBase64(inclusion.entry);
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { bad: true };
  }
  const a = (doc && doc.attrs) || {};
  const opening = typeof inclusion.opening === 'string' && /^[0-9a-f]{32}$/.test(inclusion.opening) ? inclusion.opening : null;
  const mine = opening ? `c:${hex(await sha256(fromHex(opening), new TextEncoder().encode(patientId)))}` : null;
  const name = typeof a.actor_name === 'string' && !a.actor_name.startsWith('c:') ? a.actor_name : undefined;
  return {
    leaf: await sha256(Uint8Array.of(0), bytes),
    namesYou: Boolean(mine) && Array.isArray(a.patient_ids) && a.patient_ids.includes(mine),
    view: {
      action: String(a.action),
      outcome: String(a.outcome),
      at: Number.isSafeInteger(a.at) ? new Date(a.at * 1000).toISOString() : entry.at,
      // An aggregate of refusals counts hers apart (its total may include others').
      count: Number.isSafeInteger(a.patient_counts?.[mine]) ? a.patient_counts[mine] : (Number.isSafeInteger(a.count) ? a.count : undefined),
      by: { you: Boolean(mine) && a.actor === mine, kind: a.agent_kind, role: acting(a.roles), name },
    },
  };
}

async function sealStatus(entry, sealed, tree, checkpoint, bytesFrom) {
  if (!entry.inclusion) return 'Not sealed yet: entries are sealed within minutes; what it says is the practice\'s description until then.';
  if (!checkpoint) return 'Sealed; no checkpoint to check it against yet.';
  if (!tree) return "Warning: the log's signed record does not carry the practice's signature. Please tell the practice.";
  if (tree.witnesses && !tree.witnesses.ok) return 'Not checked: see the note about the witnesses.';
  if (sealed && (sealed.bad || !sealed.namesYou)) {
    return "Warning: this entry's sealed record is not about you. Please tell the practice.";
  }
  const index = entry.inclusion.leafIndex;
  if (!Number.isSafeInteger(index) || index < 0 || index >= tree.size) {
    return 'Warning: this entry is placed outside the signed log. Please tell the practice.';
  }
  if (!sealed && Number.isSafeInteger(bytesFrom) && index >= bytesFrom) {
    return 'Warning: this entry came without its sealed record. Please tell the practice.';
  }
  // With its bytes, the leaf is what they hash to, never what the server says it is.
  const leaf = sealed ? sealed.leaf : fromBase64(entry.inclusion.leafHash);
  const root = await rootFromProof(index, tree.size, leaf, entry.inclusion.proof.map(fromBase64));
  if (!same(root, fromBase64(tree.root))) return 'Warning: this entry does not match the signed log. Please tell the practice.';
  return sealed
    ? `Sealed: entry ${index + 1} of ${tree.size}, its record checked in this browser.`
    : `Entry ${index + 1} of ${tree.size} is in the signed log, checked in this browser; it was recorded before entries carried their own record, so what it says is the practice's description.`;
}

// The access log shown so far: the cursor to older entries, and how many entries are shown.
const shownLog = { next: null, count: 0, folded: 0 };

// A row of the access log: one entry, or the patient's own looks of one kind in a row, folded into
// one (only entries whose sealed record was checked; anything else stands alone).
function accessRow(group) {
  const [first] = group;
  const last = group[group.length - 1];
  const what = [...new Set(group.map((e) => e.what))];
  const row = group.length === 1
    ? item(first.text, `${when(first.at)} · ${first.status}`)
    : item(`You looked at your own records ${group.length} times: ${what.join('; ')}`,
      `${when(last.at)} to ${when(first.at)} · ${group.length} entries, each sealed, its record checked in this browser.`);
  row.dataset.sealed = group.every((e) => e.sealed) ? 'yes' : 'no';
  return row;
}

// Her own reads in a row, each sealed and checked, fold together; anything else stands alone.
function foldable(a, b) {
  return a.ownRead && b.ownRead && a.ok && b.ok;
}

export async function showAccessLog(older = false) {
  $('access-status').textContent = 'Loading…';
  const query = new URLSearchParams({ limit: '50' });
  if (older && shownLog.next) query.set('cursor', shownLog.next);
  const log = await api(`/v1/patients/me/access-log?${query}`);
  const tree = await checkpointTree(log.checkpoint, session.config?.auditLog);
  // Her id as her sign-in says it (the identity provider's token, not the API's answer).
  const me = tokenSubject();
  if (!me || log.patientId !== me) {
    $('access-log').replaceChildren(item('Warning: this access log is not about you. Please tell the practice.'));
    $('access-status').textContent = '';
    return;
  }
  const bytesFrom = session.config?.auditLog?.bytesFrom;
  const described = [];
  for (const entry of log.entries) {
    const sealed = await sealedEntry(entry, me);
    // What a sealed entry's bytes say, once they are shown to be hers; else the server's words.
    const shown = sealed && sealed.view && sealed.namesYou ? sealed.view : entry;
    const refused = shown.count ? `refused ${shown.count} times in that hour` : 'refused';
    const outcome = shown.outcome === 'success' ? '' : ` (${shown.outcome === 'denied' ? refused : 'failed'})`;
    const status = await sealStatus(entry, sealed, tree, log.checkpoint, bytesFrom);
    described.push({
      text: `${who(shown.by)} ${actionWords(shown.action, shown.by?.you)}${outcome}`,
      at: shown.at,
      status,
      sealed: Boolean(entry.inclusion),
      what: actionWords(shown.action, shown.by?.you),
      ownRead: Boolean(shown.by?.you) && shown.outcome === 'success' && /\.(list|read)$/.test(shown.action),
      ok: status.startsWith('Sealed: '),
    });
  }
  const groups = [];
  for (const entry of described) {
    const current = groups[groups.length - 1];
    if (current && foldable(current[current.length - 1], entry)) current.push(entry);
    else groups.push([entry]);
  }
  const rows = groups.map(accessRow);
  if (!older) Object.assign(shownLog, { count: 0, folded: 0 });
  shownLog.next = log.next || null;
  shownLog.count += described.length;
  shownLog.folded += described.length - groups.length;
  if (older) $('access-log').append(...rows);
  else $('access-log').replaceChildren(...(rows.length ? rows : [item('Nothing yet.')]));
  show('access-older', Boolean(log.next));
  const witnessed = tree && (!tree.witnesses || tree.witnesses.ok);
  const cosigned = witnessed && tree.witnesses ? ` Cosigned by ${tree.witnesses.good.join(', ')}, who saw the same log.` : '';
  const seal = tree ? ` The log's signed record of ${tree.size} entries carries the practice's signature, checked in this browser.${cosigned}` : '';
  // Only a record the witnesses confirmed is compared with, and remembered as, the last one seen.
  const { warning = '', note = '' } = witnessed ? await continuity(tree) : (tree ? { note: witnessNote(tree) } : {});
  const folded = shownLog.folded ? ' Your own looks at your records in a row are shown together.' : '';
  $('access-status').textContent = `${warning ? `${warning} ` : ''}${shownLog.count} most recent entries${log.next ? ' (older ones exist)' : ''}.${folded}${seal}${note}`;
  $('show-access').textContent = 'Refresh the access log';
}
