// The portal's shell: sign-in, the pages each role may open, sign-out and automatic logoff.
// Patients get their own pages (patient.js); staff, providers and administrators the console
// (staff.js). The access token lives in memory only (common.js): a reload signs out.
import { $, api, fail, loadCatalog, session, show } from './common.js';
import { loadAppointmentsPage, loadBalance, loadMessages, loadPatient, resetPatient, wirePatient } from './patient.js';
import { loadFeedback, loadReports, loadStaff, resetStaff, wireStaff } from './staff.js';
import { showAccessLog } from './proof.js';

const INACTIVITY_MS = 15 * 60 * 1000;
let idleTimer = null;

function resetIdle() {
  clearTimeout(idleTimer);
  if (session.token) idleTimer = setTimeout(() => signOut('You were signed out after 15 minutes without activity.'), INACTIVITY_MS);
}

const navButtons = () => [...document.querySelectorAll('#nav button[data-page]')];

// What opening a page loads, so that it shows the record as it is now.
const ON_OPEN = {
  appointments: loadAppointmentsPage,
  billing: loadBalance,
  messages: loadMessages,
  triage: loadFeedback,
  'reports-page': loadReports,
};

async function open(page) {
  for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== page;
  for (const button of navButtons()) {
    if (button.dataset.page === page) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  show('error', false);
  await ON_OPEN[page]?.();
}

function signOut(message) {
  session.token = null;
  session.roles = [];
  clearTimeout(idleTimer);
  show('error', false);
  resetPatient();
  resetStaff();
  for (const section of document.querySelectorAll('.page')) section.hidden = true;
  show('nav', false);
  show('sign-out', false);
  show('sign-in', true);
  $('sign-in-status').textContent = message || 'You are signed out.';
}
session.onEnded = signOut;

async function signInAs(user) {
  show('error', false);
  $('sign-in-status').textContent = 'Signing in…';
  try {
    const answer = await api('/local/demo-sign-in', { method: 'POST', json: { user } });
    session.token = answer.token;
    const me = await api('/v1/me');
    session.roles = me.roles;
    for (const li of document.querySelectorAll('#nav li')) {
      li.hidden = !li.dataset.for.split(' ').some((role) => session.roles.includes(role));
    }
    show('sign-in', false);
    show('nav', true);
    show('sign-out', true);
    $('sign-in-status').textContent = '';
    resetIdle();
    const practice = await loadCatalog();
    const patient = session.roles.includes('patient');
    document.title = `${patient ? 'Patient portal' : 'Staff console'} · ${practice.name}`;
    if (patient) await loadPatient();
    else await loadStaff();
    await open(patient ? 'appointments' : 'calendar-page');
    $('main').focus();
  } catch (error) {
    fail(session.token ? 'Your information could not be loaded: ' : 'Sign-in failed: ', error);
  }
}

async function start() {
  $('sign-out').addEventListener('click', () => signOut());
  for (const button of navButtons()) {
    button.addEventListener('click', () => open(button.dataset.page).catch((error) => fail('', error)));
  }
  $('show-access').addEventListener('click', () => showAccessLog().catch((error) => fail('', error)));
  wirePatient();
  wireStaff();
  for (const event of ['click', 'keydown', 'pointermove']) document.addEventListener(event, resetIdle, { passive: true });
  try {
    const { users } = await api('/local/demo-sign-in');
    const buttons = users.map((u) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Sign in as ${u.name}`;
      button.addEventListener('click', () => signInAs(u.user));
      const li = document.createElement('li');
      li.append(button);
      return li;
    });
    $('demo-users').replaceChildren(...buttons);
    show('demo', true);
  } catch (error) {
    fail('Sign-in is not available: ', error);
  }
}

start();
