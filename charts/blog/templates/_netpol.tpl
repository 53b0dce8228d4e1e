{{/* NetworkPolicy egress rules shared by the app and the Jobs. */}}
{{- define "blog.netpol.dns" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{/* A rule to pods of the release: (dict "ctx" $ "component" "redis" "port" 6379). */}}
{{- define "blog.netpol.toComponent" -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "blog.selectorLabels" . | nindent 10 }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}

{{/* A rule to CIDRs: (dict "cidrs" list "ports" list). */}}
{{- define "blog.netpol.toCidrs" -}}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range .ports }}
    - port: {{ . | int }}
      protocol: TCP
    {{- end }}
{{- end }}

{{- define "blog.netpol.database" -}}
{{- if .Values.postgresql.enabled }}
{{- include "blog.netpol.toComponent" (dict "ctx" . "component" "postgresql" "port" 5432) }}
{{- else }}
{{- include "blog.netpol.toCidrs" (dict "cidrs" .Values.networkPolicy.egress.database.cidrs "ports" (list .Values.database.port)) }}
{{- end }}
{{- end }}

{{/* S3 (avatars, backups): the dev SeaweedFS, or the endpoint's port on the configured CIDRs. */}}
{{- define "blog.netpol.s3" -}}
{{- if .Values.seaweedfs.enabled }}
{{- include "blog.netpol.toComponent" (dict "ctx" . "component" "seaweedfs" "port" 8333) }}
{{- else }}
{{- $s3 := urlParse .Values.s3.endpoint }}
{{- $hostPort := splitList ":" $s3.host }}
{{- $port := ternary (last $hostPort) (ternary "443" "80" (eq $s3.scheme "https")) (gt (len $hostPort) 1) }}
{{- include "blog.netpol.toCidrs" (dict "cidrs" .Values.networkPolicy.egress.s3.cidrs "ports" (.Values.networkPolicy.egress.s3.ports | default (list $port))) }}
{{- end }}
{{- end }}

{{/*
What every pod running the blog binary may reach: DNS, the database, S3, the
cloud identity endpoints (s3.credentialSource=default_chain) and
networkPolicy.extraEgress.
*/}}
{{- define "blog.netpol.workerEgress" -}}
{{ include "blog.netpol.dns" . }}
{{ include "blog.netpol.database" . }}
{{ include "blog.netpol.s3" . }}
{{- if eq .Values.s3.credentialSource "default_chain" }}
{{ include "blog.netpol.toCidrs" .Values.networkPolicy.egress.cloudIdentity }}
{{- end }}
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The NetworkPolicy of a Job's pods: no ingress, the worker egress. Call with
(dict "ctx" $ "component" "backup" "comment" "why").
*/}}
{{- define "blog.netpol.job" -}}
# {{ .comment }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "blog.component.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "blog.labels" (dict "ctx" .ctx "component" "network") | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "blog.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
  egress:
    {{- include "blog.netpol.workerEgress" .ctx | trim | nindent 4 }}
{{- end }}

{{/* Ingress to a component of the release from others: (dict "ctx" $ "from" list "port" n). */}}
{{- define "blog.netpol.fromComponents" -}}
- from:
    {{- range .from }}
    - podSelector:
        matchLabels:
          {{- include "blog.selectorLabels" (dict "ctx" $.ctx "component" .) | nindent 10 }}
    {{- end }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}
