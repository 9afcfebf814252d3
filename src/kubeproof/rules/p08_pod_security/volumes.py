"""Pod Security Standards, volumes: hostPath (KP0805, baseline) and the volume types
restricted allows (KP0812, its twin)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import PssLevel, Resource, Violation
from kubeproof.rules.common import quote

# Volume sources allowed by restricted (``image`` since the 1.33 binary, at every
# policy version), and the ones it names as forbidden, in upstream's order.
RESTRICTED_VOLUME_ALLOWED = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
)
RESTRICTED_VOLUME_FORBIDDEN = (
    "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
    "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)


@rule("KP0805", "pss-host-path-volumes", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_path_volumes(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod uses a hostPath volume (PSS baseline `hostPathVolumes`).

    What:
        A volume in `spec.volumes` with a `hostPath` source.

    Why:
        A hostPath volume exposes the node's file system to the pod: container
        runtime sockets, kubelet credentials, other pods' data. Writable host
        paths are a direct route to node takeover.

    How:
        Use an `emptyDir`, a `configMap`/`secret`, a projected volume or a
        PersistentVolumeClaim instead; node agents that need host files belong
        in a dedicated, exempted namespace.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              volumeMounts:
                - name: cache
                  mountPath: /cache
          volumes:
            - name: cache
              emptyDir: {}
        ```
    """
    pod = res.pod
    assert pod is not None
    for i, vol in pod.volumes:
        if vol.get("hostPath") is not None:
            yield Violation((*pod.spec_path, "volumes", i, "hostPath"),
                            f"volume {quote(vol.get('name', i))} must not use hostPath")


@rule("KP0812", "pss-volume-types", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def volume_types(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Volume type not allowed by restricted (PSS restricted `restrictedVolumes`).

    What:
        A volume whose source is not one of `configMap`, `csi`, `downwardAPI`,
        `emptyDir`, `ephemeral`, `image`, `persistentVolumeClaim`, `projected` or
        `secret`: e.g. `nfs`, `iscsi`, `rbd`, `cephfs`, `gitRepo`, `flexVolume` or
        the in-tree cloud disks. `hostPath` is reported by KP0805.

    Why:
        Inline volume sources let a pod mount storage directly, with
        credentials and node-side drivers under its control and outside
        PersistentVolume access policy; `gitRepo` runs git on the node.

    How:
        Mount the storage through a PersistentVolumeClaim (or a CSI driver) so
        that provisioning and access stay with the cluster administrators.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              persistentVolumeClaim:
                claimName: data
        ```
    """
    pod = res.pod
    assert pod is not None
    for i, vol in pod.volumes:
        if any(vol.get(key) is not None for key in RESTRICTED_VOLUME_ALLOWED):
            continue
        if vol.get("hostPath") is not None:
            continue  # KP0805
        for key in RESTRICTED_VOLUME_FORBIDDEN:
            if vol.get(key) is not None:
                yield Violation((*pod.spec_path, "volumes", i, key),
                                f"volume {quote(vol.get('name', i))} uses restricted volume "
                                f"type {quote(key)}")
                break
