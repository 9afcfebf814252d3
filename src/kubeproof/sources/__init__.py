"""Where manifests come from: files, folders, stdin, Kustomize, Helm, Dockerfiles."""
