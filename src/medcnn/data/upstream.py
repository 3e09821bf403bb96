"""Obtain the original files of upstream rows, verified by sha256, politely and with retries.

A GitHub row's original is read from a URL template (`{repository}`, `{commit}`, `{path}`;
default GitHub's raw-content address, `MEDCNN_UPSTREAM_URL`); a set of files is listed first
through a second template (default GitHub's contents API, `MEDCNN_UPSTREAM_LIST_URL`); a PyPI
row is a member of the wheel of the pinned version, found on a simple index
(`MEDCNN_UPSTREAM_INDEX`) and kept under `raw/.downloads/wheels/`. Failed requests are retried
with exponential back-off; a host that keeps refusing connections is given up for the run.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urljoin, urlsplit
from urllib.request import Request, urlopen

from medcnn import config
from medcnn.data.decoders import Member
from medcnn.data.transforms import is_set
from medcnn.data.upstream_table import Row
from medcnn.io import write_atomic

TIMEOUT = 60.0
"""Seconds a connection may stall before the attempt fails."""

RETRIES = 3
"""Further attempts after a failed request (connection error, timeout, 429 or 5xx)."""

BACKOFF = 1.0
"""Seconds before the first retry; doubled before each further one."""

UNREACHABLE_AFTER = 3
"""Originals in a row that fail to connect to a host before the run gives that host up."""

USER_AGENT = "medcnn-upstream (+https://github.com)"


class OriginalError(RuntimeError):
    """An original could not be obtained or did not verify; the message is one line."""


@dataclass(frozen=True)
class Origins:
    """Where originals come from; defaults from the environment (see `medcnn.config`)."""

    url: str = field(default_factory=config.upstream_url)
    listing: str = field(default_factory=config.upstream_list_url)
    index: str = field(default_factory=config.upstream_index)
    retries: int = field(default_factory=lambda: RETRIES)
    backoff: float = field(default_factory=lambda: BACKOFF)


class Fetcher:
    """Reads verified originals for rows; safe to share between threads."""

    def __init__(self, origins: Origins, wheels: Path) -> None:
        self.origins = origins
        self.wheels = Path(wheels)
        self.downloaded = 0
        self._lock = threading.Lock()
        self._wheel_locks: dict[str, threading.Lock] = {}
        self._failures: dict[str, int] = {}
        self._unreachable: dict[str, str] = {}

    def original(self, row: Row) -> bytes | list[Member]:
        """The row's original bytes (or its set of members), checked against its sha256."""
        if row.is_wheel:
            return _checked(self._wheel_member(row.repository, row.original_path), row)
        if is_set(row.transform):
            members = self._members(row)
            listing = "".join(f"{_sha256(data)}  {name}\n" for name, data in members)
            _check(listing.encode("utf-8"), row, "set of files")
            return members
        return _checked(
            self.get(self._file_url(row.repository, row.commit, row.original_path)), row
        )

    def get(self, url: str, headers: dict[str, str] | None = None) -> bytes:
        """The body of `url`, retried with back-off; OriginalError with a one-line reason."""
        host = urlsplit(url).netloc
        if host in self._unreachable:
            raise OriginalError(self._unreachable[host])
        attempt = 0
        while True:
            try:
                data = _read(url, headers or {})
            except _Retryable as error:
                if attempt < self.origins.retries:
                    time.sleep(error.delay or self.origins.backoff * 2**attempt)
                    attempt += 1
                    continue
                self._note_failure(host, error)
                raise OriginalError(str(error)) from None
            with self._lock:
                self._failures[host] = 0
                self.downloaded += len(data)
            return data

    def _note_failure(self, host: str, error: _Retryable) -> None:
        if not error.connection:
            return
        with self._lock:
            self._failures[host] = self._failures.get(host, 0) + 1
            if self._failures[host] >= UNREACHABLE_AFTER:
                self._unreachable[host] = str(error)

    def _file_url(self, repository: str, commit: str, path: str) -> str:
        return _fill(self.origins.url, repository, commit, path)

    def _members(self, row: Row) -> list[Member]:
        """Every file of the row's folder whose name matches its pattern, in byte order."""
        folder, pattern = _folder_and_pattern(row.original_path)
        headers = _github_headers(self.origins.listing)
        body = self.get(_fill(self.origins.listing, row.repository, row.commit, folder), headers)
        try:
            entries = json.loads(body)
            names = [e["name"] for e in entries if e.get("type", "file") == "file"]
        except (ValueError, TypeError, KeyError) as error:
            raise OriginalError(
                f"folder listing of {folder} is not a JSON list of files"
            ) from error
        matcher = re.compile(
            "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
        )
        names = sorted((n for n in names if matcher.fullmatch(n)), key=lambda n: n.encode("utf-8"))
        if not names:
            raise OriginalError(f"no file in {folder} matches {pattern}")
        return [
            (name, self.get(self._file_url(row.repository, row.commit, f"{folder}/{name}")))
            for name in names
        ]

    def _wheel_member(self, repository: str, member: str) -> bytes:
        spec = repository.removeprefix("pypi:")
        with self._lock:
            lock = self._wheel_locks.setdefault(spec, threading.Lock())
        with lock:
            wheel = self._wheel(spec)
        try:
            with zipfile.ZipFile(wheel) as bundle:
                return bundle.read(member)
        except KeyError as error:
            raise OriginalError(f"{wheel.name} has no member {member}") from error
        except (OSError, zipfile.BadZipFile) as error:
            wheel.unlink(missing_ok=True)
            raise OriginalError(f"{wheel.name} is not a readable wheel ({error})") from error

    def _wheel(self, spec: str) -> Path:
        """The wheel of `name==version`, downloaded once into the wheels folder."""
        name, _, version = spec.partition("==")
        cached = sorted(self.wheels.glob(f"{_wheel_stem(name)}-{version}-*.whl"))
        if cached:
            return cached[0]
        page_url = f"{self.origins.index.rstrip('/')}/{_normalise(name)}/"
        links = _Links.read(self.get(page_url).decode("utf-8", "replace"))
        wheels = [
            (text, urljoin(page_url, href))
            for href, text in links
            if text.endswith(".whl")
            and text.split("-")[1:2] == [version]
            and _normalise(text.split("-")[0]) == _normalise(name)
        ]
        if not wheels:
            raise OriginalError(f"{page_url} lists no wheel of {spec}")
        filename, url = min(wheels, key=lambda item: _wheel_preference(item[0]))
        data = self.get(url.split("#")[0])
        expected = re.search(r"#sha256=([0-9a-f]{64})", url)
        if expected and _sha256(data) != expected.group(1):
            raise OriginalError(f"{filename}: sha256 does not match the index")
        write_atomic(self.wheels / filename, data)
        return self.wheels / filename


class _Retryable(Exception):
    """A failure worth another attempt; `connection` when the host could not be reached."""

    def __init__(self, message: str, connection: bool = False, delay: float = 0.0) -> None:
        super().__init__(message)
        self.connection = connection
        self.delay = delay


def _read(url: str, headers: dict[str, str]) -> bytes:
    request = Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except HTTPError as error:
        if error.code in (408, 429) or error.code >= 500:
            delay = _retry_after(error.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {error.code} {error.reason} from {url}", delay=delay) from None
        raise OriginalError(f"HTTP {error.code} {error.reason} from {url}") from None
    except http.client.IncompleteRead as error:
        got, wanted = len(error.partial), len(error.partial) + (error.expected or 0)
        raise _Retryable(f"truncated download (got {got} of {wanted} bytes) from {url}") from None
    except (URLError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        host = urlsplit(url).netloc
        raise _Retryable(f"cannot reach {host} ({reason})", connection=True) from None
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        raise _Retryable(f"download from {url} failed ({error or type(error).__name__})") from None


def _retry_after(value: str | None) -> float:
    """Seconds a server asks to wait (at most a minute); 0 when it does not say."""
    try:
        return min(float(value), 60.0) if value else 0.0
    except ValueError:
        return 0.0


def _fill(template: str, repository: str, commit: str, path: str) -> str:
    encoded = "/".join(quote(part, safe="") for part in path.split("/"))
    return (
        template.replace("{repository}", repository)
        .replace("{commit}", commit)
        .replace("{path}", encoded)
    )


def _github_headers(template: str) -> dict[str, str]:
    """The API's JSON media type, and `GITHUB_TOKEN` (if set) for its higher rate limit."""
    if urlsplit(template).netloc != "api.github.com":
        return {}
    headers = {"Accept": "application/vnd.github+json"}
    if token := os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _folder_and_pattern(path: str) -> tuple[str, str]:
    """`folder/name*pattern` → (folder, pattern); a plain folder means every file in it."""
    folder, _, last = path.rpartition("/")
    return (folder, last) if "*" in last else (path, "*")


def _checked(data: bytes, row: Row) -> bytes:
    _check(data, row, "original")
    return data


def _check(data: bytes, row: Row, what: str) -> None:
    actual = _sha256(data)
    if actual != row.original_sha256:
        raise OriginalError(
            f"{what} sha256 mismatch (expected {row.original_sha256[:12]}…, got {actual[:12]}…)"
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_preference(filename: str) -> tuple[int, str]:
    """Pure-Python wheels first, then manylinux x86-64 (same member bytes in every platform's)."""
    if filename.endswith("-none-any.whl"):
        return 0, filename
    return (1 if "manylinux" in filename and "x86_64" in filename else 2), filename


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_stem(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


class _Links(HTMLParser):
    """The (href, text) pairs of a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    @classmethod
    def read(cls, html: str) -> list[tuple[str, str]]:
        parser = cls()
        parser.feed(html)
        return parser.links

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links.append((self._href, data.strip()))
            self._href = None
