"""The admission webhook: ASGI app, AdmissionReview codec, TLS, install manifests."""
