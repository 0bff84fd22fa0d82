// The portal's shell: sign-in, the pages each role may open, sign-out and automatic logoff.
// Patients get their own pages (patient.js); staff, providers and administrators the console
// (staff.js). The access token lives in memory only (common.js): a reload signs out. Each page has
// its own address (`#/billing`), so Back and Forward move between pages and a reload or a saved
// address returns to the page after signing in again. Each role's pages load when someone of that
// role signs in: a patient's browser never fetches the console's script, nor staff's the patient's.
import { $, api, fail, loadCatalog, session, show } from './common.js';
import { finishSignIn, refreshTokens, signOutUrl, startSignIn } from './signin.js';

const loaded = { patient: null, staff: null };

// A role's pages, loaded (and their controls wired) on first use.
async function pagesOf(role) {
  if (!loaded[role]) {
    const pages = role === 'patient' ? await import('./patient.js') : await import('./staff.js');
    (role === 'patient' ? pages.wirePatient : pages.wireStaff)();
    loaded[role] = pages;
  }
  return loaded[role];
}
const patientPages = () => pagesOf('patient');
const staffPages = () => pagesOf('staff');

// Automatic logoff after this many minutes without a click, key or pointer movement
// (config.json's idleMinutes; 15 unless the practice set another).
const idleMinutes = () => session.config?.idleMinutes || 15;
let idleTimer = null;

function resetIdle() {
  clearTimeout(idleTimer);
  if (session.token) {
    const minutes = idleMinutes();
    idleTimer = setTimeout(() => {
      // A live online visit is activity.
      if (!$('visit').hidden && $('visit-connection').textContent === 'Connected') return resetIdle();
      signOut(`You were signed out after ${minutes} minutes without activity.`, { keepAddress: true });
    }, minutes * 60e3);
  }
}

// The access token is renewed a minute before it expires, with the refresh token (both in memory);
// if that fails, the session ends.
let refreshTimer = null;

function scheduleRefresh(expiresIn) {
  clearTimeout(refreshTimer);
  if (!session.refresh || !expiresIn) return;
  refreshTimer = setTimeout(async () => {
    try {
      const renewed = await refreshTokens(session.config, session.pool, session.refresh);
      session.token = renewed.token;
      session.refresh = renewed.refresh || session.refresh;
      session.idToken = renewed.idToken || session.idToken;
      scheduleRefresh(renewed.expiresIn);
    } catch {
      if (session.token) signOut('Your session ended. Please sign in again.', { keepAddress: true });
    }
  }, Math.max(expiresIn - 60, 30) * 1000);
}

const navButtons = () => [...document.querySelectorAll('#nav button[data-page]')];

// Each page's address: `#/<route>`.
const ROUTES = {
  appointments: 'appointments', billing: 'billing', messages: 'messages', access: 'access-log', 'consents-page': 'consents', 'forms-page': 'forms',
  'calendar-page': 'calendar', patients: 'patients', triage: 'feedback', 'disputes-page': 'disputes', 'reports-page': 'reports', 'audit-page': 'audit', security: 'security', 'staff-page': 'staff',
};
const PAGES = Object.fromEntries(Object.entries(ROUTES).map(([page, route]) => [route, page]));
// A message's link to her online visit: her appointments, then its room.
PAGES.visit = 'visit';

// The page the address names, if any.
const pageOfAddress = () => PAGES[location.hash.replace(/^#\//, '')] || null;

// Whether the signed-in person's roles may open `page` (the navigation's rule).
function mayOpen(page) {
  const button = navButtons().find((b) => b.dataset.page === page);
  return Boolean(button) && button.closest('li').dataset.for.split(' ').some((role) => session.roles.includes(role));
}

const pageName = (page) => (page === 'visit' ? 'your online visit' : null) || navButtons().find((b) => b.dataset.page === page)?.textContent || 'the page';

// Opens `page` and gives it its address: a new history entry for a click, the same one otherwise.
async function go(page, { replace = false } = {}) {
  const address = `#/${ROUTES[page]}`;
  if (location.hash !== address) history[replace ? 'replaceState' : 'pushState'](null, '', address);
  await open(page);
}

// What opening a page loads, so that it shows the record as it is now.
const ON_OPEN = {
  appointments: async () => (await patientPages()).loadAppointmentsPage(),
  billing: async () => (await patientPages()).loadBalance(),
  messages: async () => (await patientPages()).loadMessages(),
  'consents-page': async () => (await import('./consents.js')).loadConsentsPage(),
  'forms-page': async () => (await import('./forms.js')).loadFormsPage(),
  triage: async () => (await staffPages()).loadFeedback(),
  'disputes-page': async () => (await import('./disputes.js')).loadDisputes(),
  'staff-page': async () => (await import('./workforce.js')).loadStaff(),
  'reports-page': async () => (await staffPages()).loadReports(),
};

async function open(page) {
  for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== page;
  for (const button of navButtons()) {
    if (button.dataset.page === page) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  show('error', false);
  document.dispatchEvent(new Event('practica:page'));
  await ON_OPEN[page]?.();
}

// Signing out leaves the portal's address; a session that ended (expired, idle) keeps it, so that
// signing in again returns to the same page.
function signOut(message, { everywhere = false, keepAddress = false } = {}) {
  const leave = everywhere ? signOutUrl(session.config, session.pool) : null;
  session.token = null;
  session.refresh = null;
  session.idToken = null;
  session.roles = [];
  clearTimeout(idleTimer);
  clearTimeout(refreshTimer);
  show('error', false);
  loaded.patient?.resetPatient();
  loaded.staff?.resetStaff();
  // An online visit ends with the session.
  document.dispatchEvent(new Event('practica:signed-out'));
  show('visit', false);
  for (const section of document.querySelectorAll('.page')) section.hidden = true;
  show('nav', false);
  show('sign-out', false);
  show('sign-in', true);
  if (!keepAddress) history.replaceState(null, '', '/');
  $('sign-in-status').textContent = message || 'You are signed out.';
  // Deployed: the identity provider's session ends too, so the next sign-in asks again.
  if (leave) location.assign(leave);
}
session.onEnded = (message) => signOut(message, { keepAddress: true });

// Signed in with tokens from `pool`: the pages of the caller's roles.
async function enter({ token, refresh, idToken, expiresIn, returnTo }, pool) {
  session.token = token;
  session.refresh = refresh;
  session.idToken = idToken;
  session.pool = pool;
  scheduleRefresh(expiresIn);
  try {
    const me = await api('/v1/me');
    session.roles = me.roles;
    session.subject = me.sub;
    for (const li of document.querySelectorAll('#nav li')) {
      li.hidden = !li.dataset.for.split(' ').some((role) => session.roles.includes(role));
    }
    resetIdle();
    const practice = await loadCatalog();
    const patient = session.roles.includes('patient');
    document.title = `${patient ? 'Patient portal' : 'Staff console'} · ${practice.name}`;
    if (patient) {
      const pages = await patientPages();
      pages.loadPatient();
      // The address on her record confirmed by her sign-in (once), so that email reaches her.
      await pages.confirmAddress({ onlyIfUnverified: true });
    }
    else await (await staffPages()).loadStaff();
    show('sign-in', false);
    const first = returnTo && mayOpen(returnTo) ? returnTo : (patient ? 'appointments' : 'calendar-page');
    await go(first, { replace: true });
    if (patient && returnTo === 'visit') (await patientPages()).joinNext();
    // The navigation appears once the first page is open, so that no click is overtaken by it.
    show('nav', true);
    show('sign-out', true);
    $('sign-in-status').textContent = '';
    $('main').focus();
  } catch (error) {
    fail('Your information could not be loaded: ', error);
  }
}

// What the processor adds to the return address after a payment method that left the page: the
// intent's client secret among it. Taken out of the address bar at once, before anything else
// runs, so that neither history, a bookmark nor a shared link keeps it.
const PAYMENT_RETURN = ['payment_intent', 'payment_intent_client_secret', 'redirect_status', 'setup_intent', 'setup_intent_client_secret'];

function cleanPaymentReturn() {
  const params = new URLSearchParams(location.search);
  if (!PAYMENT_RETURN.some((name) => params.has(name))) return;
  history.replaceState(null, '', '/');
  $('sign-in-status').textContent = 'Back from your payment. Sign in to see your balance: it shows the payment once the processor has confirmed it.';
}

async function start() {
  cleanPaymentReturn();
  $('sign-out').addEventListener('click', () => signOut(null, { everywhere: true }));
  for (const button of navButtons()) {
    button.addEventListener('click', () => go(button.dataset.page).catch((error) => fail('', error)));
  }
  // Back and Forward between pages; signed out, an address waits for the next sign-in.
  window.addEventListener('popstate', () => {
    const page = pageOfAddress();
    if (!session.token) return;
    const target = page && mayOpen(page) ? page : (session.roles.includes('patient') ? 'appointments' : 'calendar-page');
    // An address this person has no page for shows the page they land on instead, and says so.
    go(target, { replace: true }).then(() => $('main').focus()).catch((error) => fail('', error));
  });
  for (const event of ['click', 'keydown', 'pointermove']) document.addEventListener(event, resetIdle, { passive: true });
  try {
    session.config = await api('/portal/config.json');
  } catch (error) {
    fail('Sign-in is not available: ', error);
    return;
  }
  show('local-note', Boolean(session.config.local));
  $('idle-minutes').textContent = String(idleMinutes());
  // Enabled only now, so that a click never goes unanswered.
  for (const [id, pool] of [['sign-in-patient', 'patient'], ['sign-in-staff', 'staff']]) {
    $(id).addEventListener('click', () => startSignIn(session.config, pool, pageOfAddress()));
    $(id).disabled = false;
  }
  const params = new URLSearchParams(location.search);
  const asked = pageOfAddress();
  if (asked && !params.has('code') && !params.has('error')) {
    // A reload, or a saved address: the session lived only in the closed page's memory.
    $('sign-in-status').textContent = `Please sign in again to return to ${pageName(asked)}: for your privacy, your session is kept only while this page is open, so a reload or a saved link asks for it again.`;
  }
  if (params.has('code') || params.has('error')) {
    $('sign-in-status').textContent = 'Signing in…';
    try {
      const { pool, ...tokens } = await finishSignIn(session.config, params);
      await enter(tokens, pool);
    } catch (error) {
      $('sign-in-status').textContent = error.message;
    }
  }
}

start();
