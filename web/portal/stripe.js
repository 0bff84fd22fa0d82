// The processor's own card form (Stripe's Payment Element), for a deployed portal whose
// config.json names Stripe: Stripe.js is loaded from Stripe only when a payment starts, and the
// card fields live in Stripe's frames, so card data goes to Stripe and never through this page's
// code (PCI DSS SAQ A). Stripe.js is not pinned by a hash: Stripe serves it only from its own host
// and does not support pinned copies.
let loading = null;

function loadStripeJs() {
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'https://js.stripe.com/v3/';
    script.addEventListener('load', () => resolve(window.Stripe));
    script.addEventListener('error', () => {
      loading = null;
      script.remove();
      reject(new Error('the payment form could not be loaded; please try again'));
    });
    document.head.append(script);
  });
  return loading;
}

// Mounts the card form for the intent whose client secret the API gave: a payment, or (`setup`)
// saving a card for later charges (`usage: off_session`). Returns the function that confirms it
// (throws with the processor's message when it declines).
export async function mountCardForm(publishableKey, clientSecret, container, setup = false) {
  const Stripe = await loadStripeJs();
  const stripe = Stripe(publishableKey);
  const elements = stripe.elements({ clientSecret });
  container.replaceChildren();
  elements.create('payment').mount(container);
  return async () => {
    // No redirect for cards (3-D Secure runs in Stripe's own frame); a payment method that must
    // leave the page comes back to the portal, where the page shows what the webhooks recorded.
    const confirm = setup ? stripe.confirmSetup : stripe.confirmPayment;
    const { error } = await confirm.call(stripe, {
      elements,
      redirect: 'if_required',
      confirmParams: { return_url: `${location.origin}/` },
    });
    if (error) throw new Error(error.message || (setup ? 'the card was not saved' : 'the payment was not completed'));
  };
}
