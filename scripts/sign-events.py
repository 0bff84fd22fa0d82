#!/usr/bin/env python3
"""Writes the payments and webhook API Gateway events in events/, the webhook ones signed with the
test stacks' secrets (tests/support/lib.rs) at the tests' clock (TEST_NOW). Run from the repo root:
python3 scripts/sign-events.py. tests/lambda_events.rs drives every one through the routers."""
import json, hmac, hashlib, base64
NOW = 1795438800
STRIPE_NEW = "whsec_testNewSecretForPractica01"
STRIPE_OLD = "whsec_testOldSecretForPractica00"
STANDARD = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8KzWhSZmT4I=")
def base(op, method, path, headers, body, b64, query=""):
    h = {"accept": "application/json", "host": "api.practica.example", "x-forwarded-proto": "https"}
    h.update(headers)
    return {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
      "headers": h,
      "requestContext": {"accountId": "123456789012", "apiId": "api-id", "domainName": "api.practica.example", "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": h.get("user-agent", "curl/8.5.0")},
        "requestId": f"evt-{op}", "routeKey": f"{method} {path}", "stage": "$default", "time": "23/Nov/2026:13:00:00 +0000", "timeEpoch": NOW * 1000},
      **({"body": body} if body is not None else {}), "isBase64Encoded": b64}
def write(op, ev):
    json.dump(ev, open(f"events/apigw-v2-{op}.json", "w"), indent=2); open(f"events/apigw-v2-{op}.json", "a").write("\n")
auth = {"authorization": "Bearer {{TOKEN}}", "user-agent": "curl/8.5.0"}
write("createCharge", base("createCharge", "POST", "/v1/charges", {**auth, "content-type": "application/json", "idempotency-key": "event-createCharge"},
  json.dumps({"patientId": "patient-jane", "currency": "USD", "appointmentId": None, "lineItems": [{"description": "Individual psychotherapy, 60 min", "amount": 15000}]}).replace(', "appointmentId": null', ''), False))
ev = base("getBalance", "GET", "/v1/balance", auth, None, False)
write("getBalance", ev)
write("createPaymentIntent", base("createPaymentIntent", "POST", "/v1/payment-intents", {**auth, "content-type": "application/json", "idempotency-key": "event-createPaymentIntent"},
  json.dumps({"currency": "USD"}), False))
pi = {"id": "pi_fixture_1", "object": "payment_intent", "amount": 15000, "currency": "usd", "status": "succeeded", "metadata": {"practica_payment": "pay_fixture"}, "last_payment_error": None}
succeeded = json.dumps({"id": "evt_fixture_pi_succeeded", "object": "event", "api_version": "2024-06-20", "created": NOW, "type": "payment_intent.succeeded", "livemode": False, "data": {"object": pi}}, separators=(",", ":")).encode()
def stripe_sig(body, secret): return hmac.new(secret.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
stripe_hdr = {"stripe-signature": f"t={NOW},v1={stripe_sig(succeeded, STRIPE_NEW)},v1={stripe_sig(succeeded, STRIPE_OLD)},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
  "content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
write("stripeWebhook", base("stripeWebhook", "POST", "/v1/webhooks/stripe", stripe_hdr, base64.b64encode(succeeded).decode(), True))
charge = {"id": "ch_fixture_1", "object": "charge", "payment_intent": "pi_fixture_1", "amount": 15000, "amount_refunded": 0, "currency": "usd", "status": "succeeded",
  "failure_code": None, "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242", "checks": {"address_line1_check": "pass", "address_postal_code_check": "fail", "cvc_check": "pass"}}}}
charge_ev = json.dumps({"id": "evt_fixture_ch_succeeded", "object": "event", "api_version": "2024-06-20", "created": NOW, "type": "charge.succeeded", "livemode": False, "data": {"object": charge}}, separators=(",", ":")).encode()
write("stripeWebhook-charge", base("stripeWebhook-charge", "POST", "/v1/webhooks/stripe",
  {**stripe_hdr, "stripe-signature": f"t={NOW},v1={stripe_sig(charge_ev, STRIPE_OLD)}"}, charge_ev.decode(), False))
refund = dict(charge, amount_refunded=5000)
std_body = json.dumps({"type": "charge.refunded", "timestamp": "2026-11-23T13:00:00Z", "data": refund}, separators=(",", ":")).encode()
msg_id = "msg_fixture_refund"
std_sig = base64.b64encode(hmac.new(STANDARD, f"{msg_id}.{NOW}.".encode() + std_body, hashlib.sha256).digest()).decode()
write("standardWebhook", base("standardWebhook", "POST", "/v1/webhooks/standard",
  {"webhook-id": msg_id, "webhook-timestamp": str(NOW), "webhook-signature": f"v1,{std_sig}", "content-type": "application/json", "user-agent": "processor/1.0"},
  std_body.decode(), False))
