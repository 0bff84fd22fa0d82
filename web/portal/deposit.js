// A booking's deposit, paid in the booked panel: one checkout per appointment, in the processor's
// card form (a labelled test form locally). The visit is confirmed when the processor's webhook
// says so: the page waits for the API, not the form.
import { $, api, confirmButton, describe, el, item, money, newKey, session, show, when } from './common.js';
import { mountCardForm } from './stripe.js';

const state = {};
const LAPSED = 'The time held for this deposit has passed: the booking lapsed. Please choose a time again.';

// A booking waiting for its deposit in her list: pay it, or let it go (nothing charged).
export function awaitingRow(appointment, open, reload) {
  const { amount } = appointment.deposit;
  const row = item(describe(appointment), `${when(appointment.start, appointment.timeZone)} · not confirmed yet: waiting for the deposit of ${money(amount.amount, amount.currency)}`);
  const pay = el('button', { type: 'button', textContent: 'Pay the deposit' });
  pay.addEventListener('click', open);
  const cancel = confirmButton('Cancel this booking', 'Yes, cancel it', 'Keep it', async () => {
    try {
      await api(`/v1/appointments/${encodeURIComponent(appointment.id)}/cancel`, { method: 'POST', key: newKey(), json: {} });
      show('booked', false);
      await reload();
      $('appointments-status').textContent = 'Cancelled. Nothing was charged.';
    } catch (error) {
      if (!error.signedOut) $('appointments-status').textContent = `Not cancelled: ${error.message}`;
    }
  });
  row.append(el('div', { className: 'actions' }, pay, cancel));
  return row;
}

// Opens the checkout of `appointment`'s deposit; `done` runs once the webhook decided.
export async function openDeposit(appointment, done) {
  if (!state.wired) $('deposit-form').addEventListener('submit', pay);
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
      ? await mountCardForm(session.config.payments.publishableKey, clientSecret, $('deposit-element'))
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

// The payment as the webhook recorded it once the form accepted it: paid, or cancelled (lapsed).
// (A decline is the form's own answer, and the same intent may be tried again.)
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
    if (!error.signedOut) status.textContent = `Not paid: ${error.message}`;
  } finally {
    $('deposit-submit').disabled = false;
  }
}
