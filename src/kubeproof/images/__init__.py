"""Facts about images that manifests alone do not hold: the OCI registry client
(``registry``), what ``--check-images`` resolves, and vulnerability report readers."""
