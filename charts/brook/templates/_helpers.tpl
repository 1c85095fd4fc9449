{{- define "brook.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "brook.operatorName" -}}
{{- printf "%s-operator" (include "brook.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "brook.selectorLabels" -}}
app.kubernetes.io/name: brook-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "brook.labels" -}}
{{ include "brook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: brook
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "brook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "brook.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
