// Benchmark (not a test): the time from the provider's "Let the patient in" to the first video frame
// decoded on each side of an online visit, on loopback, over 20 visits; prints p50, p90 and the
// slowest. scripts/bench-visit runs it against `practica serve` with the server's clock at fixed
// instants (so it runs on any date), in three steps on one data dir:
//   node visit.bench.mjs book URL              (Monday 23 Nov 2026, 08:00 New York)
//   node visit.bench.mjs run URL NOW TIMES     (10:05, 12:35, 15:05, Tuesday to Thursday)
//   node visit.bench.mjs report TIMES
// Book: the practice's rooms open an hour before and close two hours after; the front desk books
// Jane twenty online follow-ups with Dr. Rivera, hourly from Tuesday 09:00. Run: for each visit
// whose room is open at NOW and not held yet, in fresh pages, Jane opens its room and joins the waiting room, the provider
// opens it and lets her in. Timed from that click to the first frame each page's remote video
// decodes (polled every animation frame), in this process's monotonic clock; sign-in and the
// camera check are not counted. TIMES is a JSON file the runs add to.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { client, launchWithDevices } from './lib.mjs';

const [step, ...args] = process.argv.slice(2);
const DAYS = ['2026-11-24', '2026-11-25', '2026-11-26'];
const VISITS = 20;

async function book(base) {
  const api = client(base);
  const signIn = async (user) => (await api('/local/demo-sign-in', { method: 'POST', body: { user } })).token;
  const admin = await signIn('admin-1');
  const practice = await api('/v1/practice', { token: admin });
  await api('/v1/practice', {
    token: admin, method: 'PUT', key: 'bench-practice',
    body: { ...practice, limits: { ...practice.limits, activeAppointmentsPerPatient: 30 }, visitRoom: { opensMinutesBefore: 60, closesMinutesAfter: 120 } },
  });
  const staff = await signIn('staff-1');
  const { providers } = await api('/v1/providers', { token: staff });
  const provider = providers.find((p) => p.name === 'Dr. Ana Rivera');
  const { services } = await api('/v1/services', { token: staff });
  const followUp = services.find((s) => s.name === 'Follow-up session');
  let booked = 0;
  for (const day of DAYS) {
    // The earliest free start each time (her 10-minute buffer after each visit keeps them an hour
    // apart), until the day is full or there are twenty.
    for (let i = 0; booked < VISITS; i += 1) {
      const query = new URLSearchParams({ serviceId: followUp.id, from: `${day}T09:00:00-05:00`, to: `${day}T17:00:00-05:00` });
      const { slots } = await api(`/v1/providers/${provider.id}/availability?${query}`, { token: staff });
      if (!slots.length) break;
      booked += 1;
      await api('/v1/appointments', {
        token: staff, method: 'POST', key: `bench-${day}-${i}`,
        body: { providerId: provider.id, serviceId: followUp.id, patientId: 'patient-jane', start: slots[0], online: true },
      });
    }
  }
  console.log(`bench: ${booked} online visits booked`);
}

async function signedIn(browser, base, now, pool, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York', locale: 'en-US' });
  await context.clock.setFixedTime(new Date(now));
  const page = await context.newPage();
  await page.goto(base);
  await page.getByRole('button', { name: pool }).click();
  await page.getByRole('button', { name: who }).click();
  await page.locator('#nav:not([hidden])').waitFor();
  return { context, page };
}

// Opens the room of visit `id` as the portal's "Join the online visit" and "Open the visit room"
// buttons do.
const openRoom = (page, id) => page.evaluate((visit) => import('/portal/visit.js').then(({ openVisit }) => openVisit(visit)), id);

async function run(base, now, file) {
  const api = client(base);
  const jane = (await api('/local/demo-sign-in', { method: 'POST', body: { user: 'patient-jane' } })).token;
  const { providers } = await api('/v1/providers', { token: jane });
  const names = Object.fromEntries(providers.map((p) => [p.id, p.name]));
  const { appointments } = await api('/v1/appointments', { token: jane });
  // The visits whose rooms are open now (at the server's clock) and not held yet.
  const visits = [];
  for (const a of appointments.filter((x) => x.online && x.status === 'booked')) {
    const room = await api(`/v1/appointments/${a.id}/visit`, { token: jane });
    if (room.open && room.patient === 'empty') visits.push(a);
  }
  const times = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { patient: [], provider: [] };
  const browser = await launchWithDevices(chromium);
  try {
    for (const visit of visits) {
      const patient = await signedIn(browser, base, now, 'Sign in as a patient', 'Jane Demo-Patient');
      const provider = await signedIn(browser, base, now, 'Staff sign-in', names[visit.providerId]);
      await openRoom(patient.page, visit.id);
      await patient.page.getByRole('button', { name: 'Join the waiting room' }).click();
      await patient.page.locator('#visit-status', { hasText: 'In the waiting room' }).waitFor();
      await openRoom(provider.page, visit.id);
      const letIn = provider.page.getByRole('button', { name: 'Let the patient in' });
      await letIn.waitFor();
      // When her page's read of the room first carries her signaling address (she was let in).
      const addressed = patient.page.waitForResponse(async (r) => r.request().method() === 'GET' && r.url().endsWith('/visit')
        && Boolean((await r.json().catch(() => ({}))).signaling), { timeout: 30000 });
      const started = performance.now();
      await letIn.click();
      const learnt = addressed.then(() => performance.now() - started);
      const firstFrame = async (page) => {
        await page.waitForFunction(() => document.getElementById('visit-other').getVideoPlaybackQuality().totalVideoFrames > 0, null, { polling: 'raf', timeout: 30000 });
        return performance.now() - started;
      };
      const [atPatient, atProvider, told] = await Promise.all([firstFrame(patient.page), firstFrame(provider.page), learnt]);
      times.patient.push(atPatient);
      times.provider.push(atProvider);
      times.told = [...(times.told || []), told];
      times.connecting = [...(times.connecting || []), atPatient - told];
      await patient.page.getByRole('button', { name: 'Leave the visit' }).click();
      await Promise.all([patient.context.close(), provider.context.close()]);
    }
  } finally {
    await browser.close();
  }
  writeFileSync(file, JSON.stringify(times));
  console.log(`bench: ${now}: ${visits.length} visits admitted and connected`);
}

function report(file) {
  const times = JSON.parse(readFileSync(file, 'utf8'));
  const nearestRank = (sorted, p) => sorted[Math.max(Math.ceil((p / 100) * sorted.length), 1) - 1];
  const ms = (v) => `${Math.round(v)} ms`;
  for (const [what, list] of [
    ["admit to first decoded frame at the patient's page", times.patient],
    ["admit to first decoded frame at the provider's page", times.provider],
    ["of which, admit to her page's next read of the room (her address)", times.told],
    ['and her address to her first decoded frame (signaling, ICE, DTLS, first frame)', times.connecting],
  ]) {
    const sorted = [...list].sort((a, b) => a - b);
    console.log(`${what}: p50 ${ms(nearestRank(sorted, 50))}, p90 ${ms(nearestRank(sorted, 90))}, slowest ${ms(sorted[sorted.length - 1])} (${sorted.length} visits)`);
  }
}

if (step === 'book') await book(args[0]);
else if (step === 'run') await run(args[0], args[1], args[2]);
else if (step === 'report') report(args[0]);
else throw new Error('usage: node visit.bench.mjs book URL | run URL NOW TIMES | report TIMES');
