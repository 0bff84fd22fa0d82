//! The workspace's black-box tests, one module per area, linked into one executable (`cargo test
//! -p practica-tests --test e2e [module::]`): HTTP through the routers on the embedded store and
//! DynamoDB Local, the adapters on moto, the release binaries under a Runtime API, the templates.

mod audit_access;
mod audit_function;
mod audit_on_moto;
mod authorization;
mod backup;
mod booking;
mod busy_calendars;
mod cards;
mod consents;
mod data_template;
mod deposits;
mod disputes;
mod email_verification;
mod envelope_on_emulators;
mod feedback;
mod feeds;
mod fees;
mod forms;
mod hardening;
mod http_auth;
mod inventory;
mod lambda_binaries;
mod lambda_events;
mod notifications;
mod notify_function;
mod openapi_routes;
mod patient_search;
mod payments;
mod record;
mod reports;
mod safeguards;
mod schedule;
mod scheduled_jobs;
mod secrets_on_moto;
mod series;
mod serve_outbox;
mod staff;
mod table_contract;
mod template_policies;
mod visits;
mod witness;
