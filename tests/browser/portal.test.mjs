// The portal in a real browser (Debian's chromium through playwright-core), against a running
// `practica serve` on a fresh data dir: node portal.test.mjs <base URL> <screenshot dir>.
// A patient books, moves, cancels, joins the waitlist and takes its offer, pays (declined, then
// paid), sends feedback, changes notification choices and checks the access log's seals; the
// front desk finds her, posts a charge and answers her feedback; an administrator opens a report;
// the patient sees the answer and the new balance. The phone run repeats the patient's main pages.
// Every page goes through axe-core; any console error, uncaught exception or request to another
// host fails the run, and so does script over the page-weight budget.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { client } from './lib.mjs';

const [base, shots] = process.argv.slice(2);
assert.ok(base && shots, 'usage: node portal.test.mjs <base URL> <screenshot dir>');
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const origin = new URL(base).origin;
// The issue's budget: 100 KB of script, compressed (gzip, as the CDN and `practica serve`'s
// clients fetch it).
const SCRIPT_BUDGET = 100 * 1024;
// How long to wait for new entries to be sealed into the log. Usually seconds (`practica serve`
// integrates every 3); but entries of a new UTC day wait until the day before has settled, five
// minutes after UTC midnight (shared::audit::log::SETTLE), so a run then waits that long.
const SEAL_WAIT_MS = 7 * 60e3;

const api = client(base);

const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;
const key = (what) => `browser-${what}-${Date.now()}-${Math.random()}`;

// Data for the pages to show, through the API as a patient and the front desk would make it.
async function prepare() {
  const jane = await signIn('patient-jane');
  const staff = await signIn('staff-1');
  const { providers } = await api('/v1/providers', { token: jane });
  const { services } = await api('/v1/services', { token: jane });
  const provider = providers[0];
  // A service under no cancellation policy: this journey runs on the real clock, and a fee's
  // window would make it depend on the hour (tests/browser/fees.test.mjs runs on a fixed one).
  const service = services.find((s) => s.providerIds.includes(provider.id) && !s.cancellationTerms);
  const from = new Date(Date.now() + 3 * 86400e3).toISOString();
  const to = new Date(Date.now() + 17 * 86400e3).toISOString();
  const query = `serviceId=${service.id}&from=${from}&to=${to}`;
  const { slots } = await api(`/v1/providers/${provider.id}/availability?${query}`, { token: jane });
  assert.ok(slots.length > 0, 'the demo practice has free times');
  const booked = await api('/v1/appointments', {
    token: jane,
    method: 'POST',
    key: key('book'),
    body: { providerId: provider.id, serviceId: service.id, start: slots[0] },
  });
  await api('/v1/charges', {
    token: staff,
    method: 'POST',
    key: key('charge'),
    body: { patientId: 'patient-jane', currency: 'USD', appointmentId: booked.id, lineItems: [{ description: 'Initial consultation', amount: 12000 }] },
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

// A browser window for one person's session, watching for console errors, uncaught exceptions,
// requests to other hosts, and counting the script it loads.
async function window(width, height, { bypassCSP = false, otherOrigins = [] } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'Europe/London', locale: 'en-US', bypassCSP });
  const page = await context.newPage();
  const watch = { problems: [], expected: [], script: new Map() };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = watch.expected.findIndex((pattern) => pattern.test(m.text()));
    if (at >= 0) watch.expected.splice(at, 1);
    else watch.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => watch.problems.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const from = new URL(r.url()).origin;
    if (from !== origin && !otherOrigins.includes(from)) watch.problems.push(`third-party request: ${r.url()}`);
  });
  page.on('response', async (r) => {
    if (r.request().resourceType() === 'script') watch.script.set(r.url(), gzipSync(await r.body()).length);
  });
  const done = async (label) => {
    assert.deepEqual(watch.problems, [], `${label}: console errors or third-party requests`);
    assert.deepEqual(watch.expected, [], `${label}: an expected console error did not happen`);
    const script = [...watch.script.values()].reduce((a, b) => a + b, 0);
    assert.ok(script > 0 && script <= SCRIPT_BUDGET, `${label}: ${script} bytes of script (budget ${SCRIPT_BUDGET})`);
    await context.close();
    return script;
  };
  return { page, watch, done };
}

// Through the sign-in page of the person's pool (the local stand-in for the managed login: the
// authorization code flow with PKCE), as a deployed portal signs in through Cognito's.
async function signInAs(page, pool, name) {
  await page.goto(base);
  await signInFrom(page, pool, name);
}

async function signInFrom(page, pool, name) {
  await page.getByRole('button', { name: pool === 'patient' ? 'Sign in as a patient' : 'Staff sign-in' }).click();
  await page.getByRole('button', { name }).click();
  await page.locator('#nav').waitFor();
}

const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

// The patient's journey; `desktop` adds the changes (race, move, cancel, waitlist, paying,
// feedback) the phone run then finds done.
async function patient(label, width, height, { provider, service }) {
  const desktop = label === 'desktop';
  const { page, watch, done } = await window(width, height);
  await page.goto(base);
  const button = page.getByRole('button', { name: 'Sign in as a patient' });
  await page.locator('#sign-in-patient:enabled').waitFor();
  await axe(page, `the sign-in page (${label})`);
  await page.screenshot({ path: `${shots}/portal-sign-in-${label}.png`, fullPage: true });

  await button.click();
  // The pool's sign-in page lists only its own people (no staff on the patients' page).
  await page.getByRole('heading', { name: 'Sign in (patients)' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /Front desk/ }).count(), 0);
  await axe(page, `the local sign-in page (${label})`);
  await page.getByRole('button', { name: 'Jane Demo-Patient' }).click();
  await page.locator('#appointments:not([hidden])').waitFor();
  // The code and state are gone from the address bar.
  assert.equal(new URL(page.url()).search, '');
  const upcoming = page.locator('#upcoming li');
  await page.locator('#upcoming li, #error:not([hidden])').first().waitFor();
  assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').innerText());
  const first = await upcoming.first().innerText();
  assert.match(first, new RegExp(`${service.name} with ${provider.name}`));
  // The practice's zone first, and the browser's own (London here) when it differs.
  assert.match(first, /your time: .*(GMT|BST)/, first);
  assert.equal(await page.title(), 'Patient portal · Riverside Family Therapy');
  // Staff pages are not offered to a patient.
  assert.equal(await page.getByRole('button', { name: 'Patients', exact: true }).count(), 0);
  await axe(page, `the appointments page (${label})`);
  await page.screenshot({ path: `${shots}/portal-appointments-${label}.png`, fullPage: true });

  // Booking by date: a provider and service, a month of the booking window with the days that
  // have free times, one day's times grouped, one chosen, booked.
  const before = await upcoming.count();
  await page.locator('#provider').selectOption({ label: provider.name });
  await page.locator('#service').selectOption(service.id);
  await page.getByRole('button', { name: 'Show free times' }).click();
  const freeDay = page.locator('#month-grid button').first();
  await freeDay.waitFor();
  // The zone as people say it: the practice's, and (the browser being in London) hers.
  assert.match(await page.locator('#book-status').innerText(), /^\d+ days? with free times in \w+ \d{4}: choose a day\. Times are in Eastern Time, the practice's, and in yours \(.+\)\.$/);
  assert.equal(await page.getByRole('button', { name: 'Previous month' }).isDisabled(), true);
  assert.match(await freeDay.getAttribute('aria-label'), /^\w+day, \w+ \d{1,2}: \d+ free times?$/);
  await freeDay.click();
  const time = page.locator('#slots .times button').first();
  await time.waitFor();
  assert.equal(await freeDay.getAttribute('aria-pressed'), 'true');
  // Focus moves to the day chosen; its times grouped by part of the day.
  assert.match(await page.evaluate(() => document.activeElement.textContent), /^\w+day, \w+ \d{1,2}$/);
  assert.match(await page.locator('#slots h4').first().innerText(), /^(Morning|Afternoon|Evening)$/);
  assert.match(await page.locator('#book-status').innerText(), /^\d+ free times? on \w+day, \w+ \d{1,2}, in Eastern Time\.$/);
  // Each time in the practice's zone and, the browser being in London, in hers.
  assert.match(await time.innerText(), /^\d{1,2}:\d{2} [AP]M \(\d{1,2}:\d{2} [AP]M yours\)$/);
  // The next month of the window, and back.
  await page.getByRole('button', { name: 'Next month' }).click();
  await page.waitForFunction(() => !document.getElementById('prev-month').disabled);
  await page.getByRole('button', { name: 'Previous month' }).click();
  await page.waitForFunction(() => document.getElementById('prev-month').disabled);
  await freeDay.click();
  await time.waitFor();
  await axe(page, `the booking calendar (${label})`);
  if (desktop) {
    await page.screenshot({ path: `${shots}/portal-book-${label}.png`, fullPage: true });
    // Someone else takes the chosen time between the choice and the click: the page says so and
    // offers the times still free.
    const start = await time.getAttribute('data-start');
    await time.click();
    await api('/v1/appointments', {
      token: await signIn('staff-1'),
      method: 'POST',
      key: key('race'),
      body: { providerId: provider.id, serviceId: service.id, start, patientId: 'patient-jane' },
    });
    watch.expected.push(/status of 409/); // the browser reports the refused booking's 409
    await page.getByRole('button', { name: 'Book this time' }).click();
    await page.getByText(/^Not booked: .*The times still free are shown\.$/).waitFor();
    assert.equal(await page.locator(`#slots button[data-start="${start}"]`).count(), 0);
    if (!(await time.count())) {
      await page.locator('#month-grid button').first().click();
      await time.waitFor();
    }
  }
  await time.click();
  // What, when, where and the price, and the cut-off, before the click that books: until when it
  // can be changed online, or that only the practice can once it is booked.
  const confirmText = await page.locator('#confirm-text').innerText();
  assert.match(confirmText, new RegExp(`^${service.name} with ${provider.name}, .*, at 12 River Street, Springfield or online \\(choose below\\)\\. Price: \\$\\d+\\.\\d\\d\\. `));
  assert.match(confirmText, /You can move or cancel it online until |less than \d+ hours away: once booked, only the practice can move or cancel it \(call them at \+1 555 010 0199\)/);
  await page.getByLabel(/Reason for the visit/).fill('Follow-up on sleep');
  await page.getByRole('button', { name: 'Book this time' }).click();
  // The confirmation, where she is looking (on a phone too), focused, with a calendar file.
  const confirmation = page.locator('#booked');
  await confirmation.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'booked-title');
  assert.ok(await confirmation.isVisible() && (await confirmation.boundingBox()).y < (page.viewportSize().height), 'the confirmation is in view');
  const summary = await page.locator('#booked-details').innerText();
  assert.match(summary, new RegExp(`What\\n${service.name} with ${provider.name}\\nWhen\\n.*\\nWhere\\n12 River Street, Springfield\\nPrice\\n\\$\\d+\\.\\d\\d\\nChanges\\n(You can move or cancel it online until |Only the practice can move or cancel it now \\(call them at \\+1 555 010 0199\\)\\.)`));
  assert.doesNotMatch(summary, /sleep/i, 'the reason stays off the confirmation');
  await axe(page, `the booking confirmation (${label})`);
  await page.screenshot({ path: `${shots}/portal-booked-${label}.png`, fullPage: false });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Add to your calendar' }).click()]);
  assert.equal(download.suggestedFilename(), 'appointment.ics');
  const ics = readFileSync(await download.path(), 'utf8');
  assert.match(ics, /^BEGIN:VCALENDAR\r\nVERSION:2\.0\r\n/);
  assert.ok(ics.split('\r\n').every((line) => Buffer.byteLength(line) <= 75), 'lines folded at 75 octets');
  const unfolded = ics.replace(/\r\n /g, '');
  const escaped = (text) => text.replace(/[\\;,]/g, (c) => `\\${c}`);
  assert.ok(unfolded.includes(`\r\nSUMMARY:${escaped(`${service.name} with ${provider.name} (Riverside Family Therapy)`)}\r\n`), unfolded);
  assert.match(unfolded, /\r\nLOCATION:12 River Street\\, Springfield\r\n/);
  assert.match(unfolded, /\r\nDTSTART:\d{8}T\d{6}Z\r\nDTEND:\d{8}T\d{6}Z\r\n/);
  assert.doesNotMatch(unfolded, /sleep|Jane/i, 'no reason and no name in the file');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await confirmation.isHidden(), true);
  // Hers, and on desktop also the one the front desk booked for her in the race.
  assert.equal(await upcoming.count(), before + (desktop ? 2 : 1));

  // The cut-off is said on every upcoming appointment before any click.
  for (const text of await upcoming.allInnerTexts()) {
    assert.match(text, /You can move or cancel it online until |less than \d+ hours before the start: to cancel or change it, call the practice at \+1 555 010 0199\./, text);
  }
  const changeable = async () => {
    const rows = await upcoming.count();
    for (let at = 0; at < rows; at += 1) {
      if (await upcoming.nth(at).getByRole('button', { name: 'Move to another time' }).count()) return upcoming.nth(at);
    }
    assert.fail('an appointment that may still be changed online');
  };

  if (desktop) {
    // Moving: the appointment prepared three days ahead to another free time.
    const row = await changeable();
    const was = (await row.innerText()).split('\n')[1];
    const beforeMove = await upcoming.allInnerTexts();
    await row.getByRole('button', { name: 'Move to another time' }).click();
    await page.getByRole('heading', { name: 'Move your appointment' }).waitFor();
    assert.match(await page.locator('#move-note').innerText(), /It keeps its place until the new time is confirmed/);
    // A time three days or more ahead (outside the cut-off and inside the waitlist's days below):
    // the first such day of the calendar, in this month or the next.
    const later = async () => {
      const threeDays = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date(Date.now() + 4 * 86400e3));
      for (;;) {
        await page.locator('#month-grid button').first().waitFor();
        const dates = await page.locator('#month-grid button').evaluateAll((all) => all.map((b) => b.dataset.date));
        const found = dates.find((d) => d >= threeDays);
        if (found) {
          await page.locator(`#month-grid button[data-date="${found}"]`).click();
          return page.locator('#slots .times button').first();
        }
        await page.getByRole('button', { name: 'Next month' }).click();
        await page.waitForFunction((shown) => document.getElementById('month-title').textContent !== shown, await page.locator('#month-title').innerText());
      }
    };
    await (await later()).click();
    await page.getByRole('button', { name: 'Move to this time' }).click();
    await page.getByText('Moved. The new time is in your upcoming appointments.').waitFor();
    const now = await upcoming.allInnerTexts();
    // Each row's time (its second line); a row's cut-off text may name the old time too (on a
    // Saturday the moved one was 24 hours before another).
    const times = now.map((t) => t.split('\n')[1]);
    assert.ok(!times.includes(was), `${was} still in ${times}`);
    // The moved appointment is the one row that was not there before: on some weekdays the
    // earliest changeable row is another one (on a Sunday the two booked above, on Monday
    // morning, are still outside the cut-off), and only the moved one lies in the waitlist's days.
    const added = now.filter((t) => !beforeMove.includes(t));
    assert.equal(added.length, 1, `one new row after moving: ${added}`);
    const movedAt = added[0].split('\n')[1];
    assert.equal(await page.getByRole('heading', { name: 'Book an appointment' }).count(), 1);

    // The waitlist: days that include the moved appointment. Cancelling it frees its time, which is
    // never offered back to Jane, who gave it up; when the front desk cancels another patient's
    // appointment in those days, its time is offered to the earliest waiting patient it suits
    // (Jane), held for her; she books it.
    const moved = upcoming.filter({ hasText: movedAt });
    assert.equal(await moved.count(), 1, `the moved appointment (${movedAt})`);
    const day = new Date(Date.now() + 2 * 86400e3).toISOString().slice(0, 10);
    const last = new Date(Date.now() + 20 * 86400e3).toISOString().slice(0, 10);
    await page.locator('#wait-provider').selectOption({ label: provider.name });
    await page.locator('#wait-service').selectOption(service.id);
    await page.getByLabel('First day', { exact: true }).fill(day);
    await page.getByLabel('Last day', { exact: true }).fill(last);
    await page.getByRole('button', { name: 'Join the waitlist' }).click();
    await page.getByText(/You are on the waitlist\./).waitFor();
    assert.match(await page.locator('#waitlist').innerText(), /Status: waiting\./);
    // The days shown are the days chosen, the last one included.
    const label = (date) => new Intl.DateTimeFormat('en-US', { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(new Date(`${date}T12:00:00Z`));
    assert.match(await page.locator('#waitlist').innerText(), new RegExp(`any time from ${label(day)} to ${label(last)}\\n`));
    // The same request again is the same entry, and the page says so.
    await page.getByRole('button', { name: 'Join the waitlist' }).click();
    await page.getByText('You are already on the waitlist for these days; nothing changed.').waitFor();
    assert.equal(await page.locator('#waitlist li').count(), 1);
    // The billing page's pay form and the staff pages are not shown on this page.
    assert.equal(await page.getByRole('button', { name: 'Pay now' }).count(), 0);

    const cancelledRows = page.locator('#past li').filter({ hasText: '· cancelled' });
    const cancelledBefore = await cancelledRows.count();
    const what = (await moved.innerText()).split('\n').slice(0, 2);
    // The confirmation shows only once asked, and a second thought changes nothing.
    const yes = moved.getByRole('button', { name: 'Yes, cancel it' });
    assert.equal(await yes.count(), 0);
    await moved.getByRole('button', { name: 'Cancel this appointment' }).click();
    assert.equal(await yes.count(), 1);
    await moved.getByRole('button', { name: 'Keep it' }).click();
    assert.equal(await yes.count(), 0);
    await moved.getByRole('button', { name: 'Cancel this appointment' }).click();
    const upcomingBefore = await upcoming.count();
    await moved.getByRole('button', { name: 'Yes, cancel it' }).click();
    await page.getByText('Cancelled. It is now under past and cancelled appointments.').waitFor();
    assert.equal(await upcoming.count(), upcomingBefore - 1);
    assert.equal(await cancelledRows.count(), cancelledBefore + 1);
    const cancelledTexts = await cancelledRows.allInnerTexts();
    assert.ok(cancelledTexts.some((t) => t.startsWith(what[0]) && t.includes(what[1].split(' (your time')[0])), `${what} in ${cancelledTexts}`);
    await nav(page, 'Appointments');
    assert.match(await page.locator('#waitlist').innerText(), /Status: waiting\./, 'her own cancellation is not offered back to her');
    assert.equal(await page.locator('#waitlist li').filter({ hasText: /^Offered: / }).count(), 0);

    // Another patient's appointment in her days, booked and then cancelled by the front desk.
    const desk = await signIn('staff-1');
    const other = `patient-other-${Date.now()}`;
    await api('/v1/patients', {
      token: desk, method: 'POST', key: key('other'),
      body: { patientId: other, name: 'Other Patient', dateOfBirth: '1980-01-01', phone: '+1 555 0100 777', email: 'other@example.org' },
    });
    const span = `serviceId=${service.id}&from=${new Date(Date.now() + 3 * 86400e3).toISOString()}&to=${new Date(Date.now() + 17 * 86400e3).toISOString()}`;
    const { slots: free } = await api(`/v1/providers/${provider.id}/availability?${span}`, { token: desk });
    const theirs = await api('/v1/appointments', {
      token: desk, method: 'POST', key: key('other-book'),
      body: { providerId: provider.id, serviceId: service.id, start: free[free.length - 1], patientId: other },
    });
    await api(`/v1/appointments/${theirs.id}/cancel`, { token: desk, method: 'POST', key: key('other-cancel'), body: {} });

    await nav(page, 'Appointments'); // opening the page again shows the offer
    const offer = page.locator('#waitlist li').filter({ hasText: /^Offered: / });
    await offer.waitFor();
    assert.match(await offer.innerText(), /Held for you until /);
    await axe(page, 'the waitlist offer (desktop)');
    await offer.getByRole('button', { name: 'Book this offered time' }).click();
    await page.locator('#waitlist-status', { hasText: 'Booked. It is now in your upcoming appointments.' }).waitFor();
    assert.equal(await upcoming.count(), upcomingBefore);
    // Booking the offer served the request: it is off the list.
    assert.match(await page.locator('#waitlist').innerText(), /You are not on the waitlist\./);

    // Jane asks for other days, then thinks better of it and leaves (asked once more first).
    await page.getByLabel('First day', { exact: true }).fill(new Date(Date.now() + 21 * 86400e3).toISOString().slice(0, 10));
    await page.getByLabel('Last day', { exact: true }).fill(new Date(Date.now() + 24 * 86400e3).toISOString().slice(0, 10));
    await page.getByRole('button', { name: 'Join the waitlist' }).click();
    await page.getByText(/You are on the waitlist\./).waitFor();
    const entry = page.locator('#waitlist li').filter({ hasText: 'Status: waiting.' });
    await entry.getByRole('button', { name: 'Leave the waitlist' }).click();
    await entry.getByRole('button', { name: 'No, stay on it' }).click();
    assert.equal(await entry.count(), 1);
    await entry.getByRole('button', { name: 'Leave the waitlist' }).click();
    await entry.getByRole('button', { name: 'Yes, leave it' }).click();
    await page.locator('#waitlist-status', { hasText: /^You left the waitlist for / }).waitFor();
    assert.match(await page.locator('#waitlist').innerText(), /You are not on the waitlist\./);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'waitlist-status', 'focus stays on the waitlist');
  }

  // Billing: the balance, paying it through the local test form, receipts.
  await nav(page, 'Billing');
  const balance = page.locator('#balance');
  if (desktop) {
    await page.locator('#balance', { hasText: 'You owe $120.00.' }).waitFor();
    await page.getByRole('button', { name: 'Pay $120.00' }).click();
    await page.getByText('Card details go straight to the payment processor and never reach the practice.').waitFor();
    await axe(page, 'the pay form (desktop)');
    await page.screenshot({ path: `${shots}/portal-pay-${label}.png`, fullPage: true });
    await page.getByLabel('Declined: insufficient funds').check();
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.getByText('Not paid: the card has insufficient funds. Nothing was taken; you can try again with another card.').waitFor();
    assert.match(await balance.innerText(), /You owe \$120\.00\./);
    // Part of it now: $50.00 of the $120.00, then the rest.
    await page.getByLabel('Amount to pay now (all of it, or part)').fill('50');
    await page.getByRole('button', { name: 'Pay $50.00' }).click();
    await page.getByLabel('Approved', { exact: true }).check();
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.getByText('Paid $50.00. Your receipt is below.').waitFor();
    assert.match(await balance.innerText(), /^You owe \$70\.00\. The statement below shows what for\.$/);
    await page.getByLabel('Amount to pay now (all of it, or part)').fill('70.01');
    assert.equal(await page.locator('#pay-now').innerText(), 'Pay');
    await page.locator('#pay-now').click();
    await page.getByText('Choose an amount from $0.01 to $70.00.').waitFor();
    await page.getByLabel('Amount to pay now (all of it, or part)').fill('70');
    await page.getByRole('button', { name: 'Pay $70.00' }).click();
    await page.getByLabel('Approved', { exact: true }).check();
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.getByText('Paid $70.00. Your receipt is below.').waitFor();
    assert.equal(await balance.innerText(), 'Nothing to pay.');
    // The statement: the charge with its items and visit, both payments with the card, and the
    // balance after each, ending at nothing owed.
    const statement = await page.locator('#statement-tables table').innerText();
    assert.match(statement, /Initial consultation \(\$120\.00\) · visit on \w+day, \w+ \d+\t\$120\.00\t\t\$120\.00/);
    // (Both payments were made within a second: either may come first.)
    assert.match(statement, /Payment with Visa ending 4242\t\t\$(50|70)\.00\t\$(70|50)\.00\n.*Payment with Visa ending 4242\t\t\$(70|50)\.00\t\$0\.00\n/);
    assert.match(statement, /Balance\t\$0\.00$/);
    // Printed alone: the practice and the date on top, no navigation.
    await page.evaluate(() => { window.print = () => { window.printedAlone = document.body.classList.contains('printing-statement'); }; });
    await page.getByRole('button', { name: 'Print the statement and receipts' }).click();
    await page.waitForFunction(() => window.printedAlone !== undefined);
    assert.equal(await page.evaluate(() => window.printedAlone), true);
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('nav').isVisible(), false);
    assert.equal(await page.locator('#pay-choose').isVisible(), false);
    assert.equal(await page.locator('#receipts').isVisible(), true, 'the receipts print with it');
    assert.match(await page.locator('#statement-for').innerText(), /^Jane Demo-Patient \(born 1988-04-12\): statement of \w+ \d+, \d{4} from Riverside Family Therapy, 12 River Street, Springfield\.$/);
    await page.screenshot({ path: `${shots}/portal-statement-print.png`, fullPage: true });
    await page.emulateMedia({ media: 'screen' });
    await page.evaluate(() => { document.body.classList.remove('printing-statement'); });
  }
  // Each receipt names the card and what it paid toward.
  await page.locator('#receipts', { hasText: 'paid with Visa ending 4242' }).first().waitFor();
  if (desktop) {
    const receipts = await page.locator('#receipts').innerText();
    assert.match(receipts, /\$50\.00 paid with Visa ending 4242\n.*receipt pay_\w+\nToward: Initial consultation · visit on \w+day, \w+ \d+: \$50\.00/);
    assert.match(receipts, /\$70\.00 paid with Visa ending 4242\n.*receipt pay_\w+\nToward: Initial consultation · visit on \w+day, \w+ \d+: \$70\.00/);
  }
  await axe(page, `the billing page (${label})`);
  await page.screenshot({ path: `${shots}/portal-billing-${label}.png`, fullPage: true });

  if (desktop) {
    // Messages: feedback sent, notification choices saved.
    await nav(page, 'Messages');
    await page.locator('#notify-channels', { hasText: 'Messages go to' }).waitFor();
    // Her sign-in's ID token confirmed the address staff typed on her record (the seed leaves it
    // unconfirmed): nothing says otherwise, and nothing offers another address.
    assert.equal(await page.locator('#notify-notes').innerText(), '');
    assert.equal(await page.getByRole('button', { name: /address I sign in with/ }).isVisible(), false);
    await page.getByLabel('About', { exact: true }).selectOption('care');
    await page.getByLabel('Rating (optional)').selectOption('4');
    await page.getByLabel('Your message').fill('The reminder came in good time, thank you.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Sent. The practice answers here.').waitFor();
    assert.match(await page.locator('#feedback-list').innerText(), /care: The reminder came in good time, thank you\.\n.*waiting for an answer/);
    assert.equal(await page.getByRole('checkbox', { name: /Text messages/ }).isChecked(), false);
    await page.getByRole('checkbox', { name: /Text messages/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.match(await page.locator('#notify-channels').innerText(), /text message/);
    await axe(page, 'the messages page (desktop)');
    await page.screenshot({ path: `${shots}/portal-messages-${label}.png`, fullPage: true });
  }

  // The access log: who did what, each entry's seal checked in the page against the checkpoint
  // (`practica serve` seals every few seconds, so the first entries are sealed by now or soon).
  await nav(page, 'Access log');
  const access = page.locator('#access-log li');
  let verified = 0;
  // Entries reach the access log as the audit job integrates them (every few seconds here): wait
  // for this run's booking too.
  let booked = 0;
  for (const until = Date.now() + SEAL_WAIT_MS; Date.now() < until && (verified === 0 || booked === 0);) {
    await page.locator('#show-access').click();
    await page.getByText(/most recent entries/).waitFor();
    // Each reading of this log is an entry of its own: while the log waits (see SEAL_WAIT_MS) they
    // pile up, and what the checks below look for may be on older pages: all of them, shown.
    for (let pages = 0; pages < 10 && await page.locator('#access-older').isVisible(); pages += 1) {
      const before = await page.locator('#access-status').innerText();
      await page.locator('#access-older').click();
      await page.waitForFunction((was) => {
        const now = document.getElementById('access-status').textContent;
        return now !== was && now !== 'Loading…';
      }, before);
    }
    verified = await access.filter({ hasText: 'checked in this browser' }).count();
    booked = await access.filter({ hasText: /^You booked an appointment/ }).count();
    if (verified === 0 || booked === 0) await page.waitForTimeout(3000);
  }
  assert.ok(verified > 0, 'no sealed entry verified in the browser');
  assert.match(await page.locator('#access-status').innerText(), /The log's signed record of \d+ entries carries the practice's signature, checked in this browser\./);
  // The practice names a witness (scripts/browser-tests runs `practica witness serve` beside it):
  // its cosignature of the checkpoint is checked here too.
  assert.match(await page.locator('#access-status').innerText(), /Cosigned by practica\.test\/witness, who saw the same log\./);
  const entries = await access.allInnerTexts();
  assert.ok(entries.every((t) => !/does not match/.test(t)), entries.join('\n'));
  assert.ok(entries.some((t) => t.startsWith('You booked an appointment')), entries.join('\n'));
  assert.ok(entries.some((t) => t.startsWith('Front desk (demo staff) (staff) added a charge')), entries.join('\n'));
  // Her own looks in a row are one row; older entries a click away.
  if (desktop) {
    assert.ok(entries.some((t) => /^You looked at your own records \d+ times: /.test(t)), entries.join('\n'));
    assert.match(await page.locator('#access-status').innerText(), /Your own looks at your records in a row are shown together\./);
    if (await page.locator('#access-older').isVisible()) {
      const before = await access.count();
      await page.getByRole('button', { name: 'Show older entries' }).click();
      await page.waitForFunction((n) => document.querySelectorAll('#access-log li').length > n, before);
    }
  }
  // Her copy of her record: the data and the page to read, each downloaded with her sign-in.
  const [data] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download a copy as data (JSON)' }).click()]);
  const record = JSON.parse(readFileSync(await data.path(), 'utf8'));
  assert.equal(record.format, 'practica.patient-record.v1');
  assert.equal(record.patientId, 'patient-jane');
  assert.equal(record.profile.name, 'Jane Demo-Patient');
  assert.ok(record.appointments.length > 0 && record.billing.charges.length > 0, 'her appointments and charges');
  assert.ok(record.accessLog.entries.some((e) => e.action === 'appointment.create'), 'her access log');
  await page.getByText('The copy is downloaded.').waitFor();
  const [readable] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download a copy to read or print' }).click()]);
  assert.equal(readable.suggestedFilename(), 'my-record.html');
  const text = readFileSync(await readable.path(), 'utf8');
  assert.match(text, /<h1>Your record at [^<]+<\/h1>/);
  assert.match(text, /Jane Demo-Patient/);
  assert.ok(!/<script/i.test(text), 'no script in her copy');
  await axe(page, `the access log (${label})`);
  if (desktop) {
    await page.screenshot({ path: `${shots}/portal-access-log-${label}.png`, fullPage: true });
    // The check is real: one entry's bytes changed (the leaf they hash to is not in the signed
    // log) is flagged, the others still pass.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      const sealed = log.entries.find((e) => e.inclusion && e.inclusion.entry);
      const text = Buffer.from(sealed.inclusion.entry, 'base64').toString('utf8');
      const bumped = text.replace(/"at":(\d+)/, (_, at) => `"at":${Number(at) - 3600}`);
      assert.notEqual(bumped, text);
      sealed.inclusion.entry = Buffer.from(bumped, 'utf8').toString('base64');
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText('Warning: this entry does not match the signed log. Please tell the practice.').waitFor();
    assert.equal(await access.filter({ hasText: 'does not match' }).count(), 1);
    await page.unroute('**/v1/patients/me/access-log*');
    // What the page shows is what the sealed bytes say, not the server's description of them:
    // every entry described as a cancellation still reads as what it was.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      for (const e of log.entries) {
        e.action = 'appointment.cancel';
        e.by = { kind: 'user', role: 'admin', name: 'Dr X', you: false };
      }
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText(/most recent entries/).waitFor();
    const shown = await access.allInnerTexts();
    assert.ok(shown.some((t) => t.startsWith('You booked an appointment')), shown.join('\n'));
    assert.ok(shown.filter((t) => t.includes('its record checked')).every((t) => !t.includes('Dr X')), shown.join('\n'));
    await page.unroute('**/v1/patients/me/access-log*');
    // Bytes that are another patient's entry (her commitment is not in them) are flagged.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      const sealed = log.entries.find((e) => e.inclusion && e.inclusion.opening);
      sealed.inclusion.opening = '00'.repeat(16);
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText("Warning: this entry's sealed record is not about you. Please tell the practice.").waitFor();
    await page.unroute('**/v1/patients/me/access-log*');
    // And the checkpoint's signature is checked with the key from config.json: one changed
    // signature byte, and no entry counts as sealed.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      const [text, lines] = log.checkpoint.split('\n\n');
      const [first, ...cosignatures] = lines.split('\n');
      const [dash, name, encoded] = first.split(' ');
      const signature = Buffer.from(encoded, 'base64');
      signature[signature.length - 1] ^= 1;
      log.checkpoint = `${text}\n\n${[`${dash} ${name} ${signature.toString('base64')}`, ...cosignatures].join('\n')}`;
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText(/does not carry the practice's signature/).first().waitFor();
    assert.equal(await access.filter({ hasText: 'checked in this browser' }).count(), 0);
    assert.doesNotMatch(await page.locator('#access-status').innerText(), /carries the practice's signature/);
    await page.unroute('**/v1/patients/me/access-log*');
    // A cosignature under the witness's name that does not verify (a forged witness): flagged.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      log.checkpoint = log.checkpoint.replace(/(\u2014 practica\.test\/witness \S{20})(\S)/, (_, head, c) => `${head}${c === 'A' ? 'B' : 'A'}`);
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText(/a witness's signature on the log's record does not verify/).first().waitFor();
    assert.equal(await access.filter({ hasText: 'checked in this browser' }).count(), 0);
    await page.unroute('**/v1/patients/me/access-log*');
    // The witness has not cosigned the newest record yet (its line missing): said once, in the
    // status line, and no entry is shown as checked.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      log.checkpoint = log.checkpoint.replace(/\u2014 practica\.test\/witness \S+\n/, '');
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText(/independent witnesses have not yet confirmed its newest signed record \(0 of the 1 required\)/).waitFor();
    assert.equal(await access.filter({ hasText: 'checked in this browser' }).count(), 0);
    await page.unroute('**/v1/patients/me/access-log*');
    // The page remembers the last checkpoint it verified: a log that is smaller than that (rolled
    // back), or of the same size with another root (forked), is shown as a warning; an entry
    // placed beyond the signed size is flagged.
    const origin = await page.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith('practica.auditCheckpoint:')));
    assert.ok(origin, 'the verified checkpoint is remembered');
    const kept = await page.evaluate((k) => JSON.parse(localStorage.getItem(k)), origin);
    await page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [origin, { size: kept.size + 1000, root: kept.root }]);
    await page.locator('#show-access').click();
    await page.getByText(/^Warning: the log now has \d+ entries, fewer than the \d+ this browser checked before\./).waitFor();
    // A remembered checkpoint the grown log does not extend (a size the log signed, but another
    // root): the consistency proof from it fails, and the page says the log was rewritten. (The log
    // grows as each reading of the access log is sealed, every few seconds here.)
    const forged = Buffer.from(kept.root, 'base64');
    forged[0] ^= 1;
    let rewritten = false;
    for (const until = Date.now() + SEAL_WAIT_MS; Date.now() < until && !rewritten;) {
      await page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [origin, { size: kept.size, root: forged.toString('base64') }]);
      await page.locator('#show-access').click();
      await page.getByText(/most recent entries/).waitFor();
      rewritten = /^Warning: the log of \d+ entries does not extend the \d+ this browser checked before: it was rewritten\./.test(await page.locator('#access-status').innerText());
      if (!rewritten) await page.waitForTimeout(3000);
    }
    assert.ok(rewritten, await page.locator('#access-status').innerText());
    // The practice not showing that the log grew (its proof unavailable): a warning, and the
    // checkpoint remembered stays the one it had.
    await page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [origin, kept]);
    await page.route('**/v1/audit/consistency*', (route) =>
      route.fulfill({ status: 503, contentType: 'application/problem+json', body: '{"status":503,"title":"Service Unavailable"}' }));
    watch.expected.push(/status of 503/);
    await page.locator('#show-access').click();
    await page.getByText(/^Warning: the practice did not show that its log of \d+ entries extends the \d+ this browser checked before/).waitFor();
    await page.unroute('**/v1/audit/consistency*');
    assert.deepEqual(await page.evaluate((k) => JSON.parse(localStorage.getItem(k)), origin), kept);
    // An access log the API says is someone else's than her sign-in's: nothing of it is shown.
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      log.patientId = 'patient-someone-else';
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText('Warning: this access log is not about you. Please tell the practice.').waitFor();
    await page.unroute('**/v1/patients/me/access-log*');
    // The real one: as the log grows (each reading of the access log is itself sealed), the page
    // proves each new checkpoint extends the one it remembered.
    await page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [origin, kept]);
    let extended = false;
    for (const until = Date.now() + SEAL_WAIT_MS; Date.now() < until && !extended;) {
      await page.locator('#show-access').click();
      await page.getByText(/most recent entries/).waitFor();
      extended = /It extends the log of \d+ entries this browser checked before\./.test(await page.locator('#access-status').innerText());
      if (!extended) await page.waitForTimeout(3000);
    }
    assert.ok(extended, await page.locator('#access-status').innerText());
    assert.doesNotMatch(await page.locator('#access-status').innerText(), /Warning/);
    await page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [origin, kept]);
    await page.route('**/v1/patients/me/access-log*', async (route) => {
      const answer = await route.fetch();
      const log = await answer.json();
      const sealed = log.entries.find((e) => e.inclusion);
      sealed.inclusion.leafIndex = Number(log.checkpoint.split('\n')[1]) + 5;
      await route.fulfill({ response: answer, json: log });
    });
    await page.locator('#show-access').click();
    await page.getByText('Warning: this entry is placed outside the signed log. Please tell the practice.').waitFor();
    await page.unroute('**/v1/patients/me/access-log*');

    await nav(page, 'Security');
    await page.getByRole('heading', { name: 'What the practice never asks for' }).waitFor();
    await axe(page, 'the security page (desktop)');

    // A session the server no longer accepts (an expired token answers 401): back to sign-in,
    // saying so, with no other error shown.
    await nav(page, 'Access log');
    await page.route('**/v1/patients/me/access-log*', (route) =>
      route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401,"title":"Unauthorized"}' }));
    watch.expected.push(/status of 401/);
    await page.locator('#show-access').click();
    await page.getByText('Your session ended. Please sign in again.').waitFor();
    assert.equal(await page.locator('#access').isHidden(), true);
    assert.equal(await page.locator('#error').isHidden(), true);
    await page.unroute('**/v1/patients/me/access-log*');
    // Signing in again returns to the page the session ended on.
    assert.equal(new URL(page.url()).hash, '#/access-log');
    await signInFrom(page, 'patient', 'Jane Demo-Patient');
    await page.locator('#access:not([hidden])').waitFor();
    assert.equal(new URL(page.url()).hash, '#/access-log');

    // Every page has its address; Back and Forward move between pages inside the portal.
    await nav(page, 'Billing');
    await page.locator('#billing:not([hidden])').waitFor();
    await nav(page, 'Messages');
    await page.locator('#messages:not([hidden])').waitFor();
    assert.equal(new URL(page.url()).hash, '#/messages');
    await page.goBack();
    await page.locator('#billing:not([hidden])').waitFor();
    assert.equal(new URL(page.url()).hash, '#/billing');
    assert.equal(await page.locator('#nav [aria-current="page"]').innerText(), 'Billing');
    await page.goForward();
    await page.locator('#messages:not([hidden])').waitFor();
    await page.goBack();
    await page.locator('#billing:not([hidden])').waitFor();
    // A reload asks her to sign in again, says why, and returns to the same page.
    await page.reload();
    await page.getByText(/^Please sign in again to return to Billing: for your privacy/).waitFor();
    await axe(page, 'the sign-in page after a reload');
    await signInFrom(page, 'patient', 'Jane Demo-Patient');
    await page.locator('#billing:not([hidden])').waitFor();
    assert.equal(new URL(page.url()).hash, '#/billing');
    await nav(page, 'Appointments');
    await page.locator('#appointments:not([hidden])').waitFor();
  } else {
    // The pages the desktop journey exercises, on the phone too.
    await nav(page, 'Messages');
    await page.locator('#notify-channels', { hasText: 'Messages go to' }).waitFor();
    await axe(page, 'the messages page (phone)');
    await nav(page, 'Security');
    await page.getByRole('heading', { name: 'What the practice never asks for' }).waitFor();
    await axe(page, 'the security page (phone)');
    await nav(page, 'Appointments');
    await page.locator('#appointments:not([hidden])').waitFor();
  }

  // The token is in the page's memory only: nothing in storage (but the public size and root of the
  // last checkpoint verified), cookies or the URL.
  const stored = await page.evaluate(() => [Object.keys(localStorage), sessionStorage.length, document.cookie, location.href,
    Object.values(localStorage).join('')]);
  assert.ok(stored[0].every((k) => k.startsWith('practica.auditCheckpoint:')), stored[0].join());
  assert.deepEqual(stored.slice(1, 3), [0, '']);
  assert.ok(!/token|eyJ/.test(stored[3]), stored[3]);
  assert.ok(!/token|eyJ|patient/.test(stored[4]), stored[4]);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await button.waitFor();
  assert.equal(await page.locator('#appointments').isHidden(), true);
  assert.equal(await page.locator('#nav').isHidden(), true);
  assert.match(await page.locator('#sign-in-status').innerText(), /signed out/);
  // A reload after signing in starts signed out (no token survives).
  // A reload after signing in starts signed out (no token survives); the address names the page.
  await signInFrom(page, 'patient', 'Jane Demo-Patient');
  assert.equal(new URL(page.url()).hash, '#/appointments');
  await page.reload();
  await button.waitFor();
  assert.equal(await page.locator('#appointments').isHidden(), true);
  assert.match(await page.locator('#sign-in-status').innerText(), /return to Appointments/);
  const script = await done(label);
  console.log(`portal (${label}): sign-in, booking${desktop ? ' (and a lost race), moving, the waitlist offer, cancelling, paying (declined, then paid), feedback, notification choices' : ''}, receipts, the access log verified, sign-out, reload: ok (${script} bytes of script)`);
}

// The front desk: finds Jane, posts a charge, answers her feedback, looks at the calendar.

// The console on a phone: the front desk's patient page and feedback, the administrator's reports
// and audit search, each checked with axe.
async function consoleOnPhone() {
  const desk = await window(390, 844);
  await signInAs(desk.page, 'staff', 'Front desk (demo staff)');
  await nav(desk.page, 'Patients');
  await desk.page.getByLabel('Find a patient').fill('jane');
  await desk.page.getByRole('button', { name: 'Find' }).click();
  await desk.page.getByRole('button', { name: /^Open Jane/ }).click();
  await desk.page.locator('#chosen-statement table').first().waitFor();
  await axe(desk.page, 'the patient page (phone)');
  await nav(desk.page, 'Feedback');
  await desk.page.locator('#staff-feedback li').first().waitFor();
  await axe(desk.page, 'the feedback page (phone)');
  await desk.done('front desk (phone)');
  const admin = await window(390, 844);
  await signInAs(admin.page, 'staff', 'Practice administrator (demo)');
  await nav(admin.page, 'Reports');
  await admin.page.getByRole('button', { name: 'Show the report' }).click();
  await admin.page.locator('#report-view table').first().waitFor();
  await axe(admin.page, 'a live report (phone)');
  await nav(admin.page, 'Audit log');
  await admin.page.getByRole('button', { name: 'Search', exact: true }).click();
  await admin.page.getByText(/entries(?: so far)?\. Searching the audit log is itself written to it\./).waitFor();
  await axe(admin.page, 'the audit search (phone)');
  await admin.done('administrator (phone)');
  console.log('console (phone): a patient page, feedback, a live report, the audit search: ok');
}
async function frontDesk() {
  const { page, done } = await window(1280, 900);
  await signInAs(page, 'staff', 'Front desk (demo staff)');
  await page.locator('#calendar-page:not([hidden])').waitFor();
  assert.equal(await page.title(), 'Staff console · Riverside Family Therapy');
  // An address staff have no page for (a patient's billing) shows their calendar, and says so in
  // the address bar.
  await page.evaluate(() => { location.hash = '#/billing'; });
  await page.waitForURL(/#\/calendar$/);
  assert.equal(await page.locator('#billing').isHidden(), true);
  // The week from today of every provider: Jane's appointments by her name.
  await page.getByRole('button', { name: 'Show the week from this day' }).click();
  await page.getByText(/ on the week from .* with all providers/).waitFor();
  assert.match(await page.locator('#calendar').innerText(), /Jane Demo-Patient/);
  // An appointment opened from the calendar: its reason (read, and audited, only now), and her page.
  const janeRow = page.locator('#calendar li').filter({ hasText: 'Jane Demo-Patient' }).first();
  await janeRow.getByRole('button', { name: /^Details: Jane Demo-Patient, / }).click();
  await janeRow.getByText(/^(Reason for the visit: .+|No reason for the visit was given\.)$/).waitFor();
  assert.equal(await janeRow.getByRole('button', { name: /^Details: / }).getAttribute('aria-expanded'), 'true');
  await axe(page, 'an appointment opened (staff)');
  await janeRow.getByRole('button', { name: "Open Jane Demo-Patient's page" }).click();
  await page.waitForURL(/#\/patients$/);
  await page.locator('#chosen-title', { hasText: 'Jane Demo-Patient' }).waitFor();
  await page.locator('#chosen-appointments li').first().waitFor();
  await nav(page, 'Calendar');
  // A patient on the first provider's waitlist (put there by phone, say); the front desk removes it.
  const deskToken = await signIn('staff-1');
  const { providers } = await api('/v1/providers', { token: deskToken });
  const { services } = await api('/v1/services', { token: deskToken });
  const service = services.find((s) => s.providerIds.includes(providers[0].id) && !s.cancellationTerms);
  await api('/v1/waitlist', {
    token: deskToken, method: 'POST', key: key('desk-wait'),
    body: { providerId: providers[0].id, serviceId: service.id, patientId: 'patient-jane', from: new Date(Date.now() + 30 * 86400e3).toISOString(), to: new Date(Date.now() + 31 * 86400e3).toISOString() },
  });
  await page.locator('#calendar-provider').selectOption(providers[0].id);
  await page.getByRole('button', { name: "Show this provider's waitlist" }).click();
  await page.getByText(/on the waitlist of/).waitFor();
  await axe(page, 'the calendar (staff)');
  const waiting = page.locator('#staff-waitlist li').filter({ hasText: 'Jane Demo-Patient · ' });
  assert.equal(await waiting.count(), 1, await page.locator('#staff-waitlist').innerText());
  await waiting.getByRole('button', { name: 'Remove from the waitlist' }).click();
  await waiting.getByRole('button', { name: 'Yes, remove' }).click();
  await page.locator('#staff-waitlist-status', { hasText: /^Removed: / }).waitFor();
  assert.equal(await page.locator('#staff-waitlist li').filter({ hasText: 'Jane Demo-Patient · ' }).count(), 0);

  await nav(page, 'Patients');
  // Found by the start of her name, as the front desk hears it on the phone.
  await page.getByLabel('Find a patient').fill('jan demo');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.locator('#search-status', { hasText: /^1 patient found\.$/ }).waitFor();
  await page.getByRole('button', { name: /^Open Jane/ }).click();
  await page.getByText(/USD: \$0\.00 owed/).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chosen-title');
  assert.match(await page.locator('#chosen-appointments').innerText(), /: .+ with .+\nBooked/);
  await page.getByLabel('Description').fill('Follow-up session');
  await page.getByLabel('Amount', { exact: true }).fill('45');
  await page.getByRole('button', { name: 'Post the charge' }).click();
  await page.getByText('Charged $45.00.').waitFor();
  // Her page: the charge on her account, newest first; her waitlist.
  const statement = await page.locator('#chosen-statement').innerText();
  assert.match(statement, /Follow-up session \(\$45\.00\)\t\$45\.00\t\t\$45\.00\nBalance|Follow-up session \(\$45\.00\)\t\$45\.00\t/);
  assert.match(statement, /Payment with Visa ending 4242\t\t\$\d+\.\d\d\t/);
  assert.match(statement, /Owed\t\$45\.00$/);
  assert.ok(await page.locator('#chosen-waitlist li').count() > 0);
  // The messages sent to her (kinds and channels, no text); `practica serve` delivers by email.
  // (Her first consultation's confirmation also asks for the forms it needs.)
  assert.match(await page.locator('#chosen-messages').innerText(), /confirmation( \(asking for forms\))?: sent by email/);
  // The copy of her record she asks for at the desk: hers, without the access log (hers to read).
  const [atDesk] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: "The patient's record as data (JSON)" }).click()]);
  const copy = JSON.parse(readFileSync(await atDesk.path(), 'utf8'));
  assert.equal(copy.patientId, 'patient-jane');
  assert.ok(copy.billing.charges.some((c) => c.lineItems.some((l) => l.description === 'Follow-up session')));
  assert.equal(copy.accessLog, null);
  assert.match(await page.locator('#chosen-feedback').innerText(), /care \(4 of 5\): The reminder came in good time, thank you\.\n.* · open/);
  assert.match(await page.locator('#chosen-patient').innerText(), /USD: \$45\.00 owed/);
  // Booking for her next Wednesday: that day's free times, then a confirmation with the service,
  // its length and price, and a reason; nothing is booked before "Book it".
  const weekday = (d) => new Intl.DateTimeFormat('en-US', { weekday: 'long', timeZone: 'America/New_York' }).format(d);
  let wednesday = new Date(Date.now() + 86400e3);
  while (weekday(wednesday) !== 'Wednesday') wednesday = new Date(wednesday.getTime() + 86400e3);
  await page.getByLabel('Day', { exact: true }).last().fill(new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(wednesday));
  await page.locator('#staff-book').getByRole('button', { name: 'Show free times' }).click();
  await page.locator('#staff-book-status', { hasText: /^\d+ free times? on Wednesday, / }).waitFor();
  await page.locator('#staff-slots button').first().click();
  const confirmation = page.locator('#staff-confirm');
  await confirmation.waitFor();
  assert.match(await confirmation.innerText(), /Jane Demo-Patient: .* \(\d+ minutes, \$\d+\.\d\d\) with .*, Wednesday, /);
  await axe(page, 'the booking confirmation (staff)');
  await page.getByRole('button', { name: 'Choose another time' }).click();
  assert.equal(await confirmation.isHidden(), true);
  await page.locator('#staff-slots button').first().click();
  const listed = await page.locator('#chosen-appointments li').count();
  await page.getByLabel('Visit reason (optional; kept sealed)').fill('Sleep follow-up, asked for by phone');
  await page.getByRole('button', { name: 'Book it' }).click();
  await page.getByText(/^Booked Jane Demo-Patient: Wednesday, /).waitFor();
  assert.equal(await confirmation.isHidden(), true);
  // Her page lists it at once.
  await page.waitForFunction((before) => document.querySelectorAll('#chosen-appointments li').length === before + 1, listed);
  await axe(page, 'the patients page (staff)');
  await page.screenshot({ path: `${shots}/console-patients-desktop.png`, fullPage: true });

  await nav(page, 'Feedback');
  const open = page.locator('#staff-feedback li').filter({ hasText: 'The reminder came in good time' });
  await open.getByLabel('Answer to the patient').fill('Thank you, we are glad it helped.');
  await open.getByRole('button', { name: 'Resolve' }).click();
  await page.getByText('Resolved; the patient sees the answer in their portal.').waitFor();
  assert.match(await page.locator('#staff-feedback').innerText(), /Resolved .*: Thank you, we are glad it helped\./);
  await axe(page, 'the feedback page (staff)');
  // Reports are for administrators.
  assert.equal(await page.getByRole('button', { name: 'Reports', exact: true }).isHidden(), true);
  await done('front desk');
  console.log('console (staff): calendar and waitlist, patient lookup, a charge posted, a booking for her, feedback resolved: ok');
}

async function administrator() {
  const { page, done } = await window(1280, 900);
  await signInAs(page, 'staff', 'Practice administrator (demo)');
  await nav(page, 'Reports');
  // Today's report, live: the days filled in with today, computed on the click.
  await page.getByRole('button', { name: 'Show the report' }).click();
  await page.getByText('A live report, computed now; reading it is written to the audit log.').waitFor();
  const today = new Intl.DateTimeFormat('en-US', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'America/New_York' }).format(new Date());
  assert.match(await page.locator('#report-view h2').first().innerText(), new RegExp(`^Riverside Family Therapy: ${today} to ${today}$`));
  assert.match(await page.locator('#report-view').innerText(), /not verified in a live report/);
  await axe(page, 'a live report (admin)');
  const open = page.getByRole('button', { name: /^Open the report of / }).first();
  await open.waitFor();
  await open.click();
  await page.locator('#report-view table').first().waitFor();
  assert.match(await page.locator('#report-view').innerText(), /Riverside Family Therapy/);
  await axe(page, 'a report (admin)');
  await page.screenshot({ path: `${shots}/console-report-desktop.png`, fullPage: true });
  // The audit search: today's entries, among them the front desk's search for Jane.
  await nav(page, 'Audit log');
  await page.getByLabel('Role', { exact: true }).selectOption('staff');
  await page.getByLabel('Action, or a family of them (optional, e.g. appointment or patient.search)').fill('patient');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByText(/entries(?: so far)?\. Searching the audit log is itself written to it\./).waitFor();
  assert.match(await page.locator('#audit-results').innerText(), /Front desk \(demo staff\) \(staff\): patient\.search/);
  // Only the front desk's, only patient.* (the family), newest first.
  const rows = await page.locator('#audit-results li').allInnerTexts();
  assert.ok(rows.length > 1 && rows.every((r) => /\(staff\): patient\.[a-z_.]+/.test(r)), rows.join('\n'));
  // About a patient named as the practice knows her, whoever acted.
  await page.getByLabel('Role', { exact: true }).selectOption('');
  await page.getByLabel('Action, or a family of them (optional, e.g. appointment or patient.search)').fill('');
  await page.getByLabel('About a patient (her name, phone or date of birth; optional)').fill('jane demo');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#audit-status', { hasText: /^\d+ entries about Jane Demo-Patient/ }).waitFor();
  const about = await page.locator('#audit-results li').allInnerTexts();
  assert.ok(about.length > 0 && about.every((r) => r.includes('patient-jane')), about.join('\n'));
  await axe(page, 'the audit search (admin)');
  // The practice's logins: one invited, then disabled when they leave (their own login has no
  // Disable: another administrator does it).
  await nav(page, 'Staff');
  const logins = page.locator('#staff-list li');
  await logins.filter({ hasText: 'Front desk (demo staff) (front desk)' }).waitFor();
  assert.equal(await logins.filter({ hasText: 'Practice administrator (demo)' }).getByRole('button', { name: /^Disable/ }).count(), 0);
  const sam = `sam.${Date.now()}@example.org`;
  await page.getByLabel('Their name').fill('Sam Lee');
  await page.getByLabel('Their email address (the sign-in name)').fill(sam);
  await page.getByLabel('Their role').selectOption('staff');
  await page.getByRole('button', { name: 'Invite' }).click();
  await page.getByText("Sam Lee is added. Deployed, the practice's sign-in page emails them a temporary password.").waitFor();
  const samRow = logins.filter({ hasText: sam });
  await samRow.getByRole('button', { name: "Disable Sam Lee's login" }).click();
  await samRow.getByRole('button', { name: "Yes, disable Sam Lee's login" }).click();
  await page.getByText('Sam Lee can no longer sign in; their open sessions have ended.').waitFor();
  await logins.filter({ hasText: 'Sam Lee (front desk): disabled' }).waitFor();
  await axe(page, 'the staff page (admin)');
  await done('administrator');
  console.log('console (admin): a report opened, the audit log searched, a login invited and disabled: ok');
}

// Back as the patient: the answer to her feedback and the new charge.
async function patientAgain() {
  const { page, done } = await window(1280, 900);
  // The page's clock is the test's from the start: the token's renewal and the idle logoff are
  // timers on it.
  await page.clock.install();
  await signInAs(page, 'patient', 'Jane Demo-Patient');
  await nav(page, 'Messages');
  await page.getByText(/^Answered .*: Thank you, we are glad it helped\.$/).waitFor();
  await nav(page, 'Billing');
  await page.getByText('You owe $45.00.').waitFor();
  // A minute before the access token expires (15 minutes here) the refresh token renews it; the
  // API accepts the new one.
  const renewal = page.waitForRequest((r) => r.url().endsWith('/local/oauth2/token') && /grant_type=refresh_token/.test(r.postData() || ''));
  await page.clock.fastForward('14:10');
  const renewed = await (await renewal).response();
  assert.equal(renewed.status(), 200);
  await nav(page, 'Messages');
  await page.getByText(/^Answered .*: Thank you, we are glad it helped\.$/).waitFor();
  // Automatic logoff: a click starts the idle time anew, and 15 minutes later (the demo's
  // idleMinutes) the session ends.
  await nav(page, 'Security');
  await page.getByText('You are signed out after 15 minutes without activity').waitFor();
  await page.clock.fastForward('14:50');
  assert.equal(await page.locator('#nav').isVisible(), true);
  await page.clock.fastForward('00:20');
  await page.getByText('You were signed out after 15 minutes without activity.').waitFor();
  assert.equal(await page.locator('#nav').isHidden(), true);
  await done('patient, again');
  console.log('portal (patient, again): the answer and the new charge, the token renewed, automatic logoff: ok');
}

// A deployed portal's card form is Stripe's Payment Element. Stripe cannot be reached from here, so
// this run serves a test double of Stripe.js at Stripe's address (and lifts the local server's
// CSP, which admits no other host; the deployed policy admits js.stripe.com and is checked in
// tests/template_policies.rs). The double mounts a stand-in for the element and completes the
// intent as Stripe would, through the sandbox's signed webhooks; what is tested is the portal's
// side: Stripe.js loaded only when a payment starts, the element mounted with the intent's client
// secret, a decline's message shown, and the result read from the webhook-confirmed balance; and
// a card saved through the same element in setup mode (confirmSetup), read from the webhooks too.
const STRIPE_DOUBLE = `window.Stripe = (publishableKey) => ({
  elements: ({ clientSecret }) => ({
    clientSecret,
    create: (kind) => ({
      mount: (target) => {
        const field = document.createElement('p');
        field.id = 'stripe-double';
        field.textContent = 'Card details (test double of Stripe ' + kind + ' element, key ' + publishableKey + ')';
        target.append(field);
      },
    }),
  }),
  confirmPayment: async ({ elements, redirect }) => {
    const outcome = (window.stripeDoubleOutcomes || []).shift() || 'success';
    const answer = await fetch('/local/sandbox-pay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientSecret: elements.clientSecret, outcome }),
    });
    if (!answer.ok || redirect !== 'if_required') return { error: { message: 'The double could not pay.' } };
    return outcome.startsWith('declined') ? { error: { type: 'card_error', message: 'Your card has insufficient funds.' } } : {};
  },
  confirmSetup: async ({ elements, redirect }) => {
    window.stripeDoubleSetups = (window.stripeDoubleSetups || 0) + 1;
    const answer = await fetch('/local/sandbox-setup', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientSecret: elements.clientSecret, card: 'succeeds' }),
    });
    return answer.ok && redirect === 'if_required' ? {} : { error: { message: 'The double could not save the card.' } };
  },
});`;

// A desktop window whose portal is configured for Stripe, Stripe.js answered by the double; the
// loads of Stripe.js are counted.
async function stripeWindow() {
  const { page, done } = await window(1280, 900, { bypassCSP: true, otherOrigins: ['https://js.stripe.com'] });
  const stripeLoads = [];
  await page.route('https://js.stripe.com/v3/', (route) => {
    stripeLoads.push(route.request().url());
    return route.fulfill({ contentType: 'text/javascript', body: STRIPE_DOUBLE });
  });
  await page.route('**/portal/config.json', async (route) => {
    const answer = await route.fetch();
    const config = await answer.json();
    config.payments = { processor: 'stripe', publishableKey: 'pk_test_portal' };
    await route.fulfill({ response: answer, json: config });
  });
  return { page, done, stripeLoads };
}

async function patientWithStripe() {
  const { page, done, stripeLoads } = await stripeWindow();
  await signInAs(page, 'patient', 'Jane Demo-Patient');
  await nav(page, 'Billing');
  await page.locator('#balance', { hasText: 'You owe $45.00.' }).waitFor();
  assert.deepEqual(stripeLoads, [], 'Stripe.js is loaded only when a payment starts');
  await page.getByRole('button', { name: 'Pay $45.00' }).click();
  await page.locator('#card-element #stripe-double').waitFor();
  assert.match(await page.locator('#stripe-double').innerText(), /key pk_test_portal/);
  assert.equal(await page.locator('#sandbox-form').isHidden(), true);
  await page.evaluate(() => { window.stripeDoubleOutcomes = ['declined_insufficient_funds', 'success']; });
  await page.getByRole('button', { name: 'Pay now' }).click();
  await page.getByText('Not paid: Your card has insufficient funds.').waitFor();
  await page.getByRole('button', { name: 'Pay now' }).click();
  await page.getByText('Paid $45.00. Your receipt is below.').waitFor();
  assert.equal(await page.locator('#balance').innerText(), 'Nothing to pay.');
  assert.equal(stripeLoads.length, 1);
  // A card saved on file in the same element, in setup mode (the setup intent's client secret),
  // once she signed the card authorisation; on file when the webhooks say so.
  const jane = (await api('/local/demo-sign-in', { method: 'POST', body: { user: 'patient-jane' } })).token;
  const { documents } = await api('/v1/consents', { token: jane });
  const authorisation = documents.find((d) => d.documentId === 'card');
  await api('/v1/consents/card/sign', {
    token: jane, method: 'POST', key: 'stripe-card-sign',
    body: { versionHash: authorisation.versionHash, typedName: 'Jane Demo-Patient', agree: true },
  });
  await nav(page, 'Appointments');
  await nav(page, 'Billing');
  await page.getByRole('button', { name: 'Save a card' }).click();
  await page.locator('#card-setup-element #stripe-double').waitFor();
  assert.equal(await page.locator('#card-sandbox').isHidden(), true, 'no test form with Stripe');
  await page.getByRole('button', { name: 'Save card', exact: true }).click();
  await page.locator('#card-summary', { hasText: 'Visa ending 4242 is on file.' }).waitFor();
  assert.equal(await page.evaluate(() => window.stripeDoubleSetups), 1);
  assert.equal(stripeLoads.length, 1, 'Stripe.js is loaded once');
  await page.getByRole('button', { name: 'Remove this card' }).click();
  await page.getByRole('button', { name: 'Yes, remove it' }).click();
  await page.locator('#card-status', { hasText: 'Card removed.' }).waitFor();
  // A payment method that left the page comes back with the intent's client secret in the
  // address: the portal takes it out of the address bar (and its history entry) at once.
  await page.goto(`${base}/?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_abc&redirect_status=succeeded`);
  await page.getByText(/^Back from your payment\. Sign in to see your balance/).waitFor();
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await page.evaluate(() => location.href.includes('secret')), false);
  await done('patient, Stripe');
  console.log('portal (patient, Stripe): the element mounted with the intent, a decline, then paid; a card saved on file in setup mode and removed: ok');
}

// A deposit paid in Stripe's element (the test double): a booking of the extended session waits
// for it, and the webhook confirms it once the element's payment went through.
async function depositWithStripe() {
  const { page, done, stripeLoads } = await stripeWindow();
  const jane = (await api('/local/demo-sign-in', { method: 'POST', body: { user: 'patient-jane' } })).token;
  const { providers } = await api('/v1/providers', { token: jane });
  const { services } = await api('/v1/services', { token: jane });
  const extended = services.find((s) => s.name === 'Extended session');
  const provider = providers.find((p) => p.name === 'Sam Okafor, LCSW');
  const from = new Date(Date.now() + 9 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const to = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const { slots } = await api(`/v1/providers/${provider.id}/availability?serviceId=${extended.id}&from=${from}&to=${to}`, { token: jane });
  const waiting = await api('/v1/appointments', {
    token: jane, method: 'POST', key: 'stripe-deposit-book',
    body: { providerId: provider.id, serviceId: extended.id, start: slots[0], acceptedPolicyVersion: extended.cancellationTerms.version },
  });
  assert.equal(waiting.status, 'awaiting_deposit');
  await signInAs(page, 'patient', 'Jane Demo-Patient');
  await nav(page, 'Appointments');
  await page.locator('#upcoming li', { hasText: 'not confirmed yet: waiting for the deposit of $50.00' }).getByRole('button', { name: 'Pay the deposit' }).click();
  await page.locator('#deposit-element #stripe-double').waitFor();
  assert.equal(await page.locator('#deposit-sandbox').isHidden(), true, 'no test form with Stripe');
  await page.getByRole('button', { name: 'Pay $50.00' }).click();
  await page.locator('#deposit-status', { hasText: 'Deposit paid: your visit is confirmed.' }).waitFor();
  const after = await api('/v1/appointments', { token: jane });
  assert.equal(after.appointments.find((a) => a.id === waiting.id).status, 'booked');
  assert.equal(stripeLoads.length, 1, 'Stripe.js is loaded once');
  await axe(page, 'a deposit paid in the processor element');
  await done('deposit, Stripe');
  console.log('portal (deposit, Stripe): a booking waiting for its deposit, paid in the element, confirmed by the webhook: ok');
}

let failed = false;
try {
  const prepared = await prepare();
  await patient('desktop', 1280, 900, prepared);
  await frontDesk();
  await administrator();
  await patientAgain();
  await patientWithStripe();
  await depositWithStripe();
  await patient('phone', 390, 844, prepared);
  await consoleOnPhone();
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
