{{/* The webhook's objects are named as `kubeproof webhook install` names them. */}}
{{- define "kubeproof.name" -}}kubeproof-webhook{{- end }}

{{- define "kubeproof.labels" -}}
app.kubernetes.io/name: {{ include "kubeproof.name" . }}
app.kubernetes.io/part-of: kubeproof
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kubeproof.selector" -}}
app.kubernetes.io/name: {{ include "kubeproof.name" . }}
{{- end }}

{{/* metadata of a namespaced object: (list . "name") */}}
{{- define "kubeproof.meta" -}}
{{- $ := index . 0 -}}
name: {{ index . 1 }}
namespace: {{ $.Release.Namespace }}
labels:
  {{- include "kubeproof.labels" $ | nindent 2 }}
{{- end }}

{{- define "kubeproof.image" -}}
{{- $repo := required "image.repository is required: no kubeproof image is published yet; build and push your own (docs/webhook-install.md)" .Values.image.repository -}}
{{- $digest := required "image.digest is required (sha256:...): the webhook's image is pinned by digest" .Values.image.digest -}}
{{ $repo }}{{ with .Values.image.tag }}:{{ . }}{{ end }}@{{ $digest }}
{{- end }}

{{/* The validating webhook's failure policy: chosen, or by the mode. */}}
{{- define "kubeproof.failurePolicy" -}}
{{- if .Values.failurePolicy }}{{ .Values.failurePolicy }}{{ else if eq .Values.mode "enforce" }}Fail{{ else }}Ignore{{ end }}
{{- end }}

{{- define "kubeproof.quantity.pods" -}}{{ mul 2 (int .Values.replicas) }}{{- end }}
