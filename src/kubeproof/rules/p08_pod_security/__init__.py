"""Rules for practice 8: the Pod Security Standards (KP0801–KP0819).

The family is split by what a check confines, each restricted twin beside its
baseline check:

* ``host``: host process, namespaces, ports and probe/hook hosts (KP0801, KP0802,
  KP0806, KP0818);
* ``volumes``: hostPath and the restricted volume types (KP0805, KP0812);
* ``privileges``: privileged, capabilities, privilege escalation, user IDs
  (KP0803, KP0804, KP0813-KP0815, KP0817) and their fixes;
* ``confinement``: AppArmor, SELinux, procMount, seccomp, sysctls (KP0807-KP0811,
  KP0816, KP0819) and the seccomp fix;
* ``common``: version gates, field paths and upstream values shared by them.

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration.

Each rule is one check of upstream pod-security-admission (PSA), with upstream's
allowed values and version cut-overs; ``ctx.kube_version`` plays the role of the
namespace's ``enforce-version``. A check returns nothing below the version that
introduced it. The checks apply to Pods and to every pod template (``pods=True``);
annotations (AppArmor, the seccomp alpha annotations) are read from the pod (or
template) metadata. Every container list is visited: init, regular, ephemeral.

Levels. The rules always evaluate the full restricted set and never read
``ctx.pss_level``: the engine drops the restricted-only codes (KP0812–KP0817,
KP0819) afterwards for a run or namespace at ``baseline`` (and everything at
``privileged``).

Restricted twins. Upstream's restricted level *replaces* four baseline checks by
stricter twins: hostPathVolumes by restrictedVolumes, capabilities_baseline by
capabilities_restricted (1.22+), seccompProfile_baseline by
seccompProfile_restricted (1.19+) and procMount by procMount_restricted (1.35+).
kubeproof reports every violation once: what the baseline check flags is reported
under the baseline code, and the twin reports only what its baseline check lets
through:

* KP0812 (restrictedVolumes): disallowed volume types other than ``hostPath``
  (``hostPath`` is KP0805).
* KP0817 (capabilities_restricted): a missing ``drop: [ALL]``, and added
  capabilities that baseline allows but restricted does not (anything but
  ``NET_BIND_SERVICE`` from baseline's default set; the rest is KP0804).
* KP0816 (seccompProfile_restricted): containers with no seccomp profile when the
  pod sets none (an explicit bad type is KP0810).
* KP0819 (procMount_restricted): a non-default ``procMount`` in a pod with
  ``hostUsers: false``, which baseline allows from 1.35 (the rest is KP0809).

So the union of codes kept at ``restricted`` denies what upstream restricted
denies, and the baseline codes alone deny what upstream baseline denies. One
deliberate difference: from 1.25 upstream restricted skips the Linux-only checks
for ``spec.os.name: windows`` pods, overriding the baseline capability and
seccomp checks with them, so a Windows pod that *adds* a capability or sets an
``Unconfined`` seccomp profile passes upstream restricted while failing baseline.
Such pods are rejected by API validation anyway (Windows pods may not set those
fields); kubeproof keeps reporting them under KP0804/KP0810.
"""
