{{/*
Checks of the values that the schema cannot express, run first by
templates/validate.yaml. Every refusal names the value at fault and what to
set instead, in the form "<value>: <problem>: <fix>".
*/}}
{{- define "blog.validate" -}}
{{- $v := .Values }}

{{- /* Images: an immutable tag, never latest (the schema cannot say why). */}}
{{- $images := list (dict "path" "image" "image" $v.image "default" .Chart.AppVersion) }}
{{- if $v.postgresql.enabled }}{{ $images = append $images (dict "path" "postgresql.image" "image" $v.postgresql.image "default" "") }}{{ end }}
{{- if $v.redis.enabled }}{{ $images = append $images (dict "path" "redis.image" "image" $v.redis.image "default" "") }}{{ end }}
{{- if and (or $v.backup.enabled $v.restore.enabled) $v.backup.image.repository }}{{ $images = append $images (dict "path" "backup.image" "image" $v.backup.image "default" "") }}{{ end }}
{{- if and (or $v.backup.enabled $v.restore.enabled) (not $v.backup.image.repository) (not $v.postgresql.enabled) }}{{ $images = append $images (dict "path" "postgresql.image" "image" $v.postgresql.image "default" "") }}{{ end }}
{{- if $v.seaweedfs.enabled }}{{ $images = append $images (dict "path" "seaweedfs.image" "image" $v.seaweedfs.image "default" "") }}{{ end }}
{{- if $v.mailpit.enabled }}{{ $images = append $images (dict "path" "mailpit.image" "image" $v.mailpit.image "default" "") }}{{ end }}
{{- range $images }}
{{- $tag := default .default .image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail (printf "%s.tag: 'latest' is refused (it can change under a running release, so a rollback or a new pod may run other code): set %s.tag to a release tag or git SHA, or pin %s.digest" .path .path .path) }}
{{- end }}
{{- if eq $tag "" }}
{{- fail (printf "%s.tag is empty: set %s.tag to a release tag" .path .path) }}
{{- end }}
{{- end }}

{{- /* Shutdown: the kubelet must not kill the pod while the app drains. */}}
{{- $minGrace := add $v.preStopSleepSeconds $v.http.shutdownDrainSeconds $v.http.shutdownGraceSeconds }}
{{- if le (int $v.terminationGracePeriodSeconds) (int $minGrace) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + http.shutdownDrainSeconds + http.shutdownGraceSeconds (%v): raise terminationGracePeriodSeconds to at least %v, or shorten those" $v.terminationGracePeriodSeconds $minGrace (add1 $minGrace)) }}
{{- end }}

{{- /* The app refuses to start with hops to trust but no networks to trust them from. */}}
{{- if and (gt (int $v.http.trustedProxies) 0) (not (trim $v.http.trustedProxyNetworks)) }}
{{- fail "http.trustedProxyNetworks is empty while http.trustedProxies > 0: set it to the CIDRs the ingress controller or Gateway pods connect from, or set http.trustedProxies=0" }}
{{- end }}

{{- if and $v.ingress.enabled $v.httpRoute.enabled }}
{{- fail "ingress.enabled and httpRoute.enabled are both true: keep one front door (set ingress.enabled=false to use the Gateway API HTTPRoute)" }}
{{- end }}
{{- if and $v.podDisruptionBudget.enabled (eq (toString $v.podDisruptionBudget.minAvailable) "") (eq (toString $v.podDisruptionBudget.maxUnavailable) "") }}
{{- fail "podDisruptionBudget.enabled=true needs a budget: set podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable" }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) exceeds autoscaling.maxReplicas (%v): lower the first or raise the second" $v.autoscaling.minReplicas $v.autoscaling.maxReplicas) }}
{{- end }}

{{- /* The database. */}}
{{- if and (not $v.postgresql.enabled) (not $v.database.host) }}
{{- fail "database.host is empty while postgresql.enabled=false: set database.host to the external server (e.g. a CloudNativePG cluster's <cluster>-rw Service), or set postgresql.enabled=true for the bundled Postgres" }}
{{- end }}
{{- if and $v.postgresql.enabled $v.database.passwordSecret.name }}
{{- fail "database.passwordSecret.name is for an external database: with postgresql.enabled=true the bundled Postgres and the app share secrets.databasePassword (or existingSecret key database-password); unset database.passwordSecret.name or set postgresql.enabled=false" }}
{{- end }}
{{- if and $v.postgresql.enabled $v.database.caSecret.name }}
{{- fail "database.caSecret.name is for an external database (the bundled Postgres's CA is the ca.crt of postgresql.tls): unset it, set postgresql.tls.existingSecret for a certificate of your own, or set postgresql.enabled=false" }}
{{- end }}
{{- $pgTls := $v.postgresql.tls }}
{{- if and $pgTls.existingSecret $pgTls.certManager.enabled }}
{{- fail "postgresql.tls.existingSecret and postgresql.tls.certManager.enabled are both set: they are two sources of the same Secret; unset postgresql.tls.existingSecret to let cert-manager make it, or set postgresql.tls.certManager.enabled=false" }}
{{- end }}
{{- if and $pgTls.certManager.enabled (not $pgTls.certManager.issuerRef.name) }}
{{- fail "postgresql.tls.certManager.enabled=true needs an issuer: set postgresql.tls.certManager.issuerRef.name (and .kind: Issuer or ClusterIssuer) to a cert-manager issuer that fills in ca.crt (a CA issuer, not ACME)" }}
{{- end }}
{{- if and (not $pgTls.enabled) (or $pgTls.existingSecret $pgTls.certManager.enabled) }}
{{- fail "postgresql.tls.existingSecret or postgresql.tls.certManager is set but postgresql.tls.enabled=false, so no certificate would be used: set postgresql.tls.enabled=true, or unset them" }}
{{- end }}

{{- /* Each secret in use has a source. */}}
{{- range include "blog.secretTable" . | fromJsonArray }}
{{- $generated := and (eq .file "database-password") $v.postgresql.enabled }}
{{- if and .needed (not .ref.name) (not .inline) (not $v.existingSecret) (not $generated) }}
{{- fail (printf "%s: set %s, or %s.name (a Secret of your own, key %s.key), or existingSecret (a Secret with key %s)" .why .inlinePath .refPath .refPath .file) }}
{{- end }}
{{- end }}

{{- /* S3 credentials. */}}
{{- if and (eq $v.s3.credentialSource "default_chain") $v.s3.credentials }}
{{- fail "s3.credentials=true mounts static keys, but s3.credentialSource=default_chain uses the pod's cloud identity: set s3.credentials=false (identity) or s3.credentialSource=static (keys)" }}
{{- end }}
{{- /* A Secret named for credentials that are not mounted would be ignored
     without a word: the operator meant to use it. */}}
{{- range $ref := list "accessKeySecret" "secretKeySecret" }}
{{- if and (index $v.s3 $ref "name") (not $v.s3.credentials) }}
{{- fail (printf "s3.%s.name is set but s3.credentials=false, so the key would not be mounted: set s3.credentials=true (static keys), or unset s3.%s.name" $ref $ref) }}
{{- end }}
{{- end }}
{{- range $ref := list "usernameSecret" "passwordSecret" }}
{{- if and (index $v.smtp $ref "name") (not $v.smtp.auth) }}
{{- fail (printf "smtp.%s.name is set but smtp.auth=false, so the credential would not be mounted: set smtp.auth=true, or unset smtp.%s.name" $ref $ref) }}
{{- end }}
{{- end }}
{{- if and $v.s3.webIdentity.roleArn (ne $v.s3.credentialSource "default_chain") }}
{{- fail "s3.webIdentity.roleArn is set but s3.credentialSource is static, which ignores it: set s3.credentialSource=default_chain" }}
{{- end }}

{{- /* Development services stay out of production. */}}
{{- range $name := list "seaweedfs" "mailpit" }}
{{- if and (index $v $name "enabled") (eq $v.environment "production") }}
{{- fail (printf "%s.enabled=true with environment=production: the bundled %s is for development (no authentication, data on an emptyDir); use your own service (see README) or set environment=local" $name $name) }}
{{- end }}
{{- end }}
{{- if and $v.seaweedfs.enabled $v.s3.credentials }}
{{- fail "seaweedfs.enabled=true serves S3 anonymously, so s3.credentials=true has no keys to match: set s3.credentials=false" }}
{{- end }}
{{- end }}
