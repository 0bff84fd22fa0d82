use super::*;
use crate::crypto::CryptoError;
use crate::store::TableError;
use http_body_util::BodyExt as _;

async fn render(e: ApiError) -> (StatusCode, String, serde_json::Value) {
    let response = e.into_response();
    let status = response.status();
    let ct = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, ct, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn internal_errors_never_reach_the_body() {
    let secret_cause =
        anyhow::anyhow!("patient Jane Doe: table practica-prod key PAT#123 exploded");
    let (status, ct, body) = render(ApiError::Unexpected(secret_cause)).await;
    assert_eq!(status, 500);
    assert_eq!(ct, PROBLEM_JSON);
    assert_eq!(body["code"], "internal");
    assert!(!body.to_string().contains("Jane"));
    assert!(!body.to_string().contains("PAT#123"));
}

#[tokio::test]
async fn key_service_outage_is_503_with_retry_after() {
    let e: ApiError =
        CryptoError::KeyServiceUnavailable(anyhow::anyhow!("DisabledException")).into();
    let response = e.into_response();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let (_, _, body) =
        render(CryptoError::KeyServiceUnavailable(anyhow::anyhow!("x")).into()).await;
    assert_eq!(body["type"], "urn:practica:problem:key_service_unavailable");
    assert!(!body.to_string().contains("Disabled"));
}

#[tokio::test]
async fn unreachable_table_is_503() {
    let (status, _, body) =
        render(TableError::Unavailable(anyhow::anyhow!("connection refused")).into()).await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "storage_unavailable");
    assert!(!body.to_string().contains("refused"));
}

#[tokio::test]
async fn throttled_table_is_503() {
    let (status, _, body) = render(TableError::Throttled.into()).await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "storage_busy");
    assert_eq!(body["status"], 503);
}

/// Every refusal keeps the status, code and text it had before the domain errors were typed
/// (the table was taken from the call sites they replaced).
#[test]
fn every_refusal_keeps_its_status_code_and_text() {
    use crate::error::InputError;
    use domain::refusals::*;
    use domain::schedule::SlotError;
    let cases = [
        (
            ApiError::Patient(PatientError::InvalidName),
            422,
            "invalid_name",
            "name is 1 to 200 characters.",
        ),
        (
            ApiError::Patient(PatientError::InvalidDateOfBirth),
            422,
            "invalid_date_of_birth",
            "dateOfBirth is a date from 1900 to today.",
        ),
        (
            ApiError::Patient(PatientError::InvalidPhone),
            422,
            "invalid_phone",
            "phone has 7 to 15 digits.",
        ),
        (
            ApiError::Patient(PatientError::InvalidEmail),
            422,
            "invalid_email",
            "email is not an email address.",
        ),
        (
            ApiError::Patient(PatientError::PatientExists),
            409,
            "patient_exists",
            "A patient is already registered under this patientId.",
        ),
        (
            ApiError::Booking(BookingError::SlotTaken),
            409,
            "slot_taken",
            "That time, or part of it, is no longer available.",
        ),
        (
            ApiError::Input(InputError::InvalidProviderId),
            400,
            "invalid_provider_id",
            "providerId is not a provider id.",
        ),
        (
            ApiError::Input(InputError::InvalidRange),
            400,
            "invalid_range",
            "to must be after from.",
        ),
        (
            ApiError::Input(InputError::InvalidTreeSizes),
            400,
            "invalid_tree_sizes",
            "from must be a size the log signed, at most to, and to at most the latest signed checkpoint's size.",
        ),
        (
            ApiError::Input(InputError::RangeTooLong),
            400,
            "range_too_long",
            "A range is at most 31 days.",
        ),
        (
            ApiError::Booking(BookingError::InvalidReason),
            422,
            "invalid_reason",
            "A reason is at most 1000 characters without control characters.",
        ),
        (
            ApiError::Booking(BookingError::PracticeNotConfigured),
            409,
            "practice_not_configured",
            "The practice has not been set up yet.",
        ),
        (
            ApiError::Booking(BookingError::ServiceNotOffered),
            422,
            "service_not_offered",
            "The provider does not offer this service.",
        ),
        (
            ApiError::Booking(BookingError::PatientRequired),
            422,
            "patient_required",
            "Staff must name the patient (patientId).",
        ),
        (
            ApiError::Input(InputError::InvalidServiceId),
            400,
            "invalid_service_id",
            "serviceId is not a service id.",
        ),
        (
            ApiError::Booking(BookingError::HoldExpired),
            409,
            "hold_expired",
            "The hold has expired or was released.",
        ),
        (
            ApiError::Booking(BookingError::HoldMismatch),
            422,
            "hold_mismatch",
            "The hold is for another provider, service or start.",
        ),
        (
            ApiError::Booking(BookingError::UnknownPatient),
            422,
            "unknown_patient",
            "No patient is registered under patientId.",
        ),
        (
            ApiError::Input(InputError::RangeRequired),
            400,
            "range_required",
            "A provider's calendar is listed with from and to.",
        ),
        (
            ApiError::Input(InputError::CalendarProviderRequired),
            400,
            "provider_required",
            "Staff and providers list a provider's calendar (providerId, from, to).",
        ),
        (
            ApiError::Booking(BookingError::AppointmentCancelled),
            409,
            "appointment_cancelled",
            "The appointment is cancelled.",
        ),
        (
            ApiError::Booking(BookingError::AppointmentStarted),
            409,
            "appointment_started",
            "The appointment has already started.",
        ),
        (
            ApiError::Booking(BookingError::CutoffPassed),
            409,
            "cutoff_passed",
            "It is too close to the appointment to change it online; please call the practice.",
        ),
        (
            ApiError::Booking(BookingError::SameStart),
            422,
            "same_start",
            "The appointment already starts then.",
        ),
        (
            ApiError::Booking(BookingError::AppointmentChanged),
            409,
            "appointment_changed",
            "The appointment changed meanwhile; read it and try again.",
        ),
        (
            ApiError::Booking(BookingError::InvalidWindow),
            422,
            "invalid_range",
            "to must be after from, at most 31 days later.",
        ),
        (
            ApiError::Booking(BookingError::WindowPassed),
            422,
            "in_past",
            "The window has already passed.",
        ),
        (
            ApiError::Input(InputError::WaitlistProviderRequired),
            400,
            "provider_required",
            "Staff list a provider's waitlist (providerId).",
        ),
        (
            ApiError::Setup(SetupError::InvalidName),
            422,
            "invalid_name",
            "A name is 1 to 200 characters without control characters.",
        ),
        (
            ApiError::Setup(SetupError::InvalidTimeZone),
            422,
            "invalid_time_zone",
            "timeZone must be an IANA zone name.",
        ),
        (
            ApiError::Setup(SetupError::InvalidPolicy),
            422,
            "invalid_policy",
            "holdMinutes is 1 to 60; waitlistOfferMinutes is 5 to 1440; autoNoShowMinutes is 15 to 240.",
        ),
        (
            ApiError::Setup(SetupError::ChangedMeanwhile),
            409,
            "conflict",
            "Try again.",
        ),
        (
            ApiError::Setup(SetupError::InvalidDuration),
            422,
            "invalid_duration",
            "durationMinutes is a multiple of 5 from 5 to 180.",
        ),
        (
            ApiError::Setup(SetupError::InvalidProviders),
            422,
            "invalid_providers",
            "providerIds lists 1 to 50 providers.",
        ),
        (
            ApiError::Setup(SetupError::UnknownProvider),
            422,
            "unknown_provider",
            "providerIds names an unknown provider.",
        ),
        (
            ApiError::Payment(PaymentError::InvalidLineItems),
            422,
            "invalid_line_items",
            "A charge has 1 to 50 line items.",
        ),
        (
            ApiError::Payment(PaymentError::InvalidDescription),
            422,
            "invalid_description",
            "A line-item description is 1 to 200 characters without control characters.",
        ),
        (
            ApiError::Payment(PaymentError::InvalidLineAmount),
            422,
            "invalid_amount",
            "A line-item amount is a non-zero whole number of minor units within range.",
        ),
        (
            ApiError::Payment(PaymentError::NonPositiveCharge),
            422,
            "invalid_amount",
            "A charge totals more than zero; corrections are adjusting entries (adjusts).",
        ),
        (
            ApiError::Payment(PaymentError::UnknownCharge),
            422,
            "unknown_charge",
            "The patient has no charge with this id.",
        ),
        (
            ApiError::Payment(PaymentError::AdjustmentCurrency),
            422,
            "currency_mismatch",
            "An adjustment is in the currency of the charge it corrects.",
        ),
        (
            ApiError::Payment(PaymentError::AdjustsAdjustment),
            422,
            "invalid_adjustment",
            "Adjust the original charge, not an adjustment.",
        ),
        (
            ApiError::Payment(PaymentError::AdjustmentExceedsCharge),
            422,
            "adjustment_exceeds_charge",
            "The adjustment would take the charge below zero.",
        ),
        (
            ApiError::Payment(PaymentError::UnknownAppointment),
            422,
            "unknown_appointment",
            "The patient has no appointment with this id.",
        ),
        (
            ApiError::Payment(PaymentError::UnknownPatient),
            422,
            "unknown_patient",
            "No patient is registered under patientId.",
        ),
        (
            ApiError::Payment(PaymentError::BalanceChanged),
            409,
            "balance_changed",
            "The patient's ledger changed while this request was prepared; retry with the same Idempotency-Key.",
        ),
        (
            ApiError::Payment(PaymentError::InvalidAmount),
            422,
            "invalid_amount",
            "amount is a whole number of minor units greater than zero.",
        ),
        (
            ApiError::Payment(PaymentError::NoChargesInCurrency),
            422,
            "currency_mismatch",
            "The patient has no charges in this currency.",
        ),
        (
            ApiError::Payment(PaymentError::ChargeInOtherCurrency),
            422,
            "currency_mismatch",
            "A chosen charge is in another currency.",
        ),
        (
            ApiError::Payment(PaymentError::AmountExceedsBalance),
            422,
            "amount_exceeds_balance",
            "The amount is more than is outstanding.",
        ),
        (
            ApiError::Payment(PaymentError::NothingDue),
            422,
            "nothing_due",
            "Nothing is outstanding.",
        ),
        (
            ApiError::Payment(PaymentError::AmountOutOfRange),
            422,
            "invalid_amount",
            "The amount is out of range.",
        ),
        (
            ApiError::Payment(PaymentError::PaymentInProgress),
            409,
            "payment_in_progress",
            "An earlier payment is being completed; check the balance before paying again.",
        ),
        (
            ApiError::Payment(PaymentError::PaymentExists),
            409,
            "payment_exists",
            "This payment was already recorded.",
        ),
        (
            ApiError::Input(InputError::InvalidEvent),
            400,
            "invalid_event",
            "The event is not valid JSON of a known shape.",
        ),
        (
            ApiError::Payment(PaymentError::EventInconsistent),
            422,
            "event_inconsistent",
            "The event's amount or currency does not match the payment.",
        ),
        (
            ApiError::Input(InputError::InvalidQuery),
            400,
            "invalid_query",
            "The query parameters do not match the operation (see the OpenAPI document).",
        ),
        (
            ApiError::Input(InputError::IdempotencyKeyRequired),
            400,
            "idempotency_key_required",
            "This operation needs an Idempotency-Key header.",
        ),
        (
            ApiError::Input(InputError::InvalidIdempotencyKey),
            400,
            "invalid_idempotency_key",
            "An Idempotency-Key is 1 to 128 characters of A-Z a-z 0-9 - _ . :",
        ),
        (
            ApiError::Input(InputError::UnreadableBody),
            400,
            "unreadable_body",
            "The body could not be read.",
        ),
        (
            ApiError::Input(InputError::MalformedJson),
            400,
            "malformed_json",
            "The body is not valid JSON.",
        ),
        (
            ApiError::from(SlotError::OffGrid),
            422,
            "off_grid",
            "start is not a bookable time in the provider's schedule.",
        ),
        (
            ApiError::from(SlotError::InPast),
            422,
            "in_past",
            "start is in the past.",
        ),
        (
            ApiError::from(SlotError::InsideNotice),
            422,
            "inside_minimum_notice",
            "start is inside the provider's minimum notice.",
        ),
        (
            ApiError::from(SlotError::BeyondAdvance),
            422,
            "beyond_booking_window",
            "start is further ahead than the provider books.",
        ),
        (
            ApiError::Input(InputError::InvalidBodyTimestamp("from")),
            422,
            "invalid_timestamp",
            "from must be an RFC 3339 timestamp with an offset (Z or ±hh:mm).",
        ),
        (
            ApiError::Input(InputError::InvalidTimestamp("to")),
            400,
            "invalid_timestamp",
            "to must be an RFC 3339 timestamp with an offset (Z or ±hh:mm).",
        ),
        (
            ApiError::Booking(BookingError::LimitReached(Limited::Holds)),
            409,
            "limit_reached",
            "You already have as many held times as the practice allows; cancel one or call the practice.",
        ),
        (
            ApiError::Booking(BookingError::LimitReached(Limited::WaitlistEntries)),
            409,
            "limit_reached",
            "You already have as many open waitlist entries as the practice allows; leave one or call the practice.",
        ),
        (
            ApiError::Booking(BookingError::WaitlistEntryChanged),
            409,
            "waitlist_entry_changed",
            "The waitlist entry changed meanwhile (an offer was made, booked or lapsed); read it and try again.",
        ),
        (
            ApiError::Booking(BookingError::AlreadyWaiting),
            409,
            "already_waiting",
            "This request is already on the waitlist.",
        ),
        (
            ApiError::Setup(SetupError::InvalidRules(
                "slotMinutes is a multiple of 5 from 5 to 240",
            )),
            422,
            "invalid_rules",
            "slotMinutes is a multiple of 5 from 5 to 240",
        ),
        (
            ApiError::Input(InputError::InvalidBody),
            422,
            "invalid_body",
            "The body does not match the expected schema (see the OpenAPI document).",
        ),
        (
            ApiError::Input(InputError::IdempotencyKeyReused),
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
        ),
        (
            ApiError::Payment(PaymentError::Declined),
            409,
            "payment_declined",
            "The payment processor declined the payment.",
        ),
        (
            ApiError::Payment(PaymentError::ProcessorKeyReused),
            409,
            "processor_idempotency_conflict",
            "The processor saw this Idempotency-Key with a different amount; use a new key.",
        ),
        (
            ApiError::Input(InputError::SignatureMissing),
            400,
            "signature_missing",
            "The webhook carries no signature.",
        ),
        (
            ApiError::Input(InputError::SignatureMalformed),
            400,
            "signature_malformed",
            "The webhook's signature headers are malformed.",
        ),
        (
            ApiError::Input(InputError::SignatureOutsideTolerance),
            400,
            "signature_timestamp_out_of_tolerance",
            "The webhook's signed timestamp is too far from the current time.",
        ),
        (
            ApiError::Input(InputError::SignatureMismatch),
            400,
            "signature_mismatch",
            "No webhook signature matches a configured secret.",
        ),
        (
            ApiError::Booking(BookingError::InsideFeeWindow),
            409,
            "inside_fee_window",
            "The visit is inside its cancellation policy's window: it can no longer be moved online (cancelling costs the policy's fee); please call the practice.",
        ),
        (
            ApiError::Booking(BookingError::PolicyChanged),
            409,
            "policy_changed",
            "The service's cancellation policy changed since it was shown: read it again (GET /v1/services) and book with its new version.",
        ),
        (
            ApiError::Setup(SetupError::PolicyNeedsPrice),
            422,
            "policy_needs_price",
            "A cancellation policy needs the service's price (its fees are in the price's currency).",
        ),
        (
            ApiError::Setup(SetupError::InvalidCancellationPolicy),
            422,
            "invalid_cancellation_policy",
            "cancellationPolicy: lateWindowHours is 1 to 168; it names at least one fee or a deposit, each {\"fixed\": minor units} from 1 to the service's price or {\"percent\": 1 to 100}.",
        ),
        (
            ApiError::Payment(PaymentError::NotAFee),
            422,
            "not_a_fee",
            "Only a fee the cancellation policy charged can be waived; correct other charges with an adjusting entry.",
        ),
        (
            ApiError::Payment(PaymentError::FeeAlreadyWaived),
            409,
            "fee_already_waived",
            "This fee was already waived.",
        ),
        (
            ApiError::Payment(PaymentError::FeeNothingLeft),
            409,
            "fee_nothing_left",
            "Corrections brought this fee to nothing: there is nothing left to waive.",
        ),
        (
            ApiError::Payment(PaymentError::WaiverReasonReserved),
            422,
            "waiver_reason_reserved",
            "arrived_late is recorded by checking in a patient marked a no-show; choose another reason.",
        ),
        (
            ApiError::Payment(PaymentError::NoCardOnFile),
            404,
            "no_card_on_file",
            "The patient keeps no card on file.",
        ),
        (
            ApiError::Payment(PaymentError::NoDepositDue),
            409,
            "no_deposit_due",
            "This appointment has no deposit to pay: none was asked, or it is paid.",
        ),
        (
            ApiError::Payment(PaymentError::DepositLapsed),
            409,
            "deposit_lapsed",
            "The time held for this deposit lapsed, or the appointment was cancelled; book again.",
        ),
        (
            ApiError::Booking(BookingError::VisitModeNotOffered),
            422,
            "visit_mode_not_offered",
            "This service is not offered that way: online is for online (or either) services only.",
        ),
        (
            ApiError::Booking(BookingError::NotOnline),
            409,
            "not_online",
            "This appointment is not an online visit.",
        ),
        (
            ApiError::Booking(BookingError::VisitNotOpen),
            409,
            "visit_not_open",
            "The visit room is not open now: it opens 15 minutes before the start and closes 30 minutes after the end.",
        ),
        (
            ApiError::Booking(BookingError::NobodyWaiting),
            409,
            "nobody_waiting",
            "No one is waiting to be admitted.",
        ),
        (
            ApiError::Booking(BookingError::InvalidCertificate),
            422,
            "invalid_certificate",
            "certificate is a DTLS certificate fingerprint: sha-256 (or sha-384, sha-512) and its bytes as hex pairs with colons.",
        ),
        (
            ApiError::Booking(BookingError::AwaitingDeposit),
            409,
            "awaiting_deposit",
            "The appointment is confirmed once its deposit is paid (POST /v1/appointments/{id}/deposit); until then it can only be cancelled.",
        ),
        (
            ApiError::Payment(PaymentError::CardChanged),
            409,
            "card_changed",
            "The card on file is not the one named (another was saved meanwhile); reload and retry.",
        ),
        (
            ApiError::Payment(PaymentError::EvidenceNotDrafted),
            409,
            "evidence_not_drafted",
            "Draft the dispute's evidence first (POST .../evidence), read it, then submit it.",
        ),
        (
            ApiError::Payment(PaymentError::EvidenceSubmitted),
            409,
            "evidence_submitted",
            "The dispute's evidence was already submitted; it cannot change.",
        ),
        (
            ApiError::Payment(PaymentError::DisputeClosed),
            409,
            "dispute_closed",
            "The card network already decided this dispute.",
        ),
        (
            ApiError::Payment(PaymentError::EvidenceChanged),
            409,
            "evidence_changed",
            "The dispute's evidence was drafted again meanwhile: read the new draft, then submit it.",
        ),
    ];
    for (error, status, code, detail) in cases {
        let problem = error.problem();
        assert_eq!((problem.status, problem.code), (status, code), "{error:?}");
        assert_eq!(problem.detail, detail, "{error:?}");
        assert!(
            error.is_refusal() || status == 400 || code == "invalid_body",
            "{error:?}"
        );
    }
}
