// The patient's card on file (loaded with the billing page): saving one under the card
// authorisation she signed, in the processor's own card form (the labelled local test form under
// `practica serve`), and removing it. The card is on file only once the processor's webhook said
// so: the page waits for the API to show it instead of trusting the form.
import { $, api, confirmButton, newKey, session, show, when } from './common.js';

const state = { card: null, confirm: null, wired: false };

const BRANDS = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB', unionpay: 'UnionPay' };

function words(card) {
  if (!card.last4) return 'A card is on file (its details are on their way from the processor).';
  const named = `${BRANDS[card.brand] || 'Card'} ending ${card.last4} is on file.`;
  if (card.lastDeclinedAt) {
    return `${named} A fee charged to it on ${when(card.lastDeclinedAt)} was declined: pay it above, or replace the card.`;
  }
  return `${named} Fees the cancellation policy sets from now on are charged to it.`;
}

export async function loadCard() {
  wire();
  const { card, authorisation } = await api('/v1/cards');
  state.card = card;
  const processor = session.config?.payments?.processor;
  const online = ['stripe', 'sandbox'].includes(processor);
  let summary;
  if (card) summary = words(card);
  else if (!online) summary = 'Cards are not saved online here.';
  else if (!authorisation.published) summary = 'The practice does not keep cards on file.';
  else if (!authorisation.signed) summary = 'To keep a card on file, first sign the card on file authorisation on the Consents page.';
  else summary = 'No card on file. With one, fees under the cancellation policy are charged to it; without, you pay them here.';
  $('card-summary').textContent = summary;
  show('card-add', online && authorisation.signed);
  $('card-add').textContent = card ? 'Replace this card' : 'Save a card';
  $('card-remove').replaceChildren(...(card ? [confirmButton('Remove this card', 'Yes, remove it', 'Keep it', () => remove(card), null, true)] : []));
}

function wire() {
  if (state.wired) return;
  state.wired = true;
  $('card-add').addEventListener('click', startSaving);
  $('card-form').addEventListener('submit', save);
  $('card-cancel').addEventListener('click', () => {
    show('card-form', false);
    show('card-add', true);
    $('card-status').textContent = '';
    $('card-add').focus();
  });
}

async function startSaving() {
  const processor = session.config?.payments?.processor;
  $('card-status').textContent = 'Preparing the secure card form…';
  try {
    const { clientSecret } = await api('/v1/cards/setup', { method: 'POST', key: newKey(), json: {} });
    state.confirm = processor === 'stripe'
      ? await (await import('./stripe.js')).mountCardForm(session.config.payments.publishableKey, clientSecret, $('card-setup-element'), true)
      : async () => {
        const card = new FormData($('card-form')).get('test-card');
        await api('/local/sandbox-setup', { method: 'POST', json: { clientSecret, card } });
      };
  } catch (error) {
    if (!error.signedOut) $('card-status').textContent = `The card form could not be opened: ${error.message}`;
    return;
  }
  $('card-status').textContent = '';
  show('card-add', false);
  show('card-sandbox', processor === 'sandbox');
  show('card-setup-element', processor === 'stripe');
  show('card-form', true);
  $('card-save').focus();
}

async function save(event) {
  event.preventDefault();
  const before = state.card?.paymentMethodId;
  $('card-save').disabled = true;
  $('card-status').textContent = 'Saving the card…';
  try {
    await state.confirm();
    // On file when the processor's webhook says so.
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const { card } = await api('/v1/cards');
      if (card && card.paymentMethodId !== before && card.last4) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    show('card-form', false);
    await loadCard();
    $('card-status').textContent = state.card && state.card.paymentMethodId !== before
      ? 'Card saved.'
      : 'The processor has not confirmed the card yet; check again in a minute.';
    $('card-title').focus();
  } catch (error) {
    if (!error.signedOut) $('card-status').textContent = `The card was not saved: ${error.message}`;
  } finally {
    $('card-save').disabled = false;
  }
}

async function remove(card) {
  $('card-status').textContent = 'Removing the card…';
  try {
    await api('/v1/cards/remove', { method: 'POST', key: newKey(), json: { paymentMethodId: card.paymentMethodId } });
    await loadCard();
    $('card-status').textContent = 'Card removed. Fees are now paid here.';
    $('card-title').focus();
  } catch (error) {
    if (!error.signedOut) $('card-status').textContent = `The card was not removed: ${error.message}`;
  }
}
