"""Typed errors. The CLI maps them to exit codes and the server to HTTP statuses; nothing else."""

from __future__ import annotations


class RagError(Exception):
    """Base class: a clear, one-line message meant for the user."""

    exit_code = 1
    http_status = 400


class QueryRejected(RagError):
    """The question or query is empty, too long or otherwise unusable."""

    exit_code = 2
    http_status = 422


class DocumentRejected(RagError):
    """A document cannot be read or indexed (unknown type, unreadable, too large, binary)."""

    exit_code = 2
    http_status = 422


class IndexMissing(RagError):
    """No index has been built at the configured location."""

    exit_code = 3
    http_status = 503


class IndexCorrupt(RagError):
    """An index exists but fails verification (checksum, manifest, truncated file)."""

    exit_code = 4
    http_status = 503


class IndexMismatch(RagError):
    """The index was built with another model or configuration than the one in use."""

    exit_code = 4
    http_status = 503


class ModelError(RagError):
    """The embedding model cannot be found, converted or loaded."""

    exit_code = 5
    http_status = 503


class NotFound(RagError):
    """A requested document or resource does not exist."""

    exit_code = 6
    http_status = 404


class ConfigError(RagError):
    """A setting or a data file that configures the library (a model of weights) is unusable."""

    exit_code = 2
    http_status = 503  # the service is misconfigured, as for a model that cannot load


class StoreUnavailable(RagError):
    """The configured vector database (Milvus) cannot be reached or failed a request."""

    exit_code = 5
    http_status = 503
