// Forms: the patient fills in her practice's questionnaires (the ones due before a visit first),
// with a draft she can save and come back to, then submits; a later submission amends. Staff and
// her providers see her submissions with their scores, the trend of each scored form, and the
// answers. Answers are her health information: only what she typed is shown back, to her and to
// her care team.
import { $, api, el, fail, newKey, when } from './common.js';

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
      return { node: wrap(label, input), read: () => (input.value === '' ? undefined : Number(input.value)), focus: input };
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
  const save = el('button', { type: 'button', className: 'secondary', textContent: 'Save draft' });
  const submit = el('button', { type: 'submit', textContent: `Submit: ${describe(definition)}` });
  body.append(el('div', { className: 'actions' }, submit, save));
  let key = newKey();
  body.addEventListener('input', () => { key = newKey(); });
  body.addEventListener('change', () => { key = newKey(); });
  save.addEventListener('click', async () => {
    try {
      await api(`/v1/forms/${encodeURIComponent(form.formId)}/draft`, { method: 'PUT', key, json: { versionHash: form.versionHash, answers: answers() } });
      // The submission is another request: its own key.
      key = newKey();
      status.textContent = `Draft of "${definition.title}" saved: you can finish it later.`;
    } catch (error) {
      if (!error.signedOut) status.textContent = `Not saved: ${error.message}`;
    }
  });
  body.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api(`/v1/forms/${encodeURIComponent(form.formId)}/submissions`, { method: 'POST', key, json: { versionHash: form.versionHash, answers: answers() } });
      await done(definition.title);
    } catch (error) {
      if (error.signedOut) return;
      status.textContent = `Not submitted: ${error.message}`;
      const f = error.question && fields.get(error.question);
      if (f?.focus) f.focus.focus();
    }
  });
  return body;
}

// The patient's page: the forms due before her visits first, then every form to fill in.
export async function loadFormsPage() {
  const status = $('forms-status');
  const { forms, due = [] } = await api('/v1/forms');
  const dueIds = new Set(due.map((d) => d.formId));
  $('forms-due').textContent = due.length
    ? `Your practice asks you to complete ${due.length === 1 ? 'a form' : `${due.length} forms`} before your next visit.`
    : 'No forms are due before your visits.';
  const ordered = [...forms].sort((a, b) => Number(dueIds.has(b.formId)) - Number(dueIds.has(a.formId)));
  $('form-list').replaceChildren(...ordered.map((form, index) => {
    const row = el('li', {}, el('h2', { textContent: form.definition.title }));
    const visit = due.find((d) => d.formId === form.formId);
    row.append(el('p', { textContent: visit ? `Due before your visit on ${when(visit.start)}.` : 'You may fill it in at any time.' }));
    const open = el('button', { type: 'button', className: 'secondary', textContent: `Fill in: ${form.definition.title}` });
    open.addEventListener('click', async () => {
      const body = await fillIn(form, index, status, async (title) => {
        await loadFormsPage();
        status.textContent = `Submitted "${title}". Your care team will see it before your visit.`;
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
    const show = el('button', { type: 'button', className: 'secondary', textContent: 'Show answers' });
    show.setAttribute('aria-label', `Show answers: ${s.title}, ${when(s.submittedAt)}`);
    show.addEventListener('click', async () => {
      try {
        const one = await api(`/v1/patients/${encodeURIComponent(patientId)}/forms/${encodeURIComponent(s.submissionId)}`);
        const rows = one.definition.sections.flatMap((sec) => sec.questions).map((q) => {
          const a = one.answers[q.id];
          const text = a === undefined || a === null ? 'not answered' : Array.isArray(a) ? a.join(', ') : a === true ? 'Yes' : a === false ? 'No' : String(a);
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
