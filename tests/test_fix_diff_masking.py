"""``fix --diff`` masks secret values by position, from the parsed structure:
every scalar under a Secret's data/stringData (Lists too, any type or style)
and every value KP1003 flags, and nothing else (issue #9)."""

from __future__ import annotations

import random
import string
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.reports.redact import MASK, masked
from tests.support.cli import kp
from tests.support.paths import TESTS

LIST_OF_SECRET_AND_DEPLOYMENT = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata:
      name: mysql
    stringData:
      password: mysql
      pin: 482913
      cert: >-
        folded-secret-line-one
        folded-secret-line-two
      script: |
        literal-secret-line
    data:
      token: "c2VjcmV0LXRva2Vu"
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: mysql
      namespace: shop
    spec:
      selector:
        matchLabels: {app: mysql}
      template:
        metadata:
          labels: {app: mysql}
        spec:
          containers:
            - name: mysql
              image: mysql:8.0
              args:
                - --db-password=Blk4rgS3cret
              env:
                - name: DB_PASSWORD
                  value: Env-S3cret-Val
"""
SECRETS_IN_LIST = ["482913", "folded-secret-line-one", "folded-secret-line-two",
                   "literal-secret-line", "c2VjcmV0LXRva2Vu", "Blk4rgS3cret", "Env-S3cret-Val"]

CONFIG_FILE_IN_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  app.ini: |
    [database]
    host = db.shop.svc
    password = Cfg-Hunter2-Secret
  mode: production
"""


def test_values_in_every_shape_are_masked() -> None:
    text, hid = masked(LIST_OF_SECRET_AND_DEPLOYMENT)
    assert hid
    assert [v for v in SECRETS_IN_LIST if v in text] == []
    assert "password: " + MASK in text and "pin: " + MASK in text


def test_only_the_secret_positions_are_masked_not_equal_strings_elsewhere() -> None:
    """The Secret's password is "mysql": names, labels and the image keep it."""
    text, _ = masked(LIST_OF_SECRET_AND_DEPLOYMENT)
    assert "password: mysql" not in text
    assert text.count("mysql") == LIST_OF_SECRET_AND_DEPLOYMENT.count("mysql") - 1
    assert "image: mysql:8.0" in text and "name: mysql" in text
    # line structure is kept, so the diff lines up with the file
    assert text.count("\n") == LIST_OF_SECRET_AND_DEPLOYMENT.count("\n")
    assert "      cert: " + MASK + "\n        " + MASK + "\n" in text


def test_config_file_in_configmap_is_masked_other_keys_are_not() -> None:
    text, hid = masked(CONFIG_FILE_IN_CONFIGMAP)
    assert hid and "Cfg-Hunter2-Secret" not in text
    assert "mode: production" in text and "name: app-config" in text


def test_files_without_secrets_are_left_alone() -> None:
    plain = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  mode: debug\n"
    assert masked(plain) == (plain, False)


def test_broken_and_hostile_documents_do_not_raise() -> None:
    for text in ("a: [\n", "kind: Secret\ndata: [x, {y: z}]\n", "kind: Secret\ndata: 12\n",
                 "- kind: List\n", "kind: List\nitems: {a: b}\n", "\x00\x1b[31m"):
        masked(text)
    text, _ = masked("kind: Secret\ndata: [Sup3rS3cret, {y: Nested-S3cret}]\n")
    assert "Sup3rS3cret" not in text and "Nested-S3cret" not in text


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=5, max_size=24),
       st.sampled_from(["plain", "single", "double", "folded", "literal", "number"]))
def test_any_secret_value_in_any_style_is_masked(value: str, style: str) -> None:
    rendered = {
        "plain": f"k{value}", "single": f"'{value}'", "double": f'"{value}"',
        "folded": f">-\n    {value}\n    {value}", "literal": f"|\n    {value}",
        "number": str(random.Random(value).randrange(10**6, 10**9)),
    }[style]
    text = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
            f"  key: {rendered}\n")
    hidden = rendered.split("\n")[-1].strip().strip("'\"")
    out, hid = masked(text)
    assert hid and hidden not in out and "name: s" in out


def test_fix_diff_cli_masks_by_position(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(LIST_OF_SECRET_AND_DEPLOYMENT)
    proc = kp(
        "fix", str(path), "--no-config", "--diff",
        "--unsafe-fixes")  # the unsafe fixes edit next to the env var
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    assert [v for v in SECRETS_IN_LIST if v in out] == []
    assert "value: " + MASK in proc.stdout  # the env var is in a hunk's context
    assert "image: mysql:8.0" in proc.stdout
    assert "secret values are masked" in proc.stderr
    assert path.read_text() == LIST_OF_SECRET_AND_DEPLOYMENT  # --diff changes nothing


def test_values_merged_into_a_secret_with_yaml_merge_keys_are_masked_where_written() -> None:
    text = ("defaults: &base\n  password: Merged-S3cret-Val\n"
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
            "  <<: *base\n  user: Own-S3cret-Val\n")
    out, hid = masked(text)
    assert hid and "Merged-S3cret-Val" not in out and "Own-S3cret-Val" not in out
    assert "defaults: &base" in out and "name: s" in out


def test_encryption_configuration_keys_are_masked_names_are_not() -> None:
    """The keys that encrypt Secrets at rest are secrets themselves (KP1006's
    findings point into this file, so the HTML excerpt would show them)."""
    text = (TESTS / "rules" / "KP1006" / "fail-encryption-config.yaml").read_text()
    out, hid = masked(text)
    assert hid
    assert "c2VjcmV0IGlzIHNlY3VyZQ==" not in out and "YWJjZGVmZ2hp" not in out
    assert out.count("secret: " + MASK) == text.count("secret: ")
    assert "name: key1" in out and "endpoint: unix:///var/run/kms/socket.sock" in out
    hostile = "kind: EncryptionConfiguration\nresources:\n- providers:\n  - aescbc:\n" \
              "      keys: s3cr3t-k3y\n  - 7\n- 3\n"
    out, hid = masked(hostile)
    assert hid and "s3cr3t-k3y" not in out
