"""Connection kinds: the fields each kind takes, which of them are secret, and validation.

Secrets are ``SecretStr`` so that printing, logging or serialising a config by accident
shows ``**********`` instead of the value.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
# Host names, URLs, paths and logins are short; anything longer is a mistake or an attack.
MAX_TEXT = 4096
NAME_HELP = "lower-case letters, digits and _, starting with a letter (it becomes a %sql alias)"


class KindConfig(BaseModel):
    """Base of every kind's settings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT)
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Set by connections.egress.pin on the server: the address(es) the network policy
    # checked, which drivers connect to instead of resolving the host name again. Never
    # stored or serialised; None (a kernel's own connection) resolves as usual.
    _address: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _no_password_in_urls(self) -> KindConfig:
        """A password typed into an http(s) URL (``https://user:pw@host``) would be shown
        to everyone who may use the connection, as URLs are not secret: it moves into the
        kind's encrypted ``password`` (the URL keeps no user info). A kind without one
        keeps it here, so that a connection stored so still loads; the service refuses
        to save such a URL (:meth:`url_passwords`) and ``workbench doctor`` names those
        stored before that."""
        if "password" not in self.secret_fields:
            return self
        for field in type(self).model_fields:
            value = getattr(self, field)
            if not isinstance(value, AnyHttpUrl) or value.password is None:
                continue
            if getattr(self, "password", None) is None:
                self.password = SecretStr(unquote(value.password))
            parts = urlsplit(str(value))
            netloc = parts.netloc.rpartition("@")[2]
            setattr(self, field, AnyHttpUrl(parts._replace(netloc=netloc).geturl()))
        return self

    def url_passwords(self) -> list[str]:
        """The fields whose URL holds a password this kind has nowhere secret to keep
        (it has no ``password`` field): saving it so is refused."""
        return [
            field
            for field in type(self).model_fields
            if isinstance(value := getattr(self, field), AnyHttpUrl) and value.password is not None
        ]

    def public(self) -> dict[str, Any]:
        """Non-secret fields by the names the API uses, as stored in clear in the
        metadata DB."""
        return self.model_dump(mode="json", by_alias=True, exclude=set(self.secret_fields))

    def secrets(self) -> dict[str, str]:
        """Secret fields that are set, with their clear values (only for encryption)."""
        out = {}
        for field in self.secret_fields:
            value = getattr(self, field)
            if value is not None:
                out[field] = value.get_secret_value()
        return out


class PostgresConfig(KindConfig):
    """A PostgreSQL database, e.g. Odoo's."""

    kind: Literal["postgres"] = "postgres"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = Field(min_length=1)
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    schema_: str | None = Field(default=None, alias="schema", description="default search_path")

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT, populate_by_name=True
    )

    def psycopg_kwargs(self, application_name: str, connect_timeout: float) -> dict[str, Any]:
        """Keyword arguments of ``psycopg.connect`` for this database (password included).

        Pinned by the network policy, libpq connects to the checked ``hostaddr`` and keeps
        ``host`` for TLS certificate checks.
        """
        pinned = {"hostaddr": self._address} if self._address and self._address.strip(",") else {}
        return {
            **pinned,
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "password": self.password.get_secret_value() if self.password else None,
            "sslmode": self.sslmode,
            "connect_timeout": max(1, int(connect_timeout)),
            "application_name": application_name,
        }


class OdooConfig(KindConfig):
    """Odoo's external API (XML-RPC or JSON-RPC)."""

    kind: Literal["odoo"] = "odoo"
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "api_key")
    url: AnyHttpUrl
    database: str = Field(min_length=1)
    login: str = Field(min_length=1)
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    protocol: Literal["xmlrpc", "jsonrpc"] = "xmlrpc"
    models: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,127}$")]] = Field(
        default_factory=list,
        max_length=1000,
        description="models the catalog describes with fields_get when the login may not "
        "read Odoo's technical models (ir.model*); empty: common business models",
    )


class DuckDBConfig(KindConfig):
    """A DuckDB database file, or an in-memory database.

    The workbench opens the file itself (scans, previews, tests) only below its data
    roots (:mod:`~workbench_server.connections.data_roots`)."""

    kind: Literal["duckdb"] = "duckdb"
    path: str = Field(default=":memory:", min_length=1)
    read_only: bool = False


class LakeConfig(KindConfig):
    """A lake of Parquet/Delta datasets in a folder or an S3/MinIO bucket and prefix.

    A folder is read by the workbench only below its data roots."""

    kind: Literal["lake"] = "lake"
    secret_fields: ClassVar[tuple[str, ...]] = ("secret_access_key", "session_token")
    location: str = Field(min_length=1, description="a folder, or s3://bucket/prefix")
    endpoint_url: AnyHttpUrl | None = None
    region: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,32}$")
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = Field(
        default=None, description="with temporary credentials (STS): their session token"
    )

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if value.startswith("s3://"):
            bucket = urlsplit(value).netloc
            if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
                raise ValueError(f"{bucket!r} is not a valid S3 bucket name")
        elif "://" in value:
            raise ValueError("use a folder path or s3://bucket/prefix")
        elif not PurePosixPath(value).is_absolute():
            raise ValueError("a lake folder must be an absolute path")
        return value

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")


class SqlAlchemyConfig(KindConfig):
    """Any database SQLAlchemy can reach; the password is kept apart from the URL."""

    kind: Literal["sqlalchemy"] = "sqlalchemy"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    url: str = Field(min_length=1, description="SQLAlchemy URL without the password")
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _split_password(self) -> SqlAlchemyConfig:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.url)
        except ArgumentError as exc:
            raise ValueError(f"not a SQLAlchemy URL: {exc}") from None
        if url.password is not None:
            # A password typed into the URL is moved into the encrypted secret.
            if self.password is None:
                self.password = SecretStr(str(url.password))
            self.url = url.set(password=None).render_as_string(hide_password=False)
        given = url.query.get("password")
        if given is not None:
            # libpq's ?password= too: a URL is shown to everyone who may use it.
            if self.password is None:
                text = given if isinstance(given, str) else given[0]
                self.password = SecretStr(text)
            url = make_url(self.url).difference_update_query(["password"])
            self.url = url.render_as_string(hide_password=False)
        return self


class SupersetConfig(KindConfig):
    """An Apache Superset the workbench publishes lake tables to, as datasets (its REST
    API, logged in as ``user``; see docs/superset.md)."""

    kind: Literal["superset"] = "superset"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    url: AnyHttpUrl
    user: str = Field(min_length=1, max_length=256)
    password: SecretStr | None = None


class OcrConfig(KindConfig):
    """An OCR engine for receipts and bills (docs/ocr.md): ``rapidocr``, offline with the
    models its wheel ships, or ``http``, the company's own OCR service: the document is
    POSTed raw (``body: raw``) or base64 in JSON field ``document_field``; the reply's
    list of lines is at the dotted ``lines_path``, each line's text and score (0-1, or
    0-100 with ``confidence_scale: 100``) in ``text_field`` and ``confidence_field``."""

    kind: Literal["ocr"] = "ocr"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    engine: Literal["rapidocr", "http"] = "rapidocr"
    url: AnyHttpUrl | None = None
    token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    body: Literal["raw", "json"] = "raw"
    document_field: str = Field(default="document", max_length=128)
    lines_path: str = Field(default="lines", max_length=256)
    text_field: str = Field(default="text", max_length=128)
    confidence_field: str = Field(default="confidence", max_length=128)
    confidence_scale: float = Field(default=1.0, gt=0, le=1000)
    timeout_s: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _url_for_http(self) -> OcrConfig:
        if self.engine == "http" and self.url is None:
            raise ValueError("an http OCR engine needs the service's url")
        return self


class EmbeddingConfig(KindConfig):
    """An embeddings API speaking OpenAI's protocol (``POST {url}/embeddings`` with
    ``model`` and ``input``; OpenAI, Azure-style gateways, vLLM, Ollama, LiteLLM ...):
    the rag step adds a vector to each chunk with it (docs/rag.md). ``url`` is the API's
    base (``https://api.openai.com/v1``) or its full ``.../embeddings`` address."""

    kind: Literal["embedding"] = "embedding"
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)
    url: AnyHttpUrl
    model: str = Field(min_length=1, max_length=256)
    api_key: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    dimensions: int | None = Field(
        default=None, ge=1, le=16384, description="asked of models that can shorten vectors"
    )
    batch_size: int = Field(default=64, ge=1, le=2048, description="texts per request")
    timeout_s: float = Field(default=60.0, gt=0, le=600)


KindSettings = Annotated[
    PostgresConfig
    | OdooConfig
    | DuckDBConfig
    | LakeConfig
    | SqlAlchemyConfig
    | SupersetConfig
    | OcrConfig
    | EmbeddingConfig,
    Field(discriminator="kind"),
]
KIND_ADAPTER: TypeAdapter[KindSettings] = TypeAdapter(KindSettings)
KINDS: dict[str, type[KindConfig]] = {
    "postgres": PostgresConfig,
    "odoo": OdooConfig,
    "duckdb": DuckDBConfig,
    "lake": LakeConfig,
    "sqlalchemy": SqlAlchemyConfig,
    "superset": SupersetConfig,
    "ocr": OcrConfig,
    "embedding": EmbeddingConfig,
}
