// What every part of the portal uses: the session (the access token lives in this module's memory
// only, never in storage or a URL), the API client, and formatting in the practice's time zone.

export const $ = (id) => document.getElementById(id);

export function show(id, visible) {
  $(id).hidden = !visible;
}

export const session = { token: null, roles: [], zone: 'UTC', onEnded: () => {} };

// Shows what went wrong, unless it was the session ending (the sign-in page says that already).
export function fail(prefix, error) {
  if (error?.signedOut) return;
  $('error').textContent = error ? `${prefix}${error.message}` : prefix;
  show('error', true);
}

export async function api(path, options = {}) {
  const headers = { Accept: 'application/json', ...(options.headers || {}) };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  if (options.key) headers['Idempotency-Key'] = options.key;
  const init = { method: options.method || 'GET', headers, credentials: 'omit', cache: 'no-store' };
  if (options.json !== undefined) init.body = JSON.stringify(options.json);
  const response = await fetch(path, init);
  if (response.status === 401 && session.token) {
    session.onEnded('Your session ended. Please sign in again.');
    throw Object.assign(new Error('signed out'), { signedOut: true });
  }
  if (options.raw) return response;
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body?.detail || `The server answered ${response.status}.`);
    error.code = body?.code;
    error.conflicts = body?.conflicts;
    error.documents = body?.documents;
    error.question = body?.question;
    error.fee = body?.fee;
    error.status = response.status;
    throw error;
  }
  return body;
}

// A fresh key per user action: a retried click cannot do it twice.
export const newKey = () => crypto.randomUUID();

// A currency's minor-unit digits (USD 2, JPY 0), as ISO 4217 has them.
export function minorDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2; // not a currency code: the API refuses it with its reason
  }
}

// Minor units as money, in the currency's own digits.
export function money(minor, currency) {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 10 ** minorDigits(currency));
}

// An amount typed in major units ("12.50") as minor units of `currency` (NaN when it is not one).
export const toMinor = (text, currency) => Math.round(Number(text) * 10 ** minorDigits(currency));

export function when(instant, zone = session.zone) {
  const format = (timeZone) =>
    new Intl.DateTimeFormat(undefined, {
      weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
      hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short',
    }).format(new Date(instant));
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const practice = format(zone);
  return own && own !== zone ? `${practice} (your time: ${format(own)})` : practice;
}

export function dayLabel(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', timeZone: zone }).format(new Date(instant));
}

// A zone as people say it ("Eastern Time"), falling back to its IANA name.
export function zoneName(zone) {
  try {
    const parts = new Intl.DateTimeFormat(undefined, { timeZone: zone, timeZoneName: 'longGeneric' }).formatToParts(new Date());
    return parts.find((p) => p.type === 'timeZoneName')?.value || zone;
  } catch {
    return zone;
  }
}

// The calendar day (YYYY-MM-DD) an instant falls on in `zone`.
export function dateIn(instant, zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(instant));
}

export function timeLabel(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', timeZone: zone }).format(new Date(instant));
}

// How far `zone`'s wall clock is ahead of UTC at `instant` (milliseconds).
function zoneOffsetMs(instant, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(instant).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - instant;
}

// The instant a day (YYYY-MM-DD, plus `later` days) begins in `zone`.
export function startOfDayIn(date, zone, later = 0) {
  return wallIn(date, '00:00', zone, later);
}

// The instant of a wall time (HH:MM) on a day (YYYY-MM-DD, plus `later` days) in `zone`.
export function wallIn(date, time, zone, later = 0) {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const guess = Date.UTC(y, m - 1, d + later, hh, mm);
  return new Date(guess - zoneOffsetMs(guess - zoneOffsetMs(guess, zone), zone));
}

// A refused series' dates in words: each taken or closed date with the free times that day.
export function conflictRows(conflicts, zone) {
  const WHY = {
    slot_taken: 'taken', off_grid: 'not a bookable time that day', in_past: 'in the past',
    inside_minimum_notice: 'too soon to book', beyond_booking_window: 'beyond the booking window',
  };
  const dated = (t) => new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: zone }).format(new Date(t));
  // The same reason for every date (a time outside the hours, past the booking window): one line.
  const reasons = new Set(conflicts.map((c) => c.reason));
  if (conflicts.length > 1 && reasons.size === 1 && !reasons.has('slot_taken')) {
    const [first, last] = [conflicts[0], conflicts[conflicts.length - 1]];
    return [item(
      `${conflicts.length} dates, ${dated(first.start)} to ${dated(last.start)} at ${timeLabel(first.start, zone)}: ${WHY[first.reason] || first.reason}`,
      first.alternatives.length ? `Free on the first of them: ${first.alternatives.map((a) => timeLabel(a, zone)).join(', ')}` : 'Choose another time.',
    )];
  }
  return conflicts.map((c) => item(
    `${dated(c.start)} at ${timeLabel(c.start, zone)}: ${WHY[c.reason] || c.reason}`,
    c.alternatives.length ? `Free that day: ${c.alternatives.map((a) => timeLabel(a, zone)).join(', ')}` : 'Nothing free that day.',
  ));
}

// An element with properties and children: el('button', { type: 'button', textContent: 'Go' }).
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export function item(text, detail) {
  const li = el('li', { textContent: text });
  if (detail) li.append(el('div', { className: 'muted', textContent: detail }));
  return li;
}

export function list(id, rows, empty) {
  $(id).replaceChildren(...(rows.length ? rows : [item(empty)]));
}

// A button that asks once more before it acts ("Cancel this appointment" → "Yes, cancel it").
// `careful`: the answer costs money, so the focus lands on "no" (a stray Enter keeps things as
// they are).
export function confirmButton(label, yesLabel, noLabel, action, name = null, careful = false) {
  const box = el('div');
  const ask = el('button', { type: 'button', className: 'secondary', textContent: label });
  // Among repeated buttons, the accessible name says which item it acts on.
  if (name) ask.setAttribute('aria-label', name);
  const yes = el('button', { type: 'button', textContent: yesLabel });
  const no = el('button', { type: 'button', className: 'secondary', textContent: noLabel });
  const confirm = el('div', { className: 'actions', hidden: true }, yes, no);
  ask.addEventListener('click', () => { ask.hidden = true; confirm.hidden = false; (careful ? no : yes).focus(); });
  no.addEventListener('click', () => { confirm.hidden = true; ask.hidden = false; ask.focus(); });
  // One answer per question: a double click acts once.
  yes.addEventListener('click', async () => {
    if (yes.disabled) return;
    yes.disabled = true;
    try { await action(); } finally { yes.disabled = false; }
  });
  // Escape means "no", as on a dialog.
  confirm.addEventListener('keydown', (event) => { if (event.key === 'Escape') no.click(); });
  box.append(ask, confirm);
  return box;
}

// The catalog: the practice's providers and services, loaded once per sign-in.
export const catalog = { providers: [], services: [], providerName: new Map(), serviceName: new Map() };

export async function loadCatalog() {
  const [practice, providers, services] = await Promise.all([api('/v1/practice'), api('/v1/providers'), api('/v1/services')]);
  $('practice-name').textContent = practice.name;
  session.zone = practice.timeZone;
  catalog.practice = practice;
  catalog.providers = providers.providers;
  catalog.services = services.services;
  catalog.providerName = new Map(providers.providers.map((p) => [p.id, p.name]));
  catalog.serviceName = new Map(services.services.map((s) => [s.id, s.name]));
  return practice;
}

export function fillProviders(select) {
  select.replaceChildren(...catalog.providers.map((p) => new Option(p.name, p.id)));
}

export function fillServices(select, provider) {
  select.replaceChildren(...catalog.services
    .filter((s) => s.providerIds.includes(provider))
    .map((s) => new Option(`${s.name} (${s.durationMinutes} minutes)`, s.id)));
}

export function describe(a) {
  return `${catalog.serviceName.get(a.serviceId) || 'Appointment'} with ${catalog.providerName.get(a.providerId) || 'your provider'}`;
}

const BRANDS = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB', unionpay: 'UnionPay' };
export function cardWords(card) {
  return card ? `${BRANDS[card.brand] || 'a card'} ending ${card.last4}` : 'a card';
}

// The statement: per currency, every charge (its items and visit), payment, refund and amount a
// dispute took back, oldest first, with the balance after each (the patient's page and the
// front desk's view of it).
export function statementTables(balance, visits) {
  return balance.balances.map(({ currency, balance: total }) => {
    const rows = [];
    for (const c of balance.charges.filter((c) => c.currency === currency)) {
      const visit = c.appointmentId && visits.get(c.appointmentId);
      const items = c.lineItems.map((l) => `${l.description} (${money(l.amount, currency)})`).join('; ');
      const what = `${c.adjusts ? 'Correction: ' : ''}${items}${visit ? ` · visit on ${dayLabel(visit.start, visit.timeZone || session.zone)}` : ''}`;
      // A correction sorts after what it corrects, even within the same second.
      rows.push({ at: Date.parse(c.createdAt), after: c.adjusts ? 1 : 0, what, charged: c.total, paid: 0 });
    }
    for (const p of balance.payments.filter((p) => p.amount.currency === currency && p.status === 'succeeded')) {
      const at = Date.parse(p.createdAt);
      rows.push({ at, what: `Payment with ${cardWords(p.card)}`, charged: 0, paid: p.amount.amount });
      if (p.refunded) rows.push({ at: at + 1, what: `Refunded to ${cardWords(p.card)}`, charged: 0, paid: -p.refunded });
      if (p.disputed) rows.push({ at: at + 2, what: 'Taken back by a card dispute', charged: 0, paid: -p.disputed });
    }
    rows.sort((a, b) => a.at - b.at || (a.after || 0) - (b.after || 0));
    let running = 0;
    const body = rows.map((r) => {
      running += r.charged - r.paid;
      const cell = (text) => el('td', { textContent: text });
      return el('tr', {}, cell(new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: session.zone }).format(r.at)), cell(r.what),
        cell(r.charged ? money(r.charged, currency) : ''), cell(r.paid ? money(r.paid, currency) : ''), cell(money(running, currency)));
    });
    const th = (text) => el('th', { scope: 'col', textContent: text });
    const foot = el('tr', {}, el('th', { scope: 'row', colSpan: 4, textContent: running > 0 ? 'Owed' : running < 0 ? 'Credit' : 'Balance' }),
      el('td', { textContent: money(Math.abs(total), currency) }));
    return el('table', {},
      el('caption', { textContent: `${currency}: charges, payments and the balance after each` }),
      el('thead', {}, el('tr', {}, th('Date'), th('What'), th('Charged'), th('Paid'), th('Balance'))),
      el('tbody', {}, ...body), el('tfoot', {}, foot));
  });
}

// Opens an online visit's room (its own module, loaded when asked for).
export const openRoom = (id) => import('./visit.js').then(({ openVisit }) => openVisit(id)).catch((e) => fail('', e));
export function visitButton(id, label) {
  const button = el('button', { type: 'button', textContent: label });
  button.addEventListener('click', () => openRoom(id));
  return button;
}

// Her record's copy (`html` or `json`), fetched with the token when asked for (a link has none).
export function recordButtons(id, patientId, file) {
  for (const format of ['html', 'json']) {
    $(`${id}-${format}`).onclick = async () => {
      const status = $(`${id}-status`);
      status.textContent = 'Preparing the copy…';
      try {
        const response = await api(`/v1/patients/${encodeURIComponent(patientId())}/record?format=${format}`, { raw: true });
        if (!response.ok) throw new Error('The copy could not be made; try again.');
        const link = el('a', { href: URL.createObjectURL(await response.blob()), download: `${file()}.${format}` });
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 60e3);
        status.textContent = 'The copy is downloaded.';
      } catch (error) {
        status.textContent = '';
        fail('', error);
      }
    };
  }
}
