// What the browser journeys share: the API as a script calls it (outside the page).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// A caller of the API at `base`: JSON in, JSON out, any non-2xx answer fails the journey.
export function client(base) {
  return async function api(path, { token, method = 'GET', body, key } = {}) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body) headers['Content-Type'] = 'application/json';
    if (key) headers['Idempotency-Key'] = key;
    const response = await fetch(`${base}${path}`, { method, headers, body: body && JSON.stringify(body) });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

// axe-core's WCAG 2.1 AA and best-practice rules on the page as it stands: no violations. Evaluated
// over the DevTools protocol, which the page's CSP does not govern.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export async function axe(page, what) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.help}`), [], `axe-core on ${what}`);
}

// Debian's chromium, headless, as every journey launches it (`extra`: more switches).
export function launch(chromium, extra = []) {
  return chromium.launch({
    executablePath: process.env.PRACTICA_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra],
  });
}

// As `launch`, with a fake camera and microphone that need no permission prompt, and loopback ICE
// candidates (the harness runs in a network namespace with loopback only): the online visits.
export const launchWithDevices = (chromium) => launch(chromium, [
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
]);

// Video frames the page's remote video (the other side of an online visit) has decoded so far.
export const remoteFrames = (page) => page.evaluate(() => document.getElementById('visit-other').getVideoPlaybackQuality().totalVideoFrames);
