"""Where the data directory is: a local path or a URI Spark reads (`file://`, `hdfs://`,
`s3a://`). No pyspark here: the single-machine engine asks too, to refuse a remote URI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse


def data_uri(data: str | Path) -> str:
    """A URI Spark reads: URIs as given, plain paths made absolute `file://` URIs."""
    text = str(data)
    if (_scheme(text) and "://" in text) or text.startswith("file:"):
        return text.rstrip("/")
    return Path(text).resolve().as_uri()


def local_dir(data: str | Path) -> Path | None:
    """The local directory of `data` (a plain path or `file:` URI); None for a remote URI."""
    text = str(data)
    scheme = _scheme(text)
    if not scheme:
        return Path(text)
    return Path(unquote(urlparse(text).path)) if scheme == "file" else None


def _scheme(text: str) -> str:
    scheme = urlparse(text).scheme
    return "" if len(scheme) < 2 else scheme  # one letter: a Windows drive, not a scheme
