"""The batch steps on Apache Spark (`--engine spark`), from the same definitions as the
pandas engine: an optional extra (`pip install -e '.[spark]'`), imported only when asked for."""
