package cloud

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is an error in Google's envelope:
// {"error":{"code","message","status","errors":[{"message","domain","reason"}],"details":[...]}}
// (the shape googleapi.CheckResponse parses; recorded, for example, in
// GoogleCloudPlatform/k8s-config-connector
// pkg/test/resourcefixture/testdata/basic/apigateway/v1beta1/apigatewayapi/apigatewayapi-minimal/_http.log,
// the 404 answer to the first GET).
type Error struct {
	Code    int
	Status  string // google.rpc.Code name: NOT_FOUND, ALREADY_EXISTS, ...
	Message string
	Reason  string // errors[0].reason (the legacy field the provider's retry predicates read)
	Details []map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

// MarshalJSON writes the envelope.
func (e *Error) MarshalJSON() ([]byte, error) {
	body := map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"status":  e.Status,
	}
	if e.Reason != "" {
		body["errors"] = []map[string]any{{"message": e.Message, "domain": "global", "reason": e.Reason}}
	}
	if len(e.Details) > 0 {
		body["details"] = e.Details
	}
	return json.Marshal(map[string]any{"error": body})
}

func errorInfo(reason, domain string, metadata map[string]string) map[string]any {
	return map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain, "metadata": metadata}
}

// NotFound is 404 NOT_FOUND. The provider reads a 404 on a resource's GET
// as "gone" and drops it from state, so it is only used where Google means
// it.
func NotFound(format string, a ...any) *Error {
	return &Error{Code: http.StatusNotFound, Status: "NOT_FOUND", Reason: "notFound", Message: fmt.Sprintf(format, a...)}
}

// AlreadyExists is 409 ALREADY_EXISTS.
func AlreadyExists(format string, a ...any) *Error {
	return &Error{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Reason: "alreadyExists", Message: fmt.Sprintf(format, a...)}
}

// Aborted is 409 ABORTED, Google's answer to a setIamPolicy whose etag is
// stale ("There were concurrent policy changes. Please retry the whole
// read-modify-write with exponential backoff."; the provider retries it:
// terraform-provider-google tpgiamresource/iam.go iamPolicyReadModifyWrite,
// isConflictError).
func Aborted(format string, a ...any) *Error {
	return &Error{Code: http.StatusConflict, Status: "ABORTED", Reason: "aborted", Message: fmt.Sprintf(format, a...)}
}

// InvalidArgument is 400 INVALID_ARGUMENT naming the field.
func InvalidArgument(field, format string, a ...any) *Error {
	e := &Error{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: fmt.Sprintf(format, a...)}
	if field != "" {
		e.Details = []map[string]any{{
			"@type":           "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": []map[string]any{{"field": field, "description": e.Message}},
		}}
	}
	return e
}

// FailedPrecondition is 400 FAILED_PRECONDITION.
func FailedPrecondition(format string, a ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Status: "FAILED_PRECONDITION", Reason: "failedPrecondition", Message: fmt.Sprintf(format, a...)}
}

// PermissionDenied is 403 PERMISSION_DENIED naming the permission, with the
// ErrorInfo Google attaches (reason IAM_PERMISSION_DENIED, metadata
// permission); the message follows Google's "Permission 'P' denied on
// resource 'R' (or it may not exist)."
func PermissionDenied(permission, resource string) *Error {
	return &Error{
		Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Reason: "forbidden",
		Message: fmt.Sprintf("Permission '%s' denied on resource '%s' (or it may not exist).", permission, resource),
		Details: []map[string]any{errorInfo("IAM_PERMISSION_DENIED", "iam.googleapis.com",
			map[string]string{"permission": permission, "resource": resource})},
	}
}

// Unauthenticated is 401 UNAUTHENTICATED, Google's answer to a missing or
// unknown access token.
func Unauthenticated() *Error {
	return &Error{
		Code: http.StatusUnauthorized, Status: "UNAUTHENTICATED", Reason: "unauthorized",
		Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		Details: []map[string]any{errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com", map[string]string{})},
	}
}

// ServiceDisabled is 403 PERMISSION_DENIED with reason SERVICE_DISABLED, as
// Google answers a call to an API that is not enabled in the consumer
// project (message, ErrorInfo and Help link as Google sends them:
// https://cloud.google.com/service-usage/docs/troubleshoot-enable "API has
// not been used in project ... or it is disabled").
func ServiceDisabled(service, title, projectNumber string) *Error {
	url := fmt.Sprintf("https://console.developers.google.com/apis/api/%s/overview?project=%s", service, projectNumber)
	return &Error{
		Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Reason: "accessNotConfigured",
		Message: fmt.Sprintf("%s has not been used in project %s before or it is disabled. Enable it by visiting %s then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.", title, projectNumber, url),
		Details: []map[string]any{
			errorInfo("SERVICE_DISABLED", "googleapis.com", map[string]string{
				"service": service, "consumer": "projects/" + projectNumber,
				"serviceTitle": title, "activationUrl": url, "containerInfo": projectNumber,
			}),
			{"@type": "type.googleapis.com/google.rpc.Help", "links": []map[string]any{{"description": "Google developers console API activation", "url": url}}},
		},
	}
}

// Unimplemented is 501 for a route the local cloud does not serve. Never
// 429 or 5xx-retryable: the provider retries 429, 500, 502 and 503 until its
// timeout (terraform-provider-google transport/error_retry_predicates.go).
func Unimplemented(format string, a ...any) *Error {
	return &Error{Code: http.StatusNotImplemented, Status: "UNIMPLEMENTED", Reason: "notImplemented", Message: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusNotImplemented
		b, _ = json.Marshal(Unimplemented("response not encodable: %v", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
