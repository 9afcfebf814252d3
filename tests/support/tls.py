"""Test certificates: a CA made for the test and a serving certificate for
localhost/127.0.0.1 it signs, written to files as servers read them.

:class:`Tls` is what the fake API server takes; :class:`Pki` is the webhook's
(it can issue a fresh serving certificate in place, for the reload tests).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from kubeproof.webhook.certs import KeyPair, make_ca, make_serving_cert


@dataclass(frozen=True, slots=True)
class Tls:
    ca_pem: bytes
    cert_file: str
    key_file: str


def make_tls(folder: Path) -> Tls:
    """A CA and a server certificate for 127.0.0.1/localhost, written to ``folder``."""
    ca = make_ca("fake-kube-ca", days=1)
    serving = make_serving_cert(ca, ["localhost"], ["127.0.0.1"], days=1)
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(serving.cert_pem)
    key_file.write_bytes(serving.key_pem)
    return Tls(ca.cert_pem, str(cert_file), str(key_file))


@dataclass
class Pki:
    dir: Path
    ca: KeyPair

    @property
    def ca_file(self) -> str:
        return str(self.dir / "ca.pem")

    @property
    def cert_file(self) -> str:
        return str(self.dir / "tls.crt")

    @property
    def key_file(self) -> str:
        return str(self.dir / "tls.key")

    def context(self) -> ssl.SSLContext:
        """A client TLS context trusting only the test CA."""
        return ssl.create_default_context(cafile=self.ca_file)

    def issue(self) -> KeyPair:
        """A fresh serving certificate for localhost/127.0.0.1, written in place."""
        pair = make_serving_cert(self.ca, ["localhost"], ["127.0.0.1"])
        Path(self.key_file).write_bytes(pair.key_pem)
        Path(self.cert_file).write_bytes(pair.cert_pem)
        return pair


def make_pki(directory: Path) -> Pki:
    pki = Pki(directory, make_ca())
    Path(pki.ca_file).write_bytes(pki.ca.cert_pem)
    pki.issue()
    return pki
