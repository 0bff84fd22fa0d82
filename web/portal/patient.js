// The patient's pages: appointments (book, move, cancel, the waitlist and its offers), billing
// (balance, paying, receipts), messages (feedback, notification choices) and the access log.
import {
  $, api, catalog, confirmButton, dayLabel, describe, el, fail, fillProviders, fillServices, freeTimes, item, list,
  money, newKey, session, show, startOfDayIn, timeLabel, when,
} from './common.js';
import { mountCardForm } from './stripe.js';

// Days of free times shown at once (and added by "Show more days"): a phone stays scrollable.
const DAYS_AT_ONCE = 3;
// What the booking form is doing: a new appointment, or moving `moving` to another time.
const booking = { chosen: null, days: [], shown: 0, moving: null };

export function resetPatient() {
  Object.assign(booking, { chosen: null, days: [], shown: 0, moving: null });
  for (const id of ['slots', 'upcoming', 'past', 'waitlist', 'access-log', 'receipts', 'feedback-list']) $(id).replaceChildren();
  for (const id of ['book-status', 'appointments-status', 'access-status', 'balance', 'pay-status', 'waitlist-status', 'feedback-status', 'notify-status']) $(id).textContent = '';
  for (const id of ['confirm', 'more-days', 'pay-form', 'pay-now', 'use-sign-in-address']) show(id, false);
  addressDiffers = false;
  $('show-access').textContent = 'Show the access log';
  setMoving(null);
}

// Whether the sign-in's address differs from the record's (the Messages page then offers to use it).
let addressDiffers = false;

// Confirms the address on the patient's record with the one her sign-in vouches for (the ID token
// goes to this one request only). Quiet: it changes nothing she would be asked about, and a
// failure leaves the address as it was (the Messages page says so).
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

async function loadAppointments() {
  const { appointments } = await api('/v1/appointments');
  const now = Date.now();
  const upcoming = appointments.filter((a) => a.status === 'booked' && Date.parse(a.end) >= now)
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const past = appointments.filter((a) => !upcoming.includes(a)).sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  list('upcoming', upcoming.map((a) => {
    const row = item(describe(a), when(a.start, a.timeZone));
    row.append(changeControls(a, cutoffOf(a.providerId)));
    return row;
  }), 'No upcoming appointments.');
  list('past', past.map((a) => item(describe(a), `${when(a.start, a.timeZone)}${a.status === 'cancelled' ? ' · cancelled' : ''}`)),
    'No past or cancelled appointments.');
  $('feedback-appointment').replaceChildren(new Option('None in particular', ''),
    ...appointments.map((a) => new Option(`${describe(a)}, ${dayLabel(a.start, a.timeZone)}`, a.id)));
}

// The provider's cut-off for changes by the patient (hours before the start).
const cutoffOf = (providerId) => catalog.providers.find((p) => p.id === providerId)?.rules?.cancelCutoffHours ?? 24;

// What the cut-off means for a time about to be booked, said before the click that books it.
function cutoffRule(start, cutoffHours, zone) {
  const deadline = Date.parse(start) - cutoffHours * 3600e3;
  return Date.now() >= deadline
    ? `It is less than ${cutoffHours} hours away: once booked, only the practice can move or cancel it (call them).`
    : `You can move or cancel it online until ${when(new Date(deadline).toISOString(), zone)}.`;
}

// The cut-off is said before any click: until when the patient may change or cancel online, or
// that it has passed and the practice must be called.
function changeControls(appointment, cutoffHours) {
  const box = el('div');
  const deadline = Date.parse(appointment.start) - cutoffHours * 3600e3;
  const rule = el('p', { className: 'muted' });
  if (Date.now() >= deadline) {
    rule.textContent = `It is less than ${cutoffHours} hours before the start: to cancel or change it, call the practice.`;
    box.append(rule);
    return box;
  }
  rule.textContent = `You can move or cancel it online until ${when(new Date(deadline).toISOString(), appointment.timeZone)}.`;
  const move = el('button', { type: 'button', className: 'secondary', textContent: 'Move to another time' });
  move.addEventListener('click', () => startMoving(appointment));
  const key = newKey();
  const cancel = confirmButton('Cancel this appointment', 'Yes, cancel it', 'Keep it', async () => {
    try {
      await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`, { method: 'POST', key, json: {} });
      await loadAppointments();
      $('book-status').textContent = '';
      $('appointments-status').textContent = 'Cancelled. It is now under past and cancelled appointments.';
    } catch (error) {
      if (!error.signedOut) rule.textContent = `Not cancelled: ${error.message}`;
    }
  });
  box.append(rule, el('div', { className: 'actions' }, move, cancel));
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

async function findTimes(event) {
  event?.preventDefault();
  show('confirm', false);
  $('book-status').textContent = 'Looking for free times…';
  const provider = $('provider').value;
  const service = $('service').value;
  const { slots, timeZone } = await freeTimes(provider, service, 14);
  const days = new Map();
  for (const slot of slots) {
    const day = dayLabel(slot, timeZone);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(slot);
  }
  booking.days = [...days].map(([day, starts]) => ({ day, starts, provider, service, timeZone }));
  booking.shown = 0;
  $('slots').replaceChildren();
  showMoreDays();
  $('book-status').textContent = slots.length
    ? `${slots.length} free times in the next two weeks, shown in the practice's time zone (${timeZone})${Intl.DateTimeFormat().resolvedOptions().timeZone === timeZone ? '' : ' and in yours'}.`
    : 'No free times in the next two weeks with this provider; try another, or join the waitlist below.';
}

function showMoreDays() {
  const blocks = [];
  for (const { day, starts, provider, service, timeZone } of booking.days.slice(booking.shown, booking.shown + DAYS_AT_ONCE)) {
    const times = el('ul', { className: 'times' });
    // The patient's own time beside the practice's when their zones differ.
    const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const start of starts) {
      const yours = own && own !== timeZone ? ` (${timeLabel(start, own)} yours)` : '';
      const button = el('button', { type: 'button', textContent: `${timeLabel(start, timeZone)}${yours}` });
      button.setAttribute('aria-label', `${day} at ${timeLabel(start, timeZone)}${yours}`);
      button.dataset.start = start;
      button.addEventListener('click', () => choose({ provider, service, start, timeZone }));
      times.append(el('li', {}, button));
    }
    blocks.push(el('h3', { className: 'day', textContent: day }), times);
  }
  $('slots').append(...blocks);
  booking.shown += DAYS_AT_ONCE;
  show('more-days', booking.shown < booking.days.length);
}

function choose(chosen) {
  booking.chosen = { ...chosen, key: newKey() };
  const what = `${catalog.serviceName.get(chosen.service)} with ${catalog.providerName.get(chosen.provider)}`;
  const rule = cutoffRule(chosen.start, cutoffOf(chosen.provider), chosen.timeZone);
  $('confirm-text').textContent = booking.moving
    ? `Move it to ${when(chosen.start, chosen.timeZone)}. ${rule}`
    : `${what}, ${when(chosen.start, chosen.timeZone)}. ${rule}`;
  $('confirm-submit').textContent = booking.moving ? 'Move to this time' : 'Book this time';
  show('reason-box', !booking.moving);
  show('confirm', true);
  (booking.moving ? $('confirm-submit') : $('reason')).focus();
}

async function book(event) {
  event.preventDefault();
  const { chosen, moving } = booking;
  const reason = $('reason').value.trim();
  try {
    if (moving) {
      await api(`/v1/appointments/${encodeURIComponent(moving.id)}/reschedule`, { method: 'POST', key: chosen.key, json: { start: chosen.start } });
    } else {
      await api('/v1/appointments', {
        method: 'POST',
        key: chosen.key,
        json: { providerId: chosen.provider, serviceId: chosen.service, start: chosen.start, ...(reason ? { reason } : {}) },
      });
    }
  } catch (error) {
    if (error.signedOut) return;
    const verb = moving ? 'Not moved' : 'Not booked';
    if (error.code === 'slot_taken') {
      await findTimes().catch((e) => fail('', e));
      $('book-status').textContent = `${verb}: ${error.message} The times still free are below.`;
    } else {
      $('book-status').textContent = `${verb}: ${error.message}`;
    }
    return;
  }
  show('confirm', false);
  show('more-days', false);
  $('reason').value = '';
  $('slots').replaceChildren();
  setMoving(null);
  try {
    await loadAppointments();
    $('appointments-status').textContent = '';
    $('book-status').textContent = moving ? 'Moved. The new time is in your upcoming appointments.' : 'Booked. It is now in your upcoming appointments.';
  } catch (error) {
    $('book-status').textContent = moving ? 'Moved.' : 'Booked.';
    fail('Your appointments could not be refreshed: ', error);
  }
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
  const balance = await api('/v1/balance');
  checkout.balance = balance;
  const owed = balance.balances.filter((b) => b.balance - b.processing > 0);
  const credit = balance.balances.filter((b) => b.balance < 0);
  const lines = [
    ...owed.map((b) => `You owe ${money(b.balance, b.currency)}.`),
    ...balance.balances.filter((b) => b.processing > 0).map((b) => `${money(b.processing, b.currency)} is being paid.`),
    ...credit.map((b) => `You have a credit of ${money(-b.balance, b.currency)}.`),
  ];
  $('balance').textContent = lines.length ? lines.join(' ') : 'Nothing to pay.';
  const due = owed[0];
  show('pay-now', Boolean(due));
  if (due) $('pay-now').textContent = `Pay ${money(due.balance - due.processing, due.currency)}`;
  checkout.due = due;
  const receipts = balance.payments.filter((p) => p.status === 'succeeded').sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  list('receipts', receipts.map((p) => {
    const refunded = p.refunded ? ` · ${money(p.refunded, p.amount.currency)} refunded` : '';
    return item(`${money(p.amount.amount, p.amount.currency)} paid by card`, `${when(p.createdAt)} · receipt ${p.id}${refunded}`);
  }), 'No payments yet.');
}

// The configured processor's card form: Stripe's own element when deployed, the labelled local
// test form under `practica serve`.
async function startPayment() {
  const due = checkout.due;
  if (!due) return;
  const processor = session.config?.payments?.processor;
  if (!['stripe', 'sandbox'].includes(processor)) {
    $('pay-status').textContent = 'Online card payment is not set up here; please pay at the practice.';
    return;
  }
  $('pay-status').textContent = 'Preparing a secure payment…';
  try {
    checkout.payment = await api('/v1/payment-intents', { method: 'POST', key: newKey(), json: { currency: due.currency } });
    const { clientSecret } = checkout.payment;
    checkout.confirm = processor === 'stripe'
      ? await mountCardForm(session.config.payments.publishableKey, clientSecret, $('card-element'))
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
  show('pay-now', false);
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
  $('more-days').addEventListener('click', showMoreDays);
  $('confirm-cancel').addEventListener('click', () => { show('confirm', false); booking.chosen = null; });
  $('stop-moving').addEventListener('click', () => { setMoving(null); show('confirm', false); $('slots').replaceChildren(); $('book-status').textContent = ''; show('more-days', false); });
  $('join-waitlist').addEventListener('submit', joinWaitlist);
  $('pay-now').addEventListener('click', startPayment);
  $('pay-form').addEventListener('submit', pay);
  $('pay-cancel').addEventListener('click', () => { show('pay-form', false); show('pay-now', true); $('pay-status').textContent = ''; });
  $('feedback-form').addEventListener('submit', sendFeedback);
  $('use-sign-in-address').addEventListener('click', () => useSignInAddress().catch((error) => fail('', error)));
  $('notify-form').addEventListener('submit', saveNotifications);
}
