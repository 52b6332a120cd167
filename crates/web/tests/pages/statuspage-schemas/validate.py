"""Validates Statuspage API documents against the JSON Schemas beside this file.

usage: validate.py DOCUMENTS.json
DOCUMENTS.json holds {label: {"schema": name, "body": document}}, `name` being a schema file's
stem (summary, incidents-unresolved, ...). Prints one line per violation and a count; exits 1
when there is any. Needs jsonschema (and referencing, which it brings).
"""

import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

here = pathlib.Path(__file__).parent
schemas = {p.stem: json.loads(p.read_text()) for p in sorted(here.glob("*.json"))}
for schema in schemas.values():
    Draft202012Validator.check_schema(schema)
registry = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in schemas.values()
)

with open(sys.argv[1]) as f:
    documents = json.load(f)
violations = 0
for label, doc in documents.items():
    validator = Draft202012Validator(schemas[doc["schema"]], registry=registry)
    for e in sorted(validator.iter_errors(doc["body"]), key=lambda e: list(e.absolute_path)):
        violations += 1
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        print(f"{label}: at {where}: {e.message[:300]}")
print(f"{len(documents)} documents, {violations} schema violations")
sys.exit(1 if violations else 0)
