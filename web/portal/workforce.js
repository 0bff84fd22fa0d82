// The console's Staff page (administrators, loaded with its page): the practice's logins with
// their roles and second factor; inviting one into a role; and disabling one when someone
// leaves: no more sign-in, and the tokens the login still holds are refused at once.
import { $, api, confirmButton, el, fail, list, newKey, session, show, when } from './common.js';

const ROLE_WORDS = { staff: 'front desk', provider: 'provider', admin: 'administrator' };
let addKey = newKey();

export async function loadStaff() {
  const { staff } = await api('/v1/staff');
  list('staff-list', staff.map(row), 'No logins.');
  const form = $('staff-add');
  if (!form.dataset.wired) {
    form.dataset.wired = 'yes';
    form.addEventListener('input', () => { addKey = newKey(); });
    form.addEventListener('submit', add);
  }
}

function row(a) {
  const who = a.name || a.email || a.subject;
  const roles = a.roles.map((r) => ROLE_WORDS[r] || r).join(', ');
  const state = a.enabled ? `added ${when(a.createdAt)}` : `disabled ${when(a.disabledAt || a.createdAt)}`;
  const item = el('li', { className: a.enabled ? '' : 'muted' },
    el('strong', { textContent: `${who} (${roles})${a.enabled ? '' : ': disabled'}${a.subject === session.subject ? ' (you)' : ''}` }),
    el('div', { className: 'muted', textContent: `${a.email || a.subject} · ${a.mfa ? 'two-factor set up' : 'no second factor yet'} · ${state}` }));
  // An administrator's own login is disabled by another administrator; a disabling the identity
  // provider has not finished is offered again.
  if ((a.enabled || a.signInEnabled) && a.subject !== session.subject) {
    item.append(confirmButton('Disable', `Yes, disable ${who}'s login`, 'No', async () => {
      try {
        await api(`/v1/staff/${encodeURIComponent(a.subject)}/disable`, { method: 'POST', key: newKey(), json: {} });
        $('staff-status').textContent = `${who} can no longer sign in; their open sessions have ended.`;
        await loadStaff();
        $('staff-status').focus();
      } catch (error) {
        fail('Not disabled: ', error);
      }
    }, `Disable ${who}'s login`, true));
  }
  return item;
}

async function add(event) {
  event.preventDefault();
  const json = { email: $('staff-email').value.trim(), name: $('staff-name').value.trim(), role: $('staff-role').value };
  try {
    const added = await api('/v1/staff', { method: 'POST', key: addKey, json });
    addKey = newKey();
    event.target.reset();
    show('error', false);
    $('staff-status').textContent = `${added.name} is added. Deployed, the practice's sign-in page emails them a temporary password.`;
    await loadStaff();
    $('staff-status').focus();
  } catch (error) {
    fail('Not added: ', error);
  }
}
