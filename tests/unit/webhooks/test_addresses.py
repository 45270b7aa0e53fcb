"""The webhook dispatcher's address rules: no request reaches a private, loopback,
link-local, multicast, reserved or metadata address, however the URL spells it."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from webhook_delivery.addresses import (
    RefusedUrl,
    UnresolvedHost,
    checked_addresses,
    forbidden_reason,
    parse_url,
    system_resolver,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.5.6.7",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "169.254.169.254",  # EC2 instance metadata
    "169.254.169.253",  # the VPC's DNS resolver
    "169.254.1.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # EC2 instance metadata over IPv6
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:10.1.2.3",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
]
ALLOWED = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("text", FORBIDDEN)
def test_forbidden_addresses_are_refused(text: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_are_allowed(text: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(text)) is None


def test_metadata_address_is_named_as_such() -> None:
    reason = forbidden_reason(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert reason is not None and "instance metadata service" in reason


def test_loopback_is_allowed_only_when_asked_for() -> None:
    assert forbidden_reason(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert forbidden_reason(ipaddress.ip_address("::ffff:127.0.0.1"), allow_loopback=True) is None
    # Loopback permission does not open the rest of the private space.
    assert forbidden_reason(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None
    assert forbidden_reason(ipaddress.ip_address("169.254.169.254"), allow_loopback=True)


# The legacy numeric host forms inet_aton accepts: the system resolver reads them as the
# address they name, and the check runs on that address.
@pytest.mark.parametrize(
    "host",
    ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "017700000001"],
)
def test_decimal_octal_and_hex_hosts_are_judged_by_their_address(host: str) -> None:
    target = parse_url(f"https://{host}/hook")
    with pytest.raises(RefusedUrl, match="loopback"):
        checked_addresses(target)


def test_decimal_form_of_the_metadata_address_is_refused() -> None:
    target = parse_url("https://2852039166/latest/meta-data/")  # 169.254.169.254
    with pytest.raises(RefusedUrl, match="instance metadata service"):
        checked_addresses(target)


@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"])
def test_ipv6_literals_are_refused(host: str) -> None:
    with pytest.raises(RefusedUrl):
        checked_addresses(parse_url(f"https://{host}:8443/hook"))


def test_one_forbidden_address_among_public_ones_refuses_the_url() -> None:
    """A host with a public and a private record must not be reachable through the
    private one on some attempt: every resolved address is checked."""

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(RefusedUrl, match=r"10\.0\.0\.7 is a private address"):
        checked_addresses(parse_url("https://hooks.example.com/"), resolve=resolve)


def test_checked_addresses_are_the_resolved_ones() -> None:
    def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("hooks.example.com", 443)
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    addresses = checked_addresses(parse_url("https://hooks.example.com/x"), resolve=resolve)
    assert [str(a) for a in addresses] == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]


def test_a_host_that_does_not_resolve_is_retried_not_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnresolvedHost, match="did not resolve"):
        checked_addresses(parse_url("https://nowhere.invalid/"), resolve=resolve)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://hooks.example.com/", "must use https"),
        ("ftp://hooks.example.com/", "must use https"),
        ("file:///etc/passwd", "must use https"),
        ("https:///path", "has no host"),
        ("https://user:secret@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("", "must be an https URL"),
    ],
)
def test_url_forms_are_refused_with_one_sentence(url: str, expected: str) -> None:
    with pytest.raises(RefusedUrl, match=expected):
        parse_url(url)


def test_http_to_loopback_only_in_local_mode() -> None:
    with pytest.raises(RefusedUrl, match="must use https"):
        parse_url("http://127.0.0.1:8000/hook")
    target = parse_url("http://127.0.0.1:8000/hook?x=1", allow_loopback_http=True)
    assert (target.host, target.port, target.path) == ("127.0.0.1", 8000, "/hook?x=1")
    assert [str(a) for a in checked_addresses(target, allow_loopback_http=True)] == ["127.0.0.1"]


def test_local_mode_http_still_refuses_other_addresses() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    target = parse_url("http://hooks.example.com/", allow_loopback_http=True)
    with pytest.raises(RefusedUrl, match="not loopback; expected https"):
        checked_addresses(target, allow_loopback_http=True, resolve=resolve)
    with pytest.raises(RefusedUrl, match="private"):
        checked_addresses(
            parse_url("http://10.0.0.1/", allow_loopback_http=True), allow_loopback_http=True
        )


def test_https_to_loopback_is_refused_even_in_local_mode() -> None:
    with pytest.raises(RefusedUrl, match="loopback"):
        checked_addresses(parse_url("https://127.0.0.1/"), allow_loopback_http=True)


def test_host_header_keeps_the_urls_name_and_port() -> None:
    assert parse_url("https://hooks.example.com/").host_header == "hooks.example.com"
    assert parse_url("https://hooks.example.com:8443/").host_header == "hooks.example.com:8443"
    assert parse_url("https://[2606:4700::1]/").host_header == "[2606:4700::1]"


def test_system_resolver_returns_each_address_once() -> None:
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
