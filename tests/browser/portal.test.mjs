// The patient portal in a real browser (Debian's chromium through playwright-core), against a
// running `practica serve` on a seeded data dir: node portal.test.mjs <base URL> <screenshot dir>.
// Fails on any console error, uncaught exception, request to another host, or axe-core violation.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, shots] = process.argv.slice(2);
assert.ok(base && shots, 'usage: node portal.test.mjs <base URL> <screenshot dir>');
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const origin = new URL(base).origin;

async function api(path, { token, method = 'GET', body, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body) headers['Content-Type'] = 'application/json';
  if (key) headers['Idempotency-Key'] = key;
  const response = await fetch(`${base}${path}`, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;

// Data for the page to show, through the API as a patient and the front desk would make it.
async function prepare() {
  const jane = await signIn('patient-jane');
  const staff = await signIn('staff-1');
  const { providers } = await api('/v1/providers', { token: jane });
  const { services } = await api('/v1/services', { token: jane });
  const provider = providers[0];
  const service = services.find((s) => s.providerIds.includes(provider.id));
  const from = new Date(Date.now() + 2 * 86400e3).toISOString();
  const to = new Date(Date.now() + 16 * 86400e3).toISOString();
  const query = `serviceId=${service.id}&from=${from}&to=${to}`;
  const { slots } = await api(`/v1/providers/${provider.id}/availability?${query}`, { token: jane });
  assert.ok(slots.length > 0, 'the demo practice has free times');
  const booked = await api('/v1/appointments', {
    token: jane,
    method: 'POST',
    key: `browser-${Date.now()}`,
    body: { providerId: provider.id, serviceId: service.id, start: slots[0] },
  });
  await api('/v1/charges', {
    token: staff,
    method: 'POST',
    key: `browser-charge-${Date.now()}`,
    body: { patientId: 'patient-jane', currency: 'USD', lineItems: [{ description: 'Initial consultation', amount: 12000 }] },
  });
  return { provider, service, booked };
}

async function axe(page, what) {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern (a script tag
  // would be refused by it, as it should be).
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  const violations = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  assert.deepEqual(violations, [], `axe-core on ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.PRACTICA_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const { provider, service } = await prepare();
  for (const [width, height, label] of [[1280, 900, 'desktop'], [390, 844, 'phone']]) {
    const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'Europe/London', locale: 'en-US' });
    const page = await context.newPage();
    const problems = [];
    // Console errors the journey provokes on purpose, each allowed once.
    const expected = [];
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const at = expected.findIndex((pattern) => pattern.test(m.text()));
      if (at >= 0) expected.splice(at, 1);
      else problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('request', (r) => new URL(r.url()).origin !== origin && problems.push(`third-party request: ${r.url()}`));

    await page.goto(base);
    const button = page.getByRole('button', { name: /Sign in as Jane Demo-Patient/ });
    await button.waitFor();
    await axe(page, `the sign-in page (${label})`);
    await page.screenshot({ path: `${shots}/portal-sign-in-${label}.png`, fullPage: true });

    await button.click();
    await page.locator('#home').waitFor();
    const upcoming = page.locator('#upcoming li');
    await page.locator('#upcoming li, #error:not([hidden])').first().waitFor();
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').innerText());
    const first = await upcoming.first().innerText();
    assert.match(first, new RegExp(`${service.name} with ${provider.name}`));
    // The practice's zone first, and the browser's own (London here) when it differs.
    assert.match(first, /your time: .*(GMT|BST)/, first);
    assert.match(await page.locator('#balance').innerText(), /You owe \$120\.00\./);
    assert.equal(await page.title(), 'Patient portal · Riverside Family Therapy');
    await axe(page, `the home page (${label})`);
    await page.screenshot({ path: `${shots}/portal-home-${label}.png`, fullPage: true });

    // Booking: a provider and service, the free times of the next two weeks, one chosen, booked.
    const before = await upcoming.count();
    await page.getByLabel('Provider').selectOption({ label: provider.name });
    await page.getByLabel('Service').selectOption(service.id);
    await page.getByRole('button', { name: 'Show free times' }).click();
    const time = page.locator('#slots .times button').first();
    await time.waitFor();
    assert.match(await page.locator('#book-status').innerText(), /free times in the next two weeks/);
    // Three days at a time, more on request.
    assert.equal(await page.locator('#slots h3').count(), 3);
    await page.getByRole('button', { name: 'Show more days' }).click();
    assert.equal(await page.locator('#slots h3').count(), 6);
    await axe(page, `the free times (${label})`);
    await page.screenshot({ path: `${shots}/portal-book-${label}.png`, fullPage: true });
    if (label === 'desktop') {
      // Someone else takes the chosen time between the choice and the click: the page says so and
      // offers the times still free.
      const start = await time.getAttribute('data-start');
      await time.click();
      await api('/v1/appointments', {
        token: await signIn('staff-1'),
        method: 'POST',
        key: `browser-race-${Date.now()}`,
        body: { providerId: provider.id, serviceId: service.id, start, patientId: 'patient-jane' },
      });
      expected.push(/status of 409/); // the browser reports the refused booking's 409
      await page.getByRole('button', { name: 'Book this time' }).click();
      await page.getByText(/^Not booked: .*The times still free are below\.$/).waitFor();
      assert.equal(await page.locator(`#slots button[data-start="${start}"]`).count(), 0);
    }
    await time.click();
    await page.getByLabel(/Reason for the visit/).fill('Follow-up on sleep');
    await page.getByRole('button', { name: 'Book this time' }).click();
    await page.getByText('Booked. It is now in your upcoming appointments.').waitFor();
    // Hers, and on desktop also the one the front desk booked for her in the race.
    assert.equal(await upcoming.count(), before + (label === 'desktop' ? 2 : 1));

    // Cancelling: the cut-off is said on every upcoming appointment before any click.
    for (const text of await upcoming.allInnerTexts()) {
      assert.match(text, /You can cancel online until |less than \d+ hours before the start: to cancel or change it, call the practice\./, text);
    }
    // The appointment prepared two days ahead is outside the cut-off: cancel it (desktop; the
    // phone run then sees only appointments inside the cut-off).
    if (label === 'desktop') {
      const cancelledRows = page.locator('#past li').filter({ hasText: '· cancelled' });
      const cancelledBefore = await cancelledRows.count();
      // The first that may still be cancelled online, pinned by its place (its buttons come and go).
      let at = 0;
      const rows = await upcoming.count();
      while (at < rows && (await upcoming.nth(at).getByRole('button', { name: 'Cancel this appointment' }).count()) === 0) at += 1;
      assert.ok(at < rows, 'an appointment that may still be cancelled online');
      const cancellable = upcoming.nth(at);
      const what = (await cancellable.innerText()).split('\n').slice(0, 2).join('\n');
      await cancellable.getByRole('button', { name: 'Cancel this appointment' }).click();
      await cancellable.getByRole('button', { name: 'Keep it' }).click(); // a second thought changes nothing
      await cancellable.getByRole('button', { name: 'Cancel this appointment' }).click();
      const upcomingBefore = await upcoming.count();
      await cancellable.getByRole('button', { name: 'Yes, cancel it' }).click();
      await page.getByText('Cancelled. It is now under past and cancelled appointments.').waitFor();
      assert.equal(await upcoming.count(), upcomingBefore - 1);
      assert.equal(await cancelledRows.count(), cancelledBefore + 1);
      const cancelledTexts = await cancelledRows.allInnerTexts();
      assert.ok(cancelledTexts.some((t) => t.startsWith(what.split('\n')[0]) && t.includes(what.split('\n')[1].split(' (your time')[0])), `${what} in ${cancelledTexts}`);
    }

    // The access log: who did what, each entry's seal checked in the page against the checkpoint
    // (`practica serve` seals every few seconds, so the first entries are sealed by now or soon).
    const access = page.locator('#access li');
    let verified = 0;
    for (let attempt = 0; attempt < 20 && verified === 0; attempt += 1) {
      await page.locator('#show-access').click();
      await page.getByText(/most recent entries/).waitFor();
      verified = await access.filter({ hasText: 'checked in this browser' }).count();
      if (verified === 0) await page.waitForTimeout(500);
    }
    assert.ok(verified > 0, 'no sealed entry verified in the browser');
    const entries = await access.allInnerTexts();
    assert.ok(entries.every((t) => !/does not match/.test(t)), entries.join('\n'));
    assert.ok(entries.some((t) => t.startsWith('You booked an appointment')), entries.join('\n'));
    assert.ok(entries.some((t) => t.startsWith('Front desk (demo staff) (staff) added a charge')), entries.join('\n'));
    await axe(page, `the access log (${label})`);
    if (label === 'desktop') {
      await page.screenshot({ path: `${shots}/portal-access-log-${label}.png`, fullPage: true });
      // The check is real: one altered leaf hash in the answer is flagged, the others still pass.
      await page.route('**/v1/patients/me/access-log*', async (route) => {
        const answer = await route.fetch();
        const log = await answer.json();
        const sealed = log.entries.find((e) => e.inclusion);
        const hash = Buffer.from(sealed.inclusion.leafHash, 'base64');
        hash[0] ^= 1;
        sealed.inclusion.leafHash = hash.toString('base64');
        await route.fulfill({ response: answer, json: log });
      });
      await page.locator('#show-access').click();
      await page.getByText('Warning: this entry does not match the signed log. Please tell the practice.').waitFor();
      assert.equal(await access.filter({ hasText: 'does not match' }).count(), 1);
      await page.unroute('**/v1/patients/me/access-log*');
    }

    if (label === 'desktop') {
      // A session the server no longer accepts (an expired token answers 401): back to sign-in,
      // saying so, with no other error shown.
      await page.route('**/v1/patients/me/access-log*', (route) =>
        route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401,"title":"Unauthorized"}' }));
      expected.push(/status of 401/);
      await page.locator('#show-access').click();
      await page.getByText('Your session ended. Please sign in again.').waitFor();
      assert.equal(await page.locator('#home').isHidden(), true);
      assert.equal(await page.locator('#error').isHidden(), true);
      await page.unroute('**/v1/patients/me/access-log*');
      await page.getByRole('button', { name: /Sign in as Jane Demo-Patient/ }).click();
      await page.locator('#home').waitFor();
    }

    // The token is in the page's memory only: nothing in storage, cookies or the URL.
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie, location.href]);
    assert.deepEqual(stored.slice(0, 3), [0, 0, '']);
    assert.ok(!/token|eyJ/.test(stored[3]), stored[3]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await button.waitFor();
    assert.equal(await page.locator('#home').isHidden(), true);
    assert.match(await page.locator('#sign-in-status').innerText(), /signed out/);
    // A reload after signing in starts signed out (no token survives).
    await button.click();
    await page.locator('#home').waitFor();
    await page.reload();
    await button.waitFor();
    assert.equal(await page.locator('#home').isHidden(), true);

    assert.deepEqual(problems, [], `${label}: console errors or third-party requests`);
    assert.deepEqual(expected, [], `${label}: an expected console error did not happen`);
    await context.close();
    console.log(`portal (${label}): sign-in, appointments, balance, booking (and a lost race), cancelling, the access log verified, sign-out, reload: ok`);
  }
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
