{{/*
The backup and restore pods. Two images share one pod and an emptyDir
"spool": the Postgres image has pg_dump/pg_restore (it must match the
server's major version) but no S3 client; the app image has the S3 client
and credentials (`blog backup …`) but no Postgres tools, and the two cannot
be combined (musl vs glibc). So the dump is spooled to a file whose size the
emptyDir bounds, and nothing reaches S3 before pg_dump has succeeded and the
archive has been read back in full.
*/}}

{{- define "blog.backup.spoolDir" -}}/var/spool/blog-backup{{- end }}

{{/* The S3 location arguments of `blog backup …`. */}}
{{- define "blog.backup.locationArgs" -}}
- --bucket
- {{ default .Values.s3.bucket .Values.backup.bucket | quote }}
- --prefix
- {{ .Values.backup.prefix | quote }}
{{- end }}

{{/*
pg_dump in custom format (compressed; pg_restore can pick tables and run
in parallel), written to <name>.partial, then read back in full (every data
block decompressed: a truncated or corrupt archive fails here, not at
restore time), then renamed: the upload only ever sees a complete dump.
*/}}
{{- define "blog.backup.dumpScript" -}}
set -eu
PGPASSWORD="$(cat {{ include "blog.secretsDir" . }}/database-password)"
export PGPASSWORD
name="${PGDATABASE}-$(date -u +%Y%m%dT%H%M%SZ).dump"
file="{{ include "blog.backup.spoolDir" . }}/${name}"
pg_dump --format=custom --file="${file}.partial"
pg_restore --file=/dev/null "${file}.partial"
mv "${file}.partial" "${file}"
echo "pg_dump: ${PGDATABASE} -> ${name} ($(wc -c <"${file}") bytes)"
{{- end }}

{{/*
pg_restore of a downloaded (checksum-verified) dump: in one transaction, so
a failure leaves the database as it was; --clean --if-exists replaces the
objects the dump contains (the database may already hold the migrated
schema); objects are owned by the connecting role, as the app expects.
*/}}
{{- define "blog.backup.restoreScript" -}}
set -eu
PGPASSWORD="$(cat {{ include "blog.secretsDir" . }}/database-password)"
export PGPASSWORD
pg_restore --exit-on-error --single-transaction --clean --if-exists \
  --no-owner --no-privileges --dbname="${PGDATABASE}" \
  "{{ include "blog.backup.spoolDir" . }}/restore.dump"
echo "pg_restore: {{ .Values.restore.backup }} restored into ${PGDATABASE} on ${PGHOST}"
{{- end }}

{{/*
A container with the Postgres tools: (dict "ctx" $ "name" "dump" "script" "…").
It runs as the app's UID (pg_dump needs no passwd entry when PGUSER is set).
*/}}
{{- define "blog.backup.pgContainer" -}}
{{- $root := .ctx -}}
- name: {{ .name }}
  image: {{ include "blog.backup.image" $root }}
  imagePullPolicy: {{ include "blog.backup.pullPolicy" $root }}
  command: ["/bin/sh", "-c"]
  args:
    - |
      {{- .script | nindent 6 }}
  env:
    {{- include "blog.pgEnv" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.backup.resources | nindent 4 }}
  securityContext:
    {{- include "blog.containerSecurityContext" $root.Values.podSecurityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: secrets
      mountPath: {{ include "blog.secretsDir" $root }}
      readOnly: true
    - name: spool
      mountPath: {{ include "blog.backup.spoolDir" $root }}
{{- end }}

{{/* A container running `blog backup …`: (dict "ctx" $ "name" "upload" "args" list). */}}
{{- define "blog.backup.blogContainer" -}}
{{- $root := .ctx -}}
- name: {{ .name }}
  image: {{ include "blog.image" (dict "image" $root.Values.image "default" $root.Chart.AppVersion "path" "image") }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    {{- toYaml .args | nindent 4 }}
  envFrom:
    {{- include "blog.containerEnvFrom" (dict "ctx" $root "configMap" true) | trim | nindent 4 }}
  env:
    {{- include "blog.containerEnv" $root | trim | nindent 4 }}
  resources:
    {{- toYaml $root.Values.backup.resources | nindent 4 }}
  securityContext:
    {{- include "blog.containerSecurityContext" $root.Values.podSecurityContext | nindent 4 }}
  volumeMounts:
    {{- include "blog.containerVolumeMounts" $root | trim | nindent 4 }}
    - name: spool
      mountPath: {{ include "blog.backup.spoolDir" $root }}
{{- end }}

{{/*
The pod of a backup or restore: (dict "ctx" $ "component" "backup" "init"
containers "main" containers). Init containers run in order after the
sidecars; the main container runs once they succeeded.
*/}}
{{- define "blog.backup.podSpec" -}}
{{- $root := .ctx -}}
metadata:
  {{- include "blog.podMetadata" (dict "ctx" $root "component" .component "labels" $root.Values.backup.podLabels "annotations" $root.Values.backup.podAnnotations) | nindent 2 }}
spec:
  restartPolicy: Never
  # The app's identity: the S3 credentials (or cloud identity) are the app's.
  serviceAccountName: {{ include "blog.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "blog.podSecurityContext" $root.Values.podSecurityContext | nindent 4 }}
  initContainers:
    {{- with $root.Values.sidecars }}
    {{- include "blog.sidecars" $root | trim | nindent 4 }}
    {{- end }}
    {{- .init | trim | nindent 4 }}
  containers:
    {{- .main | trim | nindent 4 }}
  volumes:
    {{- include "blog.podVolumes" $root | trim | nindent 4 }}
    - name: spool
      emptyDir:
        sizeLimit: {{ $root.Values.backup.spoolSizeLimit }}
  {{- with include "blog.scheduling" $root }}{{ . | nindent 2 }}{{ end }}
{{- end }}

{{/* checkov skips of the backup and restore workloads, as on the app's. */}}
{{- define "blog.backup.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_11=No CPU limit on purpose (see chart README)
{{- if not .Values.image.digest }}
checkov.io/skip2: CKV_K8S_43=image.digest is set by the delivery pipeline; the Postgres tools image pins its major version tag (see chart README)
{{- end }}
{{- end }}
