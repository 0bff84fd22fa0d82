// A booking's deposit, paid in the processor's card form (a test form locally); the visit is
// confirmed when the processor's webhook says so (the page waits for the API, not the form).
import { $, api, confirmButton, describe, el, item, money, newKey, session, show, when } from './common.js';

const state = {};
const LAPSED = 'The time held for this deposit has passed: the booking lapsed. Please choose a time again.';

// A booking waiting for its deposit in her list: pay it, or let it go (nothing charged).
export function awaitingRow(appointment, open, reload) {
  const { amount } = appointment.deposit;
  const row = item(describe(appointment), `${when(appointment.start, appointment.timeZone)} · not confirmed yet: waiting for the deposit of ${money(amount.amount, amount.currency)}`);
  const visit = `${describe(appointment)}, ${when(appointment.start, appointment.timeZone)}`;
  const pay = el('button', { type: 'button', textContent: 'Pay the deposit', ariaLabel: `Pay the deposit: ${visit}` });
  pay.addEventListener('click', open);
  const cancel = confirmButton('Cancel this booking', 'Yes, cancel it', 'Keep it', async () => {
    try {
      await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`, { method: 'POST', key: newKey(), json: {} });
      show('booked', false);
      $('book-status').textContent = '';
      await reload();
      $('appointments-status').textContent = 'Cancelled. Nothing was charged.';
      $('upcoming-title').focus();
    } catch (error) {
      if (!error.signedOut) $('appointments-status').textContent = `Not cancelled: ${error.message}`;
    }
  });
  row.append(el('div', { className: 'actions' }, pay, cancel));
  return row;
}

// The booked panel's deposit: what it is, until when the time is held, and its checkout; once
// the webhook confirmed the visit, the panel says so and `reload` redraws her list.
export async function openDeposit(appointment, reload, calendar) {
  if (!state.wired) $('deposit-form').addEventListener('submit', pay);
  const { amount: due, dueBy } = appointment.deposit;
  const row = el('dd', { textContent: `${money(due.amount, due.currency)}, to pay by ${when(dueBy, appointment.timeZone)}: the time is held for you until then, and the visit is confirmed once it is paid.` });
  $('booked-details').append(el('dt', { textContent: 'Deposit' }), row);
  const done = async (now) => {
    await reload();
    if (now?.status !== 'booked') return;
    calendar(now);
    $('booked-title').textContent = 'Booked';
    row.textContent = `${money(due.amount, due.currency)}, paid: it counts toward the visit's charge.`;
    $('book-status').textContent = 'Booked. It is now in your upcoming appointments.';
    $('booked-title').focus();
  };
  Object.assign(state, { wired: true, appointment, done });
  const processor = session.config?.payments?.processor;
  const status = $('deposit-status');
  show('deposit-form', false);
  if (!['stripe', 'sandbox'].includes(processor)) {
    status.textContent = 'Online card payment is not set up here: please call the practice.';
    return;
  }
  status.textContent = 'Preparing a secure payment…';
  try {
    state.payment = await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/deposit`, { method: 'POST', key: newKey(), json: {} });
    const { clientSecret } = state.payment;
    state.confirm = processor === 'stripe'
      ? await (await import('./stripe.js')).mountCardForm(session.config.payments.publishableKey, clientSecret, $('deposit-element'))
      : async () => {
        const outcome = new FormData($('deposit-form')).get('deposit-outcome');
        await api('/local/sandbox-pay', { method: 'POST', json: { clientSecret, outcome } });
        // As Stripe.js answers a declined card.
        if (outcome.startsWith('declined')) throw new Error('the card was declined. Nothing was taken; you can try again with another card.');
      };
  } catch (error) {
    if (!error.signedOut) status.textContent = error.code === 'deposit_lapsed' ? LAPSED : `The payment could not be started: ${error.message}`;
    return;
  }
  const { amount } = state.payment;
  $('deposit-amount').textContent = `Deposit: ${money(amount.amount, amount.currency)}.`;
  $('deposit-submit').textContent = `Pay ${money(amount.amount, amount.currency)}`;
  status.textContent = '';
  show('deposit-sandbox', processor === 'sandbox');
  show('deposit-element', processor === 'stripe');
  show('deposit-form', true);
}

// The payment once the webhook recorded it: paid, or cancelled (lapsed). A decline is the form's
// own answer (the same intent may be tried again).
async function settled(id) {
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const payment = (await api('/v1/balance')).payments.find((p) => p.id === id);
    if (['succeeded', 'canceled'].includes(payment?.status)) return payment;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

async function pay(event) {
  event.preventDefault();
  const status = $('deposit-status');
  $('deposit-submit').disabled = true;
  status.textContent = 'Paying… waiting for the payment processor to confirm.';
  try {
    await state.confirm();
    const outcome = await settled(state.payment.id);
    if (!outcome) {
      status.textContent = 'The processor has not confirmed the payment yet; your appointments update when it does.';
      return;
    }
    const now = outcome.status === 'succeeded' && (await api('/v1/appointments')).appointments.find((a) => a.id === state.appointment.id);
    show('deposit-form', false);
    if (!now) status.textContent = LAPSED;
    else if (now.status === 'booked') status.textContent = 'Deposit paid: your visit is confirmed. A confirmation is on its way.';
    else status.textContent = 'Deposit paid, but the time was no longer held for you: it will be refunded. Please choose a time again.';
    await state.done?.(now || null);
  } catch (error) {
    // Past its due time the checkout was cancelled at the processor: the booking lapsed.
    const lapsed = Date.now() >= Date.parse(state.payment.dueBy);
    if (!error.signedOut) status.textContent = lapsed ? LAPSED : `Not paid: ${error.message}`;
  } finally {
    $('deposit-submit').disabled = false;
  }
}
