{{/*
A development service of the release (SeaweedFS, Mailpit): a Deployment of
one pod with an emptyDir for its data and a Service. Call with (dict "ctx" $
"component" "seaweedfs" "values" .Values.seaweedfs "command" list "args" list
"ports" (list (dict "name" "s3" "port" 8333)) "probePort" "s3" "probePath" "/healthz").
They run as the app's non-root UID with a read-only root file system like
every pod of the chart.
*/}}
{{- define "blog.devService" -}}
{{- $root := .ctx -}}
{{- $name := include "blog.component.fullname" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "blog.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "blog.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "blog.labels" . | nindent 4 }}
  annotations:
    checkov.io/skip1: CKV_K8S_11=No CPU limit on purpose (see chart README)
    {{- if not .values.image.digest }}
    checkov.io/skip2: CKV_K8S_43={{ .component }}.image.digest is available; development only (see chart README)
    {{- end }}
spec:
  replicas: 1
  revisionHistoryLimit: {{ $root.Values.revisionHistoryLimit }}
  # One pod owns the emptyDir: never two at once.
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "blog.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "blog.labels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "blog.podSecurityContext" $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "blog.image" (dict "image" .values.image "default" "" "path" (printf "%s.image" .component)) }}
          imagePullPolicy: {{ .values.image.pullPolicy }}
          {{- with .command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .env }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          startupProbe:
            httpGet:
              path: {{ .probePath }}
              port: {{ .probePort }}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            tcpSocket:
              port: {{ .probePort }}
            periodSeconds: 10
            timeoutSeconds: 2
          readinessProbe:
            httpGet:
              path: {{ .probePath }}
              port: {{ .probePort }}
            periodSeconds: 5
            timeoutSeconds: 2
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- include "blog.containerSecurityContext" $root.Values.podSecurityContext | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: data
          emptyDir:
            sizeLimit: 1Gi
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
      {{- with include "blog.scheduling" $root }}{{ . | nindent 6 }}{{ end }}
{{- end }}
