// The staff console: the schedule (a day or a week of one provider or all, with attendance), patients found by
// name, phone or date of birth, a patient's page (appointments, balance, a charge, a booking), feedback triage, and (administrators) the reports.
import {
  $, api, catalog, confirmButton, conflictRows, dateIn, dayLabel, describe, el, statementTables, fillProviders, fillServices, item, list, money, newKey, recordButtons, toMinor,
  session, show, startOfDayIn, timeLabel, visitButton, wallIn, when,
} from './common.js';

export function resetStaff() {
  for (const id of ['calendar', 'patient-results', 'staff-feedback', 'reports', 'report-view', 'staff-waitlist', 'staff-slots', 'audit-results', 'chosen-appointments', 'chosen-waitlist', 'chosen-statement', 'chosen-feedback', 'chosen-messages', 'chosen-consents', 'chosen-fees', 'chosen-forms', 'chosen-series', 'staff-series-conflict-list', 'feeds']) $(id).replaceChildren();
  for (const id of ['calendar-status', 'search-status', 'charge-status', 'staff-feedback-status', 'reports-status', 'chosen-patient', 'staff-waitlist-status', 'staff-book-status', 'audit-status', 'staff-confirm-what', 'chosen-title', 'chosen-details', 'chosen-series-status', 'chosen-fees-status', 'feeds-status']) $(id).textContent = '';
  $('staff-reason').value = '';
  $('staff-repeat').value = '0';
  staff.booking = null;
  for (const id of ['charge-form', 'staff-book', 'staff-confirm', 'audit-more', 'patient-page', 'staff-repeat-more', 'staff-series-conflicts']) show(id, false);
  staff.patient = null;
}

const staff = { patient: null };

export async function loadStaff() {
  fillProviders($('calendar-provider'));
  if (session.roles.includes('staff') || session.roles.includes('admin')) {
    $('calendar-provider').prepend(new Option('All providers', ''));
    $('calendar-provider').value = '';
  } else {
    // A provider reads their own calendar (the one whose login the API shows them).
    const own = catalog.providers.find((p) => p.subject);
    if (own) $('calendar-provider').value = own.id;
  }
  $('calendar-day').value = today();
  $('staff-day').value = today();
  fillProviders($('staff-provider'));
  fillServices($('staff-service'), $('staff-provider').value);
  $('audit-from').value = today();
  $('audit-to').value = today();
}

function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: session.zone }).format(new Date());
}

// The schedule: one provider's or every provider's appointments of a day or a week, by day, with
// each patient's name and state, and what the front desk does with them.
const schedule = { days: 1 };

const STATE_LABEL = { awaiting_deposit: 'Awaiting deposit (time held, not confirmed)', booked: 'Booked', arrived: 'Checked in', completed: 'Completed', no_show: 'No-show', cancelled: 'Cancelled' };

async function showCalendar(days = schedule.days) {
  schedule.days = days;
  const provider = $('calendar-provider').value;
  const day = $('calendar-day').value || today();
  $('calendar-day').value = day;
  const from = startOfDayIn(day, session.zone);
  const to = startOfDayIn(day, session.zone, days);
  $('calendar-status').textContent = 'Loading…';
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  if (provider) query.set('providerId', provider);
  const { appointments } = await api(`/v1/appointments?${query}`);
  appointments.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const byDay = new Map();
  for (const a of appointments) {
    const label = dayLabel(a.start, session.zone);
    if (!byDay.has(label)) byDay.set(label, []);
    byDay.get(label).push(a);
  }
  const sections = [...byDay].map(([label, rows]) => el('section', { className: 'day' },
    el('h2', { textContent: label }),
    el('ul', { className: 'list' }, ...rows.map(appointmentRow))));
  $('calendar').replaceChildren(...(sections.length ? sections : [el('p', { textContent: 'Nothing booked.' })]));
  const who = provider ? catalog.providerName.get(provider) : 'all providers';
  const span = days === 1 ? dayLabel(from, session.zone) : `the week from ${dayLabel(from, session.zone)}`;
  const cancelled = appointments.filter((a) => a.status === 'cancelled').length;
  const active = appointments.length - cancelled;
  const also = cancelled ? ` and ${cancelled} cancelled` : '';
  $('calendar-status').textContent = `${active} appointment${active === 1 ? '' : 's'}${also} on ${span} with ${who} (times in ${session.zone}).`;
}

function appointmentRow(a) {
  const who = a.patientName || `Patient ${a.patientId}`;
  const time = `${timeLabel(a.start, session.zone)}–${timeLabel(a.end, session.zone)}`;
  const what = [catalog.serviceName.get(a.serviceId) || 'Appointment'];
  if (!$('calendar-provider').value) what.push(catalog.providerName.get(a.providerId));
  const paid = a.deposit?.state === 'paid' ? ' · deposit paid' : '';
  const row = item(`${time} · ${who}`, `${what.join(' with ')} · ${STATE_LABEL[a.status] || a.status}${paid}${a.online ? ' · online' : ''}`);
  row.classList.add(`state-${a.status}`);
  const now = Date.now();
  const start = Date.parse(a.start);
  const actions = el('div', { className: 'actions' });
  const record = (label, status) => {
    const key = newKey();
    const act = async () => {
      try {
        const recorded = await api(`/v1/appointments/${encodeURIComponent(a.id)}/attendance`, { method: 'POST', key, json: { status } });
        await showCalendar();
        let fee = recorded.fee ? ` ${FEE_WORDS[recorded.fee.kind]} of ${money(recorded.fee.amount.amount, recorded.fee.amount.currency)} charged under the cancellation policy.` : '';
        if (a.status === 'no_show' && status === 'arrived' && a.cancellationTerms?.noShowFee) fee = ' The missed appointment fee her no-show mark charged is waived.';
        $('calendar-status').textContent = `${who}, ${time}: ${STATE_LABEL[status].toLowerCase()}.${fee}`;
        $('calendar-status').focus();
      } catch (error) {
        if (!error.signedOut) $('calendar-status').textContent = `Not recorded: ${error.message}`;
      }
    };
    // A no-show that charges a fee is asked once more, naming the fee.
    const fee = status === 'no_show' && a.cancellationTerms?.noShowFee;
    if (fee) {
      const amount = money(fee.amount, fee.currency);
      actions.append(confirmButton(label, `Yes, mark a no-show and charge ${amount}`, 'Keep it booked', act, `${label}: ${who}, ${time}`, true));
      return;
    }
    const button = el('button', { type: 'button', className: 'secondary', textContent: label });
    button.setAttribute('aria-label', `${label}: ${who}, ${time}`);
    button.addEventListener('click', act);
    actions.append(button);
  };
  // What can be true now (the API checks it again).
  if ((a.status === 'booked' && now >= start - 2 * 3600e3) || (a.status === 'no_show' && now < Date.parse(a.end))) record('Check in', 'arrived');
  if (a.status === 'booked' && now >= start) record('No-show', 'no_show');
  if (a.status === 'arrived' && now >= start) record('Completed', 'completed');
  if (a.status === 'booked' && now < start) actions.append(moveForm(a, who, time), cancelForm(a, who, time));
  if (a.status === 'awaiting_deposit') actions.append(cancelForm(a, who, time));
  if (a.online && ['booked', 'arrived'].includes(a.status)) actions.append(visitButton(a.id, 'Open the visit room'));
  actions.append(detailsButton(a, who, time));
  row.append(actions);
  return row;
}

// An appointment opened: its reason for the visit (sealed; reading it is audited) and a way to
// the patient's page.
function detailsButton(a, who, time) {
  const box = el('div');
  const open = el('button', { type: 'button', className: 'secondary', textContent: 'Details' });
  open.setAttribute('aria-label', `Details: ${who}, ${time}`);
  open.setAttribute('aria-expanded', 'false');
  const details = el('div', { className: 'details', hidden: true });
  open.addEventListener('click', async () => {
    if (!details.hidden) {
      details.hidden = true;
      open.setAttribute('aria-expanded', 'false');
      return;
    }
    try {
      const appointment = await api(`/v1/appointments/${encodeURIComponent(a.id)}`);
      const toPatient = el('button', { type: 'button', className: 'secondary', textContent: `Open ${who}'s page` });
      toPatient.addEventListener('click', async () => {
        try {
          const patient = await api(`/v1/patients/${encodeURIComponent(a.patientId)}`);
          document.querySelector('#nav button[data-page="patients"]').click();
          await openPatient(patient);
        } catch (error) {
          if (!error.signedOut) $('calendar-status').textContent = `Not opened: ${error.message}`;
        }
      });
      // Her forms, with scores and their trend: read (and audited) only when asked for.
      const forms = el('button', { type: 'button', className: 'secondary', textContent: 'Show forms' });
      forms.setAttribute('aria-label', `Show forms: ${who}`);
      forms.addEventListener('click', async () => {
        try {
          const { formsSummary } = await import('./forms.js');
          forms.replaceWith(await formsSummary(a.patientId));
        } catch (error) {
          if (!error.signedOut) forms.replaceWith(el('p', { textContent: `Forms: ${error.message}` }));
        }
      });
      details.replaceChildren(
        el('p', { textContent: `${catalog.serviceName.get(a.serviceId) || 'Appointment'} with ${catalog.providerName.get(a.providerId)}, ${when(appointment.start)}. ${STATE_LABEL[appointment.status] || appointment.status}.` }),
        el('p', { textContent: appointment.reason ? `Reason for the visit: ${appointment.reason}` : 'No reason for the visit was given.' }),
        forms,
        // Only the front desk and administrators open patients' pages.
        ...(session.roles.some((r) => r === 'staff' || r === 'admin') ? [toPatient] : []),
      );
      details.hidden = false;
      open.setAttribute('aria-expanded', 'true');
    } catch (error) {
      if (!error.signedOut) $('calendar-status').textContent = `Not opened: ${error.message}`;
    }
  });
  box.append(open, details);
  return box;
}

// Moving to another free time of the same provider and service: a day, its free times, then a
// confirmation; the appointment keeps its time until the new one is booked (one atomic reschedule).
function moveForm(a, who, time) {
  const key = newKey();
  const box = el('div');
  const ask = el('button', { type: 'button', className: 'secondary', textContent: 'Move…' });
  ask.setAttribute('aria-label', `Move: ${who}, ${time}`);
  const dayId = `move-day-${a.id}`;
  const day = el('input', { type: 'date', id: dayId, required: true });
  const find = el('button', { type: 'button', textContent: 'Show free times' });
  const close = el('button', { type: 'button', className: 'secondary', textContent: 'Keep the time' });
  const status = el('p', { role: 'status' });
  const times = el('ul', { className: 'times' });
  const panel = el('div', { hidden: true },
    el('label', { htmlFor: dayId, textContent: 'Move to a day' }), day,
    el('div', { className: 'actions' }, find, close), status, times);
  ask.addEventListener('click', () => {
    ask.hidden = true; panel.hidden = false;
    day.value = new Intl.DateTimeFormat('en-CA', { timeZone: session.zone }).format(new Date(a.start));
    day.focus();
  });
  close.addEventListener('click', () => { panel.hidden = true; ask.hidden = false; ask.focus(); });
  find.addEventListener('click', async () => {
    if (!day.value) { status.textContent = 'Choose a day.'; return; }
    const query = new URLSearchParams({
      serviceId: a.serviceId, from: startOfDayIn(day.value, session.zone).toISOString(), to: startOfDayIn(day.value, session.zone, 1).toISOString(),
    });
    try {
      const { slots } = await api(`/v1/providers/${encodeURIComponent(a.providerId)}/availability?${query}`);
      times.replaceChildren(...slots.map((start) => {
        const label = `${dayLabel(start, session.zone)} at ${timeLabel(start, session.zone)}`;
        const choose = el('button', { type: 'button', className: 'secondary', textContent: timeLabel(start, session.zone) });
        choose.setAttribute('aria-label', `Move ${who} to ${label}`);
        choose.addEventListener('click', async () => {
          try {
            await api(`/v1/appointments/${encodeURIComponent(a.id)}/reschedule`, { method: 'POST', key, json: { start } });
            await showCalendar();
            $('calendar-status').textContent = `Moved: ${who}, from ${time} to ${label}.`;
            $('calendar-status').focus();
          } catch (error) {
            if (!error.signedOut) status.textContent = `Not moved: ${error.message}`;
          }
        });
        return el('li', {}, choose);
      }));
      status.textContent = slots.length ? `${slots.length} free time${slots.length === 1 ? '' : 's'}; choosing one moves the appointment.` : 'No free times that day; try another.';
    } catch (error) {
      if (!error.signedOut) status.textContent = error.message;
    }
  });
  box.append(ask, panel);
  return box;
}

// Cancelling with a reason (sealed with the appointment, like the patient's own), asked once more.
function cancelForm(a, who, time) {
  const key = newKey();
  const box = el('div');
  const ask = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel…' });
  ask.setAttribute('aria-label', `Cancel: ${who}, ${time}`);
  const reasonId = `cancel-reason-${a.id}`;
  const reason = el('input', { type: 'text', id: reasonId, maxLength: 1000, autocomplete: 'off' });
  const yes = el('button', { type: 'button', textContent: 'Yes, cancel it' });
  const no = el('button', { type: 'button', className: 'secondary', textContent: 'Keep it' });
  const confirm = el('div', { hidden: true },
    el('label', { htmlFor: reasonId, textContent: 'Reason (optional; kept with the appointment)' }), reason);
  // Booked under a late-cancellation fee: the practice's own cancellation charges none.
  const byPractice = el('input', { type: 'checkbox' });
  const terms = a.cancellationTerms;
  if (a.deposit?.state === 'paid') {
    confirm.append(el('p', { className: 'muted', textContent: `The patient paid a deposit of ${money(a.deposit.amount.amount, a.deposit.amount.currency)}: it is refunded, less any fee the cancellation charges.` }));
  }
  if (terms?.lateCancellationFee && a.status === 'booked') {
    // Inside the window the fee is said before the click.
    const inside = Date.now() > Date.parse(a.start) - terms.lateWindowHours * 3600e3;
    const fee = money(terms.lateCancellationFee.amount, terms.lateCancellationFee.currency);
    if (inside) confirm.append(el('p', { className: 'muted', textContent: `Inside the cancellation policy's window: cancelling charges her the late-cancellation fee of ${fee}, unless the practice cancels.` }));
    confirm.append(el('label', { className: 'choice' }, byPractice, ' The practice cancels (no late-cancellation fee)'));
  }
  confirm.append(el('div', { className: 'actions' }, yes, no));
  ask.addEventListener('click', () => { ask.hidden = true; confirm.hidden = false; reason.focus(); });
  no.addEventListener('click', () => { confirm.hidden = true; ask.hidden = false; ask.focus(); });
  yes.addEventListener('click', async () => {
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      if (byPractice.checked) body.byPractice = true;
      const cancelled = await api(`/v1/appointments/${encodeURIComponent(a.id)}/cancel`, { method: 'POST', key, json: body });
      await showCalendar();
      const fee = cancelled.fee ? ` ${FEE_WORDS[cancelled.fee.kind]} of ${money(cancelled.fee.amount.amount, cancelled.fee.amount.currency)} charged under the cancellation policy.` : '';
      $('calendar-status').textContent = `Cancelled: ${who}, ${time}.${fee}`;
      $('calendar-status').focus();
    } catch (error) {
      if (!error.signedOut) $('calendar-status').textContent = `Not cancelled: ${error.message}`;
    }
  });
  box.append(ask, confirm);
  return box;
}

async function searchPatients(event) {
  event.preventDefault();
  const query = $('search-query').value.trim();
  show('charge-form', false);
  show('patient-page', false);
  // What an earlier search found never stands under a new one's answer.
  $('patient-results').replaceChildren();
  try {
    const { patients, more } = await api('/v1/patients/search', { method: 'POST', json: { query } });
    list('patient-results', patients.map((p) => {
      const row = item(p.name, `Born ${p.dateOfBirth} · ${p.phone} · ${p.email}`);
      const choose = el('button', { type: 'button', className: 'secondary', textContent: `Open ${p.name}` });
      choose.addEventListener('click', () => openPatient(p).catch((e) => { $('search-status').textContent = e.message; }));
      row.append(choose);
      return row;
    }), 'No patient matches all of these words.');
    const count = `${patients.length} patient${patients.length === 1 ? '' : 's'} found`;
    $('search-status').textContent = more ? `${count}; more match: add a word or the date of birth.` : `${count}.`;
  } catch (error) {
    if (!error.signedOut) $('search-status').textContent = `Not searched: ${error.message}`;
  }
}

// A patient's page: who she is, her appointments and her account, with booking and charging.
async function openPatient(patient) {
  staff.patient = patient;
  const id = encodeURIComponent(patient.patientId);
  const [balance, { entries }, { feedback }, { messages }, appointments, , consents] = await Promise.all([
    api(`/v1/balance?patientId=${id}`),
    api(`/v1/waitlist?patientId=${id}`),
    api(`/v1/feedback?patientId=${id}&limit=20`),
    api(`/v1/patients/${id}/messages`),
    showPatientAppointments(patient),
    showPatientSeries(patient),
    api(`/v1/patients/${id}/consents`),
  ]);
  // Her forms: submissions with scores and their trend.
  const { formsSummary } = await import('./forms.js');
  $('chosen-forms').replaceChildren(await formsSummary(patient.patientId));
  // Her consents: where she stands with each document, and each signature's copy.
  const { copyLinks } = await import('./consents.js');
  const STANDING = { not_signed: 'not signed', signed: 'signed', signed_earlier_version: 'signed an earlier version', withdrawn: 'withdrawn' };
  list('chosen-consents', consents.documents.map((d) => {
    const row = item(`${d.title}: ${STANDING[d.standing.status]}`, d.standing.at ? when(d.standing.at) : '');
    if (d.standing.signatureId) row.append(copyLinks(d.standing.signatureId, patient.patientId));
    return row;
  }), 'The practice has no consent documents.');
  $('chosen-series-status').textContent = '';
  const OUTCOME = {
    'notification.send': 'sent', 'notification.fail': 'could not be delivered', 'notification.bounce': 'bounced',
    'notification.complaint': 'reported as spam', 'notification.optout': 'texts stopped',
  };
  // The kinds whose code does not read as words.
  const KIND_WORDS = { confirmation_forms: 'confirmation (asking for forms)', forms_due: 'forms reminder', fee_charged: 'fee notice' };
  list('chosen-messages', messages.map((m) => item(
    `${KIND_WORDS[m.kind] || m.kind.replace(/_/g, ' ')}: ${OUTCOME[m.action] || m.action}${m.channels.length ? ` by ${m.channels.join(' and ')}` : ''}`,
    when(m.at),
  )), 'No messages sent to her yet.');
  list('chosen-feedback', feedback.map((f) => item(
    `${f.category}${f.rating ? ` (${f.rating} of 5)` : ''}: ${f.text}`,
    f.status === 'resolved' ? `${when(f.createdAt)} · resolved: ${f.resolutionNote}` : `${when(f.createdAt)} · open`,
  )), 'No feedback from her.');
  list('chosen-waitlist', entries.map((e) => item(
    `${catalog.serviceName.get(e.serviceId) || 'Appointment'} with ${catalog.providerName.get(e.providerId) || 'a provider'}`,
    `Any time from ${dayLabel(e.from, session.zone)} to ${dayLabel(new Date(Date.parse(e.to) - 1).toISOString(), session.zone)} · ${e.status}`,
  )), 'Not on the waitlist.');
  // Her statement, as she sees it: charges with their items and visits, payments with the card,
  // and the balance after each.
  const tables = statementTables(balance, new Map(appointments.map((a) => [a.id, a])));
  $('chosen-statement').replaceChildren(...(tables.length ? tables : [el('p', { textContent: 'No charges or payments yet.' })]));
  // Her fees under the cancellation policy, with a way to waive each (loaded only when she has one).
  if (balance.charges.some((c) => c.fee)) {
    const { showFees } = await import('./fees.js');
    showFees(patient, balance, appointments, openPatient);
  } else {
    list('chosen-fees', [], 'No fees.');
  }
  $('chosen-title').textContent = patient.name;
  $('chosen-details').textContent = `Born ${patient.dateOfBirth} · ${patient.phone} · ${patient.email}${patient.emailVerified ? ' (verified)' : ' (not verified)'}`;
  show('patient-page', true);
  const totals = balance.balances.map((b) => `${b.currency}: ${money(b.balance, b.currency)} owed (${money(b.charged, b.currency)} charged, ${money(b.paid, b.currency)} paid)`);
  $('chosen-patient').textContent = `${patient.name}. ${totals.length ? totals.join('; ') : 'No charges yet.'}`;
  $('charge-currency').value = balance.balances[0]?.currency || $('charge-currency').value;
  staff.chargeKey = newKey();
  show('charge-form', true);
  show('staff-book', true);
  $('staff-slots').replaceChildren();
  $('staff-book-status').textContent = '';
  $('chosen-record-status').textContent = '';
  $('chosen-title').focus();
}

// A fee's kind in words (the fees list itself is fees.js, loaded when she has one).
const FEE_WORDS = { late_cancellation: 'Late cancellation fee', no_show: 'Missed appointment fee' };

// Her appointments: the coming ones first, soonest first; then the past, latest first.
async function showPatientAppointments(patient) {
  const { appointments } = await api(`/v1/appointments?patientId=${encodeURIComponent(patient.patientId)}`);
  const now = Date.now();
  const upcoming = appointments.filter((a) => Date.parse(a.end) > now);
  const past = appointments.filter((a) => Date.parse(a.end) <= now).reverse();
  const state = (a) => (a.status === 'booked' && Date.parse(a.end) <= now ? 'Past' : STATE_LABEL[a.status] || a.status);
  list('chosen-appointments', [...upcoming, ...past].map((a) => item(`${when(a.start)}: ${describe(a)}`, state(a))),
    'No appointments yet.');
  return appointments;
}

const EVERY = { 1: 'every week', 2: 'every 2 weeks', 3: 'every 3 weeks', 4: 'every 4 weeks' };

// Her repeating visits: each series with its counts, and what the front desk changes from one
// visit on: cancel that visit, cancel it and every later one, or move it and every later one to a
// new weekday and time (all or nothing: the dates that are not free are listed, nothing changes).
async function showPatientSeries(patient) {
  const { series } = await api(`/v1/series?patientId=${encodeURIComponent(patient.patientId)}`);
  const blocks = series.map((s, index) => seriesBlock(s, index, patient));
  $('chosen-series').replaceChildren(...(blocks.length ? blocks : [el('p', { textContent: 'No repeating visits.' })]));
}

function seriesBlock(s, index, patient) {
  const zone = s.timeZone;
  const name = `${catalog.serviceName.get(s.serviceId) || 'Appointment'} with ${catalog.providerName.get(s.providerId) || 'a provider'}, ${EVERY[s.everyWeeks]}`;
  const count = (status) => s.occurrences.filter((o) => o.status === status).length;
  const upcoming = s.occurrences.filter((o) => o.status === 'booked' && Date.parse(o.start) > Date.now());
  const summary = `${s.occurrences.length} visits: ${count('booked')} booked${count('cancelled') ? `, ${count('cancelled')} cancelled` : ''}${s.skipped.length ? `; ${s.skipped.length} skipped when booked` : ''}.`
    + (upcoming.length ? ` Next: ${dayLabel(upcoming[0].start, zone)} at ${timeLabel(upcoming[0].start, zone)}.` : ' None to come.');
  const box = el('div', { className: 'series' }, el('h4', { textContent: name }), el('p', { textContent: summary }));
  if (!upcoming.length) return box;
  const prefix = `series-${index}`;
  const select = el('select', { id: `${prefix}-from` });
  const withYear = (t) => new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: zone }).format(new Date(t));
  for (const o of upcoming) select.append(new Option(`${withYear(o.start)} at ${timeLabel(o.start, zone)}`, o.appointmentId));
  const chosen = () => upcoming.find((o) => o.appointmentId === select.value);
  const status = $('chosen-series-status');
  const conflicts = el('ul', { className: 'list', id: `${prefix}-conflicts` });
  conflicts.setAttribute('aria-label', `Dates not free for ${name}`);
  const done = async (text) => {
    await Promise.all([showPatientSeries(patient), showPatientAppointments(patient)]);
    status.textContent = text;
    status.focus();
  };
  const failed = (verb) => (error) => {
    if (error.signedOut) return;
    if (error.code === 'series_conflicts') {
      conflicts.replaceChildren(...conflictRows(error.conflicts, zone));
      status.textContent = `Nothing ${verb}: ${error.conflicts.length} date${error.conflicts.length === 1 ? ' is' : 's are'} not free (listed under the series).`;
    } else {
      status.textContent = `Nothing ${verb}: ${error.message}`;
    }
  };
  const keys = { one: newKey(), rest: newKey(), move: newKey() };
  const cancelOne = confirmButton('Cancel this visit', 'Yes, cancel it', 'No, keep it', async () => {
    const o = chosen();
    await api(`/v1/appointments/${encodeURIComponent(o.appointmentId)}/cancel`, { method: 'POST', key: keys.one, json: {} })
      .then(() => done(`Cancelled ${dayLabel(o.start, zone)} at ${timeLabel(o.start, zone)}; the other visits stay.`), failed('cancelled'));
  }, `Cancel this visit of ${name}`);
  const cancelRest = confirmButton('Cancel this and all later visits', 'Yes, cancel them', 'No, keep them', async () => {
    const o = chosen();
    await api(`/v1/series/${encodeURIComponent(s.id)}/cancel`, { method: 'POST', key: keys.rest, json: { fromAppointmentId: o.appointmentId } })
      .then(() => done(`Cancelled every visit from ${dayLabel(o.start, zone)} on.`), failed('cancelled'));
  }, `Cancel this and all later visits of ${name}`);
  const date = el('input', { type: 'date', id: `${prefix}-date`, required: true });
  const time = el('input', { type: 'time', id: `${prefix}-time`, required: true, step: 300 });
  const first = upcoming[0];
  date.value = dateIn(first.start, zone);
  time.value = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }).format(new Date(first.start));
  select.addEventListener('change', () => { date.value = dateIn(chosen().start, zone); });
  const move = el('button', { type: 'button', textContent: 'Move this and all later visits' });
  move.setAttribute('aria-label', `Move this and all later visits of ${name}`);
  move.addEventListener('click', () => {
    if (!date.value || !time.value) { status.textContent = 'Choose the new date and time of this visit.'; return; }
    const start = wallIn(date.value, time.value, zone).toISOString();
    conflicts.replaceChildren();
    api(`/v1/series/${encodeURIComponent(s.id)}/move`, { method: 'POST', key: keys.move, json: { fromAppointmentId: chosen().appointmentId, start } })
      .then(() => done(`Moved: from ${dayLabel(start, zone)} at ${timeLabel(start, zone)}, ${EVERY[s.everyWeeks]}.`), (error) => { keys.move = newKey(); failed('moved')(error); });
  });
  box.append(
    el('label', { htmlFor: select.id, textContent: 'From the visit on' }), select,
    el('div', { className: 'actions' }, cancelOne, cancelRest),
    el('div', { className: 'row' },
      el('div', {}, el('label', { htmlFor: date.id, textContent: 'New date of that visit' }), date),
      el('div', {}, el('label', { htmlFor: time.id, textContent: 'New time' }), time)),
    move, conflicts,
  );
  return box;
}

async function postCharge(event) {
  event.preventDefault();
  const description = $('charge-description').value.trim();
  const amount = toMinor($('charge-amount').value, $('charge-currency').value);
  if (!description || !Number.isSafeInteger(amount) || amount <= 0) {
    $('charge-status').textContent = 'A charge needs a description and an amount greater than zero.';
    return;
  }
  try {
    const charge = await api('/v1/charges', {
      method: 'POST',
      key: staff.chargeKey,
      json: { patientId: staff.patient.patientId, currency: $('charge-currency').value, lineItems: [{ description, amount }] },
    });
    $('charge-description').value = '';
    $('charge-amount').value = '';
    staff.chargeKey = newKey();
    await openPatient(staff.patient);
    $('charge-status').textContent = `Charged ${money(charge.total, charge.currency)}.`;
  } catch (error) {
    if (!error.signedOut) $('charge-status').textContent = `Not charged: ${error.message}`;
  }
}

// The provider's waitlist: who waits for which days, and the offers out.
async function showWaitlist() {
  const provider = $('calendar-provider').value;
  if (!provider) {
    $('staff-waitlist').replaceChildren();
    $('staff-waitlist-status').textContent = 'Choose a provider above to see their waitlist.';
    return;
  }
  const { entries } = await api(`/v1/waitlist?providerId=${encodeURIComponent(provider)}`);
  list('staff-waitlist', entries.map((e) => {
    // The window ends at the midnight after the last day chosen: that day is the one shown.
    const what = `${catalog.serviceName.get(e.serviceId) || 'Appointment'}: ${dayLabel(e.from, session.zone)} to ${dayLabel(Date.parse(e.to) - 1, session.zone)}`;
    const who = e.patientName || `Patient ${e.patientId}`;
    const row = item(what,
      `${who} · ${e.offer ? `offered ${when(e.offer.start)}, held until ${timeLabel(e.offer.expiresAt, session.zone)}` : e.status}`);
    const key = newKey();
    row.append(confirmButton('Remove from the waitlist', 'Yes, remove', 'No, keep', async () => {
      try {
        await api(`/v1/waitlist/${encodeURIComponent(e.id)}/leave`, { method: 'POST', key, json: { providerId: e.providerId } });
        await showWaitlist();
        $('staff-waitlist-status').textContent = `Removed: ${what}.`;
      } catch (error) {
        if (!error.signedOut) $('staff-waitlist-status').textContent = `Not removed: ${error.message}`;
      }
    }, `Remove from the waitlist: ${who}, ${what}`));
    return row;
  }), 'Nobody is waiting.');
  $('staff-waitlist-status').textContent = `${entries.length} on the waitlist of ${catalog.providerName.get(provider)}.`;
}

// Booking for the opened patient on any day of the booking window: that day's free times, then a
// confirmation (service, length, price, provider, time, a reason) before anything is booked. Staff
// are not held to the patient's limits or the cut-off; the time is still checked like any booking.
async function staffFindTimes(event) {
  event.preventDefault();
  const provider = $('staff-provider').value;
  const service = $('staff-service').value;
  const day = $('staff-day').value || today();
  $('staff-day').value = day;
  show('staff-confirm', false);
  const query = new URLSearchParams({
    serviceId: service, from: startOfDayIn(day, session.zone).toISOString(), to: startOfDayIn(day, session.zone, 1).toISOString(),
  });
  const { slots, timeZone } = await api(`/v1/providers/${encodeURIComponent(provider)}/availability?${query}`);
  $('staff-slots').replaceChildren(...slots.map((start) => {
    const button = el('button', { type: 'button', className: 'secondary', textContent: timeLabel(start, timeZone) });
    button.addEventListener('click', () => confirmBooking({ provider, service, start, timeZone }));
    return el('li', {}, button);
  }));
  const when = dayLabel(startOfDayIn(day, session.zone), session.zone);
  $('staff-book-status').textContent = slots.length
    ? `${slots.length} free time${slots.length === 1 ? '' : 's'} on ${when} with ${catalog.providerName.get(provider)} (${timeZone}); choose one to confirm.`
    : `No free times on ${when} with ${catalog.providerName.get(provider)}; try another day.`;
}

function confirmBooking({ provider, service, start, timeZone }) {
  const chosen = catalog.services.find((s) => s.id === service);
  const price = chosen?.price ? `, ${money(chosen.price.amount, chosen.price.currency)}` : '';
  const label = `${dayLabel(start, timeZone)} at ${timeLabel(start, timeZone)} (${timeZone})`;
  $('staff-confirm-what').textContent = `${staff.patient.name}: ${chosen?.name || 'appointment'} (${chosen?.durationMinutes} minutes${price}) with ${catalog.providerName.get(provider)}, ${label}.`;
  $('staff-reason').value = '';
  $('staff-repeat').value = '0';
  show('staff-repeat-more', false);
  show('staff-series-conflicts', false);
  show('staff-confirm', true);
  $('staff-reason').focus();
  staff.booking = { provider, service, start, label, timeZone, key: newKey() };
}

// A repeating booking: every occurrence is checked first; when some are not free nothing is
// booked and they are listed with the free times of their days, to book the rest or choose again.
async function bookSeries(b, conflicts) {
  const everyWeeks = Number($('staff-repeat').value);
  const count = Number($('staff-repeat-count').value);
  const field = $('staff-repeat-count');
  if (!Number.isInteger(count) || count < 2 || count > 52) {
    field.setAttribute('aria-invalid', 'true');
    $('staff-repeat-note').textContent = 'Enter a number of visits from 2 to 52.';
    field.focus();
    return;
  }
  field.removeAttribute('aria-invalid');
  $('staff-repeat-note').textContent = '';
  const reason = $('staff-reason').value.trim();
  try {
    const series = await api('/v1/series', {
      method: 'POST', key: conflicts === 'skip' ? b.skipKey : b.key,
      json: {
        providerId: b.provider, serviceId: b.service, start: b.start, everyWeeks, count, conflicts, patientId: staff.patient.patientId,
        ...(reason ? { reason } : {}),
      },
    });
    staff.booking = null;
    show('staff-confirm', false);
    $('staff-slots').replaceChildren();
    const skipped = series.skipped.length ? `; ${series.skipped.length} date${series.skipped.length === 1 ? '' : 's'} skipped` : '';
    $('staff-book-status').textContent = `Booked ${staff.patient.name}: ${series.occurrences.length} visits ${EVERY[everyWeeks]} from ${b.label}${skipped}.`;
    $('staff-book-status').focus();
    await Promise.all([showPatientAppointments(staff.patient), showPatientSeries(staff.patient)]);
  } catch (error) {
    if (error.signedOut) return;
    if (error.code === 'series_conflicts') {
      $('staff-series-conflict-list').replaceChildren(...conflictRows(error.conflicts, b.timeZone));
      show('staff-series-conflicts', true);
      b.skipKey = newKey();
      $('staff-book-status').textContent = `Not booked: ${error.conflicts.length} of the dates ${error.conflicts.length === 1 ? 'is' : 'are'} not free.`;
      $('staff-series-skip').focus();
    } else {
      $('staff-book-status').textContent = `Not booked: ${error.message}`;
    }
  }
}

async function bookConfirmed() {
  const b = staff.booking;
  if (!b) return;
  if ($('staff-repeat').value !== '0') {
    await bookSeries(b, 'fail');
    return;
  }
  const reason = $('staff-reason').value.trim();
  try {
    await api('/v1/appointments', {
      method: 'POST', key: b.key,
      json: { providerId: b.provider, serviceId: b.service, start: b.start, patientId: staff.patient.patientId, ...(reason ? { reason } : {}) },
    });
    staff.booking = null;
    show('staff-confirm', false);
    $('staff-slots').replaceChildren();
    $('staff-book-status').textContent = `Booked ${staff.patient.name}: ${b.label}.`;
    $('staff-book-status').focus();
    await showPatientAppointments(staff.patient);
  } catch (error) {
    if (!error.signedOut) $('staff-book-status').textContent = `Not booked: ${error.message}`;
  }
}

// The admin's audit search: a period of whole days in the practice's zone, optional filters, a
// page at a time.
const audit = { query: null, patient: null, about: null };

async function searchAudit(event, more = false) {
  event?.preventDefault();
  if (!more) {
    const from = $('audit-from').value;
    const to = $('audit-to').value;
    if (!from || !to || to < from) {
      $('audit-status').textContent = 'Choose a first and a last day, the last on or after the first.';
      return;
    }
    audit.query = new URLSearchParams({ from: startOfDayIn(from, session.zone).toISOString(), to: startOfDayIn(to, session.zone, 1).toISOString(), limit: '50' });
    for (const [name, id] of [['actor', 'audit-actor'], ['role', 'audit-role'], ['action', 'audit-action'], ['outcome', 'audit-outcome']]) {
      if ($(id).value.trim()) audit.query.set(name, $(id).value.trim());
    }
    // Action codes are lower case; "Patient." means the patient family.
    const action = $('audit-action').value.trim().toLowerCase().replace(/\.+$/, '');
    if (action) audit.query.set('action', action);
    audit.query.delete('cursor');
    $('audit-results').replaceChildren();
    // A patient named as people know her: found first (that search is audited too), then her
    // entries; several matches are offered to choose from.
    const name = $('audit-patient').value.trim();
    if (name) {
      try {
        const { patients } = await api('/v1/patients/search', { method: 'POST', json: { query: name } });
        if (!patients.length) {
          $('audit-status').textContent = 'No patient matches that name; nothing searched.';
          return;
        }
        if (patients.length > 1 && !audit.patient) {
          list('audit-results', patients.map((p) => {
            const row = item(p.name, `Born ${p.dateOfBirth}`);
            const choose = el('button', { type: 'button', className: 'secondary', textContent: `Entries about ${p.name}` });
            choose.setAttribute('aria-label', `Entries about ${p.name}, born ${p.dateOfBirth}`);
            choose.addEventListener('click', () => { audit.patient = p; searchAudit(null).finally(() => { audit.patient = null; }); });
            row.append(choose);
            return row;
          }), '');
          $('audit-status').textContent = `${patients.length} patients match: choose one.`;
          return;
        }
        const chosen = audit.patient || patients[0];
        audit.query.set('patientId', chosen.patientId);
        audit.about = chosen.name;
      } catch (error) {
        if (!error.signedOut) $('audit-status').textContent = `Not searched: ${error.message}`;
        return;
      }
    } else {
      audit.about = null;
    }
  }
  try {
    const page = await api(`/v1/audit?${audit.query}`);
    const rows = page.entries.map((e) => item(
      `${e.actorName || e.actor} (${e.roles.join(', ') || e.agentKind || 'system'}): ${e.action}${e.outcome === 'success' ? '' : ` · ${e.outcome}`}${e.count ? ` × ${e.count}` : ''}`,
      `${when(e.at)}${e.patientIds.length ? ` · about ${e.patientIds.join(', ')}` : ''}${e.leafIndex == null ? '' : ` · log entry ${e.leafIndex + 1}`}`,
    ));
    $('audit-results').append(...rows);
    if (page.next) audit.query.set('cursor', page.next);
    show('audit-more', Boolean(page.next));
    const shown = $('audit-results').children.length;
    $('audit-status').textContent = `${shown} entries${audit.about ? ` about ${audit.about}` : ''}${page.next ? ' so far' : ''}. Searching the audit log is itself written to it.`;
  } catch (error) {
    if (!error.signedOut) $('audit-status').textContent = `Not searched: ${error.message}`;
  }
}

export async function loadFeedback() {
  const { feedback } = await api('/v1/feedback?limit=50');
  list('staff-feedback', feedback.map((f) => {
    const row = item(`${f.category}${f.rating ? ` (${f.rating} of 5)` : ''}: ${f.text}`,
      f.status === 'resolved' ? `Resolved ${when(f.resolvedAt)}: ${f.resolutionNote}` : `Open since ${when(f.createdAt)} · patient ${f.patientId}`);
    if (f.status === 'open') row.append(resolveForm(f));
    return row;
  }), 'No feedback.');
}

function resolveForm(feedback) {
  const id = `resolve-${feedback.id}`;
  const note = el('textarea', { id, rows: 2, maxLength: 2000 });
  const form = el('form', {},
    el('label', { htmlFor: id, textContent: 'Answer to the patient' }),
    note,
    el('button', { type: 'submit', textContent: 'Resolve' }));
  const key = newKey();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!note.value.trim()) {
      $('staff-feedback-status').textContent = 'Write the answer first.';
      return;
    }
    try {
      await api(`/v1/feedback/${encodeURIComponent(feedback.id)}/resolve`, { method: 'POST', key, json: { note: note.value.trim() } });
      await loadFeedback();
      $('staff-feedback-status').textContent = 'Resolved; the patient sees the answer in their portal.';
    } catch (error) {
      if (!error.signedOut) $('staff-feedback-status').textContent = `Not resolved: ${error.message}`;
    }
  });
  return form;
}

// A report's days as people say them, both ends included (`to` is the day after the last).
function reportDays(from, to) {
  const day = (date) => new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(date);
  const last = new Date(Date.parse(`${to}T12:00:00Z`) - 86400e3);
  return `${day(new Date(`${from}T12:00:00Z`))} to ${day(last)}`;
}

export async function loadReports() {
  // A live report of today unless another day was chosen.
  const today = dateIn(Date.now(), session.zone);
  for (const id of ['live-from', 'live-to']) if (!$(id).value) $(id).value = today;
  const { reports } = await api('/v1/reports');
  list('reports', reports.map((r) => {
    const row = item(reportDays(r.from, r.to));
    const open = el('button', { type: 'button', className: 'secondary', textContent: `Open the report of ${reportDays(r.from, r.to)}` });
    open.addEventListener('click', () => openReport(r.id).catch((e) => { $('reports-status').textContent = e.message; }));
    row.append(open);
    return row;
  }), 'No reports yet: they are published every week and month.');
}

async function openReport(id) {
  showReport(await api(`/v1/reports/${encodeURIComponent(id)}`));
  $('reports-status').textContent = 'Opening a report is written to the audit log.';
}

// A live report: any days up to today, computed now.
async function liveReport(event) {
  event.preventDefault();
  const from = $('live-from').value;
  const to = $('live-to').value;
  if (!from || !to || to < from) {
    $('reports-status').textContent = 'Choose a first and a last day, the last on or after the first.';
    return;
  }
  try {
    showReport(await api(`/v1/live-report?${new URLSearchParams({ from, to })}`));
    $('reports-status').textContent = 'A live report, computed now; reading it is written to the audit log.';
    $('report-view').scrollIntoView({ block: 'start' });
  } catch (error) {
    if (!error.signedOut) $('reports-status').textContent = `No report: ${error.message}`;
  }
}

function showReport(report) {
  const parts = [
    el('h2', { textContent: `${report.practice}: ${reportDays(report.period.from, report.period.to)}` }),
    el('p', { textContent: `Audit log: ${report.auditLog.verification}${report.auditLog.coversPeriod ? ', sealed for the whole period' : ''}.` }),
  ];
  for (const flag of report.flags) parts.push(el('p', { className: 'notice', textContent: flag }));
  for (const table of report.tables) {
    const head = el('tr', {}, ...table.columns.map((c) => el('th', { scope: 'col', textContent: c })));
    const rows = table.rows.map((r) => el('tr', {}, ...r.map((cell) => el('td', { textContent: String(cell) }))));
    // Wide tables scroll sideways on a phone: the region takes keyboard focus to scroll.
    const region = el('div', { className: 'scroll', tabIndex: 0, role: 'region' });
    region.setAttribute('aria-label', table.title);
    parts.push(region);
    region.append(el('table', {}, el('caption', { textContent: table.title }), el('thead', {}, head), el('tbody', {}, ...rows)));
  }
  $('report-view').replaceChildren(...parts);
}

export function wireStaff() {
  const calendarFailed = (e) => { $('calendar-status').textContent = e.message; };
  $('calendar-form').addEventListener('submit', (event) => { event.preventDefault(); showCalendar(1).catch(calendarFailed); });
  $('calendar-week').addEventListener('click', () => showCalendar(7).catch(calendarFailed));
  $('calendar-today').addEventListener('click', () => { $('calendar-day').value = today(); showCalendar(schedule.days).catch(calendarFailed); });
  $('search-form').addEventListener('submit', searchPatients);
  // The copy of her record a patient at the desk asks for (audited as made by this login).
  recordButtons('chosen-record', () => staff.patient.patientId, () => `record-${staff.patient.patientId}`);
  $('live-form').addEventListener('submit', liveReport);
  // Typing a new search clears the last one's answer (a search too short to send says nothing).
  $('search-query').addEventListener('input', () => {
    $('search-status').textContent = '';
    $('patient-results').replaceChildren();
  });
  $('charge-form').addEventListener('submit', postCharge);
  $('show-waitlist').addEventListener('click', () => showWaitlist().catch((e) => { $('staff-waitlist-status').textContent = e.message; }));
  // The feeds and other calendars are loaded when asked for (few open them; the page stays light).
  $('show-feeds').addEventListener('click', () => import('./feeds.js').then(({ showFeeds }) => showFeeds()).catch((e) => { $('feeds-status').textContent = e.message; }));
  $('staff-provider').addEventListener('change', () => fillServices($('staff-service'), $('staff-provider').value));
  $('staff-book').addEventListener('submit', (event) => staffFindTimes(event).catch((e) => { $('staff-book-status').textContent = e.message; }));
  $('staff-confirm-book').addEventListener('click', bookConfirmed);
  $('staff-repeat').addEventListener('change', () => {
    show('staff-repeat-more', $('staff-repeat').value !== '0');
    show('staff-series-conflicts', false);
    if (staff.booking) staff.booking.key = newKey();
  });
  $('staff-repeat-count').addEventListener('change', () => { if (staff.booking) staff.booking.key = newKey(); });
  $('staff-series-skip').addEventListener('click', () => { if (staff.booking) bookSeries(staff.booking, 'skip'); });
  $('staff-confirm-back').addEventListener('click', () => { show('staff-confirm', false); staff.booking = null; $('staff-slots').querySelector('button')?.focus(); });
  $('audit-form').addEventListener('submit', (event) => searchAudit(event));
  $('audit-more').addEventListener('click', () => searchAudit(null, true));
}
