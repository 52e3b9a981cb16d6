#!/usr/bin/env python3
"""Writes the committed seed corpus of every fuzz target (fuzz/seeds/TARGET/).

Seeds are the fuzzer's starting points: real inputs of each parser, small.
They come from the repository's own files (the demo agreement, the FHIR R4
examples and carebundle transactions of connectors/tests/fixtures, the
consultorio fixture) and from the wire formats of docs/ (webhook events,
court orders, JWT claims). Structured targets take a mode digit and fields one
per line (fuzz/src/lib.rs). Key material: public keys only, made here with
openssl and its private half thrown away; the targets generate their own keys
when they start.

Run from anywhere: python3 fuzz/seeds/make-seeds.py (needs openssl).
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "connectors", "tests", "fixtures")


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def copy(source, target, name=None):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    shutil.copy(source, os.path.join(HERE, target, name or os.path.basename(source)))


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def structured(mode, *fields):
    return str(mode) + "\n".join(fields)


# Every target's seeds are rewritten from scratch.
for entry in os.listdir(HERE):
    if os.path.isdir(os.path.join(HERE, entry)):
        shutil.rmtree(os.path.join(HERE, entry))

# ---------------------------------------------------------------- policy ----
copy(os.path.join(ROOT, "policies", "network.toml"), "policy_file")
copy(os.path.join(ROOT, "policy", "src", "interim.toml"), "policy_file")
write(
    "policy_file",
    "every-key.toml",
    """[agreement]
name = "Every key once"
version = "1"

[[agency]]
id = "polo-nord"
name = "Polo Nord"
kind = "SOCIAL_SERVICE"

[[duty]]
id = "child-protection"
description = "Child protection"
agency_kinds = ["SOCIAL_SERVICE"]
roles = ["CASE_MANAGER"]
purposes = ["CASE_MANAGEMENT"]
classes = ["HEALTH", "SOCIAL"]
relationships = ["LEAD_AGENCY"]

[[rule]]
id = "lead-sees-health"
description = "The lead agency sees health data"
agency_kinds = ["SOCIAL_SERVICE"]
agencies = ["polo-nord"]
roles = ["CASE_MANAGER"]
purposes = ["CASE_MANAGEMENT", "EMERGENCY"]
classes = ["HEALTH", "SECRET_LOCATION"]
relationships = ["LEAD_AGENCY"]
bases = ["DUTY", "BREAK_GLASS"]
break_glass_opens_secret_location = true
""",
)
write(
    "policy_file",
    "refused.toml",
    """[agreement]
name = ""
version = "1"

[[rule]]
id = "bad rule"
description = "typos"
purposes = ["CASE_MANAGMENT"]
classes = []
relationships = ["ANY", "LEAD_AGENCY"]
""",
)

# ------------------------------------------------------------------- JWT ----
NOW, LATER = 1_772_000_000, 4_102_444_800  # 2026-02-25, 2100-01-01
jwt_header = compact({"alg": "ES256", "typ": "JWT", "kid": "fuzz-es256"})
jwt_claims = compact(
    {
        "iss": "rete-fuzz",
        "sub": "op-anna",
        "aud": "rete",
        "exp": LATER,
        "nbf": NOW,
        "iat": NOW,
        "jti": "0192f3c5-7d1e-7a10-9c8e-5b2f4a1d3e01",
        "agency": "polo-nord",
        "role": "CASE_MANAGER",
        "purpose": "CASE_MANAGEMENT",
    }
)
write("jwt_claims", "signed", structured(0, jwt_header, jwt_claims))
write("jwt_claims", "forged", structured(1, jwt_header, jwt_claims))
write("jwt_claims", "unsigned", structured(2, compact({"alg": "none"}), jwt_claims))
write(
    "jwt_claims",
    "rs256-no-kid",
    structured(0, compact({"alg": "RS256"}), jwt_claims.replace('"rete"', '["rete","other"]')),
)
fake_sig = b64(bytes(range(64)))
write("jwt_token", "es256", f"{b64(jwt_header.encode())}.{b64(jwt_claims.encode())}.{fake_sig}")
write("jwt_token", "none", f"{b64(compact({'alg': 'none'}).encode())}.{b64(jwt_claims.encode())}.")
write("jwt_token", "hs256", f"{b64(compact({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(b'{}')}.{fake_sig}")

# ------------------------------------------------------------------ FHIR ----
R4 = os.path.join(FIXTURES, "fhir-r4")
for name in sorted(os.listdir(R4)):
    kind = name.split("-")[0]
    if kind in ("patient", "encounter", "condition", "organization"):
        copy(os.path.join(R4, name), "fhir_resource")

DATA_CLASS = "https://specs.rete.example/fhir/CodeSystem/data-class"
AGENCY = "https://specs.rete.example/fhir/sid/agency"
AGENCY_KIND = "https://specs.rete.example/fhir/CodeSystem/agency-kind"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
consent = {
    "resourceType": "Consent",
    "id": "k1",
    "meta": {"versionId": "1", "lastUpdated": "2026-03-05T09:00:00Z"},
    "status": "active",
    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {"reference": "Patient/p1"},
    "dateTime": "2026-03-01T08:00:00Z",
    "contained": [
        {
            "resourceType": "Organization",
            "id": "cv",
            "type": [{"coding": [{"system": AGENCY_KIND, "code": "ANTI_VIOLENCE_CENTRE"}]}],
        }
    ],
    "provision": {
        "type": "permit",
        "period": {"start": "2026-03-01", "end": "2027-03-01"},
        "actor": [
            {
                "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                "reference": {"identifier": {"system": AGENCY, "value": "polo-nord"}},
            },
            {"role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]}, "reference": {"reference": "#cv"}},
            {
                "role": {"coding": [{"system": PARTICIPATION, "code": "AUT"}]},
                "reference": {"identifier": {"system": AGENCY, "value": "ospedale-regina"}},
            },
        ],
        "purpose": [{"system": ACT_REASON, "code": "TREAT"}, {"system": ACT_REASON, "code": "CAREMGT"}],
        "class": [{"system": DATA_CLASS, "code": "HEALTH"}],
        "securityLabel": [{"system": DATA_CLASS, "code": "SOCIAL"}],
    },
}
write("fhir_resource", "consent-privacy.json", json.dumps(consent, indent=1))
signal_encounter = {
    "resourceType": "Encounter",
    "id": "e1",
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
    "subject": {"reference": "Patient/p1"},
    "period": {"start": "2026-03-01T10:00:00+01:00", "end": "2026-03-01T12:00:00+01:00"},
    "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "248062006"}]}],
}
write("fhir_resource", "encounter-signal.json", json.dumps(signal_encounter, indent=1))

# Bundles: the collection of real Patients (first three), a carebundle
# transaction cut to its Patient, Encounter and Condition (urn:uuid
# references resolved within the Bundle), and a searchset with the consent.
with open(os.path.join(R4, "bundle-collection-patients.json")) as f:
    collection = json.load(f)
collection["entry"] = collection["entry"][:3]
write("fhir_bundle", "collection-patients.json", json.dumps(collection, indent=1))
for i in ("0000", "0001"):
    with open(os.path.join(FIXTURES, "carebundle", f"mixed-2026-{i}.json")) as f:
        transaction = json.load(f)
    keep = {"Patient", "Encounter", "Condition"}
    transaction["entry"] = [e for e in transaction["entry"] if e["resource"]["resourceType"] in keep]
    write("fhir_bundle", f"transaction-{i}.json", json.dumps(transaction, indent=1))
search = {
    "resourceType": "Bundle",
    "type": "searchset",
    "total": 3,
    "link": [{"relation": "next", "url": "https://fhir.ospedale.example/r4/Consent?_page=2"}],
    "entry": [
        {"fullUrl": "https://fhir.ospedale.example/r4/Consent/k1", "resource": consent},
        {"fullUrl": "https://fhir.ospedale.example/r4/Encounter/e1", "resource": signal_encounter},
        {"request": {"method": "DELETE", "url": "Patient/p9"}},
    ],
}
write("fhir_bundle", "searchset-consent.json", json.dumps(search, indent=1))

# ----------------------------------------------------------- consultorio ----
copy(os.path.join(FIXTURES, "consultorio", "export-2025-q1.csv"), "consultorio_csv")
write(
    "consultorio_csv",
    "comma-crlf.csv",
    "Record_ID,event,event_date,mother_codice_fiscale,mother_given_name,mother_family_name,"
    "child_given_name,child_family_name,child_sex,gestational_week,expected_due_date,counselling_kind\r\n"
    "C-1,PREGNANCY,2025-03-04,,Giulia,Demorossi,,,,12,,\r\n"
    'C-2,BIRTH,2025-02-11,,"Elena, detta Lena",Demobianchi,Leo,Demobianchi,M,39,,\r\n'
    "C-3,COUNSELLING,18/3/2025,,Elena,Demobianchi,,,,,,POSTNATAL\r\n"
    ",,,,,,,,,,,\r\n",
)

# --------------------------------------------------------------- webhook ----
TS = "1793000000"  # the target's clock
NONCE = "n0nce-0123456789abcdef"
departed = compact(
    {
        "id": "evt-0001",
        "type": "guest.departed",
        "placement_id": "0192f3c5-7d1e-7a10-9c8e-5b2f4a1d3e01",
        "occurred_at": "2026-10-27T10:00:00+01:00",
        "note": "Rientro in famiglia",
        "end_reason": "Progetto concluso",
    }
)
verification = compact(
    {
        "id": "evt-0002",
        "type": "verification.done",
        "placement_id": "0192f3c5-7d1e-7a10-9c8e-5b2f4a1d3e01",
        "occurred_at": "2026-10-27T09:00:00Z",
        "outcome": "CONCERNS",
    }
)
write("webhook", "departed", structured(0, TS, NONCE, "v1=", departed))
write("webhook", "verification", structured(0, TS, NONCE, "v1=", verification))
write("webhook", "forged", structured(1, TS, NONCE, "v1=" + "ab" * 32, departed))
write("webhook", "missing", structured(2, "", NONCE, "", departed))

# ----------------------------------------------------------------- court ----
court_header = compact({"alg": "ES256", "typ": "JWT", "kid": "tm-2026"})
order = {
    "id": "TM-2026-17",
    "type": "ORDER",
    "docket_number": "V.G. 123/2026",
    "case_reference": "RETE-DEMO-0001",
    "kind": "CUSTODY_TO_SOCIAL_SERVICE",
    "issued_on": "2026-03-02",
    "summary": "Affidamento al servizio sociale",
    "text": "Il tribunale dispone",
    "mandates": [{"agency": "polo-nord", "description": "Relazione sul minore", "due_on": "2026-05-31"}],
}
report = {
    "id": "TM-2026-18",
    "type": "REPORT_REQUEST",
    "docket_number": "V.G. 124/2026",
    "case_reference": "RETE-DEMO-0001",
    "issued_on": "2026-03-02",
    "summary": "Richiesta di relazione",
    "mandates": [{"agency": "polo-nord", "description": "Relazione", "due_on": "2026-04-30"}],
}
order_claims = compact({"iss": "tm-torino", "iat": NOW, "order": order})
report_claims = compact({"iss": "tm-torino", "iat": NOW, "exp": LATER, "order": report})
write("court_order", "order", structured(0, court_header, order_claims))
write("court_order", "report-request", structured(0, court_header, report_claims))
write("court_order", "forged", structured(1, court_header, order_claims))
write("court_order", "unsigned", structured(2, compact({"alg": "none"}), order_claims))
write("court_jws", "order", f"{b64(court_header.encode())}.{b64(order_claims.encode())}.{fake_sig}")
write("court_jws", "unsigned", f"{b64(compact({'alg': 'none'}).encode())}.{b64(order_claims.encode())}.")

with tempfile.TemporaryDirectory() as tmp:

    def public_pem(genkey):
        private = os.path.join(tmp, "private.pem")
        subprocess.run(genkey + ["-out", private], check=True, capture_output=True)
        out = subprocess.run(
            ["openssl", "pkey", "-in", private, "-pubout"], check=True, capture_output=True
        ).stdout.decode()
        der = subprocess.run(
            ["openssl", "pkey", "-in", private, "-pubout", "-outform", "DER"], check=True, capture_output=True
        ).stdout
        os.remove(private)
        return out, der

    ec_pem, ec_der = public_pem(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    rsa_pem, _ = public_pem(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
point = ec_der[-64:]  # the uncompressed P-256 point's x and y end the SPKI
jwk = {"kty": "EC", "crv": "P-256", "x": b64(point[:32]), "y": b64(point[32:]), "kid": "tm-2026", "alg": "ES256", "use": "sig"}
write("court_keys", "ec-p256.pem", "1" + ec_pem)  # mode 1: ES256 accepted
write("court_keys", "rsa.pem", "<" + rsa_pem)  # '<' = 60: RS256 and PS256
write("court_keys", "jwk.json", "1" + compact(jwk))
write("court_keys", "jwk-set.json", "?" + compact({"keys": [jwk, dict(jwk, kid="tm-2025")]}))  # '?': all four
