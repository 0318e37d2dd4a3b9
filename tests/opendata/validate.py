#!/usr/bin/env python3
"""Validates a built guide's HSDS 3.0 export against the vendored schema.

usage: validate.py SITE_DIR        (the output of `sportello build`)

Every object of every /opendata/hsds/*.json file is validated against its
entity schema (Draft 2020-12), with the `$ref`s between the schema files
resolved locally and format checking on, so that an id that is not a UUID
fails. Exit 1 with one line per problem, 0 when everything validates.
Works with Debian's python3-jsonschema (4.10, RefResolver) and with newer
releases (the `referencing` registry).
"""
import json
import pathlib
import sys

import jsonschema

SCHEMAS = pathlib.Path(__file__).resolve().parent / "hsds-3.0"
FILES = {
    "services.json": "service.json",
    "organizations.json": "organization.json",
    "locations.json": "location.json",
    "service_at_locations.json": "service_at_location.json",
    "taxonomies.json": "taxonomy.json",
    "taxonomy_terms.json": "taxonomy_term.json",
}


def load_schemas():
    out = {}
    for p in SCHEMAS.glob("*.json"):
        if p.name in ("openapi.json",):
            continue
        out[p.name] = json.loads(p.read_text(encoding="utf-8"))
    return out


def validator_for(schemas, name):
    cls = jsonschema.Draft202012Validator
    checker = cls.FORMAT_CHECKER
    # Without a uuid checker a bad id would pass silently.
    if "uuid" not in checker.checkers:
        sys.exit("this jsonschema cannot check the uuid format")
    base = "https://hsds.invalid/"
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (base + n, Resource.from_contents(s, default_specification=DRAFT202012))
            for n, s in schemas.items()
        )
        schema = dict(schemas[name])
        schema["$id"] = base + name
        return cls(schema, registry=registry, format_checker=checker)
    except ImportError:
        store = {base + n: s for n, s in schemas.items()}
        schema = dict(schemas[name])
        schema["$id"] = base + name
        resolver = jsonschema.RefResolver(base + name, schema, store=store)
        return cls(schema, resolver=resolver, format_checker=checker)


def main():
    site = pathlib.Path(sys.argv[1])
    schemas = load_schemas()
    problems = []
    count = 0
    for file, schema in FILES.items():
        path = site / "opendata" / "hsds" / file
        items = json.loads(path.read_text(encoding="utf-8"))
        v = validator_for(schemas, schema)
        for i, item in enumerate(items):
            count += 1
            for e in v.iter_errors(item):
                where = "/".join(str(x) for x in e.absolute_path)
                problems.append(f"{file}[{i}]/{where}: {e.message}")
    for p in problems:
        print(p)
    print(f"{count} objects, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
