// Sign-in through the identity provider's own sign-in page: the OAuth 2.0 authorization code flow
// with PKCE (RFC 7636, S256). Deployed, the endpoints are the Cognito pools' managed login;
// under `practica serve`, its labelled local demo of the same flow. Only the verifier and state
// wait in sessionStorage during the round trip (removed on return); the access token stays in
// memory (common.js), never in storage or a URL, and so do the refresh token that renews it and the
// ID token (sent only to confirm the patient's address: Cognito's access tokens carry none).
const PENDING = 'practica.sign-in';

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));
export const redirectUri = () => `${location.origin}/`;

// Leaves for the sign-in page of `pool` ('patient' or 'staff'); back, the portal opens the page
// named `returnTo` (a page's name, nothing about the person), if the person may see it.
export async function startSignIn(config, pool, returnTo = null) {
  const verifier = random(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, pool, returnTo }));
  const endpoints = config.signIn[pool];
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: endpoints.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid email',
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
    state,
  });
  location.assign(`${endpoints.authorize}?${query}`);
}

// Back from the sign-in page with `?code=&state=` (or `?error=`): the code exchanged for an access
// token with the verifier; the address bar cleaned first, whatever happens.
export async function finishSignIn(config, params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', '/');
  if (params.get('error')) throw new Error('Sign-in was cancelled or refused; please try again.');
  if (!pending || params.get('state') !== pending.state) throw new Error('This sign-in was not started here or has expired; please sign in again.');
  const tokens = await tokenRequest(config, pending.pool, {
    grant_type: 'authorization_code',
    code: params.get('code') || '',
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  return { ...tokens, pool: pending.pool, returnTo: pending.returnTo || null };
}

// A new access token (and, with rotation, a new refresh token) before the current one expires.
export function refreshTokens(config, pool, refreshToken) {
  return tokenRequest(config, pool, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

async function tokenRequest(config, pool, grant) {
  const endpoints = config.signIn[pool];
  const response = await fetch(endpoints.token, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: endpoints.clientId, ...grant }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) throw new Error('Sign-in could not be completed; please sign in again.');
  return { token: body.access_token, refresh: body.refresh_token || null, idToken: body.id_token || null, expiresIn: Number(body.expires_in) || 0 };
}

// Where signing out ends the identity provider's session too (none locally).
export function signOutUrl(config, pool) {
  const endpoints = config?.signIn?.[pool];
  if (!endpoints?.logout) return null;
  return `${endpoints.logout}?${new URLSearchParams({ client_id: endpoints.clientId, logout_uri: redirectUri() })}`;
}
