// The staff console's list of a patient's cancellation and no-show fees: each with its visit, and
// waived (when and why) or a form to waive it with a reason chosen from a list.
import { $, api, dayLabel, el, item, list, money, newKey, session, when } from './common.js';

const FEE_WORDS = { late_cancellation: 'Late cancellation fee', no_show: 'Missed appointment fee' };
const WAIVER_WORDS = {
  arrived_late: 'she arrived after being marked a no-show', emergency: 'an emergency', first_occurrence: 'the first time',
  practice_error: "the practice's error", goodwill: 'goodwill', other: 'another reason',
};

// The fees the cancellation policy charged her, each waived (and why) or with a way to waive it.
export function showFees(patient, balance, appointments, reopen) {
  const visits = new Map(appointments.map((a) => [a.id, a]));
  $('chosen-fees-status').textContent = '';
  list('chosen-fees', balance.charges.filter((c) => c.fee && !c.adjusts).map((fee) => {
    const visit = visits.get(fee.appointmentId);
    const what = `${FEE_WORDS[fee.fee] || fee.fee}: ${money(fee.total, fee.currency)}${visit ? ` · visit on ${dayLabel(visit.start, visit.timeZone || session.zone)}` : ''}`;
    const waiver = balance.charges.find((c) => c.adjusts === fee.id && c.waiver);
    if (waiver) return item(what, `Waived (${WAIVER_WORDS[waiver.waiver] || waiver.waiver}) on ${when(waiver.createdAt)}`);
    // Corrections staff posted (adjusting entries) may have brought it down, or to nothing.
    const left = fee.total + balance.charges.filter((c) => c.adjusts === fee.id).reduce((sum, c) => sum + c.total, 0);
    if (left <= 0) return item(what, 'Corrected to nothing: nothing left to waive');
    const row = item(what, `Charged on ${when(fee.createdAt)}${left < fee.total ? `; ${money(left, fee.currency)} left after corrections` : ''}`);
    const form = el('form', { className: 'actions' });
    const reason = el('select', { required: true });
    reason.append(new Option('Choose a reason', ''),
      ...['emergency', 'first_occurrence', 'practice_error', 'goodwill', 'other'].map((r) => new Option(WAIVER_WORDS[r], r)));
    reason.setAttribute('aria-label', `Why waive: ${what}`);
    const waive = el('button', { type: 'submit', className: 'secondary', textContent: 'Waive' });
    waive.setAttribute('aria-label', `Waive: ${what}`);
    const key = newKey();
    form.append(reason, waive);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api(`/v1/charges/${encodeURIComponent(fee.id)}/waive`, { method: 'POST', key, json: { patientId: patient.patientId, reason: reason.value } });
        await reopen(patient);
        $('chosen-fees-status').textContent = `Waived: ${what}.`;
        $('chosen-fees-status').focus();
      } catch (error) {
        if (error.signedOut) return;
        // Waived or corrected meanwhile (another screen): show her fees as they are now.
        if (error.status === 409) await reopen(patient).catch(() => {});
        $('chosen-fees-status').textContent = `Not waived: ${error.message}`;
      }
    });
    row.append(form);
    return row;
  }), 'No fees.');
}

