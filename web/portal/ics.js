// An appointment as a calendar file (RFC 5545), made in the browser: what, when, where (online, or
// the practice's address), nothing about why.
import { catalog, describe } from './common.js';

// RFC 5545 text: escaped, and folded at 75 octets.
function icsText(value) {
  return String(value).replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');
}
function icsFold(line) {
  const bytes = new TextEncoder().encode(line);
  if (bytes.length <= 75) return line;
  const out = [];
  let current = '';
  for (const ch of line) {
    if (new TextEncoder().encode(current + ch).length > (out.length ? 74 : 75)) { out.push(current); current = ''; }
    current += ch;
  }
  out.push(current);
  return out.join('\r\n ');
}
const icsTime = (instant) => new Date(instant).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

export function appointmentIcs(appointment, now = Date.now()) {
  const practice = catalog.practice || {};
  const contact = practice.contact || {};
  const call = contact.phone ? ` or call ${contact.phone}` : '';
  const lines = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Practica//Patient portal//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${appointment.id}@practica`,
    `DTSTAMP:${icsTime(now)}`,
    `DTSTART:${icsTime(appointment.start)}`,
    `DTEND:${icsTime(appointment.end)}`,
    `SUMMARY:${icsText(`${describe(appointment)}${practice.name ? ` (${practice.name})` : ''}`)}`,
    ...(appointment.online ? ['LOCATION:Online (a video visit: join it from the patient portal)'] : contact.address ? [`LOCATION:${icsText(contact.address)}`] : []),
    `DESCRIPTION:${icsText(`To move or cancel, sign in to the patient portal${call}.`)}`,
    'END:VEVENT', 'END:VCALENDAR',
  ];
  return `${lines.map(icsFold).join('\r\n')}\r\n`;
}

