// Forms: the patient fills in her practice's questionnaires (the ones due before a visit first),
// with a draft she can save and come back to, then submits; a later submission amends. Staff and
// her providers see her submissions with their scores, the trend of each scored form, and the
// answers. Answers are her health information: only what she typed is shown back, to her and to
// her care team.
import { $, api, el, fail, newKey, session, when } from './common.js';

const describe = (d) => d.title;

// The input of one question, and how to read its answer back (undefined: not answered).
function field(q, index, value) {
  const id = `form-${index}-${q.id}`;
  const label = el('label', { htmlFor: id, textContent: `${q.text}${q.required ? ' (required)' : ''}` });
  const wrap = (...nodes) => el('div', { className: 'question' }, ...nodes);
  switch (q.kind) {
    case 'short_text':
    case 'long_text': {
      const input = q.kind === 'short_text'
        ? el('input', { type: 'text', id, maxLength: 500, value: value ?? '' })
        : el('textarea', { id, maxLength: 5000, rows: 3, value: value ?? '' });
      return { node: wrap(label, input), read: () => (input.value.trim() ? input.value.trim() : undefined), focus: input };
    }
    case 'date': {
      const input = el('input', { type: 'date', id, value: value ?? '' });
      return { node: wrap(label, input), read: () => input.value || undefined, focus: input };
    }
    case 'number': {
      const input = el('input', { type: 'number', id, min: q.min, max: q.max, step: 1, value: value ?? '' });
      return {
        node: wrap(label, input),
        read: () => (input.value === '' ? undefined : Number(input.value)),
        invalid: () => (input.validity.badInput || (input.value !== '' && !Number.isInteger(Number(input.value))) ? `Enter a whole number from ${q.min} to ${q.max}.` : null),
        focus: input,
      };
    }
    case 'yes_no':
    case 'single_choice':
    case 'scale': {
      const choices = q.kind === 'yes_no'
        ? [[true, 'Yes'], [false, 'No']]
        : q.kind === 'single_choice'
          ? q.options.map((o) => [o, o])
          : Array.from({ length: q.max - q.min + 1 }, (_, i) => q.min + i).map((n) => [n, q.labels?.[String(n)] ? `${n}: ${q.labels[String(n)]}` : String(n)]);
      const legend = el('legend', { textContent: `${q.text}${q.required ? ' (required)' : ''}` });
      const radios = choices.map(([v, text], i) => {
        const input = el('input', { type: 'radio', name: id, id: `${id}-${i}`, checked: value === v });
        return { input, v, node: el('label', { className: 'choice', htmlFor: `${id}-${i}` }, input, ` ${text}`) };
      });
      const set = el('fieldset', { id }, legend, ...radios.map((r) => r.node));
      return { node: set, read: () => radios.find((r) => r.input.checked)?.v, focus: radios[0].input };
    }
    case 'multiple_choice': {
      const legend = el('legend', { textContent: q.text });
      const boxes = q.options.map((o, i) => {
        const input = el('input', { type: 'checkbox', id: `${id}-${i}`, checked: Array.isArray(value) && value.includes(o) });
        return { input, o, node: el('label', { className: 'choice', htmlFor: `${id}-${i}` }, input, ` ${o}`) };
      });
      const set = el('fieldset', { id }, legend, ...boxes.map((b) => b.node));
      return { node: set, read: () => { const v = boxes.filter((b) => b.input.checked).map((b) => b.o); return v.length ? v : undefined; }, focus: boxes[0].input };
    }
    default:
      return { node: wrap(el('p', { textContent: q.text })), read: () => undefined, focus: null };
  }
}

// The form to fill in: its sections and questions, with her draft's answers; Save draft, Submit.
async function fillIn(form, index, status, done) {
  const { definition } = form;
  let draft = null;
  try {
    draft = (await api(`/v1/forms/${encodeURIComponent(form.formId)}/draft`)).draft;
  } catch (error) {
    if (error.signedOut) return null;
  }
  const answersBefore = draft && draft.versionHash === form.versionHash ? draft.answers : {};
  const fields = new Map();
  const body = el('form', { noValidate: true, className: 'fill-in' });
  if (definition.intro) body.append(el('p', { textContent: definition.intro }));
  for (const section of definition.sections) {
    const box = el('section', {}, el('h3', { textContent: section.title }));
    for (const q of section.questions) {
      const f = field(q, index, answersBefore[q.id]);
      fields.set(q.id, f);
      box.append(f.node);
    }
    body.append(box);
  }
  const answers = () => Object.fromEntries([...fields].map(([id, f]) => [id, f.read()]).filter(([, v]) => v !== undefined));
  const questions = new Map(definition.sections.flatMap((sec) => sec.questions).map((q) => [q.id, q]));
  const save = el('button', { type: 'button', className: 'secondary', textContent: 'Save draft' });
  const submit = el('button', { type: 'submit', textContent: `Submit: ${describe(definition)}` });
  // Said beside the buttons, where the patient is (the page's status line may be far above).
  const here = el('p', { role: 'status', className: 'form-status', id: `form-${index}-status`, tabIndex: -1 });
  body.append(el('div', { className: 'actions' }, submit, save), here);
  const say = (text) => { here.textContent = text; status.textContent = ''; };
  // Each question's fault shown under it; the first one takes the focus.
  const flag = (faults) => {
    for (const f of fields.values()) {
      f.node.removeAttribute('aria-invalid');
      f.node.querySelector('.field-error')?.remove();
    }
    for (const [id, text] of faults) {
      const f = fields.get(id);
      if (!f) continue;
      const note = el('p', { className: 'field-error', id: `form-${index}-${id}-error`, textContent: text });
      f.node.setAttribute('aria-invalid', 'true');
      f.node.append(note);
      (f.focus || f.node).setAttribute('aria-describedby', note.id);
    }
    const first = faults.length && fields.get(faults[0][0]);
    if (first?.focus) first.focus.focus();
  };
  let key = newKey();
  body.addEventListener('input', () => { key = newKey(); });
  body.addEventListener('change', () => { key = newKey(); });
  save.addEventListener('click', async () => {
    const bad = [...fields].map(([id, f]) => [id, f.invalid?.()]).filter(([, t]) => t);
    if (bad.length) { flag(bad); say('Not saved: some answers need a change (shown under them).'); return; }
    try {
      await api(`/v1/forms/${encodeURIComponent(form.formId)}/draft`, { method: 'PUT', key, json: { versionHash: form.versionHash, answers: answers() } });
      // The submission is another request: its own key.
      key = newKey();
      flag([]);
      say(`Draft saved: you can finish "${definition.title}" later.`);
    } catch (error) {
      if (!error.signedOut) say(`Not saved: ${error.message}`);
    }
  });
  body.addEventListener('submit', async (event) => {
    event.preventDefault();
    // Every missing or malformed answer at once, in the question's own words.
    const given = answers();
    const faults = [...fields].flatMap(([id, f]) => {
      const bad = f.invalid?.();
      if (bad) return [[id, bad]];
      return questions.get(id)?.required && given[id] === undefined ? [[id, 'This question needs an answer.']] : [];
    });
    if (faults.length) {
      flag(faults);
      say(`Not submitted: ${faults.length === 1 ? 'one question needs' : `${faults.length} questions need`} an answer or a change (shown under ${faults.length === 1 ? 'it' : 'them'}).`);
      return;
    }
    try {
      const sent = await api(`/v1/forms/${encodeURIComponent(form.formId)}/submissions`, { method: 'POST', key, json: { versionHash: form.versionHash, answers: given } });
      await done(definition.title, sent);
    } catch (error) {
      if (error.signedOut) return;
      const q = error.question && questions.get(error.question);
      if (q) flag([[q.id, error.message.replace(/^Question [^:]+: /, '').replace(/^Question \S+ /, 'This question ')]]);
      say(`Not submitted: ${q ? `"${q.text}": ` : ''}${error.message.replace(/^Question \S+:? ?/, '')}`);
    }
  });
  return body;
}

// The patient's page: the forms due before her visits first, then every form to fill in.
export async function loadFormsPage() {
  const status = $('forms-status');
  const [{ forms, due = [] }, mine] = await Promise.all([
    api('/v1/forms'),
    api(`/v1/patients/${encodeURIComponent(session.subject)}/forms`),
  ]);
  // Her latest submission of each form (newest first in the answer).
  const latest = new Map();
  for (const s of mine.submissions) if (!latest.has(s.formId)) latest.set(s.formId, s);
  const dueIds = new Set(due.map((d) => d.formId));
  $('forms-due').textContent = due.length
    ? `Your practice asks you to complete ${due.length === 1 ? 'a form' : `${due.length} forms`} before your next visit.`
    : 'No forms are due before your visits.';
  const ordered = [...forms].sort((a, b) => Number(dueIds.has(b.formId)) - Number(dueIds.has(a.formId)));
  $('form-list').replaceChildren(...ordered.map((form, index) => {
    const row = el('li', {}, el('h2', { textContent: form.definition.title }));
    const visit = due.find((d) => d.formId === form.formId);
    const last = latest.get(form.formId);
    row.append(el('p', {
      textContent: visit
        ? `Due before your visit on ${when(visit.start)}.`
        : last ? `Submitted ${when(last.submittedAt)}. You may fill it in again to update your answers.` : 'You may fill it in at any time.',
    }));
    const open = el('button', { type: 'button', className: 'secondary', textContent: `Fill in: ${form.definition.title}` });
    open.addEventListener('click', async () => {
      const body = await fillIn(form, index, status, async (title, sent) => {
        await loadFormsPage();
        status.textContent = `Submitted "${title}". Your care team will see it before your visit.`;
        // An answer the care team must see at once: what to do now, before anyone reads it.
        if (sent?.alerts?.length) {
          status.textContent += ' If you are thinking about harming yourself or feel unsafe, please call your local emergency number now, or in the US call or text 988 (Suicide and Crisis Lifeline). You can also call the practice.';
        }
        status.focus();
      });
      if (!body) return;
      open.replaceWith(body);
      body.querySelector('input, textarea')?.focus();
    });
    row.append(open);
    return row;
  }));
}

// Her submissions as her care team sees them: each with its score, each scored form's trend, and
// the answers on request (every read audited).
export async function formsSummary(patientId) {
  const box = el('div', { className: 'forms-summary' });
  const { submissions, trends } = await api(`/v1/patients/${encodeURIComponent(patientId)}/forms`);
  if (!submissions.length) {
    box.append(el('p', { textContent: 'No forms submitted.' }));
    return box;
  }
  for (const [formId, points] of Object.entries(trends)) {
    const title = submissions.find((s) => s.formId === formId)?.title || formId;
    box.append(el('p', { textContent: `${title} over time: ${points.map((p) => `${p.total} (${p.band})`).join(' → ')}` }));
  }
  const items = submissions.map((s) => {
    const li = el('li', { textContent: `${s.title}, submitted ${when(s.submittedAt)}${s.score ? `: score ${s.score.total} (${s.score.band})` : ''}` });
    for (const alert of s.alerts || []) li.append(el('p', { className: 'alert', textContent: `Alert: ${alert}` }));
    const show = el('button', { type: 'button', className: 'secondary', textContent: 'Show answers' });
    show.setAttribute('aria-label', `Show answers: ${s.title}, ${when(s.submittedAt)}`);
    show.addEventListener('click', async () => {
      try {
        const one = await api(`/v1/patients/${encodeURIComponent(patientId)}/forms/${encodeURIComponent(s.submissionId)}`);
        const rows = one.definition.sections.flatMap((sec) => sec.questions).map((q) => {
          const a = one.answers[q.id];
          const words = q.labels?.[String(a)];
          const text = a === undefined || a === null ? 'not answered' : Array.isArray(a) ? a.join(', ') : a === true ? 'Yes' : a === false ? 'No' : words ? `${a} (${words})` : String(a);
          return [el('dt', { textContent: q.text }), el('dd', { textContent: text })];
        });
        show.replaceWith(el('dl', {}, ...rows.flat()));
      } catch (error) {
        fail('', error);
      }
    });
    li.append(show);
    return li;
  });
  box.append(el('ul', { className: 'list' }, ...items));
  return box;
}
