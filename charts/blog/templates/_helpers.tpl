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

{{/*
Metadata of a pod template: the standard labels plus the component's own
labels and annotations. Call with (dict "ctx" $ "component" "backup" "labels"
.Values.backup.podLabels "annotations" .Values.backup.podAnnotations).
*/}}
{{- define "blog.podMetadata" -}}
labels:
  {{- include "blog.labels" . | nindent 2 }}
  {{- with .labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Resource names of the parts */}}
{{- define "blog.component.fullname" -}}
{{- printf "%s-%s" (include "blog.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "blog.postgresql.fullname" -}}
{{- include "blog.component.fullname" (dict "ctx" . "component" "postgresql") }}
{{- end }}
{{- define "blog.redis.fullname" -}}
{{- include "blog.component.fullname" (dict "ctx" . "component" "redis") }}
{{- end }}
{{- define "blog.migrate.fullname" -}}
{{- include "blog.component.fullname" (dict "ctx" . "component" "migrate") }}
{{- end }}

{{/*
The bundled Postgres's TLS: the Secret with tls.crt, tls.key and ca.crt
(postgresql.tls.existingSecret, else the one the chart generates or
cert-manager fills), and the Service's DNS names its certificate holds: the
app connects to the short name, other namespaces' clients to the longer ones.
*/}}
{{- define "blog.postgresql.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "blog.postgresql.fullname" .)) .Values.postgresql.tls.existingSecret }}
{{- end }}
{{- define "blog.postgresql.dnsNames" -}}
{{- $name := include "blog.postgresql.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) | toJson }}
{{- end }}
{{- define "blog.postgresql.hba" -}}
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       all            trust
hostssl all       all   all      scram-sha-256
{{- end }}
{{- define "blog.postgresql.tls" -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.tls.enabled }}true{{ end }}
{{- end }}

{{/*
"true" when this upgrade's hooks will meet a bundled Postgres that does not
serve TLS yet: the first upgrade from a chart without postgresql.tls (or
with it off) runs its pre-upgrade migration against the old server, which
the upgrade restarts with TLS only after the hooks. That Job alone then
connects as the old release did (plain text: all that server offers); later
upgrades find `ssl=on` in the live StatefulSet and verify TLS. Call with
(dict "ctx" $ "live" <the live StatefulSet, or empty>).
*/}}
{{- define "blog.postgresql.hooksMeetPlainServer" -}}
{{- if and (include "blog.postgresql.tls" .ctx) .live }}
{{- $args := list }}
{{- range .live.spec.template.spec.containers }}
{{- if eq .name "postgresql" }}{{ $args = .args | default list }}{{ end }}
{{- end }}
{{- if not (has "ssl=on" $args) }}true{{ end }}
{{- end }}
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
(dict "image" .Values.image "default" .Chart.AppVersion "path" "image"); the
path names the value in error messages. blog.validate checks every image
first; this refusal is the backstop.
*/}}
{{- define "blog.image" -}}
{{- $tag := default .default .image.tag | toString }}
{{- if or (eq $tag "latest") (eq $tag "") }}
{{- fail (printf "%s.tag: %q is refused: set %s.tag to an immutable release tag (a version or git SHA) or set %s.digest" .path $tag .path .path) }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The image with pg_dump and pg_restore: backup.image, else postgresql.image. */}}
{{- define "blog.backup.image" -}}
{{- if .Values.backup.image.repository }}
{{- include "blog.image" (dict "image" .Values.backup.image "default" "" "path" "backup.image") }}
{{- else }}
{{- include "blog.image" (dict "image" .Values.postgresql.image "default" "" "path" "postgresql.image") }}
{{- end }}
{{- end }}

{{- define "blog.backup.pullPolicy" -}}
{{- ternary .Values.backup.image.pullPolicy .Values.postgresql.image.pullPolicy (ne .Values.backup.image.repository "") }}
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

{{- define "blog.s3Endpoint" -}}
{{- if .Values.seaweedfs.enabled }}
{{- printf "http://%s:8333" (include "blog.component.fullname" (dict "ctx" . "component" "seaweedfs")) }}
{{- else }}
{{- .Values.s3.endpoint }}
{{- end }}
{{- end }}

{{/*
The non-secret configuration, as a YAML map of BLOG_* variables: one line per
app setting (docs/contracts.md). The app's ConfigMap and the migration Job (a
hook, which cannot rely on the ConfigMap existing yet on first install) both
render it, so they cannot drift apart. Derived here rather than set by a
value: the listen address, the bundled Postgres's and Redis's coordinates,
the dev SeaweedFS and Mailpit addresses, and the CA path of database.caSecret
(or of the bundled Postgres's TLS Secret).
*/}}
{{/*
The container port that serves /metrics: its own ("metrics") unless
http.metricsPort is 0 (then the API's, "http"). Name and number.
*/}}
{{- define "blog.metricsPortName" -}}
{{- if eq (int .Values.http.metricsPort) 0 }}http{{ else }}metrics{{ end }}
{{- end }}
{{- define "blog.metricsPortNumber" -}}
{{- if eq (int .Values.http.metricsPort) 0 }}8080{{ else }}{{ .Values.http.metricsPort | int64 }}{{ end }}
{{- end }}

{{- define "blog.config" -}}
{{- $v := .Values -}}
BLOG_ENVIRONMENT: {{ $v.environment | quote }}
BLOG_LOG__FILTER: {{ $v.log.filter | quote }}
{{- with $v.log.format }}
BLOG_LOG__FORMAT: {{ . | quote }}
{{- end }}
BLOG_HTTP__HOST: "0.0.0.0"
BLOG_HTTP__PORT: "8080"
BLOG_HTTP__PUBLIC_URL: {{ include "blog.publicUrl" . | quote }}
BLOG_HTTP__SHUTDOWN_GRACE_SECONDS: {{ $v.http.shutdownGraceSeconds | int64 | quote }}
BLOG_HTTP__SHUTDOWN_DRAIN_SECONDS: {{ $v.http.shutdownDrainSeconds | int64 | quote }}
BLOG_HTTP__MAX_BODY_BYTES: {{ $v.http.maxBodyBytes | int64 | quote }}
BLOG_HTTP__TRUSTED_PROXIES: {{ $v.http.trustedProxies | int64 | quote }}
BLOG_HTTP__TRUSTED_PROXY_NETWORKS: {{ $v.http.trustedProxyNetworks | quote }}
BLOG_HTTP__CORS_ALLOWED_ORIGINS: {{ $v.http.corsAllowedOrigins | quote }}
BLOG_HTTP__METRICS_PORT: {{ $v.http.metricsPort | int64 | quote }}
BLOG_HTTP__READINESS_REQUIRES_REDIS: {{ $v.http.readinessRequiresRedis | quote }}
{{- if $v.postgresql.enabled }}
BLOG_DATABASE__HOST: {{ include "blog.postgresql.fullname" . | quote }}
BLOG_DATABASE__PORT: "5432"
BLOG_DATABASE__NAME: {{ $v.postgresql.database | quote }}
BLOG_DATABASE__USER: {{ $v.postgresql.username | quote }}
{{- if $v.postgresql.tls.enabled }}
BLOG_DATABASE__SSL_MODE: "require"
BLOG_DATABASE__SSL_ROOT_CERT: {{ include "blog.databaseCaPath" . | quote }}
{{- else }}
BLOG_DATABASE__SSL_MODE: "disable"
{{- end }}
{{- else }}
BLOG_DATABASE__HOST: {{ $v.database.host | quote }}
BLOG_DATABASE__PORT: {{ $v.database.port | int64 | quote }}
BLOG_DATABASE__NAME: {{ $v.database.name | quote }}
BLOG_DATABASE__USER: {{ $v.database.user | quote }}
BLOG_DATABASE__SSL_MODE: {{ $v.database.sslMode | quote }}
{{- if $v.database.caSecret.name }}
BLOG_DATABASE__SSL_ROOT_CERT: {{ include "blog.databaseCaPath" . | quote }}
{{- end }}
{{- end }}
BLOG_DATABASE__POOL_MAX_SIZE: {{ $v.database.poolMaxSize | int64 | quote }}
BLOG_DATABASE__CONNECT_TIMEOUT_MS: {{ $v.database.connectTimeoutMs | int64 | quote }}
BLOG_DATABASE__STATEMENT_TIMEOUT_MS: {{ $v.database.statementTimeoutMs | int64 | quote }}
BLOG_DATABASE__POOL_WAIT_TIMEOUT_MS: {{ $v.database.poolWaitTimeoutMs | int64 | quote }}
{{- if $v.redis.enabled }}
{{- /* The bundled Redis has no password (cache only, reachable only from the app by NetworkPolicy), so its URL is not a secret. */}}
BLOG_REDIS__URL: {{ printf "redis://%s:6379/0" (include "blog.redis.fullname" .) | quote }}
{{- end }}
BLOG_REDIS__TIMEOUT_MS: {{ $v.redis.timeoutMs | int64 | quote }}
BLOG_REDIS__CACHE_TTL_SECONDS: {{ $v.redis.cacheTtlSeconds | int64 | quote }}
BLOG_REDIS__LOCAL_STALENESS_MS: {{ $v.redis.localStalenessMs | int64 | quote }}
BLOG_REDIS__LOCAL_CACHE_MIB: {{ $v.redis.localCacheMib | int64 | quote }}
BLOG_S3__ENDPOINT: {{ include "blog.s3Endpoint" . | quote }}
BLOG_S3__REGION: {{ $v.s3.region | quote }}
BLOG_S3__BUCKET: {{ $v.s3.bucket | quote }}
BLOG_S3__CREDENTIAL_SOURCE: {{ $v.s3.credentialSource | quote }}
{{- if $v.mailpit.enabled }}
BLOG_SMTP__HOST: {{ include "blog.component.fullname" (dict "ctx" . "component" "mailpit") | quote }}
BLOG_SMTP__PORT: "1025"
BLOG_SMTP__TLS: "none"
{{- else }}
BLOG_SMTP__HOST: {{ $v.smtp.host | quote }}
BLOG_SMTP__PORT: {{ $v.smtp.port | int64 | quote }}
BLOG_SMTP__TLS: {{ $v.smtp.tls | quote }}
{{- end }}
BLOG_SMTP__FROM: {{ $v.smtp.from | quote }}
BLOG_SMTP__TIMEOUT_SECONDS: {{ $v.smtp.timeoutSeconds | int64 | quote }}
BLOG_AUTH__SESSION_TTL_HOURS: {{ $v.auth.sessionTtlHours | int64 | quote }}
BLOG_AUTH__PASSWORD_RESET_TTL_MINUTES: {{ $v.auth.passwordResetTtlMinutes | int64 | quote }}
BLOG_AUTH__PBKDF2_ITERATIONS: {{ $v.auth.pbkdf2Iterations | int64 | quote }}
BLOG_AVATARS__MAX_BYTES: {{ $v.avatars.maxBytes | int64 | quote }}
BLOG_AVATARS__MAX_PIXELS: {{ $v.avatars.maxPixels | int64 | quote }}
BLOG_AVATARS__MAX_DECODE_BYTES: {{ $v.avatars.maxDecodeBytes | int64 | quote }}
BLOG_AVATARS__MAX_CONCURRENT: {{ $v.avatars.maxConcurrent | int64 | quote }}
BLOG_AVATARS__SIZE: {{ $v.avatars.size | int64 | quote }}
BLOG_RATE_LIMIT__ENABLED: {{ $v.rateLimit.enabled | quote }}
BLOG_RATE_LIMIT__FAIL_CLOSED: {{ $v.rateLimit.failClosed | quote }}
{{- range $scope := list "loginPerIp" "loginPerAccount" "registerPerIp" "passwordResetPerIp" "passwordResetPerAccount" "commentPerAccount" "commentPerIp" }}
{{- $limit := index $v.rateLimit $scope }}
{{- $name := snakecase $scope | upper }}
BLOG_RATE_LIMIT__{{ $name }}__MAX: {{ $limit.max | int64 | quote }}
BLOG_RATE_LIMIT__{{ $name }}__WINDOW_SECONDS: {{ $limit.windowSeconds | int64 | quote }}
{{- end }}
{{- end }}

{{/* Mount point of the secrets volume in the blog and pg_dump containers. */}}
{{- define "blog.secretsDir" -}}/var/run/secrets/blog{{- end }}

{{/* Paths under the secrets mount. */}}
{{- define "blog.databaseCaPath" -}}
{{- printf "%s/database-ca.crt" (include "blog.secretsDir" .) }}
{{- end }}

{{/*
Every secret the app can read, as a JSON list: its file (= key in the shared
Secret), the BLOG_*_FILE variable, whether the values in use need it, the
Secret of its own that may hold it (name and key), the inline value, and the
values an operator can set to provide it (for messages). One table drives the
Secret's keys, the mounted volume, the env and the checks.
*/}}
{{- define "blog.secretTable" -}}
{{- $v := .Values }}
{{- $smtpAuth := and $v.smtp.auth (not $v.mailpit.enabled) }}
{{- list
  (dict "file" "database-password" "env" "BLOG_DATABASE__PASSWORD_FILE" "needed" true
        "ref" $v.database.passwordSecret "refPath" "database.passwordSecret" "inline" $v.secrets.databasePassword "inlinePath" "secrets.databasePassword"
        "why" "the database password")
  (dict "file" "redis-url" "env" "BLOG_REDIS__URL_FILE" "needed" (not $v.redis.enabled)
        "ref" $v.redis.urlSecret "refPath" "redis.urlSecret" "inline" $v.secrets.redisUrl "inlinePath" "secrets.redisUrl"
        "why" "redis.enabled=false (an external Redis) needs its URL")
  (dict "file" "s3-access-key" "env" "BLOG_S3__ACCESS_KEY_FILE" "needed" $v.s3.credentials
        "ref" $v.s3.accessKeySecret "refPath" "s3.accessKeySecret" "inline" $v.secrets.s3AccessKey "inlinePath" "secrets.s3AccessKey"
        "why" "s3.credentials=true needs the S3 access key")
  (dict "file" "s3-secret-key" "env" "BLOG_S3__SECRET_KEY_FILE" "needed" $v.s3.credentials
        "ref" $v.s3.secretKeySecret "refPath" "s3.secretKeySecret" "inline" $v.secrets.s3SecretKey "inlinePath" "secrets.s3SecretKey"
        "why" "s3.credentials=true needs the S3 secret key")
  (dict "file" "smtp-username" "env" "BLOG_SMTP__USERNAME_FILE" "needed" $smtpAuth
        "ref" $v.smtp.usernameSecret "refPath" "smtp.usernameSecret" "inline" $v.secrets.smtpUsername "inlinePath" "secrets.smtpUsername"
        "why" "smtp.auth=true needs the SMTP user name")
  (dict "file" "smtp-password" "env" "BLOG_SMTP__PASSWORD_FILE" "needed" $smtpAuth
        "ref" $v.smtp.passwordSecret "refPath" "smtp.passwordSecret" "inline" $v.secrets.smtpPassword "inlinePath" "secrets.smtpPassword"
        "why" "smtp.auth=true needs the SMTP password")
  | toJson }}
{{- end }}

{{/*
The volume with every secret file of the blog containers: only the keys in
use (a missing key stops the pod with a clear event instead of an app
error), each from its own Secret when one is named, else from the release's
(or existing) Secret; plus the database CA (database.caSecret's, or the
bundled Postgres's ca.crt).
*/}}
{{- define "blog.secretsVolume" -}}
{{- $shared := list }}
{{- $own := list }}
{{- range include "blog.secretTable" . | fromJsonArray }}
{{- if .needed }}
{{- if .ref.name }}{{ $own = append $own . }}{{ else }}{{ $shared = append $shared .file }}{{ end }}
{{- end }}
{{- end }}
- name: secrets
  projected:
    defaultMode: 288 # 0440: owner and fsGroup may read
    sources:
      {{- if $shared }}
      - secret:
          name: {{ include "blog.secretName" . }}
          items:
            {{- range $shared }}
            - key: {{ . }}
              path: {{ . }}
            {{- end }}
      {{- end }}
      {{- range $own }}
      - secret:
          name: {{ .ref.name }}
          items:
            - key: {{ .ref.key }}
              path: {{ .file }}
      {{- end }}
      {{- if include "blog.postgresql.tls" . }}
      {{- /* Only the CA: the server's key is mounted in the Postgres pod alone. */}}
      - secret:
          name: {{ include "blog.postgresql.tlsSecretName" . }}
          items:
            - key: ca.crt
              path: database-ca.crt
      {{- else if .Values.database.caSecret.name }}
      - secret:
          name: {{ .Values.database.caSecret.name }}
          items:
            - key: {{ .Values.database.caSecret.key }}
              path: database-ca.crt
      {{- end }}
{{- end }}

{{/*
Secrets reach the app as files (BLOG_*_FILE, see docs/contracts.md), never as
env values: env leaks into crash dumps, `kubectl describe` and child processes.
*/}}
{{- define "blog.secretFileEnv" -}}
{{- $dir := include "blog.secretsDir" . }}
{{- range include "blog.secretTable" . | fromJsonArray }}
{{- if .needed }}
- name: {{ .env }}
  value: {{ printf "%s/%s" $dir .file }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where the projected web identity token is mounted (s3.webIdentity). */}}
{{- define "blog.webIdentityDir" -}}/var/run/secrets/aws-web-identity{{- end }}

{{/*
The env of every blog container after its config: secret files, the web
identity (s3.webIdentity.roleArn), then extraEnv (last, so it wins).
*/}}
{{- define "blog.containerEnv" -}}
{{- include "blog.secretFileEnv" . }}
{{- with .Values.s3.webIdentity.roleArn }}
- name: AWS_ROLE_ARN
  value: {{ . | quote }}
- name: AWS_WEB_IDENTITY_TOKEN_FILE
  value: {{ include "blog.webIdentityDir" $ }}/token
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom of the blog containers: the ConfigMap (unless a hook), extraEnvFrom. */}}
{{- define "blog.containerEnvFrom" -}}
{{- if .configMap }}
- configMapRef:
    name: {{ include "blog.fullname" .ctx }}
{{- end }}
{{- with .ctx.Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volume mounts of the blog containers. */}}
{{- define "blog.containerVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: secrets
  mountPath: {{ include "blog.secretsDir" . }}
  readOnly: true
{{- if .Values.s3.webIdentity.roleArn }}
- name: aws-web-identity
  mountPath: {{ include "blog.webIdentityDir" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes of the pods running the blog binary. */}}
{{- define "blog.podVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{ include "blog.secretsVolume" . | trim }}
{{- if .Values.s3.webIdentity.roleArn }}
# An audience-bound token for AWS STS only (the Kubernetes API token stays
# unmounted), refreshed by the kubelet.
- name: aws-web-identity
  projected:
    defaultMode: 288
    sources:
      - serviceAccountToken:
          audience: {{ .Values.s3.webIdentity.audience | quote }}
          expirationSeconds: 3600
          path: token
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
`sidecars` as native sidecars: init containers with restartPolicy Always
start before the others and stop after them, so Jobs still complete.
*/}}
{{- define "blog.sidecars" -}}
{{- range .Values.sidecars }}
- {{ set (deepCopy .) "restartPolicy" "Always" | toYaml | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/* nodeSelector and tolerations, for every pod of the release. */}}
{{- define "blog.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
libpq's variables for pg_dump/pg_restore, from the same settings as the app's
(blog.config), so a backup always reads the database the app uses. The
password is read from the secrets volume by the container's script.
*/}}
{{- define "blog.pgEnv" -}}
{{- $cfg := include "blog.config" . | fromYaml -}}
- name: PGHOST
  value: {{ $cfg.BLOG_DATABASE__HOST | quote }}
- name: PGPORT
  value: {{ $cfg.BLOG_DATABASE__PORT | quote }}
- name: PGDATABASE
  value: {{ $cfg.BLOG_DATABASE__NAME | quote }}
- name: PGUSER
  value: {{ $cfg.BLOG_DATABASE__USER | quote }}
- name: PGCONNECT_TIMEOUT
  value: "10"
{{- if eq $cfg.BLOG_DATABASE__SSL_MODE "require" }}
# The app's `require` verifies the certificate and host name: libpq's verify-full.
- name: PGSSLMODE
  value: verify-full
- name: PGSSLROOTCERT
  value: {{ $cfg.BLOG_DATABASE__SSL_ROOT_CERT | default "system" | quote }}
{{- else }}
- name: PGSSLMODE
  value: {{ $cfg.BLOG_DATABASE__SSL_MODE | quote }}
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
