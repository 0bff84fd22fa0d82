// The console's disputes (loaded with its page): each dispute of a payment, the evidence drafted
// for it from the records and the signed audit log, read here before it is submitted (once).
import { $, api, confirmButton, el, list, money, newKey, when } from './common.js';

const FIELDS = [
  ['product_description', 'What was sold'],
  ['service_date', 'Service date'],
  ['cancellation_policy_disclosure', 'Cancellation policy and its acceptance'],
  ['cancellation_rebuttal', 'Why the charge stands'],
  ['access_activity_log', 'Activity log'],
];

const STATUS = { none: 'no evidence drafted yet', draft: 'evidence drafted, not submitted', submitted: 'evidence submitted' };

export async function loadDisputes() {
  const { disputes } = await api('/v1/disputes');
  list('disputes', disputes.map(row), 'No disputes.');
}

function row(d) {
  const reason = (d.reason || 'other').replaceAll('_', ' ');
  const outcome = d.outcome ? ` · ${d.outcome}` : '';
  const item = el('li', {},
    el('strong', { textContent: `${d.patientName || d.patientId}: ${money(d.amount.amount, d.amount.currency)} disputed (${reason})` }),
    el('div', { className: 'muted', textContent: `Opened ${when(d.openedAt)} · payment ${d.paymentId} · ${STATUS[d.evidenceStatus]}${outcome}` }));
  // Which dispute a button acts on, in words (among several listed).
  const which = `the ${money(d.amount.amount, d.amount.currency)} dispute opened ${when(d.openedAt)}`;
  if (d.evidence) {
    const fields = el('dl', { className: 'evidence' });
    for (const [name, label] of FIELDS) {
      if (d.evidence[name]) fields.append(el('dt', { textContent: label }), el('dd', { textContent: d.evidence[name] }));
    }
    // A draft is open to be read before it is submitted; submitted evidence folds away.
    const summary = d.evidenceStatus === 'submitted' ? 'The evidence submitted' : 'The evidence drafted (read it before submitting)';
    item.append(el('details', { open: d.evidenceStatus !== 'submitted' }, el('summary', { textContent: summary }), fields));
  }
  if (d.evidenceStatus !== 'submitted' && !d.outcome) {
    const actions = el('div', { className: 'actions' });
    const draft = el('button', { type: 'button', className: d.evidence ? 'secondary' : '', textContent: d.evidence ? 'Draft the evidence again' : 'Draft the evidence' });
    draft.setAttribute('aria-label', `${draft.textContent}: ${which}`);
    draft.addEventListener('click', () => act(d, 'evidence', 'Evidence drafted and saved with the processor as a draft: read it, then submit it.'));
    actions.append(draft);
    if (d.evidenceStatus === 'draft') {
      actions.append(confirmButton('Submit this evidence', 'Yes, submit it (final)', 'Not yet',
        () => act(d, 'submit', 'Evidence submitted to the card network.'), `Submit this evidence: ${which}`, true));
    }
    item.append(actions);
  }
  return item;
}

async function act(d, step, done) {
  const status = $('disputes-status');
  status.textContent = step === 'evidence' ? 'Drafting the evidence…' : 'Submitting…';
  try {
    await api(`/v1/disputes/${encodeURIComponent(d.disputeId)}/${step}`, { method: 'POST', key: newKey(), json: {} });
    await loadDisputes();
    status.textContent = done;
  } catch (error) {
    if (!error.signedOut) status.textContent = `Not done: ${error.message}`;
  }
  status.focus();
}
