// An online visit in headless chromium with fake camera and microphone, on a server whose clock
// scripts/browser-tests starts at fixed instants:
//   node visit.test.mjs book URL         (Monday 23 Nov 2026, 10:00 New York)
//   node visit.test.mjs visit URL SHOTS  (Tuesday 24 Nov, 09:55)
// Monday: Jane books Tuesday's 10:00 follow-up with Dr. Rivera online (the service may be either),
// finds "Join the online visit" on it, and the room says when it opens; joining early is refused.
// Tuesday: Jane checks her camera and joins the waiting room; Dr. Rivera opens the room from her
// calendar, sees her waiting and lets her in; both pages connect directly, show the same safety
// code and each other's (fake) video (another patient's refusal is tested through the API, in
// tests/visits.rs); her page is reloaded (a forced disconnect) and she is back without a new
// admission. axe on each state.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { axe, client, launchWithDevices, remoteFrames as frames } from './lib.mjs';

const [step, base, shots] = process.argv.slice(2);
const MONDAY = '2026-11-23T10:00:00-05:00';
const TUESDAY = '2026-11-24T09:55:00-05:00';
const START = '2026-11-24T10:00:00-05:00';
const api = client(base);
const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;
const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

const launch = () => launchWithDevices(chromium);

async function open(browser, now, { width = 1280, height = 900, path = '/' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'America/New_York', locale: 'en-US' });
  await context.clock.setFixedTime(new Date(now));
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(new URL(path, base).href);
  return { context, page, problems };
}

async function asPatient(page) {
  await page.getByRole('button', { name: 'Sign in as a patient' }).click();
  await page.getByRole('button', { name: 'Jane Demo-Patient' }).click();
  await page.locator('#appointments:not([hidden])').waitFor();
}

async function book() {
  const browser = await launch();
  try {
    const { context, page, problems } = await open(browser, MONDAY);
    await asPatient(page);
    const token = await signIn('patient-jane');
    const { providers } = await api('/v1/providers', { token });
    const { services } = await api('/v1/services', { token });
    const rivera = providers.find((p) => p.name === 'Dr. Ana Rivera');
    const followUp = services.find((s) => s.name === 'Follow-up session');
    assert.equal(followUp.visitMode, 'either');
    await page.locator('#provider').selectOption({ label: rivera.name });
    await page.locator('#service').selectOption(followUp.id);
    await page.getByRole('button', { name: 'Show free times' }).click();
    await page.getByRole('button', { name: /^Tuesday, November 24: / }).click();
    await page.locator(`#slots button[data-start="${START}"]`).click();
    // A service held either way: she chooses before the click that books.
    await page.getByLabel('Online, by video').check();
    await axe(page, 'choosing an online visit');
    await page.getByRole('button', { name: 'Book this time' }).click();
    await page.locator('#booked').waitFor();
    const visit = page.locator('#upcoming li').filter({ hasText: /Tuesday, November 24.*10:00\sAM.* · online, by video/ });
    await visit.getByRole('button', { name: 'Join the online visit' }).click();
    await page.locator('#visit-status', { hasText: /^The room opens on Tuesday, November 24.*9:45\sAM/ }).waitFor();
    await axe(page, 'the visit room, not open yet');
    // Joining before the window is refused, with nothing recorded.
    const jane = await signIn('patient-jane');
    const { appointments } = await api('/v1/appointments', { token: jane });
    const online = appointments.find((a) => a.online);
    const early = await fetch(`${base}/v1/appointments/${online.id}/visit/join`, {
      method: 'POST', headers: { Authorization: `Bearer ${jane}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'early-join' }, body: '{}',
    });
    assert.equal(early.status, 409);
    assert.equal((await early.json()).code, 'visit_not_open');
    assert.deepEqual(problems, [], 'console errors');
    await context.close();
  } finally {
    await browser.close();
  }
  console.log('visit (Monday): a follow-up booked online, the room shut until 15 minutes before: ok');
}

async function visit() {
  const browser = await launch();
  try {
    // Jane follows her reminder's link (tests/visits.rs: `<portal>/#/visit`): once she signs
    // in, her next online visit's room opens.
    const patient = await open(browser, TUESDAY, { path: '/#/visit' });
    const provider = await open(browser, TUESDAY);
    const { page: jane } = patient;
    const { page: rivera } = provider;
    // Jane: the camera check, then the waiting room.
    await asPatient(jane);
    await jane.getByRole('button', { name: 'Join the waiting room' }).waitFor();
    await jane.locator('#visit-title', { hasText: /^Online visit, Tuesday, November 24/ }).waitFor();
    await jane.locator('#visit-devices:not([hidden])').waitFor();
    assert.ok((await jane.locator('#visit-cameras option').count()) >= 1, 'a camera to choose');
    await axe(jane, 'the camera check');
    await jane.getByRole('button', { name: 'Join the waiting room' }).click();
    await jane.locator('#visit-status', { hasText: 'In the waiting room: your provider will let you in.' }).waitFor();
    // Dr. Rivera opens the room from her calendar, sees her waiting and lets her in.
    await rivera.getByRole('button', { name: 'Staff sign-in' }).click();
    await rivera.getByRole('button', { name: 'Dr. Ana Rivera' }).click();
    await rivera.locator('#calendar-page:not([hidden])').waitFor();
    await rivera.getByRole('button', { name: 'Show the day' }).click();
    const row = rivera.locator('#calendar li').filter({ hasText: 'Jane Demo-Patient' }).filter({ hasText: 'Follow-up session' });
    await row.getByRole('button', { name: 'Open the visit room' }).click();
    await rivera.locator('#visit-status', { hasText: 'The patient is waiting.' }).waitFor();
    await axe(rivera, 'the patient waiting (provider)');
    await rivera.getByRole('button', { name: 'Let the patient in' }).click();
    // Both connected, directly, with the same safety code, each seeing the other's video.
    try {
      for (const page of [jane, rivera]) {
        await page.locator('#visit-connection', { hasText: 'Connected' }).waitFor({ timeout: 30000 });
        await page.locator('#visit-code', { hasText: /^\d{4} \d{4} \d{4}$/ }).waitFor({ timeout: 30000 });
      }
    } catch (error) {
      const said = await Promise.all([jane, rivera].map((p) => p.locator('#visit').innerText()));
      throw new Error(`${error.message}\npatient's room: ${said[0]}\nprovider's room: ${said[1]}`);
    }
    const codes = await Promise.all([jane, rivera].map((p) => p.locator('#visit-code').innerText()));
    assert.equal(codes[0], codes[1], 'the same safety code on both sides');
    for (const page of [jane, rivera]) {
      assert.equal(await page.locator('#visit-path').innerText(), 'Direct between your browsers');
      const before = await frames(page);
      await page.waitForTimeout(1500);
      assert.ok((await frames(page)) > before, 'video frames keep arriving');
    }
    await axe(jane, 'the visit, connected (patient)');
    await axe(rivera, 'the visit, connected (provider)');
    if (shots) await jane.screenshot({ path: `${shots}/portal-visit-desktop.png`, fullPage: true });
    // A forced disconnect: her page is reloaded (a crash, a lost tab). She signs in again, her room
    // says she was let in before, and she is back without a new admission; both pages connect
    // again, to her new certificate, showing the same (new) code.
    // Her room has its own address, so after signing in again she is back in it.
    assert.equal(new URL(jane.url()).hash, '#/visit');
    await jane.reload();
    await asPatient(jane);
    await jane.locator('#visit-status', { hasText: 'You were let in before: join again to reconnect.' }).waitFor();
    await jane.getByRole('button', { name: 'Join the visit again' }).click();
    await jane.locator('#visit-connection', { hasText: 'Connected' }).waitFor({ timeout: 30000 });
    const again = await jane.locator('#visit-code', { hasText: /^\d{4} \d{4} \d{4}$/ }).innerText({ timeout: 30000 });
    assert.notEqual(again, codes[0], 'a new certificate, a new code');
    await rivera.locator('#visit-code', { hasText: again }).waitFor({ timeout: 30000 });
    const resumed = await frames(jane);
    await jane.waitForTimeout(1500);
    assert.ok((await frames(jane)) > resumed, 'her video flows again');
    // Muted and with her camera off, she stays so on another microphone.
    await jane.getByRole('button', { name: 'Mute' }).click();
    await jane.getByRole('button', { name: 'Turn camera off' }).click();
    await jane.locator('#visit-mics').selectOption({ index: 0 });
    await jane.getByRole('button', { name: 'Unmute' }).waitFor();
    assert.deepEqual(await jane.evaluate(() => document.getElementById('visit-self').srcObject.getTracks().map((t) => t.enabled)), [false, false]);
    // Leaving ends it on her side; the provider's page says she left.
    await jane.getByRole('button', { name: 'Leave the visit' }).click();
    await jane.locator('#visit-status', { hasText: 'You left the visit.' }).waitFor().catch(async (error) => {
      throw new Error(`${error.message}\nher room said: ${await jane.locator('#visit-status').innerText()}`);
    });
    // Said at once (her page closed the connection), not when the connection times out.
    await rivera.locator('#visit-status', { hasText: 'The patient left or lost the connection' }).waitFor({ timeout: 3000 }).catch(async (error) => {
      throw new Error(`${error.message}\nhis room said: ${await rivera.locator('#visit').innerText()}`);
    });
    // Her access log says her provider let her in (once the audit job has taken the entry in,
    // within seconds under `practica serve`).
    await nav(jane, 'Access log');
    const admitted = jane.locator('#access-log li', { hasText: 'let you into your online visit' });
    for (const until = Date.now() + 60000; Date.now() < until && !(await admitted.count());) {
      await jane.locator('#show-access').click();
      await jane.getByText(/most recent entries/).waitFor();
      if (!(await admitted.count())) await jane.waitForTimeout(2000);
    }
    assert.ok(await admitted.count() > 0, 'the admission in her access log');
    // Signing out ends the call on the provider's side too (camera and microphone off).
    await rivera.getByRole('button', { name: 'Sign out' }).click();
    assert.equal(await rivera.locator('#visit').isHidden(), true);
    for (const { problems } of [patient, provider]) assert.deepEqual(problems, [], 'console errors');
    await patient.context.close();
    await provider.context.close();
  } finally {
    await browser.close();
  }
  console.log('visit (Tuesday): the waiting room, admitted, connected directly with the same safety code both ways, video flowing, forced disconnect and back, left: ok');
}

await ({ book, visit }[step] || visit)();
