// The patient portal. The access token lives in this module's memory only (never in storage or a
// URL): a reload signs the patient out, and so does inactivity.
const INACTIVITY_MS = 15 * 60 * 1000;

let token = null;
let idleTimer = null;

const $ = (id) => document.getElementById(id);

function show(id, visible) {
  $(id).hidden = !visible;
}

// Shows what went wrong, unless it was the session ending (the sign-in page says that already).
function fail(prefix, error) {
  if (error?.signedOut) return;
  $('error').textContent = error ? `${prefix}${error.message}` : prefix;
  show('error', true);
}

async function api(path, options = {}) {
  const headers = { Accept: 'application/json', ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401 && token) {
    signOut('Your session ended. Please sign in again.');
    throw Object.assign(new Error('signed out'), { signedOut: true });
  }
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body?.detail || `The server answered ${response.status}.`);
    error.code = body?.code;
    throw error;
  }
  return body;
}

function resetIdle() {
  clearTimeout(idleTimer);
  if (token) idleTimer = setTimeout(() => signOut('You were signed out after 15 minutes without activity.'), INACTIVITY_MS);
}

function signOut(message) {
  token = null;
  show('error', false);
  catalog.providers = [];
  catalog.chosen = null;
  $('slots').replaceChildren();
  $('book-status').textContent = '';
  $('appointments-status').textContent = '';
  $('access').replaceChildren();
  $('access-status').textContent = '';
  $('show-access').textContent = 'Show the access log';
  show('confirm', false);
  show('more-days', false);
  clearTimeout(idleTimer);
  for (const id of ['upcoming', 'past']) $(id).replaceChildren();
  $('balance').textContent = '';
  show('home', false);
  show('sign-out', false);
  show('sign-in', true);
  $('sign-in-status').textContent = message || 'You are signed out.';
}

function money(minor, currency) {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100);
}

function when(instant, zone) {
  const format = (timeZone) =>
    new Intl.DateTimeFormat(undefined, {
      weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
      hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short',
    }).format(new Date(instant));
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const practice = format(zone);
  return own && own !== zone ? `${practice} (your time: ${format(own)})` : practice;
}

function item(text, detail) {
  const li = document.createElement('li');
  li.textContent = text;
  if (detail) {
    const small = document.createElement('div');
    small.className = 'muted';
    small.textContent = detail;
    li.append(small);
  }
  return li;
}

// What the booking form offers: the practice's providers, services and zone.
const catalog = { providers: [], services: [], chosen: null, days: [], shown: 0 };
// Days of free times shown at once (and added by "Show more days"): a phone stays scrollable.
const DAYS_AT_ONCE = 3;

function fillServices() {
  const provider = $('provider').value;
  const options = catalog.services
    .filter((s) => s.providerIds.includes(provider))
    .map((s) => new Option(`${s.name} (${s.durationMinutes} minutes)`, s.id));
  $('service').replaceChildren(...options);
}

function dayLabel(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', timeZone: zone }).format(new Date(instant));
}

function timeLabel(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', timeZone: zone }).format(new Date(instant));
}

async function findTimes(event) {
  event?.preventDefault();
  show('confirm', false);
  $('book-status').textContent = 'Looking for free times…';
  const provider = $('provider').value;
  const service = $('service').value;
  const from = new Date(Date.now() + 60 * 60 * 1000);
  const to = new Date(from.getTime() + 14 * 86400e3);
  const query = new URLSearchParams({ serviceId: service, from: from.toISOString(), to: to.toISOString() });
  const { slots, timeZone } = await api(`/v1/providers/${encodeURIComponent(provider)}/availability?${query}`);
  const days = new Map();
  for (const slot of slots) {
    const day = dayLabel(slot, timeZone);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(slot);
  }
  catalog.days = [...days].map(([day, starts]) => ({ day, starts, provider, service, timeZone }));
  catalog.shown = 0;
  $('slots').replaceChildren();
  showMoreDays();
  $('book-status').textContent = slots.length
    ? `${slots.length} free times in the next two weeks, shown in the practice's time zone (${timeZone}).`
    : 'No free times in the next two weeks with this provider; try another.';
}

function showMoreDays() {
  const blocks = [];
  for (const { day, starts, provider, service, timeZone } of catalog.days.slice(catalog.shown, catalog.shown + DAYS_AT_ONCE)) {
    const heading = document.createElement('h3');
    heading.className = 'day';
    heading.textContent = day;
    const list = document.createElement('ul');
    list.className = 'times';
    for (const start of starts) {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = timeLabel(start, timeZone);
      button.setAttribute('aria-label', `${day} at ${timeLabel(start, timeZone)}`);
      button.dataset.start = start;
      button.addEventListener('click', () => choose({ provider, service, start, timeZone }));
      li.append(button);
      list.append(li);
    }
    blocks.push(heading, list);
  }
  $('slots').append(...blocks);
  catalog.shown += DAYS_AT_ONCE;
  show('more-days', catalog.shown < catalog.days.length);
}

function choose(chosen) {
  catalog.chosen = { ...chosen, key: crypto.randomUUID() };
  const provider = catalog.providers.find((p) => p.id === chosen.provider);
  const service = catalog.services.find((s) => s.id === chosen.service);
  $('confirm-text').textContent = `${service.name} with ${provider.name}, ${when(chosen.start, chosen.timeZone)}.`;
  show('confirm', true);
  $('reason').focus();
}

async function book(event) {
  event.preventDefault();
  const chosen = catalog.chosen;
  const reason = $('reason').value.trim();
  try {
    await api('/v1/appointments', {
      method: 'POST',
      // One key per chosen time: a retried click cannot book twice.
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': chosen.key },
      body: JSON.stringify({ providerId: chosen.provider, serviceId: chosen.service, start: chosen.start, ...(reason ? { reason } : {}) }),
    });
  } catch (error) {
    if (error.signedOut) return;
    if (error.code === 'slot_taken') {
      await findTimes().catch((e) => fail('', e));
      $('book-status').textContent = `Not booked: ${error.message} The times still free are below.`;
    } else {
      $('book-status').textContent = `Not booked: ${error.message}`;
    }
    return;
  }
  show('confirm', false);
  show('more-days', false);
  $('reason').value = '';
  $('slots').replaceChildren();
  try {
    await loadHome();
    $('appointments-status').textContent = '';
    $('book-status').textContent = 'Booked. It is now in your upcoming appointments.';
  } catch (error) {
    $('book-status').textContent = 'Booked.';
    fail('Your appointments could not be refreshed: ', error);
  }
}

async function loadHome() {
  const [practice, providers, services, list, balance] = await Promise.all([
    api('/v1/practice'),
    api('/v1/providers'),
    api('/v1/services'),
    api('/v1/appointments'),
    api('/v1/balance'),
  ]);
  $('practice-name').textContent = practice.name;
  document.title = `Patient portal · ${practice.name}`;
  catalog.zone = practice.timeZone;
  if (!catalog.providers.length) {
    catalog.providers = providers.providers;
    catalog.services = services.services;
    $('provider').replaceChildren(...providers.providers.map((p) => new Option(p.name, p.id)));
    fillServices();
  }
  const providerName = new Map(providers.providers.map((p) => [p.id, p.name]));
  const serviceName = new Map(services.services.map((s) => [s.id, s.name]));
  const now = Date.now();
  const booked = list.appointments.filter((a) => a.status === 'booked');
  const upcoming = booked.filter((a) => Date.parse(a.end) >= now).sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const past = list.appointments.filter((a) => !upcoming.includes(a)).sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  const rules = new Map(providers.providers.map((p) => [p.id, p.rules]));
  const render = (target, appointments, empty) => {
    const rows = appointments.map((a) => {
      const row = item(
        `${serviceName.get(a.serviceId) || 'Appointment'} with ${providerName.get(a.providerId) || 'your provider'}`,
        `${when(a.start, a.timeZone)}${a.status === 'cancelled' ? ' · cancelled' : ''}`,
      );
      if (target === 'upcoming') row.append(cancelControls(a, rules.get(a.providerId)?.cancelCutoffHours ?? 24));
      return row;
    });
    $(target).replaceChildren(...(rows.length ? rows : [item(empty)]));
  };
  render('upcoming', upcoming, 'No upcoming appointments.');
  render('past', past, 'No past or cancelled appointments.');
  const owed = balance.balances.filter((b) => b.balance !== 0);
  $('balance').textContent = owed.length
    ? owed.map((b) => (b.balance > 0 ? `You owe ${money(b.balance, b.currency)}.` : `You have a credit of ${money(-b.balance, b.currency)}.`)).join(' ')
    : 'Nothing to pay.';
}

// The cut-off is said before any click: until when the patient may cancel online, or that it has
// passed and the practice must be called.
function cancelControls(appointment, cutoffHours) {
  const box = document.createElement('div');
  const deadline = Date.parse(appointment.start) - cutoffHours * 3600e3;
  const rule = document.createElement('p');
  rule.className = 'muted';
  if (Date.now() >= deadline) {
    rule.textContent = `It is less than ${cutoffHours} hours before the start: to cancel or change it, call the practice.`;
    box.append(rule);
    return box;
  }
  rule.textContent = `You can cancel online until ${when(new Date(deadline).toISOString(), appointment.timeZone)}.`;
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'secondary';
  cancel.textContent = 'Cancel this appointment';
  const confirm = document.createElement('div');
  confirm.className = 'actions';
  confirm.hidden = true;
  const yes = document.createElement('button');
  yes.type = 'button';
  yes.textContent = 'Yes, cancel it';
  const keep = document.createElement('button');
  keep.type = 'button';
  keep.className = 'secondary';
  keep.textContent = 'Keep it';
  confirm.append(yes, keep);
  const key = crypto.randomUUID();
  cancel.addEventListener('click', () => { cancel.hidden = true; confirm.hidden = false; yes.focus(); });
  keep.addEventListener('click', () => { confirm.hidden = true; cancel.hidden = false; cancel.focus(); });
  yes.addEventListener('click', async () => {
    try {
      await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: '{}',
      });
      await loadHome();
      $('book-status').textContent = '';
      $('appointments-status').textContent = 'Cancelled. It is now under past and cancelled appointments.';
    } catch (error) {
      if (!error.signedOut) rule.textContent = `Not cancelled: ${error.message}`;
    }
  });
  box.append(rule, cancel, confirm);
  return box;
}

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
  'payment.create': 'started a payment',
  'payment.update': 'recorded a payment update',
  'waitlist.create': 'put you on a waitlist',
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

async function showAccessLog() {
  $('access-status').textContent = 'Loading…';
  const log = await api('/v1/patients/me/access-log?limit=50');
  const tree = checkpointTree(log.checkpoint);
  const zone = catalog.zone;
  const rows = [];
  for (const entry of log.entries) {
    const outcome = entry.outcome === 'success' ? '' : ` (${entry.outcome === 'denied' ? 'refused' : 'failed'})`;
    const row = item(
      `${who(entry.by)} ${ACTIONS[entry.action] || entry.action}${outcome}`,
      `${when(entry.at, zone)} · ${await sealStatus(entry, tree)}`,
    );
    row.dataset.sealed = entry.inclusion ? 'yes' : 'no';
    rows.push(row);
  }
  $('access').replaceChildren(...(rows.length ? rows : [item('Nothing yet.')]));
  $('access-status').textContent = `${log.entries.length} most recent entries${log.next ? ' (older ones exist)' : ''}.`;
  $('show-access').textContent = 'Refresh the access log';
}

async function signInAs(user) {
  show('error', false);
  $('sign-in-status').textContent = 'Signing in…';
  try {
    const answer = await api('/local/demo-sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    token = answer.token;
    show('sign-in', false);
    show('home', true);
    show('sign-out', true);
    $('sign-in-status').textContent = '';
    resetIdle();
    await loadHome();
    $('main').focus();
  } catch (error) {
    fail(token ? 'Your information could not be loaded: ' : 'Sign-in failed: ', error);
  }
}

async function start() {
  $('sign-out').addEventListener('click', () => signOut());
  $('provider').addEventListener('change', fillServices);
  $('find').addEventListener('submit', (event) => findTimes(event).catch((error) => fail('', error)));
  $('confirm').addEventListener('submit', book);
  $('more-days').addEventListener('click', showMoreDays);
  $('show-access').addEventListener('click', () => showAccessLog().catch((error) => fail('', error)));
  $('confirm-cancel').addEventListener('click', () => { show('confirm', false); catalog.chosen = null; });
  for (const event of ['click', 'keydown', 'pointermove']) document.addEventListener(event, resetIdle, { passive: true });
  try {
    const { users } = await api('/local/demo-sign-in');
    const buttons = users
      .filter((u) => u.role === 'patient')
      .map((u) => {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `Sign in as ${u.name} (demo patient)`;
        button.addEventListener('click', () => signInAs(u.user));
        li.append(button);
        return li;
      });
    $('demo-users').replaceChildren(...buttons);
    show('demo', true);
  } catch (error) {
    fail('Sign-in is not available: ', error);
  }
}

start();
