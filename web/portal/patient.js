// The patient's pages: appointments (book, move, cancel, the waitlist and its offers), billing
// (balance, paying, receipts), messages (feedback, notification choices) and the access log.
import {
  $, api, cardWords, catalog, confirmButton, dateIn, dayLabel, describe, el, fail, fillProviders, fillServices, item,
  list, minorDigits, money, newKey, openRoom, recordButtons, session, show, startOfDayIn, statementTables, timeLabel, toMinor, visitButton, when, zoneName,
} from './common.js';

// What the booking form is doing: a new appointment, or moving `moving` to another time; the
// month shown (`YYYY-MM`, in the practice's zone), its days' free times, and the day chosen.
const booking = { chosen: null, moving: null, provider: null, service: null, month: null, days: new Map(), day: null, timeZone: 'UTC' };
export function resetPatient() {
  Object.assign(booking, { chosen: null, moving: null, provider: null, service: null, month: null, days: new Map(), day: null });
  for (const id of ['slots', 'upcoming', 'past', 'waitlist', 'access-log', 'receipts', 'feedback-list', 'statement-tables']) $(id).replaceChildren();
  for (const id of ['book-status', 'appointments-status', 'access-status', 'balance', 'pay-status', 'waitlist-status', 'feedback-status', 'notify-status']) $(id).textContent = '';
  for (const id of ['confirm', 'month', 'booked', 'pay-form', 'pay-choose', 'use-sign-in-address', 'access-older']) show(id, false);
  addressDiffers = false;
  nextOnline = null;
  $('show-access').textContent = 'Show the access log';
  setMoving(null);
}

// Whether the sign-in's address differs from the record's (the Messages page then offers to use it).
let addressDiffers = false;

// Confirms her record's address with her sign-in's (the ID token goes to this request only).
// Quiet: a failure leaves the address as it was (the Messages page says so).
export async function confirmAddress({ replace = false, onlyIfUnverified = false } = {}) {
  addressDiffers = false;
  if (!session.idToken) return false;
  try {
    if (onlyIfUnverified && (await api('/v1/patients/me/notifications')).emailVerified) return true;
    await api('/v1/patients/me/email-verification', { method: 'POST', key: newKey(), headers: { 'X-Id-Token': session.idToken }, json: { replace } });
    return true;
  } catch (error) {
    if (error.signedOut) throw error;
    addressDiffers = error.code === 'email_differs';
    return false;
  }
}

async function useSignInAddress() {
  $('notify-status').textContent = '';
  const done = await confirmAddress({ replace: true });
  await loadMessages();
  $('notify-status').textContent = done ? 'Messages now go to the address you sign in with.' : 'Your address could not be changed; the practice can correct it.';
}

export function loadPatient() {
  fillProviders($('provider'));
  fillServices($('service'), $('provider').value);
  fillProviders($('wait-provider'));
  fillServices($('wait-service'), $('wait-provider').value);
}

export async function loadAppointmentsPage() {
  await Promise.all([loadAppointments(), loadWaitlist()]);
}

// --- appointments ---

// Her next online visit: a message's link (`#/visit`) opens its room once she signs in.
let nextOnline = null;
export const joinNext = () => nextOnline && openRoom(nextOnline.id);

async function loadAppointments() {
  const { appointments } = await api('/v1/appointments');
  const now = Date.now();
  const upcoming = appointments.filter((a) => ['booked', 'awaiting_deposit'].includes(a.status) && Date.parse(a.end) >= now)
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const past = appointments.filter((a) => !upcoming.includes(a)).sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  // Bookings waiting for their deposit have their own module (loaded only when there are some).
  const waiting = upcoming.some((a) => a.status === 'awaiting_deposit') ? await import('./deposit.js') : null;
  nextOnline = upcoming.find((a) => a.online && a.status === 'booked');
  list('upcoming', upcoming.map((a) => {
    if (a.status === 'awaiting_deposit') return waiting.awaitingRow(a, () => showBooked(a, false), loadAppointments);
    const row = item(describe(a), `${when(a.start, a.timeZone)}${a.online ? ' · online, by video' : ''}`);
    if (a.online) row.append(visitButton(a.id, 'Join the online visit'));
    row.append(changeControls(a, cutoffOf(a.providerId)));
    return row;
  }), 'No upcoming appointments.');
  const lapsed = (a) => (a.deposit?.state === 'lapsed' ? ' · not confirmed (the deposit was not paid in time)' : ' · cancelled');
  const PAST = { cancelled: null, no_show: ' · missed (marked a no-show)' };
  list('past', past.map((a) => item(describe(a), `${when(a.start, a.timeZone)}${a.status === 'cancelled' ? lapsed(a) : PAST[a.status] || ''}`)),
    'No past or cancelled appointments.');
  $('feedback-appointment').replaceChildren(new Option('None in particular', ''),
    ...appointments.map((a) => new Option(`${describe(a)}, ${dayLabel(a.start, a.timeZone)}`, a.id)));
}

// The provider's cut-off for changes by the patient (hours before the start).
const cutoffOf = (providerId) => catalog.providers.find((p) => p.id === providerId)?.rules?.cancelCutoffHours ?? 24;

// The practice's number, when it gave one, for "call the practice".
const practicePhone = () => (catalog.practice?.contact?.phone ? ` at ${catalog.practice.contact.phone}` : '');

// What the cut-off means for a time about to be booked, said before the click that books it.
// `lateCancel`: the service's policy lets her cancel up to the start (for its fee).
function cutoffRule(start, cutoffHours, zone, lateCancel = false) {
  const deadline = Date.parse(start) - cutoffHours * 3600e3;
  if (Date.now() < deadline) return `You can move or cancel it online until ${when(new Date(deadline).toISOString(), zone)}.`;
  return lateCancel
    ? `It is less than ${cutoffHours} hours away: once booked, only the practice can move it (call them${practicePhone()}); you can cancel it online.`
    : `It is less than ${cutoffHours} hours away: once booked, only the practice can move or cancel it (call them${practicePhone()}).`;
}

// The cut-off, said before any click: until when she may change online, or to call.
function changeControls(appointment, cutoffHours) {
  const box = el('div');
  const deadline = Date.parse(appointment.start) - cutoffHours * 3600e3;
  const rule = el('p', { className: 'muted' });
  // Booked under a late-cancellation fee, she may cancel up to the start; the fee is said first.
  const lateCancel = Boolean(appointment.cancellationTerms?.lateCancellationFee);
  const fee = feeNow(appointment);
  const feeWords = fee ? ` Cancelling now costs a fee of ${fee} under the practice's cancellation policy.` : '';
  const visit = `${describe(appointment)}, ${when(appointment.start, appointment.timeZone)}`;
  // The cancel button; `accepted`: the fee she agrees to, as the page showed it (the API charges
  // no fee she did not accept, and names it when one applies).
  const cancelButton = (accepted) => {
    const key = newKey();
    const shown = accepted ? money(accepted.amount, accepted.currency) : null;
    const fromDeposit = appointment.deposit?.state === 'paid' ? ' (taken from your deposit)' : '';
    return confirmButton('Cancel this appointment', shown ? `Yes, cancel it and owe ${shown}${fromDeposit}` : 'Yes, cancel it', 'Keep it', async () => {
      try {
        const json = accepted ? { acceptFee: accepted } : {};
        const cancelled = await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`, { method: 'POST', key, json });
        await loadAppointments();
        $('book-status').textContent = '';
        const charged = cancelled.fee ? ` A late cancellation fee of ${money(cancelled.fee.amount.amount, cancelled.fee.amount.currency)} is on your account (see Billing).` : '';
        const back = cancelled.deposit?.refund ? ` ${money(cancelled.deposit.refund, cancelled.deposit.amount.currency)} of your deposit will be refunded to your card.` : '';
        $('appointments-status').textContent = `Cancelled. It is now under past and cancelled appointments.${charged}${back}`;
      } catch (error) {
        if (error.signedOut) return;
        if (error.code === 'fee_applies' && error.fee) {
          // The window began after the page was drawn: say the fee and ask again.
          rule.textContent = `Not cancelled yet: cancelling now costs a fee of ${money(error.fee.amount, error.fee.currency)} under the practice's cancellation policy.`;
          cancel.replaceWith(cancel = cancelButton(error.fee));
          cancel.querySelector('button')?.focus();
          return;
        }
        rule.textContent = `Not cancelled: ${error.message}`;
      }
    }, `Cancel this appointment: ${visit}`, Boolean(accepted));
  };
  let cancel = cancelButton(fee ? appointment.cancellationTerms.lateCancellationFee : null);
  if (Date.now() >= deadline) {
    if (!lateCancel) {
      rule.textContent = `It is less than ${cutoffHours} hours before the start: to cancel or change it, call the practice${practicePhone()}.`;
      box.append(rule);
      return box;
    }
    rule.textContent = `It is less than ${cutoffHours} hours before the start: to move it, call the practice${practicePhone()}. You can still cancel online.${feeWords}`;
    box.append(rule, el('div', { className: 'actions' }, cancel));
    return box;
  }
  rule.textContent = `You can move or cancel it online until ${when(new Date(deadline).toISOString(), appointment.timeZone)}.${feeWords}`;
  const move = el('button', { type: 'button', className: 'secondary', textContent: 'Move to another time' });
  // Among the repeated buttons of a list, each names its visit.
  move.setAttribute('aria-label', `Move to another time: ${visit}`);
  move.addEventListener('click', () => startMoving(appointment));
  const actions = el('div', { className: 'actions' }, move, cancel);
  // A series' visit: moved or cancelled alone as above, or cancelled with every later one.
  if (appointment.seriesId) {
    rule.textContent += ' It is one of your repeating visits.';
    const restKey = newKey();
    actions.append(confirmButton('Cancel this and all later visits', 'Yes, cancel them', 'Keep them', async () => {
      try {
        await api(`/v1/series/${encodeURIComponent(appointment.seriesId)}/cancel`, { method: 'POST', key: restKey, json: { fromAppointmentId: appointment.id } });
        await loadAppointments();
        $('appointments-status').textContent = 'Cancelled this and all later visits of the series. They are now under past and cancelled appointments.';
      } catch (error) {
        if (!error.signedOut) rule.textContent = `Not cancelled: ${error.message}`;
      }
    }, `Cancel this and all later visits: ${describe(appointment)}, ${when(appointment.start, appointment.timeZone)}`));
  }
  box.append(rule, actions);
  return box;
}

function setMoving(appointment) {
  booking.moving = appointment;
  $('book-title').textContent = appointment ? 'Move your appointment' : 'Book an appointment';
  $('provider').disabled = Boolean(appointment);
  $('service').disabled = Boolean(appointment);
  show('stop-moving', Boolean(appointment));
  $('move-note').textContent = appointment
    ? `Moving: ${describe(appointment)}, ${when(appointment.start, appointment.timeZone)}. It keeps its place until the new time is confirmed.`
    : '';
}

function startMoving(appointment) {
  setMoving(appointment);
  $('provider').value = appointment.providerId;
  fillServices($('service'), appointment.providerId);
  $('service').value = appointment.serviceId;
  $('book-title').scrollIntoView();
  findTimes().catch((e) => fail('', e));
}

// The provider's booking window (days ahead a patient may book).
const windowOf = (providerId) => catalog.providers.find((p) => p.id === providerId)?.rules?.maxAdvanceDays ?? 60;

const monthKey = (date) => date.slice(0, 7);
function shiftMonth(month, by) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

// The free starts of one month (as far as the booking window reaches), by day.
async function loadMonth(month) {
  const { provider, service, timeZone } = booking;
  const now = Date.now();
  const windowEnd = now + windowOf(provider) * 86400e3;
  const from = Math.max(startOfDayIn(`${month}-01`, timeZone).getTime(), now);
  const to = Math.min(startOfDayIn(`${shiftMonth(month, 1)}-01`, timeZone).getTime(), windowEnd);
  const days = new Map();
  if (to > from) {
    const query = new URLSearchParams({ serviceId: service, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
    const { slots } = await api(`/v1/providers/${encodeURIComponent(provider)}/availability?${query}`);
    for (const slot of slots) {
      const day = dateIn(slot, timeZone);
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(slot);
    }
  }
  return { days, lastMonth: monthKey(dateIn(windowEnd, timeZone)) };
}

// "Show free times": the first month of the booking window with a free day.
async function findTimes(event) {
  event?.preventDefault();
  show('confirm', false);
  show('booked', false);
  $('book-status').textContent = 'Looking for free times…';
  booking.provider = $('provider').value;
  booking.service = $('service').value;
  booking.timeZone = session.zone;
  let month = monthKey(dateIn(Date.now(), booking.timeZone));
  let loaded = await loadMonth(month);
  while (!loaded.days.size && month < loaded.lastMonth) {
    month = shiftMonth(month, 1);
    loaded = await loadMonth(month);
  }
  showMonth(month, loaded);
}

// Another month of the calendar, loaded.
async function turnMonth(by) {
  const month = shiftMonth(booking.month, by);
  showMonth(month, await loadMonth(month));
}

// One month of the calendar: days with free times are buttons, the others plain.
function showMonth(month, { days, lastMonth }) {
  Object.assign(booking, { month, days, day: null });
  const { timeZone } = booking;
  const first = `${month}-01`;
  const title = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(`${first}T12:00:00Z`));
  $('month-title').textContent = title;
  const thisMonth = monthKey(dateIn(Date.now(), timeZone));
  $('prev-month').disabled = month <= thisMonth;
  $('next-month').disabled = month >= lastMonth;
  // Weeks from Monday; a day's weekday from noon UTC of that date (the same everywhere).
  const weekday = (date) => (new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7;
  const long = (date) => new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(new Date(`${date}T12:00:00Z`));
  const head = el('tr', {}, ...[0, 1, 2, 3, 4, 5, 6].map((n) => {
    const day = new Date(Date.UTC(2024, 0, 1 + n, 12)); // 1 January 2024 was a Monday
    const th = el('th', { scope: 'col', textContent: new Intl.DateTimeFormat(undefined, { weekday: 'short', timeZone: 'UTC' }).format(day) });
    th.abbr = new Intl.DateTimeFormat(undefined, { weekday: 'long', timeZone: 'UTC' }).format(day);
    return th;
  }));
  const rows = [];
  let row = el('tr', {}, ...Array.from({ length: weekday(first) }, () => el('td')));
  const [year, monthNumber] = month.split('-').map(Number);
  const length = new Date(Date.UTC(year, monthNumber, 0)).getUTCDate();
  for (let n = 1; n <= length; n += 1) {
    const date = `${month}-${String(n).padStart(2, '0')}`;
    const starts = days.get(date) || [];
    const cell = el('td');
    if (starts.length) {
      const button = el('button', { type: 'button', textContent: String(n) });
      button.setAttribute('aria-label', `${long(date)}: ${starts.length} free time${starts.length === 1 ? '' : 's'}`);
      button.setAttribute('aria-pressed', 'false');
      button.dataset.date = date;
      button.addEventListener('click', () => showDay(date));
      cell.append(button);
    } else {
      cell.append(el('span', { textContent: String(n), title: `${long(date)}: no free times` }));
    }
    row.append(cell);
    if (weekday(date) === 6) { rows.push(row); row = el('tr'); }
  }
  if (row.children.length) rows.push(row);
  $('month-grid').replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
  $('slots').replaceChildren();
  show('month', true);
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = own && own !== timeZone ? ` Times are in ${zoneName(timeZone)}, the practice's, and in yours (${zoneName(own)}).` : ` Times are in ${zoneName(timeZone)}.`;
  $('book-status').textContent = days.size
    ? `${days.size} day${days.size === 1 ? '' : 's'} with free times in ${title}: choose a day.${zones}`
    : `No free times in ${title} with this provider; try another month or provider, or join the waitlist below.`;
}

// One day's free times, grouped as people plan a day.
function showDay(date) {
  booking.day = date;
  show('confirm', false);
  const { timeZone } = booking;
  const starts = booking.days.get(date) || [];
  for (const b of $('month-grid').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.date === date));
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const hour = (start) => Number(new Intl.DateTimeFormat('en-US', { hour: 'numeric', hourCycle: 'h23', timeZone }).format(new Date(start)));
  const parts = [['Morning', (h) => h < 12], ['Afternoon', (h) => h >= 12 && h < 17], ['Evening', (h) => h >= 17]];
  const label = dayLabel(starts[0], timeZone);
  const heading = el('h3', { className: 'day', textContent: label, tabIndex: -1 });
  const blocks = [heading];
  for (const [part, within] of parts) {
    const these = starts.filter((s) => within(hour(s)));
    if (!these.length) continue;
    const times = el('ul', { className: 'times' });
    for (const start of these) {
      // The patient's own time beside the practice's when their zones differ.
      const yours = own && own !== timeZone ? ` (${timeLabel(start, own)} yours)` : '';
      const button = el('button', { type: 'button', textContent: `${timeLabel(start, timeZone)}${yours}` });
      button.setAttribute('aria-label', `${label} at ${timeLabel(start, timeZone)}${yours}`);
      button.dataset.start = start;
      button.addEventListener('click', () => choose({ provider: booking.provider, service: booking.service, start, timeZone }));
      times.append(el('li', {}, button));
    }
    blocks.push(el('h4', { className: 'part', textContent: part }), times);
  }
  $('slots').replaceChildren(...blocks);
  $('book-status').textContent = `${starts.length} free time${starts.length === 1 ? '' : 's'} on ${label}, in ${zoneName(timeZone)}.`;
  heading.focus();
}

// What the practice charges for a service, in words ("$120.00"), or nothing when unpriced.
function priceOf(serviceId) {
  const price = catalog.services.find((s) => s.id === serviceId)?.price;
  return price ? money(price.amount, price.currency) : null;
}

// The fee cancelling now costs, in words, when the visit's terms charge one now.
function feeNow(appointment) {
  const terms = appointment.cancellationTerms;
  const fee = terms?.lateCancellationFee;
  if (!fee || Date.now() <= Date.parse(appointment.start) - terms.lateWindowHours * 3600e3) return null;
  return money(fee.amount, fee.currency);
}

function choose(chosen) {
  booking.chosen = { ...chosen, key: newKey() };
  const what = `${catalog.serviceName.get(chosen.service)} with ${catalog.providerName.get(chosen.provider)}`;
  // The policy the visit is (moving: was) booked under.
  const terms = booking.moving ? booking.moving.cancellationTerms : catalog.services.find((s) => s.id === chosen.service)?.cancellationTerms;
  const lateCancel = Boolean(terms?.lateCancellationFee);
  if (!booking.moving && terms) booking.chosen.policyVersion = terms.version;
  const rule = cutoffRule(chosen.start, cutoffOf(chosen.provider), chosen.timeZone, lateCancel) + (terms ? ` Cancellation policy: ${terms.words.join(' ')}` : '');
  const price = priceOf(chosen.service);
  const mode = catalog.services.find((s) => s.id === chosen.service)?.visitMode;
  // Where: online, or at the practice's address (a visit held either way: or online, as she chooses).
  const address = catalog.practice?.contact?.address;
  const where = mode === 'online' ? ', online, by video' : `${address ? `, at ${address}` : ''}${mode === 'either' ? ' or online (choose below)' : ''}`;
  $('confirm-text').textContent = booking.moving
    ? `Move it to ${when(chosen.start, chosen.timeZone)}. ${rule}`
    : `${what}, ${when(chosen.start, chosen.timeZone)}${where}${price ? `. Price: ${price}` : ''}. ${rule}`;
  $('confirm-submit').textContent = booking.moving ? 'Move to this time' : 'Book this time';
  show('visit-mode', !booking.moving && mode === 'either');
  show('reason-box', !booking.moving);
  show('confirm', true);
  $('confirm').scrollIntoView({ block: 'nearest' });
  (booking.moving ? $('confirm-submit') : $('reason')).focus();
}

async function book(event) {
  event.preventDefault();
  const { chosen, moving } = booking;
  const reason = $('reason').value.trim();
  let appointment;
  try {
    if (moving) {
      appointment = await api(`/v1/appointments/${encodeURIComponent(moving.id)}/reschedule`, { method: 'POST', key: chosen.key, json: { start: chosen.start } });
    } else {
      appointment = await api('/v1/appointments', {
        method: 'POST',
        key: chosen.key,
        json: {
          providerId: chosen.provider, serviceId: chosen.service, start: chosen.start, ...(reason ? { reason } : {}),
          // The policy she was just shown: one changed since is refused, not silently agreed to.
          ...(chosen.policyVersion ? { acceptedPolicyVersion: chosen.policyVersion } : {}),
          ...(!$('visit-mode').hidden ? { online: new FormData($('confirm')).get('visit-mode') === 'online' } : {}),
        },
      });
    }
  } catch (error) {
    if (error.signedOut) return;
    const verb = moving ? 'Not moved' : 'Not booked';
    if (error.code === 'consent_required' && !moving) {
      $('book-status').textContent = 'Before this visit, your practice asks you to sign some documents: they are below.';
      const { signBeforeBooking } = await import('./consents.js');
      // A fresh key: the refused attempt stored nothing.
      signBeforeBooking($('consents-needed'), error.documents || [], async () => {
        booking.chosen.key = newKey();
        show('consents-needed', false);
        $('confirm').requestSubmit();
      });
      return;
    }
    if (error.code === 'policy_changed') {
      // Read the policy again and show it before she books.
      const { loadCatalog } = await import('./common.js');
      await loadCatalog().catch((e) => fail('', e));
      choose(booking.chosen);
      $('book-status').textContent = `${verb}: the practice changed this service's cancellation policy. Read it again below and book if you agree.`;
      return;
    }
    if (error.code === 'slot_taken') {
      const day = booking.day;
      await loadMonth(booking.month).then((loaded) => showMonth(booking.month, loaded)).catch((e) => fail('', e));
      if (day && booking.days.has(day)) showDay(day);
      $('book-status').textContent = `${verb}: ${error.message} The times still free are shown.`;
    } else {
      $('book-status').textContent = `${verb}: ${error.message}`;
    }
    return;
  }
  show('confirm', false);
  show('month', false);
  $('reason').value = '';
  $('slots').replaceChildren();
  setMoving(null);
  showBooked(appointment, moving);
  try {
    await loadAppointments();
    $('appointments-status').textContent = '';
  } catch (error) {
    fail('Your appointments could not be refreshed: ', error);
  }
  // Said once the list shows it.
  $('book-status').textContent = moving ? 'Moved. The new time is in your upcoming appointments.'
    : appointment.status === 'awaiting_deposit' ? 'Almost booked: pay the deposit below to confirm it. The time is held for you meanwhile.'
      : 'Booked. It is now in your upcoming appointments.';
}

export function calendarFile(appointment) {
  import('./ics.js').then(({ appointmentIcs }) => {
    const link = $('add-to-calendar');
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([appointmentIcs(appointment)], { type: 'text/calendar' }));
    link.download = 'appointment.ics';
    show('add-to-calendar', true);
  }).catch((error) => fail('', error));
}

// What was booked, said in full where the patient is looking (on a phone too), with a calendar file.
function showBooked(appointment, moved) {
  const zone = appointment.timeZone || session.zone;
  const contact = catalog.practice?.contact || {};
  const price = priceOf(appointment.serviceId);
  const deadline = Date.parse(appointment.start) - cutoffOf(appointment.providerId) * 3600e3;
  const terms = appointment.cancellationTerms;
  const lateCancel = Boolean(terms?.lateCancellationFee);
  let rule = `You can move or cancel it online until ${when(new Date(deadline).toISOString(), zone)}.`;
  if (Date.now() >= deadline) {
    rule = lateCancel
      ? `Only the practice can move it now (call them${practicePhone()}); you can cancel it online.`
      : `Only the practice can move or cancel it now (call them${practicePhone()}).`;
  } else if (lateCancel) {
    rule = `You can move it online until ${when(new Date(deadline).toISOString(), zone)}, and cancel it online up to its start.`;
  }
  const awaiting = appointment.status === 'awaiting_deposit';
  if (awaiting) rule = 'Pay the deposit to confirm it; until then you can cancel it online, at no cost.';
  $('booked-title').textContent = awaiting ? 'Almost booked: pay the deposit' : moved ? 'Moved: your new time' : 'Booked';
  const details = [
    ['What', describe(appointment)],
    ['When', when(appointment.start, zone)],
    ['Where', appointment.online ? 'Online, by video' : contact.address || catalog.practice?.name || 'At the practice'],
    ...(price ? [['Price', price]] : []),
    ['Changes', contact.phone && !rule.includes(contact.phone) ? `${rule} The practice's phone: ${contact.phone}.` : rule],
    ...(terms ? [['Cancellation policy', terms.words.join(' ')]] : []),
  ];
  $('booked-details').replaceChildren(...details.flatMap(([term, text]) => [el('dt', { textContent: term }), el('dd', { textContent: text })]));
  show('deposit-form', false);
  $('deposit-status').textContent = '';
  show('add-to-calendar', false);
  // Its checkout, its own module (loaded only when a deposit is asked for).
  if (awaiting) import('./deposit.js').then(({ openDeposit }) => openDeposit(appointment, loadAppointments, calendarFile)).catch((error) => fail('', error));
  // The calendar file (its own module), once the visit is confirmed.
  if (!awaiting) calendarFile(appointment);
  show('booked', true);
  // Forms the practice asks for before the visit (minimum necessary: no form's name here).
  api('/v1/forms').then(({ due = [] }) => {
    if (due.some((d) => d.appointmentId === appointment.id)) {
      $('booked-details').append(el('dt', { textContent: 'Forms' }), el('dd', { textContent: 'Your practice asks you to complete forms before this visit: open Forms.' }));
    }
  }).catch(() => {});
  $('booked').scrollIntoView({ block: 'start' });
  $('booked-title').focus();
  $('book-status').textContent = '';
}

// --- the waitlist ---

// The entries shown, by id (joining the same request again answers with the open one).
const waiting = new Set();

// Leaving the waitlist (asked once more first); an offer held for the entry goes with it.
function leaveButton(entry, what) {
  const key = newKey();
  const name = `Leave the waitlist: ${what}, from ${dayLabel(entry.from, session.zone)}`;
  return confirmButton('Leave the waitlist', 'Yes, leave it', 'No, stay on it', async () => {
    try {
      await api(`/v1/waitlist/${encodeURIComponent(entry.id)}/leave`, { method: 'POST', key, json: { providerId: entry.providerId } });
      await loadWaitlist();
      $('waitlist-status').textContent = `You left the waitlist for ${what}.`;
      $('waitlist-status').focus();
    } catch (error) {
      if (!error.signedOut) $('waitlist-status').textContent = `Still on the waitlist: ${error.message}`;
    }
  }, name);
}

async function loadWaitlist() {
  const { entries } = await api('/v1/waitlist');
  waiting.clear();
  for (const entry of entries) waiting.add(entry.id);
  const rows = entries.map((entry) => {
    const what = describe(entry);
    if (entry.status === 'offered' && entry.offer && Date.parse(entry.offer.expiresAt) > Date.now()) {
      const row = item(`Offered: ${what}, ${when(entry.offer.start)}`,
        `Held for you until ${timeLabel(entry.offer.expiresAt, session.zone)} (${session.zone}).`);
      const accept = el('button', { type: 'button', textContent: 'Book this offered time' });
      const key = newKey();
      accept.addEventListener('click', async () => {
        try {
          await api('/v1/appointments', {
            method: 'POST',
            key,
            json: { providerId: entry.providerId, serviceId: entry.serviceId, start: entry.offer.start, holdId: entry.holdId },
          });
          await Promise.all([loadAppointments(), loadWaitlist()]);
          $('waitlist-status').textContent = 'Booked. It is now in your upcoming appointments.';
        } catch (error) {
          if (!error.signedOut) $('waitlist-status').textContent = `Not booked: ${error.message}`;
        }
      });
      row.append(accept, leaveButton(entry, what));
      return row;
    }
    // An entry is offered one time at most: booked or lapsed, the request is closed.
    const status = entry.status === 'waiting' ? 'waiting' : 'a time was offered to you; this request is closed';
    // The window ends at the midnight after the last day chosen: that day is the one shown.
    const lastDay = dayLabel(Date.parse(entry.to) - 1, session.zone);
    const row = item(`${what}: any time from ${dayLabel(entry.from, session.zone)} to ${lastDay}`, `Status: ${status}.`);
    row.append(leaveButton(entry, what));
    return row;
  });
  list('waitlist', rows, 'You are not on the waitlist.');
}

async function joinWaitlist(event) {
  event.preventDefault();
  const from = $('wait-from').value;
  const to = $('wait-to').value;
  if (!from || !to || to < from) {
    $('waitlist-status').textContent = 'Choose a first and a last day, the last on or after the first.';
    return;
  }
  // Whole days in the practice's time zone, the last one included.
  const window = { from: startOfDayIn(from, session.zone).toISOString(), to: startOfDayIn(to, session.zone, 1).toISOString() };
  if (Date.parse(window.to) <= Date.now()) {
    $('waitlist-status').textContent = 'These days have already passed; choose days from today on.';
    return;
  }
  if (Date.parse(window.to) - Date.parse(window.from) > 31 * 86400e3) {
    $('waitlist-status').textContent = 'Choose at most 31 days; you can join again for the days after.';
    return;
  }
  try {
    const entry = await api('/v1/waitlist', { method: 'POST', key: newKey(), json: { providerId: $('wait-provider').value, serviceId: $('wait-service').value, ...window } });
    const already = waiting.has(entry.id);
    await loadWaitlist();
    $('waitlist-status').textContent = already
      ? 'You are already on the waitlist for these days; nothing changed.'
      : 'You are on the waitlist. If a time frees up, it is held for you and you get a message.';
  } catch (error) {
    if (!error.signedOut) $('waitlist-status').textContent = `Not added: ${error.message}`;
  }
}

// --- billing ---

// The payment being made: the API's reply (with the intent's client secret) and how to confirm it.
const checkout = { payment: null, confirm: null, balance: null };

export async function loadBalance() {
  const [balance, { appointments }] = await Promise.all([api('/v1/balance'), api('/v1/appointments')]);
  // The card on file, its own module (loaded with the billing page).
  import('./cards.js').then(({ loadCard }) => loadCard()).catch((error) => {
    if (!error.signedOut) $('card-summary').textContent = `The card on file could not be shown: ${error.message}`;
  });
  checkout.balance = balance;
  const owed = balance.balances.filter((b) => b.balance - b.processing > 0);
  const credit = balance.balances.filter((b) => b.balance < 0);
  const lines = [
    ...owed.map((b) => `You owe ${money(b.balance, b.currency)}.`),
    ...balance.balances.filter((b) => b.processing > 0).map((b) => `${money(b.processing, b.currency)} is being paid.`),
    ...credit.map((b) => `You have a credit of ${money(-b.balance, b.currency)}.`),
  ];
  $('balance').textContent = lines.length ? `${lines.join(' ')}${owed.length ? ' The statement below shows what for.' : ''}` : 'Nothing to pay.';
  const due = owed[0];
  checkout.due = due;
  show('pay-choose', Boolean(due));
  if (due) {
    const outstanding = due.balance - due.processing;
    const digits = minorDigits(due.currency);
    $('pay-part').value = (outstanding / 10 ** digits).toFixed(digits);
    $('pay-part').max = (outstanding / 10 ** digits).toFixed(digits);
    $('pay-part').min = $('pay-part').step = (1 / 10 ** digits).toFixed(digits);
    $('pay-part-hint').textContent = `Up to ${money(outstanding, due.currency)}.`;
    payLabel();
  }
  const visits = new Map(appointments.map((a) => [a.id, a]));
  showStatement(balance, visits);
  const toward = allocate(balance);
  const receipts = balance.payments.filter((p) => p.status === 'succeeded').sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  list('receipts', receipts.map((p) => {
    const refunded = p.refunded ? ` · ${money(p.refunded, p.amount.currency)} refunded` : '';
    const deposit = p.depositFor && visits.get(p.depositFor);
    const what = deposit ? ` (the deposit for your visit on ${dayLabel(deposit.start, deposit.timeZone || session.zone)})` : '';
    const row = item(`${money(p.amount.amount, p.amount.currency)} paid with ${cardWords(p.card)}${what}`,
      `${when(p.createdAt)} · receipt ${p.id}${refunded}`);
    const paidFor = (toward.get(p.id) || []).map(({ charge, amount }) => `${chargeWords(charge, visits)}: ${money(amount, charge.currency)}`);
    if (paidFor.length) row.append(el('div', { className: 'muted', textContent: `Toward: ${paidFor.join('; ')}` }));
    return row;
  }), 'No payments yet.');
}

// A charge in words: its items, and the visit it is for.
function chargeWords(charge, visits) {
  const visit = charge.appointmentId && visits.get(charge.appointmentId);
  const items = charge.lineItems.map((l) => l.description).join(', ');
  return `${charge.adjusts ? 'Correction: ' : ''}${items}${visit ? ` · visit on ${dayLabel(visit.start, visit.timeZone || session.zone)}` : ''}`;
}

// What each payment paid toward: the charges it named, or else the oldest charges still open
// (with their corrections), in the order payments were made.
function allocate(balance) {
  const toward = new Map();
  const open = balance.charges.filter((c) => !c.adjusts)
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))
    .map((charge) => ({
      charge,
      left: charge.total + balance.charges.filter((c) => c.adjusts === charge.id).reduce((sum, c) => sum + c.total, 0),
    }));
  const paid = balance.payments.filter((p) => p.status === 'succeeded').sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  for (const p of paid) {
    let left = p.amount.amount - (p.refunded || 0);
    // A deposit goes to its own visit's charges first.
    const targets = open.filter((o) => o.charge.currency === p.amount.currency && (!p.chargeIds.length || p.chargeIds.includes(o.charge.id)))
      .sort((a, b) => (b.charge.appointmentId === p.depositFor) - (a.charge.appointmentId === p.depositFor));
    const parts = [];
    for (const target of targets) {
      const take = Math.min(left, target.left);
      if (take <= 0) continue;
      parts.push({ charge: target.charge, amount: take });
      target.left -= take;
      left -= take;
    }
    toward.set(p.id, parts);
  }
  return toward;
}

// The pay button says what it pays.
function payLabel() {
  const due = checkout.due;
  const amount = due ? toMinor($('pay-part').value, due.currency) : NaN;
  const valid = due && Number.isSafeInteger(amount) && amount >= 1 && amount <= due.balance - due.processing;
  $('pay-now').textContent = valid ? `Pay ${money(amount, due.currency)}` : 'Pay';
}

// The statement: see statementTables (common.js).
function showStatement(balance, visits) {
  const tables = statementTables(balance, visits);
  $('statement-tables').replaceChildren(...(tables.length ? tables : [el('p', { textContent: 'No charges or payments yet.' })]));
  show('print-statement', tables.length > 0);
  const practice = `${catalog.practice?.name || 'the practice'}${catalog.practice?.contact?.address ? `, ${catalog.practice.contact.address}` : ''}`;
  const from = `Statement of ${new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeZone: session.zone }).format(new Date())} from ${practice}.`;
  $('statement-for').dataset.practice = from;
  $('statement-for').textContent = from;
}

// Prints the statement alone (the page's other parts are left off the paper), with whose it is.
async function printStatement() {
  try {
    const me = await api('/v1/patients/me');
    $('statement-for').textContent = `${me.name} (born ${me.dateOfBirth}): s${$('statement-for').dataset.practice.slice(1)}`;
  } catch (error) {
    if (error.signedOut) return;
  }
  document.body.classList.add('printing-statement');
  window.addEventListener('afterprint', () => document.body.classList.remove('printing-statement'), { once: true });
  window.print();
}

// The configured processor's card form: Stripe's own element when deployed, the labelled local
// test form under `practica serve`.
async function startPayment(event) {
  event?.preventDefault();
  const due = checkout.due;
  if (!due) return;
  const outstanding = due.balance - due.processing;
  const amount = toMinor($('pay-part').value, due.currency);
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > outstanding) {
    $('pay-status').textContent = `Choose an amount from ${money(1, due.currency)} to ${money(outstanding, due.currency)}.`;
    $('pay-part').focus();
    return;
  }
  const processor = session.config?.payments?.processor;
  if (!['stripe', 'sandbox'].includes(processor)) {
    $('pay-status').textContent = 'Online card payment is not set up here; please pay at the practice.';
    return;
  }
  $('pay-status').textContent = 'Preparing a secure payment…';
  try {
    checkout.payment = await api('/v1/payment-intents', { method: 'POST', key: newKey(), json: { currency: due.currency, ...(amount < outstanding ? { amount } : {}) } });
    const { clientSecret } = checkout.payment;
    checkout.confirm = processor === 'stripe'
      ? await (await import('./stripe.js')).mountCardForm(session.config.payments.publishableKey, clientSecret, $('card-element'))
      : async () => {
        const outcome = new FormData($('pay-form')).get('outcome');
        await api('/local/sandbox-pay', { method: 'POST', json: { clientSecret, outcome } });
      };
  } catch (error) {
    if (!error.signedOut) $('pay-status').textContent = `The payment could not be started: ${error.message}`;
    return;
  }
  $('pay-amount').textContent = `Amount: ${money(checkout.payment.amount.amount, checkout.payment.amount.currency)}.`;
  $('pay-status').textContent = '';
  show('sandbox-form', processor === 'sandbox');
  show('card-element', processor === 'stripe');
  show('pay-choose', false);
  show('pay-form', true);
  $('pay-submit').focus();
}

// The processor's answer comes by webhook: the page waits for the balance to show the payment
// succeeded or failed instead of trusting what the card form said.
async function confirmedStatus(paymentId) {
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const balance = await api('/v1/balance');
    const payment = balance.payments.find((p) => p.id === paymentId);
    if (payment && ['succeeded', 'failed', 'canceled'].includes(payment.status)) return payment;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

const DECLINES = {
  insufficient_funds: 'the card has insufficient funds',
  generic_decline: 'the card was declined',
};

async function pay(event) {
  event.preventDefault();
  const { payment } = checkout;
  $('pay-submit').disabled = true;
  $('pay-status').textContent = 'Paying… waiting for the payment processor to confirm.';
  try {
    await checkout.confirm();
    const confirmed = await confirmedStatus(payment.id);
    show('pay-form', false);
    await loadBalance();
    if (confirmed?.status === 'succeeded') {
      $('pay-status').textContent = `Paid ${money(confirmed.amount.amount, confirmed.amount.currency)}. Your receipt is below.`;
    } else if (confirmed?.status === 'failed') {
      const reason = DECLINES[confirmed.failure?.declineCode] || 'the card was declined';
      $('pay-status').textContent = `Not paid: ${reason}. Nothing was taken; you can try again with another card.`;
    } else {
      $('pay-status').textContent = 'The processor has not confirmed the payment yet; the balance updates when it does.';
    }
  } catch (error) {
    if (!error.signedOut) $('pay-status').textContent = `Not paid: ${error.message}`;
  } finally {
    $('pay-submit').disabled = false;
  }
}

// --- messages: feedback and notification choices ---

export async function loadMessages() {
  const [{ feedback }, prefs] = await Promise.all([api('/v1/feedback?limit=20'), api('/v1/patients/me/notifications')]);
  list('feedback-list', feedback.map((f) => item(
    `${f.category}: ${f.text}`,
    f.status === 'resolved' ? `Answered ${when(f.resolvedAt)}: ${f.resolutionNote}` : `Sent ${when(f.createdAt)} · waiting for an answer`,
  )), 'You have not sent feedback yet.');
  $('notify-email').checked = prefs.email;
  $('notify-sms').checked = prefs.sms;
  $('notify-channels').textContent = prefs.channels.length
    ? `Messages go to: ${prefs.channels.map((c) => (c === 'sms' ? 'text message' : 'email')).join(' and ')}.`
    : 'No messages are sent to you now.';
  const notes = [];
  const emailed = prefs.channels.includes('email');
  if (prefs.email && !prefs.emailVerified) {
    notes.push(addressDiffers
      ? 'The address the practice has for you is not the one you sign in with.'
      : 'Your sign-in has not confirmed the address the practice has for you.');
    notes.push(emailed ? 'Email goes to it because you turned email on.' : 'No email is sent until it is confirmed.');
  }
  show('use-sign-in-address', !prefs.emailVerified && addressDiffers);
  if (prefs.emailBounced) notes.push('Email to you bounced; saving with email on tries again.');
  if (prefs.smsStopped) notes.push('You answered STOP to a text; turning texts on here starts them again.');
  $('notify-notes').textContent = notes.join(' ');
}

async function sendFeedback(event) {
  event.preventDefault();
  const text = $('feedback-text').value.trim();
  if (!text) {
    $('feedback-status').textContent = 'Write a few words first.';
    $('feedback-text').focus();
    return;
  }
  const rating = $('feedback-rating').value;
  const appointmentId = $('feedback-appointment').value;
  try {
    await api('/v1/feedback', {
      method: 'POST',
      key: newKey(),
      json: { category: $('feedback-category').value, text, ...(rating ? { rating: Number(rating) } : {}), ...(appointmentId ? { appointmentId } : {}) },
    });
    $('feedback-text').value = '';
    await loadMessages();
    $('feedback-status').textContent = 'Sent. The practice answers here.';
  } catch (error) {
    if (!error.signedOut) $('feedback-status').textContent = `Not sent: ${error.message}`;
  }
}

async function saveNotifications(event) {
  event.preventDefault();
  try {
    await api('/v1/patients/me/notifications', { method: 'PUT', key: newKey(), json: { email: $('notify-email').checked, sms: $('notify-sms').checked } });
    await loadMessages();
    $('notify-status').textContent = 'Saved.';
  } catch (error) {
    if (!error.signedOut) $('notify-status').textContent = `Not saved: ${error.message}`;
  }
}

export function wirePatient() {
  $('provider').addEventListener('change', () => fillServices($('service'), $('provider').value));
  $('wait-provider').addEventListener('change', () => fillServices($('wait-service'), $('wait-provider').value));
  $('find').addEventListener('submit', (event) => findTimes(event).catch((error) => fail('', error)));
  $('confirm').addEventListener('submit', book);
  $('prev-month').addEventListener('click', () => turnMonth(-1).catch((e) => fail('', e)));
  $('next-month').addEventListener('click', () => turnMonth(1).catch((e) => fail('', e)));
  $('booked-done').addEventListener('click', () => { show('booked', false); $('book-status').textContent = ''; $('upcoming-title').scrollIntoView(); });
  $('confirm-cancel').addEventListener('click', () => { show('confirm', false); booking.chosen = null; });
  $('stop-moving').addEventListener('click', () => { setMoving(null); show('confirm', false); $('slots').replaceChildren(); $('book-status').textContent = ''; show('month', false); });
  $('join-waitlist').addEventListener('submit', joinWaitlist);
  // The access log and its proofs: their own module, loaded when she asks (the page says it is
  // loading at once).
  const accessLog = (older) => {
    $('access-status').textContent = 'Loading…';
    import('./proof.js').then(({ showAccessLog }) => showAccessLog(older)).catch((error) => fail('', error));
  };
  $('show-access').addEventListener('click', () => accessLog(false));
  $('access-older').addEventListener('click', () => accessLog(true));
  // Her copy of her record.
  recordButtons('record', () => session.subject, () => 'my-record');
  $('pay-choose').addEventListener('submit', startPayment);
  $('pay-part').addEventListener('input', payLabel);
  $('print-statement').addEventListener('click', () => printStatement().catch((error) => fail('', error)));
  $('pay-form').addEventListener('submit', pay);
  $('pay-cancel').addEventListener('click', () => { show('pay-form', false); show('pay-choose', true); $('pay-status').textContent = ''; });
  $('feedback-form').addEventListener('submit', sendFeedback);
  $('use-sign-in-address').addEventListener('click', () => useSignInAddress().catch((error) => fail('', error)));
  $('notify-form').addEventListener('submit', saveNotifications);
}
