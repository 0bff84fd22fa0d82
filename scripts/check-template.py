"""The template's audit-log invariants, checked on the parsed template (cfn-lint's decoder, so the
short-form intrinsics read as they deploy). Exits non-zero naming each broken rule.

- no function but the audit function may update or delete an audit entry, or write the log's items;
- no function, the audit function included, may write an expiry (`expires_at`, the TTL attribute)
  into an audit entry;
- the audit function runs one at a time, on the stream (audit entries only: inserted, modified
  and removed ones, the last two being tampering) and a schedule with a retry policy and a
  dead-letter queue, and an alarm watches its tamper metric;
- its signing key is an ECC_NIST_P256 signing key whose policy denies kms:Sign to everyone else;
- the checkpoint bucket keeps every version in Object Lock compliance mode, private;
- every scheduled job (ScheduleV2, any function) has a retry policy and a dead-letter queue, and
  the reports run in the practice's time zone;
- the reports bucket is private, versioned, retained and encrypted with its own KMS key;
- the portal's distribution, given the practice's certificate, refuses viewers below TLS 1.2, and
  every cache behaviour runs the viewer-request function, which then refuses other host names (the
  *.cloudfront.net one accepts TLS 1.0) and always sets the viewer's address for the API;
- the distribution always has a web ACL (the edge stack's, a required parameter) and sends the API
  the origin secret, which every function with an HTTP route reads (and refuses requests without).
Usage: python3 scripts/check-template.py infra/template.yaml
"""
import json
import sys

from cfnlint.decode import decode

template, matches = decode(sys.argv[1])
if matches:
    sys.exit(f"check-template: cannot read {sys.argv[1]}: {matches}")
resources = template["Resources"]
problems = []


def statements(function):
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict):
            yield from policy.get("Statement", [])


def denies(function, actions, keys):
    for s in statements(function):
        acts = s.get("Action")
        acts = [acts] if isinstance(acts, str) else acts
        cond = json.dumps(s.get("Condition", {}))
        if s.get("Effect") == "Deny" and set(actions) <= set(acts) and all(k in cond for k in keys):
            return True
    return False


def all_statements(name, function):
    """A function's statements: its inline policies, or its role's."""
    role = function["Properties"].get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        role_name = target[0] if isinstance(target, list) else target.split(".")[0]
        for policy in resources[role_name]["Properties"].get("Policies", []):
            yield from policy.get("PolicyDocument", {}).get("Statement", [])
    else:
        yield from statements(function)


def denies_expiry(name, function):
    for s in all_statements(name, function):
        acts = s.get("Action")
        acts = [acts] if isinstance(acts, str) else acts
        cond = s.get("Condition", {})
        keys = json.dumps(cond.get("ForAnyValue:StringLike", {}))
        attrs = cond.get("ForAnyValue:StringEquals", {}).get("dynamodb:Attributes", [])
        if (s.get("Effect") == "Deny" and {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(acts)
                and "AUDIT#*" in keys and "expires_at" in attrs):
            return True
    return False


def check_private_versioned(name, props):
    if props.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        problems.append(f"{name}: not versioned")
    if not all(props.get("PublicAccessBlockConfiguration", {}).get(k) for k in
               ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]):
        problems.append(f"{name}: public access not blocked")


for name, r in resources.items():
    if r["Type"] != "AWS::Serverless::Function" or name == "AuditFunction":
        continue
    if not denies(r, ["dynamodb:UpdateItem", "dynamodb:DeleteItem"], ["AUDIT#*", "AUDITLOG*"]):
        problems.append(f"{name} may update or delete audit items")
    if not denies(r, ["dynamodb:PutItem"], ["AUDITLOG*"]):
        problems.append(f"{name} may write the audit log's items")
    for s in statements(r):
        if s.get("Effect") == "Allow" and "kms:Sign" in json.dumps(s.get("Action")):
            problems.append(f"{name} may sign checkpoints")

for name, r in resources.items():
    if r["Type"] == "AWS::Serverless::Function" and not denies_expiry(name, r):
        problems.append(f"{name} may write an expiry (expires_at) into an audit entry")

audit = resources.get("AuditFunction", {}).get("Properties", {})
if audit.get("ReservedConcurrentExecutions") != 1:
    problems.append("AuditFunction: reserved concurrency is not 1")
events = audit.get("Events", {})
kinds = sorted(e["Type"] for e in events.values())
if kinds != ["DynamoDB", "ScheduleV2"]:
    problems.append(f"AuditFunction: events are {kinds}, not the stream and a ScheduleV2 schedule")
for e in events.values():
    if e["Type"] == "ScheduleV2":
        props = e["Properties"]
        if "RetryPolicy" not in props or "DeadLetterConfig" not in props:
            problems.append("AuditFunction: the schedule has no retry policy or no dead-letter queue")
for e in events.values():
    if e["Type"] == "DynamoDB":
        patterns = [f["Pattern"] for f in e["Properties"].get("FilterCriteria", {}).get("Filters", [])]
        if not any('"prefix": "AUDIT#"' in p for p in patterns):
            problems.append("AuditFunction: the stream is not filtered to audit entries")
        if not any(sorted(json.loads(p).get("eventName", [])) == ["INSERT", "MODIFY", "REMOVE"] for p in patterns):
            problems.append("AuditFunction: the stream does not pass modified and removed audit entries")
if not any(r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "AuditTamperDetected"
           for r in resources.values()):
    problems.append("no alarm on AuditTamperDetected")

key = resources.get("AuditSigningKey", {}).get("Properties", {})
if (key.get("KeySpec"), key.get("KeyUsage")) != ("ECC_NIST_P256", "SIGN_VERIFY"):
    problems.append("AuditSigningKey is not an ECC_NIST_P256 signing key")
if not any(s.get("Effect") == "Deny" and s.get("Action") == "kms:Sign" and "ArnNotEquals" in s.get("Condition", {})
           for s in key.get("KeyPolicy", {}).get("Statement", [])):
    problems.append("AuditSigningKey: the key policy does not deny kms:Sign to other principals")

bucket = resources.get("AuditCheckpointBucket", {})
props = bucket.get("Properties", {})
retention = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention", {})
if not props.get("ObjectLockEnabled") or retention.get("Mode") != "COMPLIANCE":
    problems.append("AuditCheckpointBucket: no Object Lock in compliance mode")
check_private_versioned("AuditCheckpointBucket", props)
if bucket.get("DeletionPolicy") != "Retain" or resources.get("AuditSigningKey", {}).get("DeletionPolicy") != "Retain":
    problems.append("the checkpoint bucket and the signing key must be retained")

for name, r in resources.items():
    if r["Type"] != "AWS::Serverless::Function":
        continue
    for event_name, e in r["Properties"].get("Events", {}).items():
        if e["Type"] == "ScheduleV2":
            props = e["Properties"]
            if "RetryPolicy" not in props or "DeadLetterConfig" not in props:
                problems.append(f"{name}.{event_name}: a schedule without a retry policy or dead-letter queue")
            if name == "ReportsFunction" and "ScheduleExpressionTimezone" not in props:
                problems.append(f"{name}.{event_name}: the report schedule is not in the practice's zone")

reports = resources.get("ReportsBucket", {})
props = reports.get("Properties", {})
sse = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])[0]
if sse.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") != "aws:kms":
    problems.append("ReportsBucket: not encrypted with KMS")
check_private_versioned("ReportsBucket", props)
if reports.get("DeletionPolicy") != "Retain":
    problems.append("ReportsBucket: not retained")

for name, r in resources.items():
    if r["Type"] != "AWS::CloudFront::Distribution":
        continue
    cert = r["Properties"]["DistributionConfig"].get("ViewerCertificate", {})
    with_own = cert.get("Fn::If", [None, {}])[1] if "Fn::If" in cert else cert
    if with_own.get("CloudFrontDefaultCertificate") or with_own.get("MinimumProtocolVersion") != "TLSv1.2_2021":
        problems.append(f"{name}: the practice's certificate is not served with TLSv1.2_2021 at least")
    config = r["Properties"]["DistributionConfig"]
    for behaviour in [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]:
        association = json.dumps(behaviour.get("FunctionAssociations", {}))
        if "PortalViewerRequest" not in association or "viewer-request" not in association:
            problems.append(f"{name}: a cache behaviour ({behaviour.get('PathPattern', 'default')}) serves any host name"
                            " or passes on a viewer's own x-practica-viewer-address")

    code = json.dumps(resources.get("PortalViewerRequest", {}).get("Properties", {}).get("FunctionCode"))
    if "request.headers['x-practica-viewer-address'] = { value: event.viewer.ip }" not in code:
        problems.append("PortalViewerRequest: does not set x-practica-viewer-address from the viewer's address")
    if config.get("WebACLId") != {"Ref": "PortalWebAclArn"}:
        problems.append(f"{name}: no web ACL, or one that is optional")
    parameter = template["Parameters"].get("PortalWebAclArn", {})
    if "Default" in parameter or not parameter.get("AllowedPattern", "").startswith("^arn:"):
        problems.append("PortalWebAclArn: may be left empty")
    api = [o for o in config["Origins"] if o["Id"] == "api"]
    headers = api[0].get("OriginCustomHeaders", []) if api else []
    if not any(h["HeaderName"] == "x-practica-origin" and "${OriginSecret}" in json.dumps(h["HeaderValue"])
               for h in headers):
        problems.append(f"{name}: the API origin is not sent the origin secret")

for name, r in resources.items():
    if r["Type"] != "AWS::Serverless::Function":
        continue
    serves_http = any(e["Type"] == "HttpApi" for e in r["Properties"].get("Events", {}).values())
    variables = r["Properties"].get("Environment", {}).get("Variables", {})
    if serves_http and variables.get("PRACTICA_ORIGIN_SECRET") != {"Ref": "OriginSecret"}:
        problems.append(f"{name}: answers HTTP without checking the origin secret")

for p in problems:
    print(f"check-template: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
