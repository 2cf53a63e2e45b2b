{{/* Names and labels shared by the templates. */}}

{{- define "vbp.name" -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "vbp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "vbp.labels" -}}
app.kubernetes.io/part-of: vbp
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one service's process kind: (dict "root" $ "service" "orders" "role" "api") */}}
{{- define "vbp.selector" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "vbp.kafkaBootstrap" -}}
{{- if .Values.kafka.create -}}
{{- printf "%s-kafka-bootstrap:9092" .Values.kafka.name -}}
{{- else -}}
{{- required "kafka.bootstrapServers is required when kafka.create is false" .Values.kafka.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{/* The database cluster (CloudNativePG) or Secret of one service: (dict "root" $ "service" "orders") */}}
{{- define "vbp.dbName" -}}
{{- printf "%s-%s-db" (include "vbp.name" .root) .service -}}
{{- end -}}

{{/* Environment of one service's containers: (dict "root" $ "service" "orders" "role" "api") */}}
{{- define "vbp.env" -}}
{{- $db := include "vbp.dbName" . -}}
- name: VBP_ROLE
  value: {{ .role | quote }}
{{- if eq .role "worker" }}
- name: VBP_CONSUMER_INSTANCE_ID  # the StatefulSet pod's stable name: static membership
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
{{- else }}
- name: VBP_CONSUMER_INSTANCE_ID  # no consumers in this process: dynamic membership
  value: ""
{{- end }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "vbp.kafkaBootstrap" .root | quote }}
- name: VBP_JWKS_URL
  value: {{ .root.Values.auth.jwksUrl | quote }}
- name: VBP_JWT_AUDIENCE
  value: {{ .root.Values.auth.audience | quote }}
- name: VBP_JWT_ISSUER
  value: {{ .root.Values.auth.issuer | quote }}
- name: VBP_JWT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ .root.Values.auth.jwtSecretName }}, key: jwt-secret, optional: true}
{{- if .root.Values.postgres.create }}
- name: DB_USER
  valueFrom:
    secretKeyRef: {name: {{ $db }}-app, key: username}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $db }}-app, key: password}
- name: VBP_{{ upper .service }}_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@%s-rw:5432/%s" $db .service | quote }}
{{- else }}
- name: VBP_{{ upper .service }}_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $db }}, key: url}
{{- end }}
{{- end -}}

{{- define "vbp.envFrom" -}}
- configMapRef:
    name: {{ include "vbp.name" .root }}-settings
{{- end -}}
