"""Where a probe may connect (issue 16): allow-list entries pin a port, and a host under an
allowed suffix is resolved once, every address it resolves to must be global, and the
connection goes to that checked address (with the name kept for Host, SNI and the certificate).
The exact configured bases are trusted as configured (the other tests point them at 127.0.0.1).

DNS is stood in for by the `dns` fixture: names it knows resolve as told; it also "routes" a
global address to a local listener by resolving that literal to 127.0.0.1, which is what the
network would do for a real server at that address.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fake_http import HitCounter
from helpers import make_settings

from webhook_service.config import ConfigError, Settings
from webhook_service.livepeer.probe import Prober

PUBLIC = "8.8.8.8"  # global addresses; the `dns` fixture routes both to 127.0.0.1
PUBLIC6 = "2001:4860:4860::8888"
ENV = {"LIVEPEER_WEBHOOK_SECRET": "s", "OPS_API_TOKEN": "t"}


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def dns(monkeypatch):
    """`answers[name]`: a list of answers, one per lookup (the last one repeats); an answer is
    a list of addresses, or None for a failed lookup. `asked`: the names looked up, in order."""
    real = socket.getaddrinfo
    answers: dict[str, list[list[str] | None]] = {}
    asked: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        asked.append(host)
        queue = answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answer
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers[PUBLIC] = answers[PUBLIC6] = [["127.0.0.1"]]
    return answers, asked


# --- Ports: a suffix entry means 443 unless written host:port ------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://livepeercdn.studio/hls/x/index.m3u8", True),
        ("https://livepeercdn.studio:443/hls/x/index.m3u8", True),
        ("https://fra-1.lp-playback.studio/hls/x/index.m3u8", True),
        ("https://fra-1.lp-playback.studio:8443/hls/x/index.m3u8", False),
        ("http://livepeercdn.studio/hls/x/index.m3u8", False),  # port 80
        ("https://livepeercdn.studio:22/", False),
        ("https://node.cdn.example:8443/x", True),
        ("https://cdn.example:8443/x", True),
        ("https://node.cdn.example/x", False),
        ("https://node.cdn.example:8444/x", False),
    ],
)
def test_each_allowed_suffix_pins_a_port(url, allowed):
    """`host` allows port 443 only; `host:port` that port only."""
    settings = make_settings(
        None,
        probe_allowed_hosts=("livepeercdn.studio", "lp-playback.studio", "cdn.example:8443"),
    )
    assert Prober.from_settings(settings).is_allowed(url) is allowed


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("livepeer.studio", ("livepeer.studio",)),
        (" Cdn.Example.:8443 , livepeer.studio ", ("cdn.example:8443", "livepeer.studio")),
    ],
)
def test_probe_allowed_hosts_parses_hosts_and_ports(raw, parsed):
    """Entries are lower-cased names without a trailing dot, each with an optional port."""
    assert Settings.from_env({**ENV, "PROBE_ALLOWED_HOSTS": raw}).probe_allowed_hosts == parsed


@pytest.mark.parametrize(
    "raw", ["https://livepeer.studio", "cdn.example:0", "cdn.example:65536", "cdn.example:x", "a/b"]
)
def test_a_malformed_allowed_host_stops_startup(raw):
    """A scheme, a path or a bad port is refused with the variable's name, not ignored."""
    with pytest.raises(ConfigError, match="PROBE_ALLOWED_HOSTS"):
        Settings.from_env({**ENV, "PROBE_ALLOWED_HOSTS": raw})


# --- Addresses: checked when connecting, for hosts under a suffix ---------------------------


def test_a_suffix_host_resolving_to_loopback_is_not_contacted():
    """localhost is under the allowed suffix `localhost:<port>`, and resolves to loopback."""
    with HitCounter() as counter:
        port = port_of(counter.url)
        prober = Prober((), (f"localhost:{port}",), call_timeout=1)
        result = prober.fetch(f"http://localhost:{port}/x", deadline=soon())
        assert result.error is not None and result.status is None
        assert result.error.startswith("address not allowed: localhost resolves to ")
        assert "loopback" in result.error
        assert counter.hits == 0


def test_a_redirect_to_a_suffix_host_on_a_private_address_is_not_followed(fake):
    """The CDN's redirect target passes the same connect-time check as a first request."""
    with HitCounter() as counter:
        port = port_of(counter.url)
        prober = Prober((fake.cdn_url,), (f"localhost:{port}",), call_timeout=1)
        fake.redirect("/hls/", f"http://localhost:{port}/steal")
        result = prober.fetch(fake.hls_url("abc"), deadline=soon())
        assert result.error.startswith("address not allowed: localhost resolves to ")
        assert (result.redirects, counter.hits) == (1, 0)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-global"),
        ("224.0.0.1", "multicast"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_every_non_global_address_is_refused(dns, address, kind):
    """Loopback, private, link-local, cloud metadata, shared and multicast addresses: refused,
    even when the name also resolves to a global one (every address is checked)."""
    answers, _ = dns
    answers["mixed.probe.test"] = [[PUBLIC, address]]
    with HitCounter() as counter:
        port = port_of(counter.url)
        prober = Prober((), (f"probe.test:{port}",), call_timeout=1)
        result = prober.fetch(f"http://mixed.probe.test:{port}/x", deadline=soon())
        expected = f"address not allowed: mixed.probe.test resolves to {address}, a {kind} address"
        assert result.error == expected
        assert counter.hits == 0


@pytest.mark.parametrize("address", [PUBLIC, PUBLIC6])
def test_the_checked_address_is_the_one_connected_to(dns, address):
    """Resolved once: a second lookup (DNS rebinding to a private address) is never made, and
    the request still names the host (Host header) while going to the checked address."""
    answers, asked = dns
    answers["rebind.probe.test"] = [[address], ["10.0.0.1"]]
    with HitCounter() as counter:
        port = port_of(counter.url)
        prober = Prober((), (f"probe.test:{port}",), call_timeout=1)
        result = prober.fetch(f"http://rebind.probe.test:{port}/x?q=1", deadline=soon())
        assert (result.status, result.error) == (200, None)
        assert asked.count("rebind.probe.test") == 1
        (request,) = counter.requests
        assert (request.path, request.headers["host"]) == ("/x?q=1", f"rebind.probe.test:{port}")


def test_a_failed_lookup_is_an_error_string(dns):
    """No exception: the probe answers "DNS lookup failed"."""
    answers, _ = dns
    answers["gone.probe.test"] = [None]
    prober = Prober((), ("probe.test",), call_timeout=1)
    result = prober.fetch("https://gone.probe.test/x", deadline=soon())
    assert (result.status, result.error) == (None, "DNS lookup failed")


def test_an_exact_configured_base_is_trusted_as_configured():
    """LIVEPEER_API_URL and LIVEPEER_PLAYBACK_URL may be private (127.0.0.1 in tests, a sidecar):
    their exact host:port skips the address check, even a name under an allowed suffix."""
    with HitCounter() as counter:
        port = port_of(counter.url)
        prober = Prober((f"http://localhost:{port}",), ("localhost",), call_timeout=1)
        result = prober.fetch(f"http://localhost:{port}/x", deadline=soon())
        assert (result.status, result.error, counter.hits) == (200, None, 1)


# --- TLS: the certificate is still checked for the name ------------------------------------


def _certificates(directory, name):
    """A CA's certificate and a server certificate for `name` signed by it, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe test CA")])

    def build(subject, public_key, *extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = build(
        ca_name,
        ca_key.public_key(),
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
    )
    leaf = build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        key.public_key(),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectAlternativeName([x509.DNSName(name)]), False),
        (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False),
    )
    paths = {n: directory / f"{n}.pem" for n in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for cdn.probe.test from a CA the probe
    trusts (SSL_CERT_FILE); yields its port and the SNI names and Host headers it saw."""
    paths = _certificates(tmp_path, "cdn.probe.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(paths["ca"]))
    seen: dict[str, list[str]] = {"sni": [], "host": []}

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths["cert"], paths["key"])
    context.sni_callback = lambda _sock, name, _ctx: seen["sni"].append(name) and None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_tls_to_the_checked_address_verifies_the_certificate_for_the_name(dns, tls_server):
    """SNI and the certificate check use the host name, not the address connected to: the
    right name succeeds, another name served the same certificate is a TLS error."""
    answers, _ = dns
    answers["cdn.probe.test"] = answers["other.probe.test"] = [[PUBLIC]]
    port, seen = tls_server
    prober = Prober((), (f"probe.test:{port}",), call_timeout=2)
    result = prober.fetch(f"https://cdn.probe.test:{port}/x", deadline=soon())
    assert (result.status, result.error, result.body) == (200, None, "ok")
    assert seen == {"sni": ["cdn.probe.test"], "host": [f"cdn.probe.test:{port}"]}
    wrong = prober.fetch(f"https://other.probe.test:{port}/x", deadline=soon())
    assert (wrong.status, wrong.error) == (None, "TLS error")
    assert seen["host"] == [f"cdn.probe.test:{port}"]  # no request was sent over that TLS
