"""Rules for practice 11: images with known vulnerabilities, unscanned or stale scans.

They run only when vulnerability reports were given (``--vuln-report``,
``--scan-images``): scope ``report``. The reports are read once per run by
:class:`kubeproof.images.vulnfacts.VulnInputs` and reach the rules as
``ctx.facts.vulnerabilities``. Each finding is about one container's
``image`` field, so it points at that line and exemptions, baselines and
inline comments work as for any other finding. Invalid and placeholder image
references are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index
from kubeproof.images.vulnfacts import VulnFacts, image_uses
from kubeproof.images.vulns import KUBEPROOF_SEVERITY, SEVERITY_ORDER, Summary, Vuln
from kubeproof.model import Needs, Scope, SetViolation

MAX_LISTED = 5  # vulnerabilities named in one message


def _facts(ctx: Context) -> VulnFacts | None:
    return ctx.facts.vulnerabilities


@rule("KP1101", "image-vulnerable", practice=11, severity="high", scope=Scope.REPORT,
      needs=(Needs.REPORTS,))
def image_vulnerable(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Image with known vulnerabilities at or above `vulnerabilities.failOn`.

    What:
        A container whose image has, in its Trivy or Grype report, at least one
        vulnerability rated at or above `vulnerabilities.failOn` (default
        `high`). One finding per container, listing how many distinct
        vulnerabilities the report has at each rating and the worst of them
        (at most five, with the fixed version when one is known).

        The finding's severity is the worst rating found: CRITICAL is
        critical, HIGH high, MEDIUM medium, LOW and Grype's Negligible low,
        UNKNOWN (not yet rated by the database) info. A CVE reported for
        several packages counts once. IDs in `vulnerabilities.ignore` are left
        out (an entry past its `expires` date applies no more and is reported
        as a warning).

        Reports are matched to images by digest when both have one, else by
        the normalised reference: `nginx:1.25` is
        `docker.io/library/nginx:1.25`, no tag means `latest`.

    Why:
        A known, published vulnerability is the cheapest way into a cluster:
        exploits for critical CVEs in base images and language runtimes are
        public within days. Scanning in CI and failing on the worst ones keeps
        them from reaching production.

    How:
        Rebuild the image on a patched base or bump the vulnerable package to
        the fixed version the finding names, push it, and deploy the new
        digest. A smaller base (distroless, alpine, `-slim`) removes most
        findings at once.

        When a vulnerability does not apply (the code is never reached), list
        it under `vulnerabilities.ignore` with a `reason` and an `expires`
        date so the decision is reviewed.

    Example:
        ```yaml
        # rebuilt on a patched base; a CVE that does not apply is accepted in .kubeproof.yaml:
        #   vulnerabilities:
        #     failOn: high
        #     ignore:
        #       - id: CVE-2024-1234
        #         reason: only the CLI parser is affected; it is not in the image path
        #         expires: 2027-01-31
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: shop}
        spec:
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.1
        ```
    """
    facts = _facts(ctx)
    if facts is None:
        return
    threshold = ctx.config.vuln_fail_on
    for w, c, image in image_uses(index):
        hit = facts.find(image)
        if hit is None or hit.report is None:
            continue
        summary = facts.summary(hit.report)
        ranked = summary.ranked
        if not ranked or KUBEPROOF_SEVERITY[ranked[0].severity] < threshold:
            continue
        yield SetViolation(
            w.ref, (*c.path, "image"),
            f"container {c.name!r} image {image} has {_counts(summary)}; "
            f"worst: {_worst(ranked, summary)} "
            f"({hit.report.describe()})",
            container=c.name, severity=KUBEPROOF_SEVERITY[ranked[0].severity])


def _counts(summary: Summary) -> str:
    counts = summary.counts
    total = sum(counts.values())
    parts = ", ".join(f"{n} {name}" for name in SEVERITY_ORDER if (n := counts[name]))
    ignored = f", {summary.ignored} more ignored" if summary.ignored else ""
    return f"{total} known vulnerabilities ({parts}{ignored})"


def _worst(ranked: list[Vuln], summary: Summary) -> str:
    shown = []
    for v in ranked[:MAX_LISTED]:
        pkgs = sorted({p.package for p in summary.packages[v.id] if p.package})
        where = ", ".join(pkgs[:3]) + (f" +{len(pkgs) - 3}" if len(pkgs) > 3 else "")
        detail = _short(f"{where} {v.installed}".strip())
        detail += f", fixed in {_short(v.fixed)}" if v.fixed else ", no fix yet"
        shown.append(f"{v.id} {v.severity} ({detail})")
    more = f" and {len(ranked) - MAX_LISTED} more" if len(ranked) > MAX_LISTED else ""
    return "; ".join(shown) + more


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@rule("KP1102", "image-not-scanned", practice=11, severity="medium", scope=Scope.REPORT,
      needs=(Needs.REPORTS,))
def image_not_scanned(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Image with no vulnerability report.

    What:
        A container whose image no given report covers (`--vuln-report`
        files, and with `--scan-images` what Trivy produced). A report for the
        same name and tag but another digest does not cover a digest-pinned
        image: it describes a different build, and the message says so.

    Why:
        An image nobody scanned is an unknown: the gate passes not because the
        image is clean but because nobody looked. Sidecars and init
        containers added late are the usual gap.

    How:
        Scan every image the manifests deploy, in the same pipeline step, and
        pass all the reports (`trivy image -f json -o web.json IMAGE`,
        `grype IMAGE -o json > web.json`), or let kubeproof run Trivy with
        `--scan-images`.

    Example:
        ```yaml
        # kubeproof scan deploy/ --vuln-report web.json --vuln-report proxy.json
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: shop}
        spec:
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.1    # in web.json
            - name: proxy
              image: registry.example.com/shop/proxy:1.4.0  # in proxy.json
        ```
    """
    facts = _facts(ctx)
    if facts is None:
        return
    for w, c, image in image_uses(index):
        hit = facts.find(image)
        if hit is None or hit.report is not None:
            continue
        note = ""
        if hit.other_digest is not None:
            note = (f"; {hit.other_digest.describe()} is for the same tag but digest "
                    f"{', '.join(sorted(hit.other_digest.digests))[:160]}")
        yield SetViolation(w.ref, (*c.path, "image"),
                           f"container {c.name!r} image {image} is in no vulnerability "
                           f"report{note}", container=c.name)


@rule("KP1103", "image-scan-stale", practice=11, severity="low", scope=Scope.REPORT,
      needs=(Needs.REPORTS,))
def image_scan_stale(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Vulnerability report older than `vulnerabilities.maxAgeDays`.

    What:
        A container whose image's report was created more than
        `vulnerabilities.maxAgeDays` days ago (default 7): Trivy's
        `CreatedAt`, Grype's `descriptor.timestamp`. A report that records no
        creation time (older Trivy versions, Grype with `GRYPE_TIMESTAMP=false`)
        is reported as well, since its age cannot be known.

    Why:
        New vulnerabilities are published every day against images that have
        not changed. A clean report from last month says nothing about this
        week's CVEs.

    How:
        Scan again in the pipeline that deploys, every time, or on a schedule
        shorter than `vulnerabilities.maxAgeDays`, and pass the fresh reports.

    Example:
        ```yaml
        # CI, before kubeproof: a fresh report on every run
        #   trivy image -f json -o web.json registry.example.com/shop/web:2.3.1
        #   kubeproof scan deploy/ --vuln-report web.json
        # with .kubeproof.yaml `vulnerabilities: {maxAgeDays: 7}`
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: shop}
        spec:
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.1
        ```
    """
    facts = _facts(ctx)
    if facts is None:
        return
    max_age = ctx.config.vuln_max_age_days
    for w, c, image in image_uses(index):
        hit = facts.find(image)
        report = hit.report if hit is not None else None
        if report is None:
            continue
        if report.created is None:
            why = "records no creation time, so its age is unknown"
        else:
            age = facts.now - report.created
            if age.total_seconds() <= max_age * 86400:
                continue
            why = (f"was created {report.created.date()} ({age.days} days ago), "
                   f"more than vulnerabilities.maxAgeDays {max_age}")
        yield SetViolation(w.ref, (*c.path, "image"),
                           f"the {report.describe()} for container {c.name!r} image {image} "
                           f"{why}", container=c.name)
