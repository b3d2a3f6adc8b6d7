#!/usr/bin/env python3
"""Decode Kafka records written by Tidemark with code no one here wrote.

Reads JSON lines {"key": base64, "value": base64|null} on stdin, checks the
Confluent framing (magic byte 0, 4-byte big-endian schema id), fetches each
writer schema by id from the registry (argv[1], a Confluent-compatible URL),
decodes the Avro body with fastavro, and prints one JSON line per record:
{"key": {...}, "value": {...}|null}. bytes and decimals are printed as strings
so the Go test can compare them exactly.
"""
import base64, decimal, io, json, struct, sys, urllib.request

import fastavro

registry = sys.argv[1].rstrip("/")
schemas = {}


def schema(schema_id):
    if schema_id not in schemas:
        with urllib.request.urlopen(f"{registry}/schemas/ids/{schema_id}") as r:
            text = json.load(r)["schema"]
        schemas[schema_id] = fastavro.parse_schema(json.loads(text))
    return schemas[schema_id]


def decode(b64):
    if b64 is None:
        return None
    raw = base64.b64decode(b64)
    if len(raw) < 5 or raw[0] != 0:
        raise SystemExit(f"not Confluent-framed: {raw[:8].hex()}")
    (schema_id,) = struct.unpack(">I", raw[1:5])
    return fastavro.schemaless_reader(io.BytesIO(raw[5:]), schema(schema_id))


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, decimal.Decimal):
        return format(v, "f")  # plain notation with all scale digits, as MySQL prints it
    return v


for line in sys.stdin:
    rec = json.loads(line)
    print(json.dumps({"key": plain(decode(rec["key"])), "value": plain(decode(rec.get("value")))}))
