// What the browser journeys share: the API as a script calls it (outside the page).
import assert from 'node:assert/strict';

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
