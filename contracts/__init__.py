"""Data contracts: the four tables, their columns, dtypes, defaults and loaders.

`contracts.schema` is plain Python (safe to import on the request path);
`contracts.tables` loads and validates files with pandas (batch only).
"""
