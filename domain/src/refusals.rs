//! Why the rules refuse a request: one enum per area, each variant a reason a person can act on,
//! its text (the `Display`) the explanation the client gets. No status codes here:
//! `shared::web::problem` maps every variant to its HTTP status and stable `code` in one table.
//! Texts never quote the request's values (they may be patient data).

use crate::schedule::SlotError;

/// Booking: holds, appointments, the waitlist and per-patient limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("The practice has not been set up yet.")]
    PracticeNotConfigured,
    #[error("The provider does not offer this service.")]
    ServiceNotOffered,
    #[error("Staff must name the patient (patientId).")]
    PatientRequired,
    #[error("No patient is registered under patientId.")]
    UnknownPatient,
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("That time, or part of it, is no longer available.")]
    SlotTaken,
    #[error("The hold has expired or was released.")]
    HoldExpired,
    #[error("The hold is for another provider, service or start.")]
    HoldMismatch,
    #[error("A reason is at most 1000 characters without control characters.")]
    InvalidReason,
    #[error("The appointment is cancelled.")]
    AppointmentCancelled,
    #[error("The appointment has already started.")]
    AppointmentStarted,
    #[error("It is too close to the appointment to change it online; please call the practice.")]
    CutoffPassed,
    #[error(
        "The visit is inside its cancellation policy's window: it can no longer be moved online (cancelling costs the policy's fee); please call the practice."
    )]
    InsideFeeWindow,
    #[error(
        "The service's cancellation policy changed since it was shown: read it again (GET /v1/services) and book with its new version."
    )]
    PolicyChanged,
    #[error("The appointment already starts then.")]
    SameStart,
    #[error(
        "The appointment is confirmed once its deposit is paid (POST /v1/appointments/{{id}}/deposit); until then it can only be cancelled."
    )]
    AwaitingDeposit,
    #[error(
        "This service is not offered that way: online is for online (or either) services only."
    )]
    VisitModeNotOffered,
    #[error("This appointment is not an online visit.")]
    NotOnline,
    #[error(
        "The visit room is not open now: it opens 15 minutes before the start and closes 30 minutes after the end."
    )]
    VisitNotOpen,
    #[error("No one is waiting to be admitted.")]
    NobodyWaiting,
    #[error(
        "certificate is a DTLS certificate fingerprint: sha-256 (or sha-384, sha-512) and its bytes as hex pairs with colons."
    )]
    InvalidCertificate,
    #[error("The appointment changed meanwhile; read it and try again.")]
    AppointmentChanged,
    #[error("to must be after from, at most 31 days later.")]
    InvalidWindow,
    #[error("The window has already passed.")]
    WindowPassed,
    #[error("You already have as many {} as the practice allows; {}.", .0.noun(), .0.remedy())]
    LimitReached(Limited),
    #[error(
        "The waitlist entry changed meanwhile (an offer was made, booked or lapsed); read it and try again."
    )]
    WaitlistEntryChanged,
    #[error("This request is already on the waitlist.")]
    AlreadyWaiting,
    #[error(
        "Not from this state: a booked appointment is checked in or marked a no-show, a no-show checked in, an arrived patient's visit completed."
    )]
    AttendanceNotAllowed,
    #[error(
        "Too early: check in from two hours before the start; record a no-show or a completed visit once it has started."
    )]
    AttendanceTooEarly,
    #[error("The patient's attendance is already recorded for this appointment.")]
    AttendanceRecorded,
    #[error("everyWeeks is 1, 2, 3 or 4.")]
    SeriesEvery,
    #[error(
        "A series ends after 2 to 52 occurrences (count) or on a date (until, YYYY-MM-DD) after its first occurrence and at most 12 months from today: give one of them."
    )]
    SeriesEnd,
    #[error("A series has at most 52 occurrences; end it sooner.")]
    SeriesTooLong,
    #[error("This service is not booked as a series online; the practice books series for it.")]
    SeriesNotSelfBookable,
    #[error(
        "A series booked online has at most as many occurrences as the practice allows; the practice can book a longer one."
    )]
    SeriesOccurrenceLimit,
    #[error("The series changed meanwhile; read it and try again.")]
    SeriesChanged,
    #[error("fromAppointmentId is not an upcoming booked occurrence of this series.")]
    NotInSeries,
}

/// What a per-patient limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    Appointments,
    Holds,
    WaitlistEntries,
    Feedback,
}

impl Limited {
    fn noun(self) -> &'static str {
        match self {
            Limited::Appointments => "upcoming appointments",
            Limited::Holds => "held times",
            Limited::WaitlistEntries => "open waitlist entries",
            Limited::Feedback => "messages sent today",
        }
    }
    fn remedy(self) -> &'static str {
        match self {
            Limited::Appointments | Limited::Holds => "cancel one or call the practice",
            Limited::WaitlistEntries => "leave one or call the practice",
            Limited::Feedback => "try again tomorrow or call the practice",
        }
    }
}

/// Practice setup by staff: the practice, providers, schedules and services.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("A name is 1 to 200 characters without control characters.")]
    InvalidName,
    /// The schedule rules' own explanation of what is wrong.
    #[error("{0}")]
    InvalidRules(&'static str),
    #[error("timeZone must be an IANA zone name.")]
    InvalidTimeZone,
    #[error(
        "holdMinutes is 1 to 60; waitlistOfferMinutes is 5 to 1440; autoNoShowMinutes is 15 to 240."
    )]
    InvalidPolicy,
    /// The limits' own explanation of what is wrong.
    #[error("{0}")]
    InvalidLimits(&'static str),
    #[error("{0}")]
    InvalidContact(&'static str),
    #[error("durationMinutes is a multiple of 5 from 5 to 180.")]
    InvalidDuration,
    #[error("providerIds lists 1 to 50 providers.")]
    InvalidProviders,
    #[error("providerIds names an unknown provider.")]
    UnknownProvider,
    /// Another change of the same record won the race.
    #[error("Try again.")]
    ChangedMeanwhile,
    #[error(
        "Patients' initials are shown only in a provider's own calendar feed, turned on by that provider."
    )]
    FeedInitials,
    #[error(
        "The address must start with https:// (or webcal://) and be a calendar's iCal link, at most 2000 characters, on the standard port."
    )]
    CalendarAddress,
    #[error(
        "The address points at this machine or a private network; use the calendar's iCal link on the internet."
    )]
    CalendarPrivate,
    #[error("Give the calendar a name of 1 to 60 characters (label).")]
    CalendarLabel,
    #[error(
        "requiredConsents names at most 5 published consent documents (GET /v1/consents lists them)."
    )]
    UnknownConsent,
    #[error(
        "formsBeforeFirstVisit and formsBeforeEveryVisit each name at most 5 published forms (GET /v1/forms lists them)."
    )]
    UnknownForm,
    #[error(
        "A cancellation policy needs the service's price (its fees are in the price's currency)."
    )]
    PolicyNeedsPrice,
    #[error(
        "cancellationPolicy: lateWindowHours is 1 to 168; it names at least one fee or a deposit, each {{\"fixed\": minor units}} from 1 to the service's price or {{\"percent\": 1 to 100}}."
    )]
    InvalidCancellationPolicy,
    #[error("A provider may add 5 other calendars; remove one first.")]
    TooManyCalendars,
}

/// Patient registration and demographics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatientError {
    #[error("name is 1 to 200 characters.")]
    InvalidName,
    #[error("dateOfBirth is a date from 1900 to today.")]
    InvalidDateOfBirth,
    #[error("phone has 7 to 15 digits.")]
    InvalidPhone,
    #[error("email is not an email address.")]
    InvalidEmail,
    #[error("A patient is already registered under this patientId.")]
    PatientExists,
    #[error(
        "Your sign-in does not vouch for an email address: send the ID token of this login in X-Id-Token."
    )]
    EmailNotVouched,
    #[error(
        "The address you sign in with is not the one on your record; send replace: true to use it for messages, or ask the practice to correct the record."
    )]
    EmailDiffers,
    #[error("Your record changed meanwhile; try again.")]
    ChangedMeanwhile,
    #[error("X-Id-Token is not a valid ID token of this login.")]
    InvalidIdToken,
    #[error(
        "Search for a name word of at least 3 letters, a phone number of at least 7 digits, a date of birth (YYYY-MM-DD) or an email address."
    )]
    SearchTooShort,
    #[error("A search is at most 100 characters and 4 words.")]
    SearchTooLong,
    #[error("Write a date of birth as YYYY-MM-DD, e.g. 1988-04-12.")]
    SearchDateFormat,
    #[error("Send either email or query.")]
    SearchEitherEmailOrQuery,
}

/// Feedback and complaints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("text is 1 to 4000 characters without control characters other than line breaks.")]
    InvalidText,
    #[error("rating is a whole number from 1 to 5.")]
    InvalidRating,
    #[error("You have no appointment with this appointmentId.")]
    UnknownAppointment,
    #[error("note is 1 to 4000 characters without control characters other than line breaks.")]
    InvalidNote,
    #[error("This feedback is already resolved.")]
    AlreadyResolved,
}

/// Charges, balances, payment intents and processor events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("A charge has 1 to 50 line items.")]
    InvalidLineItems,
    #[error("A line-item description is 1 to 200 characters without control characters.")]
    InvalidDescription,
    #[error("A line-item amount is a non-zero whole number of minor units within range.")]
    InvalidLineAmount,
    #[error("A charge totals more than zero; corrections are adjusting entries (adjusts).")]
    NonPositiveCharge,
    #[error("The patient has no charge with this id.")]
    UnknownCharge,
    #[error("An adjustment is in the currency of the charge it corrects.")]
    AdjustmentCurrency,
    #[error("Adjust the original charge, not an adjustment.")]
    AdjustsAdjustment,
    #[error("The adjustment would take the charge below zero.")]
    AdjustmentExceedsCharge,
    #[error("The patient has no appointment with this id.")]
    UnknownAppointment,
    #[error("No patient is registered under patientId.")]
    UnknownPatient,
    #[error(
        "The patient's ledger changed while this request was prepared; retry with the same Idempotency-Key."
    )]
    BalanceChanged,
    #[error("amount is a whole number of minor units greater than zero.")]
    InvalidAmount,
    #[error("The amount is out of range.")]
    AmountOutOfRange,
    #[error("The patient has no charges in this currency.")]
    NoChargesInCurrency,
    #[error("A chosen charge is in another currency.")]
    ChargeInOtherCurrency,
    #[error("The amount is more than is outstanding.")]
    AmountExceedsBalance,
    #[error("Nothing is outstanding.")]
    NothingDue,
    #[error("An earlier payment is being completed; check the balance before paying again.")]
    PaymentInProgress,
    #[error("This payment was already recorded.")]
    PaymentExists,
    #[error("The payment processor declined the payment.")]
    Declined,
    #[error("The processor saw this Idempotency-Key with a different amount; use a new key.")]
    ProcessorKeyReused,
    #[error("The event's amount or currency does not match the payment.")]
    EventInconsistent,
    #[error(
        "Only a fee the cancellation policy charged can be waived; correct other charges with an adjusting entry."
    )]
    NotAFee,
    #[error("This fee was already waived.")]
    FeeAlreadyWaived,
    #[error("Corrections brought this fee to nothing: there is nothing left to waive.")]
    FeeNothingLeft,
    #[error(
        "arrived_late is recorded by checking in a patient marked a no-show; choose another reason."
    )]
    WaiverReasonReserved,
    #[error("The patient keeps no card on file.")]
    NoCardOnFile,
    #[error("This appointment has no deposit to pay: none was asked, or it is paid.")]
    NoDepositDue,
    #[error("The time held for this deposit lapsed, or the appointment was cancelled; book again.")]
    DepositLapsed,
    #[error(
        "The card on file is not the one named (another was saved meanwhile); reload and retry."
    )]
    CardChanged,
    #[error("Draft the dispute's evidence first (POST .../evidence), read it, then submit it.")]
    EvidenceNotDrafted,
    #[error("The dispute's evidence was already submitted; it cannot change.")]
    EvidenceSubmitted,
    #[error("The card network already decided this dispute.")]
    DisputeClosed,
    #[error(
        "The dispute's evidence was drafted again meanwhile: read the new draft, then submit it."
    )]
    EvidenceChanged,
}

/// The workforce's logins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("email is an address (at most 254 characters).")]
    InvalidEmail,
    #[error("name is 1 to 100 characters without control characters.")]
    InvalidName,
    #[error("role is staff, provider or admin.")]
    InvalidRole,
    #[error("A login with this address exists.")]
    Exists,
    #[error("An administrator cannot disable their own login: another administrator does.")]
    DisableSelf,
    #[error("This is the practice's last enabled administrator: add another administrator first.")]
    LastAdministrator,
}
