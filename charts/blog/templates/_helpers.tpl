{{/* Names */}}
{{- define "blog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blog.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "blog.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels. Call with (dict "ctx" $ "component" "app"). */}}
{{- define "blog.labels" -}}
helm.sh/chart: {{ include "blog.chart" .ctx }}
{{ include "blog.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: blog
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "blog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blog.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Resource names of the parts */}}
{{- define "blog.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "blog.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "blog.redis.fullname" -}}
{{- printf "%s-redis" (include "blog.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "blog.migrate.fullname" -}}
{{- printf "%s-migrate" (include "blog.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "blog.secretName" -}}
{{- default (include "blog.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
An image reference: repository:tag or repository:tag@digest. Call with
(dict "image" .Values.image "default" .Chart.AppVersion).
*/}}
{{- define "blog.image" -}}
{{- $tag := default .default .image.tag | toString }}
{{- if or (eq $tag "latest") (eq $tag "") }}
{{- fail (printf "image %s: tag must be set and must not be 'latest'" .image.repository) }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* Host of the primary URL (Ingress host or first HTTPRoute hostname). */}}
{{- define "blog.host" -}}
{{- if and .Values.httpRoute.enabled .Values.httpRoute.hostnames }}
{{- first .Values.httpRoute.hostnames }}
{{- else }}
{{- .Values.ingress.host }}
{{- end }}
{{- end }}

{{- define "blog.publicUrl" -}}
{{- if .Values.http.publicUrl }}
{{- .Values.http.publicUrl }}
{{- else if or .Values.ingress.tls.enabled .Values.httpRoute.enabled }}
{{- printf "https://%s" (include "blog.host" .) }}
{{- else }}
{{- printf "http://%s" (include "blog.host" .) }}
{{- end }}
{{- end }}

{{- define "blog.databaseHost" -}}
{{- if .Values.postgresql.enabled }}
{{- include "blog.postgresql.fullname" . }}
{{- else }}
{{- required "database.host is required when postgresql.enabled=false" .Values.database.host }}
{{- end }}
{{- end }}

{{/*
The non-secret configuration, as a YAML map of BLOG_* variables. The app's
ConfigMap and the migration Job (a hook, which cannot rely on the ConfigMap
existing yet on first install) both render it, so they cannot drift apart.
*/}}
{{- define "blog.config" -}}
BLOG_ENVIRONMENT: {{ .Values.environment | quote }}
BLOG_LOG__FILTER: {{ .Values.log.filter | quote }}
{{- with .Values.log.format }}
BLOG_LOG__FORMAT: {{ . | quote }}
{{- end }}
BLOG_HTTP__HOST: "0.0.0.0"
BLOG_HTTP__PORT: "8080"
BLOG_HTTP__PUBLIC_URL: {{ include "blog.publicUrl" . | quote }}
BLOG_HTTP__SHUTDOWN_GRACE_SECONDS: {{ .Values.http.shutdownGraceSeconds | quote }}
BLOG_HTTP__MAX_BODY_BYTES: {{ .Values.http.maxBodyBytes | int64 | quote }}
BLOG_HTTP__TRUSTED_PROXIES: {{ .Values.http.trustedProxies | quote }}
BLOG_HTTP__READINESS_REQUIRES_REDIS: {{ .Values.http.readinessRequiresRedis | quote }}
BLOG_DATABASE__HOST: {{ include "blog.databaseHost" . | quote }}
{{- if .Values.postgresql.enabled }}
BLOG_DATABASE__PORT: "5432"
BLOG_DATABASE__NAME: {{ .Values.postgresql.database | quote }}
BLOG_DATABASE__USER: {{ .Values.postgresql.username | quote }}
BLOG_DATABASE__SSL_MODE: "disable"
{{- else }}
BLOG_DATABASE__PORT: {{ .Values.database.port | quote }}
BLOG_DATABASE__NAME: {{ .Values.database.name | quote }}
BLOG_DATABASE__USER: {{ .Values.database.user | quote }}
BLOG_DATABASE__SSL_MODE: {{ .Values.database.sslMode | quote }}
{{- if .Values.database.caSecret.name }}
BLOG_DATABASE__SSL_ROOT_CERT: {{ include "blog.databaseCaPath" . | quote }}
{{- end }}
{{- end }}
BLOG_DATABASE__POOL_MAX_SIZE: {{ .Values.database.poolMaxSize | quote }}
BLOG_DATABASE__CONNECT_TIMEOUT_MS: {{ .Values.database.connectTimeoutMs | quote }}
BLOG_DATABASE__STATEMENT_TIMEOUT_MS: {{ .Values.database.statementTimeoutMs | quote }}
{{- if .Values.redis.enabled }}
{{- /* The bundled Redis has no password (cache only, reachable only from the app by NetworkPolicy), so its URL is not a secret. */}}
BLOG_REDIS__URL: {{ printf "redis://%s:6379/0" (include "blog.redis.fullname" .) | quote }}
{{- end }}
BLOG_S3__ENDPOINT: {{ .Values.s3.endpoint | quote }}
BLOG_S3__REGION: {{ .Values.s3.region | quote }}
BLOG_S3__BUCKET: {{ .Values.s3.bucket | quote }}
BLOG_SMTP__HOST: {{ .Values.smtp.host | quote }}
BLOG_SMTP__PORT: {{ .Values.smtp.port | quote }}
BLOG_SMTP__TLS: {{ .Values.smtp.tls | quote }}
BLOG_SMTP__FROM: {{ .Values.smtp.from | quote }}
{{- end }}

{{/* Mount point of the Secret in app and migration pods. */}}
{{- define "blog.secretsDir" -}}/var/run/secrets/blog{{- end }}

{{/* Paths under the secrets mount. */}}
{{- define "blog.databaseCaPath" -}}
{{- printf "%s/database-ca.crt" (include "blog.secretsDir" .) }}
{{- end }}

{{/*
The keys of the release's (or existing) Secret that the app and the
migration Job need, given the features in use.
*/}}
{{- define "blog.secretKeys" -}}
{{- $keys := list }}
{{- if not .Values.database.passwordSecret.name }}{{ $keys = append $keys "database-password" }}{{ end }}
{{- if not .Values.redis.enabled }}{{ $keys = append $keys "redis-url" }}{{ end }}
{{- if .Values.s3.credentials }}{{ $keys = concat $keys (list "s3-access-key" "s3-secret-key") }}{{ end }}
{{- if .Values.smtp.auth }}{{ $keys = concat $keys (list "smtp-username" "smtp-password") }}{{ end }}
{{- toJson $keys }}
{{- end }}

{{/*
The volume with every secret file of the app and the migration Job: only the
keys in use (a missing key stops the pod with a clear event instead of an
app error), plus the database password and CA from external Secrets.
*/}}
{{- define "blog.secretsVolume" -}}
- name: secrets
  projected:
    defaultMode: 288 # 0440: owner and fsGroup may read
    sources:
      {{- $keys := include "blog.secretKeys" . | fromJsonArray }}
      {{- if $keys }}
      - secret:
          name: {{ include "blog.secretName" . }}
          items:
            {{- range $keys }}
            - key: {{ . }}
              path: {{ . }}
            {{- end }}
      {{- end }}
      {{- with .Values.database.passwordSecret.name }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $.Values.database.passwordSecret.key }}
              path: database-password
      {{- end }}
      {{- with .Values.database.caSecret.name }}
      - secret:
          name: {{ . }}
          items:
            - key: {{ $.Values.database.caSecret.key }}
              path: database-ca.crt
      {{- end }}
{{- end }}

{{/*
Secrets reach the app as files (BLOG_*_FILE, see docs/contracts.md), never as
env values: env leaks into crash dumps, `kubectl describe` and child processes.
*/}}
{{- define "blog.secretFileEnv" -}}
{{- $dir := include "blog.secretsDir" . }}
- name: BLOG_DATABASE__PASSWORD_FILE
  value: {{ printf "%s/database-password" $dir }}
{{- if not .Values.redis.enabled }}
- name: BLOG_REDIS__URL_FILE
  value: {{ printf "%s/redis-url" $dir }}
{{- end }}
{{- if .Values.s3.credentials }}
- name: BLOG_S3__ACCESS_KEY_FILE
  value: {{ printf "%s/s3-access-key" $dir }}
- name: BLOG_S3__SECRET_KEY_FILE
  value: {{ printf "%s/s3-secret-key" $dir }}
{{- end }}
{{- if .Values.smtp.auth }}
- name: BLOG_SMTP__USERNAME_FILE
  value: {{ printf "%s/smtp-username" $dir }}
- name: BLOG_SMTP__PASSWORD_FILE
  value: {{ printf "%s/smtp-password" $dir }}
{{- end }}
{{- end }}

{{/* Pod-level security context: Pod Security Standards "restricted". */}}
{{- define "blog.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "blog.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Checks values that the schema cannot express. */}}
{{- define "blog.validate" -}}
{{- $minGrace := add .Values.preStopSleepSeconds .Values.http.shutdownGraceSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $minGrace) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + http.shutdownGraceSeconds (%v)" .Values.terminationGracePeriodSeconds $minGrace) }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.httpRoute.enabled }}
{{- fail "enable either ingress or httpRoute, not both" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (eq (toString .Values.podDisruptionBudget.minAvailable) "") (eq (toString .Values.podDisruptionBudget.maxUnavailable) "") }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable" }}
{{- end }}
{{- if and (not .Values.redis.enabled) (not .Values.existingSecret) (not .Values.secrets.redisUrl) }}
{{- fail "redis.enabled=false needs secrets.redisUrl or existingSecret (key redis-url)" }}
{{- end }}
{{- if and (not .Values.postgresql.enabled) (not .Values.existingSecret) (not .Values.secrets.databasePassword) (not .Values.database.passwordSecret.name) }}
{{- fail "postgresql.enabled=false needs secrets.databasePassword, existingSecret (key database-password) or database.passwordSecret" }}
{{- end }}
{{- if and .Values.postgresql.enabled (or .Values.database.passwordSecret.name .Values.database.caSecret.name) }}
{{- fail "database.passwordSecret and database.caSecret are for an external database (postgresql.enabled=false)" }}
{{- end }}
{{- if and .Values.s3.credentials (not .Values.existingSecret) (or (not .Values.secrets.s3AccessKey) (not .Values.secrets.s3SecretKey)) }}
{{- fail "s3.credentials=true needs secrets.s3AccessKey and secrets.s3SecretKey, or existingSecret" }}
{{- end }}
{{- if and .Values.smtp.auth (not .Values.existingSecret) (or (not .Values.secrets.smtpUsername) (not .Values.secrets.smtpPassword)) }}
{{- fail "smtp.auth=true needs secrets.smtpUsername and secrets.smtpPassword, or existingSecret" }}
{{- end }}
{{- end }}
