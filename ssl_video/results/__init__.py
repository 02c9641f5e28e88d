"""Result records: the validated on-disk store and the tables and plots rendered from it."""

from ssl_video.results.store import SCHEMA, ResultKey, ResultStore, code_version, key_of, validate_record
from ssl_video.results.tables import Column, Row, Table, build_table, render_tables

__all__ = [
    "SCHEMA",
    "Column",
    "ResultKey",
    "ResultStore",
    "Row",
    "Table",
    "build_table",
    "code_version",
    "key_of",
    "render_tables",
    "validate_record",
]
