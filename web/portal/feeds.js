// The calendar page's feeds and other calendars, loaded when the page asks for them: each
// provider's private subscription address and the calendars whose busy time blocks theirs.
import { $, api, confirmButton, el, item, list, newKey, when } from './common.js';

// Calendar feeds: each provider's (and, for staff, the practice's) private subscription address:
// made, replaced (the old one stops working) or turned off; a provider's may show initials, and
// the console says what that means before it is turned on.
export async function showFeeds() {
  const { feeds } = await api('/v1/calendar-feeds');
  const status = $('feeds-status');
  const blocks = feeds.map((f, index) => {
    const box = el('div', { className: 'series' }, el('h3', { textContent: f.name }));
    box.append(el('p', {
      textContent: f.active
        ? `On since ${when(f.createdAt)}${f.patientInitials ? '; shows patients\' initials' : ''}.`
        : 'Off: no link.',
    }));
    const key = { make: newKey(), off: newKey() };
    let initials = null;
    if (f.providerId) {
      initials = el('input', { type: 'checkbox', id: `feed-${index}-initials`, checked: f.patientInitials });
      const warning = el('p', {
        id: `feed-${index}-initials-note`, className: 'muted',
        textContent: 'With initials, the company that runs your calendar receives patient data: the practice needs a business associate agreement (BAA) with it first.',
      });
      initials.setAttribute('aria-describedby', warning.id);
      initials.addEventListener('change', () => {
        key.make = newKey();
        if (f.active) status.textContent = 'The initials setting takes effect when you replace the link.';
      });
      box.append(el('label', { className: 'choice' }, initials, f.active ? ' Show patients\' initials (with the next link)' : ' Show patients\' initials'), warning);
    }
    const link = el('div');
    const make = async () => {
      try {
        const made = await api('/v1/calendar-feeds', {
          method: 'POST', key: key.make,
          json: { ...(f.providerId ? { providerId: f.providerId } : {}), patientInitials: Boolean(initials?.checked) },
        });
        key.make = newKey();
        await showFeeds();
        status.textContent = `${made.replaced ? 'Replaced' : 'Made'} the link of ${f.name}${made.replaced ? ': the old one no longer works' : ''}. Copy it now; it is shown only once.`;
        const input = el('input', { type: 'text', readOnly: true, value: made.url, id: 'feed-new-url' });
        $('feeds').prepend(el('div', { className: 'series' }, el('label', { htmlFor: input.id, textContent: `Subscription address for ${f.name} (shown once)` }), input));
        input.focus();
        input.select();
      } catch (error) {
        if (!error.signedOut) status.textContent = `Not done: ${error.message}`;
      }
    };
    if (f.active) {
      link.append(confirmButton('Replace the link', 'Yes, replace it', 'No, keep it', make, `Replace the link of ${f.name}`));
      link.append(confirmButton('Turn the feed off', 'Yes, turn it off', 'No, keep it', async () => {
        try {
          await api('/v1/calendar-feeds/revoke', { method: 'POST', key: key.off, json: f.providerId ? { providerId: f.providerId } : {} });
          await showFeeds();
          status.textContent = `Turned off the feed of ${f.name}: its link no longer works.`;
        } catch (error) {
          if (!error.signedOut) status.textContent = `Not done: ${error.message}`;
        }
      }, `Turn the feed off: ${f.name}`));
    } else {
      const button = el('button', { type: 'button', textContent: 'Make a link' });
      button.setAttribute('aria-label', `Make a link for ${f.name}`);
      button.addEventListener('click', make);
      link.append(button);
    }
    box.append(link);
    if (f.providerId) box.append(otherCalendars(f, index));
    return box;
  });
  $('feeds').replaceChildren(...blocks);
  if (!feeds.length) status.textContent = 'No calendar of yours to share.';
}

// A provider's other calendars (Google, Outlook, Apple iCal addresses) whose busy time blocks
// their availability: listed by label and host (an address is never shown again), with the last
// read's outcome; added by label and address; removed after a confirmation.
function otherCalendars(f, index) {
  const section = el('div', { className: 'other-calendars' });
  const heading = el('h4', { id: `busy-${index}-title`, textContent: `Busy time from other calendars: ${f.name}` });
  const intro = el('p', {
    className: 'muted',
    textContent: `Times marked busy in another calendar of ${f.name} (a personal calendar, a hospital rota) stop being bookable here. Each is read every 15 minutes.`,
  });
  const rows = el('ul', { className: 'list', id: `busy-${index}-list` });
  rows.setAttribute('aria-labelledby', heading.id);
  const status = el('p', { id: `busy-${index}-status`, role: 'status', tabIndex: -1 });
  const path = `/v1/providers/${encodeURIComponent(f.providerId)}/calendars`;
  const key = { add: newKey() };
  const label = el('input', { type: 'text', id: `busy-${index}-label`, maxLength: 60, autocomplete: 'off' });
  const address = el('input', { type: 'url', id: `busy-${index}-address`, maxLength: 2000, autocomplete: 'off', spellcheck: false });
  const hint = el('p', {
    id: `busy-${index}-hint`, className: 'muted',
    textContent: 'The calendar app\'s secret iCal address (https:// or webcal://). It is stored encrypted and never shown again.',
  });
  address.setAttribute('aria-describedby', hint.id);
  const count = el('p', { id: `busy-${index}-count` });
  const form = el('form', { noValidate: true },
    el('label', { htmlFor: label.id, textContent: 'Name (e.g. Personal)' }), label,
    el('label', { htmlFor: address.id, textContent: 'Calendar address' }), address, hint,
    el('button', { type: 'submit', textContent: 'Add calendar' }));
  const refresh = async () => {
    const { calendars, limit } = await api(path);
    list(rows.id, calendars.map((c) => {
      const name = `${c.label} (${c.host})`;
      let state = 'Not read yet: the first read comes within a few minutes.';
      if (c.error) {
        state = `Last read failed ${when(c.lastTriedAt)}: ${c.error} The next try is within 15 minutes. `
          + (c.lastFetchedAt ? `The busy times read ${when(c.lastFetchedAt)} still count.` : 'Nothing from it blocks bookings yet.');
      } else if (c.lastFetchedAt) {
        state = `Read ${when(c.lastFetchedAt)}: ${c.busyBlocks} busy ${c.busyBlocks === 1 ? 'time' : 'times'} in the booking window${c.skippedEvents ? ` (${c.skippedEvents} events could not be read)` : ''}.`;
      }
      const row = item(name, state);
      if (c.error) row.lastChild.classList.add('failed');
      row.append(confirmButton('Remove', 'Yes, remove it', 'No, keep it', async () => {
        try {
          await api(`${path}/${encodeURIComponent(c.id)}/remove`, { method: 'POST', key: newKey(), json: {} });
          await refresh();
          status.textContent = `Removed ${name}: its busy times no longer block bookings with ${f.name}.`;
          status.focus();
        } catch (error) {
          if (!error.signedOut) status.textContent = `Not removed: ${error.message}`;
        }
      }, `Remove the calendar ${name}`));
      return row;
    }), 'No other calendars.');
    count.textContent = `${calendars.length} of ${limit} calendars.${calendars.length >= limit ? ' Remove one to add another.' : ''}`;
    form.hidden = calendars.length >= limit;
  };
  form.addEventListener('input', () => { key.add = newKey(); address.removeAttribute('aria-invalid'); label.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const missing = !label.value.trim() ? label : (!address.value.trim() ? address : null);
    if (missing) {
      missing.setAttribute('aria-invalid', 'true');
      status.textContent = 'Give the calendar a name and its address.';
      missing.focus();
      return;
    }
    try {
      const added = await api(path, { method: 'POST', key: key.add, json: { label: label.value.trim(), address: address.value.trim() } });
      key.add = newKey();
      form.reset();
      await refresh();
      status.textContent = `Added ${added.label} (${added.host}); its busy times count from its first read.`;
    } catch (error) {
      if (error.signedOut) return;
      status.textContent = `Not added: ${error.message}`;
      const field = /^Give the calendar a name/.test(error.message) ? label : address;
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  });
  section.append(heading, intro, rows, count, form, status);
  refresh().catch((error) => { if (!error.signedOut) status.textContent = error.message; });
  return section;
}
