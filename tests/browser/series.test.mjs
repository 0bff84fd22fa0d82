// Repeating visits in the staff console, in headless chromium, on a server whose clock
// scripts/browser-tests starts on Tuesday 1 December 2026 (`practica serve --clock-start`), so the
// journey crosses the same March DST change whenever it runs:
//   node series.test.mjs URL SHOTS
// The front desk books Jane every week for 16 weeks from Tuesday 5 January 2027 at 10:00, cancels
// one visit, tries to move the rest to Thursdays at 10:00 (one Thursday is taken: nothing changes
// and the date is listed with that day's free times), moves them to Thursdays at 11:00; her
// appointments, the provider's week across the change and the messages show them; her provider's
// calendar feed and another calendar of hers (refused over http, added, its failed read shown,
// removed). Desktop and phone, axe on each state.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { axe, client, launch } from './lib.mjs';

const [base, shots] = process.argv.slice(2);
const NOW = '2026-12-01T10:00:00-05:00';
const api = client(base);
const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;

// Omar has Thursday 11 February 2027 at 10:00 with Dr. Rivera.
async function setup() {
  const desk = await signIn('staff-1');
  await api('/v1/patients', {
    token: desk, method: 'POST', key: 'series-omar',
    body: { patientId: 'patient-omar', name: 'Omar Haddad', dateOfBirth: '1975-06-01', phone: '+1 555 0100 321', email: 'omar@example.org' },
  });
  const { providers } = await api('/v1/providers', { token: desk });
  const rivera = providers.find((p) => p.name === 'Dr. Ana Rivera');
  const { services } = await api('/v1/services', { token: desk });
  const followUp = services.find((s) => s.durationMinutes === 30);
  await api('/v1/appointments', {
    token: desk, method: 'POST', key: 'series-omar-thursday',
    body: { providerId: rivera.id, serviceId: followUp.id, start: '2027-02-11T10:00:00-05:00', patientId: 'patient-omar' },
  });
  return { rivera, followUp };
}

const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

async function openJane(page) {
  await nav(page, 'Patients');
  await page.getByLabel('Find a patient').fill('jane');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: /^Open Jane/ }).click();
  await page.locator('#patient-page:not([hidden])').waitFor();
}

async function journey(browser, label, width, height, { rivera, followUp }) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'America/New_York', locale: 'en-US' });
  await context.clock.setFixedTime(new Date(NOW));
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // The refusals the journey provokes (a taken Thursday: 409; a plain-http calendar: 422).
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (409|422)/.test(m.text())) problems.push(m.text()); });
  await page.goto(base);
  await page.getByRole('button', { name: 'Staff sign-in' }).click();
  await page.getByRole('button', { name: 'Front desk (demo staff)' }).click();
  await page.locator('#calendar-page:not([hidden])').waitFor();
  await openJane(page);
  const series = page.locator('#chosen-series');
  const status = page.locator('#chosen-series-status');
  if (label === 'desktop') {
    assert.match(await series.innerText(), /No repeating visits\./);
    // Book: Tuesday 5 January at 10:00, every week, 16 visits.
    await page.getByLabel('Provider', { exact: true }).last().selectOption(rivera.id);
    await page.getByLabel('Service', { exact: true }).last().selectOption(followUp.id);
    await page.getByLabel('Day', { exact: true }).last().fill('2027-01-05');
    await page.locator('#staff-book').getByRole('button', { name: 'Show free times' }).click();
    await page.locator('#staff-book-status', { hasText: /^\d+ free times? on Tuesday, January 5/ }).waitFor();
    await page.locator('#staff-slots').getByRole('button', { name: '10:00 AM', exact: true }).click();
    await page.getByLabel('Repeats').selectOption('1');
    await page.getByLabel('Visit reason (optional; kept sealed)').fill('Weekly therapy');
    // A number of visits outside 2 to 52 is said next to the field, and nothing is sent.
    await page.getByLabel(/^Number of visits/).fill('53');
    await page.getByRole('button', { name: 'Book it' }).click();
    await page.locator('#staff-repeat-note', { hasText: 'Enter a number of visits from 2 to 52.' }).waitFor();
    await page.getByLabel(/^Number of visits/).fill('16');
    await axe(page, 'a repeating booking being confirmed (staff)');
    await page.getByRole('button', { name: 'Book it' }).click();
    await page.locator('#staff-book-status', { hasText: /^Booked Jane Demo-Patient: 16 visits every week from Tuesday, January 5 at 10:00 AM/ }).waitFor();
    await series.getByText('16 visits: 16 booked. Next: Tuesday, January 5 at 10:00 AM.').waitFor();
    // Each visit is an appointment on her page, 10:00 on both sides of 14 March.
    const appointments = await page.locator('#chosen-appointments').innerText();
    for (const day of ['January 5, 2027 at 10:00 AM EST', 'March 9, 2027 at 10:00 AM EST', 'March 16, 2027 at 10:00 AM EDT', 'April 20, 2027 at 10:00 AM EDT']) {
      assert.ok(appointments.includes(day), `${day} in ${appointments}`);
    }

    // Cancel one visit (19 January): the others stay.
    await page.getByLabel('From the visit on').selectOption({ label: 'Tuesday, January 19, 2027 at 10:00 AM' });
    await series.getByRole('button', { name: /^Cancel this visit of / }).click();
    await series.getByRole('button', { name: 'Yes, cancel it' }).click();
    await status.filter({ hasText: 'Cancelled Tuesday, January 19 at 10:00 AM; the other visits stay.' }).waitFor();
    await series.getByText(/16 visits: 15 booked, 1 cancelled\./).waitFor();

    // Move the rest from 2 February to Thursdays at 10:00: Omar's 11 February blocks it, so
    // nothing moves and the date is listed with that day's free times.
    await page.getByLabel('From the visit on').selectOption({ label: 'Tuesday, February 2, 2027 at 10:00 AM' });
    await page.getByLabel('New date of that visit').fill('2027-02-04');
    await page.getByLabel('New time').fill('10:00');
    await series.getByRole('button', { name: /^Move this and all later visits/ }).click();
    await status.filter({ hasText: 'Nothing moved: 1 date is not free (listed under the series).' }).waitFor();
    const refused = await series.locator('ul').innerText();
    assert.match(refused, /Thursday, February 11, 2027 at 10:00 AM: taken\nFree that day: .*AM/);
    assert.ok(!/10:00 AM,|10:00 AM$/.test(refused.split('\n')[1]), refused);
    assert.match(await page.locator('#chosen-appointments').innerText(), /Tuesday, February 2, 2027 at 10:00 AM EST/);
    await axe(page, 'a refused move of the repeating visits (staff)');
    // At 11:00 it goes through.
    await page.getByLabel('New time').fill('11:00');
    await series.getByRole('button', { name: /^Move this and all later visits/ }).click();
    await status.filter({ hasText: 'Moved: from Thursday, February 4 at 11:00 AM, every week.' }).waitFor();
    const moved = await page.locator('#chosen-appointments').innerText();
    for (const day of ['Tuesday, January 26, 2027 at 10:00 AM EST', 'Thursday, February 4, 2027 at 11:00 AM EST', 'Thursday, March 11, 2027 at 11:00 AM EST', 'Thursday, March 18, 2027 at 11:00 AM EDT', 'Thursday, April 22, 2027 at 11:00 AM EDT']) {
      assert.ok(moved.includes(day), `${day} in ${moved}`);
    }
    assert.ok(!moved.includes('Tuesday, April 20, 2027'), moved);
    await axe(page, 'the repeating visits after the move (staff)');
    if (shots) await page.screenshot({ path: `${shots}/console-series-desktop.png`, fullPage: true });

    // The provider's week across the change shows her Thursdays, by name.
    await nav(page, 'Calendar');
    await page.locator('#calendar-provider').selectOption(rivera.id);
    await page.locator('#calendar-day').fill('2027-03-15');
    await page.getByRole('button', { name: 'Show the week from this day' }).click();
    await page.locator('#calendar-status').filter({ hasText: /appointments? / }).waitFor();
    const week = await page.locator('#calendar').innerText();
    assert.match(week, /11:00\sAM–11:30\sAM · Jane Demo-Patient/);
    assert.ok(!/10:00\sAM–10:30\sAM · Jane Demo-Patient/.test(week), week);

    // Dr. Rivera's calendar feed: a private link made in the console, read by a calendar app
    // (here a plain fetch): her appointments, no patient's name.
    await page.getByRole('button', { name: 'Show calendar feeds' }).click();
    await page.getByRole('button', { name: 'Make a link for Dr. Ana Rivera' }).click();
    const address = page.getByLabel('Subscription address for Dr. Ana Rivera (shown once)');
    await address.waitFor();
    await page.locator('#feeds-status', { hasText: /^Made the link of Dr\. Ana Rivera\. Copy it now/ }).waitFor();
    await axe(page, 'the calendar feeds (staff)');
    const url = new URL(await address.inputValue());
    const feed = await fetch(`${base}${url.pathname}`);
    assert.equal(feed.status, 200);
    assert.equal(feed.headers.get('content-type'), 'text/calendar; charset=utf-8');
    const ics = await feed.text();
    assert.equal((ics.match(/BEGIN:VEVENT/g) || []).length, 17, ics.slice(0, 400));
    assert.match(ics, /SUMMARY:Appointment: Follow-up session\r\n/);
    assert.match(ics, /DTSTART:20270318T150000Z\r\n/);
    assert.ok(!/Jane|Demo|Omar|Haddad/.test(ics), 'no patient names in the feed');

    // Dr. Rivera's other calendar: a plain-http address is refused with the reason; an https one
    // is added and listed by its name and host only; the server's sweep (every minute) tries to
    // read it (the name does not resolve here) and the console shows why it failed; removed.
    const other = page.locator('.other-calendars').filter({ has: page.getByRole('heading', { name: 'Busy time from other calendars: Dr. Ana Rivera' }) });
    await other.getByText('No other calendars.').waitFor();
    await other.getByLabel('Name (e.g. Personal)').fill('Personal');
    await other.getByLabel('Calendar address').fill('http://calendar.example/rivera.ics');
    await other.getByRole('button', { name: 'Add calendar' }).click();
    await other.getByRole('status').filter({ hasText: /^Not added: The address must start with https:\/\// }).waitFor();
    assert.equal(await other.getByLabel('Calendar address').getAttribute('aria-invalid'), 'true');
    assert.ok(await other.getByLabel('Calendar address').evaluate((e) => e === document.activeElement), 'the address has the focus');
    await other.getByLabel('Calendar address').fill('https://calendar.invalid/private-5d2e/rivera.ics');
    await other.getByRole('button', { name: 'Add calendar' }).click();
    await other.getByRole('status').filter({ hasText: 'Added Personal (calendar.invalid)' }).waitFor();
    assert.equal(await other.getByLabel('Calendar address').inputValue(), '', 'the address is not kept in the page');
    const row = other.locator('li', { hasText: 'Personal (calendar.invalid)' });
    await row.waitFor();
    await other.getByText('1 of 5 calendars.').waitFor();
    assert.ok(!(await other.innerText()).includes('private-5d2e'), 'the address is never shown');
    await axe(page, 'another calendar added (staff)');
    // The list shows what the table holds when shown: show it again until the sweep has run.
    const failedRow = page.locator('.other-calendars li', { hasText: /Last read failed .*?: The (calendar's server could not be reached|calendar's server did not answer|address points into a private network)/ });
    for (let tries = 0; !(await failedRow.count()); tries += 1) {
      assert.ok(tries < 45, 'the sweep read the calendar within 90 seconds');
      await page.waitForTimeout(2000);
      await page.getByRole('button', { name: 'Show calendar feeds' }).click();
      await page.locator('.other-calendars li').first().waitFor();
    }
    const failed = page.locator('.other-calendars').filter({ has: page.getByRole('heading', { name: 'Busy time from other calendars: Dr. Ana Rivera' }) });
    await axe(page, 'another calendar that could not be read (staff)');
    await failed.getByRole('button', { name: 'Remove the calendar Personal (calendar.invalid)' }).click();
    await failed.getByRole('button', { name: 'Yes, remove it' }).click();
    await failed.getByRole('status').filter({ hasText: /^Removed Personal \(calendar\.invalid\): its busy times no longer block bookings with Dr\. Ana Rivera\./ }).waitFor();
    assert.ok(await failed.getByRole('status').evaluate((e) => e === document.activeElement), 'the outcome has the focus');
    await failed.getByText('No other calendars.').waitFor();

    // Jane, on her own page: each visit says it repeats; she cancels from 15 April on.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in as a patient' }).click();
    await page.getByRole('button', { name: 'Jane Demo-Patient' }).click();
    await page.locator('#appointments:not([hidden])').waitFor();
    const upcoming = page.locator('#upcoming li');
    await upcoming.first().waitFor();
    assert.equal(await upcoming.count(), 15);
    assert.match(await upcoming.first().innerText(), /It is one of your repeating visits\./);
    const april15 = upcoming.filter({ hasText: 'April 15, 2027' });
    await april15.getByRole('button', { name: /^Cancel this and all later visits/ }).click();
    await april15.getByRole('button', { name: 'Yes, cancel them' }).click();
    await page.locator('#appointments-status', { hasText: /^Cancelled this and all later visits/ }).waitFor();
    assert.equal(await upcoming.count(), 13);
    await axe(page, 'her repeating visits (patient)');
  } else {
    await series.getByText(/16 visits: 13 booked, 3 cancelled\./).waitFor();
    await axe(page, `the repeating visits (staff, ${label})`);
    if (shots) await page.screenshot({ path: `${shots}/console-series-${label}.png`, fullPage: true });
  }
  assert.deepEqual(problems, [], `console errors on ${label}`);
  await context.close();
  console.log(`series (${label}): booked weekly across DST, one cancelled, the rest moved to Thursdays: ok`);
}

const browser = await launch(chromium);
try {
  const fixtures = await setup();
  await journey(browser, 'desktop', 1280, 900, fixtures);
  await journey(browser, 'phone', 390, 844, fixtures);
} finally {
  await browser.close();
}
