// The patient's consent documents: each document's current text, where she stands with it, and
// signing (her full name typed, "I have read this and agree") or withdrawing; each signature's
// copy to print (HTML) or to check (JSON, for `practica audit check-proof`). The booking form uses
// the same signing when a service asks for documents first, then books the time she chose.
import { $, api, confirmButton, el, fail, newKey, session, when } from './common.js';

const STATUS_WORDS = {
  not_signed: 'Not signed yet.',
  signed: 'Signed',
  signed_earlier_version: 'You signed an earlier version; the practice has changed it since. Please read and sign it again.',
  withdrawn: 'You withdrew your consent',
};

function standingWords(mine) {
  const words = STATUS_WORDS[mine?.status || 'not_signed'];
  return mine?.at && (mine.status === 'signed' || mine.status === 'withdrawn') ? `${words} ${when(mine.at)}.` : words;
}

// Downloads a signature's copy: the printable page, or the JSON a verifier checks.
async function download(patientId, signatureId, format, link) {
  const path = `/v1/patients/${encodeURIComponent(patientId)}/consents/${encodeURIComponent(signatureId)}${format === 'html' ? '?format=html' : ''}`;
  const response = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) throw new Error('The copy could not be fetched; try again.');
  const blob = new Blob([await response.text()], { type: format === 'html' ? 'text/html' : 'application/json' });
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
}

export function copyLinks(signatureId, patientId = session.subject) {
  const box = el('div', { className: 'actions' });
  for (const [format, label, file] of [['html', 'Signed copy (to print)', 'signed-copy.html'], ['json', 'Copy for verification (JSON)', 'signed-copy.json']]) {
    const link = el('a', { className: 'button secondary', href: '#', download: `${signatureId}-${file}`, textContent: label });
    // Fetched when asked for, with the session's token (a link alone carries none).
    link.addEventListener('click', async (event) => {
      if (link.href.startsWith('blob:')) return;
      event.preventDefault();
      try {
        await download(patientId, signatureId, format, link);
        link.click();
      } catch (error) {
        fail('', error);
      }
    });
    box.append(link);
  }
  return box;
}

// The signing form of one document: its text, the typed name, the agreement, Sign.
function signingForm(doc, index, status, onSigned) {
  const id = `consent-${index}`;
  const text = el('div', { className: 'document-text', id: `${id}-text`, tabIndex: 0 });
  text.setAttribute('role', 'document');
  text.setAttribute('aria-label', doc.title);
  for (const para of doc.text.split('\n\n')) text.append(el('p', { textContent: para }));
  const name = el('input', { type: 'text', id: `${id}-name`, autocomplete: 'name', maxLength: 200 });
  const agree = el('input', { type: 'checkbox', id: `${id}-agree` });
  const form = el('form', { noValidate: true },
    text,
    el('label', { htmlFor: name.id, textContent: 'Your full name, as your signature' }), name,
    el('label', { className: 'choice' }, agree, ' I have read this document and agree to it'),
    el('button', { type: 'submit', textContent: `Sign: ${doc.title}` }));
  let key = newKey();
  form.addEventListener('input', () => { key = newKey(); name.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      name.setAttribute('aria-invalid', 'true');
      status.textContent = 'Type your full name to sign.';
      name.focus();
      return;
    }
    if (!agree.checked) {
      status.textContent = 'Tick "I have read this document and agree to it" to sign.';
      agree.focus();
      return;
    }
    try {
      const signed = await api(`/v1/consents/${encodeURIComponent(doc.documentId)}/sign`, {
        method: 'POST', key, json: { versionHash: doc.versionHash, typedName: name.value.trim(), agree: true },
      });
      await onSigned(signed);
    } catch (error) {
      if (error.signedOut) return;
      status.textContent = `Not signed: ${error.message}`;
      if (error.code === 'invalid_typed_name') { name.setAttribute('aria-invalid', 'true'); name.focus(); }
    }
  });
  return form;
}

function withdrawForm(doc, index, status, onDone) {
  const name = el('input', { type: 'text', id: `withdraw-${index}-name`, autocomplete: 'name', maxLength: 200 });
  const box = el('div', { hidden: true },
    el('label', { htmlFor: name.id, textContent: 'Your full name, to withdraw your consent' }), name);
  const key = newKey();
  const ask = confirmButton(`Withdraw consent`, 'Yes, withdraw it', 'No, keep it', async () => {
    try {
      await api(`/v1/consents/${encodeURIComponent(doc.documentId)}/withdraw`, {
        method: 'POST', key, json: { typedName: name.value.trim(), agree: true },
      });
      await onDone();
      status.textContent = `You withdrew your consent to "${doc.title}".`;
      status.focus();
    } catch (error) {
      if (!error.signedOut) status.textContent = `Not withdrawn: ${error.message}`;
    }
  }, `Withdraw consent: ${doc.title}`);
  // The name comes first: it opens with the question, takes the focus, and Enter confirms.
  ask.querySelector('button').addEventListener('click', () => { box.hidden = false; name.focus(); });
  name.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); ask.querySelectorAll('button')[1].click(); }
  });
  return el('div', {}, box, ask);
}

// The page: each document with where she stands, its signing form, copies and withdrawal.
export async function loadConsentsPage() {
  const status = $('consents-status');
  const { documents } = await api('/v1/consents');
  const rows = documents.map((doc, index) => {
    const row = el('li', {}, el('h2', { textContent: doc.title }), el('p', { textContent: standingWords(doc.mine) }));
    const signedNow = doc.mine?.status === 'signed';
    if (doc.mine?.signatureId) row.append(copyLinks(doc.mine.signatureId));
    if (signedNow) {
      row.append(withdrawForm(doc, index, status, loadConsentsPage));
    } else {
      const open = el('button', { type: 'button', className: 'secondary', textContent: `Read and sign: ${doc.title}` });
      open.addEventListener('click', () => {
        const form = signingForm(doc, index, status, async (signed) => {
          await loadConsentsPage();
          status.textContent = `Signed "${signed.title}". A copy is under it.`;
          status.focus();
        });
        open.replaceWith(form);
        form.querySelector('.document-text').focus();
      });
      row.append(open);
    }
    return row;
  });
  $('consent-list').replaceChildren(...rows);
  if (!documents.length) $('consent-list').replaceChildren(el('li', { textContent: 'Your practice has no documents for you to sign.' }));
}

// Booking a service that asks for documents first: each is shown to sign here; once all are
// signed, `then` books the time she chose.
export function signBeforeBooking(container, documents, then) {
  const status = el('p', { role: 'status', id: 'consents-needed-status', tabIndex: -1 });
  const left = new Set(documents.map((d) => d.documentId));
  const heading = el('h3', { id: 'consents-needed-title', tabIndex: -1, textContent: 'Before this visit, your practice asks you to sign' });
  const forms = el('div');
  container.replaceChildren(heading, el('p', { className: 'muted', textContent: 'Read each document, then sign it with your full name. Your chosen time is booked right after.' }), forms, status);
  container.hidden = false;
  api('/v1/consents').then(({ documents: all }) => {
    const wanted = all.filter((d) => left.has(d.documentId));
    forms.replaceChildren(...wanted.map((doc, index) => {
      const box = el('section', { className: 'series' }, el('h4', { textContent: doc.title }));
      box.append(signingForm(doc, `booking-${index}`, status, async (signed) => {
        left.delete(doc.documentId);
        box.replaceChildren(el('h4', { textContent: doc.title }), el('p', { textContent: `Signed ${when(signed.at)}.` }));
        if (left.size) {
          status.textContent = `Signed "${doc.title}". ${left.size} more to sign.`;
          return;
        }
        status.textContent = 'All signed. Booking your time…';
        await then();
      }));
      return box;
    }));
    heading.focus();
  }).catch((error) => fail('', error));
}
