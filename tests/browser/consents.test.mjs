// Consents and forms in headless chromium: the practice has a video service that asks for the telehealth
// and treatment consents (made through the API first):
//   node consents.test.mjs URL SHOTS
// Jane reads and signs the treatment consent on her Consents page (an empty name and a missing
// tick are refused with the reason); she books the video service: the booking asks for the
// telehealth consent, she signs it there and the time she chose is booked; she downloads the
// signed copy (its text's SHA-256 is the version it names) and withdraws one consent. The front
// desk sees her consents on her page. Then forms: her first consultation asks for the intake
// questionnaire and the PHQ-9; she fills them in (a draft saved, a missing answer named); Dr.
// Rivera sees her answers and her score in the visit's details. Desktop and phone, axe on each state.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { axe, client, launch } from './lib.mjs';

const [base, shots] = process.argv.slice(2);
const api = client(base);
const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;

async function setup() {
  const admin = await signIn('admin-1');
  const { providers } = await api('/v1/providers', { token: admin });
  const rivera = providers.find((p) => p.name === 'Dr. Ana Rivera');
  const video = await api('/v1/services', {
    token: admin, method: 'POST', key: 'consents-video',
    body: { name: 'Video session', durationMinutes: 30, providerIds: [rivera.id], requiredConsents: ['telehealth', 'treatment'] },
  });
  return { rivera, video };
}

const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

async function journey(browser, label, width, height, { rivera, video }) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'America/New_York', locale: 'en-US', acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // The refusals the journey provokes: the booking asks for a consent first (409), a required
  // answer is missing (422).
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (409|422)/.test(m.text())) problems.push(m.text()); });
  await page.goto(base);
  await page.getByRole('button', { name: 'Sign in as a patient' }).click();
  await page.getByRole('button', { name: label === 'desktop' ? 'Jane Demo-Patient' : 'Jane Demo-Patient' }).click();
  await page.locator('#appointments:not([hidden])').waitFor();
  if (label !== 'desktop') {
    // The phone: the page as it stands after the desktop journey.
    await nav(page, 'Consents');
    await page.locator('#consent-list li').first().waitFor();
    assert.match(await page.locator('#consent-list').innerText(), /Consent to treatment\s+Signed/);
    await axe(page, `her consents (${label})`);
    if (shots) await page.screenshot({ path: `${shots}/portal-consents-${label}.png`, fullPage: true });
    assert.deepEqual(problems, [], `console errors on ${label}`);
    await context.close();
    console.log(`consents (${label}): ok`);
    return;
  }

  // Her Consents page: the starter documents, none signed.
  await nav(page, 'Consents');
  const treatment = page.locator('#consent-list > li').filter({ has: page.getByRole('heading', { name: 'Consent to treatment' }) });
  await treatment.getByText('Not signed yet.').waitFor();
  await axe(page, 'her consents, none signed');
  await treatment.getByRole('button', { name: 'Read and sign: Consent to treatment' }).click();
  const text = treatment.getByRole('document', { name: 'Consent to treatment' });
  assert.ok(await text.evaluate((e) => e === document.activeElement), 'the text has the focus');
  assert.match(await text.innerText(), /I consent to examination and treatment/);
  await treatment.getByRole('button', { name: 'Sign: Consent to treatment' }).click();
  await page.locator('#consents-status', { hasText: 'Type your full name to sign.' }).waitFor();
  assert.equal(await treatment.getByLabel('Your full name, as your signature').getAttribute('aria-invalid'), 'true');
  await treatment.getByLabel('Your full name, as your signature').fill('Jane Demo-Patient');
  await treatment.getByRole('button', { name: 'Sign: Consent to treatment' }).click();
  await page.locator('#consents-status', { hasText: /^Tick "I have read this document/ }).waitFor();
  await treatment.getByLabel('I have read this document and agree to it').check();
  await axe(page, 'signing the treatment consent');
  await treatment.getByRole('button', { name: 'Sign: Consent to treatment' }).click();
  await page.locator('#consents-status', { hasText: 'Signed "Consent to treatment". A copy is under it.' }).waitFor();
  await treatment.getByText(/^Signed \w+day, /).waitFor();

  // Booking the video service: it asks for the telehealth consent, signed right there, then the
  // chosen time is booked.
  await nav(page, 'Appointments');
  await page.locator('#provider').selectOption(rivera.id);
  await page.locator('#service').selectOption(video.id);
  await page.getByRole('button', { name: 'Show free times' }).click();
  await page.locator('#month-grid button').first().click();
  const time = page.locator('#slots .times button').first();
  await time.waitFor();
  const chosen = await time.getAttribute('data-start');
  await time.click();
  await page.getByRole('button', { name: 'Book this time' }).click();
  const needed = page.locator('#consents-needed');
  await needed.getByRole('heading', { name: 'Before this visit, your practice asks you to sign' }).waitFor();
  assert.equal(await needed.locator('h4').allInnerTexts().then((t) => t.join('|')), 'Consent to telehealth', 'only the one she has not signed');
  await axe(page, 'the consents a booking asks for');
  await needed.getByLabel('Your full name, as your signature').fill('Jane Demo-Patient');
  await needed.getByLabel('I have read this document and agree to it').check();
  await needed.getByRole('button', { name: 'Sign: Consent to telehealth' }).click();
  await page.locator('#booked-title', { hasText: 'Booked' }).waitFor();
  const jane = await signIn('patient-jane');
  const { appointments } = await api('/v1/appointments', { token: jane });
  assert.ok(appointments.some((a) => a.serviceId === video.id && Date.parse(a.start) === Date.parse(chosen)), 'the chosen time is booked');

  // The signed copy: its text hashes to the version it names.
  await nav(page, 'Consents');
  const telehealth = page.locator('#consent-list > li').filter({ has: page.getByRole('heading', { name: 'Consent to telehealth' }) });
  await telehealth.getByText(/^Signed \w+day, /).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    telehealth.getByRole('link', { name: 'Copy for verification (JSON)' }).click(),
  ]);
  const copy = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(copy.typedName, 'Jane Demo-Patient');
  assert.equal(createHash('sha256').update(copy.text).digest('hex'), copy.versionHash);
  assert.equal(copy.documentId, 'telehealth');
  const [printable] = await Promise.all([
    page.waitForEvent('download'),
    telehealth.getByRole('link', { name: 'Signed copy (to print)' }).click(),
  ]);
  assert.match(readFileSync(await printable.path(), 'utf8'), new RegExp(copy.versionHash));
  await axe(page, 'her consents, two signed');
  if (shots) await page.screenshot({ path: `${shots}/portal-consents-${label}.png`, fullPage: true });

  // She withdraws the telehealth consent (her name, asked once more).
  await telehealth.getByRole('button', { name: 'Withdraw consent: Consent to telehealth' }).click();
  const withdrawName = telehealth.getByLabel('Your full name, to withdraw your consent');
  assert.ok(await withdrawName.evaluate((e) => e === document.activeElement), 'the name field has the focus');
  await withdrawName.fill('Jane Demo-Patient');
  await withdrawName.press('Enter');
  await page.locator('#consents-status', { hasText: 'You withdrew your consent to "Consent to telehealth".' }).waitFor();
  await telehealth.getByText(/^You withdrew your consent/).waitFor();

  // Forms: her first consultation asks for the intake questionnaire and the PHQ-9. She answers the
  // PHQ-9, saves a partial intake, is told which required question is missing, and submits it.
  const consult = (await api('/v1/services', { token: jane })).services.find((s) => s.name === 'Initial consultation');
  const day = new Date(Date.parse(chosen) + 7 * 86400e3).toISOString().slice(0, 10);
  const { slots } = await api(`/v1/providers/${rivera.id}/availability?serviceId=${consult.id}&from=${day}T00:00:00Z&to=${day}T23:59:00Z`, { token: jane });
  const first = await api('/v1/appointments', { token: jane, method: 'POST', key: `consult-${day}`, body: { providerId: rivera.id, serviceId: consult.id, start: slots[0] } });
  await nav(page, 'Forms');
  await page.locator('#forms-due', { hasText: 'Your practice asks you to complete 2 forms before your next visit.' }).waitFor();
  assert.ok(!(await page.locator('#forms-due').innerText()).includes('PHQ'), 'the notice names no form');
  const phq = page.locator('#form-list > li').filter({ has: page.getByRole('heading', { name: 'PHQ-9' }) });
  await phq.getByRole('button', { name: 'Fill in: PHQ-9' }).click();
  const scores = [2, 2, 1, 1, 1, 1, 1, 1, 0];
  const groups = phq.locator('fieldset');
  await groups.first().waitFor();
  assert.equal(await groups.count(), 9);
  for (let i = 0; i < 9; i += 1) await groups.nth(i).getByRole('radio').nth(scores[i]).check();
  await axe(page, 'the PHQ-9 filled in');
  await phq.getByRole('button', { name: 'Submit: PHQ-9' }).click();
  await page.locator('#forms-status', { hasText: 'Submitted "PHQ-9".' }).waitFor();
  const intake = page.locator('#form-list > li').filter({ has: page.getByRole('heading', { name: 'Intake questionnaire' }) });
  await intake.getByRole('button', { name: 'Fill in: Intake questionnaire' }).click();
  await intake.getByLabel('What brings you to the practice? (required)').fill('Trouble sleeping');
  await intake.getByRole('button', { name: 'Save draft' }).click();
  await intake.getByRole('status').filter({ hasText: 'Draft saved: you can finish "Intake questionnaire" later.' }).waitFor();
  await intake.getByRole('button', { name: 'Submit: Intake questionnaire' }).click();
  await intake.getByRole('status').filter({ hasText: 'Not submitted: one question needs an answer or a change (shown under it).' }).waitFor();
  const missing = intake.locator('fieldset').first();
  assert.equal(await missing.getAttribute('aria-invalid'), 'true');
  await missing.getByText('This question needs an answer.').waitFor();
  assert.ok(await missing.evaluate((f) => f.contains(document.activeElement)), 'the question missing has the focus');
  await axe(page, 'a form with a missing answer');
  await intake.getByRole('radio', { name: 'No' }).check();
  await intake.getByRole('button', { name: 'Submit: Intake questionnaire' }).click();
  await page.locator('#forms-status', { hasText: 'Submitted "Intake questionnaire".' }).waitFor();
  await page.locator('#forms-due', { hasText: 'No forms are due before your visits.' }).waitFor();
  await axe(page, 'her forms, submitted');
  if (shots) await page.screenshot({ path: `${shots}/portal-forms-${label}.png`, fullPage: true });

  // Dr. Rivera sees her answers and her score in the consultation's details.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Staff sign-in' }).click();
  await page.getByRole('button', { name: 'Dr. Ana Rivera' }).click();
  await page.locator('#calendar-page:not([hidden])').waitFor();
  await page.getByLabel('Day', { exact: true }).first().fill(new Date(Date.parse(first.start)).toLocaleDateString('en-CA', { timeZone: 'America/New_York' }));
  await page.getByRole('button', { name: 'Show the day' }).click();
  const row = page.locator('#calendar li').filter({ hasText: 'Jane Demo-Patient' }).filter({ hasText: 'Initial consultation' });
  await row.getByRole('button', { name: /^Details: / }).click();
  await row.getByRole('button', { name: /^Show forms: / }).click();
  await row.getByText('PHQ-9 over time: 10 (moderate)').waitFor();
  await row.getByText(/^PHQ-9, submitted .*: score 10 \(moderate\)/).waitFor();
  await row.getByRole('button', { name: /^Show answers: PHQ-9/ }).click();
  await row.getByText('Little interest or pleasure in doing things').waitFor();
  await axe(page, 'her forms in the visit details (provider)');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The front desk sees her consents and forms on her page.
  await page.getByRole('button', { name: 'Staff sign-in' }).click();
  await page.getByRole('button', { name: 'Front desk (demo staff)' }).click();
  await page.locator('#calendar-page:not([hidden])').waitFor();
  await nav(page, 'Patients');
  await page.getByLabel('Find a patient').fill('jane');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: /^Open Jane/ }).click();
  const consents = page.locator('#chosen-consents');
  await consents.getByText('Consent to treatment: signed').waitFor();
  await consents.getByText('Consent to telehealth: withdrawn').waitFor();
  await page.locator('#chosen-forms').getByText('PHQ-9 over time: 10 (moderate)').waitFor();
  await axe(page, 'her consents on her page (staff)');
  assert.deepEqual(problems, [], `console errors on ${label}`);
  await context.close();
  console.log(`consents (${label}): signed on her page and while booking, copy checked, one withdrawn: ok`);
}

const browser = await launch(chromium);
try {
  const fixtures = await setup();
  await journey(browser, 'desktop', 1280, 900, fixtures);
  await journey(browser, 'phone', 390, 844, fixtures);
} finally {
  await browser.close();
}
