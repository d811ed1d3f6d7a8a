{{/* Labels of every object: the selector labels, then version and chart. Takes (dict "root" $ "component" "agent"). */}}
{{- define "weft.labels" -}}
{{ include "weft.selector" . }}
app.kubernetes.io/part-of: weft
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component (agent or issuer); they never change after install. */}}
{{- define "weft.selector" -}}
app.kubernetes.io/name: weft
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "weft.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
The agent's revision: its image and the chart's version, the two things an upgrade changes
(both already change the pod template, so naming them rolls nothing more). The agent answers
503 to a probe of the node's port that names another (X-Weft-Revision): the httpGet readiness
probe of earlier charts sends it, so a rollback to one stays safe (docs/upgrades.md).
*/}}
{{- define "weft.agentRevision" -}}
{{ printf "%s %s" (include "weft.image" .) .Chart.Version | sha256sum | trunc 16 }}
{{- end -}}

{{- define "weft.rootNamespace" -}}
{{ .Values.rootNamespace | default .Release.Namespace }}
{{- end -}}

{{/* The Secret holding the CA: cert-manager's (or any existing one), or the one the issuer makes. */}}
{{- define "weft.caSecret" -}}
{{ .Values.issuer.ca.existingSecret | default "weft-ca" }}
{{- end -}}

{{- define "weft.issuerAddress" -}}
https://weft-issuer.{{ .Release.Namespace }}.svc:15012
{{- end -}}

