#!/usr/bin/env python3
"""A synthetic, deterministic FHIR R4 set for the sync benchmark.

    python3 bench/sync/gen_fhir.py --resources 50000 --out /tmp/fhir-50k.json

Writes one `collection` Bundle: a quarter Patients (with a valid Italian
codice fiscale and a hospital MRN), half Encounters (emergency, outpatient,
inpatient; one in twenty with a domestic-violence reason code that the
benchmark's instance configures as a signal), a quarter Conditions. Every name
is synthetic ("Demo..."); nothing here is a real person.
"""
import argparse
import json
import random

ODD = {**dict(zip("0123456789", [1, 0, 5, 7, 9, 13, 15, 17, 19, 21])),
       **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                  [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
                   10, 22, 25, 24, 23]))}
EVEN = {**{d: int(d) for d in "0123456789"},
        **{c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}
MONTHS = "ABCDEHLMPRST"
LETTERS = "BCDFGHLMNPRSTVZ"


def check_char(code15):
    total = sum(ODD[c] if i % 2 == 0 else EVEN[c] for i, c in enumerate(code15))
    return chr(ord("A") + total % 26)


def fiscal_code(rng, year, month, day, female):
    letters = "".join(rng.choice(LETTERS) for _ in range(6))
    dd = day + 40 if female else day
    place = rng.choice("ABCDEFGHILM") + f"{rng.randint(100, 999)}"
    code15 = f"{letters}{year % 100:02d}{MONTHS[month - 1]}{dd:02d}{place}"
    return code15 + check_char(code15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    patients = max(1, args.resources // 4)
    encounters = args.resources // 2
    conditions = args.resources - patients - encounters
    entries = []
    stamp = lambda i: f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    for i in range(patients):
        female = rng.random() < 0.7
        year, month, day = rng.randint(1975, 2024), rng.randint(1, 12), rng.randint(1, 28)
        entries.append({"resourceType": "Patient", "id": f"p{i}",
                        "meta": {"versionId": "1", "lastUpdated": stamp(i)},
                        "identifier": [
                            {"system": "http://hl7.it/sid/codiceFiscale",
                             "value": fiscal_code(rng, year, month, day, female)},
                            {"system": "urn:oid:2.16.840.1.113883.2.9.4.3.7", "value": f"MRN{i:07d}"}],
                        "name": [{"family": f"Demo{rng.choice(['Rossi', 'Bianchi', 'Ferrari', 'Russo', 'Esposito'])}{i}",
                                  "given": [rng.choice(["Anna", "Sara", "Luca", "Amina", "Giulia", "Omar"])]}],
                        "gender": "female" if female else "male",
                        "birthDate": f"{year}-{month:02d}-{day:02d}",
                        "telecom": [{"system": "phone", "value": f"+39 333 {i:07d}"}],
                        "address": [{"line": [f"Via Demo {i}"], "city": "Torino"}]})
    classes = [("EMER", "emergency"), ("AMB", "ambulatory"), ("IMP", "inpatient encounter")]
    for i in range(encounters):
        code, display = rng.choice(classes)
        enc = {"resourceType": "Encounter", "id": f"e{i}",
               "meta": {"versionId": "1", "lastUpdated": stamp(i)},
               "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code,
                         "display": display},
               "subject": {"reference": f"Patient/p{rng.randrange(patients)}"},
               "period": {"start": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}T10:00:00Z"}}
        if i % 20 == 0:
            enc["reasonCode"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "248062006",
                                              "display": "Self-reported domestic violence"}]}]
        entries.append(enc)
    for i in range(conditions):
        entries.append({"resourceType": "Condition", "id": f"c{i}",
                        "meta": {"versionId": "1", "lastUpdated": stamp(i)},
                        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                       "code": "active"}]},
                        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "77386006",
                                             "display": "Pregnancy"}], "text": "Pregnancy"},
                        "subject": {"reference": f"Patient/p{rng.randrange(patients)}"},
                        "recordedDate": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}"})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"http://hospital.bench/r4/{r['resourceType']}/{r['id']}", "resource": r}
                        for r in entries]}
    with open(args.out, "w") as f:
        json.dump(bundle, f, separators=(",", ":"))
    print(f"wrote {len(entries)} resources ({patients} Patient, {encounters} Encounter, {conditions} Condition) to {args.out}")


if __name__ == "__main__":
    main()
