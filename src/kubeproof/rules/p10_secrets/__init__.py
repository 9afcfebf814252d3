"""Rules for practice 10: keep secrets out of manifests, env vars and loose files.

No rule here ever puts a secret value in a message: findings name the key, the
env var or the field, and the kind of credential it looks like.

The family is split by where a secret is:

* ``pod_secrets``: how pods take the Secrets they use: env vars (KP1001), volume
  mounts (KP1002, with its fix) and file modes (KP1005);
* ``manifests``: credentials written in manifests: literal values in containers,
  ConfigMaps and annotations (KP1003), Secret objects in files (KP1004);
* ``detection``: what KP1003 finds credentials with (token formats, secret-like
  names, entropy, placeholders), linear in the size of a value.

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration.
"""
