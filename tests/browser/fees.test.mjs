// The cancellation policy in headless chromium, on a server whose clock scripts/browser-tests starts
// at fixed instants (`practica serve --clock-start`), so the fees mean the same on any date:
//   node fees.test.mjs book URL        (Monday 23 Nov 2026, 15:00 New York)
//   node fees.test.mjs day URL SHOTS   (Tuesday 24 Nov, 11:10)
// Monday: the front desk books Jane an initial consultation (the demo's policy: cancelling less
// than 24 hours before costs 50.00 USD, missing it its price) for Tuesday 10:00; Jane books
// another for Tuesday 14:00 in the portal, is shown the policy before the click that books, sees
// that cancelling now costs the fee, cancels, and finds the fee on her statement. Tuesday: the
// desk marks her 10:00 a no-show (the fee is said), opens her page, sees both fees and waives the
// late one with a reason. Later on Tuesday (`deposit`): Jane books the extended session, whose
// policy asks a 50.00 USD deposit, is told so before the click, is declined once, pays, and the
// webhook confirms the visit. Desktop, the phone for the views; axe on each state.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { axe, client, launch } from './lib.mjs';

const [step, base, shots] = process.argv.slice(2);
const MONDAY = '2026-11-23T15:00:00-05:00';
const TUESDAY = '2026-11-24T11:10:00-05:00';
const DEPOSIT_DAY = '2026-11-24T11:50:00-05:00';
const api = client(base);
const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;
const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

async function catalog(token) {
  const { providers } = await api('/v1/providers', { token });
  const { services } = await api('/v1/services', { token });
  return {
    rivera: providers.find((p) => p.name === 'Dr. Ana Rivera'),
    initial: services.find((s) => s.name === 'Initial consultation'),
    extended: services.find((s) => s.name === 'Extended session'),
  };
}

async function page(browser, width, height, now, expected = []) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'America/New_York', locale: 'en-US' });
  await context.clock.setFixedTime(new Date(now));
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !expected.some((re) => re.test(m.text()))) problems.push(m.text()); });
  await page.goto(base);
  return { context, page, problems };
}

async function book() {
  const desk = await signIn('staff-1');
  const { rivera, initial } = await catalog(desk);
  assert.deepEqual(initial.cancellationTerms.words, [
    'Cancelling less than 24 hours before the visit costs a fee of 50.00 USD.',
    'Missing the visit without cancelling costs a fee of 150.00 USD.',
  ]);
  await api('/v1/appointments', {
    token: desk, method: 'POST', key: 'fees-missed',
    body: { providerId: rivera.id, serviceId: initial.id, start: '2026-11-24T10:00:00-05:00', patientId: 'patient-jane' },
  });
  const browser = await launch(chromium);
  try {
    const { context, page: p, problems } = await page(browser, 1280, 900, MONDAY);
    await p.getByRole('button', { name: 'Sign in as a patient' }).click();
    await p.getByRole('button', { name: 'Jane Demo-Patient' }).click();
    await p.locator('#appointments:not([hidden])').waitFor();
    // The policy before the click that books: a time 23 hours away, inside the window.
    await p.locator('#provider').selectOption({ label: rivera.name });
    await p.locator('#service').selectOption(initial.id);
    await p.getByRole('button', { name: 'Show free times' }).click();
    await p.getByRole('button', { name: /^Tuesday, November 24: / }).click();
    await p.locator('#slots button[data-start="2026-11-24T14:00:00-05:00"]').click();
    const confirm = await p.locator('#confirm-text').innerText();
    assert.match(confirm, /only the practice can move it \(call them at [^)]+\); you can cancel it online\. Cancellation policy: Cancelling less than 24 hours before the visit costs a fee of 50\.00 USD\. Missing the visit without cancelling costs a fee of 150\.00 USD\.$/, confirm);
    await axe(p, 'the policy before booking');
    await p.getByRole('button', { name: 'Book this time' }).click();
    await p.locator('#booked').waitFor();
    // The confirmation says what changes are left and the policy again.
    const booked = await p.locator('#booked').innerText();
    assert.match(booked, /Only the practice can move it now \(call them at [^)]+\); you can cancel it online\./, booked);
    assert.match(booked, /Cancellation policy\nCancelling less than 24 hours before the visit costs a fee of 50\.00 USD\./, booked);
    // In her list: cancelling now costs the fee, said before the click.
    await nav(p, 'Appointments');
    const visit = p.locator('#upcoming li').filter({ hasText: /Tuesday, November 24.*2:00\sPM/ });
    await visit.getByText(/You can still cancel online\. Cancelling now costs a fee of \$50\.00 under the practice's cancellation policy\./).waitFor();
    await visit.getByRole('button', { name: /^Cancel this appointment/ }).click();
    // The answer costs money: the focus is on "Keep it", so a stray Enter charges nothing.
    assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Keep it');
    await axe(p, 'cancelling inside the window');
    await visit.getByRole('button', { name: 'Yes, cancel it and owe $50.00' }).click();
    await p.locator('#appointments-status', { hasText: 'A late cancellation fee of $50.00 is on your account (see Billing).' }).waitFor();
    await nav(p, 'Billing');
    await p.locator('#balance', { hasText: 'You owe $50.00.' }).waitFor();
    assert.match(await p.locator('#statement').innerText(), /Late cancellation fee \(\$50\.00\)/);
    await axe(p, 'the fee on her statement');
    if (shots) await p.screenshot({ path: `${shots}/portal-fee-desktop.png`, fullPage: true });

    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log('fees (Monday): the policy before booking, a late cancellation charged its fee, on her statement: ok');
}

async function day() {
  const browser = await launch(chromium);
  try {
    for (const [label, width, height] of [['desktop', 1280, 900], ['phone', 390, 844]]) {
      const { context, page: p, problems } = await page(browser, width, height, TUESDAY);
      await p.getByRole('button', { name: 'Staff sign-in' }).click();
      await p.getByRole('button', { name: 'Front desk (demo staff)' }).click();
      await p.locator('#calendar-page:not([hidden])').waitFor();
      await p.getByRole('button', { name: 'Show the day' }).click();
      const status = p.locator('#calendar-status');
      const missed = p.locator('#calendar li').filter({ hasText: /10:00\sAM–11:00\sAM · Jane Demo-Patient/ });
      await missed.waitFor();
      if (label === 'desktop') {
        await missed.getByRole('button', { name: /^No-show/ }).click();
        assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Keep it booked');
        await axe(p, 'a no-show asked once more, naming the fee');
        await missed.getByRole('button', { name: 'Yes, mark a no-show and charge $150.00' }).click();
        await status.filter({ hasText: 'no-show. Missed appointment fee of $150.00 charged under the cancellation policy.' }).waitFor();
        await axe(p, 'a no-show charged');
        // The calendar page's feeds, loaded when asked for (feeds.js): each provider's.
        await p.getByRole('button', { name: 'Show calendar feeds' }).click();
        await p.locator('#feeds h3', { hasText: 'Dr. Ana Rivera' }).waitFor();
        await axe(p, 'the calendar feeds');
      }
      assert.match(await missed.innerText(), /· No-show/);
      await missed.getByRole('button', { name: /^Details: / }).click();
      await missed.getByRole('button', { name: "Open Jane Demo-Patient's page" }).click();
      await p.locator('#chosen-title', { hasText: 'Jane Demo-Patient' }).waitFor();
      const fees = p.locator('#chosen-fees li');
      await fees.first().waitFor();
      const late = fees.filter({ hasText: /^Late cancellation fee: \$50\.00/ });
      const noShow = fees.filter({ hasText: /^Missed appointment fee: \$150\.00/ });
      assert.equal(await noShow.count(), 1);
      if (label === 'desktop') {
        // Waived, with a reason; a reason must be chosen first.
        await late.getByRole('button', { name: /^Waive: / }).click();
        assert.equal(await late.getByRole('combobox').evaluate((s) => s.validity.valid), false);
        await late.getByRole('combobox').selectOption('goodwill');
        await axe(p, 'waiving a fee');
        await late.getByRole('button', { name: /^Waive: / }).click();
        await p.locator('#chosen-fees-status', { hasText: /^Waived: Late cancellation fee: \$50\.00/ }).waitFor();
      }
      await late.getByText(/^Waived \(goodwill\) on /).waitFor();
      assert.equal(await noShow.getByRole('button', { name: /^Waive: / }).count(), 1, 'the no-show fee stands');
      await axe(p, `her fees (${label})`);
      if (shots) await p.screenshot({ path: `${shots}/console-fees-${label}.png`, fullPage: true });
      assert.deepEqual(problems, [], `${label}: console errors`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log('fees (Tuesday): a no-show charged its fee, both fees on her page, the late one waived with a reason; desktop and phone: ok');
}

// Tuesday, later: Jane, who signed the card authorisation, saves a test card on file in the
// billing page (the sandbox's card form; the card is on file once the webhooks say so), sees it
// named by brand and last four, and removes it again (asked once more, "Keep it" focused).
async function cards() {
  const jane = await signIn('patient-jane');
  const { documents } = await api('/v1/consents', { token: jane });
  const card = documents.find((d) => d.documentId === 'card');
  await api('/v1/consents/card/sign', {
    token: jane, method: 'POST', key: 'sign-card',
    body: { versionHash: card.versionHash, typedName: 'Jane Demo-Patient', agree: true },
  });
  const browser = await launch(chromium);
  try {
    const { context, page: p, problems } = await page(browser, 1280, 900, TUESDAY);
    await p.getByRole('button', { name: 'Sign in as a patient' }).click();
    await p.getByRole('button', { name: 'Jane Demo-Patient' }).click();
    await p.locator('#appointments:not([hidden])').waitFor();
    await nav(p, 'Billing');
    await p.locator('#card-summary', { hasText: /^No card on file\./ }).waitFor();
    await p.getByRole('button', { name: 'Save a card' }).click();
    await p.locator('#card-sandbox:not([hidden])').waitFor();
    assert.equal(await p.evaluate(() => document.activeElement.id), 'card-save');
    await axe(p, 'saving a card');
    await p.getByRole('button', { name: 'Save card', exact: true }).click();
    await p.locator('#card-summary', { hasText: 'Visa ending 4242 is on file.' }).waitFor();
    await p.locator('#card-status', { hasText: 'Card saved.' }).waitFor();
    await axe(p, 'a card on file');
    if (shots) await p.screenshot({ path: `${shots}/portal-card-on-file.png`, fullPage: true });
    await p.getByRole('button', { name: 'Remove this card' }).click();
    assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Keep it');
    await p.getByRole('button', { name: 'Yes, remove it' }).click();
    await p.locator('#card-status', { hasText: 'Card removed.' }).waitFor();
    await p.locator('#card-summary', { hasText: /^No card on file\./ }).waitFor();
    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log('fees (Tuesday): a card saved on file through the sandbox card form, named by brand and last four, removed: ok');
}

// Tuesday, later still: Jane pays her balance (the no-show fee) and disputes the payment with her
// bank; the front desk drafts the evidence on the Disputes page (from the records and the signed
// log: the policy she accepted, the no-show mark and who made it), reads it, and submits it.
async function disputes() {
  const jane = await signIn('patient-jane');
  const payment = await api('/v1/payment-intents', { token: jane, method: 'POST', key: 'pay-balance', body: { currency: 'USD' } });
  await api('/local/sandbox-pay', { method: 'POST', body: { clientSecret: payment.clientSecret, outcome: 'success' } });
  await api('/local/sandbox-dispute', { method: 'POST', body: { paymentIntentId: payment.processorIntentId, reason: 'product_unacceptable' } });
  const browser = await launch(chromium);
  try {
    const { context, page: p, problems } = await page(browser, 1280, 900, TUESDAY);
    await p.getByRole('button', { name: 'Staff sign-in' }).click();
    await p.getByRole('button', { name: 'Front desk (demo staff)' }).click();
    await p.locator('#calendar-page:not([hidden])').waitFor();
    await nav(p, 'Disputes');
    const dispute = p.locator('#disputes li').filter({ hasText: 'Jane Demo-Patient: $150.00 disputed (product unacceptable)' });
    await dispute.getByText(/no evidence drafted yet/).waitFor();
    await axe(p, 'a dispute without evidence');
    await dispute.getByRole('button', { name: /^Draft the evidence: / }).click();
    await p.locator('#disputes-status', { hasText: 'Evidence drafted' }).waitFor();
    const text = await dispute.locator('details').innerText();
    assert.match(text, /Cancellation policy \(version [0-9a-f]+\), stated in the booking confirmation emailed to the cardholder when a practice staff member booked the appointment for her/);
    assert.match(text, /Missing the visit without cancelling costs a fee of 150\.00 USD\./);
    assert.match(text, /did not attend the appointment of Tuesday, November 24, 2026 at 10:00 AM EST/);
    assert.match(text, /marked as not attended at 2026-11-24T\d\d:\d\d:\d\dZ by a practice staff member/);
    assert.doesNotMatch(text, /Initial consultation|Jane|Front desk/, 'no service name, no person named in the evidence');
    await axe(p, 'the drafted evidence');
    if (shots) await p.screenshot({ path: `${shots}/console-dispute-evidence.png`, fullPage: true });
    await dispute.getByRole('button', { name: /^Submit this evidence: / }).click();
    assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Not yet');
    await dispute.getByRole('button', { name: 'Yes, submit it (final)' }).click();
    await p.locator('#disputes-status', { hasText: 'Evidence submitted to the card network.' }).waitFor();
    await p.locator('#disputes li', { hasText: 'evidence submitted' }).waitFor();
    assert.equal(await p.locator('#disputes li').getByRole('button', { name: /^Draft the evidence/ }).count(), 0);
    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log('fees (Tuesday): a disputed fee answered with evidence from the signed log, drafted, read and submitted: ok');
}


// Tuesday 11:50: a deposit at booking, for a visit on Monday 30 November.
async function deposit() {
  const desk = await signIn('staff-1');
  const { rivera, extended } = await catalog(desk);
  const browser = await launch(chromium);
  try {
    const { context, page: p, problems } = await page(browser, 1280, 900, DEPOSIT_DAY);
    await p.getByRole('button', { name: 'Sign in as a patient' }).click();
    await p.getByRole('button', { name: 'Jane Demo-Patient' }).click();
    await p.locator('#appointments:not([hidden])').waitFor();

    // A deposit at booking: said before the click that books; the visit waits for it (a declined
    // card leaves it waiting), and the processor's webhook confirms it once paid.
    await p.locator('#provider').selectOption({ label: rivera.name });
    await p.locator('#service').selectOption(extended.id);
    await p.getByRole('button', { name: 'Show free times' }).click();
    await p.getByRole('button', { name: /^Monday, November 30: / }).click();
    await p.locator('#slots button[data-start="2026-11-30T14:00:00-05:00"]').click();
    const terms = await p.locator('#confirm-text').innerText();
    assert.match(terms, /Price: \$200\.00\..*A deposit of 50\.00 USD is paid when booking: the visit is confirmed once it is paid, and it counts toward the visit's charge\. Cancelling 48 hours or more before the visit refunds the deposit\./, terms);
    await p.getByRole('button', { name: 'Book this time' }).click();
    await p.locator('#booked-title', { hasText: 'Almost booked: pay the deposit' }).waitFor();
    await p.locator('#book-status', { hasText: 'Almost booked: pay the deposit below to confirm it.' }).waitFor();
    assert.match(await p.locator('#booked-details').innerText(), /Deposit\n\$50\.00, to pay by Tuesday, November 24.*: the time is held for you until then/);
    const payDeposit = p.getByRole('button', { name: 'Pay $50.00' });
    await payDeposit.waitFor();
    assert.equal(await p.locator('#add-to-calendar').isHidden(), true, 'no calendar file before it is confirmed');
    await axe(p, 'a deposit to pay');
    await p.getByLabel('The bank declines the card').check();
    await payDeposit.click();
    await p.locator('#deposit-status', { hasText: 'Not paid: the card was declined.' }).waitFor();
    // Her list says it is not confirmed yet, with the deposit to pay (or the booking to let go).
    const waiting = p.locator('#upcoming li').filter({ hasText: /Monday, November 30.*2:00\sPM.* · not confirmed yet: waiting for the deposit of \$50\.00/ });
    await waiting.getByRole('button', { name: 'Pay the deposit' }).waitFor();
    await waiting.getByRole('button', { name: 'Cancel this booking' }).waitFor();
    await p.getByLabel('The card pays the deposit').check();
    await payDeposit.click();
    await p.locator('#deposit-status', { hasText: 'Deposit paid: your visit is confirmed.' }).waitFor();
    await p.locator('#booked-title', { hasText: /^Booked$/ }).waitFor();
    await axe(p, 'a deposit paid');
    const confirmed = p.locator('#upcoming li').filter({ hasText: /Monday, November 30.*2:00\sPM/ });
    await confirmed.getByRole('button', { name: /^Cancel this appointment/ }).waitFor();
    // On her billing page: the deposit's receipt, named as the deposit for that visit.
    await nav(p, 'Billing');
    await p.locator('#receipts li', { hasText: /\$50\.00 paid with Visa ending 4242 \(the deposit for your visit on Monday, November 30\)/ }).waitFor();
    // The desk sees it booked; before, it showed as waiting.
    const view = await api('/v1/appointments?providerId=' + rivera.id + '&from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z', { token: desk });
    assert.equal(view.appointments.find((a) => a.serviceId === extended.id)?.status, 'booked');
    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log('fees (Tuesday): a deposit said before booking, declined, paid, the visit confirmed by the webhook, its receipt: ok');
}

await ({ book, day, cards, disputes, deposit }[step] || day)();
