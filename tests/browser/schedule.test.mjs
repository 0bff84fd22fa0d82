// The front desk's day in headless chromium, on a server whose clock scripts/browser-tests starts
// at fixed instants (`practica serve --clock-start`), so the test means the same on any date:
//   node schedule.test.mjs book URL        (Monday 23 Nov 2026, 10:00 New York) books Tuesday;
//   node schedule.test.mjs day URL SHOTS   (Tuesday 24 Nov, 11:10) runs the day in the browser,
// the page's own clock fixed at the same instant.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { axe, client, launch } from './lib.mjs';

const [step, base, shots] = process.argv.slice(2);
const DAY_NOW = '2026-11-24T11:10:00-05:00';

const api = client(base);

const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;

// Monday: Jane with Dr. Rivera at 10:00 and 15:00, Omar with Sam Okafor at 11:00, all Tuesday.
async function book() {
  const desk = await signIn('staff-1');
  await api('/v1/patients', {
    token: desk, method: 'POST', key: 'schedule-omar',
    body: { patientId: 'patient-omar', name: 'Omar Haddad', dateOfBirth: '1975-06-01', phone: '+1 555 0100 321', email: 'omar@example.org' },
  });
  // By name: the list's order is the ids', not the order the demo added them in.
  const { providers: listed } = await api('/v1/providers', { token: desk });
  const providers = ['Dr. Ana Rivera', 'Sam Okafor, LCSW'].map((name) => listed.find((p) => p.name === name));
  const { services } = await api('/v1/services', { token: desk });
  const followUp = services.find((s) => s.durationMinutes === 30);
  for (const [provider, patientId, start] of [[0, 'patient-jane', '10:00'], [1, 'patient-omar', '11:00'], [0, 'patient-jane', '15:00'], [1, 'patient-omar', '16:00']]) {
    await api('/v1/appointments', {
      token: desk, method: 'POST', key: `schedule-${patientId}-${start}`,
      body: { providerId: providers[provider].id, serviceId: followUp.id, start: `2026-11-24T${start}:00-05:00`, patientId },
    });
  }
  console.log('schedule (booking on Monday): four appointments for Tuesday: ok');
}

// Tuesday 11:10: the front desk's whole day across both providers, with names; Jane (10:00) is
// checked in and her visit completed, Omar (11:00) marked a no-show, Jane's 15:00 cancelled with a
// reason. Desktop and phone.
async function day() {
  const browser = await launch(chromium);
  try {
    for (const [label, width, height] of [['desktop', 1280, 900], ['phone', 390, 844]]) {
      const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'Europe/London', locale: 'en-US' });
      await context.clock.setFixedTime(new Date(DAY_NOW));
      const page = await context.newPage();
      const problems = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
      await page.goto(base);
      await page.getByRole('button', { name: 'Staff sign-in' }).click();
      await page.getByRole('button', { name: 'Front desk (demo staff)' }).click();
      await page.locator('#calendar-page:not([hidden])').waitFor();
      await page.getByRole('button', { name: 'Show the day' }).click();
      const status = page.locator('#calendar-status');
      await status.filter({ hasText: /^\d+ appointments?( and \d+ cancelled)? on Tuesday, November 24 with all providers/ }).waitFor();
      const rows = page.locator('#calendar li');
      const jane = rows.filter({ hasText: /10:00\sAM–10:30\sAM · Jane Demo-Patient/ });
      const omar = rows.filter({ hasText: /11:00\sAM–11:30\sAM · Omar Haddad/ });
      const later = rows.filter({ hasText: /3:00\sPM–3:30\sPM · Jane Demo-Patient/ });
      if (label === 'desktop') {
        assert.equal(await rows.count(), 4, await page.locator('#calendar').innerText());
        assert.match(await omar.innerText(), /with Sam Okafor, LCSW · Booked/);
        await axe(page, `the day's schedule (${label})`);
        // Jane came: checked in, then her visit completed.
        await jane.getByRole('button', { name: /^Check in/ }).click();
        await status.filter({ hasText: 'Jane Demo-Patient, ' }).filter({ hasText: 'checked in.' }).waitFor();
        assert.match(await jane.innerText(), /· Checked in/);
        assert.equal(await jane.getByRole('button', { name: /^No-show/ }).count(), 0);
        await jane.getByRole('button', { name: /^Completed/ }).click();
        await status.filter({ hasText: 'completed.' }).waitFor();
        assert.match(await jane.innerText(), /· Completed/);
        // Omar did not.
        await omar.getByRole('button', { name: /^No-show/ }).click();
        await status.filter({ hasText: 'no-show.' }).waitFor();
        assert.match(await omar.innerText(), /· No-show/);
        // Jane's afternoon visit: cancelled with a reason, after a second thought.
        await later.getByRole('button', { name: /^Cancel/ }).click();
        await later.getByRole('button', { name: 'Keep it' }).click();
        await later.getByRole('button', { name: /^Cancel/ }).click();
        await later.getByLabel('Reason (optional; kept with the appointment)').fill('Dr. Rivera is unwell this afternoon');
        await later.getByRole('button', { name: 'Yes, cancel it' }).click();
        await status.filter({ hasText: /^Cancelled: Jane Demo-Patient/ }).waitFor();
        assert.match(await later.innerText(), /· Cancelled/);
        // Omar's 4:00 PM moves to Wednesday's first free time with the same provider.
        const omarLater = rows.filter({ hasText: /4:00\sPM–4:30\sPM · Omar Haddad/ });
        await omarLater.getByRole('button', { name: /^Move/ }).click();
        await omarLater.getByLabel('Move to a day').fill('2026-11-25');
        await omarLater.getByRole('button', { name: 'Show free times' }).click();
        const first = omarLater.locator('.times button').first();
        await first.waitFor();
        await axe(page, `moving an appointment (${label})`);
        await first.click();
        await status.filter({ hasText: /^Moved: Omar Haddad, from 4:00\sPM–4:30\sPM to Wednesday, November 25 at / }).waitFor();
        assert.equal(await rows.filter({ hasText: /Omar Haddad/ }).count(), 1, 'the moved visit left Tuesday');
        await axe(page, `the day's schedule after the changes (${label})`);
        await page.screenshot({ path: `${shots}/console-schedule-desktop.png`, fullPage: true });
        // The week of one provider: Dr. Rivera's two.
        await page.locator('#calendar-provider').selectOption({ label: 'Dr. Ana Rivera' });
        await page.getByRole('button', { name: 'Show the week from this day' }).click();
        await status.filter({ hasText: /on the week from Tuesday, November 24 with Dr\. Ana Rivera/ }).waitFor();
        assert.equal(await rows.count(), 2);
        // The week of Sam Okafor: Omar's visit now on Wednesday.
        await page.locator('#calendar-provider').selectOption({ label: 'Sam Okafor, LCSW' });
        await page.getByRole('button', { name: 'Show the week from this day' }).click();
        await status.filter({ hasText: /with Sam Okafor, LCSW/ }).waitFor();
        assert.match(await page.locator('#calendar').innerText(), /Wednesday, November 25\n[^]*Omar Haddad/);
      } else {
        // On a phone: what the desk recorded, readable, no action left on the finished ones.
        assert.match(await jane.innerText(), /· Completed/);
        assert.match(await omar.innerText(), /· No-show/);
        assert.equal(await omar.getByRole('button', { name: /^Check in/ }).count(), 1, 'a late arrival can still be checked in');
        await axe(page, `the day's schedule (${label})`);
        await page.screenshot({ path: `${shots}/console-schedule-phone.png`, fullPage: true });
      }
      assert.deepEqual(problems, [], `${label}: console errors`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log('schedule (the front desk on Tuesday): every provider with names, check-in, completed, no-show, a move to Wednesday, a cancellation with a reason, one provider\'s week; desktop and phone: ok');
}

await (step === 'book' ? book() : day());
