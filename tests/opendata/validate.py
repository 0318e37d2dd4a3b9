#!/usr/bin/env python3
"""Validates a built guide's HSDS 3.0 export against the vendored schema.

usage: validate.py SITE_DIR        (the output of `sportello build`)

Every object of every /opendata/hsds/*.json file is validated against its
entity schema (Draft 2020-12), with the `$ref`s between the schema files
resolved locally and format checking on, so that an id that is not a UUID
fails; ids must be unique in each file. The zip of the tabular format is
checked against the vendored tabular description (simple/schema.csv): each
member is a table of it, each column a field of that table, every required
field present and filled, and the ids of each table those of the JSON.
Exit 1 with one line per problem, 0 when everything validates.
Works with Debian's python3-jsonschema (4.10, RefResolver) and with newer
releases (the `referencing` registry).
"""
import csv
import io
import json
import pathlib
import sys
import zipfile

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


# The tables whose ids must be those of a JSON file.
TABLE_OF_JSON = {
    "services.json": "service",
    "organizations.json": "organization",
    "locations.json": "location",
    "service_at_locations.json": "service_at_location",
    "taxonomies.json": "taxonomy",
    "taxonomy_terms.json": "taxonomy_term",
}


def tabular_fields():
    """{table: ({field}, {required field})} from simple/schema.csv."""
    out = {}
    with open(SCHEMAS / "simple" / "schema.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            fields, required = out.setdefault(row["table_name"], (set(), set()))
            fields.add(row["name"])
            if "true" in (row["constraints_required"], row["constraints_tablular_required"]):
                required.add(row["name"])
    return out


def check_zip(site, json_ids, problems):
    path = site / "opendata" / "hsds" / "hsds-csv.zip"
    tables = tabular_fields()
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            problems.append(f"hsds-csv.zip: {bad}: bad CRC")
        names = z.namelist()
        for name in names:
            table = name.removesuffix(".csv")
            if not name.endswith(".csv") or table not in tables:
                problems.append(f"hsds-csv.zip: {name} is not a table of the HSDS tabular format")
                continue
            fields, required = tables[table]
            text = z.read(name).decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            header, body = rows[0], rows[1:]
            for c in header:
                if c not in fields:
                    problems.append(f"{name}: column `{c}` is not a field of `{table}`")
            for c in sorted(required - set(header)):
                problems.append(f"{name}: required column `{c}` is missing")
            for i, r in enumerate(body, start=2):
                if len(r) != len(header):
                    problems.append(f"{name}:{i}: {len(r)} fields, {len(header)} columns")
                    continue
                for c, v in zip(header, r):
                    if c in required and not v.strip():
                        problems.append(f"{name}:{i}: required `{c}` is empty")
            if "id" in header:
                ids = [r[header.index("id")] for r in body]
                if len(set(ids)) != len(ids):
                    problems.append(f"{name}: ids are not unique")
                for file, t in TABLE_OF_JSON.items():
                    if t == table and sorted(ids) != sorted(json_ids[file]):
                        problems.append(f"{name}: ids differ from {file}")
        for file, t in TABLE_OF_JSON.items():
            if f"{t}.csv" not in names:
                problems.append(f"hsds-csv.zip: no {t}.csv")


def main():
    site = pathlib.Path(sys.argv[1])
    schemas = load_schemas()
    problems = []
    json_ids = {}
    count = 0
    for file, schema in FILES.items():
        path = site / "opendata" / "hsds" / file
        items = json.loads(path.read_text(encoding="utf-8"))
        v = validator_for(schemas, schema)
        ids = [item.get("id") for item in items]
        json_ids[file] = ids
        if len(set(ids)) != len(ids):
            problems.append(f"{file}: ids are not unique")
        for i, item in enumerate(items):
            count += 1
            for e in v.iter_errors(item):
                where = "/".join(str(x) for x in e.absolute_path)
                problems.append(f"{file}[{i}]/{where}: {e.message}")
    check_zip(site, json_ids, problems)
    for p in problems:
        print(p)
    print(f"{count} objects, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
