"""Build a connector from a tenant's plain settings, and check those settings.

Settings are ``(provider, config, secret)``: ``config`` is the non-secret JSON an
admin entered, ``secret`` the decrypted credential. Provider modules are imported
only when a connector of that kind is built, so importing this module pulls in
no provider SDK.

:data:`PROVIDERS` is what the domain is handed at start-up (the
:class:`calendars.base.CalendarProviders` interface): validation, cached connectors, the
connection test, admin consent addresses and the per-user OAuth grant.

Config keys per provider (all optional unless marked):
- google: ``domain`` (required), ``auth`` = "service_account" (default; secret = the
  service-account JSON) or "oauth" (secret = the OAuth client secret; ``client_id``
  required, ``token_uri``), ``api_endpoint``, ``freebusy_subject``.
- microsoft: ``tenant_id``, ``client_id`` (required); secret = client secret, or a PEM
  private key with ``certificate_thumbprint``; ``authority_host``, ``graph_url``,
  ``schedule_user``, ``schedule_batch``, ``ca_bundle``.
- caldav: ``url`` (required), ``username`` (shared account; secret = its password;
  else per-person credentials on each account), ``auth`` = "basic" (default) or "none" (a
  server that asks for no sign-in: no shared account, no per-person credentials),
  ``use_sync_token``, ``freebusy_report``, ``ca_bundle``.
- every provider: ``timeout`` (seconds per socket read; default in ``calendars.deadlines``),
  ``retry`` ({max_attempts, base_delay, max_delay, max_retry_after, max_elapsed}).
- google, microsoft: ``push`` (default true): keep push channels/subscriptions open so changes
  arrive within seconds (the worker opens and renews them; polling goes on regardless).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from calendars import deadlines
from calendars.base import (
    AuthError,
    AuthorizationCodeGrant,
    CalendarConnector,
    CalendarError,
    CalendarIdentity,
    ConnectionCheck,
    ConsentMissing,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    SettingsError,
)
from calendars.http import RetryPolicy, policy_from_config

KINDS = ("google", "microsoft", "caldav")


def _url(value: Any, field: str, *, https_only: bool = False) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        kind = "an https URL" if https_only else "an http(s) URL"
        raise SettingsError(f"{field} must be {kind}.", field)
    return text


def _secure_url(value: Any, field: str) -> str:
    """An https URL, or plain http to this machine only (RFC 8252 section 7.3, for loopback tests)."""
    text = _url(value, field)
    parts = urlsplit(text)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(f"{field} must be an https URL.", field)
    return text


def service_account_info(secret: str | None) -> dict[str, Any]:
    """Parse and sanity-check a Google service-account JSON key."""
    if not secret:
        raise SettingsError("Paste the service account's JSON key.", "secret")
    try:
        info = json.loads(secret)
    except ValueError:
        raise SettingsError("The service account key is not valid JSON.", "secret") from None
    if not isinstance(info, dict):
        raise SettingsError("The service account key must be a JSON object.", "secret")
    missing = [k for k in ("client_email", "private_key") if not info.get(k)]
    if missing:
        raise SettingsError(f"The service account key lacks {', '.join(missing)}.", "secret")
    if info.get("type", "service_account") != "service_account":
        raise SettingsError("That JSON is not a service account key.", "secret")
    if "BEGIN" not in str(info["private_key"]):
        raise SettingsError("The service account's private_key is not a PEM key.", "secret")
    return info


def validate(provider: str, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
    """Check settings; returns the cleaned config. Raises :class:`SettingsError`."""
    if provider not in KINDS:
        raise SettingsError(f"Provider must be one of {', '.join(KINDS)}.", "provider")
    if not isinstance(config, Mapping):
        raise SettingsError("config must be an object.", "config")
    clean = dict(config)
    if "timeout" in clean and (not isinstance(clean["timeout"], int | float) or clean["timeout"] <= 0):
        raise SettingsError("timeout must be a positive number of seconds.", "timeout")
    if "push" in clean and not isinstance(clean["push"], bool):
        raise SettingsError("push must be true or false.", "push")
    if provider == "google":
        domain = str(clean.get("domain", "")).strip().lower()
        if not domain or "." not in domain or "@" in domain:
            raise SettingsError("Give the Workspace domain, e.g. example.com.", "domain")
        clean["domain"] = domain
        auth = clean.setdefault("auth", "service_account")
        if auth == "service_account":
            service_account_info(secret)
        elif auth == "oauth":
            if not str(clean.get("client_id", "")).strip():
                raise SettingsError("OAuth needs the client id.", "client_id")
            if not secret:
                raise SettingsError("OAuth needs the client secret.", "secret")
            for key in ("auth_uri", "token_uri"):  # codes and the client secret travel there
                if clean.get(key):
                    clean[key] = _secure_url(clean[key], key)
        else:
            raise SettingsError("auth must be service_account or oauth.", "auth")
        if clean.get("api_endpoint"):
            clean["api_endpoint"] = _url(clean["api_endpoint"], "api_endpoint")
    elif provider == "microsoft":
        for key in ("tenant_id", "client_id"):
            if not str(clean.get(key, "")).strip():
                raise SettingsError(f"{key} is required.", key)
            clean[key] = str(clean[key]).strip()
        if not secret:
            raise SettingsError("Give the client secret or the certificate's private key.", "secret")
        if "BEGIN" in secret and not clean.get("certificate_thumbprint"):
            raise SettingsError("A certificate key needs certificate_thumbprint.", "certificate_thumbprint")
        if clean.get("authority_host"):
            clean["authority_host"] = _url(clean["authority_host"], "authority_host", https_only=True)
        if clean.get("graph_url"):
            clean["graph_url"] = _url(clean["graph_url"], "graph_url", https_only=True)
        batch = clean.get("schedule_batch")
        if batch is not None and (not isinstance(batch, int) or not 1 <= batch <= 100):
            raise SettingsError("schedule_batch must be between 1 and 100.", "schedule_batch")
    else:
        clean["url"] = _url(clean.get("url"), "url")
        auth = clean.get("auth", "basic")
        if auth not in ("basic", "none"):
            raise SettingsError("auth must be basic or none (a server that asks for no sign-in).", "auth")
        if auth == "none" and (clean.get("username") or secret):
            field = "username" if clean.get("username") else "secret"
            raise SettingsError("A server without authentication takes no username or password.", field)
        if clean.get("username") and not secret:
            raise SettingsError("A shared CalDAV account needs its password.", "secret")
    return clean


def _verify(config: Mapping[str, Any]) -> bool | str:
    if config.get("ca_bundle"):
        return str(config["ca_bundle"])
    return bool(config.get("verify_tls", True))


def build_connector(
    provider: str, config: Mapping[str, Any], secret: str | None, *, policy: RetryPolicy | None = None
) -> CalendarConnector:
    """A ready connector for the tenant (no network until it is used).

    Timeouts: connect ``calendar_connect``, each read the tenant's ``timeout`` or
    ``calendar_read``, one call with its retries ``calendar_call_seconds`` (unless the
    tenant's ``retry`` sets ``max_elapsed``); see ``calendars.deadlines``.
    """
    limits = deadlines.current()
    policy = policy or policy_from_config(config)
    if policy.max_elapsed is None:
        policy = replace(policy, max_elapsed=limits.calendar_call_seconds)
    timeout = float(config.get("timeout", limits.calendar_read))
    connect_timeout = min(limits.calendar_connect, timeout)
    if provider == "google":
        from calendars.google import GoogleConnector

        if config.get("auth", "service_account") == "oauth":
            oauth = {"client_id": str(config["client_id"]), "client_secret": secret or ""}
            if config.get("token_uri"):
                oauth["token_uri"] = str(config["token_uri"])
            return GoogleConnector(
                oauth_client=oauth,
                api_endpoint=config.get("api_endpoint") or None,
                policy=policy,
                timeout=timeout,
                connect_timeout=connect_timeout,
            )
        return GoogleConnector(
            service_account_info=service_account_info(secret),
            api_endpoint=config.get("api_endpoint") or None,
            freebusy_subject=str(config.get("freebusy_subject", "")),
            policy=policy,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
    if provider == "microsoft":
        from calendars.microsoft import (
            DEFAULT_AUTHORITY_HOST,
            DEFAULT_GRAPH_URL,
            SCHEDULE_BATCH,
            MicrosoftConnector,
        )

        is_cert = bool(secret and "BEGIN" in secret)
        return MicrosoftConnector(
            tenant_id=str(config["tenant_id"]),
            client_id=str(config["client_id"]),
            client_secret=None if is_cert else secret,
            certificate_key=secret if is_cert else None,
            certificate_thumbprint=str(config.get("certificate_thumbprint", "")) or None,
            authority_host=str(config.get("authority_host") or DEFAULT_AUTHORITY_HOST),
            graph_url=str(config.get("graph_url") or DEFAULT_GRAPH_URL),
            schedule_user=str(config.get("schedule_user", "")),
            schedule_batch=int(config.get("schedule_batch", SCHEDULE_BATCH)),
            policy=policy,
            timeout=timeout,
            connect_timeout=connect_timeout,
            verify=_verify(config),
        )
    if provider == "caldav":
        from calendars.caldav_provider import CalDAVConnector

        return CalDAVConnector(
            str(config["url"]),
            username=str(config.get("username", "")),
            password=secret,
            policy=policy,
            timeout=timeout,
            connect_timeout=connect_timeout,
            verify=_verify(config),
            use_sync_token=bool(config.get("use_sync_token", True)),
            max_workers=int(config.get("max_workers", 8)),
            freebusy_report=bool(config.get("freebusy_report", False)),
        )
    raise SettingsError(f"Unknown provider {provider!r}.", "provider")


def check_connection(connector: CalendarConnector, probe: Sequence[CalendarIdentity]) -> ConnectionCheck:
    """Try ``connector`` (and the probe's calendars): say plainly what failed."""
    try:
        connector.test_connection(probe)
    except ConsentMissing as exc:
        return ConnectionCheck(False, "no_consent", f"Access not granted: {exc}")
    except AuthError as exc:
        return ConnectionCheck(False, "bad_credentials", f"The credentials were refused: {exc}")
    except NotFound as exc:
        return ConnectionCheck(False, "wrong_calendar", f"The calendar was not found: {exc}")
    except RateLimited as exc:
        return ConnectionCheck(False, "rate_limited", f"The provider is throttling us: {exc}")
    except ProviderUnavailable as exc:
        return ConnectionCheck(False, "unreachable", f"The provider could not be reached: {exc}")
    except CalendarError as exc:
        return ConnectionCheck(False, "error", f"The provider refused: {exc}")
    checked = f" and the calendar of {probe[0].email} was read" if probe else ""
    return ConnectionCheck(True, "", f"The connection works: the credentials were accepted{checked}.")


class Registry:
    """:class:`calendars.base.CalendarProviders` over this module's providers."""

    CACHE_SIZE = 64

    def __init__(self) -> None:
        self._connectors: OrderedDict[str, CalendarConnector] = OrderedDict()

    def validate(self, provider: str, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        return validate(provider, config, secret)

    def calendar_address(self, provider: str, config: Mapping[str, Any], external_id: str) -> str:
        text = external_id.strip()
        if provider != "caldav":
            return text
        from calendars.caldav_provider import OutsideServer, calendar_path, url_inside

        try:
            url_inside(str(config.get("url", "")), calendar_path(text))
        except OutsideServer as exc:
            raise SettingsError(f"The calendar cannot be used: {exc}.", "external_id") from None
        return text

    def connector(self, key: object, provider: str, config: Mapping[str, Any],
                  secret: str | None) -> CalendarConnector:
        fingerprint = hashlib.sha256(
            json.dumps([key, provider, config, secret], sort_keys=True, default=str).encode()
        ).hexdigest()
        connector = self._connectors.get(fingerprint)
        if connector is None:
            connector = build_connector(provider, config, secret)
            self._connectors[fingerprint] = connector
            while len(self._connectors) > self.CACHE_SIZE:
                self._connectors.popitem(last=False)
        else:
            self._connectors.move_to_end(fingerprint)
        return connector

    def test_connection(self, provider: str, config: Mapping[str, Any], secret: str | None,
                        probe: Sequence[CalendarIdentity]) -> ConnectionCheck:
        try:
            # A fresh connector: cached tokens must not hide revoked consent or a changed password.
            fresh = build_connector(provider, config, secret)
        except SettingsError as exc:
            return ConnectionCheck(False, "error", f"The settings cannot work: {exc}")
        return check_connection(fresh, probe)

    def admin_consent_url(self, provider: str, config: Mapping[str, Any], redirect_uri: str,
                          state: str) -> str | None:
        if provider != "microsoft":
            return None
        from calendars.microsoft import DEFAULT_AUTHORITY_HOST
        from calendars.microsoft import admin_consent_url as build

        return build(
            str(config["tenant_id"]),
            str(config["client_id"]),
            redirect_uri,
            authority_host=str(config.get("authority_host") or DEFAULT_AUTHORITY_HOST),
            state=state,
        )

    def authorization_code_grant(self, provider: str, config: Mapping[str, Any], secret: str | None,
                                 redirect_uri: str) -> AuthorizationCodeGrant:
        if provider != "google":
            raise SettingsError(f"{provider} has no per-user authorization code grant.", "provider")
        from calendars.google_oauth import GoogleCodeGrant

        return GoogleCodeGrant(config, secret, redirect_uri)


PROVIDERS = Registry()
