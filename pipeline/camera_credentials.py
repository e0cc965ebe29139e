"""Camera credentials: their own fields, put into a stream's URL (percent-encoded) only when a connection
opens, and one redaction for every text that could carry them (log lines, exception texts, CLI output).

A camera's password is given one of two ways:

* ``password_ref``: ``env:NAME`` (an environment variable of the worker) or ``file:PATH`` (a secrets file,
  e.g. a mounted Kubernetes secret; a trailing newline is dropped). Read at each connection, so a rotated
  secret is used at the next attempt. The only form the shared camera catalogue (NATS KV) holds.
* ``password``: the password itself, in the settings file or ``SAFECITY_*`` environment only (a pinned
  worker's own cameras). Kept as a ``SecretStr``: never printed, never written to the catalogue.

A URL with credentials in it (``rtsp://user:pass@host/...``) is still read and split into ``username``
and ``password``, so an existing settings file keeps working; its userinfo must be percent-encoded as
RFC 3986 says, and anything else is refused before the worker starts (``--validate-config``).
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

RTSP_SCHEMES = ("rtsp", "rtsps")
REDACTED = "***"

# scheme://userinfo@ : the userinfo (up to the last '@' before a '/', a space or a quote) is replaced.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/'\"<>]*)@")
# RFC 3986 userinfo: unreserved, sub-delims, ':' and %XX.
# password: "..." / password='...' / password=... in a dict's repr, JSON or a query string.
_PASSWORD_FIELD = re.compile(
    r"(?P<key>password['\"]?\s*[:=]\s*)(?:(?P<q>['\"])(?:(?!(?P=q)).)*(?P=q)|[^\s&,;}]+)"
)
_USERINFO_OK = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$")
_REF = re.compile(r"^(?P<kind>env|file):(?P<target>.+)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


class CredentialsUnavailable(Exception):
    """A camera's password reference names nothing readable (no such variable, unreadable file)."""


def remember_secret(secret: str) -> None:
    """``redact`` removes this text (and its percent-encoded form) wherever it appears from now on."""
    if len(secret) < 3:  # too short to find without mangling ordinary text; the URL rule still applies
        return
    with _secrets_lock:
        _secrets.update({secret, urllib.parse.quote(secret, safe="")})


def redact(text: str) -> str:
    """``text`` with every URL's userinfo and every password read so far replaced by ``***``.

    The one redaction of the project: log formatters, exceptions of camera connections, CLI output and
    configuration errors all go through it.
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    text = _PASSWORD_FIELD.sub(lambda m: f"{m['key']}{REDACTED}", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True, slots=True)
class SplitUrl:
    """A stream URL without its userinfo, and the username and password that were in it (decoded)."""

    url: str
    username: str | None
    password: str | None


def check_stream_url(url: str) -> SplitUrl:
    """Check an RTSP URL and take its credentials out; ValueError says what is wrong without the password.

    Refused: another scheme, no host, a port that is not 1-65535, spaces, a fragment, and userinfo with
    an unencoded reserved character (an '@', '#', '/' or '?' in a password must be written %40, %23, %2F,
    %3F) or a '%' not followed by two hex digits.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("is not an rtsp:// or rtsps:// URL (no scheme)")
    if scheme.lower() not in RTSP_SCHEMES:
        shown = scheme.lower() if re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", scheme.lower()) else "?"
        raise ValueError(f"is not an rtsp:// or rtsps:// URL (scheme {shown!r})")
    if any(c.isspace() for c in url):
        raise ValueError("holds a space or control character; percent-encode it")
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    if "@" in tail:
        raise ValueError(
            "has an '@' after a '/', '?' or '#': if the password holds '/', '?', '#' or '@', percent-encode "
            "it (%2F, %3F, %23, %40) or give it as the camera's password"
        )
    if "#" in tail:
        raise ValueError("has a '#' (a fragment, which RTSP does not use; in a password, write %23)")
    if at and not _USERINFO_OK.match(userinfo):
        problem = (
            "a '%' not followed by two hex digits"
            if re.search(r"%(?![0-9A-Fa-f]{2})", userinfo)
            else ("an unencoded reserved character ('@', '[', ']' and the like)")
        )
        raise ValueError(f"user or password holds {problem}; percent-encode it, or give it as the password")
    parts = urllib.parse.urlsplit(f"{scheme}://{hostport}{tail}")
    if not parts.hostname:
        raise ValueError("names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if (port is not None and not 1 <= port <= 65535) or hostport.endswith(":"):
        raise ValueError("has a port that is not a number from 1 to 65535")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = urllib.parse.unquote(user)
        password = urllib.parse.unquote(secret) if colon else None
        if not username:
            raise ValueError("has credentials without a user name")
    return SplitUrl(f"{scheme}://{hostport}{tail}", username, password)


def check_password_ref(ref: str) -> str:
    match = _REF.match(ref)
    if match is None:
        raise ValueError(
            "password_ref must be env:NAME (an environment variable) or file:PATH (a secrets file)"
        )
    if match["kind"] == "env" and not _ENV_NAME.match(match["target"]):
        raise ValueError(f"password_ref {ref!r}: not an environment variable name")
    return ref


def read_password_ref(ref: str) -> str:
    """The password ``ref`` names, read now; CredentialsUnavailable (without the secret) if unreadable."""
    match = _REF.match(ref)
    if match is None:
        raise CredentialsUnavailable(f"password_ref {ref!r} is not env:NAME or file:PATH")
    if match["kind"] == "env":
        value = os.environ.get(match["target"])
        if value is None:
            raise CredentialsUnavailable(f"password_ref {ref}: the environment variable is not set")
        return value
    try:
        return Path(match["target"]).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsUnavailable(
            f"password_ref {ref}: cannot read the file ({type(exc).__name__})"
        ) from None


@dataclass(frozen=True, slots=True)
class StreamAddress:
    """Where one stream is and how to log in: ``url`` has no credentials and may be shown anywhere."""

    url: str
    username: str | None = None
    password: SecretStr | None = None
    password_ref: str | None = None

    def __str__(self) -> str:
        return self.url

    def current_password(self) -> str | None:
        """The password as it stands now (a reference is read again each time)."""
        if self.password_ref is not None:
            value = read_password_ref(self.password_ref)
        elif self.password is not None:
            value = self.password.get_secret_value()
        else:
            return None
        remember_secret(value)
        return value

    def connect_url(self) -> str:
        """The URL to open, credentials percent-encoded into it. Never log it: log ``url``."""
        return self.url_with(self.current_password())

    def url_with(self, password: str | None) -> str:
        """The URL with the username and this password in it (read by ``current_password``)."""
        if self.username is None:
            return self.url
        userinfo = urllib.parse.quote(self.username, safe="")
        if password is not None:
            userinfo += ":" + urllib.parse.quote(password, safe="")
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{userinfo}@{rest}"
